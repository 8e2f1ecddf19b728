//! `vote`: MAKER's first-to-ahead-by-k voting over samples from providers. Every sample of a
//! run is charged first; when the budget refuses, the vote stops with `stop_reason: budget`.

use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{choose, with_engine};
use crate::engine::FailureCode;
use crate::engine::work::{EvidenceData, EvidenceKind, Note};
use crate::engine::{Engine, Failure, RunEvent};
use crate::providers::{ProviderSet, Request};
use crate::quality::redflag::RuleSet;
use crate::quality::steps;
use crate::quality::vote::{self, Format, SampleError, VoteConfig, VoteResult};

/// What to vote on (the `vote` tool's arguments; `///` lines reach the model).
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoteAsk {
    pub question: String,
    /// Default: the step's, the stage's, or 3.
    pub k: Option<u32>,
    #[serde(default)]
    pub providers: Vec<String>,
    pub max_samples: Option<u32>,
    pub format: Option<Format>,
    /// JSON Schema for answers.
    #[schemars(with = "Option<std::collections::BTreeMap<String, Value>>")]
    pub schema: Option<Value>,
    /// Micro-step, e.g. s1_spec_extract.
    pub step: Option<String>,
    pub run_id: Option<String>,
}

/// The settings a vote takes from the run's stage, when there is a run.
struct StageVote {
    k: Option<u32>,
    max_samples: Option<u32>,
    max_agents: u32,
}

fn stage_vote(e: Option<&Engine>, run_id: Option<&str>) -> Result<StageVote, Failure> {
    let (e, id) = match (e, run_id) {
        (Some(e), Some(id)) => (e, id),
        // A run's samples must be charged: no engine, no vote for the run.
        (None, Some(_)) => return Err(super::no_state()),
        _ => {
            return Ok(StageVote {
                k: None,
                max_samples: None,
                max_agents: crate::workflow::DEFAULT_MAX_AGENTS,
            });
        }
    };
    let (run, wf) = e.read_run(id)?;
    let vote = run
        .stage
        .as_deref()
        .and_then(|s| wf.workflow().stage(s))
        .and_then(|s| s.settings.vote.clone());
    Ok(StageVote {
        k: vote.as_ref().and_then(|v| v.k),
        max_samples: vote.as_ref().and_then(|v| v.max_samples),
        max_agents: wf.workflow().policy.max_agents,
    })
}

/// Runs a vote, charging each sample to the run it belongs to ([`Engine::payer`]: the named
/// run, else the calling `session`'s).
///
/// # Errors
/// An unknown micro-step, provider or run (before anything is asked).
pub(crate) async fn run(
    engine: Option<&Arc<Engine>>,
    set: Arc<ProviderSet>,
    ask: VoteAsk,
    session: Option<String>,
    cancel: &CancellationToken,
) -> Result<VoteResult, Failure> {
    let step = match &ask.step {
        Some(name) => Some(steps::get(name).ok_or_else(|| {
            Failure::new(
                FailureCode::UnknownStep,
                format!(
                    "no micro-step `{}`",
                    name.chars().take(80).collect::<String>()
                ),
                format!("use one of: {}", steps::names().join(", ")),
            )
        })?),
        None => None,
    };
    let (s, given, rid) = (set.clone(), ask.providers.clone(), ask.run_id.clone());
    let (names, stage, payer) = with_engine(engine, move |e| {
        let payer = super::payer(e, rid.as_deref(), None, session.as_deref())?;
        let rid = payer.run_id();
        Ok((choose(e, &given, rid, &s)?, stage_vote(e, rid)?, payer))
    })
    .await?;
    let k = ask
        .k
        .or(step.as_ref().map(|s| s.default_k))
        .or(stage.k)
        .unwrap_or(3);
    let mut rules = step
        .as_ref()
        .map_or_else(RuleSet::maker, steps::MicroStep::rule_set);
    if let Some(schema) = &ask.schema {
        rules.schema = Some(schema.clone());
    }
    let format = if ask.format == Some(Format::Json) || rules.schema.is_some() {
        Format::Json
    } else {
        Format::Text
    };
    let cfg = VoteConfig {
        k,
        max_samples: ask.max_samples.or(stage.max_samples).unwrap_or(k * 4 + 4),
        batch: stage.max_agents,
        format,
        rules,
    };
    let names = Arc::new(names);
    let question = Arc::new(ask.question.clone());
    let sampler = |i: usize| {
        let (set, names, question, cancel) =
            (set.clone(), names.clone(), question.clone(), cancel.clone());
        let (engine, payer) = (engine.cloned(), payer.clone());
        async move {
            let (ticket, _) = with_engine(engine.as_ref(), move |e| {
                super::pay_one(e, &payer, "vote sample")
            })
            .await
            .map_err(|f| SampleError::Budget(f.message))?;
            let req = Request {
                provider: names[i % names.len()].clone(),
                prompt: (*question).clone(),
                ..Request::default()
            };
            set.consult(ticket, &req, &cancel)
                .await
                .map(|a| a.text)
                .map_err(|e| SampleError::Unavailable(e.to_string()))
        }
    };
    let r = vote::vote(sampler, &cfg).await;
    let (run_id, rr) = (payer.run_id().map(str::to_string), r.clone());
    with_engine(engine, move |e| {
        let Some(e) = e else { return Ok(()) };
        e.record(
            run_id.as_deref(),
            &RunEvent::Vote {
                k: rr.k,
                samples: rr.samples,
                votes: rr.votes,
                discarded: rr.discarded,
                unavailable: rr.unavailable,
                converged: rr.converged,
                stop_reason: rr.stop_reason,
                expected_samples: None,
            },
        )?;
        if run_id.is_some() {
            e.note(&Note {
                run_id,
                kind: EvidenceKind::Consensus,
                content: format!(
                    "vote {}: {}",
                    rr.stop_reason,
                    rr.winner
                        .clone()
                        .unwrap_or_default()
                        .chars()
                        .take(500)
                        .collect::<String>()
                ),
                source: Some(format!("vote k={}", rr.k)),
                links: Vec::new(),
                data: EvidenceData::Vote {
                    samples: rr.samples,
                    margin: rr.margin,
                },
            })?;
        }
        Ok(())
    })
    .await?;
    Ok(r)
}
