#![allow(clippy::print_stdout)] // a bench binary reports its figures on stdout
//! Context packing: 200 files, 5 MB in all, packed into a 40,000-character budget
//! (goal ≤ 50 ms), with `.gitignore` handling, secret checks and masking included.

use std::fmt::Write as _;
use std::time::Instant;

use maestro::workspace::context::{ContextRequest, pack};

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).expect("src");
    std::fs::write(root.join(".gitignore"), "target/\n").expect("gitignore");
    let mut total = 0;
    for f in 0..200 {
        let mut text = String::new();
        let mut i = 0;
        while text.len() < 25_000 {
            i += 1;
            let _ = writeln!(
                text,
                "    let value_{i} = compute({i}, \"file {f}\"); // a line of code"
            );
        }
        total += text.len();
        std::fs::write(root.join(format!("src/f{f:03}.rs")), text).expect("write");
    }
    let req = ContextRequest {
        files: vec!["src/**/*.rs".into()],
        facts: vec!["the build broke after the last merge".into()],
        errors: vec!["error[E0308]: mismatched types\n --> src/f001.rs:10:5\n".repeat(200)],
        constraints: vec!["keep the public API".into()],
        max_chars: Some(40_000),
    };
    let _ = pack(root, &req);
    let mut times = Vec::new();
    let mut chars = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let p = pack(root, &req);
        times.push(t.elapsed());
        chars = p.chars;
        assert_eq!(p.included.len() + p.refused.len(), 200);
    }
    times.sort();
    println!(
        "pack 200 files ({:.1} MB) into 40,000 chars: median {:.1} ms, best {:.1} ms (goal ≤ 50 ms); packed {chars} chars",
        total as f64 / 1e6,
        times[10].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0
    );
}
