fn main() {
    std::process::exit(maestro::run(std::env::args_os()));
}
