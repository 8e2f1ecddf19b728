#![allow(clippy::unwrap_used)] // a test that cannot set up should stop there
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

use std::sync::Arc;

use maestro::testing::providers::{ProviderSet, config};
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

/// A provider call outside every project (no state file, nothing to charge): the library's
/// `consult` without an engine, which is the bare call plus the prompt's assembly.
fn bare(set: ProviderSet) -> impl Fn(&tokio::runtime::Runtime, &CancellationToken) {
    let set = Arc::new(set);
    move |rt, cancel| {
        let ask = maestro::testing::consult::Ask {
            prompt: "q".into(),
            provider: Some("a".into()),
            ..maestro::testing::consult::Ask::default()
        };
        rt.block_on(maestro::testing::consult::consult(
            None,
            set.clone(),
            ask,
            cancel,
        ))
        .expect("answer");
    }
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cancel = CancellationToken::new();
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    // Calls outside every run are free only where no state file can hold a run.
    let nowhere = tempfile::tempdir().expect("tmp");
    std::env::set_current_dir(nowhere.path()).expect("cd");

    let slow = Arc::new(set("sleep 1;"));
    let mut walls = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let ask = maestro::testing::consult::EnsembleAsk {
            prompt: "q".into(),
            providers: names.clone(),
            ..maestro::testing::consult::EnsembleAsk::default()
        };
        let out = rt
            .block_on(maestro::testing::consult::ensemble(
                None,
                slow.clone(),
                ask,
                &cancel,
                &|_, _, _| {},
            ))
            .expect("answers");
        assert_eq!(out.answers.len(), 3, "{:?}", out.failures);
        walls.push(t.elapsed());
    }
    walls.sort();
    println!(
        "ensemble of 3 fakes × 1 s: median {:.3} s, worst {:.3} s (goal ≤ 1.15 s)",
        walls[2].as_secs_f64(),
        walls[4].as_secs_f64()
    );

    let fast = bare(set(""));
    let n = 200;
    let mut consult = Vec::with_capacity(n);
    let mut direct = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        fast(&rt, &cancel);
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
    let engine = Arc::new(
        maestro::Engine::open(
            maestro::Home::builtin(),
            &tmp.path().join(".maestro/state.db"),
        )
        .expect("engine"),
    );
    let fast_set = Arc::new(set(""));
    let ask = |thread: Option<String>| maestro::testing::consult::Ask {
        prompt: "q".into(),
        provider: Some("a".into()),
        thread_id: thread,
        ..maestro::testing::consult::Ask::default()
    };
    let mut whole = Vec::with_capacity(n);
    let mut follow = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let first = rt
            .block_on(maestro::testing::consult::consult(
                Some(&engine),
                fast_set.clone(),
                ask(None),
                &cancel,
            ))
            .expect("answer");
        whole.push(t.elapsed());
        let thread = first.reply.thread_id.clone();
        rt.block_on(maestro::testing::consult::consult(
            Some(&engine),
            fast_set.clone(),
            ask(thread.clone()),
            &cancel,
        ))
        .expect("answer");
        let t = Instant::now();
        rt.block_on(maestro::testing::consult::consult(
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
    let leaves = bare(set("setsid sleep 30 &"));
    let mut left = Vec::with_capacity(20);
    for _ in 0..20 {
        let t = Instant::now();
        leaves(&rt, &cancel);
        left.push(t.elapsed());
    }
    let l = median(&mut left);
    println!(
        "consult to a fake that leaves a detached child on its stdout: median {:.2} ms, {:.2} ms over the instant fake (goal ≤ 50 ms)",
        l.as_secs_f64() * 1000.0,
        (l.as_secs_f64() - c.as_secs_f64()) * 1000.0
    );
}
