//! The stage reports of the shipped workflows, as the person at each gate reads them: a real
//! run of `default` (and of `review`) over a real SQLite file, in English and in Korean, each
//! gate's report rendered by the engine from the stage's own template. Where a case would take
//! a long run to reach, the template is rendered directly with a context of the same shape.

use serde_json::{Value, json};

use super::test_support::{TYPE, ZERO, engine, test_check};
use super::*;

/// A run of a shipped workflow in `lang`.
fn start(engine: &Engine, workflow: &str, lang: &str) -> String {
    super::test_support::start(engine, workflow, Some(lang))
}

/// Approves, answering critical questions (`special` first) with words that raise no flag.
fn approve(
    engine: &Engine,
    approval: &str,
    special: &[(&str, &str)],
) -> (Option<String>, Option<String>) {
    super::test_support::approve(engine, approval, special, "Nothing to add")
}

/// What `report::render` writes when a template fails: a template that reads a missing key in
/// strict mode lands here.
const FALLBACK: &str = "could not be rendered";

/// Submits `output` in the run's current stage; returns the gate's approval id.
fn submit(engine: &Engine, id: &str, output: &Value) -> String {
    engine
        .submit(id, output, None)
        .unwrap()
        .approval
        .expect("every stage of the shipped workflows is gated")
        .approval_id
}

/// The report of `approval` as Markdown, checked for what every report must hold: its own
/// template rendered (no fallback), no runs of blank lines, metrics last.
fn markdown(engine: &Engine, approval: &str) -> String {
    let md = engine.report(approval).unwrap().markdown;
    well_formed(&md);
    md
}

fn well_formed(md: &str) {
    assert!(!md.contains(FALLBACK), "the template failed:\n{md}");
    assert!(!md.contains("\n\n\n"), "a run of blank lines:\n{md}");
    assert!(md.starts_with("## "), "the header comes first:\n{md}");
    let last = md.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Time in stage") || last.starts_with("단계에서 보낸 시간"),
        "the metrics come last:\n{md}"
    );
    // Header, then the summary, before any other section.
    let summary = md.find("**Summary.**").or_else(|| md.find("**요약.**"));
    let first_section = md.find("\n### ");
    assert!(
        summary.is_some() && summary < first_section,
        "the summary follows the header:\n{md}"
    );
}

/// Prints a report for a person to read with `--nocapture`.
fn show(title: &str, md: &str) {
    eprintln!("----- {title} -----\n{md}");
}

fn analysis() -> Value {
    json!({
        "observations": [
            {"fact": "average_rating raises ZeroDivisionError for a product with no reviews",
             "source": "shop/ratings.py", "line_number": 42, "certainty": "high"},
            {"fact": "the product in the failing test has an empty review list",
             "source": "tests/test_ratings.py", "line_number": 18, "certainty": "high"},
            {"fact": "search ranking sorts products by average_rating", "source": "shop/search.py",
             "certainty": "medium"}
        ],
        "constraints": ["average_rating keeps returning a float for rated products"],
        "unknowns": ["should an unrated product show no rating or 0.0?"],
        "repro_steps": ["pytest tests/test_ratings.py -k empty"],
        "affected_modules": ["shop/ratings.py", "shop/search.py", "tests/test_ratings.py",
                             "templates/product.html"],
        "confidence": 0.8,
        "summary": "average_rating divides by the review count, which is zero for a new product."
    })
}

fn hypotheses() -> Value {
    json!({
        "hypotheses": [
            {"id": "H1", "claim": "average_rating has no guard for an empty review list",
             "prediction": "calling it with [] raises ZeroDivisionError",
             "verification_test": "pytest tests/test_ratings.py -k empty", "confidence": 0.75},
            {"id": "H2", "claim": "the review count is cached and stale",
             "prediction": "a fresh product with one review also fails",
             "verification_test": "add one review, call again", "confidence": 0.3},
            {"id": "H3", "claim": "the importer drops reviews of new products",
             "prediction": "the database holds reviews the model does not see",
             "verification_test": "count rows in reviews", "confidence": 0.45}
        ],
        "selected": "H1",
        "selection_reason": "its test runs in a second and the traceback points at the division",
        "verification_plan": {"test_command": "pytest tests/test_ratings.py -k empty",
                              "expected_result": "passes once the guard is in", "timeout_seconds": 60}
    })
}

fn one_hypothesis() -> Value {
    let mut h = hypotheses();
    h["hypotheses"] = json!([h["hypotheses"][0].clone()]);
    h
}

fn implementation() -> Value {
    json!({
        "changes": [{"file": "shop/ratings.py", "diff": "@@ -40 +40,2 @@\n+    if not reviews:\n+        return None",
                     "description": "return None when a product has no reviews", "lines_changed": 2}],
        "prediction": "test_average_rating_empty passes; the rest stay green",
        "test_result": {"command": "pytest -x", "passed": false, "exit_code": 1},
        "lint_result": {"passed": true, "warnings": 0, "errors": 0},
        "next_action": "proceed_to_debug",
        "rollback_command": "git checkout -- shop/ratings.py"
    })
}

const THEORY: &str = "sorted() now meets None: the new guard returns None for unrated products and the search ranking sorts by the average";

fn debugging(iteration: u32, next: &str) -> Value {
    json!({
        "iteration": iteration,
        "error_analysis": {"error_type": "TypeError", "is_new_error": true,
                           "is_related_to_change": true, "root_cause_theory": THEORY},
        "change": {"file": "shop/search.py", "diff": "-key=avg\n+key=rank_key",
                   "description": "rank unrated products last", "lines_changed": 1},
        "test_result": {"command": "pytest -x", "passed": next == "resolved",
                        "compared_to_previous": "new_error"},
        "hypothesis_update": {"original_hypothesis": "H1", "still_valid": true,
                              "new_confidence": 0.85, "evidence": "the ZeroDivisionError is gone"},
        "next_action": next,
        "iterations_remaining": 5 - iteration
    })
}

fn improvement() -> Value {
    json!({
        "summary": {"root_cause": "average_rating divided by the review count without checking for zero",
                    "fix_description": "return None for unrated products and rank them last",
                    "files_modified": ["shop/ratings.py", "shop/search.py"], "total_lines_changed": 3},
        "regression_tests": [
            {"test_name": "test_average_rating_without_reviews", "description": "[] gives None",
             "test_file": "tests/test_ratings.py"},
            {"test_name": "test_search_ranks_unrated_last", "description": "None sorts last",
             "test_file": "tests/test_search.py"}
        ],
        "edge_cases_identified": [
            {"case": "a single review of zero stars", "test_added": true, "risk_level": "medium"},
            {"case": "a product whose reviews were all deleted", "test_added": false, "risk_level": "low"}
        ],
        "code_quality": {"lint_clean": true, "complexity_acceptable": true},
        "lessons": {"root_cause_category": "missing_validation", "title": "Averages over empty lists",
                    "date": "2026-11-24", "files": ["shop/ratings.py", "shop/search.py"],
                    "cause": "no fixture had an empty review list", "fix": "return None for []",
                    "prevention_checklist": ["ask what an empty input means", "test the zero case",
                                             "grep for other divisions by a count"],
                    "audit": []},
        "status": "complete",
        "termination_reason": "covered_by_tests"
    })
}

/// The words each language uses, so one walk checks both.
struct Words {
    lang: &'static str,
    headers: [&'static str; 5],
    observations: &'static str,
    places: &'static str,
    to_hypotheses: &'static str,
    hypotheses: &'static str,
    order: &'static str,
    to_implement: &'static str,
    files: &'static str,
    plan: &'static str,
    unverified: &'static str,
    to_debug: &'static str,
    next_action: &'static str,
    again: &'static str,
    third: &'static str,
    repeats: &'static str,
    to_improve: &'static str,
    improvements: &'static str,
    ready: &'static str,
    merge: &'static str,
    decided: &'static str,
}

const EN: Words = Words {
    lang: "en",
    headers: [
        "## Example analysis · visit 1",
        "## Hypotheses · visit 1",
        "## Implementation · visit 1",
        "## Debug loop · visit ",
        "## Improvement · visit 1",
    ],
    observations: "3 observations",
    places: "in `shop/ratings.py`, `shop/search.py`, `tests/test_ratings.py` and 1 more.",
    to_hypotheses: "Approving moves the run to **Hypotheses** (`hypothesize`) — competing explanations",
    hypotheses: "3 hypotheses",
    order: "test order H1 → H3 → H2, H1 selected",
    to_implement: "Approving moves the run to **Implementation** (`implement`) — the smallest change",
    files: "1 file changed (`shop/ratings.py`)",
    plan: "plan: hand the failure to the debug loop",
    unverified: "no verify command was run",
    to_debug: "Approving moves the run to **Debug loop** (`debug`) — one small change at a time",
    next_action: "Next: keep debugging.",
    again: "Approving runs this stage again (visit ",
    third: "third attempt or more (visit 3)",
    repeats: "(the same failure, 3 records in a row)",
    to_improve: "Approving moves the run to **Improvement** (`improve`) — hardening the fix",
    improvements: "2 regression tests, 2 edge cases; ready to merge.",
    ready: "**Merge readiness:** ready to merge",
    merge: "Approving ends the run at `complete` — what remains is the final review of the whole change, then the merge.",
    decided: "Decided: **approved** (terminal)",
};

const KO: Words = Words {
    lang: "ko",
    headers: [
        "## 예제 분석 · 방문 1",
        "## 가설 수립 · 방문 1",
        "## 구현 · 방문 1",
        "## 디버그 루프 · 방문 ",
        "## 개선 · 방문 1",
    ],
    observations: "관찰 3개",
    places: "(관련 위치: `shop/ratings.py`, `shop/search.py`, `tests/test_ratings.py` 외 1곳).",
    to_hypotheses: "승인하면 **가설 수립** (`hypothesize`) 단계로 넘어갑니다 — 서로 겨루는 설명",
    hypotheses: "가설 3개",
    order: "검증 순서 H1 → H3 → H2 (H1 선택)",
    to_implement: "승인하면 **구현** (`implement`) 단계로 넘어갑니다 — 선택된 가설을 검증하는 가장 작은 변경",
    files: "변경된 파일 1개 (`shop/ratings.py`)",
    plan: "계획: 실패를 디버그 루프에 넘깁니다",
    unverified: "검증 명령이 실행되지 않았습니다",
    to_debug: "승인하면 **디버그 루프** (`debug`) 단계로 넘어갑니다 — 새 실패를 한 번에 하나씩",
    next_action: "다음: 디버그를 계속합니다.",
    again: "승인하면 이 단계를 한 번 더 합니다 (방문 ",
    third: "세 번째 이상의 시도입니다 (방문 3)",
    repeats: "(같은 실패가 연속 3번 기록됨)",
    to_improve: "승인하면 **개선** (`improve`) 단계로 넘어갑니다 — 회귀 테스트, 경계 사례, 교훈",
    improvements: "회귀 테스트 2개, 경계 사례 2개. 병합할 준비가 됨.",
    ready: "**병합 준비:** 병합할 준비가 됨",
    merge: "승인하면 실행이 `complete`에서 끝납니다 — 남은 일은 전체 변경의 최종 검토와 병합입니다.",
    decided: "결정됨: **승인** (terminal)",
};

fn has(md: &str, needle: &str) {
    assert!(md.contains(needle), "missing {needle:?} in:\n{md}");
}

fn lacks(md: &str, needle: &str) {
    assert!(!md.contains(needle), "unexpected {needle:?} in:\n{md}");
}

/// Walks the five stages of `default` to the end, reading each gate's report.
fn walk(w: &Words) {
    let (_tmp, engine) = engine();
    let id = start(&engine, "default", w.lang);

    // Analyze: the original failure is recorded, the facts are counted and placed.
    test_check(&engine, &id, Some(ZERO));
    let a = submit(&engine, &id, &analysis());
    let md = markdown(&engine, &a);
    show(&format!("{} analyze", w.lang), &md);
    has(&md, w.headers[0]);
    has(
        &md,
        "average_rating divides by the review count, which is zero for a new product.",
    );
    has(&md, w.observations);
    has(&md, w.places);
    has(&md, "`shop/ratings.py:42`");
    has(&md, "1. pytest tests/test_ratings.py -k empty");
    has(&md, "ZeroDivisionError: division by zero`");
    has(&md, w.to_hypotheses);
    assert_eq!(approve(&engine, &a, &[]).0.as_deref(), Some("hypothesize"));
    let decided = markdown(&engine, &a);
    has(&decided, w.decided);
    lacks(&decided, w.to_hypotheses);

    // Hypothesize: the count, the order they will be tested in, the selected one first.
    let h = submit(&engine, &id, &hypotheses());
    let md = markdown(&engine, &h);
    show(&format!("{} hypothesize", w.lang), &md);
    has(&md, w.headers[1]);
    has(&md, w.hypotheses);
    has(&md, w.order);
    has(
        &md,
        "`pytest tests/test_ratings.py -k empty` → passes once the guard is in",
    );
    has(&md, w.to_implement);
    lacks(&md, "2 hypotheses");
    assert_eq!(approve(&engine, &h, &[]).0.as_deref(), Some("implement"));

    // Implement without a verify run: the files, the plan, and the automatic risk.
    let i = submit(&engine, &id, &implementation());
    let md = markdown(&engine, &i);
    show(&format!("{} implement", w.lang), &md);
    has(&md, w.headers[2]);
    has(&md, w.files);
    has(&md, w.plan);
    has(&md, "`git checkout -- shop/ratings.py`");
    has(&md, w.unverified);
    has(&md, w.to_debug);
    assert_eq!(approve(&engine, &i, &[]).0.as_deref(), Some("debug"));

    // Debug: the analysis cut at 100 characters, the next action; the third visit is a risk.
    let cut: String = format!("TypeError — {THEORY}").chars().take(100).collect();
    for visit in 1..=3u32 {
        test_check(&engine, &id, Some(TYPE));
        let d = submit(&engine, &id, &debugging(visit, "continue_debug"));
        let md = markdown(&engine, &d);
        has(&md, &format!("{}{visit}", w.headers[3]));
        has(&md, &format!("{cut}…"));
        has(&md, w.next_action);
        has(&md, &format!("{}{})", w.again, visit + 1));
        if visit < 3 {
            lacks(&md, w.third);
            assert_eq!(approve(&engine, &d, &[]).0.as_deref(), Some("debug"));
        } else {
            show(&format!("{} debug, visit 3", w.lang), &md);
            has(&md, w.third);
            // Three visits with the same failure: the check says so too.
            has(&md, w.repeats);
            assert_eq!(approve(&engine, &d, &[]).0.as_deref(), Some("debug"));
        }
    }
    test_check(&engine, &id, None);
    let d = submit(&engine, &id, &debugging(4, "resolved"));
    let md = markdown(&engine, &d);
    has(&md, w.to_improve);
    assert_eq!(approve(&engine, &d, &[]).0.as_deref(), Some("improve"));

    // Improve: the count, merge readiness, and the final review and merge after it.
    let m = submit(&engine, &id, &improvement());
    let md = markdown(&engine, &m);
    show(&format!("{} improve", w.lang), &md);
    has(&md, w.headers[4]);
    has(&md, w.improvements);
    has(&md, w.ready);
    has(&md, w.merge);
    let (stage, end) = approve(&engine, &m, &[]);
    assert_eq!((stage, end.as_deref()), (None, Some("complete")));
}

#[test]
fn each_default_stage_reports_its_findings_risks_and_next_step_in_english() {
    walk(&EN);
}

#[test]
fn each_default_stage_reports_its_findings_risks_and_next_step_in_korean() {
    walk(&KO);
}

#[test]
fn a_critical_answer_that_sounds_like_a_problem_is_flagged_in_the_approvals_report() {
    for (lang, answer, flag) in [
        (
            "en",
            "No, badly wrong",
            "⚠ **flagged: this answer points at a problem**",
        ),
        ("ko", "크게 틀림", "⚠ **확인 필요: 문제를 뜻하는 답입니다**"),
    ] {
        let (_tmp, engine) = engine();
        let id = start(&engine, "default", lang);
        let a = submit(&engine, &id, &analysis());
        let pending = markdown(&engine, &a);
        lacks(&pending, flag);
        approve(&engine, &a, &[("analyze_accuracy", answer)]);
        let report = engine.report(&a).unwrap();
        assert_eq!(report.flagged, vec!["analyze_accuracy".to_string()]);
        let md = report.markdown;
        well_formed(&md);
        has(&md, &format!("→ {answer} {flag}"));
        // One answer is flagged, not every answered question.
        assert_eq!(md.matches(flag).count(), 1, "{md}");
    }
}

#[test]
fn a_lone_hypothesis_is_a_risk() {
    for (lang, risk) in [
        ("en", "fewer than 2 hypotheses"),
        ("ko", "가설이 2개 미만입니다"),
    ] {
        // `default`'s schema refuses a lone hypothesis; a workflow with a looser one can still
        // bring one to this report.
        let ctx = context("hypothesize", "Hypotheses", 1, lang, one_hypothesis());
        let md = render("hypothesize", &ctx);
        well_formed(&md);
        has(&md, risk);
        has(
            &md,
            if lang == "en" {
                "1 hypothesis; H1 selected."
            } else {
                "가설 1개, H1 선택."
            },
        );
    }
}

#[test]
fn implement_with_a_recorded_check_is_not_called_unverified() {
    let (_tmp, engine) = engine();
    let id = start(&engine, "default", "en");
    approve(&engine, &submit(&engine, &id, &analysis()), &[]);
    approve(&engine, &submit(&engine, &id, &hypotheses()), &[]);
    test_check(&engine, &id, None);
    let mut out = implementation();
    out["test_result"]["passed"] = json!(true);
    out["next_action"] = json!("proceed_to_improve");
    let md = markdown(&engine, &submit(&engine, &id, &out));
    lacks(&md, "no verify command was run");
    has(&md, "- check `test`: passed");
    has(&md, "plan: the tests pass, move on to improvement");
    has(
        &md,
        "Approving moves the run to **Improvement** (`improve`)",
    );
}

fn review() -> Value {
    json!({
        "reviewed": "staged",
        "findings": [
            {"id": "F1", "severity": "medium", "file": "shop/search.py", "line": 30,
             "claim": "unrated products now sort last without a word in the docs",
             "evidence": "rank_key returns (1, 0) for None", "raised_by": "neutral/gemini",
             "agreed_by": 1, "recommendation": "say so in the docstring"},
            {"id": "F2", "severity": "high", "file": "templates/product.html", "line": 12,
             "claim": "the product page formats the average and crashes on None",
             "evidence": "round(avg, 1) with avg None raises TypeError", "raised_by": "against/codex",
             "agreed_by": 2, "disputed_by": ["for/claude"], "recommendation": "show 'no ratings yet' for None"}
        ],
        "positions": {"agree": ["claude (for)"], "disagree": ["codex (against)"], "mixed": ["gemini (neutral)"],
                      "summary": "codex and gemini see None reach the template; claude thinks a filter guards it"},
        "judge": {"provider": "claude", "selected": "F2", "ranking": ["F2", "F1"],
                  "scores": {"F2": 0.8, "F1": 0.4}, "reason": "F2 breaks a page, and the evidence shows it"},
        "actions": [{"findings": ["F2"], "action": "guard the average in the product template", "suggested": "now"},
                    {"findings": ["F1"], "action": "document the ordering", "suggested": "later"}],
        "summary": "The change fixes the division but lets None reach the product page.",
        "confidence": 0.7
    })
}

#[test]
fn the_review_gate_lists_findings_in_the_judges_order() {
    for (lang, header, count, first, next) in [
        (
            "en",
            "## Review the change · visit 1",
            "2 findings (1 high, 1 medium); the judge ranks F2 first.",
            "1. **F2** [high] `templates/product.html:12`",
            "Approving ends the run at `decided` — the review closes with your answers",
        ),
        (
            "ko",
            "## 변경 검토 · 방문 1",
            "발견 사항 2개 (높음 1, 보통 1), 심판의 1순위는 F2.",
            "1. **F2** [높음] `templates/product.html:12`",
            "승인하면 실행이 `decided`에서 끝납니다 — 답하신 내용으로 리뷰가 끝납니다",
        ),
    ] {
        let (_tmp, engine) = engine();
        let id = start(&engine, "review", lang);
        let md = markdown(&engine, &submit(&engine, &id, &review()));
        show(&format!("{lang} review"), &md);
        has(&md, header);
        has(
            &md,
            "The change fixes the division but lets None reach the product page.",
        );
        has(&md, count);
        has(&md, first);
        has(&md, "2. **F1**");
        has(&md, next);
    }
}

/// A report context of the shape `report::build` gives, for cases a short run cannot reach.
fn context(stage: &str, title: &str, visit: u32, lang: &str, output: Value) -> Value {
    let mut ctx = json!({
        "lang": lang,
        "run": {"id": "r1", "task": "t", "workflow": "default"},
        "stage": {"name": stage, "title": title, "visit": visit},
        "summary": null, "risks": [], "fields": [], "next": null,
        "consults": [{"id": "t1", "provider": "codex", "question": "why does sorted() meet None?",
                      "answer": "because", "cut": false, "warnings": []}],
        "checks": [{"name": "test", "passed": false, "exit_code": 1, "timed_out": false,
                    "counts": {"passed": 4, "failed": 1, "skipped": 0}, "error": TYPE, "repeats": 3}],
        "questions": [],
        "metrics": {"seconds": 125, "consults": 1, "checks_passed": 0, "checks_failed": 1},
        "decision": null
    });
    ctx["output"] = output;
    ctx
}

const TEMPLATES: [(&str, &str); 6] = [
    ("analyze", include_str!("../../reports/analyze.md.j2")),
    (
        "hypothesize",
        include_str!("../../reports/hypothesize.md.j2"),
    ),
    ("implement", include_str!("../../reports/implement.md.j2")),
    ("debug", include_str!("../../reports/debug.md.j2")),
    ("improve", include_str!("../../reports/improve.md.j2")),
    ("review", include_str!("../../reports/review.md.j2")),
];

fn render(name: &str, ctx: &Value) -> String {
    let text = TEMPLATES.iter().find(|(n, _)| *n == name).unwrap().1;
    crate::template::render(name, text, ctx).unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

#[test]
fn templates_read_only_what_an_output_has() {
    // The fewest fields each schema asks for, and some optional ones set to null: a template
    // that touches a missing key fails in strict mode.
    let sparse = [
        (
            "analyze",
            json!({"observations": [{"fact": "f", "source": "s", "line_number": null}],
                           "constraints": [], "unknowns": [], "repro_steps": [], "confidence": 0.3}),
        ),
        (
            "hypothesize",
            json!({"hypotheses": [{"id": "H1", "claim": "c", "prediction": "p",
                                "verification_test": "t", "confidence": 0.5}], "selected": "H1",
                               "verification_plan": {"test_command": "t", "expected_result": "e"}}),
        ),
        (
            "implement",
            json!({"changes": [], "test_result": {"command": "t", "passed": false},
                             "next_action": "proceed_to_debug", "lint_result": null}),
        ),
        (
            "debug",
            json!({"iteration": 1, "error_analysis": {"error_type": "E", "is_new_error": false},
                         "change": {"file": "f", "diff": ""}, "test_result": {"command": "t", "passed": false},
                         "next_action": "continue_debug"}),
        ),
        (
            "improve",
            json!({"summary": {"root_cause": "r", "fix_description": "f"},
                           "regression_tests": [{"test_name": "t", "description": "d"}],
                           "lessons": {"root_cause_category": "other"}, "status": "needs_review"}),
        ),
        (
            "review",
            json!({"reviewed": "staged", "findings": [], "positions": {"summary": "s"},
                          "judge": {"selected": null, "reason": "r"}, "actions": [], "summary": "s"}),
        ),
    ];
    for lang in ["en", "ko"] {
        for (name, output) in &sparse {
            let md = render(name, &context(name, name, 1, lang, output.clone()));
            well_formed(&md);
            has(
                &md,
                if lang == "en" {
                    "### Next"
                } else {
                    "### 다음"
                },
            );
            has(
                &md,
                if lang == "en" {
                    "2 min 5 s"
                } else {
                    "2분 5초"
                },
            );
        }
    }
}

#[test]
fn a_debug_visit_of_three_or_more_warns_and_an_escalation_is_named() {
    let mut out = debugging(3, "escalate");
    out["escalation"] = json!("external_dependency");
    for (lang, third, escalation, repeats) in [
        (
            "en",
            "third attempt or more (visit 4)",
            "hand the problem to a person (the fault is in an external dependency)",
            "(the same failure, 3 records in a row)",
        ),
        (
            "ko",
            "세 번째 이상의 시도입니다 (방문 4)",
            "사람에게 넘깁니다 (외부 의존성의 결함)",
            "(같은 실패가 연속 3번 기록됨)",
        ),
    ] {
        let md = render(
            "debug",
            &context("debug", "Debug loop", 4, lang, out.clone()),
        );
        well_formed(&md);
        has(&md, third);
        has(&md, escalation);
        has(&md, repeats);
        has(&md, "**codex**: why does sorted() meet None? → because");
        let early = render(
            "debug",
            &context("debug", "Debug loop", 2, lang, out.clone()),
        );
        lacks(&early, third.split(" (").next().unwrap());
    }
}

#[test]
fn a_source_that_already_holds_its_line_is_not_given_it_twice() {
    let mut out = analysis();
    out["observations"] = json!([
        {"fact": "a", "source": "shop/ratings.py:42", "line_number": 42, "certainty": "high"},
        {"fact": "b", "source": "shop/search.py:7:3", "line_number": 7, "certainty": "high"},
        {"fact": "c", "source": "tests/test_ratings.py", "line_number": 18, "certainty": "high"}
    ]);
    let md = render("analyze", &context("analyze", "Analysis", 1, "en", out));
    well_formed(&md);
    has(&md, "- a — `shop/ratings.py:42` (high)");
    has(&md, "- b — `shop/search.py:7:3` (high)");
    has(&md, "- c — `tests/test_ratings.py:18` (high)");

    let mut out = review();
    out["findings"][0]["file"] = json!("shop/search.py:30");
    let md = render(
        "review",
        &context("review", "Review the change", 1, "en", out),
    );
    well_formed(&md);
    has(&md, "`shop/search.py:30` — unrated products");
    lacks(&md, "search.py:30:30");
}
