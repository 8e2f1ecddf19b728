//! Decisions as people make them: `maestro approve` answering on a real terminal (a
//! pseudo-terminal, so the binary sees a TTY as it does for a person), and the rules that hold
//! whatever the door: a revision without words is refused alike by `maestro revise`, the page
//! and the MCP `decide` tool, and nothing is recorded.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::mcp::{Project, call, err_text, ok, submit_for_approval};
use crate::support::Output;
use crate::web::{Ui, decisions, pending, run_at_analyze_gate};

/// How long the terminal session may take before the test gives up (a bound, not a measure).
const PATIENCE: Duration = Duration::from_secs(60);

/// Runs `maestro args` in the project with a pseudo-terminal as its stdin and `typed` as what
/// the person types (stdout and stderr are pipes, read whole). The end of input is a Ctrl-D,
/// as a person would press it.
fn on_a_terminal(p: &Project, args: &[&str], typed: &str) -> Output {
    let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
    let mut keyboard = std::fs::File::from(pty.master);
    let config = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_maestro"))
        .args(args)
        .current_dir(p.path())
        .env_remove("MAESTRO_HOME")
        .env_remove("MAESTRO_STATE")
        .env_remove("CLAUDE_CODE_SESSION_ID")
        .env_remove("CLAUDE_PROJECT_DIR")
        .env("XDG_CONFIG_HOME", config.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::from(pty.slave))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn maestro");
    // The terminal keeps the lines until the program reads them, one line per read.
    keyboard.write_all(typed.as_bytes()).unwrap();
    keyboard.write_all(b"\x04").unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("`maestro {}` still waits for input", args.join(" "))
        })
        .expect("wait");
    drop(keyboard);
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_approving_on_a_terminal_is_asked_again_for_an_empty_required_answer() {
    let p = Project::new();
    let (client, _) = p.connect().await;
    let (run, apr) = run_at_analyze_gate(&client).await;
    // Enter on each critical question first: asked again at once. Then the answers, Enter for
    // the three questions that are not critical, and no feedback.
    let out = on_a_terminal(&p, &["approve", &apr], "\nNothing missing\n\n1\n\n\n\n\n");
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert_eq!(
        out.stdout,
        format!("approve {apr}: run {run} is in stage `hypothesize` (visit 1)\n")
    );
    let shown = &out.stderr;
    assert!(
        shown.contains("What did the analysis leave out that you know about? (required)\n> ")
            && shown
                .contains("Are the recorded observations correct? (required)\n  1) All correct"),
        "{shown}"
    );
    assert!(
        shown.contains("Does the list of affected files cover the problem?\n  1) Yes")
            && !shown.contains("cover the problem? (required)"),
        "a high-priority question is not required: {shown}"
    );
    assert_eq!(
        shown.matches("an answer is required to approve").count(),
        2,
        "{shown}"
    );
    let d = decisions(&p, &run);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["data"]["by"], "terminal", "{d:?}");
    assert_eq!(
        d[0]["data"]["answers"],
        json!({"analyze_completeness": "Nothing missing", "analyze_accuracy": "All correct"}),
        "{d:?}"
    );
    // "Nothing missing" to "what was left out?" is the all-clear: the report does not flag it.
    let report = p.terminal(&["approvals", "--all"]);
    assert!(
        report.stdout.contains("→ Nothing missing") && !report.stdout.contains("flagged"),
        "{}",
        report.stdout
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_without_words_is_refused_alike_at_every_door_and_nothing_is_recorded() {
    let p = Project::new();
    let (client, _) = p.connect().await;
    let (run, apr) = run_at_analyze_gate(&client).await;
    let refusal = format!(
        "approval {apr} (stage `analyze`): a revision needs words — say what should change"
    );

    // The terminal: no feedback, or feedback of blanks.
    for args in [
        vec!["revise", apr.as_str(), "--no-input"],
        vec!["revise", apr.as_str(), "--feedback", "  ", "--no-input"],
    ] {
        let out = p.terminal(&args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("error: {refusal}"))
                && out.stderr.contains("revision_needs_words"),
            "{args:?}: {}",
            out.stderr
        );
    }

    // The page: Revise with an empty feedback box.
    let ui = Ui::start(&p);
    let r = ui.post_form(&run, &apr, &[("decision", "revise"), ("feedback", " ")]);
    assert_eq!(r.status, 422, "{r:?}");
    assert!(
        r.body.contains(&format!(
            "{refusal} — write what should change in the feedback box"
        )),
        "{}",
        r.body
    );

    assert_eq!(pending(&p), std::slice::from_ref(&apr));
    assert!(decisions(&p, &run).is_empty());

    // The MCP `decide` tool decides only `by "any"` gates: the consult workflow's.
    let r = ok(&call(
        &client,
        "start",
        json!({"task": "a second opinion", "workflow": "consult"}),
    )
    .await);
    let run2 = r["run_id"].as_str().unwrap().to_string();
    let apr2 = submit_for_approval(
        &client,
        &run2,
        json!({"summary": "the cache key ignores the locale"}),
    )
    .await;
    for args in [
        json!({"approval_id": apr2, "decision": "revise"}),
        json!({"approval_id": apr2, "decision": "revise", "feedback": " ", "answers": {"follow_up": ""}}),
    ] {
        let e = err_text(&call(&client, "decide", args.clone()).await);
        assert!(
            e.contains(&format!(
                "approval {apr2} (stage `ask`): a revision needs words — say what should change"
            )) && e.contains("revision_needs_words"),
            "{args}: {e}"
        );
    }
    assert!(decisions(&p, &run2).is_empty());
    let s = ok(&call(&client, "status", json!({"run_id": run2})).await);
    assert_eq!(s["run"]["status"], "waiting", "{s}");

    // An answer that says what is wrong is words enough.
    let d = ok(&call(
        &client,
        "decide",
        json!({"approval_id": apr2, "decision": "revise", "answers": {"useful": "No"}}),
    )
    .await);
    assert_eq!(
        (
            d["approval"]["decision"].as_str(),
            d["run"]["visit"].as_u64()
        ),
        (Some("revise"), Some(2)),
        "{d}"
    );
    client.cancel().await.unwrap();
}
