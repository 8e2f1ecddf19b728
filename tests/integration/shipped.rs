//! The workflows maestro ships (`workflows/`): each validates without a single finding, each is
//! an MCP prompt, each is drawn in docs/workflows.md, and `analyze` and `review` run end to end
//! through the real server, the fake provider CLIs and a person's terminal decisions.

use std::path::Path;

use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::mcp::{Project, analysis, call, err_text, ok, submit_for_approval};
use crate::providers::Fakes;
use crate::support::{Test, repo};

/// Each shipped workflow file's name, as `start` takes it.
fn shipped() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The prompt a workflow is listed under: its own name, or `run-<name>` when a built-in prompt
/// has that name.
fn prompt_name(workflow: &str) -> String {
    if maestro::testing::diagnostic::BUILTIN_PROMPTS.contains(&workflow) {
        format!("run-{workflow}")
    } else {
        workflow.to_string()
    }
}

/// A server whose providers are the fake CLIs, steered through `<project>/home/.fake/`.
async fn served(p: &Project) -> RunningService<RoleClient, ()> {
    let home = p.path().join("home");
    std::fs::create_dir_all(home.join(".fake")).unwrap();
    let cmd = p.command().configure(|c| {
        c.env("HOME", &home).env("PATH", Fakes::path_var());
    });
    ().serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .unwrap()
}

fn fake(p: &Project, name: &str, value: &str) {
    std::fs::write(p.path().join("home/.fake").join(name), value).unwrap();
}

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

async fn start(client: &RunningService<RoleClient, ()>, workflow: &str, lang: &str) -> Value {
    ok(&call(
        client,
        "start",
        json!({"task": format!("the {workflow} task"), "workflow": workflow, "lang": lang}),
    )
    .await)
}

/// The person approves `apr` in a terminal with `answers`; the run then finishes at `end`.
async fn approve_to_end(
    p: &Project,
    client: &RunningService<RoleClient, ()>,
    run: &str,
    apr: &str,
    answers: &[&str],
    end: &str,
) {
    let mut args = vec!["approve", apr];
    for a in answers {
        args.extend(["--answer", a]);
    }
    args.push("--no-input");
    let out = p.terminal(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let s = status(client, run).await;
    assert_eq!(
        (s["status"].as_str(), s["end"].as_str()),
        (Some("finished"), Some(end)),
        "{s}"
    );
}

/// The model's own `decide` at a `by "human"` gate is refused.
async fn model_cannot_approve(client: &RunningService<RoleClient, ()>, apr: &str) {
    let e = err_text(
        &call(
            client,
            "decide",
            json!({"approval_id": apr, "decision": "approve"}),
        )
        .await,
    );
    assert!(e.contains("human_gate"), "{e}");
}

async fn status(client: &RunningService<RoleClient, ()>, run: &str) -> Value {
    ok(&call(client, "status", json!({"run_id": run})).await)["run"].clone()
}

#[test]
fn every_shipped_workflow_validates_without_a_single_finding() {
    let names = shipped();
    for expected in ["analyze", "consult", "default", "review"] {
        assert!(
            names.iter().any(|n| n == expected),
            "workflows/ lacks `{expected}`: {names:?}"
        );
    }
    let files: Vec<String> = std::fs::read_dir(repo().join("workflows"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut args = vec!["validate", "--deny-warnings", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let out = Test::new().args(&args).expect(0);
    assert_eq!(out.stdout, "", "findings in workflows/");
    // The same files as the binary carries them, with the assets it carries: what
    // `maestro init` installs and what a project without `.maestro/` runs.
    let empty = tempfile::tempdir().unwrap();
    let out = Test::new()
        .current_dir(empty.path())
        .args(&["validate", "--deny-warnings", "--format", "json"])
        .expect(0);
    assert_eq!(out.stdout, "", "findings in the built-in home");
    let out = Test::new()
        .current_dir(empty.path())
        .args(&["validate", "--deny-warnings"])
        .expect(0);
    assert_eq!(
        out.stderr.trim_end(),
        format!("{} workflows checked: 0 errors, 0 warnings", names.len()),
        "every shipped workflow is built in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_workflow_is_an_mcp_prompt() {
    let p = Project::new();
    let client = served(&p).await;
    let prompts = client.list_all_prompts().await.unwrap();
    for workflow in shipped() {
        let name = prompt_name(&workflow);
        let listed = prompts
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no prompt `{name}` for workflow `{workflow}`"));
        let args = listed.arguments.as_ref().expect("a task argument");
        assert_eq!(args.len(), 1);
        assert_eq!(args[0].name, "task");
        // The description is the workflow's summary, not the fallback text.
        let description = listed.description.as_deref().unwrap_or_default();
        assert!(
            !description.is_empty() && !description.starts_with("Run the `"),
            "{name}: {description}"
        );
        let got = client
            .get_prompt(
                rmcp::model::GetPromptRequestParams::new(name.clone())
                    .with_arguments(json!({"task": "T-9"}).as_object().unwrap().clone()),
            )
            .await
            .unwrap();
        let text = serde_json::to_string(&got.messages).unwrap();
        assert!(
            text.contains(&format!("workflow `{workflow}`")) && text.contains("T-9"),
            "{name}: {text}"
        );
    }
    // The review workflow's summary, as the client lists it.
    let review = prompts.iter().find(|p| p.name == "review").unwrap();
    assert!(
        review
            .description
            .as_deref()
            .unwrap()
            .contains("a person decides what to act on")
    );
    client.cancel().await.unwrap();
}

#[test]
fn docs_draw_every_shipped_workflow_as_maestro_graph_does() {
    let doc = std::fs::read_to_string(repo().join("docs/workflows.md")).unwrap();
    for workflow in shipped() {
        let heading = format!("\n## `{workflow}`");
        let section = doc
            .split(&heading)
            .nth(1)
            .unwrap_or_else(|| panic!("docs/workflows.md has no section `## `{workflow}``"));
        let section = section.split("\n## ").next().unwrap();
        let slash = format!("/mcp__maestro__{}", prompt_name(&workflow));
        assert!(
            section.contains(&slash),
            "the `{workflow}` section does not give its slash command {slash}"
        );
        let block = section
            .split("```mermaid\n")
            .nth(1)
            .and_then(|r| r.split("```").next())
            .unwrap_or_else(|| panic!("the `{workflow}` section has no mermaid block"));
        let drawn = Test::new().args(&["graph", &workflow]).expect(0).stdout;
        assert_eq!(
            block, drawn,
            "docs/workflows.md draws `{workflow}` as it was: paste `maestro graph {workflow}`"
        );
    }
}

/// The analysis stage alone: the brief and gate are default's analyze stage, and the person's
/// approval ends the run at `analyzed` whatever the confidence (default would loop below 0.6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyze_run_stops_for_the_person_and_ends_at_analyzed() {
    let p = Project::new();
    let client = served(&p).await;
    let r = start(&client, "analyze", "en").await;
    let run = r["run_id"].as_str().unwrap().to_string();
    let brief = &r["brief"];
    assert_eq!(brief["stage"], "analyze");
    assert_eq!(brief["title"], "Example analysis");
    assert_eq!(brief["prefer"], json!(["gemini", "claude"]));
    assert_eq!(brief["ensemble"], false);
    assert_eq!(brief["budget"]["consults_left_visit"], 2);
    assert!(brief["role"].as_str().unwrap().contains("the analyze task"));
    assert!(brief["output_schema"]["properties"]["observations"].is_object());
    let ids: Vec<&str> = brief["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "analyze_completeness",
            "analyze_accuracy",
            "analyze_files",
            "analyze_repro",
            "analyze_invariants"
        ]
    );

    // A wrong output is refused where it is wrong; the stage stays open.
    let e = err_text(
        &call(
            &client,
            "submit",
            json!({"run_id": run, "output": {"observations": []}}),
        )
        .await,
    );
    assert!(e.contains("output_invalid"), "{e}");

    // The person sends it round once, then approves a low-confidence analysis: the run ends.
    let apr = submit_for_approval(&client, &run, analysis(0.3)).await;
    model_cannot_approve(&client, &apr).await;
    let out = p.terminal(&[
        "revise",
        &apr,
        "--feedback",
        "add the stack trace",
        "--no-input",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let b = ok(&call(&client, "brief", json!({"run_id": run})).await);
    assert_eq!(b["brief"]["visit"], 2);
    assert_eq!(b["brief"]["feedback"][0]["text"], "add the stack trace");
    let apr = submit_for_approval(&client, &run, analysis(0.3)).await;
    approve_to_end(
        &p,
        &client,
        &run,
        &apr,
        &[
            "analyze_accuracy=All correct",
            "analyze_completeness=nothing is missing",
        ],
        "analyzed",
    )
    .await;

    // Three revisions spend the three visits: the fourth entry escalates.
    let r = start(&client, "analyze", "ko").await;
    assert_eq!(r["brief"]["title"], "예제 분석");
    let run = r["run_id"].as_str().unwrap().to_string();
    for _ in 0..3 {
        let apr = submit_for_approval(&client, &run, analysis(0.9)).await;
        let out = p.terminal(&["revise", &apr, "--feedback", "again", "--no-input"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let s = status(&client, &run).await;
    assert_eq!(s["end"], "escalated", "{s}");
    client.cancel().await.unwrap();
}

fn finding(id: &str, severity: &str, raised_by: &str) -> Value {
    json!({
        "id": id,
        "severity": severity,
        "file": "src/lib.rs",
        "line": 2,
        "claim": "an empty string now reaches parse() and is reported as None without a reason",
        "evidence": "+    if s.len() > 0 { s.parse().ok() } else { None }",
        "raised_by": raised_by,
        "agreed_by": 2,
        "recommendation": "add a test for the empty input"
    })
}

fn review() -> Value {
    json!({
        "reviewed": "staged",
        "findings": [finding("F1", "high", "against/codex"), finding("F2", "low", "neutral/claude")],
        "positions": {
            "agree": ["gemini (for)"],
            "disagree": ["codex (against)"],
            "mixed": ["claude (neutral)"],
            "unclear": [],
            "summary": "codex and claude say the empty case is untested; gemini says the guard is right. The test settles it."
        },
        "judge": {"provider": "claude", "selected": "F1", "ranking": ["F1", "F2"], "scores": {"F1": 0.8, "F2": 0.3}, "reason": "F1 shows a path callers use"},
        "actions": [{"findings": ["F1"], "action": "add tests/parse_empty.rs", "suggested": "now"}],
        "summary": "One real gap (F1) and one cleanup (F2)."
    })
}

/// The issue's `review`: three members with stances read the staged change and the judge
/// ranks their findings, all within one visit's budget (4: the members and the judge); the
/// output goes to a person, who decides what to act on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_run_fits_its_budget_and_waits_for_the_person() {
    let p = Project::new();
    let dir = p.path();
    git(dir, &["init", "-q"]);
    git(dir, &["config", "user.email", "t@example.com"]);
    git(dir, &["config", "user.name", "t"]);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("home")).unwrap();
    std::fs::write(dir.join("home/.gitignore"), "*\n").unwrap();
    let lib = dir.join("src/lib.rs");
    std::fs::write(
        &lib,
        "pub fn parse(s: &str) -> Option<u32> {\n    if s.len() > 1 { s.parse().ok() } else { None }\n}\n",
    )
    .unwrap();
    git(dir, &["add", "src/lib.rs"]);
    git(dir, &["commit", "-q", "-m", "start"]);
    std::fs::write(
        &lib,
        "pub fn parse(s: &str) -> Option<u32> {\n    if s.len() > 0 { s.parse().ok() } else { None }\n}\n",
    )
    .unwrap();
    git(dir, &["add", "src/lib.rs"]);

    let client = served(&p).await;
    let r = start(&client, "review", "en").await;
    let run = r["run_id"].as_str().unwrap().to_string();
    let brief = &r["brief"];
    assert_eq!(brief["stage"], "review");
    assert_eq!(brief["ensemble"], true);
    assert_eq!(brief["topology"], "centralized");
    assert_eq!(
        (
            brief["budget"]["consults_left_visit"].as_u64(),
            brief["budget"]["consults_left_run"].as_u64()
        ),
        (Some(4), Some(8))
    );
    let role = brief["role"].as_str().unwrap();
    assert!(
        role.contains("Role: reviewer") && role.contains("the review task"),
        "{role}"
    );
    assert!(brief["skill"].as_str().unwrap().contains("`ensemble`"));
    assert!(brief["output_schema"]["properties"]["findings"].is_object());

    // The members: each reads the reviewer role, its stance and the staged diff, packed by
    // the server (the fake echoes the prompt it received).
    fake(&p, "echo", "");
    let v = ok(&call(
        &client,
        "ensemble",
        json!({
            "prompt": "Review the staged change: does parse() still reject bad input?",
            "diff": "staged",
            "role": "reviewer",
            "run_id": run,
            "stances": [
                {"stance": "against", "provider": "codex", "focus": "correctness and failure paths"},
                {"stance": "neutral", "provider": "claude", "focus": "design, safety and tests"},
                {"stance": "for", "provider": "gemini", "focus": "whether it does what the task asks"}
            ]
        }),
    )
    .await);
    let answers = v["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 3, "{v}");
    for a in answers {
        let seen = a["text"].as_str().unwrap();
        assert!(
            seen.contains("Role: reviewer") && seen.contains("+    if s.len() > 0"),
            "{seen}"
        );
    }
    let critic = answers.iter().find(|a| a["provider"] == "codex").unwrap();
    assert!(critic["text"].as_str().unwrap().contains("Role: critic"));
    assert_eq!(v["budget"]["consults_left_visit"], 1, "{v}");

    // The judge ranks the findings: the last consult of the visit.
    std::fs::remove_file(p.path().join("home/.fake/echo")).unwrap();
    fake(
        &p,
        "answer",
        "```json\n{\"rubric\": \"general\", \"candidates_evaluated\": [{\"id\": \"F1\", \"weighted_score\": 0.8}, {\"id\": \"F2\", \"weighted_score\": 0.3}], \"selected\": \"F1\", \"selection_reason\": \"F1 shows a path callers use\"}\n```",
    );
    let s = ok(&call(
        &client,
        "select",
        json!({
            "candidates": [
                {"id": "F1", "content": "high, src/lib.rs:2: the empty input is untested"},
                {"id": "F2", "content": "low, src/lib.rs:2: `> 0` reads better as `!s.is_empty()`"}
            ],
            "mode": "judge",
            "rubric": "general",
            "judge_provider": "claude",
            "run_id": run
        }),
    )
    .await);
    assert_eq!(s["result"]["winner"], "F1", "{s}");
    assert_eq!(s["result"]["judge"]["rubric"], "general");
    let e = err_text(
        &call(
            &client,
            "consult",
            json!({"prompt": "one more?", "provider": "codex", "run_id": run}),
        )
        .await,
    );
    assert!(e.contains("budget_exhausted"), "{e}");

    // The output: a finding without its evidence, or raised by no stance, is refused.
    let mut bad = review();
    bad["findings"][0]
        .as_object_mut()
        .unwrap()
        .remove("evidence");
    bad["findings"][1]["raised_by"] = json!("claude");
    bad["findings"][1]["severity"] = json!("urgent");
    let e = err_text(&call(&client, "submit", json!({"run_id": run, "output": bad})).await);
    assert!(
        e.contains("output_invalid")
            && e.contains("/findings/0")
            && e.contains("/findings/1/raised_by")
            && e.contains("/findings/1/severity"),
        "{e}"
    );
    let apr = submit_for_approval(&client, &run, review()).await;
    let s = status(&client, &run).await;
    assert_eq!(
        (s["status"].as_str(), s["stage"].as_str()),
        (Some("waiting"), Some("review")),
        "{s}"
    );
    // Only a person decides what to act on.
    model_cannot_approve(&client, &apr).await;
    let listed = p.terminal(&["approvals"]);
    assert!(
        listed.stdout.contains(&apr)
            && listed.stdout.contains("review_fix")
            && listed.stdout.contains("Later, in a follow-up"),
        "{}",
        listed.stdout
    );
    approve_to_end(
        &p,
        &client,
        &run,
        &apr,
        &["review_fix=F1", "review_when=Now, in this change"],
        "decided",
    )
    .await;
    client.cancel().await.unwrap();
}

/// The reviewer role renders in both languages within its budget (2,500 characters on a first
/// visit), and the skill's texts stay within theirs (3,000 each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_texts_are_bilingual_and_lean() {
    let p = Project::new();
    let client = served(&p).await;
    for (lang, title, marker) in [
        ("en", "Review the change", "Role: reviewer"),
        ("ko", "변경 검토", "역할: 코드 리뷰어"),
    ] {
        let r = start(&client, "review", lang).await;
        let brief = &r["brief"];
        assert_eq!(brief["title"], title);
        let role = brief["role"].as_str().unwrap();
        assert!(role.contains(marker), "{lang}: {role}");
        // The schema travels once, in `output_schema`; the role is measured without it.
        let prose = role.split("```json").next().unwrap();
        let n = prose.chars().count();
        assert!(n <= 2_500, "the {lang} reviewer role is {n} characters");
    }
    client.cancel().await.unwrap();
    for file in ["skills/review.md", "skills/review.ko.md"] {
        let n = std::fs::read_to_string(repo().join(file))
            .unwrap()
            .chars()
            .count();
        assert!(n <= 3_000, "{file} is {n} characters");
    }
}
