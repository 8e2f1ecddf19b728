//! `maestro hook` fed the JSON Claude Code sends (recorded in `tests/data/hooks/`): which of
//! Claude Code's own tool calls a run holds, and what the hook prints.

use std::path::Path;

use rmcp::RoleClient;
use rmcp::ServiceExt;
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};

use crate::mcp::{Project, analysis, approve_answering, call, hypotheses, ok, submit_for_approval};
use crate::support::{Test, repo};

/// The session the recorded inputs carry.
const SESSION: &str = "6af7e315-04c9-47b5-89ab-7562cffd4eee";
const OTHER_SESSION: &str = "0d9f3c1e-5b7a-4e21-9c8d-2f6a1b4e7c90";
/// The project folder the inputs were recorded in.
const RECORDED_DIR: &str = "/tmp/maestro-hook-project";

/// A recorded input, moved into `project` and sent by `session`.
fn input(name: &str, project: &Path, session: &str) -> String {
    let path = repo().join("tests/data/hooks").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace(RECORDED_DIR, project.to_str().unwrap());
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["session_id"] = json!(session);
    v.to_string()
}

/// What the hook answered: `None` for no output (Claude Code's own permissions decide).
#[derive(Debug)]
struct Answer {
    json: Option<Value>,
    stderr: String,
}

impl Answer {
    fn denied(&self) -> Option<&str> {
        let out = self.json.as_ref()?["hookSpecificOutput"].clone();
        assert_eq!(out["permissionDecision"], "deny", "{out}");
        self.json.as_ref()?["hookSpecificOutput"]["permissionDecisionReason"].as_str()
    }

    fn context(&self) -> Option<&str> {
        self.json.as_ref()?["hookSpecificOutput"]["additionalContext"].as_str()
    }
}

/// Runs `maestro hook` as Claude Code does: the JSON on stdin, `CLAUDE_PROJECT_DIR` set, in
/// the project folder. Checks the exit code and the output's schema every time.
fn hook_with(stdin: &str, project: &Path, cwd: &Path) -> Answer {
    let out = Test::new()
        .args(&["hook"])
        .stdin(stdin)
        .current_dir(cwd)
        .env("CLAUDE_PROJECT_DIR", project.to_str().unwrap())
        .run();
    assert_eq!(
        out.code, 0,
        "maestro hook exited {}: {}",
        out.code, out.stderr
    );
    let json = (!out.stdout.is_empty()).then(|| {
        assert!(
            out.stdout.ends_with('\n') && out.stdout.trim_end().lines().count() == 1,
            "one JSON line: {:?}",
            out.stdout
        );
        let v: Value = serde_json::from_str(&out.stdout).expect("hook output is JSON");
        let problems = output_schema().violations(&v);
        assert!(
            problems.is_empty(),
            "{v} does not match the hook contract: {problems:?}"
        );
        let event: Value = serde_json::from_str(stdin).unwrap_or(Value::Null);
        if let Some(name) = event["hook_event_name"].as_str() {
            assert_eq!(v["hookSpecificOutput"]["hookEventName"], name, "{v}");
        }
        v
    });
    Answer {
        json,
        stderr: out.stderr,
    }
}

fn hook(name: &str, p: &Project, session: &str) -> Answer {
    hook_with(&input(name, p.path(), session), p.path(), p.path())
}

fn output_schema() -> maestro::testing::schema::Validator {
    let text = std::fs::read_to_string(repo().join("tests/data/hooks/output.schema.json")).unwrap();
    maestro::testing::schema::compile(&serde_json::from_str(&text).unwrap()).unwrap()
}

const EDITS: [&str; 3] = [
    "pre_tool_use_edit",
    "pre_tool_use_write",
    "pre_tool_use_notebook_edit",
];
const NEVER_HELD: [&str; 4] = [
    "pre_tool_use_read",
    "pre_tool_use_grep",
    "pre_tool_use_glob",
    "pre_tool_use_mcp_maestro",
];

fn assert_passes(p: &Project, names: &[&str], session: &str) {
    for name in names {
        let a = hook(name, p, session);
        assert!(a.json.is_none(), "{name} should pass: {a:?}");
    }
}

fn assert_denied(p: &Project, names: &[&str], session: &str, needles: &[&str]) {
    for name in names {
        let a = hook(name, p, session);
        let reason = a
            .denied()
            .unwrap_or_else(|| panic!("{name} should be denied: {a:?}"));
        for n in needles {
            assert!(reason.contains(n), "{name}: `{n}` not in {reason}");
        }
    }
}

/// A `maestro serve` that Claude Code started for `session`.
async fn connect_as(p: &Project, session: &str) -> RunningService<RoleClient, ()> {
    let transport = TokioChildProcess::new(p.command().configure(|c| {
        c.env("CLAUDE_CODE_SESSION_ID", session);
    }))
    .unwrap();
    ().serve(transport).await.unwrap()
}

fn denials(p: &Project, run: &str) -> Vec<Value> {
    let log = p.terminal(&["log", run, "--jsonl"]);
    log.stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["kind"] == "tool_denied")
        .map(|e| e["data"].clone())
        .collect()
}

#[test]
fn with_no_run_nothing_is_held_and_nothing_is_created() {
    let p = Project::new();
    for name in EDITS.iter().chain(&NEVER_HELD).chain(&[
        "pre_tool_use_bash",
        "session_start",
        "user_prompt_submit",
    ]) {
        let a = hook(name, &p, SESSION);
        assert!(a.json.is_none(), "{name}: {a:?}");
    }
    assert!(
        !p.path().join(".maestro").exists(),
        "the hook created state in a project without runs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_holds_the_agents_own_tools_at_gates_and_in_read_only_stages() {
    let p = Project::new();
    let client = connect_as(&p, SESSION).await;
    let started = ok(&call(&client, "start", json!({"task": "fix the parser"})).await);
    let run = started["run_id"].as_str().unwrap().to_string();

    // `analyze` is read-only in `default`: this session's edits are held, commands are not.
    assert_denied(
        &p,
        &EDITS,
        SESSION,
        &["read-only", "`analyze`", &run, "edits #false"],
    );
    assert_passes(&p, &["pre_tool_use_bash"], SESSION);
    assert_passes(&p, &NEVER_HELD, SESSION);
    // Another session's work is not bound by this run's read-only stage.
    assert_passes(&p, &EDITS, OTHER_SESSION);
    let start = hook("session_start", &p, SESSION);
    let line = start.context().expect("a context line at session start");
    assert!(
        line.contains(&run) && line.contains("`analyze`") && line.contains("this session"),
        "{line}"
    );

    // At the `by "human"` gate every session's edits and commands are held.
    let apr = submit_for_approval(&client, &run, analysis(0.8)).await;
    let how = ["maestro approve", apr.as_str(), "maestro ui", "waits"];
    assert_denied(&p, &EDITS, SESSION, &how);
    assert_denied(&p, &["pre_tool_use_bash"], SESSION, &how);
    assert_denied(&p, &EDITS, OTHER_SESSION, &how);
    assert_denied(&p, &["pre_tool_use_bash"], OTHER_SESSION, &how);
    assert_passes(&p, &NEVER_HELD, SESSION);
    let prompt = hook("user_prompt_submit", &p, OTHER_SESSION);
    let line = prompt.context().expect("a context line with the prompt");
    assert!(
        line.contains(&apr) && line.contains("another session"),
        "{line}"
    );

    // The person approves: the run moves to `hypothesize`, also read-only.
    let out = approve_answering(&p, &apr);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_denied(&p, &EDITS, SESSION, &["read-only", "`hypothesize`"]);
    assert_passes(&p, &["pre_tool_use_bash"], SESSION);
    assert_passes(&p, &EDITS, OTHER_SESSION);

    // Through the second gate into `implement`: edits are this stage's work.
    let apr = submit_for_approval(&client, &run, hypotheses()).await;
    assert_denied(&p, &["pre_tool_use_bash"], SESSION, &[apr.as_str()]);
    assert_eq!(approve_answering(&p, &apr).code, 0);
    assert_passes(&p, &EDITS, SESSION);
    assert_passes(&p, &["pre_tool_use_bash"], SESSION);

    // Every refusal is in the run's trail, with its rule.
    let held = denials(&p, &run);
    let rules: Vec<&str> = held.iter().map(|e| e["rule"].as_str().unwrap()).collect();
    assert!(
        held.iter()
            .all(|e| e["session"] == SESSION || e["session"] == OTHER_SESSION)
    );
    assert!(held.iter().any(|e| {
        e["tool"] == "NotebookEdit"
            && e["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("analysis.ipynb"))
    }));
    // 3 edits in analyze, 8 at the first gate, 3 in hypothesize, 1 at the second gate.
    assert_eq!(rules.len(), 15, "{held:?}");
    assert_eq!(rules.iter().filter(|r| **r == "read_only_stage").count(), 6);
    assert_eq!(rules.iter().filter(|r| **r == "human_gate").count(), 9);
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_files_are_held_while_a_run_is_unfinished() {
    let p = Project::new();
    let client = connect_as(&p, SESSION).await;
    let started = ok(&call(
        &client,
        "start",
        json!({"task": "tidy", "workflow": "consult"}),
    )
    .await);
    let run = started["run_id"].as_str().unwrap().to_string();
    let edit_of = |rel: &str| {
        let mut v: Value =
            serde_json::from_str(&input("pre_tool_use_write", p.path(), SESSION)).unwrap();
        v["tool_input"]["file_path"] = json!(p.path().join(rel).to_str().unwrap());
        v.to_string()
    };
    for rel in [
        ".claude/settings.json",
        ".maestro/workflows/default.kdl",
        ".mcp.json",
        ".git/config",
    ] {
        let a = hook_with(&edit_of(rel), p.path(), p.path());
        let reason = a.denied().unwrap_or_else(|| panic!("{rel}: {a:?}"));
        assert!(
            reason.contains("control file") && reason.contains(&run),
            "{reason}"
        );
    }
    assert!(
        hook_with(&edit_of("src/lib.rs"), p.path(), p.path())
            .json
            .is_none()
    );
    client.cancel().await.unwrap();
}

#[test]
fn a_state_file_that_cannot_be_read_holds_guarded_tools_only() {
    let p = Project::new();
    std::fs::create_dir_all(p.path().join(".maestro")).unwrap();
    std::fs::write(p.path().join(".maestro/state.db"), "this is not a database").unwrap();
    assert_denied(
        &p,
        &["pre_tool_use_edit", "pre_tool_use_bash"],
        SESSION,
        &[
            "could not read its state file",
            "state.db",
            "must not let a call through",
        ],
    );
    assert_passes(&p, &NEVER_HELD, SESSION);
    // Session start and prompts are never blocked; they say what is wrong.
    let a = hook("session_start", &p, SESSION);
    assert!(
        a.context().is_some_and(|c| c.contains("could not read")),
        "{a:?}"
    );
}

#[test]
fn input_the_hook_cannot_read_fails_closed_only_where_it_guards() {
    let p = Project::new();
    for (stdin, held) in [
        ("not json", true),
        (r#"{"hook_event_name": "PreToolUse", "tool_name": 7}"#, true),
        (
            r#"{"hook_event_name": "PreToolUse", "tool_name": "Read", "session_id": 1}"#,
            false,
        ),
        (
            r#"{"hook_event_name": "SessionStart", "session_id": {}}"#,
            false,
        ),
        (r#"{"hook_event_name": "Stop", "session_id": "x"}"#, false),
    ] {
        let a = hook_with(stdin, p.path(), p.path());
        assert_eq!(a.json.is_some(), held, "{stdin}: {a:?}");
        if held {
            assert!(
                a.denied()
                    .unwrap()
                    .contains("could not read what Claude Code sent")
            );
        }
    }
}

/// The project is `CLAUDE_PROJECT_DIR`, which the model cannot move; the input's `cwd`
/// follows the shell's `cd`, so a `cd` elsewhere does not leave the run's hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cd_elsewhere_does_not_escape_the_hold() {
    let p = Project::new();
    let client = connect_as(&p, SESSION).await;
    let run = ok(&call(&client, "start", json!({"task": "fix the parser"})).await)["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    submit_for_approval(&client, &run, analysis(0.8)).await;
    let elsewhere = tempfile::tempdir().unwrap();
    let mut v: Value =
        serde_json::from_str(&input("pre_tool_use_bash", p.path(), SESSION)).unwrap();
    v["cwd"] = json!(elsewhere.path().to_str().unwrap());
    let a = hook_with(&v.to_string(), p.path(), elsewhere.path());
    assert!(a.denied().is_some_and(|r| r.contains(&run)), "{a:?}");
    assert!(a.stderr.is_empty(), "{}", a.stderr);
    client.cancel().await.unwrap();
}

/// Attacks on the new door. The model reaches `maestro hook` only through Claude Code (which
/// writes the input) or by running it itself from Bash with input it chose; neither may loosen
/// a hold, pick a session, or change a run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_the_hook_cannot_be_talked_out_of_a_hold() {
    let p = Project::new();
    let client = connect_as(&p, SESSION).await;
    // The session is the server's, never an argument.
    let forged = call(
        &client,
        "start",
        json!({"task": "fix the parser", "session": OTHER_SESSION}),
    )
    .await;
    assert!(forged.is_error == Some(true), "{forged:?}");
    let run = ok(&call(&client, "start", json!({"task": "fix the parser"})).await)["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    // A second run in a stage that allows edits does not lift the first run's read-only hold.
    ok(&call(
        &client,
        "start",
        json!({"task": "ask", "workflow": "consult"}),
    )
    .await);
    assert_denied(&p, &["pre_tool_use_write"], SESSION, &["read-only", &run]);

    let apr = submit_for_approval(&client, &run, analysis(0.8)).await;
    // The run as stored (the wall-clock budget left is a reading of the clock, not the run).
    let status = || {
        let mut v: Value =
            serde_json::from_str(&p.terminal(&["runs", &run, "--json"]).stdout).unwrap();
        v["budget"]["wall_secs_left"] = Value::Null;
        v
    };
    let before = status();
    // Whatever the model feeds the hook from a shell, it answers, it never decides. (A lower-case
    // `bash` is no tool Claude Code has, and a tool nobody listed is held at a gate.)
    let crafted = [
        json!({"hook_event_name": "PreToolUse", "session_id": SESSION, "tool_name": "mcp__maestro__decide",
               "tool_input": {"approval_id": apr, "decision": "approve"}}),
        json!({"hook_event_name": "PermissionRequest", "session_id": SESSION, "tool_name": "Bash",
               "tool_input": {"command": "maestro approve"}}),
        json!({"hook_event_name": "PreToolUse", "session_id": "", "tool_name": "Write",
               "tool_input": {"file_path": "/etc/passwd"}}),
        json!({"hook_event_name": "PreToolUse", "session_id": SESSION, "tool_name": "bash",
               "tool_input": {"command": "rm -rf ."}}),
    ];
    for input in &crafted {
        let a = hook_with(&input.to_string(), p.path(), p.path());
        let is_guarded = input["hook_event_name"] == "PreToolUse"
            && ["Write", "Bash", "bash"].contains(&input["tool_name"].as_str().unwrap());
        assert_eq!(a.denied().is_some(), is_guarded, "{input}: {a:?}");
    }
    assert_eq!(status(), before, "the hook changed the run");
    let pending = p.terminal(&["approvals", "--json"]).stdout;
    assert!(pending.contains(&apr), "{pending}");
    client.cancel().await.unwrap();
}

/// The shipped PreToolUse command fails closed when `maestro` cannot run at all (not on PATH,
/// or killed): Claude Code blocks a call only on exit code 2, so the command turns any other
/// failure into 2 with a reason on stderr. With maestro there, its answer passes through.
#[test]
fn the_shipped_guard_command_blocks_when_maestro_cannot_run() {
    let hooks: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("plugin/hooks/hooks.json")).unwrap(),
    )
    .unwrap();
    let command = hooks["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap();
    let p = Project::new();
    let stdin = input("pre_tool_use_edit", p.path(), SESSION);
    let run = |path: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", command])
            .current_dir(p.path())
            .env("PATH", path)
            .env("CLAUDE_PROJECT_DIR", p.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A shell that never runs maestro may close stdin first: a broken pipe is fine here.
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        child.wait_with_output().unwrap()
    };
    let missing = run("/nonexistent");
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    let why = String::from_utf8_lossy(&missing.stderr);
    assert!(why.contains("blocked") && why.contains("PATH"), "{why}");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_maestro")).parent().unwrap();
    let present = run(&format!("{}:/usr/bin:/bin", bin_dir.display()));
    assert_eq!(present.status.code(), Some(0), "{present:?}");
    assert!(
        present.stdout.is_empty(),
        "no run here, so no decision: {present:?}"
    );
}
