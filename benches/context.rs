#![allow(clippy::unwrap_used)] // a test that cannot set up should stop there
#![allow(clippy::print_stdout)] // a bench binary reports its figures on stdout
//! Context packing: 200 files, 5 MB in all, packed into a 40,000-character budget
//! (goal ≤ 50 ms), with `.gitignore` handling, secret checks and masking included; the same
//! files in a git repository with 50 of them changed and staged, packed as a `staged` diff
//! (the real `git`, several runs of it when the widest context does not fit).
//! Masking alone: MB/s over ~1 MB of ordinary source code (this crate's own, which holds a few
//! test keys), the same with nothing to mask, and with a secret every 200 lines; a 40,000-char
//! prompt (the consult-overhead budget, goal ≤ 5 ms); the cost per short string (the engine
//! masks every string it stores); and first of all, before anything else masks, the first
//! calls in a fresh process (the hook's case: rules are loaded, none compiled up front).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use maestro::testing::workspace::DiffSpec;
use maestro::testing::workspace::mask;
use maestro::testing::workspace::{ContextRequest, pack};

fn main() {
    bench_first_mask();
    bench_pack();
    bench_diff();
    bench_mask();
}

/// The median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

/// Every `.rs` file below `dir`, except the two that hold masking's own test secrets.
fn sources(dir: &Path, out: &mut String) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs")
            && !p.ends_with("workspace/mask.rs")
            && !p.ends_with("workspace/confine.rs")
        {
            out.push_str(&std::fs::read_to_string(&p).expect("read"));
        }
    }
}

/// The first `mask` calls of the process: each pays the lazy set-up it needs, once.
fn bench_first_mask() {
    let line = |what: &str, text: &str| {
        let t = Instant::now();
        let changed = matches!(std::hint::black_box(mask(text)), Cow::Owned(_));
        println!(
            "first mask in a fresh process, {what}: {:.0} µs ({})",
            t.elapsed().as_secs_f64() * 1e6,
            if changed { "masked" } else { "unchanged" }
        );
    };
    line(
        "a short line with nothing in it",
        "the build broke after the last merge",
    );
    line(
        "then a line with a key",
        "npm publish with npm_k00s4n46l67paax1ejooc102cv85hxbjfhb3 failed",
    );
    line(
        "then a line with a secret word",
        "the password reset flow: set a secret first",
    );
}

/// The first `n` bytes of `s`, cut at a character boundary.
fn prefix(s: &str, n: usize) -> &str {
    let mut end = n.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn bench_mask() {
    let mut code = String::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut code,
    );
    let mut ordinary = String::new();
    while ordinary.len() < 1_000_000 {
        ordinary.push_str(&code);
    }
    // The same code without the lines that hold something masking changes (test keys, URLs
    // with passwords): the fast path's case.
    let clean: String = ordinary
        .lines()
        .filter(|l| matches!(mask(l), Cow::Borrowed(_)))
        .flat_map(|l| [l, "\n"])
        .collect();
    // The same text with a secret every ~200 lines, of every kind masking knows.
    let secrets = [
        "DB_PASSWORD=s3cr3t-db",
        "    \"password\": \"hunter2 x\",",
        "export OPENAI_API_KEY=sk-proj-abcDEF1234567890abcdef1234567890",
        "url = \"postgres://app:pw@db:5432/app\"",
        "SLACK_APP_TOKEN=xapp-1-A0123456789-1234567890123-abcdef0123456789",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    ];
    let mut with_secrets = String::new();
    for (i, line) in ordinary.lines().enumerate() {
        with_secrets.push_str(line);
        with_secrets.push('\n');
        if i % 200 == 199 {
            with_secrets.push_str(secrets[(i / 200) % secrets.len()]);
            with_secrets.push('\n');
        }
    }
    for (name, text) in [
        ("as it is", &ordinary),
        ("nothing to mask", &clean),
        ("a secret every 200 lines", &with_secrets),
    ] {
        let mut changed = false;
        let t = median(11, || changed = matches!(mask(text), Cow::Owned(_)));
        println!(
            "mask {:.2} MB of source code, {name}: median {:.1} ms, {:.0} MB/s ({})",
            text.len() as f64 / 1e6,
            t.as_secs_f64() * 1000.0,
            text.len() as f64 / 1e6 / t.as_secs_f64(),
            if changed {
                "masked"
            } else {
                "unchanged, borrowed"
            }
        );
    }
    // A prompt the size of the consult-overhead measurement (its masking must fit in 5 ms).
    for (name, text) in [
        ("ordinary code", prefix(&ordinary, 40_000)),
        ("a secret every 200 lines", prefix(&with_secrets, 40_000)),
    ] {
        let t = median(51, || {
            std::hint::black_box(mask(text));
        });
        println!(
            "mask a 40,000-char prompt of {name}: median {:.2} ms (goal ≤ 5 ms)",
            t.as_secs_f64() * 1000.0
        );
    }
    // Strings the size the engine stores (notes, feedback, task lines).
    let short: Vec<&str> = ordinary
        .lines()
        .filter(|l| l.len() > 40)
        .take(10_000)
        .collect();
    let t = median(11, || {
        for s in &short {
            std::hint::black_box(mask(s));
        }
    });
    println!(
        "mask {} short strings (one line of code each): median {:.0} ns per string",
        short.len(),
        t.as_secs_f64() * 1e9 / short.len() as f64
    );
}

fn bench_pack() {
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
        ..ContextRequest::default()
    };
    let _ = pack(root, &req);
    let mut times = Vec::new();
    let mut chars = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let p = pack(root, &req);
        times.push(t.elapsed());
        chars = p.chars;
        let left_out = p
            .cut
            .iter()
            .filter(|c| c.reason.starts_with("left out"))
            .count();
        assert_eq!(p.included.len() + p.refused.len() + left_out, 200);
    }
    times.sort();
    println!(
        "pack 200 files ({:.1} MB) into 40,000 chars: median {:.1} ms, best {:.1} ms (goal ≤ 50 ms); packed {chars} chars",
        total as f64 / 1e6,
        times[10].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0
    );
}

fn git(root: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
        ])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(root)
        .status()
        .expect("git")
        .success();
    assert!(ok, "git {args:?}");
}

fn bench_diff() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).expect("src");
    let file = |f: usize, changed: bool| {
        let mut text = String::new();
        for func in 0..40 {
            let _ = writeln!(text, "fn f{f}_{func}() -> u32 {{");
            for i in 0..12 {
                let v = if changed && i == 6 && func % 8 == 0 {
                    1000 + i
                } else {
                    i
                };
                let _ = writeln!(text, "    let value_{i} = compute({v}, \"file {f}\");");
            }
            text.push_str("    0\n}\n\n");
        }
        text
    };
    for f in 0..200 {
        std::fs::write(root.join(format!("src/f{f:03}.rs")), file(f, false)).expect("write");
    }
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "base"]);
    // 50 files changed, five functions each.
    for f in (0..200).step_by(4) {
        std::fs::write(root.join(format!("src/f{f:03}.rs")), file(f, true)).expect("write");
    }
    git(root, &["add", "-A"]);
    for (budget, what) in [(400_000, "whole functions fit"), (40_000, "cut to fit")] {
        let req = ContextRequest {
            diff: Some(DiffSpec::Staged),
            max_chars: Some(budget),
            ..ContextRequest::default()
        };
        let mut last = None;
        let t = median(11, || last = Some(pack(root, &req)));
        let p = last.expect("packed");
        let d = p.diff.as_ref().expect("a diff");
        assert_eq!(
            d.files.len()
                + p.cut
                    .iter()
                    .filter(|c| c.reason.starts_with("diff left out"))
                    .count(),
            50
        );
        println!(
            "pack a staged diff of 50 files into {budget} chars ({what}): median {:.1} ms; {} files, {}, {} cut; packed {} chars",
            t.as_secs_f64() * 1000.0,
            d.files.len(),
            d.context,
            p.cut.len(),
            p.chars
        );
    }
}
