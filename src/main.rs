fn main() {
    std::process::exit(maestro::cli::run(std::env::args_os()));
}
