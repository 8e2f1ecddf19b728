#![allow(clippy::print_stdout)] // a bench binary reports its figures on stdout
//! Whole-process timing of `maestro validate` (spawn, load, lint, exit), as a user sees it.
//!
//! Targets on a 2-core machine: the built-in home ≤ 20 ms; a generated 1,000-stage workflow
//! ≤ 200 ms. Run with `cargo bench --bench validate`.

use std::fmt::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn generated(stages: usize) -> String {
    let mut s = String::from(
        "workflow \"big\" {\n    version 1\n    start \"s0\"\n    lang \"en\" \"ko\"\n    budget consults=100\n",
    );
    for i in 0..stages {
        let next = if i + 1 == stages {
            "complete".to_string()
        } else {
            format!("s{}", i + 1)
        };
        let _ = write!(
            s,
            "    stage \"s{i}\" {{\n        title \"Stage {i}\" ko=\"단계 {i}\"\n        max-visits 3\n        consult max=1\n        gate {{\n            question \"q{i}\" priority=\"high\" {{\n                text \"Fine?\" ko=\"괜찮나요?\"\n            }}\n        }}\n        next \"{next}\" when=\"output.ok\"\n        next \"s{i}\"\n        next \"escalated\" on=\"exhausted\"\n    }}\n"
        );
    }
    s.push_str("    end \"complete\"\n    end \"escalated\"\n}\n");
    s
}

fn time(label: &str, args: &[&str], cwd: &std::path::Path, runs: usize, target_ms: f64) {
    let exe = env!("CARGO_BIN_EXE_maestro");
    let mut samples: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let status = Command::new(exe)
            .args(args)
            .current_dir(cwd)
            .env_remove("MAESTRO_HOME")
            .env("XDG_CONFIG_HOME", cwd)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run maestro");
        samples.push(start.elapsed());
        assert!(status.code() == Some(0), "{label}: maestro exited {status}");
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(samples[runs / 2]);
    let p90 = ms(samples[runs * 9 / 10]);
    println!(
        "{label:<34} min {:>7.2} ms  median {median:>7.2} ms  p90 {p90:>7.2} ms  (target ≤ {target_ms} ms: {})",
        ms(samples[0]),
        if median <= target_ms { "met" } else { "MISSED" }
    );
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.kdl");
    std::fs::write(&big, generated(1000)).expect("write");
    time(
        "validate (built-in home)",
        &["validate"],
        dir.path(),
        60,
        20.0,
    );
    time(
        "validate big.kdl (1,000 stages)",
        &["validate", "big.kdl"],
        dir.path(),
        20,
        200.0,
    );
}
