#![allow(clippy::unwrap_used)] // a test that cannot set up should stop there
#![allow(clippy::print_stdout)] // a bench binary reports its figures on stdout
//! The approval page with 1,000 runs in the state file: a run's view (machine drawn, reports
//! rendered, consults, evidence and history read) and the runs list, each timed in process and
//! through a live server (HTTP on loopback, as a browser asks for it). Median and p90.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use maestro::Home;
use maestro::testing::web::{Draft, Frame, pages};
use maestro::{Actor, DecisionKind, DecisionText, Engine, StartRequest};

fn stats(name: &str, mut xs: Vec<Duration>) {
    xs.sort();
    let at = |q: f64| xs[((xs.len() as f64 - 1.0) * q) as usize];
    println!(
        "{name:<40} median {:>8.3} ms   p90 {:>8.3} ms   ({} runs)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        xs.len()
    );
}

fn analysis() -> serde_json::Value {
    serde_json::json!({
        "observations": [{"fact": "ZeroDivisionError at shop/ratings.py:42", "source": "pytest"},
                         {"fact": "average() divides by len(reviews)", "source": "read"}],
        "constraints": ["keep the API"], "unknowns": [], "repro_steps": ["pytest -x"],
        "confidence": 0.8, "summary": "the average divides by zero for products without reviews"
    })
}

/// One GET over a fresh connection, with the page's cookie; the whole answer read.
fn get(port: u16, path: &str, cookie: &str) -> usize {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut body = Vec::new();
    s.read_to_end(&mut body).expect("read");
    assert!(
        body.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&body[..80.min(body.len())])
    );
    if std::env::var_os("UI_BENCH_SHOW").is_some() {
        println!("{}", String::from_utf8_lossy(&body));
    }
    body.len()
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(Home::builtin(), &tmp.path().join("state.db")).expect("open");
    let req = StartRequest {
        task: "fix the empty review list".into(),
        workflow: Some("default".into()),
        ..Default::default()
    };
    // 1,000 runs; every tenth one has moved through a decided gate into the next stage's gate,
    // so the state file holds approvals, reports and histories, not only fresh starts.
    let mut last = String::new();
    for i in 0..1000 {
        let run = engine.start(&req).expect("start").run.run_id;
        let sub = engine.submit(&run, &analysis(), None).expect("submit");
        if i % 10 == 0 {
            let apr = sub.approval.expect("gate").approval_id;
            let mut answers = std::collections::BTreeMap::new();
            answers.insert("analyze_completeness".to_string(), "nothing".to_string());
            answers.insert("analyze_accuracy".to_string(), "All correct".to_string());
            engine
                .decide(
                    &apr,
                    DecisionKind::Approve,
                    &DecisionText {
                        feedback: None,
                        answers,
                    },
                    Actor::Web,
                )
                .expect("approve");
        }
        last = run;
    }
    let first = engine
        .runs(false)
        .expect("runs")
        .last()
        .expect("a run")
        .run_id
        .clone();
    let frame = Frame {
        csrf: "x".into(),
        seq: 0,
    };
    let (mut view, mut moved, mut list) = (vec![], vec![], vec![]);
    for _ in 0..100 {
        let t = Instant::now();
        pages::run(&engine, &last, &frame, &Draft::default()).expect("run view");
        view.push(t.elapsed());
        let t = Instant::now();
        pages::run(&engine, &first, &frame, &Draft::default()).expect("run view");
        moved.push(t.elapsed());
    }
    for _ in 0..20 {
        let t = Instant::now();
        pages::runs(&engine, &frame).expect("runs");
        list.push(t.elapsed());
    }
    stats("run view, in process (at a gate)", view);
    stats("run view, in process (past a gate)", moved);
    stats("runs list of 1,000, in process", list);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let engine = std::sync::Arc::new(engine);
    let opts = maestro::testing::web::Options {
        addr: "127.0.0.1:0".parse().expect("addr"),
        hosts: vec![],
        bearer: None,
        mcp: false,
    };
    let bound = rt
        .block_on(maestro::testing::web::bind(engine, &opts))
        .expect("bind");
    let port = bound.addr.port();
    let cookie = format!("{}={}", bound.access.cookie, bound.access.token);
    rt.spawn(bound.run());
    let (mut http, mut http_list) = (vec![], vec![]);
    let mut size = 0;
    for _ in 0..100 {
        let t = Instant::now();
        size = get(port, &format!("/runs/{first}"), &cookie);
        http.push(t.elapsed());
    }
    for _ in 0..20 {
        let t = Instant::now();
        get(port, "/", &cookie);
        http_list.push(t.elapsed());
    }
    stats("GET /runs/{id} over HTTP", http);
    stats("GET / (1,000 runs) over HTTP", http_list);
    println!("run page size: {size} bytes");
}
