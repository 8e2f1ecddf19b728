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
fn packed_relocations() {
    let (Ok(target), Ok(host)) = (std::env::var("TARGET"), std::env::var("HOST")) else {
        return;
    };
    if target != host || !target.ends_with("-linux-gnu") {
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

fn main() {
    packed_relocations();
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&root);
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
