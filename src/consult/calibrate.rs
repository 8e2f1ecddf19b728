//! `calibrate`: MAKER's k_min and expected cost for a target success rate. When p is not
//! known it is estimated by sampling a step prompt and judging each valid sample with an
//! oracle; every sample of a run is charged first, and at most [`MAX_SAMPLES`] are drawn.
//! Asked for no calibration at all, it lists the micro-steps (free: nothing is asked).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::with_engine;
use crate::engine::FailureCode;
use crate::engine::{Engine, Failure};
use crate::providers::{ProviderSet, Request};
use crate::quality::calibrate::{self, Calibration, Estimate};
use crate::quality::redflag::{self, RuleSet};
use crate::quality::{steps, vote};

/// The most samples one calibration may draw.
pub(crate) const MAX_SAMPLES: u32 = 50;

/// How a sample is judged correct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Oracle {
    /// The answer equals this one (compared canonically: as JSON when both parse, else as
    /// whitespace- and case-normalised text).
    Expected(Value),
    /// The answer is JSON that satisfies this schema.
    Schema(Value),
}

impl Oracle {
    /// Whether the oracle accepts a sample.
    #[must_use]
    pub(crate) fn accepts(&self, answer: &str) -> bool {
        match self {
            Oracle::Expected(expected) => {
                let want = expected
                    .as_str()
                    .map_or_else(|| expected.to_string(), str::to_string);
                vote::canonical(answer, vote::Format::Text)
                    == vote::canonical(&want, vote::Format::Text)
                    || (redflag::extract_json(answer).is_some()
                        && vote::canonical(answer, vote::Format::Json)
                            == vote::canonical(&want, vote::Format::Json))
            }
            Oracle::Schema(schema) => redflag::check(
                answer,
                &RuleSet {
                    schema: Some(schema.clone()),
                    max_chars: None,
                    min_chars: None,
                    ..RuleSet::default()
                },
            )
            .is_empty(),
        }
    }
}

/// What to calibrate (the `calibrate` tool's arguments; `///` lines reach the model).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CalibrateAsk {
    /// Per-step accuracy.
    pub p: Option<f64>,
    /// Or sample this to estimate p.
    pub step_prompt: Option<String>,
    /// `{"expected": …}` or `{"schema": {…}}`.
    #[serde(rename = "oracle_check")]
    #[schemars(with = "Option<std::collections::BTreeMap<String, Value>>")]
    pub oracle: Option<Oracle>,
    /// Default 10, at most 50.
    pub samples: Option<u32>,
    pub provider: Option<String>,
    /// 0..1, whole task.
    pub target: Option<f64>,
    pub steps: Option<f64>,
    pub step: Option<String>,
    pub cost_per_sample: Option<f64>,
    pub run_id: Option<String>,
}

/// The calibration, and the estimate of p when it was measured.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Calibrated {
    /// Absent when the micro-steps were listed instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    pub estimate: Option<Estimate>,
    /// Why sampling stopped early (the budget), if it did.
    pub stopped: Option<String>,
    /// The micro-steps (stage, default k, schema, rules), when asked for no calibration.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub micro_steps: Vec<steps::MicroStep>,
}

impl CalibrateAsk {
    /// Nothing to calibrate was given: the caller wants the micro-steps.
    #[must_use]
    pub(crate) fn is_listing(&self) -> bool {
        self.p.is_none()
            && self.step_prompt.is_none()
            && self.oracle.is_none()
            && self.target.is_none()
            && self.steps.is_none()
    }
}

fn unknown_step(name: &str) -> Failure {
    bad(
        FailureCode::UnknownStep,
        format!(
            "no micro-step `{}`",
            name.chars().take(80).collect::<String>()
        ),
        format!("use one of: {}", steps::names().join(", ")),
    )
}

/// The micro-steps, or the one named.
///
/// # Errors
/// An unknown step name.
pub(crate) fn list(step: Option<&str>) -> Result<Vec<steps::MicroStep>, Failure> {
    match step {
        Some(name) => Ok(vec![steps::get(name).ok_or_else(|| unknown_step(name))?]),
        None => Ok(steps::all()),
    }
}

fn bad(code: FailureCode, message: impl Into<String>, help: impl Into<String>) -> Failure {
    Failure::new(code, message, help)
}

/// Calibrates, sampling when p must be estimated.
///
/// # Errors
/// Missing inputs, too many samples, an unknown provider or run, a budget that paid for no
/// sample, or inputs the formulas refuse.
pub(crate) async fn run(
    engine: Option<&Arc<Engine>>,
    set: Arc<ProviderSet>,
    ask: CalibrateAsk,
    session: Option<String>,
    cancel: &CancellationToken,
) -> Result<Calibrated, Failure> {
    if ask.is_listing() {
        return Ok(Calibrated {
            calibration: None,
            estimate: None,
            stopped: None,
            micro_steps: list(ask.step.as_deref())?,
        });
    }
    let (Some(target), Some(total_steps)) = (ask.target, ask.steps) else {
        let missing: Vec<&str> = [("target", ask.target), ("steps", ask.steps)]
            .into_iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k)
            .collect();
        return Err(bad(
            FailureCode::MissingInput,
            format!("a calibration needs `{}`", missing.join("` and `")),
            "give `target` (the whole task's success rate, 0..1) and `steps` (how many steps the task has); call `calibrate` with none of p, step_prompt, target and steps to list the micro-steps",
        ));
    };
    let rules = match ask.step.as_deref() {
        Some(name) => steps::get(name)
            .ok_or_else(|| unknown_step(name))?
            .rule_set(),
        None => RuleSet::maker(),
    };
    let (p, v, estimate, stopped) = match (ask.p, &ask.step_prompt) {
        (Some(p), _) => (p, 1.0, None, None),
        (None, Some(prompt)) => {
            let oracle = ask.oracle.clone().ok_or_else(|| {
                bad(
                    FailureCode::MissingOracle,
                    "estimating p needs `oracle_check`",
                    "give {\"expected\": \"…\"} or {\"schema\": {…}}",
                )
            })?;
            let n = ask.samples.unwrap_or(10);
            if n > MAX_SAMPLES {
                return Err(bad(
                    FailureCode::TooManySamples,
                    format!("{n} samples asked; one calibration draws at most {MAX_SAMPLES}"),
                    format!("ask for {MAX_SAMPLES} or fewer"),
                ));
            }
            let (s, given, rid) = (
                set.clone(),
                ask.provider.iter().cloned().collect::<Vec<_>>(),
                ask.run_id.clone(),
            );
            let (provider, payer) = with_engine(engine, move |e| {
                let payer = super::payer(e, rid.as_deref(), None, session.as_deref())?;
                let provider = super::choose(e, &given, payer.run_id(), &s)?[0].clone();
                Ok((provider, payer))
            })
            .await?;
            let mut judged = Vec::new();
            let mut stopped = None;
            for _ in 0..n {
                let p = payer.clone();
                let ticket =
                    match with_engine(engine, move |e| super::pay_one(e, &p, "calibration sample"))
                        .await
                    {
                        Ok((ticket, _)) => ticket,
                        Err(f) if judged.is_empty() => return Err(f),
                        Err(f) => {
                            stopped = Some(f.message);
                            break;
                        }
                    };
                let req = Request {
                    provider: provider.clone(),
                    prompt: prompt.clone(),
                    ..Request::default()
                };
                let Ok(a) = set.consult(ticket, &req, cancel).await else {
                    judged.push(None);
                    continue;
                };
                if !redflag::check(&a.text, &rules).is_empty() {
                    judged.push(None);
                    continue;
                }
                judged.push(Some(oracle.accepts(&a.text)));
            }
            let e = calibrate::estimate(&judged);
            (e.p, e.v, Some(e), stopped)
        }
        (None, None) => {
            return Err(bad(
                FailureCode::MissingP,
                "give `p`, or `step_prompt` with `oracle_check` to estimate it",
                "p is the chance one sample of a step is right",
            ));
        }
    };
    let calibration = calibrate::calibrate(p, target, total_steps, v, ask.cost_per_sample)
        .map_err(|e| {
            let measured = estimate
                .as_ref()
                .map(|e| {
                    format!(
                        "; measured: {} of {} valid samples correct ({} drawn)",
                        e.correct, e.valid, e.samples
                    )
                })
                .unwrap_or_default();
            bad(
                FailureCode::CalibrationError,
                format!("{e}{measured}"),
                "check p, target and steps",
            )
        })?;
    Ok(Calibrated {
        calibration: Some(calibration),
        estimate,
        stopped,
        micro_steps: Vec::new(),
    })
}
