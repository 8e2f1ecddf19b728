#![allow(clippy::unwrap_used)] // a test that cannot set up should stop there
#![allow(clippy::print_stdout)] // a bench binary reports its figures on stdout
//! `maestro hook` as Claude Code runs it before every tool call: the whole process,
//! spawn → JSON on stdin → answer on stdout → exit, timed from outside. Median and p90 for the
//! cases a session meets: no maestro here at all, a run in a read-only stage, a run waiting at
//! a gate, 100 unfinished runs, and the session-start context line.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use maestro::Home;
use maestro::{Engine, StartRequest};

const SESSION: &str = "6af7e315-04c9-47b5-89ab-7562cffd4eee";

/// A recorded hook input, moved into `project`.
fn input(name: &str, project: &Path) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hooks")
        .join(format!("{name}.json"));
    std::fs::read_to_string(path)
        .expect("recorded input")
        .replace(
            "/tmp/maestro-hook-project",
            project.to_str().expect("utf-8"),
        )
}

fn once(project: &Path, stdin: &str) -> (Duration, String) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_maestro"))
        .arg("hook")
        .current_dir(project)
        .env("CLAUDE_PROJECT_DIR", project)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        start.elapsed(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn case(name: &str, project: &Path, recorded: &str, expect: &str) {
    case_input(name, project, &input(recorded, project), expect);
}

/// A recorded input with another tool's name: a tool no list names (every tool reaches the
/// hook now, and all but the known reads open the state file).
fn case_as(name: &str, project: &Path, recorded: &str, tool: &str, expect: &str) {
    let mut v: serde_json::Value =
        serde_json::from_str(&input(recorded, project)).expect("recorded JSON");
    v["tool_name"] = serde_json::json!(tool);
    case_input(name, project, &v.to_string(), expect);
}

fn case_input(name: &str, project: &Path, stdin: &str, expect: &str) {
    let stdin = stdin.to_string();
    let (_, first) = once(project, &stdin);
    assert!(
        first.contains(expect),
        "{name}: expected {expect:?} in {first:?}"
    );
    let mut xs: Vec<Duration> = (0..40).map(|_| once(project, &stdin).0).collect();
    xs.sort();
    let at = |q: f64| xs[((xs.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
    println!(
        "{name:<46} median {:>6.2} ms   p90 {:>6.2} ms   (goal ≤ 10 ms)",
        at(0.5),
        at(0.9)
    );
}

fn analysis() -> serde_json::Value {
    serde_json::json!({
        "observations": [{"fact": "the parser drops the last token", "source": "pytest"}],
        "constraints": [], "unknowns": [], "repro_steps": ["pytest -x"], "confidence": 0.8
    })
}

fn project_with(runs: usize, at_gate: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".git")).expect("git");
    if runs == 0 {
        return dir;
    }
    let engine =
        Engine::open(Home::builtin(), &dir.path().join(".maestro/state.db")).expect("open");
    for _ in 0..runs {
        let run = engine
            .start(&StartRequest {
                task: "fix the parser".into(),
                workflow: Some("default".into()),
                session: Some(SESSION.into()),
                ..Default::default()
            })
            .expect("start")
            .run
            .run_id;
        if at_gate {
            engine.submit(&run, &analysis(), None).expect("submit");
        }
    }
    dir
}

fn main() {
    let none = project_with(0, false);
    case(
        "no maestro here: Read",
        none.path(),
        "pre_tool_use_read",
        "",
    );
    case("no state file: Edit", none.path(), "pre_tool_use_edit", "");
    // What the plugin leaves in a project where only the server ever started.
    Engine::open(Home::builtin(), &none.path().join(".maestro/state.db")).expect("open");
    case(
        "a state file, no runs: Edit",
        none.path(),
        "pre_tool_use_edit",
        "",
    );
    let read_only = project_with(1, false);
    case(
        "a run in a read-only stage: Edit (denied)",
        read_only.path(),
        "pre_tool_use_edit",
        "read-only",
    );
    case(
        "a run in a read-only stage: Bash (passes)",
        read_only.path(),
        "pre_tool_use_bash",
        "",
    );
    case_as(
        "a run in a read-only stage: WebFetch (passes)",
        read_only.path(),
        "pre_tool_use_bash",
        "WebFetch",
        "",
    );
    let gate = project_with(1, true);
    // For profiling one case by hand: keep this project and say where it is.
    if std::env::var_os("HOOK_BENCH_KEEP").is_some() {
        println!("kept {}", gate.path().display());
        std::mem::forget(gate);
        return;
    }
    case(
        "a run at a human gate: Bash (denied)",
        gate.path(),
        "pre_tool_use_bash",
        "waits",
    );
    case(
        "a run at a human gate: Read (passes)",
        gate.path(),
        "pre_tool_use_read",
        "",
    );
    case_as(
        "a run at a human gate: EnterWorktree (denied)",
        gate.path(),
        "pre_tool_use_bash",
        "EnterWorktree",
        "waits",
    );
    case(
        "a run at a human gate: session start",
        gate.path(),
        "session_start",
        "additionalContext",
    );
    let many = project_with(100, true);
    case(
        "100 runs at human gates: Edit (denied)",
        many.path(),
        "pre_tool_use_edit",
        "waits",
    );
}
