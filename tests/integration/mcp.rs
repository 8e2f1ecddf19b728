//! `maestro serve` over real pipes with rmcp's client, decisions from the real terminal
//! commands, a SIGKILL in the middle, and elicitation in process over a duplex pipe.

use std::path::Path;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::support::Test;

/// A project folder (a git root) with its own state file and an isolated config dir.
struct Project {
    dir: tempfile::TempDir,
    config: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        Self {
            dir,
            config: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self) -> tokio::process::Command {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_maestro")).configure(|cmd| {
            cmd.arg("serve")
                .current_dir(self.path())
                .env_remove("MAESTRO_HOME")
                .env_remove("MAESTRO_STATE")
                .env("XDG_CONFIG_HOME", self.config.path())
                .env("NO_COLOR", "1");
        })
    }

    async fn connect(&self) -> (RunningService<RoleClient, ()>, Option<u32>) {
        let transport = TokioChildProcess::new(self.command()).unwrap();
        let pid = transport.id();
        (().serve(transport).await.unwrap(), pid)
    }

    /// Runs a terminal command (`maestro approve ...`) in the project.
    fn terminal(&self, args: &[&str]) -> crate::support::Output {
        Test::new().args(args).current_dir(self.path()).run()
    }
}

async fn call(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

fn ok(r: &CallToolResult) -> Value {
    assert_ne!(r.is_error, Some(true), "tool failed: {:?}", r.content);
    r.structured_content.clone().expect("structured content")
}

fn err_text(r: &CallToolResult) -> String {
    assert_eq!(
        r.is_error,
        Some(true),
        "expected a refusal: {:?}",
        r.structured_content
    );
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn analysis(confidence: f64) -> Value {
    json!({
        "observations": [{"fact": "parse() returns None for empty input", "source": "src/lib.rs:10", "certainty": "high"}],
        "constraints": ["keep the public API"],
        "unknowns": [],
        "repro_steps": ["cargo test parse_empty"],
        "confidence": confidence,
        "summary": "empty input is not handled"
    })
}

fn hypotheses() -> Value {
    json!({
        "hypotheses": [
            {"id": "H1", "claim": "the length check is off by one", "prediction": "len 0 fails", "verification_test": "cargo test parse_empty", "confidence": 0.7},
            {"id": "H2", "claim": "the tokenizer drops the last token", "prediction": "len 1 fails too", "verification_test": "cargo test parse_one", "confidence": 0.3}
        ],
        "selected": "H1",
        "verification_plan": {"test_command": "cargo test parse_empty", "expected_result": "passes after the fix"}
    })
}

fn implementation(passed: bool, next: &str) -> Value {
    json!({
        "changes": [{"file": "src/lib.rs", "diff": "@@ -10 +10 @@\n-if n > 1\n+if n > 0\n"}],
        "test_result": {"command": "cargo test", "passed": passed},
        "next_action": next
    })
}

fn debug_step() -> Value {
    json!({
        "iteration": 1,
        "error_analysis": {"error_type": "assertion", "is_new_error": false},
        "change": {"file": "src/lib.rs", "diff": "@@ -11 +11 @@\n-x\n+y\n", "lines_changed": 1},
        "test_result": {"command": "cargo test", "passed": true, "compared_to_previous": "passed"},
        "next_action": "resolved"
    })
}

fn improvement() -> Value {
    json!({
        "summary": {"root_cause": "off-by-one length check", "fix_description": "compare with 0"},
        "regression_tests": [{"test_name": "parse_empty", "description": "empty input"}],
        "lessons": {"root_cause_category": "off_by_one"},
        "status": "complete"
    })
}

/// Submits `output` and returns the approval id it opened.
async fn submit_for_approval(
    client: &RunningService<RoleClient, ()>,
    run: &str,
    output: Value,
) -> String {
    let r = ok(&call(client, "submit", json!({"run_id": run, "output": output})).await);
    assert_eq!(r["outcome"], "awaiting_approval", "{r}");
    r["approval"]["approval_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_default_run_with_terminal_decisions_and_a_crash() {
    let p = Project::new();
    let (client, pid) = p.connect().await;
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("maestro")
    );
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(instructions.len() < 2048 && instructions.contains("submit"));
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["brief", "decide", "start", "status", "submit"]);
    for t in &tools {
        assert!(t.output_schema.is_some(), "{} has no output schema", t.name);
        assert!(t.annotations.is_some(), "{} has no annotations", t.name);
    }

    let r = ok(&call(
        &client,
        "start",
        json!({"task": "parse() panics on empty input", "context": {"facts": ["since v0.3"]}}),
    )
    .await);
    let run = r["run_id"].as_str().unwrap().to_string();
    assert_eq!(r["brief"]["stage"], "analyze");
    let role = r["brief"]["role"].as_str().unwrap();
    assert!(role.contains("parse() panics on empty input"), "{role}");
    assert!(r["brief"]["output_schema"]["properties"]["observations"].is_object());
    assert!(r["summary"].as_str().unwrap().contains("analyze"));

    // A bad output is refused with its JSON pointers; the run stays.
    let e = err_text(
        &call(
            &client,
            "submit",
            json!({"run_id": run, "output": {"confidence": 7}}),
        )
        .await,
    );
    assert!(
        e.contains("output_invalid") && e.contains("/confidence"),
        "{e}"
    );
    let e = err_text(&call(&client, "submit", json!({"run_id": run, "output": "text"})).await);
    assert!(e.contains("must be a JSON object"), "{e}");
    let e = err_text(&call(&client, "brief", json!({"run_id": "run-nope"})).await);
    assert!(e.contains("unknown_run"), "{e}");

    let apr = submit_for_approval(&client, &run, analysis(0.8)).await;
    // Nothing moves while the gate is pending; the model cannot pass a human gate.
    let e = err_text(
        &call(
            &client,
            "submit",
            json!({"run_id": run, "output": analysis(0.9)}),
        )
        .await,
    );
    assert!(e.contains("approval_pending"), "{e}");
    let e = err_text(
        &call(
            &client,
            "decide",
            json!({"approval_id": apr, "decision": "approve"}),
        )
        .await,
    );
    assert!(
        e.contains("human_gate") && e.contains("maestro approve"),
        "{e}"
    );

    // The person revises from a terminal.
    let listed = p.terminal(&["approvals"]);
    assert!(
        listed.stdout.contains(&apr) && listed.stdout.contains("analyze_accuracy"),
        "{}",
        listed.stdout
    );
    let out = p.terminal(&[
        "revise",
        &apr,
        "--feedback",
        "name the failing function",
        "--no-input",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let b = ok(&call(&client, "brief", json!({"run_id": run})).await);
    assert_eq!(
        (b["brief"]["stage"].as_str(), b["brief"]["visit"].as_u64()),
        (Some("analyze"), Some(2))
    );
    assert_eq!(
        b["brief"]["feedback"][0]["text"],
        "name the failing function"
    );

    // Kill the server while an approval is pending: nothing is lost.
    let apr = submit_for_approval(&client, &run, analysis(0.9)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid.unwrap()).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    drop(client);
    let out = p.terminal(&[
        "approve",
        &apr,
        "--answer",
        "analyze_accuracy=All correct",
        "--no-input",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("hypothesize"), "{}", out.stdout);
    let again = p.terminal(&["approve", &apr, "--no-input"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already decided"), "{}", again.stderr);

    let (client, _) = p.connect().await;
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(s["run"]["stage"], "hypothesize");
    let apr = submit_for_approval(&client, &run, hypotheses()).await;
    assert_eq!(p.terminal(&["approve", &apr, "--no-input"]).code, 0);
    // Implementation fails its tests: the workflow sends it to debug.
    let apr = submit_for_approval(&client, &run, implementation(false, "proceed_to_debug")).await;
    assert_eq!(p.terminal(&["approve", &apr, "--no-input"]).code, 0);
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(s["run"]["stage"], "debug");
    let apr = submit_for_approval(&client, &run, debug_step()).await;
    assert_eq!(p.terminal(&["approve", &apr, "--no-input"]).code, 0);
    let apr = submit_for_approval(&client, &run, improvement()).await;
    assert_eq!(p.terminal(&["approve", &apr, "--no-input"]).code, 0);
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(
        (s["run"]["status"].as_str(), s["run"]["end"].as_str()),
        (Some("finished"), Some("complete"))
    );
    client.cancel().await.unwrap();

    // The audit trail and the run list agree.
    let log = p.terminal(&["log", &run, "--jsonl"]);
    let kinds: Vec<String> = log
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "approval_decided").count(), 6);
    assert_eq!(kinds.last().map(String::as_str), Some("run_finished"));
    let runs = p.terminal(&["runs", "--all", "--json"]);
    let list: Value = serde_json::from_str(&runs.stdout).unwrap();
    assert_eq!(list[0]["end"], "complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_resources_and_hidden_tools() {
    let p = Project::new();
    let transport = TokioChildProcess::new(p.command().configure(|c| {
        c.env("MAESTRO_DISABLED_TOOLS", "decide, brief");
    }))
    .unwrap();
    let client = ().serve(transport).await.unwrap();
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(!names.contains(&"decide".to_string()) && names.contains(&"submit".to_string()));
    let prompts = client.list_all_prompts().await.unwrap();
    assert!(prompts.iter().any(|p| p.name == "default"));
    let got = client
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("default").with_arguments(
                json!({"task": "fix the parser"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    let text = serde_json::to_string(&got.messages).unwrap();
    assert!(
        text.contains("fix the parser") && text.contains("start"),
        "{text}"
    );
    let resources = client.list_all_resources().await.unwrap();
    assert!(
        resources
            .iter()
            .any(|r| r.uri == "maestro://workflows/default")
    );
    assert!(resources.iter().any(|r| r.uri == "maestro://roles/judge"));
    let wf = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "maestro://workflows/default",
        ))
        .await
        .unwrap();
    let body = serde_json::to_string(&wf).unwrap();
    assert!(
        body.contains("flowchart TD") && body.contains("stage \\\"analyze\\\""),
        "{body}"
    );
    let missing = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "maestro://roles/nope",
        ))
        .await;
    assert!(missing.is_err());
    client.cancel().await.unwrap();
}
