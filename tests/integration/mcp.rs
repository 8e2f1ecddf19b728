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
pub(crate) struct Project {
    dir: tempfile::TempDir,
    config: tempfile::TempDir,
}

impl Project {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        Self {
            dir,
            config: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn command(&self) -> tokio::process::Command {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_maestro")).configure(|cmd| {
            cmd.arg("serve")
                .current_dir(self.path())
                .env_remove("MAESTRO_HOME")
                .env_remove("MAESTRO_STATE")
                .env_remove("CLAUDE_CODE_SESSION_ID")
                .env_remove("CLAUDE_PROJECT_DIR")
                .env("XDG_CONFIG_HOME", self.config.path())
                .env("NO_COLOR", "1");
        })
    }

    pub(crate) async fn connect(&self) -> (RunningService<RoleClient, ()>, Option<u32>) {
        let transport = TokioChildProcess::new(self.command()).unwrap();
        let pid = transport.id();
        (().serve(transport).await.unwrap(), pid)
    }

    /// Runs a terminal command (`maestro approve ...`) in the project.
    pub(crate) fn terminal(&self, args: &[&str]) -> crate::support::Output {
        Test::new().args(args).current_dir(self.path()).run()
    }
}

pub(crate) async fn call(
    client: &rmcp::service::Peer<RoleClient>,
    tool: &str,
    args: Value,
) -> CallToolResult {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

pub(crate) fn ok(r: &CallToolResult) -> Value {
    assert_ne!(r.is_error, Some(true), "tool failed: {:?}", r.content);
    r.structured_content.clone().expect("structured content")
}

pub(crate) fn err_text(r: &CallToolResult) -> String {
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

pub(crate) fn analysis(confidence: f64) -> Value {
    json!({
        "observations": [{"fact": "parse() returns None for empty input", "source": "src/lib.rs:10", "certainty": "high"}],
        "constraints": ["keep the public API"],
        "unknowns": [],
        "repro_steps": ["cargo test parse_empty"],
        "confidence": confidence,
        "summary": "empty input is not handled"
    })
}

pub(crate) fn hypotheses() -> Value {
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
        "lessons": {"root_cause_category": "off_by_one", "title": "Lengths compared off by one",
                    "date": "2026-11-24", "files": ["src/lib.rs"], "cause": "n > 1 where n > 0 was meant",
                    "fix": "compare with 0", "audit": [],
                    "prevention_checklist": ["test the empty input", "test one item", "name the bound"]},
        "status": "complete"
    })
}

/// `maestro approve` from a terminal with an answer to every critical question of the
/// approval (the first option, or words), as a person must give to approve.
pub(crate) fn approve_answering(p: &Project, apr: &str) -> crate::support::Output {
    approve_answering_in(p.path(), apr)
}

/// As [`approve_answering`], in the project at `dir`.
pub(crate) fn approve_answering_in(dir: &Path, apr: &str) -> crate::support::Output {
    let terminal = |args: &[&str]| Test::new().args(args).current_dir(dir).run();
    let list = terminal(&["approvals", "--all", "--json"]);
    let all: Value = serde_json::from_str(&list.stdout).expect("approvals --json");
    let approval = all
        .as_array()
        .and_then(|a| a.iter().find(|x| x["approval_id"] == apr))
        .unwrap_or_else(|| panic!("no approval {apr}: {}", list.stdout))
        .clone();
    let mut args: Vec<String> = vec!["approve".into(), apr.into()];
    for q in approval["questions"].as_array().into_iter().flatten() {
        if q["priority"] == "critical" {
            let answer = q["options"][0]
                .as_str()
                .unwrap_or("looks right")
                .to_string();
            args.push("--answer".into());
            args.push(format!("{}={answer}", q["id"].as_str().unwrap()));
        }
    }
    args.push("--no-input".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    terminal(&args)
}

/// Submits `output` and returns the approval id it opened.
pub(crate) async fn submit_for_approval(
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
    assert_eq!(
        names,
        [
            "brief",
            "calibrate",
            "consult",
            "context",
            "coordinate",
            "decide",
            "ensemble",
            "evidence",
            "metrics",
            "note",
            "patch",
            "providers",
            "red_flag",
            "restore",
            "select",
            "start",
            "status",
            "submit",
            "verify",
            "vote",
        ]
    );
    for t in tools
        .iter()
        .filter(|t| ["patch", "restore"].contains(&t.name.as_ref()))
    {
        // `destructiveHint` defaults to true when left out (MCP), so it must not say false.
        let a = t.annotations.as_ref().unwrap();
        assert!(
            a.read_only_hint != Some(true) && a.destructive_hint.unwrap_or(true),
            "{} must say it is destructive",
            t.name
        );
    }
    for t in tools.iter().filter(|t| {
        [
            "status",
            "brief",
            "context",
            "evidence",
            "providers",
            "metrics",
        ]
        .contains(&t.name.as_ref())
    }) {
        assert_eq!(
            t.annotations.as_ref().unwrap().read_only_hint,
            Some(true),
            "{} must say it is read-only",
            t.name
        );
    }
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
    let out = approve_answering(&p, &apr);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("hypothesize"), "{}", out.stdout);
    let again = p.terminal(&["approve", &apr, "--no-input"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already decided"), "{}", again.stderr);

    let (client, _) = p.connect().await;
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(s["run"]["stage"], "hypothesize");
    let apr = submit_for_approval(&client, &run, hypotheses()).await;
    assert_eq!(approve_answering(&p, &apr).code, 0);
    // Implementation fails its tests: the workflow sends it to debug.
    let apr = submit_for_approval(&client, &run, implementation(false, "proceed_to_debug")).await;
    assert_eq!(approve_answering(&p, &apr).code, 0);
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(s["run"]["stage"], "debug");
    // Debugging refutes the hypothesis: back to hypothesize.
    let mut rethink = debug_step();
    rethink["next_action"] = json!("re_hypothesize");
    rethink["test_result"]["passed"] = json!(false);
    let apr = submit_for_approval(&client, &run, rethink).await;
    assert_eq!(approve_answering(&p, &apr).code, 0);
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(
        (s["run"]["stage"].as_str(), s["run"]["visit"].as_u64()),
        (Some("hypothesize"), Some(2))
    );
    // Kill the server while a stage is open, then carry on from a new one.
    client.cancel().await.unwrap();
    let (client, pid) = p.connect().await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid.unwrap()).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    drop(client);
    let (client, _) = p.connect().await;
    let b = ok(&call(&client, "brief", json!({"run_id": run})).await);
    assert_eq!(b["brief"]["stage"], "hypothesize");
    let apr = submit_for_approval(&client, &run, hypotheses()).await;
    assert_eq!(approve_answering(&p, &apr).code, 0);
    // The move to improve rests on the project's own `test` check, run through `verify`
    // for this run, not on what the output says.
    std::fs::create_dir_all(p.path().join(".maestro/conf")).unwrap();
    std::fs::write(
        p.path().join(".maestro/conf/verify.yaml"),
        "checks:\n  test:\n    run: [\"true\"]\n",
    )
    .unwrap();
    let v = ok(&call(
        &client,
        "verify",
        json!({"checks": ["test"], "run_id": run}),
    )
    .await);
    assert_eq!(v["passed"], true, "{v}");
    let apr = submit_for_approval(&client, &run, implementation(true, "proceed_to_improve")).await;
    assert_eq!(approve_answering(&p, &apr).code, 0);
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(s["run"]["stage"], "improve", "{s}");
    let apr = submit_for_approval(&client, &run, improvement()).await;
    assert_eq!(approve_answering(&p, &apr).code, 0);
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(
        (s["run"]["status"].as_str(), s["run"]["end"].as_str()),
        (Some("finished"), Some("complete"))
    );
    client.cancel().await.unwrap();

    // The audit trail and the run list agree.
    let log = p.terminal(&["log", &run, "--jsonl"]);
    let kinds: Vec<String> = log
        .json_lines()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "approval_decided").count(), 8);
    assert_eq!(
        kinds
            .iter()
            .rev()
            .find(|k| *k != "evidence")
            .map(String::as_str),
        Some("run_finished")
    );
    // Each decision is also in the evidence chain.
    assert_eq!(
        log.stdout.matches("\"kind\":\"decision\"").count(),
        8,
        "{}",
        log.stdout
    );
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

/// A client that answers every form with a fixed decision, and counts the forms it saw.
#[derive(Clone)]
struct FormFiller {
    decision: &'static str,
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl rmcp::ClientHandler for FormFiller {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        rmcp::model::ClientConfig::new(
            rmcp::model::ClientCapabilities::builder()
                .enable_elicitation()
                .build(),
            rmcp::model::Implementation::new("form-filler", "1.0.0"),
        )
    }

    async fn create_elicitation(
        &self,
        request: rmcp::model::ElicitRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let rmcp::model::ElicitRequestParams::FormElicitationParams {
            requested_schema, ..
        } = request
        else {
            panic!("expected a form");
        };
        let schema = serde_json::to_value(&requested_schema).unwrap();
        assert!(
            schema["properties"]["analyze_accuracy"]["enum"].is_array(),
            "{schema}"
        );
        Ok(
            rmcp::model::ElicitResult::new(rmcp::model::ElicitationAction::Accept).with_content(
                json!({
                    "decision": self.decision,
                    "feedback": "look again",
                    "analyze_accuracy": "Some are wrong"
                }),
            ),
        )
    }
}

/// A server in process over a duplex pipe, in `p`'s folder, and a client that answers every
/// form with `decision`; the counter says how many forms it saw.
async fn form_filled(
    p: &Project,
    decision: &'static str,
) -> (
    RunningService<RoleClient, FormFiller>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let home = maestro::Home::builtin();
    let engine = maestro::Engine::open(home, &p.path().join("state.db")).unwrap();
    let server = maestro::testing::mcp::Server::new(std::sync::Arc::new(engine));
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let running = server.serve(server_io).await.unwrap();
        let _ = running.waiting().await;
    });
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let client = FormFiller {
        decision,
        seen: seen.clone(),
    }
    .serve(client_io)
    .await
    .unwrap();
    (client, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elicitation_decides_in_process_and_an_exhausted_loop_escalates() {
    let p = Project::new();
    let (client, seen) = form_filled(&p, "revise").await;
    let r = ok(&call(&client, "start", json!({"task": "t", "lang": "ko"})).await);
    let run = r["run_id"].as_str().unwrap().to_string();
    assert_eq!(r["brief"]["title"], "예제 분석");
    // analyze allows 3 visits: three revisions by form, then the 4th entry escalates.
    for visit in 1..=3 {
        let r = ok(&call(
            &client,
            "submit",
            json!({"run_id": run, "output": analysis(0.9)}),
        )
        .await);
        assert_eq!(r["approval"]["decision"], "revise", "{r}");
        if visit < 3 {
            assert_eq!(r["run"]["visit"], visit + 1);
            assert_eq!(
                r["brief"]["feedback"][0]["answers"]["analyze_accuracy"],
                "Some are wrong"
            );
        } else {
            assert_eq!(r["run"]["end"], "escalated", "{r}");
        }
    }
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    // Oversized and malformed input: clear errors, and the server keeps serving.
    let big = "x".repeat(1_100_000);
    let r = ok(&call(&client, "start", json!({"task": "t2"})).await);
    let run2 = r["run_id"].as_str().unwrap().to_string();
    let e = err_text(
        &call(
            &client,
            "submit",
            json!({"run_id": run2, "output": {"summary": big}}),
        )
        .await,
    );
    assert!(e.contains("limit is 1048576"), "{}", &e[..200.min(e.len())]);
    // Malformed arguments are refused with what is wrong (rmcp reports them as tool errors).
    let e = err_text(&call(&client, "submit", json!({"run_id": run2})).await);
    assert!(e.contains("missing field `output`"), "{e}");
    let e = err_text(&call(&client, "submit", json!({"run_id": 7, "output": {}})).await);
    assert!(e.contains("run_id") || e.contains("invalid type"), "{e}");
    let bad = client
        .call_tool(CallToolRequestParams::new("no_such_tool"))
        .await;
    assert!(bad.is_err());
    let e = err_text(&call(&client, "start", json!({"task": "t", "workflow": "nope"})).await);
    assert!(
        e.contains("unknown_workflow") && e.contains("default"),
        "{e}"
    );
    let s = ok(&call(&client, "status", json!({})).await);
    assert_eq!(s["runs"].as_array().unwrap().len(), 1, "{s}");
    client.cancel().await.unwrap();
}

#[test]
fn two_servers_and_a_terminal_share_one_state_file() {
    // 2 server processes each drive their own runs while terminal processes decide approvals
    // of both, all on one SQLite file: every operation lands exactly once.
    let p = Project::new();
    std::fs::create_dir_all(p.path().join(".maestro/workflows")).unwrap();
    std::fs::write(
        p.path().join(".maestro/workflows/spin.kdl"),
        "workflow \"spin\" {\n    version 1\n    start \"s\"\n    stage \"s\" {\n        max-visits 1000\n        gate {\n            by \"any\"\n        }\n        next \"done\"\n        next \"done\" on=\"exhausted\"\n    }\n    end \"done\"\n}\n",
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rounds = 64;
    let (a, b) = rt.block_on(async {
        let (c1, _) = p.connect().await;
        let (c2, _) = p.connect().await;
        let r1 =
            ok(&call(&c1, "start", json!({"task": "one", "workflow": "spin"})).await)["run_id"]
                .as_str()
                .unwrap()
                .to_string();
        let r2 =
            ok(&call(&c2, "start", json!({"task": "two", "workflow": "spin"})).await)["run_id"]
                .as_str()
                .unwrap()
                .to_string();
        ((c1, r1), (c2, r2))
    });
    let mut ops = 0;
    for _ in 0..rounds {
        let aprs: Vec<String> = rt.block_on(async {
            let mut v = Vec::new();
            for (c, r) in [(&a.0, &a.1), (&b.0, &b.1)] {
                let s = ok(&call(c, "status", json!({"run_id": r})).await);
                assert_ne!(s["run"]["status"], "finished", "{s}");
                v.push(submit_for_approval(c, r, json!({"answer": "x"})).await);
            }
            v
        });
        ops += 4;
        // Decide both from terminals at the same time, while the servers read status.
        let handles: Vec<_> = aprs
            .iter()
            .map(|id| {
                let dir = p.path().to_path_buf();
                let id = id.clone();
                std::thread::spawn(move || {
                    Test::new()
                        .args(&["revise", &id, "--feedback", "again", "--no-input"])
                        .current_dir(&dir)
                        .run()
                })
            })
            .collect();
        rt.block_on(async {
            for (c, r) in [(&a.0, &a.1), (&b.0, &b.1)] {
                ok(&call(c, "status", json!({"run_id": r})).await);
            }
        });
        ops += 2;
        for h in handles {
            let out = h.join().unwrap();
            assert_eq!(out.code, 0, "{}", out.stderr);
            assert!(!out.stderr.contains("locked"), "{}", out.stderr);
        }
        ops += 2;
    }
    assert!(ops >= 500, "{ops} operations");
    for (_, run) in [&a, &b] {
        let log = p.terminal(&["log", run, "--jsonl"]);
        let events: Vec<Value> = log
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let count = |k: &str| events.iter().filter(|e| e["kind"] == k).count();
        assert_eq!(count("approval_requested"), rounds, "{run}");
        assert_eq!(count("approval_decided"), rounds, "{run}");
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    }
    rt.block_on(async {
        a.0.cancel().await.unwrap();
        b.0.cancel().await.unwrap();
    });
}

#[test]
fn claude_code_setup_commands() {
    let p = Project::new();
    let out = p.terminal(&["mcp-config"]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["mcpServers"]["maestro"]["args"][0], "serve");
    let out = p.terminal(&["init", "--claude"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mcp: Value =
        serde_json::from_str(&std::fs::read_to_string(p.path().join(".mcp.json")).unwrap())
            .unwrap();
    // Portable: the name on PATH, not the path of the binary that wrote the file.
    assert_eq!(mcp["mcpServers"]["maestro"]["command"], "maestro");
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(p.path().join(".claude/settings.json")).unwrap(),
    )
    .unwrap();
    let pre = &settings["hooks"]["PreToolUse"][0];
    assert_eq!(pre["matcher"], "*", "{settings}");
    assert!(
        pre["hooks"][0]["command"]
            .as_str()
            .unwrap()
            .starts_with("maestro hook")
    );
    assert_eq!(
        settings["hooks"]["SessionStart"][0]["hooks"][0]["command"],
        "maestro hook"
    );
    let skill = std::fs::read_to_string(p.path().join(".claude/skills/maestro/SKILL.md")).unwrap();
    assert!(skill.contains("use maestro"));
    assert!(p.path().join(".maestro/workflows/default.kdl").is_file());
}

/// Every tool's schemas cost context in every session: the whole `tools/list` result, with
/// real output schemas, stays within 12,000 bytes as a client receives it (the compact JSON
/// of the result; Python's default `json.dumps`, with spaces, adds about 9%).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_list_is_small_and_typed() {
    let p = Project::new();
    let (client, _) = p.connect().await;
    let tools = client.list_all_tools().await.unwrap();
    let wire = serde_json::to_string(&json!({"tools": tools})).unwrap();
    let mut sizes: Vec<(usize, String)> = tools
        .iter()
        .map(|t| (serde_json::to_string(t).unwrap().len(), t.name.to_string()))
        .collect();
    sizes.sort();
    eprintln!("tools/list: {} bytes; {sizes:?}", wire.len());
    for t in &tools {
        let out = t
            .output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no output schema", t.name));
        let props = out["properties"].as_object().unwrap();
        assert!(props.contains_key("summary"), "{}", t.name);
        assert!(
            props.len() > 1,
            "{}: the output schema lists its fields",
            t.name
        );
    }
    assert!(wire.len() <= 12_000, "tools/list is {} bytes", wire.len());
    client.cancel().await.unwrap();
}

/// A form that approves without answering every critical question is refused by the engine:
/// the approval stays pending and the result says why and how the person decides instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_approval_without_critical_answers_leaves_the_gate_waiting() {
    let p = Project::new();
    let (client, seen) = form_filled(&p, "approve").await;
    let r = ok(&call(&client, "start", json!({"task": "t"})).await);
    let run = r["run_id"].as_str().unwrap().to_string();
    let r = ok(&call(
        &client,
        "submit",
        json!({"run_id": run, "output": analysis(0.9)}),
    )
    .await);
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(r["outcome"], "awaiting_approval", "{r}");
    assert_eq!(r["approval"]["status"], "pending", "{r}");
    let summary = r["summary"].as_str().unwrap();
    assert!(
        summary.contains("refused") && summary.contains("analyze_completeness"),
        "{summary}"
    );
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(s["run"]["stage"], "analyze", "{s}");
}

/// With the plugin enabled in every project, `maestro serve` starts wherever Claude Code opens:
/// the state file it creates is ignored by git until the person runs `maestro init`, which
/// then ignores only the state and lets the workflows be committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_folder_made_by_the_server_stays_out_of_git_status() {
    let p = Project::new();
    std::fs::remove_dir_all(p.path().join(".git")).unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(p.path())
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(&["init", "-q"]);
    let (client, _) = p.connect().await;
    ok(&call(&client, "start", json!({"task": "look"})).await);
    client.cancel().await.unwrap();
    assert!(p.path().join(".maestro/state.db").is_file());
    assert_eq!(git(&["status", "--porcelain", "--untracked-files=all"]), "");
    let out = p.terminal(&["init"]);
    assert!(
        out.stdout.contains("wrote  .maestro/.gitignore"),
        "{}",
        out.stdout
    );
    let status = git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(
        status.contains(".maestro/workflows/default.kdl"),
        "{status}"
    );
    assert!(!status.contains("state.db"), "{status}");
}
