#![allow(clippy::unwrap_used)] // a test that cannot set up should stop there
#![allow(clippy::print_stdout)] // a bench binary reports its figures on stdout
//! Whole-process timing of `maestro validate` (spawn, load, lint, render, exit), as a user sees
//! it.
//!
//! Targets on a 2-core machine: the built-in home ≤ 20 ms; a generated 1,000-stage workflow
//! ≤ 200 ms; a megabyte of anything, realistic or hostile, KDL or YAML, ≤ 1 s (issue 9).
//! Run with `cargo bench --bench validate`.

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

/// About a megabyte of `unit`, repeated.
fn megabyte(unit: &str) -> String {
    unit.repeat(1_000_000 / unit.len().max(1))
}

/// A generated YAML workflow of `stages` stages, the twin of [`generated`].
fn generated_yaml(stages: usize) -> String {
    let mut s = String::from(
        "workflow: big\nversion: 1\nstart: s0\nlang: [en, ko]\nbudget: {consults: 100}\nstages:\n",
    );
    for i in 0..stages {
        let next = if i + 1 == stages {
            "complete".to_string()
        } else {
            format!("s{}", i + 1)
        };
        let _ = write!(
            s,
            "  s{i}:\n    title: {{en: Stage {i}, ko: 단계 {i}}}\n    max-visits: 3\n    consult: {{max: 1}}\n    gate:\n      questions:\n        - id: q{i}\n          priority: high\n          text: {{en: Fine?, ko: 괜찮나요?}}\n    next:\n      - {{to: {next}, when: output.ok}}\n      - {{to: s{i}}}\n      - {{to: escalated, on: exhausted}}\n"
        );
    }
    s.push_str("ends: [complete, escalated]\n");
    s
}

/// Megabyte inputs: (file name, text, expected exit code).
fn megabyte_inputs() -> Vec<(&'static str, String, i32)> {
    let keys: String = (0..90_000).map(|i| format!("k{i}: {i}\n")).collect();
    let props: String = (0..110_000).map(|i| format!(" k{i}=1")).collect();
    vec![
        ("real-1mb.kdl", generated(2400), 0),
        ("real-1mb.yaml", generated_yaml(2600), 0),
        ("comment-bomb-1mb.kdl", format!("/*{}", megabyte("/*")), 1),
        (
            "comment-stars-1mb.kdl",
            format!("/*{}*/ a", megabyte("*")),
            1,
        ),
        ("brace-bomb-1mb.kdl", format!("a {}", megabyte("{ ")), 1),
        ("close-braces-1mb.kdl", megabyte("}"), 1),
        ("garbage-1mb.kdl", megabyte("a= (t) /- \"x\\q\" 1a ]"), 1),
        (
            "unknown-props-1mb.kdl",
            format!("workflow \"w\" {{\n version 1\n start \"a\"\n budget{props}\n}}\n"),
            1,
        ),
        (
            "flow-bomb-1mb.yaml",
            format!("workflow: w\nx: {}", megabyte("[")),
            1,
        ),
        (
            "block-bomb-1mb.yaml",
            format!("workflow: w\nx:\n{}a\n", megabyte("- ")),
            1,
        ),
        ("keys-1mb.yaml", keys, 1),
        (
            "duplicate-keys-1mb.yaml",
            format!("workflow: w\n{}", megabyte("k: 1\n")),
            1,
        ),
    ]
}

fn time(label: &str, args: &[&str], cwd: &std::path::Path, runs: usize, target_ms: f64) {
    time_exit(label, args, cwd, runs, target_ms, 0);
}

fn time_exit(
    label: &str,
    args: &[&str],
    cwd: &std::path::Path,
    runs: usize,
    target_ms: f64,
    code: i32,
) {
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
        assert!(
            status.code() == Some(code),
            "{label}: maestro exited {status}"
        );
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(samples[runs / 2]);
    let p90 = ms(samples[runs * 9 / 10]);
    println!(
        "{label:<38} min {:>7.2} ms  median {median:>7.2} ms  p90 {p90:>7.2} ms  (target ≤ {target_ms} ms: {})",
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
    for (name, text, code) in megabyte_inputs() {
        std::fs::write(dir.path().join(name), &text).expect("write");
        for format in ["human", "json"] {
            time_exit(
                &format!("{name} ({format})"),
                &["validate", "--format", format, name],
                dir.path(),
                10,
                1000.0,
                code,
            );
        }
    }
}
