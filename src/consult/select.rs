//! `select`: the best candidate by red flags, tests, lint, a judge and provider trust. The
//! judge is a provider call, charged to the run first.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{provider_failure, unknown_provider, with_engine};
use crate::engine::{Engine, Failure, RunEvent};
use crate::providers::{ProviderSet, Request};
use crate::quality::redflag::RuleSet;
use crate::quality::select::{self, Candidate, Mode, Selection, Signals};

/// What to select from (the `select` tool's arguments; `///` lines reach the model).
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectAsk {
    /// `{id, content, provider}`.
    #[schemars(with = "Vec<BTreeMap<String, serde_json::Value>>")]
    pub candidates: Vec<Candidate>,
    #[serde(default)]
    pub mode: Mode,
    /// Candidate id → tests passed.
    #[serde(default)]
    pub test_results: BTreeMap<String, bool>,
    #[serde(default)]
    pub lint_results: BTreeMap<String, f64>,
    pub judge_provider: Option<String>,
    pub run_id: Option<String>,
}

/// The judge's prompt: the candidates in full, and the answer shape `parse_judge` reads.
#[must_use]
pub fn judge_prompt(candidates: &[Candidate]) -> String {
    let mut prompt = String::from(
        "Judge these candidates. Answer with JSON: {\"candidates_evaluated\": [{\"id\", \"weighted_score\" (0..1)}], \"selected\": id, \"selection_reason\": text}.\n\n",
    );
    for c in candidates {
        prompt.push_str(&format!(
            "--- candidate {} ({}) ---\n{}\n\n",
            c.id,
            c.provider.as_deref().unwrap_or("?"),
            c.content.chars().take(4000).collect::<String>()
        ));
    }
    prompt
}

/// Selects, asking the judge (charged) when the mode or a judge provider asks for one.
///
/// # Errors
/// No candidates, results naming unknown candidates, an unknown judge or run, a spent
/// budget (the judge is not asked), or a judge whose answer does not parse.
pub async fn run(
    engine: Option<&Arc<Engine>>,
    set: Arc<ProviderSet>,
    ask: SelectAsk,
    cancel: &CancellationToken,
) -> Result<Selection, Failure> {
    if ask.candidates.is_empty() {
        return Err(Failure::new(
            "no_candidates",
            "no candidates to select from",
            "pass at least one candidate {id, content, provider}",
        ));
    }
    let ids: Vec<String> = ask.candidates.iter().map(|c| c.id.clone()).collect();
    if let Some(id) = ask
        .test_results
        .keys()
        .chain(ask.lint_results.keys())
        .find(|id| !ids.contains(id))
    {
        return Err(Failure::new(
            "unknown_candidate",
            format!(
                "a result names `{}`, which is not a candidate",
                id.chars().take(80).collect::<String>()
            ),
            format!("candidates: {}", ids.join(", ")),
        ));
    }
    let rid = ask.run_id.clone();
    with_engine(engine, move |e| super::require_run(e, rid.as_deref())).await?;
    let mut signals = Signals {
        tests: ask.test_results.clone(),
        lint: ask.lint_results.clone(),
        judge: BTreeMap::new(),
    };
    if ask.mode == Mode::Judge || ask.judge_provider.is_some() {
        let provider = ask.judge_provider.clone().ok_or_else(|| {
            Failure::new(
                "missing_judge",
                "mode `judge` needs `judge_provider`",
                "name a provider (see `providers`)",
            )
        })?;
        if set.get(&provider).is_none() {
            return Err(unknown_provider(&provider, &set));
        }
        let rid = ask.run_id.clone();
        with_engine(engine, move |e| {
            super::charge(e, rid.as_deref(), 1, "selection judge").map(|_| ())
        })
        .await?;
        let req = Request {
            provider,
            prompt: judge_prompt(&ask.candidates),
            ..Request::default()
        };
        let a = set
            .consult(&req, cancel)
            .await
            .map_err(|e| provider_failure(&e))?;
        signals.judge = select::parse_judge(&a.text, &ids).map_err(|e| {
            Failure::new(
                "judge_failed",
                e,
                "ask another judge, or use tests_first with test results",
            )
        })?;
    }
    let r = select::select(&ask.candidates, ask.mode, &signals, &RuleSet::default());
    let (run_id, rr) = (ask.run_id.clone(), r.clone());
    with_engine(engine, move |e| {
        if let Some(e) = e {
            e.record(
                run_id.as_deref(),
                &RunEvent::Selection {
                    winner: rr.winner,
                    test_signal: rr.test_signal,
                    requires_review: rr.requires_review,
                },
            )?;
        }
        Ok(())
    })
    .await?;
    Ok(r)
}
