//! The method's rules, held by the engine over the shipped `default` workflow and a real SQLite
//! file: consults by iteration, same error vs new error, the engine's own escalation, the
//! improve stage's working time, an all-fail selection, and lean briefs.

use serde_json::{Value, json};

use super::test_support::{TYPE, ZERO, approve, engine, test_check};
use super::*;

fn start(engine: &Engine, lang: Option<&str>) -> String {
    super::test_support::start(engine, "default", lang)
}

fn analysis() -> Value {
    json!({
        "observations": [{"fact": "ZeroDivisionError at shop/ratings.py:42", "source": "pytest"}],
        "constraints": [], "unknowns": [], "repro_steps": ["pytest tests/test_ratings.py"],
        "confidence": 0.8
    })
}

fn hypotheses() -> Value {
    json!({
        "hypotheses": [{"id": "H1", "claim": "no guard for an empty list", "prediction": "[] fails",
                        "verification_test": "call with []", "confidence": 0.75}],
        "selected": "H1",
        "verification_plan": {"test_command": "pytest -x", "expected_result": "passes"}
    })
}

fn implementation(next: &str) -> Value {
    json!({"changes": [], "test_result": {"command": "pytest -x", "passed": next == "proceed_to_improve"},
           "next_action": next})
}

fn debugging(iteration: u32, next: &str) -> Value {
    json!({
        "iteration": iteration,
        "error_analysis": {"error_type": "TypeError", "is_new_error": true},
        "change": {"file": "shop/search.py", "diff": "-a\n+b"},
        "test_result": {"command": "pytest -x", "passed": next == "resolved"},
        "next_action": next
    })
}

fn improvement(status: &str) -> Value {
    json!({
        "summary": {"root_cause": "no guard", "fix_description": "return None for []"},
        "regression_tests": [{"test_name": "test_empty", "description": "[] gives None"}],
        "lessons": {"root_cause_category": "missing_validation"},
        "status": status
    })
}

/// Submits `output` in the run's current stage and approves it as a person; returns where
/// the run went.
fn pass(engine: &Engine, id: &str, output: &Value) -> (Option<String>, Option<String>) {
    let s = engine.submit(id, output, None).unwrap();
    let gate = s.approval.expect("every stage of `default` is gated");
    approve(engine, &gate.approval_id, &[], "fine")
}

/// A run in `implement`, its first visit, with the original failure recorded in `analyze`.
fn at_implement(engine: &Engine) -> String {
    let id = start(engine, None);
    test_check(engine, &id, Some(ZERO));
    assert_eq!(
        pass(engine, &id, &analysis()).0.as_deref(),
        Some("hypothesize")
    );
    assert_eq!(
        pass(engine, &id, &hypotheses()).0.as_deref(),
        Some("implement")
    );
    id
}

fn stage_of(engine: &Engine, id: &str) -> (String, u32) {
    let s = engine.status(id).unwrap();
    (s.summary.stage.unwrap_or_default(), s.summary.visit)
}

#[test]
fn the_same_error_goes_back_to_the_hypotheses_and_a_new_one_to_debug() {
    let (_tmp, engine) = engine();
    let id = at_implement(&engine);
    // The change left the original failure as it was (on another line, in another time).
    test_check(&engine, &id, Some(ZERO));
    let (stage, _) = pass(&engine, &id, &implementation("proceed_to_debug"));
    assert_eq!(
        stage.as_deref(),
        Some("hypothesize"),
        "the same error means the hypothesis is probably wrong"
    );
    assert_eq!(
        pass(&engine, &id, &hypotheses()).0.as_deref(),
        Some("implement")
    );
    // This time the change moved the failure: a new error is the debug loop's.
    test_check(&engine, &id, Some(TYPE));
    assert_eq!(
        pass(&engine, &id, &implementation("proceed_to_debug"))
            .0
            .as_deref(),
        Some("debug")
    );
    let status = engine.status(&id).unwrap();
    assert!(
        status.checks.is_empty(),
        "a new visit starts without checks"
    );
}

#[test]
fn debug_consults_wait_for_the_third_iteration_and_a_repeated_failure_escalates() {
    let (_tmp, engine) = engine();
    let id = at_implement(&engine);
    assert_eq!(
        pass(&engine, &id, &implementation("proceed_to_debug"))
            .0
            .as_deref(),
        Some("debug")
    );
    for iteration in 1..=2 {
        assert_eq!(stage_of(&engine, &id), ("debug".into(), iteration));
        let brief = engine.brief(&id).unwrap();
        assert_eq!(brief.budget.consults_left_visit, Some(0));
        let err = engine.charge_consults(&id, 1, "consult").unwrap_err();
        assert_eq!(err.code, "consult_not_yet", "{}", err.message);
        assert!(err.message.contains("from visit 3"), "{}", err.message);
        test_check(&engine, &id, Some(TYPE));
        pass(&engine, &id, &debugging(iteration, "continue_debug"));
    }
    assert_eq!(stage_of(&engine, &id), ("debug".into(), 3));
    let v = engine.charge_consults(&id, 1, "consult").unwrap();
    assert_eq!(v.consults_left_visit, Some(0), "one consult in the third");
    assert_eq!(v.consults_used, 1);
    test_check(&engine, &id, Some(TYPE));
    assert_eq!(engine.status(&id).unwrap().checks["test"].repeats, 3);
    pass(&engine, &id, &debugging(3, "continue_debug"));
    // The first record found the error; three attempts since left it as it was: the engine
    // escalates, whatever the output asks for.
    assert_eq!(stage_of(&engine, &id), ("debug".into(), 4));
    test_check(&engine, &id, Some(TYPE));
    assert_eq!(engine.status(&id).unwrap().checks["test"].repeats, 4);
    let (stage, end) = pass(&engine, &id, &debugging(4, "continue_debug"));
    assert_eq!((stage, end.as_deref()), (None, Some("escalated")));
}

#[test]
fn wrong_facts_send_the_debug_loop_back_to_the_analysis() {
    let (_tmp, engine) = engine();
    let id = at_implement(&engine);
    pass(&engine, &id, &implementation("proceed_to_debug"));
    let (stage, _) = pass(&engine, &id, &debugging(1, "re_analyze"));
    assert_eq!(stage.as_deref(), Some("analyze"));
    assert_eq!(stage_of(&engine, &id), ("analyze".into(), 2));
}

#[test]
fn an_escalation_trigger_in_the_output_ends_at_the_person() {
    let (_tmp, engine) = engine();
    let id = at_implement(&engine);
    pass(&engine, &id, &implementation("proceed_to_debug"));
    // The schema insists that an escalation names its trigger.
    let err = engine
        .submit(&id, &debugging(1, "escalate"), None)
        .unwrap_err();
    assert_eq!(err.code, "output_invalid", "{}", err.message);
    let mut out = debugging(1, "escalate");
    out["escalation"] = json!("external_dependency");
    let (_, end) = pass(&engine, &id, &out);
    assert_eq!(end.as_deref(), Some("escalated"));
}

#[test]
fn when_every_candidate_fails_its_tests_nothing_is_selected_and_the_run_rethinks() {
    use crate::quality::select::{self, Candidate, Mode, Signals};
    let (_tmp, engine) = engine();
    let id = at_implement(&engine);
    let candidates: Vec<Candidate> = ["C1", "C2"]
        .iter()
        .map(|c| Candidate {
            id: (*c).into(),
            content: format!("diff of {c}"),
            provider: None,
        })
        .collect();
    let signals = Signals {
        tests: [("C1".to_string(), false), ("C2".to_string(), false)].into(),
        ..Signals::default()
    };
    let s = select::select(
        &candidates,
        Mode::TestsFirst,
        &signals,
        &select::candidate_rules(),
    );
    assert_eq!(s.winner, None);
    assert!(
        s.none_passed && s.rationale.starts_with("none passed"),
        "{s:?}"
    );
    engine.record_selection(Some(&id), &s).unwrap();
    let (stage, _) = pass(&engine, &id, &implementation("proceed_to_debug"));
    assert_eq!(stage.as_deref(), Some("hypothesize"));
}

#[test]
fn improve_stops_when_its_working_time_is_spent() {
    let (_tmp, engine) = engine();
    let id = at_implement(&engine);
    test_check(&engine, &id, None);
    assert_eq!(
        pass(&engine, &id, &implementation("proceed_to_improve"))
            .0
            .as_deref(),
        Some("improve")
    );
    // A quick round loops as the output asks.
    assert_eq!(
        pass(&engine, &id, &improvement("needs_review"))
            .0
            .as_deref(),
        Some("improve")
    );
    let left = engine.brief(&id).unwrap().budget.stage_secs_left.unwrap();
    assert!(left > 29 * 60, "{left}");
    // Thirty-one minutes into the second round.
    engine
        .mutate(&id, |_, _, run, _| {
            run.stage_entered_at -= 31 * 60 * 1000;
            Ok(())
        })
        .unwrap();
    assert_eq!(engine.brief(&id).unwrap().budget.stage_secs_left, Some(0));
    let err = engine.charge_consults(&id, 1, "consult").unwrap_err();
    assert_eq!(err.code, "budget_exhausted");
    assert!(err.message.contains("working time"), "{}", err.message);
    // The work of this round is still submitted and approved; the loop does not go on.
    let (stage, end) = pass(&engine, &id, &improvement("needs_review"));
    assert_eq!((stage, end.as_deref()), (None, Some("complete")));
    let log = engine.log(&id).unwrap();
    assert!(log.iter().any(|e| matches!(
        &e.event,
        RunEvent::StageOvertime { stage, wall_secs: 1800, .. } if stage == "improve"
    )));
}

#[test]
fn first_visit_briefs_carry_the_worked_example_and_stay_under_twelve_thousand_characters() {
    let (_tmp, engine) = engine();
    for lang in ["en", "ko"] {
        let id = start(&engine, Some(lang));
        let outputs = [
            analysis(),
            hypotheses(),
            implementation("proceed_to_debug"),
            debugging(1, "resolved"),
        ];
        for (i, out) in outputs.iter().enumerate() {
            let brief = engine.brief(&id).unwrap();
            let size = serde_json::to_string(&brief).unwrap().chars().count();
            eprintln!(
                "{lang} {} first-visit brief: {size} characters",
                brief.stage
            );
            assert!(size <= 12_000, "{lang} {}: {size} characters", brief.stage);
            assert!(
                !brief.role.contains("\"$schema\""),
                "the schema is carried once, as output_schema"
            );
            if i == 2 {
                test_check(&engine, &id, Some(TYPE));
            }
            if i == 3 {
                test_check(&engine, &id, None);
            }
            pass(&engine, &id, out);
        }
        let brief = engine.brief(&id).unwrap();
        assert_eq!(brief.stage, "improve");
        let size = serde_json::to_string(&brief).unwrap().chars().count();
        eprintln!("{lang} improve first-visit brief: {size} characters");
        assert!(size <= 12_000, "{lang} improve: {size} characters");
    }
}

#[test]
fn the_worked_example_is_shown_on_the_first_visit_only_and_in_the_runs_language() {
    let (_tmp, engine) = engine();
    let id = start(&engine, None);
    let first = engine.brief(&id).unwrap().skill;
    let s = engine
        .submit(
            &id,
            &json!({"observations": [{"fact": "f", "source": "s"}], "constraints": [],
                             "unknowns": [], "repro_steps": [], "confidence": 0.3}),
            None,
        )
        .unwrap();
    approve(&engine, &s.approval.unwrap().approval_id, &[], "fine");
    assert_eq!(stage_of(&engine, &id), ("analyze".into(), 2));
    let second = engine.brief(&id).unwrap().skill;
    assert!(
        second.len() < first.len(),
        "the example is dropped after visit 1"
    );
    assert!(first.starts_with(&second), "the method itself stays whole");
    assert!(!first.contains(super::brief::FIRST_VISIT_MARKER));
    let ko = start(&engine, Some("ko"));
    let skill = engine.brief(&ko).unwrap().skill;
    assert!(
        skill.chars().any(|c| ('가'..='힣').contains(&c)),
        "a Korean run reads the Korean skill"
    );
}
