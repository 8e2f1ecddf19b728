//! Picking the best candidate: red flags first, then test signals, lint, a judge and provider
//! trust — by priority (`tests_first`), by weights (`hybrid`), or by an LLM judge (`judge`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::redflag::{self, RuleSet};

/// How much each provider's answers are trusted when nothing better decides.
#[must_use]
pub(crate) fn trust(provider: Option<&str>) -> f64 {
    match provider {
        Some("codex") => 0.85,
        Some("claude") => 0.80,
        Some("gemini") => 0.75,
        _ => 0.70,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Candidate {
    pub id: String,
    pub content: String,
    pub provider: Option<String>,
}

/// How a candidate is chosen.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    /// Red flags, then passing tests, then lint, the judge and provider trust, in that order.
    #[default]
    TestsFirst,
    /// One weighted score of all signals.
    Hybrid,
    /// An LLM judge scores the candidates.
    #[serde(alias = "llm_judge")]
    Judge,
}

impl Mode {}

/// Evidence about candidates, by id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Signals {
    pub tests: BTreeMap<String, bool>,
    pub lint: BTreeMap<String, f64>,
    pub judge: BTreeMap<String, f64>,
    /// The judge selected no candidate, for this reason: nothing wins.
    pub judge_declined: Option<String>,
}

/// What the judge was asked and said, shown with the selection.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct JudgeView {
    pub provider: String,
    pub rubric: Rubric,
    pub selected: Option<String>,
    pub reason: String,
    /// Set when the candidates were cut to fit the judge's budget: by how much.
    pub cut: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct Selection {
    pub winner: Option<String>,
    pub scores: BTreeMap<String, f64>,
    pub rationale: String,
    /// No candidate could be trusted: a person should look.
    pub requires_review: bool,
    /// Discarded candidates and why.
    pub flagged: BTreeMap<String, Vec<String>>,
    /// Whether a test result backed the choice.
    pub test_signal: bool,
    /// Every candidate failed its tests, so none is selected: back to the hypotheses.
    #[serde(default)]
    pub none_passed: bool,
    /// The judge's verdict, when a judge was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeView>,
}

/// The rubric a judge scores by. Its weights are stated in the `judge` role and in the judge
/// schema too (a test keeps the three in step); [`Rubric::weights`] is the reference.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Rubric {
    Hypothesis,
    Implementation,
    #[default]
    General,
}

impl Rubric {
    /// Each criterion (the key the judge scores it under, 1–5) and its weight; they sum to 100.
    #[must_use]
    pub(crate) const fn weights(self) -> &'static [(&'static str, u32)] {
        match self {
            Rubric::Hypothesis => &[
                ("testability", 30),
                ("specificity", 25),
                ("coherence", 25),
                ("simplicity", 20),
            ],
            Rubric::Implementation => &[
                ("tests", 40),
                ("minimal_change", 20),
                ("lint", 15),
                ("correctness", 15),
                ("readability", 10),
            ],
            Rubric::General => &[
                ("correctness", 35),
                ("evidence", 25),
                ("specificity", 20),
                ("risk", 20),
            ],
        }
    }

    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Rubric::Hypothesis => "hypothesis",
            Rubric::Implementation => "implementation",
            Rubric::General => "general",
        }
    }

    /// The rubric for answers of a workflow stage: the same mapping the `judge` role applies
    /// to `stage.name`.
    #[must_use]
    pub(crate) fn for_stage(stage: &str) -> Rubric {
        match stage {
            "hypothesis" | "hypothesize" => Rubric::Hypothesis,
            "implementation" | "implement" | "debug" | "improve" => Rubric::Implementation,
            _ => Rubric::General,
        }
    }

    /// A weighted score in 0..1 from 1–5 scores: Σ weight × (score − 1) / 4 over Σ weight,
    /// each extra criterion (`criterion_1`, …) weighing as much as the heaviest rubric
    /// criterion. `None` unless every criterion was scored.
    #[must_use]
    pub(crate) fn weigh(
        self,
        scores: &serde_json::Map<String, Value>,
        extra: usize,
    ) -> Option<f64> {
        let top = self.weights().iter().map(|w| w.1).max().unwrap_or(1);
        let extra: Vec<(String, u32)> = (1..=extra)
            .map(|i| (format!("criterion_{i}"), top))
            .collect();
        let all = self
            .weights()
            .iter()
            .map(|(k, w)| ((*k).to_string(), *w))
            .chain(extra);
        let (mut sum, mut total) = (0.0, 0.0);
        for (k, w) in all {
            let s = scores.get(&k)?.as_f64()?.clamp(1.0, 5.0);
            sum += f64::from(w) * (s - 1.0) / 4.0;
            total += f64::from(w);
        }
        (total > 0.0).then(|| sum / total)
    }
}

/// The most characters of candidate text one judge prompt carries, all candidates together.
pub(crate) const JUDGE_BUDGET_CHARS: usize = 60_000;

/// The red flags a `select` candidate must pass: the defaults, but as long as the judge can
/// read (a whole patch or review is often longer than a consult answer may be).
#[must_use]
pub(crate) fn candidate_rules() -> RuleSet {
    RuleSet {
        max_chars: Some(JUDGE_BUDGET_CHARS as u64),
        ..RuleSet::default()
    }
}

/// A judge's verdict: scores by candidate id, and the one selected — or none, when the
/// judge found every candidate unacceptable (every one failing its tests, say).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Judgement {
    pub scores: BTreeMap<String, f64>,
    pub selected: Option<String>,
    pub reason: String,
}

/// Reads a judge's JSON answer (the judge schema) into a [`Judgement`]. Each candidate's
/// score is its `weighted_score`, else computed from its rubric `scores`; `selected` may be
/// null. The older shape (`selected` a string, `weighted_score`s only) reads the same.
///
/// # Errors
/// Unparseable output, no `selected` key, or a judge naming a candidate that does not exist.
pub(crate) fn parse_judge(
    answer: &str,
    ids: &[String],
    rubric: Rubric,
    extra_criteria: usize,
) -> Result<Judgement, String> {
    let v: Value = redflag::extract_json(answer).ok_or("the judge's answer is not JSON")?;
    let selected = match v.get("selected") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Null) => None,
        Some(_) => return Err("the judge's `selected` is neither an id nor null".into()),
        None => return Err("the judge's answer has no `selected`".into()),
    };
    if let Some(sel) = selected
        && !ids.iter().any(|i| i == sel)
    {
        return Err(format!(
            "the judge selected `{}`, which is not a candidate ({})",
            sel.chars().take(80).collect::<String>(),
            ids.join(", ")
        ));
    }
    let mut scores = BTreeMap::new();
    for c in v["candidates_evaluated"].as_array().into_iter().flatten() {
        let Some(id) = c["id"].as_str() else {
            continue;
        };
        if !ids.iter().any(|i| i == id) {
            return Err(format!(
                "the judge scored `{}`, which is not a candidate",
                id.chars().take(80).collect::<String>()
            ));
        }
        let score = c["weighted_score"].as_f64().or_else(|| {
            c["scores"]
                .as_object()
                .and_then(|s| rubric.weigh(s, extra_criteria))
        });
        if let Some(score) = score {
            scores.insert(id.to_string(), score.clamp(0.0, 1.0));
        }
    }
    // The selected one wins even if the judge forgot to score it.
    if let Some(sel) = selected {
        let top = scores.values().copied().fold(0.0, f64::max);
        let own = scores.get(sel).copied();
        if own.is_none_or(|o| o < top) {
            scores.insert(sel.to_string(), (top + 1e-6).min(1.0));
        }
    }
    Ok(Judgement {
        scores,
        selected: selected.map(str::to_string),
        reason: v["selection_reason"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    })
}

/// Whether a test result says each of `ids` failed. Tests come first, and a failing candidate
/// is not made acceptable by being the least bad: then nothing is selected (and no judge is
/// worth asking).
pub(crate) fn all_fail<'a>(
    mut ids: impl Iterator<Item = &'a str>,
    tests: &BTreeMap<String, bool>,
) -> bool {
    ids.all(|id| tests.get(id) == Some(&false))
}

/// Chooses among `candidates`.
#[must_use]
pub(crate) fn select(
    candidates: &[Candidate],
    mode: Mode,
    s: &Signals,
    rules: &RuleSet,
) -> Selection {
    let mut flagged = BTreeMap::new();
    let valid: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| {
            let f = redflag::check(&c.content, rules);
            if f.is_empty() {
                true
            } else {
                flagged.insert(c.id.clone(), f.into_iter().map(|f| f.message).collect());
                false
            }
        })
        .collect();
    if valid.is_empty() {
        return Selection {
            winner: None,
            scores: BTreeMap::new(),
            rationale: "every candidate was red-flagged; nothing can be selected safely".into(),
            requires_review: true,
            flagged,
            test_signal: false,
            none_passed: false,
            judge: None,
        };
    }
    let test_signal = valid.iter().any(|c| s.tests.contains_key(&c.id));
    if all_fail(valid.iter().map(|c| c.id.as_str()), &s.tests) {
        return Selection {
            winner: None,
            scores: BTreeMap::new(),
            rationale: format!(
                "none passed: all {} candidates fail their tests; go back to the hypotheses",
                valid.len()
            ),
            requires_review: false,
            flagged,
            test_signal,
            none_passed: true,
            judge: None,
        };
    }
    let avg_len = valid.iter().map(|c| c.content.len() as f64).sum::<f64>() / valid.len() as f64;
    let test = |c: &Candidate| match s.tests.get(&c.id) {
        Some(true) => 1.0,
        Some(false) => 0.0,
        None => 0.5,
    };
    let lint = |c: &Candidate| s.lint.get(&c.id).copied().unwrap_or(0.5);
    let judge = |c: &Candidate| s.judge.get(&c.id).copied().unwrap_or(0.5);
    let minimal =
        |c: &Candidate| 1.0 - (c.content.len() as f64 / (2.0 * avg_len.max(1.0))).min(1.0);
    let mut scores = BTreeMap::new();
    let (winner, rationale) = match mode {
        Mode::Hybrid => {
            for c in &valid {
                let score = 0.60 * test(c)
                    + 0.15 * lint(c)
                    + 0.15 * judge(c)
                    + 0.05 * trust(c.provider.as_deref())
                    + 0.05 * minimal(c);
                scores.insert(c.id.clone(), score);
            }
            let w = best(&valid, &scores);
            (
                w.clone(),
                format!(
                    "highest hybrid score {:.3} (0.60 tests, 0.15 lint, 0.15 judge, 0.05 trust, 0.05 minimal diff)",
                    scores[&w]
                ),
            )
        }
        Mode::TestsFirst | Mode::Judge => {
            // Lexicographic: passing tests, then lint, then the judge, then provider trust.
            for c in &valid {
                let score = test(c) * 1000.0
                    + lint(c) * 100.0
                    + judge(c) * 10.0
                    + trust(c.provider.as_deref());
                scores.insert(c.id.clone(), score / 1111.0);
            }
            let w = best(&valid, &scores);
            let why = match (s.tests.get(&w), mode) {
                (Some(true), _) => "its tests pass".to_string(),
                (_, Mode::Judge) if s.judge.contains_key(&w) => {
                    "the judge scored it highest".to_string()
                }
                _ if s.lint.contains_key(&w) => {
                    "best lint score (no candidate's tests passed)".to_string()
                }
                _ => "no test, lint or judge signal: chosen by provider trust".to_string(),
            };
            (w, why)
        }
    };
    if let Some(reason) = &s.judge_declined {
        return Selection {
            winner: None,
            scores,
            rationale: format!("the judge selected no candidate: {reason}"),
            requires_review: true,
            flagged,
            test_signal,
            none_passed: false,
            judge: None,
        };
    }
    let requires_review = !test_signal && s.judge.is_empty() && s.lint.is_empty();
    Selection {
        winner: Some(winner),
        scores,
        rationale,
        requires_review,
        flagged,
        test_signal,
        none_passed: false,
        judge: None,
    }
}

fn best(valid: &[&Candidate], scores: &BTreeMap<String, f64>) -> String {
    valid
        .iter()
        .max_by(|a, b| scores[&a.id].total_cmp(&scores[&b.id]))
        .map(|c| c.id.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, content: &str, provider: &str) -> Candidate {
        Candidate {
            id: id.into(),
            content: content.into(),
            provider: Some(provider.into()),
        }
    }

    #[test]
    fn tests_beat_lint_beat_trust_and_flags_come_first() {
        let cands = [
            c("a", "fix one", "codex"),
            c("b", "fix two", "gemini"),
            c("x", "rm -rf / please", "claude"),
        ];
        let mut s = Signals::default();
        s.tests.insert("b".into(), true);
        s.tests.insert("a".into(), false);
        s.lint.insert("a".into(), 1.0);
        let r = select(&cands, Mode::TestsFirst, &s, &RuleSet::default());
        assert_eq!(r.winner.as_deref(), Some("b"));
        assert!(r.flagged.contains_key("x") && r.test_signal);
        let none = select(
            &cands,
            Mode::TestsFirst,
            &Signals::default(),
            &RuleSet::default(),
        );
        assert_eq!(none.winner.as_deref(), Some("a"), "codex is trusted most");
        assert!(none.requires_review);
        let all_bad = select(
            &[c("x", "rm -rf /", "codex")],
            Mode::Hybrid,
            &s,
            &RuleSet::default(),
        );
        assert!(all_bad.winner.is_none() && all_bad.requires_review);
    }

    #[test]
    fn the_judge_may_select_none_and_scores_may_come_from_the_rubric() {
        let ids = vec!["a".to_string(), "b".to_string()];
        let none = r#"{"rubric": "implementation", "candidates_evaluated": [{"id": "a", "scores": {"tests": 1, "minimal_change": 5, "lint": 5, "correctness": 1, "readability": 5}}, {"id": "b", "weighted_score": 0.1}], "selected": null, "selection_reason": "both fail their tests"}"#;
        let j = parse_judge(none, &ids, Rubric::Implementation, 0).unwrap();
        assert_eq!(j.selected, None);
        assert_eq!(j.reason, "both fail their tests");
        // (0·40 + 1·20 + 1·15 + 0·15 + 1·10) / 100
        assert!((j.scores["a"] - 0.45).abs() < 1e-9, "{}", j.scores["a"]);
        assert!((j.scores["b"] - 0.1).abs() < 1e-9, "{}", j.scores["b"]);
        // An extra criterion weighs as much as the heaviest rubric criterion.
        let m: serde_json::Map<String, Value> = serde_json::from_str(
            r#"{"testability": 5, "specificity": 5, "coherence": 5, "simplicity": 5, "criterion_1": 1}"#,
        )
        .unwrap();
        assert!((Rubric::Hypothesis.weigh(&m, 1).unwrap() - 100.0 / 130.0).abs() < 1e-9);
        assert_eq!(
            Rubric::Hypothesis.weigh(&m, 2),
            None,
            "criterion_2 unscored"
        );
        assert!(
            parse_judge(r#"{"selected": 3}"#, &ids, Rubric::General, 0)
                .unwrap_err()
                .contains("neither")
        );
        let mut s = Signals {
            judge: j.scores.clone(),
            judge_declined: Some(j.reason.clone()),
            ..Signals::default()
        };
        s.tests.insert("a".into(), false);
        let cands = [c("a", "fix", "codex"), c("b", "fix too", "claude")];
        let r = select(&cands, Mode::Judge, &s, &RuleSet::default());
        assert_eq!(r.winner, None);
        assert!(r.requires_review && r.rationale.contains("both fail their tests"));
    }

    /// The weights are written three times — here, in the `judge` role and in the judge
    /// schema — because each is read by someone else (code, the judge, a validator). They
    /// must agree.
    #[test]
    fn the_role_and_the_schema_state_the_same_weights() {
        let role = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/roles/judge.md.j2"));
        let schema: Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/judge_output.json"
        )))
        .unwrap();
        let props = &schema["properties"]["candidates_evaluated"]["items"]["properties"]["scores"]
            ["properties"];
        for rubric in [Rubric::Hypothesis, Rubric::Implementation, Rubric::General] {
            let w = rubric.weights();
            assert_eq!(w.iter().map(|x| x.1).sum::<u32>(), 100, "{rubric:?}");
            assert!(role.contains(&format!("## Rubric: {}", rubric.as_str())));
            for (name, weight) in w {
                assert!(
                    role.contains(&format!("- {name} {weight}:")),
                    "role: {name}"
                );
                let d = props[*name]["description"].as_str().unwrap_or_default();
                assert!(
                    d.contains(&format!("{} {weight}", rubric.as_str())),
                    "schema: {name}: {d}"
                );
            }
        }
        assert_eq!(Rubric::for_stage("implement"), Rubric::Implementation);
        assert_eq!(Rubric::for_stage("hypothesize"), Rubric::Hypothesis);
        assert_eq!(Rubric::for_stage("collect"), Rubric::General);
    }

    #[test]
    fn hybrid_weights_and_the_judge() {
        let cands = [
            c("a", "short", "gemini"),
            c("b", "a much longer candidate answer here", "codex"),
        ];
        let mut s = Signals::default();
        s.judge.insert("a".into(), 0.9);
        s.judge.insert("b".into(), 0.2);
        let r = select(&cands, Mode::Hybrid, &s, &RuleSet::default());
        assert_eq!(r.winner.as_deref(), Some("a"));
        let avg = f64::midpoint(5.0, 35.0);
        let expect_a =
            0.60 * 0.5 + 0.15 * 0.5 + 0.15 * 0.9 + 0.05 * 0.75 + 0.05 * (1.0 - 5.0 / (2.0 * avg));
        assert!((r.scores["a"] - expect_a).abs() < 1e-9, "{}", r.scores["a"]);
        let ids = vec!["a".to_string(), "b".to_string()];
        let good = r#"{"candidates_evaluated": [{"id": "a", "weighted_score": 0.8}, {"id": "b", "weighted_score": 0.3}], "selected": "a", "selection_reason": "tests"}"#;
        let j = parse_judge(good, &ids, Rubric::General, 0).unwrap();
        assert_eq!((j.scores["a"], j.selected.as_deref()), (0.8, Some("a")));
        let liar = r#"{"candidates_evaluated": [], "selected": "z", "selection_reason": "?"}"#;
        assert!(
            parse_judge(liar, &ids, Rubric::General, 0)
                .unwrap_err()
                .contains("not a candidate")
        );
    }
}
