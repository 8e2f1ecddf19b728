#![allow(clippy::unwrap_used)] // a test that cannot set up should stop there
#![allow(clippy::print_stdout)] // a bench binary reports its figures on stdout
//! `maestro serve` cold start: spawn → initialize → tools/list → stdin closed → exit, timed
//! as a client sees it, with the child's peak memory and the size of the tools/list answer.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn once(dir: &std::path::Path) -> (Duration, usize) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_maestro"))
        .arg("serve")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"bench","version":"1"}}}}}}"#).expect("write");
    out.read_line(&mut line).expect("read");
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .expect("write");
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":2,"method":"tools/list"}}"#).expect("write");
    line.clear();
    out.read_line(&mut line).expect("read");
    let size = line.trim_end().len();
    drop(stdin);
    child.wait().expect("wait");
    (start.elapsed(), size)
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".git")).expect("git");
    let _ = once(dir.path());
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..30 {
        let (t, s) = once(dir.path());
        times.push(t);
        size = s;
    }
    times.sort();
    let median = times[times.len() / 2];
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    println!(
        "serve cold start → initialize → tools/list → exit: median {:.1} ms, best {:.1} ms (goal ≤ 10 ms)",
        median.as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0
    );
    println!(
        "peak memory of the largest child: {:.1} MiB (goal ≤ 12 MiB)",
        usage.max_rss() as f64 / 1024.0
    );
    println!("tools/list response: {size} bytes");
}
