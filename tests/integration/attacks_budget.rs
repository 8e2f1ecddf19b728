//! The second audit's item 3 (issue 21): budgets without exemptions. `consult` without
//! `run_id` during a run was answered and not charged, seven times past the stage's budget,
//! a second turn of the run's own thread included, and the same route skipped the debug
//! stage's "no consult before visit 3". Judged by the fakes' call counters and the run's
//! budget counter.

use serde_json::json;

use crate::attacks::{CLIS, Lab, TO_DONE, budgeted, consults_used, one_stage, start};
use crate::mcp::{call, err_text, ok};

const SESSION: &str = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9";
const OTHER: &str = "f9e8d7c6-b5a4-4392-8170-6f5e4d3c2b1a";

fn total_calls(lab: &Lab) -> usize {
    CLIS.iter().map(|c| lab.calls(c)).sum()
}

/// The audit's repro: two consults fit the visit; after them, every route that names no run
/// is still this session's run, and is refused; nothing is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consult_that_names_no_run_is_charged_to_its_sessions_run() {
    let lab = Lab::new();
    budgeted(&lab);
    let client = lab.serve_as(SESSION).await;
    let run = start(&client, "budgeted", "t").await;
    // Without `run_id`: charged to the session's run all the same.
    let first = ok(&call(&client, "consult", json!({"prompt": "q1"})).await);
    assert_eq!(consults_used(&client, &run).await, 1, "{first}");
    let thread = first["answer"]["thread_id"].as_str().unwrap().to_string();
    ok(&call(&client, "consult", json!({"prompt": "q2", "run_id": run})).await);
    assert_eq!(consults_used(&client, &run).await, 2);
    let spent = total_calls(&lab);
    for (tool, args) in [
        ("consult", json!({"prompt": "again"})),
        ("consult", json!({"prompt": "again", "provider": "codex"})),
        (
            "consult",
            json!({"prompt": "follow up", "thread_id": thread}),
        ),
        (
            "ensemble",
            json!({"prompt": "q", "providers": ["claude", "codex"]}),
        ),
        ("ensemble", json!({"prompt": "q", "n": 1})),
        (
            "calibrate",
            json!({"step_prompt": "6*7?", "oracle_check": {"expected": "42"}, "samples": 3,
                   "provider": "claude", "target": 0.9, "steps": 10.0}),
        ),
        (
            "select",
            json!({"candidates": [{"id": "a", "content": "x"}, {"id": "b", "content": "y"}],
                   "mode": "judge", "judge_provider": "claude"}),
        ),
    ] {
        let e = err_text(&call(&client, tool, args.clone()).await);
        assert!(e.contains("budget_exhausted"), "{tool} {args}: {e}");
    }
    let v = ok(&call(
        &client,
        "vote",
        json!({"question": "q", "providers": ["claude"]}),
    )
    .await);
    assert_eq!(v["result"]["stop_reason"], "budget", "{v}");
    assert_eq!(
        total_calls(&lab),
        spent,
        "a provider was asked past the budget"
    );
    assert_eq!(consults_used(&client, &run).await, 2);

    // A session with no run of its own consults outside every run: free, as before.
    let other = lab.serve_as(OTHER).await;
    ok(&call(&other, "consult", json!({"prompt": "unrelated"})).await);
    assert_eq!(total_calls(&lab), spent + 1);
    assert_eq!(consults_used(&client, &run).await, 2);
    other.cancel().await.unwrap();
    client.cancel().await.unwrap();
}

/// A thread belongs to the run that started it: a later turn from any session, naming no run
/// or naming another, is that run's (charged there, or refused with the reason).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_is_charged_to_the_run_that_started_it() {
    let lab = Lab::new();
    budgeted(&lab);
    let client = lab.serve_as(SESSION).await;
    let run = start(&client, "budgeted", "t").await;
    let other_run = start(&client, "budgeted", "another task").await;
    let first = ok(&call(&client, "consult", json!({"prompt": "q1", "run_id": run})).await);
    let thread = first["answer"]["thread_id"].as_str().unwrap().to_string();
    // From a session that has no run (an HTTP client, another Claude Code session).
    let other = lab.serve_as(OTHER).await;
    ok(&call(
        &other,
        "consult",
        json!({"prompt": "q2", "thread_id": thread}),
    )
    .await);
    assert_eq!(
        consults_used(&client, &run).await,
        2,
        "the second turn was free"
    );
    let before = total_calls(&lab);
    let e = err_text(
        &call(
            &other,
            "consult",
            json!({"prompt": "q3", "thread_id": thread}),
        )
        .await,
    );
    assert!(e.contains("budget_exhausted"), "{e}");
    let e = err_text(
        &call(
            &other,
            "consult",
            json!({"prompt": "q3", "thread_id": thread, "run_id": other_run}),
        )
        .await,
    );
    assert!(e.contains("thread_run") && e.contains(&run), "{e}");
    assert_eq!(total_calls(&lab), before);
    assert_eq!(consults_used(&client, &other_run).await, 0);
    other.cancel().await.unwrap();
    client.cancel().await.unwrap();
}

/// The debug stage's rule, "no consult before visit 3", binds a consult that names no run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_rule_binds_a_consult_that_names_no_run() {
    let lab = Lab::new();
    lab.workflow(
        "late",
        &one_stage(
            "late",
            "        consult max=5 from-visit=3 {\n            prefer \"claude\"\n        }\n",
            "",
            TO_DONE,
        ),
    );
    let client = lab.serve_as(SESSION).await;
    start(&client, "late", "t").await;
    let e = err_text(&call(&client, "consult", json!({"prompt": "q"})).await);
    assert!(
        e.contains("consult_not_yet") && e.contains("visit 3"),
        "{e}"
    );
    assert_eq!(total_calls(&lab), 0);
    client.cancel().await.unwrap();
}

/// `maestro consult` run from Claude Code's Bash carries the session (Claude Code sets
/// `CLAUDE_CODE_SESSION_ID` for its commands): the terminal door is charged the same way. A
/// session with two unfinished runs must say which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_door_is_charged_to_the_sessions_run_too() {
    let lab = Lab::new();
    budgeted(&lab);
    let client = lab.serve_as(SESSION).await;
    let run = start(&client, "budgeted", "t").await;
    let from_bash = |prompt: &str| {
        crate::support::Test::new()
            .args(&["consult", prompt, "--json"])
            .current_dir(&lab.root())
            .env("HOME", lab.home().to_str().unwrap())
            .env("PATH", &lab.path_var())
            .env("CLAUDE_CODE_SESSION_ID", SESSION)
            .env("CLAUDECODE", "1")
            .run()
    };
    for i in 0..2 {
        let out = from_bash(&format!("q{i}"));
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    assert_eq!(consults_used(&client, &run).await, 2);
    let spent = total_calls(&lab);
    let out = from_bash("one more");
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("budget"), "{}", out.stderr);
    assert_eq!(total_calls(&lab), spent);

    start(&client, "budgeted", "a second task").await;
    let e = err_text(&call(&client, "consult", json!({"prompt": "q"})).await);
    assert!(e.contains("which_run") && e.contains(&run), "{e}");
    assert_eq!(total_calls(&lab), spent);
    client.cancel().await.unwrap();
}
