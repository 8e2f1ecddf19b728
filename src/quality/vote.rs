//! First-to-ahead-by-k voting (MAKER Alg. 2) with red-flagging (Alg. 3).
//!
//! The first k samples are drawn in parallel, then batches of exactly the votes the leader
//! still needs (bounded by `max-agents`), until one answer leads every other by k or the
//! sample budget is spent. Votes are counted in draw order, so the outcome is the sequential
//! rule's; later samples of a deciding batch are drawn but not counted. Answers are compared
//! on a canonical form: parsed JSON with sorted keys, or whitespace- and case-normalised text.

use std::collections::BTreeMap;
use std::future::Future;

use serde::Serialize;
use serde_json::Value;

use super::redflag::{self, Flag, FlagRule, RuleSet};

/// How answers are compared.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Text,
    Json,
}

/// A vote's settings.
#[derive(Debug, Clone)]
pub struct VoteConfig {
    pub k: u32,
    pub max_samples: u32,
    /// Samples drawn at once at most (the workflow's `max-agents`).
    pub batch: u32,
    pub format: Format,
    pub rules: RuleSet,
}

/// One answer class and its votes.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct Tally {
    pub answer: String,
    pub votes: u32,
}

/// Why a vote stopped.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StopReason {
    /// One answer led every other by k.
    AheadByK,
    /// The sample limit was reached first.
    MaxSamples,
    /// Samples came back, but none was a valid vote.
    NoValidVotes,
    /// Every provider failed.
    Unavailable,
    /// The run's budget refused the next sample.
    Budget,
}

impl StopReason {
    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            StopReason::AheadByK => "ahead_by_k",
            StopReason::MaxSamples => "max_samples",
            StopReason::NoValidVotes => "no_valid_votes",
            StopReason::Unavailable => "unavailable",
            StopReason::Budget => "budget",
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one sample did not come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleError {
    /// The provider failed; the vote goes on with others.
    Unavailable(String),
    /// The run's budget refused it; the vote stops here.
    Budget(String),
}

/// The outcome of a vote.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct VoteResult {
    /// The winning answer as first given (None when nothing valid came back).
    pub winner: Option<String>,
    /// Its canonical form.
    pub canonical: Option<String>,
    /// Lead over the runner-up.
    pub margin: u32,
    pub converged: bool,
    pub(crate) stop_reason: StopReason,
    /// The budget's refusal, when the budget stopped the vote.
    pub budget_refusal: Option<String>,
    /// Samples drawn (including discarded and uncounted ones).
    pub samples: u32,
    /// Votes counted towards the decision.
    pub votes: u32,
    /// Samples discarded by the red flags.
    pub discarded: u32,
    /// Samples whose provider failed.
    pub unavailable: u32,
    pub(crate) distribution: Vec<Tally>,
    /// Why samples were discarded, by rule (`invalid_json` also counts answers that do not
    /// parse as the canonical JSON form).
    pub(crate) flags: BTreeMap<FlagRule, u32>,
    pub k: u32,
}

fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// The form answers are compared on; `None` when a JSON answer does not parse.
#[must_use]
pub(crate) fn canonical(answer: &str, format: Format) -> Option<String> {
    match format {
        Format::Json => redflag::extract_json(answer).map(|v| sort_keys(v).to_string()),
        Format::Text => Some(
            answer
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase(),
        ),
    }
}

/// Runs a vote. `sample(i)` produces the i-th sample (a caller picks providers round-robin).
pub async fn vote<F, Fut>(sample: F, cfg: &VoteConfig) -> VoteResult
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<String, SampleError>>,
{
    let k = cfg.k.max(1);
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    let mut first_text: BTreeMap<String, String> = BTreeMap::new();
    let mut flags: BTreeMap<FlagRule, u32> = BTreeMap::new();
    let (mut drawn, mut votes, mut discarded, mut unavailable) = (0u32, 0u32, 0u32, 0u32);
    let mut decided: Option<String> = None;
    let mut budget_refusal: Option<String> = None;
    let lead = |counts: &BTreeMap<String, u32>| -> (Option<String>, u32) {
        let mut sorted: Vec<(&String, &u32)> = counts.iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        match sorted.as_slice() {
            [] => (None, 0),
            [(a, n)] => (Some((*a).clone()), **n),
            [(a, n), (_, m), ..] => (Some((*a).clone()), **n - **m),
        }
    };
    let mut need = k;
    while decided.is_none() && budget_refusal.is_none() && drawn < cfg.max_samples {
        let n = need
            .min(cfg.batch.max(1))
            .min(cfg.max_samples - drawn)
            .max(1);
        let futs: Vec<_> = (drawn..drawn + n).map(|i| sample(i as usize)).collect();
        let results = crate::join::join_all(futs).await;
        drawn += n;
        let mut all_failed = true;
        for r in results {
            if decided.is_some() {
                break;
            }
            let text = match r {
                Ok(t) => {
                    all_failed = false;
                    t
                }
                Err(SampleError::Unavailable(_)) => {
                    unavailable += 1;
                    continue;
                }
                Err(SampleError::Budget(why)) => {
                    // Not a sample: nothing was asked. Later results of the batch still count.
                    drawn -= 1;
                    budget_refusal.get_or_insert(why);
                    all_failed = false;
                    continue;
                }
            };
            let tripped: Vec<Flag> = redflag::check(&text, &cfg.rules);
            let Some(key) = tripped
                .is_empty()
                .then(|| canonical(&text, cfg.format))
                .flatten()
            else {
                discarded += 1;
                for f in &tripped {
                    *flags.entry(f.rule).or_default() += 1;
                }
                if tripped.is_empty() {
                    *flags.entry(FlagRule::InvalidJson).or_default() += 1;
                }
                continue;
            };
            votes += 1;
            *counts.entry(key.clone()).or_default() += 1;
            first_text.entry(key).or_insert(text);
            let (leader, margin) = lead(&counts);
            if margin >= k {
                decided = leader;
            }
        }
        if all_failed && votes == 0 && discarded == 0 {
            break;
        }
        let (_, margin) = lead(&counts);
        need = k.saturating_sub(margin).max(1);
    }
    let (leader, margin) = lead(&counts);
    let mut distribution: Vec<Tally> = counts
        .iter()
        .map(|(a, v)| Tally {
            answer: a.clone(),
            votes: *v,
        })
        .collect();
    distribution.sort_by(|a, b| b.votes.cmp(&a.votes).then(a.answer.cmp(&b.answer)));
    let stop_reason = if decided.is_some() {
        StopReason::AheadByK
    } else if budget_refusal.is_some() {
        StopReason::Budget
    } else if votes == 0 && discarded == 0 && unavailable > 0 {
        StopReason::Unavailable
    } else if votes == 0 {
        StopReason::NoValidVotes
    } else {
        StopReason::MaxSamples
    };
    VoteResult {
        winner: leader.as_ref().and_then(|l| first_text.get(l).cloned()),
        canonical: leader,
        margin,
        converged: decided.is_some(),
        stop_reason,
        budget_refusal,
        samples: drawn,
        votes,
        discarded,
        unavailable,
        distribution,
        flags,
        k,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use std::sync::Mutex;

    fn cfg(k: u32, max: u32, format: Format) -> VoteConfig {
        VoteConfig {
            k,
            max_samples: max,
            batch: 3,
            format,
            rules: RuleSet::default(),
        }
    }

    fn block<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn json_answers_are_compared_canonically_nested_ones_too() {
        let answers = [
            "{\"b\": 1, \"a\": {\"y\": 2, \"x\": [1, {\"q\": 1, \"p\": 2}]}}",
            "```json\n{\"a\": {\"x\": [1, {\"p\": 2, \"q\": 1}], \"y\": 2}, \"b\": 1}\n```",
            "{\"a\": {\"x\": [1, {\"p\": 2, \"q\": 1}], \"y\": 2},\n \"b\": 1}",
        ];
        let r = block(vote(
            |i| async move { Ok(answers[i % 3].to_string()) },
            &cfg(3, 10, Format::Json),
        ));
        assert!(r.converged, "{r:?}");
        assert_eq!((r.votes, r.samples, r.margin), (3, 3, 3));
    }

    #[test]
    fn red_flags_discard_and_unavailable_providers_do_not_crash() {
        let r = block(vote(
            |i| async move {
                Ok(if i % 2 == 0 {
                    "x".repeat(20_000)
                } else {
                    "Paris".to_string()
                })
            },
            &cfg(2, 20, Format::Text),
        ));
        assert!(r.converged);
        assert_eq!(r.canonical.as_deref(), Some("paris"));
        assert!(r.discarded >= 2 && r.flags[&FlagRule::TooLong] == r.discarded);
        let r = block(vote(
            |_| async { Err::<String, _>(SampleError::Unavailable("down".to_string())) },
            &cfg(3, 12, Format::Text),
        ));
        assert_eq!(
            (r.stop_reason.as_str(), r.converged, r.winner.clone()),
            ("unavailable", false, None)
        );
        assert!(
            r.samples <= 3,
            "kept drawing from dead providers: {}",
            r.samples
        );
    }

    #[test]
    fn a_budget_refusal_stops_the_vote_as_a_budget_stop() {
        let r = block(vote(
            |i| async move {
                if i < 2 {
                    Ok("a".to_string())
                } else {
                    Err(SampleError::Budget("2 consult(s) used".into()))
                }
            },
            &cfg(3, 12, Format::Text),
        ));
        assert_eq!(r.stop_reason, StopReason::Budget);
        assert_eq!((r.votes, r.samples, r.unavailable), (2, 2, 0));
        assert_eq!(r.budget_refusal.as_deref(), Some("2 consult(s) used"));
    }

    #[test]
    fn a_split_vote_stops_at_max_samples_with_a_plurality() {
        let r = block(vote(
            |i| async move { Ok(["a", "b", "a", "b", "a"][i % 5].to_string()) },
            &cfg(3, 5, Format::Text),
        ));
        assert!(!r.converged);
        assert_eq!(
            (
                r.stop_reason.as_str(),
                r.canonical.as_deref(),
                r.margin,
                r.samples
            ),
            ("max_samples", Some("a"), 1, 5)
        );
    }

    /// Seeded simulation: each sample is right with probability p, else a single wrong answer
    /// (MAKER's worst case). Over many voted steps the error rate must match 1 − p_sub(p, k)
    /// and the mean number of counted votes eq. 16, within 4 standard errors.
    #[test]
    fn simulated_error_rate_and_samples_match_the_formulas() {
        let (p, k, steps) = (0.7_f64, 3_u32, 4000_usize);
        let rng = Mutex::new(rand::rngs::StdRng::seed_from_u64(7));
        let mut wrong = 0usize;
        let mut votes = Vec::with_capacity(steps);
        for _ in 0..steps {
            let r = block(vote(
                |_| {
                    let right = rng.lock().unwrap().random_bool(p);
                    async move { Ok(if right { "right" } else { "wrong" }.to_string()) }
                },
                &VoteConfig {
                    k,
                    max_samples: 10_000,
                    batch: 3,
                    format: Format::Text,
                    rules: RuleSet::default(),
                },
            ));
            assert!(r.converged);
            if r.canonical.as_deref() != Some("right") {
                wrong += 1;
            }
            votes.push(f64::from(r.votes));
        }
        let err = wrong as f64 / steps as f64;
        let expected_err = 1.0 - super::super::calibrate::p_sub(p, k);
        let se = (expected_err * (1.0 - expected_err) / steps as f64).sqrt();
        assert!(
            (err - expected_err).abs() < 4.0 * se,
            "error {err} vs {expected_err} ± {se}"
        );
        let mean = votes.iter().sum::<f64>() / steps as f64;
        let var = votes.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / steps as f64;
        let expected_mean = super::super::calibrate::expected_samples(p, k);
        assert!(
            (mean - expected_mean).abs() < 4.0 * (var / steps as f64).sqrt(),
            "votes {mean} vs {expected_mean}"
        );
    }
}
