//! Picking the best candidate: red flags first, then test signals, lint, a judge and provider
//! trust — by priority (`tests_first`), by weights (`hybrid`), or by an LLM judge (`judge`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::redflag::{self, RuleSet};

/// How much each provider's answers are trusted when nothing better decides.
#[must_use]
pub fn trust(provider: Option<&str>) -> f64 {
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
pub enum Mode {
    /// Red flags, then passing tests, then lint, the judge and provider trust, in that order.
    #[default]
    TestsFirst,
    /// One weighted score of all signals.
    Hybrid,
    /// An LLM judge scores the candidates.
    #[serde(alias = "llm_judge")]
    Judge,
}

impl Mode {
    #[must_use]
    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "tests_first" => Mode::TestsFirst,
            "hybrid" => Mode::Hybrid,
            "judge" | "llm_judge" => Mode::Judge,
            _ => return None,
        })
    }
}

/// Evidence about candidates, by id.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    pub tests: BTreeMap<String, bool>,
    pub lint: BTreeMap<String, f64>,
    pub judge: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Selection {
    pub winner: Option<String>,
    pub scores: BTreeMap<String, f64>,
    pub rationale: String,
    /// No candidate could be trusted: a person should look.
    pub requires_review: bool,
    /// Discarded candidates and why.
    pub flagged: BTreeMap<String, Vec<String>>,
    /// Whether a test result backed the choice.
    pub test_signal: bool,
}

/// Reads a judge's JSON answer (the judge schema) into scores by candidate id.
///
/// # Errors
/// Unparseable output, or a judge naming a candidate that does not exist.
pub fn parse_judge(answer: &str, ids: &[String]) -> Result<BTreeMap<String, f64>, String> {
    let v: Value = redflag::extract_json(answer).ok_or("the judge's answer is not JSON")?;
    let selected = v["selected"]
        .as_str()
        .ok_or("the judge's answer has no `selected`")?;
    if !ids.iter().any(|i| i == selected) {
        return Err(format!(
            "the judge selected `{selected}`, which is not a candidate ({})",
            ids.join(", ")
        ));
    }
    let mut scores = BTreeMap::new();
    for c in v["candidates_evaluated"].as_array().into_iter().flatten() {
        let (Some(id), Some(score)) = (c["id"].as_str(), c["weighted_score"].as_f64()) else {
            continue;
        };
        if !ids.iter().any(|i| i == id) {
            return Err(format!("the judge scored `{id}`, which is not a candidate"));
        }
        scores.insert(id.to_string(), score.clamp(0.0, 1.0));
    }
    // The selected one wins even if the judge forgot to score it.
    let top = scores.values().copied().fold(0.0, f64::max);
    let own = scores.get(selected).copied();
    if own.is_none_or(|o| o < top) {
        scores.insert(selected.to_string(), (top + 1e-6).min(1.0));
    }
    Ok(scores)
}

/// Chooses among `candidates`.
#[must_use]
pub fn select(candidates: &[Candidate], mode: Mode, s: &Signals, rules: &RuleSet) -> Selection {
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
        };
    }
    let test_signal = valid.iter().any(|c| s.tests.contains_key(&c.id));
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
    let requires_review = !test_signal && s.judge.is_empty() && s.lint.is_empty();
    Selection {
        winner: Some(winner),
        scores,
        rationale,
        requires_review,
        flagged,
        test_signal,
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
        let avg = (5.0 + 35.0) / 2.0;
        let expect_a =
            0.60 * 0.5 + 0.15 * 0.5 + 0.15 * 0.9 + 0.05 * 0.75 + 0.05 * (1.0 - 5.0 / (2.0 * avg));
        assert!((r.scores["a"] - expect_a).abs() < 1e-9, "{}", r.scores["a"]);
        let ids = vec!["a".to_string(), "b".to_string()];
        let good = r#"{"candidates_evaluated": [{"id": "a", "weighted_score": 0.8}, {"id": "b", "weighted_score": 0.3}], "selected": "a", "selection_reason": "tests"}"#;
        assert_eq!(parse_judge(good, &ids).unwrap()["a"], 0.8);
        let liar = r#"{"candidates_evaluated": [], "selected": "z", "selection_reason": "?"}"#;
        assert!(
            parse_judge(liar, &ids)
                .unwrap_err()
                .contains("not a candidate")
        );
    }
}
