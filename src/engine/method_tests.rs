//! The method's rules, held by the engine over the shipped `default` workflow and a real SQLite
//! file: consults by iteration, same error vs new error, the engine's own escalation, the
//! improve stage's working time, an all-fail selection, and lean briefs.

use std::sync::Arc;

use serde_json::{Value, json};

use super::test_support::{TYPE, ZERO, approve, engine, test_check};
use super::*;
use crate::engine::FailureCode;

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
                        "verification_test": "call with []", "confidence": 0.75},
                       {"id": "H2", "claim": "pending reviews are filtered out", "prediction": "two pending reviews fail too",
                        "verification_test": "a fixture with pending reviews", "confidence": 0.3}],
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
        "lessons": {"root_cause_category": "missing_validation", "title": "Averages over empty lists",
                    "date": "2026-11-24", "files": ["shop/ratings.py"], "cause": "no guard for []",
                    "fix": "return None for []",
                    "prevention_checklist": ["fixtures hold the empty case", "divisions by a count are guarded",
                                             "API nulls are tested end to end"],
                    "audit": []},
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
        assert_eq!(err.code, FailureCode::ConsultNotYet, "{}", err.message);
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
    assert_eq!(err.code, FailureCode::OutputInvalid, "{}", err.message);
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
    assert_eq!(err.code, FailureCode::BudgetExhausted);
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

/// The most characters a first-visit brief may hold, its packed context left out (that is
/// bounded by the stage's own `context chars=`).
const BRIEF_MAX: usize = 12_000;

/// The worked example's outputs, as full as a careful model writes them (the next stages'
/// roles carry them), for every stage name of the built-in workflows.
fn worked(stage: &str) -> Option<Value> {
    Some(match stage {
        "analyze" => json!({
            "observations": [
                {"fact": "average_rating raises ZeroDivisionError: division by zero for a product with no reviews",
                 "source": "pytest tests/test_ratings.py", "line_number": 42, "certainty": "high"},
                {"fact": "the failing fixture is a product created today, reviews == []",
                 "source": "tests/test_ratings.py", "line_number": 18, "certainty": "high"},
                {"fact": "the API documents the average as null until the first review",
                 "source": "docs/api.md", "certainty": "high"}
            ],
            "constraints": ["the API returns JSON null, not 0, for an unrated product",
                            "product_card() and search_rank() also call average_rating"],
            "unknowns": ["does search_rank accept None?", "are pending reviews filtered out before the call?"],
            "repro_steps": ["pytest tests/test_ratings.py::test_average_rating_no_reviews"],
            "affected_modules": ["shop/ratings.py", "shop/search.py"],
            "risks": ["two callers are not read yet: a fix may break them"],
            "confidence": 0.7,
            "summary": "average_rating divides by the review count, which is zero for a new product."
        }),
        "hypothesize" => json!({
            "hypotheses": [
                {"id": "H1", "claim": "average_rating has no guard for an empty review list",
                 "prediction": "calling it with [] raises ZeroDivisionError at line 42",
                 "verification_test": "pytest tests/test_ratings.py -k no_reviews", "confidence": 0.75,
                 "counter_evidence": "none seen", "provider": "codex"},
                {"id": "H2", "claim": "only approved reviews are passed in, so all-pending products fail too",
                 "prediction": "a product with two pending reviews raises the same error",
                 "verification_test": "a fixture with two pending reviews", "confidence": 0.55, "provider": "gemini"},
                {"id": "H3", "claim": "a stale cache returns [] for new products",
                 "prediction": "clearing the cache makes the error go away",
                 "verification_test": "none cheap", "confidence": 0.3, "provider": "claude"}
            ],
            "selected": "H1",
            "selection_reason": "testable in a second and it names the line; H2 fits with it and becomes an edge case",
            "verification_plan": {"test_command": "pytest tests/test_ratings.py::test_average_rating_no_reviews",
                                  "expected_result": "ZeroDivisionError before the fix, a pass after it",
                                  "timeout_seconds": 60},
            "ensemble_used": true,
            "risks": ["H3 cannot be refuted cheaply"],
            "confidence": 0.75,
            "summary": "Three hypotheses; H1, the missing guard, is tested first."
        }),
        "implement" => json!({
            "changes": [{"file": "shop/ratings.py",
                         "diff": "@@ -40,3 +40,5 @@ def average_rating(reviews):\n+    if not reviews:\n+        return None\n     total = sum(r.stars for r in reviews)\n     return total / len(reviews)\n",
                         "description": "return None when a product has no reviews", "lines_changed": 2}],
            "prediction": "test_average_rating_no_reviews passes; the rest stay green",
            "test_result": {"command": "pytest -x", "passed": false, "exit_code": 1},
            "lint_result": {"passed": true, "warnings": 0, "errors": 0},
            "next_action": "proceed_to_debug",
            "rollback_command": "git checkout -- shop/ratings.py",
            "risks": ["search ranking now meets None"],
            "confidence": 0.6,
            "summary": "The guard works; search ranking now fails on None, a new error."
        }),
        "debug" => json!({
            "iteration": 1,
            "error_analysis": {"error_type": "TypeError", "is_new_error": true, "is_related_to_change": true,
                               "root_cause_theory": "average_rating now returns None and search_rank sorts by it"},
            "change": {"file": "shop/search.py", "diff": "@@ -88 +88 @@\n-    key=lambda p: p.average_rating\n+    key=lambda p: p.average_rating or 0.0\n",
                       "description": "rank unrated products last", "lines_changed": 1},
            "test_result": {"command": "pytest -x", "passed": true, "output_summary": "46 passed",
                            "compared_to_previous": "passed"},
            "hypothesis_update": {"original_hypothesis": "H1", "still_valid": true, "new_confidence": 0.85,
                                  "evidence": "the new error is H1's expected consequence"},
            "next_action": "resolved",
            "iterations_remaining": 4,
            "risks": ["unrated products now rank last: the person should confirm the order"],
            "confidence": 0.85,
            "summary": "One line in search_rank; the suite passes."
        }),
        "improve" => json!({
            "summary": {"root_cause": "average_rating divided by the review count without checking for zero",
                        "fix_description": "return None for unrated products and rank them last",
                        "files_modified": ["shop/ratings.py", "shop/search.py"], "total_lines_changed": 3},
            "regression_tests": [
                {"test_name": "test_average_rating_no_reviews", "description": "[] gives None", "test_file": "tests/test_ratings.py"},
                {"test_name": "test_search_rank_with_unrated_product", "description": "None sorts last", "test_file": "tests/test_search.py"}
            ],
            "edge_cases_identified": [
                {"case": "only pending reviews", "test_added": true, "risk_level": "medium"},
                {"case": "a rating of exactly 0", "test_added": false, "risk_level": "low"}
            ],
            "code_quality": {"lint_clean": true, "complexity_acceptable": true},
            "lessons": {"root_cause_category": "missing_validation", "title": "Averages over empty lists",
                        "date": "2026-11-24", "files": ["shop/ratings.py", "shop/search.py"],
                        "cause": "every fixture had at least one review, so the empty case was never run",
                        "fix": "return None for [] and rank None last",
                        "prevention_checklist": ["fixtures include the empty case", "divisions by a count are guarded",
                                                 "API nulls are tested end to end"],
                        "audit": [{"location": "shop/ratings.py:median_rating", "reason": "divides by a count"},
                                  {"location": "shop/stats.py:seller_score", "reason": "divides by a count"}]},
            "status": "complete",
            "termination_reason": "covered_by_tests",
            "risks": [],
            "confidence": 0.9
        }),
        "review" => json!({
            "reviewed": "staged",
            "findings": [
                {"id": "F1", "severity": "high", "file": "templates/product.html", "line": 12,
                 "claim": "the product page formats the average and crashes on None",
                 "evidence": "round(avg, 1) with avg None raises TypeError", "raised_by": "against/codex",
                 "agreed_by": 2, "recommendation": "show 'no ratings yet' for None"}
            ],
            "positions": {"agree": ["claude (for)"], "disagree": ["codex (against)"], "mixed": [],
                          "summary": "codex sees None reach the template"},
            "judge": {"provider": "claude", "selected": "F1", "ranking": ["F1"], "scores": {"F1": 0.8},
                      "reason": "F1 breaks a page, and the evidence shows it"},
            "actions": [{"findings": ["F1"], "action": "guard the average in the product template", "suggested": "now"}],
            "summary": "The change fixes the division but lets None reach the product page.",
            "confidence": 0.7
        }),
        "ask" => {
            json!({"answer": "codex agrees the guard belongs in average_rating", "summary": "a second opinion"})
        }
        _ => return None,
    })
}

/// Every first-visit brief of every built-in workflow, in English and Korean, after the
/// worked example's outputs: the worked example is shown and the whole stays lean.
#[test]
fn first_visit_briefs_of_every_built_in_workflow_stay_under_twelve_thousand_characters() {
    let (_tmp, engine) = engine();
    let workflows = Home::builtin().names(crate::home::Kind::Workflow);
    assert!(workflows.len() >= 4, "{workflows:?}");
    for workflow in &workflows {
        for lang in ["en", "ko"] {
            let id = super::test_support::start(&engine, workflow, Some(lang));
            let mut seen = Vec::new();
            while let Some(stage) = engine.status(&id).unwrap().summary.stage {
                if seen.contains(&stage) {
                    break;
                }
                seen.push(stage.clone());
                let brief = engine.brief(&id).unwrap();
                assert_eq!(brief.visit, 1);
                assert!(brief.context.is_empty(), "measured without packed context");
                let size = serde_json::to_string(&brief).unwrap().chars().count();
                eprintln!("{workflow} {lang} {stage}: {size} characters");
                assert!(
                    size <= BRIEF_MAX,
                    "{workflow} {lang} {stage}: {size} characters"
                );
                assert!(
                    !brief.role.contains("\"$schema\""),
                    "the schema is carried once, as output_schema"
                );
                let output = worked(&stage).unwrap_or_else(|| {
                    panic!("no worked output for stage `{stage}` of `{workflow}`: add one")
                });
                match stage.as_str() {
                    "analyze" => test_check(&engine, &id, Some(ZERO)),
                    "implement" => test_check(&engine, &id, Some(TYPE)),
                    "debug" => test_check(&engine, &id, None),
                    _ => {}
                }
                if let Some(gate) = engine.submit(&id, &output, None).unwrap().approval {
                    approve(&engine, &gate.approval_id, &[], "fine");
                }
            }
            if workflow == "default" {
                assert_eq!(
                    seen,
                    ["analyze", "hypothesize", "implement", "debug", "improve"],
                    "every stage of `default` was visited"
                );
            }
        }
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

/// Submits `n` outputs the stage's schema refuses.
fn refuse(engine: &Engine, id: &str, n: u32) {
    for _ in 0..n {
        let err = engine
            .submit(id, &json!({"confidence": 7}), None)
            .unwrap_err();
        assert_eq!(err.code, FailureCode::OutputInvalid, "{}", err.message);
    }
}

fn degraded_events(engine: &Engine, id: &str) -> Vec<RunEvent> {
    engine
        .log(id)
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.event, RunEvent::Degraded { .. }))
        .map(|e| e.event)
        .collect()
}

#[test]
#[allow(
    clippy::float_cmp,
    reason = "the event carries the degraded mode's constant factors, copied: exact"
)]
fn three_refused_outputs_put_the_run_in_degraded_mode_for_the_rest_of_it() {
    use crate::quality::coordinate::Trigger;
    use std::time::Duration;
    let (_tmp, engine) = engine();
    let id = start(&engine, None);
    assert_eq!(
        engine.stage_limits(Some(&id), None).unwrap().chars,
        Some(50_000)
    );
    for n in 1..=4 {
        refuse(&engine, &id, 1);
        let brief = engine.brief(&id).unwrap();
        assert_eq!(
            brief.degraded.is_some(),
            n >= 3,
            "after {n} refused outputs"
        );
    }
    let events = degraded_events(&engine, &id);
    assert_eq!(events.len(), 1, "recorded once: {events:?}");
    assert!(
        matches!(
            &events[0],
            RunEvent::Degraded { stage: Some(s), triggers, refused_answers: 3, context_factor, timeout_factor, .. }
                if s == "analyze" && triggers == &[Trigger::FormatErrors]
                    && *context_factor == 0.7 && *timeout_factor == 1.5
        ),
        "{events:?}"
    );
    // Context × 0.7, for briefs, consults and the `context` tool alike.
    assert_eq!(
        engine.stage_limits(Some(&id), None).unwrap().chars,
        Some(35_000)
    );
    assert_eq!(
        engine.consult_memory(&id).unwrap().limits.chars,
        Some(35_000)
    );
    let note = engine.brief(&id).unwrap().degraded.unwrap().note;
    for words in [
        "Degraded mode (3 refused outputs)",
        "70%",
        "1.5×",
        "one provider",
    ] {
        assert!(note.contains(words), "{words}: {note}");
    }
    // The next consult's ticket gives its provider 1.5 times the configured timeout.
    let payer = engine.payer(Some(&id), None, None).unwrap();
    let (tickets, _) = engine.pay(&payer, 1, "consult").unwrap();
    assert_eq!(
        tickets[0].timeout(Duration::from_secs(600)),
        Duration::from_secs(900)
    );
    // The mode outlives the stage: hypothesize allows ensembles, this run does not.
    assert_eq!(
        pass(&engine, &id, &analysis()).0.as_deref(),
        Some("hypothesize")
    );
    let brief = engine.brief(&id).unwrap();
    assert!(!brief.ensemble && brief.degraded.is_some());
    assert_eq!(
        engine.stage_limits(Some(&id), None).unwrap().chars,
        Some(21_000)
    );
    refuse(&engine, &id, 1);
    assert_eq!(
        degraded_events(&engine, &id).len(),
        1,
        "never recorded twice"
    );
    // A run that never strained keeps its limits and timeouts; a Korean run reads Korean.
    let calm = start(&engine, Some("ko"));
    refuse(&engine, &calm, 2);
    assert!(engine.brief(&calm).unwrap().degraded.is_none());
    let payer = engine.payer(Some(&calm), None, None).unwrap();
    let (tickets, _) = engine.pay(&payer, 1, "consult").unwrap();
    assert_eq!(
        tickets[0].timeout(Duration::from_secs(600)),
        Duration::from_secs(600)
    );
    refuse(&engine, &calm, 1);
    let note = engine.brief(&calm).unwrap().degraded.unwrap().note;
    assert!(note.starts_with("저하 모드(거부된 출력 3회)"), "{note}");
}

#[test]
fn two_visits_over_the_overhead_cap_put_the_run_in_degraded_mode() {
    use crate::quality::coordinate::Trigger;
    let (_tmp, engine) = engine();
    let id = start(&engine, None);
    pass(&engine, &id, &analysis());
    // hypothesize allows 3 consults a visit; the default preset's cap is 2.5.
    engine.charge_consults(&id, 2, "ensemble").unwrap();
    engine.charge_consults(&id, 1, "consult").unwrap();
    assert_eq!(engine.strain(&id).unwrap().overhead_violations, 1);
    assert!(degraded_events(&engine, &id).is_empty());
    let s = engine.submit(&id, &hypotheses(), None).unwrap();
    engine
        .decide(
            &s.approval.unwrap().approval_id,
            DecisionKind::Revise,
            &DecisionText {
                feedback: Some("test H2 first".into()),
                answers: std::collections::BTreeMap::new(),
            },
            Actor::Terminal,
        )
        .unwrap();
    assert_eq!(stage_of(&engine, &id), ("hypothesize".into(), 2));
    engine.charge_consults(&id, 3, "ensemble").unwrap();
    let events = degraded_events(&engine, &id);
    assert!(
        matches!(&events[..], [RunEvent::Degraded { triggers, overhead_violations: 2, .. }]
            if triggers == &[Trigger::OverheadViolations]),
        "{events:?}"
    );
    let d = engine.brief(&id).unwrap().degraded.unwrap();
    assert!(
        d.note.contains("2 visits over the coordination cost cap"),
        "{}",
        d.note
    );
}

/// Providers that are real processes: `slow` answers after 2.6 s, past its 2 s timeout unless
/// the run is degraded (× 1.5 = 3 s); `quick` and `brisk` answer at once.
fn slow_and_quick() -> (tempfile::TempDir, Arc<crate::providers::ProviderSet>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("conf")).unwrap();
    let cli = |script: &str| {
        format!(
            "    kind: cli\n    command: [/bin/sh, -c, \"{script}\"]\n    model: m\n    parser: text\n    timeout: 2s\n    retries: 0\n    env:\n      pass: [PATH]\n"
        )
    };
    let yaml = format!(
        "providers:\n  slow:\n{}  quick:\n{}  brisk:\n{}",
        cli("sleep 2.6; echo slow answer"),
        cli("echo quick answer"),
        cli("echo brisk answer")
    );
    std::fs::write(dir.path().join("conf/providers.yaml"), yaml).unwrap();
    let mut home = Home::builtin();
    home.push_front(dir.path().to_path_buf(), crate::home::Origin::Explicit);
    let set = crate::providers::ProviderSet::load(&home);
    assert_eq!(
        set.enabled(),
        ["slow", "quick", "brisk"],
        "{:?}",
        set.problems_of("slow")
    );
    (dir, Arc::new(set))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_degraded_run_waits_longer_for_a_provider_and_asks_one_at_a_time() {
    use crate::consult::{Ask, EnsembleAsk};
    let (_tmp, engine) = engine();
    let engine = Arc::new(engine);
    let (_conf, set) = slow_and_quick();
    let cancel = tokio_util::sync::CancellationToken::new();
    let ask = |run: &str| Ask {
        prompt: "is the guard in the right place?".into(),
        provider: Some("slow".into()),
        run_id: Some(run.to_string()),
        ..Ask::default()
    };
    let calm = start(&engine, None);
    let err = crate::consult::consult(Some(&engine), set.clone(), ask(&calm), &cancel)
        .await
        .unwrap_err();
    assert!(err.message.contains("timeout"), "{}", err.message);
    let strained = start(&engine, None);
    refuse(&engine, &strained, 3);
    let answer = crate::consult::consult(Some(&engine), set.clone(), ask(&strained), &cancel)
        .await
        .unwrap();
    assert_eq!(answer.reply.answer.text.trim(), "slow answer");
    // In hypothesize, which fans out, the degraded run asks one provider and pays for one.
    pass(&engine, &strained, &analysis());
    let used = engine.brief(&strained).unwrap().budget.consults_used;
    let out = crate::consult::ensemble(
        Some(&engine),
        set,
        EnsembleAsk {
            prompt: "what else could cause it?".into(),
            providers: vec!["quick".into(), "brisk".into()],
            run_id: Some(strained.clone()),
            ..EnsembleAsk::default()
        },
        &cancel,
        &|_, _, _| {},
    )
    .await
    .unwrap();
    assert_eq!(out.answers.len(), 1, "{out:?}");
    let why = out.reduced.unwrap_or_default();
    assert!(
        why.contains("Degraded mode") && why.contains("One provider was asked"),
        "{why}"
    );
    assert_eq!(
        engine.brief(&strained).unwrap().budget.consults_used,
        used + 1
    );
}
