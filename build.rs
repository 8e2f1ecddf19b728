//! Embeds the default assets (workflows, roles, skills, schemas, conf, reports) into the binary.

use std::fmt::Write;
use std::path::Path;

const DIRS: &[&str] = &["workflows", "roles", "skills", "schemas", "conf", "reports"];

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// Packed relative relocations (RELR): at every start the loader reads a few KiB of them instead
/// of ~1 MiB of relocation records, so `maestro serve` peaks ~1.2 MiB lower (issue 12). A binary
/// linked this way needs glibc 2.36 or newer to start, so it is used only when building for this
/// very machine, on glibc, and this machine's glibc has it (`cargo install` builds where it runs).
/// The target, when the build is for the machine it runs on (as `cargo install` builds): only
/// then can the build tell what the linker and the C library are.
fn native_target() -> Option<String> {
    let target = std::env::var("TARGET").ok()?;
    (std::env::var("HOST").ok()? == target).then_some(target)
}

fn packed_relocations() {
    if !native_target().is_some_and(|t| t.ends_with("-linux-gnu")) {
        return;
    }
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return;
    };
    // "glibc 2.36"
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text
        .trim()
        .trim_start_matches("glibc ")
        .split('.')
        .map(|p| p.parse::<u32>().ok());
    if let (Some(Some(major)), Some(Some(minor))) = (parts.next(), parts.next())
        && (major, minor) >= (2, 36)
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Start-up code side by side (issue 12; docs/architecture.md, "Start-up"). The kernel maps code
/// 64 KiB at a time around each page a process first touches, and the ~6,000 functions a start
/// runs were spread over 13 MiB of code, so `maestro serve` touched nearly all of it (peak
/// 15.9 MiB). `link/startup.ld`, made by `link/profile-startup.sh`, names them (by their v0
/// symbol names, which `.cargo/config.toml` asks for) and has the linker put them first, side by
/// side: peak ~8.5 MiB, and the hook, which runs before every guarded tool call, starts in fewer
/// page faults.
///
/// Only for the linker this is written for: rustc's own LLD, the default for x86_64 Linux with
/// glibc, when nobody chose another linker (mold, for one, refuses a `SECTIONS` script). A
/// build for another target, with another linker or without v0 names keeps the compiler's
/// layout: the same program, with more memory at start.
fn startup_layout(root: &Path) {
    let script = root.join("link/startup.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    // The profiler needs a binary laid out as the compiler left it: valgrind names only the
    // functions it finds in `.text`.
    println!("cargo:rerun-if-env-changed=MAESTRO_STARTUP_LAYOUT");
    // The tests read which layout the binary under test has (tests/integration/layout.rs).
    let layout = |how: &str| println!("cargo:rustc-env=MAESTRO_BUILT_LAYOUT={how}");
    if std::env::var("MAESTRO_STARTUP_LAYOUT").is_ok_and(|v| v == "off") {
        layout("compiler's: MAESTRO_STARTUP_LAYOUT=off");
        return;
    }
    // Matching ~6,000 patterns adds ~10 s to each link of a debug build, paid on every test
    // run; what is measured and installed is a release build.
    if std::env::var("PROFILE").is_ok_and(|p| p != "release") {
        layout("compiler's: a debug build (the list is for release builds)");
        return;
    }
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let other_linker = std::env::var_os("RUSTC_LINKER").is_some()
        || ["linker", "fuse-ld", "link-self-contained"]
            .iter()
            .any(|f| flags.contains(f));
    let path = script.to_string_lossy();
    if native_target().as_deref() != Some("x86_64-unknown-linux-gnu") {
        layout("compiler's: not building for x86_64 Linux with glibc on it");
    } else if other_linker {
        layout("compiler's: another linker was chosen");
    } else if !flags.contains("symbol-mangling-version=v0") {
        // RUSTFLAGS replace the config's flags; the list would match nothing.
        layout("compiler's: the symbol names are not v0 (RUSTFLAGS replaced .cargo/config.toml)");
    } else if path.contains(',') || !script.is_file() {
        // `-Wl,` splits its argument at commas.
        layout("compiler's: link/startup.ld is missing or its path has a comma");
    } else {
        layout("startup");
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{path}");
    }
}

/// Tests that drive a program from outside the crate are reported as ignored, with the reason,
/// where it is missing, instead of passing without having run (the choice is explained in
/// tests/integration/support.rs). libtest decides "ignored" when a test is compiled, so this
/// looks for each program where its tests do and sets `maestro_missing` to it when it is not
/// there. Under CI (`CI` set) nothing is ignored: a missing program fails its test there.
fn missing_test_programs() {
    println!(
        "cargo::rustc-check-cfg=cfg(maestro_missing, values(\"claude\", \"conformance\", \"browser\"))"
    );
    for var in ["CI", "MAESTRO_CLAUDE_BIN", "MAESTRO_CONFORMANCE_DIR"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let browser = ["/usr/bin/chromium", "/usr/bin/chromedriver"];
    let has_browser = browser.iter().all(|p| Path::new(p).is_file());
    if has_browser {
        for p in browser {
            println!("cargo:rerun-if-changed={p}");
        }
    } else if Path::new("/usr/bin").is_dir() {
        // Installing them changes the folder. (Cargo runs a script again at every build while
        // a path it watches is missing, so the missing programs are not watched themselves.)
        println!("cargo:rerun-if-changed=/usr/bin");
    }
    if std::env::var_os("CI").is_some() {
        return;
    }
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    for (program, present) in [
        ("claude", set("MAESTRO_CLAUDE_BIN")),
        ("conformance", set("MAESTRO_CONFORMANCE_DIR")),
        ("browser", has_browser),
    ] {
        if !present {
            println!("cargo:rustc-cfg=maestro_missing=\"{program}\"");
        }
    }
}

fn main() {
    packed_relocations();
    missing_test_programs();
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&root);
    startup_layout(root);
    let mut files = Vec::new();
    for d in DIRS {
        println!("cargo:rerun-if-changed={d}");
        walk(root, &root.join(d), &mut files);
    }
    let mut code = String::from(
        "/// The built-in assets: (path relative to the home, contents).\npub(super) static BUILTIN: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        let abs = root.join(f);
        let _ = writeln!(
            code,
            "    ({f:?}, include_str!({:?})),",
            abs.to_string_lossy()
        );
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("builtin.rs");
    std::fs::write(out, code).expect("write builtin.rs");
}
