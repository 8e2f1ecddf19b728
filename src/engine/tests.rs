//! Engine behaviour over a real SQLite file and a small workflow written for the tests.

use serde_json::json;

use super::*;
use crate::engine::FailureCode;
use crate::home::Origin;

const FLOW: &str = r#"
workflow "t" {
    version 1
    start "a"
    lang "en" "ko"
    budget consults=3
    stage "a" {
        title "Alpha" ko="알파"
        output "out_a"
        max-visits 2
        consult max=2
        gate {
            by "human"
            question "q1" priority="high" {
                text "Right?" ko="맞나요?"
                options "yes" "no"
            }
        }
        next "b" when="output.score >= 0.5"
        next "a"
        next "gave_up" on="exhausted"
    }
    stage "b" {
        title "Beta" ko="베타"
        gate { by "any"; timeout "1s" on-timeout="approve"; }
        next "done"
    }
    end "done"
    end "gave_up"
}
"#;

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["score", "summary"],
  "properties": {
    "score": {"type": "number", "minimum": 0, "maximum": 1},
    "summary": {"type": "string", "minLength": 1}
  }
}"#;

fn setup() -> (tempfile::TempDir, Engine) {
    let tmp = tempfile::tempdir().unwrap();
    let home_dir = tmp.path().join("home");
    std::fs::create_dir_all(home_dir.join("workflows")).unwrap();
    std::fs::create_dir_all(home_dir.join("schemas")).unwrap();
    std::fs::write(home_dir.join("workflows/t.kdl"), FLOW).unwrap();
    std::fs::write(home_dir.join("schemas/out_a.json"), SCHEMA).unwrap();
    let engine = reopen(&tmp);
    (tmp, engine)
}

fn reopen(tmp: &tempfile::TempDir) -> Engine {
    let mut home = Home::builtin();
    home.push_front(tmp.path().join("home"), Origin::Explicit);
    Engine::open(home, &tmp.path().join("state.db")).unwrap()
}

fn start(engine: &Engine) -> String {
    let s = engine
        .start(&StartRequest {
            task: "fix it".into(),
            workflow: Some("t".into()),
            ..Default::default()
        })
        .unwrap();
    s.run.run_id
}

fn human(words: Option<&str>) -> DecisionText {
    DecisionText {
        feedback: words.map(str::to_string),
        answers: std::collections::BTreeMap::new(),
    }
}

#[test]
fn the_history_kinds_are_tags_of_the_event_enum_and_status_shows_exactly_them() {
    let (_tmp, engine) = setup();
    let id = start(&engine);
    let s = engine
        .submit(&id, &json!({"score": 0.9, "summary": "ok"}), None)
        .unwrap();
    engine
        .decide(
            &s.approval.unwrap().approval_id,
            DecisionKind::Approve,
            &human(None),
            Actor::Terminal,
        )
        .unwrap();
    let tag = |e: &RunEvent| {
        serde_json::to_value(e).unwrap()["kind"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Every listed kind is a variant's tag (a typo would select nothing, silently).
    let schema = serde_json::to_string(&schemars::schema_for!(RunEvent)).unwrap();
    for k in views::HISTORY_KINDS {
        assert!(schema.contains(&format!("\"const\":\"{k}\"")), "{k}");
    }
    let expected: Vec<String> = engine
        .log(&id)
        .unwrap()
        .iter()
        .map(|e| tag(&e.event))
        .filter(|k| views::HISTORY_KINDS.contains(&k.as_str()))
        .collect();
    let shown: Vec<String> = engine
        .status(&id)
        .unwrap()
        .history
        .iter()
        .map(|h| tag(&h.event))
        .collect();
    assert_eq!(shown, expected);
    assert!(shown.iter().any(|k| k == "approval_decided"), "{shown:?}");
}

#[test]
fn a_run_walks_gates_revisions_and_ends() {
    let (_tmp, engine) = setup();
    let id = start(&engine);
    let b = engine.brief(&id).unwrap();
    assert_eq!(
        (b.stage.as_str(), b.visit, b.title.as_str()),
        ("a", 1, "Alpha")
    );
    assert_eq!(b.questions[0].id, "q1");

    // Invalid output: every violation with its pointer; nothing moves.
    let err = engine.submit(&id, &json!({"score": 2}), None).unwrap_err();
    assert_eq!(err.code, FailureCode::OutputInvalid);
    let v = err.details["violations"].as_array().unwrap();
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v.iter().any(|x| x["pointer"] == "/score"));
    let err = engine.submit(&id, &json!([1]), None).unwrap_err();
    assert_eq!(err.code, FailureCode::OutputInvalid);

    let s = engine
        .submit(&id, &json!({"score": 0.2, "summary": "low"}), None)
        .unwrap();
    assert_eq!(s.outcome, SubmitOutcome::AwaitingApproval);
    let apr = s.approval.unwrap().approval_id;
    // Nothing moves while the gate is pending.
    let err = engine
        .submit(&id, &json!({"score": 0.9, "summary": "x"}), None)
        .unwrap_err();
    assert_eq!(err.code, FailureCode::ApprovalPending);
    // A human gate is never decided by a tool.
    let err = engine
        .decide(&apr, DecisionKind::Approve, &human(None), Actor::Model)
        .unwrap_err();
    assert_eq!(err.code, FailureCode::HumanGate);
    // Low score: approved, but the guard sends it back to `a`.
    let d = engine
        .decide(&apr, DecisionKind::Approve, &human(None), Actor::Terminal)
        .unwrap();
    assert_eq!(d.run.stage.as_deref(), Some("a"));
    assert_eq!(d.run.visit, 2);
    // A second decision on the same approval fails cleanly.
    let err = engine
        .decide(&apr, DecisionKind::Reject, &human(None), Actor::Terminal)
        .unwrap_err();
    assert_eq!(err.code, FailureCode::AlreadyDecided);

    let s = engine
        .submit(&id, &json!({"score": 0.9, "summary": "good"}), None)
        .unwrap();
    let apr = s.approval.unwrap().approval_id;
    let d = engine
        .decide(
            &apr,
            DecisionKind::Approve,
            &human(Some("fine")),
            Actor::Terminal,
        )
        .unwrap();
    assert_eq!(d.run.stage.as_deref(), Some("b"));
    let brief = d.brief.unwrap();
    assert_eq!(brief.feedback.len(), 1);
    assert_eq!(brief.feedback[0].text.as_deref(), Some("fine"));

    // `by "any"`: the orchestrator may decide.
    let s = engine.submit(&id, &json!({"x": 1}), None).unwrap();
    let apr = s.approval.unwrap().approval_id;
    let d = engine
        .decide(&apr, DecisionKind::Approve, &human(None), Actor::Model)
        .unwrap();
    assert_eq!(d.run.status, RunStatus::Finished);
    assert_eq!(d.run.end.as_deref(), Some("done"));
    let err = engine.brief(&id).unwrap_err();
    assert_eq!(err.code, FailureCode::RunFinished);
}

#[test]
fn revising_past_max_visits_follows_exhausted() {
    let (_tmp, engine) = setup();
    let id = start(&engine);
    for visit in 1..=2 {
        let s = engine
            .submit(&id, &json!({"score": 0.1, "summary": "meh"}), None)
            .unwrap();
        let apr = s.approval.unwrap().approval_id;
        let d = engine
            .decide(
                &apr,
                DecisionKind::Revise,
                &human(Some("again")),
                Actor::Terminal,
            )
            .unwrap();
        if visit == 1 {
            assert_eq!(d.run.visit, 2);
        } else {
            assert_eq!(d.run.end.as_deref(), Some("gave_up"));
        }
    }
    let log = engine.log(&id).unwrap();
    assert!(
        log.iter()
            .any(|e| matches!(e.event, RunEvent::StageExhausted { .. }))
    );
}

#[test]
fn rejecting_ends_the_run_and_unknown_ids_are_clear() {
    let (_tmp, engine) = setup();
    let id = start(&engine);
    let s = engine
        .submit(&id, &json!({"score": 0.1, "summary": "meh"}), None)
        .unwrap();
    let apr = s.approval.unwrap().approval_id;
    let d = engine
        .decide(&apr, DecisionKind::Reject, &human(None), Actor::Terminal)
        .unwrap();
    assert_eq!(d.run.end.as_deref(), Some("rejected"));
    assert_eq!(
        engine.status("run-nope").unwrap_err().code,
        FailureCode::UnknownRun
    );
    assert_eq!(
        engine
            .decide(
                "apr-nope",
                DecisionKind::Approve,
                &human(None),
                Actor::Terminal
            )
            .unwrap_err()
            .code,
        FailureCode::UnknownApproval
    );
    let err = engine
        .start(&StartRequest {
            task: "x".into(),
            workflow: Some("nope".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.code, FailureCode::UnknownWorkflow);
}

#[test]
fn budgets_refuse_with_what_is_left() {
    let (_tmp, engine) = setup();
    let id = start(&engine);
    let v = engine.charge_consults(&id, 2, "test").unwrap();
    assert_eq!(v.consults_left_visit, Some(0));
    assert_eq!(v.consults_left_run, Some(1));
    let err = engine.charge_consults(&id, 1, "test").unwrap_err();
    assert_eq!(err.code, FailureCode::BudgetExhausted);
    assert!(
        err.message.contains("0 left in this visit"),
        "{}",
        err.message
    );
    assert_eq!(engine.status(&id).unwrap().budget.consults_used, 2);
}

#[test]
fn a_reopened_engine_resumes_and_timeouts_apply() {
    let (tmp, engine) = setup();
    let id = start(&engine);
    let s = engine
        .submit(&id, &json!({"score": 0.9, "summary": "ok"}), None)
        .unwrap();
    let apr = s.approval.unwrap().approval_id;
    drop(engine);
    let engine = reopen(&tmp);
    let pending = engine.approvals(true).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].approval_id, apr);
    engine
        .decide(&apr, DecisionKind::Approve, &human(None), Actor::Terminal)
        .unwrap();
    engine.submit(&id, &json!({}), None).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // The 1 s gate of `b` times out and approves itself.
    let view = engine.status(&id).unwrap();
    assert_eq!(view.summary.end.as_deref(), Some("done"), "{view:?}");
}

#[test]
fn korean_runs_show_korean_questions() {
    let (_tmp, engine) = setup();
    let s = engine
        .start(&StartRequest {
            task: "고쳐 주세요".into(),
            workflow: Some("t".into()),
            lang: Some("ko".into()),
            ..Default::default()
        })
        .unwrap();
    let b = s.brief.unwrap();
    assert_eq!(b.title, "알파");
    assert_eq!(b.questions[0].text, "맞나요?");
    let err = engine
        .start(&StartRequest {
            task: "x".into(),
            workflow: Some("t".into()),
            lang: Some("fr".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.code, FailureCode::UnsupportedLang);
}

#[test]
fn a_broken_edit_keeps_the_last_good_workflow() {
    let (tmp, engine) = setup();
    let id = start(&engine);
    std::fs::write(
        tmp.path().join("home/workflows/t.kdl"),
        FLOW.replace("next \"done\"", "next \"nowhere\""),
    )
    .unwrap();
    let view = engine.status(&id).unwrap();
    assert!(
        view.workflow_problems
            .iter()
            .any(|p| p.rule == "unknown-stage"),
        "{:?}",
        view.workflow_problems
    );
    // The run keeps the version it started with.
    assert_eq!(engine.brief(&id).unwrap().stage, "a");
    // A good edit is the current version for new runs; the running run stays pinned until a
    // person moves it, after seeing what changed.
    std::fs::write(
        tmp.path().join("home/workflows/t.kdl"),
        FLOW.replace("title \"Alpha\"", "title \"Alpha two\"")
            .replace(
                "gate {\n            by \"human\"",
                "gate {\n            by \"any\"",
            ),
    )
    .unwrap();
    assert_eq!(engine.brief(&id).unwrap().title, "Alpha");
    let view = engine.status(&id).unwrap();
    assert!(view.workflow_problems.is_empty());
    assert!(view.newer_version.is_some());
    let fresh = start(&engine);
    assert_eq!(engine.brief(&fresh).unwrap().title, "Alpha two");
    let preview = engine.upgrade_preview(&id).unwrap();
    assert!(
        preview
            .changes
            .iter()
            .any(|c| c.contains("gate by `human`") && c.contains("gate by `any`")),
        "{:?}",
        preview.changes
    );
    let moved = engine.upgrade(&id, &preview.to).unwrap();
    assert_eq!(
        moved.run.workflow_version.as_deref(),
        Some(preview.to.as_str())
    );
    assert_eq!(engine.brief(&id).unwrap().title, "Alpha two");
    assert!(
        engine
            .log(&id)
            .unwrap()
            .iter()
            .any(|e| matches!(e.event, RunEvent::WorkflowUpgraded { .. }))
    );
    assert_eq!(
        engine.upgrade(&id, &preview.to).unwrap_err().code,
        FailureCode::UpToDate
    );
}

#[test]
fn an_edit_cannot_take_a_gate_away_or_approve_by_timeout() {
    let (tmp, engine) = setup();
    let id = start(&engine);
    // The gate is removed and a timeout that approves is added, while the run is in `a`.
    std::fs::write(
        tmp.path().join("home/workflows/t.kdl"),
        FLOW.replace(
            "gate {\n            by \"human\"",
            "gate {\n            by \"human\"\n            timeout \"1s\" on-timeout=\"approve\"",
        ),
    )
    .unwrap();
    let s = engine
        .submit(&id, &json!({"score": 0.9, "summary": "ok"}), None)
        .unwrap();
    assert_eq!(s.outcome, SubmitOutcome::AwaitingApproval);
    let apr = s.approval.unwrap();
    assert_eq!(apr.on_timeout, None, "the pinned gate has no timeout");
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let view = engine.status(&id).unwrap();
    assert_eq!(view.summary.status, RunStatus::Waiting);
    // Without the gate at all, a submit still waits for the person.
    std::fs::write(
        tmp.path().join("home/workflows/t.kdl"),
        FLOW.replace(
            "        gate {\n            by \"human\"\n            question \"q1\" priority=\"high\" {\n                text \"Right?\" ko=\"맞나요?\"\n                options \"yes\" \"no\"\n            }\n        }\n",
            "",
        ),
    )
    .unwrap();
    let other = start(&engine);
    assert_eq!(
        engine.brief(&other).unwrap().gate,
        None,
        "new runs get the edited file"
    );
    let err = engine
        .decide(
            &apr.approval_id,
            DecisionKind::Approve,
            &human(None),
            Actor::Model,
        )
        .unwrap_err();
    assert_eq!(err.code, FailureCode::HumanGate);
    assert_eq!(
        engine.status(&id).unwrap().summary.status,
        RunStatus::Waiting
    );
}

#[test]
fn guards_read_recorded_checks_not_claims() {
    let tmp = tempfile::tempdir().unwrap();
    let home_dir = tmp.path().join("home");
    std::fs::create_dir_all(home_dir.join("workflows")).unwrap();
    std::fs::write(
        home_dir.join("workflows/c.kdl"),
        r#"
workflow "c" {
    version 1
    start "work"
    stage "work" {
        max-visits 3
        next "done" when="checks.test.passed"
        next "work"
    }
    end "done"
}
"#,
    )
    .unwrap();
    let mut home = Home::builtin();
    home.push_front(home_dir, Origin::Explicit);
    let engine = Engine::open(home, &tmp.path().join("state.db")).unwrap();
    let id = engine
        .start(&StartRequest {
            task: "t".into(),
            workflow: Some("c".into()),
            ..Default::default()
        })
        .unwrap()
        .run
        .run_id;
    // The output claims success; no check ran: the run stays in `work`.
    let s = engine
        .submit(&id, &json!({"tests_passed": true}), None)
        .unwrap();
    assert_eq!(s.run.stage.as_deref(), Some("work"));
    assert_eq!(s.run.visit, 2);
    let result = |passed: bool| crate::workspace::verify::CheckResult {
        name: "test".into(),
        command: vec!["true".into()],
        status: if passed {
            crate::workspace::verify::CheckStatus::Passed
        } else {
            crate::workspace::verify::CheckStatus::Failed
        },
        reason: None,
        passed,
        exit_code: Some(i32::from(!passed)),
        timed_out: false,
        counts: None,
        duration_ms: 1,
        output: String::new(),
        source: crate::workspace::verify::CheckSource::default(),
    };
    // A check recorded for an earlier visit does not count.
    engine
        .record_check(Some(&id), &Some(("work".into(), 1)), &result(true))
        .unwrap();
    let s = engine.submit(&id, &json!({}), None).unwrap();
    assert_eq!((s.run.stage.as_deref(), s.run.visit), (Some("work"), 3));
    engine
        .record_check(Some(&id), &Some(("work".into(), 3)), &result(true))
        .unwrap();
    assert!(engine.status(&id).unwrap().checks["test"].passed);
    let s = engine.submit(&id, &json!({}), None).unwrap();
    assert_eq!(s.run.end.as_deref(), Some("done"));
}

#[test]
fn secrets_in_tasks_outputs_and_feedback_are_never_stored() {
    let (tmp, engine) = setup();
    let key = "sk-proj-abcDEF1234567890abcdef1234567890";
    let id = engine
        .start(&StartRequest {
            task: format!("deploy with {key}"),
            workflow: Some("t".into()),
            context: RunContext {
                facts: vec![format!("the key is {key}")],
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap()
        .run
        .run_id;
    let s = engine
        .submit(
            &id,
            &json!({"score": 0.1, "summary": format!("uses {key}")}),
            None,
        )
        .unwrap();
    engine
        .decide(
            &s.approval.unwrap().approval_id,
            DecisionKind::Revise,
            &human(Some(&format!("rotate {key}"))),
            Actor::Terminal,
        )
        .unwrap();
    let log = serde_json::to_string(&engine.log(&id).unwrap()).unwrap();
    assert!(!log.contains("abcDEF"), "{log}");
    assert!(
        !serde_json::to_string(&engine.status(&id).unwrap())
            .unwrap()
            .contains("abcDEF")
    );
    drop(engine);
    let mut bytes = std::fs::read(tmp.path().join("state.db")).unwrap();
    bytes.extend(std::fs::read(tmp.path().join("state.db-wal")).unwrap_or_default());
    assert!(!bytes.windows(6).any(|w| w == b"abcDEF"));
}

#[test]
fn a_stages_red_flags_refuse_outputs_through_the_one_engine() {
    let (tmp, engine) = setup();
    std::fs::write(
        tmp.path().join("home/workflows/t.kdl"),
        FLOW.replace(
            "        output \"out_a\"\n",
            "        output \"out_a\"\n        red-flags hedging=#true max-chars=400\n",
        ),
    )
    .unwrap();
    let id = start(&engine);
    let err = engine
        .submit(
            &id,
            &json!({"score": 0.9, "summary": "Perhaps the cache is stale"}),
            None,
        )
        .unwrap_err();
    assert_eq!(err.code, FailureCode::RedFlag);
    assert!(err.message.contains("hedges"), "{}", err.message);
    let err = engine
        .submit(
            &id,
            &json!({"score": 0.9, "summary": "x".repeat(500)}),
            None,
        )
        .unwrap_err();
    assert!(err.message.contains("more than 400"), "{}", err.message);
    // A diff that touches a secret file is refused by default.
    let err = engine
        .submit(
            &id,
            &json!({"score": 0.9, "summary": "--- a/.env\n+++ b/.env\n@@ -1 +1 @@\n-A=1\n+A=2\n"}),
            None,
        )
        .unwrap_err();
    assert!(err.message.contains(".env"), "{}", err.message);
    assert!(
        engine
            .submit(
                &id,
                &json!({"score": 0.9, "summary": "The cache is stale."}),
                None
            )
            .is_ok()
    );
    let m = engine.metrics(Some(&id)).unwrap();
    assert_eq!((m.red_flag_checked, m.red_flagged), (4, 3));
}
