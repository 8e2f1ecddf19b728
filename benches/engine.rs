#![allow(clippy::unwrap_used)] // a test that cannot set up should stop there
#![allow(clippy::print_stdout)] // a bench binary reports its figures on stdout
//! The engine's write path: `start`, `submit` and `status` on a real state file, each one a
//! transaction that loads the run and its pinned workflow version, masks every string it
//! stores and appends typed events. Median and p90 per operation.

use std::time::{Duration, Instant};

use maestro::{Engine, StartRequest};
use maestro::{Home, Origin};

const FLOW: &str = r#"
workflow "b" {
    version 1
    start "work"
    stage "work" {
        max-visits 100000
        next "done" when="output.finish"
        next "work"
    }
    end "done"
}
"#;

fn stats(name: &str, mut xs: Vec<Duration>) {
    xs.sort();
    let at = |q: f64| xs[((xs.len() as f64 - 1.0) * q) as usize];
    println!(
        "{name:<34} median {:>8.3} ms   p90 {:>8.3} ms   ({} runs)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        xs.len()
    );
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home_dir = tmp.path().join("home");
    std::fs::create_dir_all(home_dir.join("workflows")).expect("dir");
    std::fs::write(home_dir.join("workflows/b.kdl"), FLOW).expect("write");
    let mut home = Home::builtin();
    home.push_front(home_dir, Origin::Explicit);
    let engine = Engine::open(home, &tmp.path().join("state.db")).expect("open");
    let req = StartRequest {
        task: "benchmark the engine".into(),
        workflow: Some("b".into()),
        ..Default::default()
    };
    let run = engine.start(&req).expect("start").run.run_id;
    let (mut starts, mut submits, mut big, mut status) = (vec![], vec![], vec![], vec![]);
    for _ in 0..200 {
        let t = Instant::now();
        engine.start(&req).expect("start");
        starts.push(t.elapsed());
    }
    let small = serde_json::json!({"summary": "one line", "confidence": 0.7});
    for _ in 0..500 {
        let t = Instant::now();
        engine.submit(&run, &small, None).expect("submit");
        submits.push(t.elapsed());
    }
    // ~100 KB of ordinary text: what masking every stored string costs on a large output.
    let text = "fn main() { println!(\"hello\"); } // a line of ordinary source\n".repeat(1700);
    let large = serde_json::json!({"summary": text});
    for _ in 0..100 {
        let t = Instant::now();
        engine.submit(&run, &large, None).expect("submit");
        big.push(t.elapsed());
    }
    for _ in 0..200 {
        let t = Instant::now();
        engine.status(&run).expect("status");
        status.push(t.elapsed());
    }
    stats("start (new run, pinned version)", starts);
    stats("submit (small output)", submits);
    stats("submit (100 KB output, masked)", big);
    stats("status (history of the run)", status);
}
