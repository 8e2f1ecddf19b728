//! What the engine's run-level tests share: a state file of their own, a run of a shipped
//! workflow, a recorded `test` check, and a person's approval that answers the critical
//! questions (the engine refuses one that does not).

use std::collections::BTreeMap;

use super::*;
use crate::workflow::Priority;
use crate::workspace::verify::{CheckResult, CheckStatus};

pub(super) const ZERO: &str = "ZeroDivisionError: division by zero";
pub(super) const TYPE: &str =
    "TypeError: '<' not supported between instances of 'NoneType' and 'float'";

pub(super) fn engine() -> (tempfile::TempDir, Engine) {
    let tmp = tempfile::tempdir().unwrap();
    let engine = Engine::open(Home::builtin(), &tmp.path().join("state.db")).unwrap();
    (tmp, engine)
}

/// Starts a run of a shipped `workflow` on the worked example's task.
pub(super) fn start(engine: &Engine, workflow: &str, lang: Option<&str>) -> String {
    engine
        .start(&StartRequest {
            task: "average_rating raises ZeroDivisionError for a product with no reviews".into(),
            workflow: Some(workflow.into()),
            lang: lang.map(str::to_string),
            ..Default::default()
        })
        .unwrap()
        .run
        .run_id
}

/// Records a `test` check for the run's current visit, as `verify` does.
pub(super) fn test_check(engine: &Engine, id: &str, failure: Option<&str>) {
    let status = engine.status(id).unwrap();
    let at = Some((status.summary.stage.clone().unwrap(), status.summary.visit));
    let r = CheckResult {
        name: "test".into(),
        command: vec!["pytest".into(), "-x".into()],
        status: if failure.is_none() {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        },
        reason: None,
        passed: failure.is_none(),
        exit_code: Some(i32::from(failure.is_some())),
        timed_out: false,
        counts: None,
        duration_ms: 420,
        output: failure.map_or_else(String::new, |f| {
            format!("collected 5 items\nE   {f}\n===== 1 failed, 4 passed in 0.42s =====")
        }),
        source: crate::workspace::verify::CheckSource::default(),
    };
    engine.record_check(Some(id), &at, &r).unwrap();
}

/// Approves at a terminal, answering every critical question: the answer `special` names,
/// else the first option, else `words`. Returns where the run went (stage, end).
pub(super) fn approve(
    engine: &Engine,
    approval: &str,
    special: &[(&str, &str)],
    words: &str,
) -> (Option<String>, Option<String>) {
    let answers: BTreeMap<String, String> = engine
        .approval(approval)
        .unwrap()
        .questions
        .iter()
        .filter(|q| q.priority == Priority::Critical)
        .map(|q| {
            let answer = special
                .iter()
                .find(|(id, _)| *id == q.id)
                .map(|(_, a)| (*a).to_string())
                .or_else(|| q.options.first().cloned())
                .unwrap_or_else(|| words.into());
            (q.id.clone(), answer)
        })
        .collect();
    let d = engine
        .decide(
            approval,
            DecisionKind::Approve,
            &DecisionText {
                feedback: None,
                answers,
            },
            Actor::Terminal,
        )
        .unwrap();
    (d.run.stage.clone(), d.run.end.clone())
}
