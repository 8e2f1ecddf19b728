#![allow(clippy::print_stdout)] // a bench binary reports its figures on stdout
//! Provider overhead: an ensemble of three fakes that each take 1 s (goal ≤ 1.15 s wall), and
//! one consult to a fake that answers at once, compared with running that fake directly
//! (goal: ≤ 5 ms of maestro's own overhead, which includes the end-of-call sweep of /proc for
//! the call's processes), and one to a fake that leaves a detached child holding its stdout
//! (goal: ≤ 50 ms over the instant fake: the call kills it rather than waiting for the pipe).
//! Then the whole `consult` path of the library (plan, call, keep the turn whole in SQLite,
//! the evidence): its overhead over the bare provider call, and a follow-up that replays a
//! thread (goal: ≤ 5 ms each).

use std::time::{Duration, Instant};

use maestro::providers::{ProviderSet, Request, config};
use tokio_util::sync::CancellationToken;

const ANSWER: &str = r#"{"type":"result","subtype":"success","is_error":false,"result":"ok","total_cost_usd":0,"usage":{"input_tokens":1,"output_tokens":1}}"#;

fn set(delay: &str) -> ProviderSet {
    let script = format!("cat >/dev/null; {delay} echo '{ANSWER}'");
    let mut yaml = String::from("providers:\n");
    for name in ["a", "b", "c"] {
        yaml.push_str(&format!(
            "  {name}:\n    command: [/bin/sh, -c, \"{}\", \"{{{{ model }}}}\"]\n    model: m\n    parser: claude-json\n    retries: 0\n",
            script.replace('"', "\\\"")
        ));
    }
    let (providers, problems) = config::parse("bench.yaml", &yaml);
    assert!(problems.is_empty(), "{problems:?}");
    ProviderSet {
        providers,
        problems,
    }
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cancel = CancellationToken::new();
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();

    let slow = set("sleep 1;");
    let mut walls = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let reqs: Vec<Request> = names
            .iter()
            .map(|n| Request {
                provider: n.clone(),
                prompt: "q".into(),
                ..Request::default()
            })
            .collect();
        let results = rt.block_on(slow.ensemble(&reqs, 3, &cancel, &|_, _, _| {}));
        assert!(results.iter().all(Result::is_ok));
        walls.push(t.elapsed());
    }
    walls.sort();
    println!(
        "ensemble of 3 fakes × 1 s: median {:.3} s, worst {:.3} s (goal ≤ 1.15 s)",
        walls[2].as_secs_f64(),
        walls[4].as_secs_f64()
    );

    let fast = set("");
    let req = Request {
        provider: "a".into(),
        prompt: "q".into(),
        ..Request::default()
    };
    let n = 200;
    let mut consult = Vec::with_capacity(n);
    let mut direct = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        rt.block_on(fast.consult(&req, &cancel)).expect("answer");
        consult.push(t.elapsed());
        let t = Instant::now();
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", &format!("cat >/dev/null; echo '{ANSWER}'")])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let _ = child.wait();
        direct.push(t.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (c, d) = (median(&mut consult), median(&mut direct));
    let processes = std::fs::read_dir("/proc").map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .count()
    });
    println!(
        "consult to an instant fake: median {:.2} ms; the fake run directly: {:.2} ms; overhead {:.2} ms (goal ≤ 5 ms; {processes} processes to sweep)",
        c.as_secs_f64() * 1000.0,
        d.as_secs_f64() * 1000.0,
        (c.as_secs_f64() - d.as_secs_f64()) * 1000.0
    );

    // The library's consult: the provider call plus planning and keeping the turn.
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = std::sync::Arc::new(
        maestro::engine::Engine::open(
            maestro::home::Home::builtin(),
            &tmp.path().join(".maestro/state.db"),
        )
        .expect("engine"),
    );
    let fast_set = std::sync::Arc::new(set(""));
    let ask = |thread: Option<String>| maestro::consult::Ask {
        prompt: "q".into(),
        provider: Some("a".into()),
        thread_id: thread,
        ..maestro::consult::Ask::default()
    };
    let mut whole = Vec::with_capacity(n);
    let mut follow = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let first = rt
            .block_on(maestro::consult::consult(
                Some(&engine),
                fast_set.clone(),
                ask(None),
                &cancel,
            ))
            .expect("answer");
        whole.push(t.elapsed());
        let thread = first.reply.thread_id.clone();
        rt.block_on(maestro::consult::consult(
            Some(&engine),
            fast_set.clone(),
            ask(thread.clone()),
            &cancel,
        ))
        .expect("answer");
        let t = Instant::now();
        rt.block_on(maestro::consult::consult(
            Some(&engine),
            fast_set.clone(),
            ask(thread),
            &cancel,
        ))
        .expect("answer");
        follow.push(t.elapsed());
    }
    let (w, f) = (median(&mut whole), median(&mut follow));
    println!(
        "consult through the library (turn kept in SQLite): median {:.2} ms, {:.2} ms over the bare call; the third turn of a thread: {:.2} ms, {:.2} ms over (goal ≤ 5 ms)",
        w.as_secs_f64() * 1000.0,
        (w.as_secs_f64() - c.as_secs_f64()) * 1000.0,
        f.as_secs_f64() * 1000.0,
        (f.as_secs_f64() - c.as_secs_f64()) * 1000.0
    );

    // util-linux `setsid` leaves the session; the sleep keeps the fake's stdout open.
    let leaves = set("setsid sleep 30 &");
    let mut left = Vec::with_capacity(20);
    for _ in 0..20 {
        let t = Instant::now();
        rt.block_on(leaves.consult(&req, &cancel)).expect("answer");
        left.push(t.elapsed());
    }
    let l = median(&mut left);
    println!(
        "consult to a fake that leaves a detached child on its stdout: median {:.2} ms, {:.2} ms over the instant fake (goal ≤ 50 ms)",
        l.as_secs_f64() * 1000.0,
        (l.as_secs_f64() - c.as_secs_f64()) * 1000.0
    );
}
