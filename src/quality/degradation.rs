//! When a run falls back to one agent (the seed's degraded mode): the six triggers, the
//! counts one run keeps toward the last two, and what the fallback changes.

use std::collections::HashSet;

use serde::Serialize;

use super::coordinate::{Outcome, Topology};

/// The seed's six reasons to fall back to one agent. The first four read the outcomes recorded
/// in the project and one round's answers (advice from `coordinate`); the last two count what
/// went wrong in one run, and the engine applies [`DegradedMode`] to that run when one fires.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Trigger {
    /// The topology fails more than 1.2× as often as one agent.
    Amplification,
    /// Five or more stages run this way, under 30% of them succeeding, at over 1.5× the cost.
    FailingAndDear,
    /// Its mean coordination overhead is over the preset's cap.
    Overhead,
    /// The agents' answers overlap more than 85%.
    Redundancy,
    /// [`MAX_FORMAT_ERRORS`] outputs of the run were refused (schema or red flags).
    FormatErrors,
    /// [`MAX_OVERHEAD_VIOLATIONS`] visits of the run went over the preset's overhead cap.
    OverheadViolations,
}

impl Trigger {
    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Trigger::Amplification => "amplification",
            Trigger::FailingAndDear => "failing_and_dear",
            Trigger::Overhead => "overhead",
            Trigger::Redundancy => "redundancy",
            Trigger::FormatErrors => "format_errors",
            Trigger::OverheadViolations => "overhead_violations",
        }
    }
}

/// Refused outputs in one run that make it fall back (the seed's "format errors": a strict
/// parser refuses, nothing is repaired, and confusion tends to repeat).
pub(crate) const MAX_FORMAT_ERRORS: u32 = 3;

/// Visits over the preset's overhead cap in one run that make it fall back.
pub(crate) const MAX_OVERHEAD_VIOLATIONS: u32 = 2;

/// What one run counts toward the run-level triggers.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub(crate) struct RunStrain {
    /// Outputs `submit` refused (schema or red flags).
    pub refused_answers: u32,
    /// Visits whose consults went over the preset's overhead cap (counted once per visit).
    pub overhead_violations: u32,
}

impl RunStrain {
    /// The run-level triggers these counts fire, in the seed's order.
    #[must_use]
    pub(crate) fn triggers(self) -> Vec<Trigger> {
        let mut out = Vec::new();
        if self.refused_answers >= MAX_FORMAT_ERRORS {
            out.push(Trigger::FormatErrors);
        }
        if self.overhead_violations >= MAX_OVERHEAD_VIOLATIONS {
            out.push(Trigger::OverheadViolations);
        }
        out
    }
}

/// Whether a visit's `consults` (its overhead over the single agent's own turn) are over the
/// preset's cap.
#[must_use]
pub(crate) fn over_cap(consults: u32, max_overhead: f64) -> bool {
    f64::from(consults) > max_overhead
}

/// What a run in degraded mode works with for the rest of its life (the seed's fallback): less
/// context, so a confused agent has less to get lost in; more patience with each provider; one
/// provider per question, never an ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub(crate) struct DegradedMode {
    /// Packed context (characters) is cut to this share of the stage's limit.
    pub context_factor: f64,
    /// Every provider call may take this many times its configured timeout.
    pub timeout_factor: f64,
    /// Providers asked per question.
    pub providers: u32,
}

/// The seed's degraded mode: context × 0.7, timeouts × 1.5, one provider.
pub(crate) const DEGRADED: DegradedMode = DegradedMode {
    context_factor: 0.7,
    timeout_factor: 1.5,
    providers: 1,
};

impl DegradedMode {
    /// A character budget cut by [`DegradedMode::context_factor`] (at least 1).
    #[must_use]
    pub(crate) fn chars(self, chars: usize) -> usize {
        ((chars as f64 * self.context_factor) as usize).max(1)
    }
}

/// Whether a setup should fall back to a single agent, and every trigger that says so.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct Degradation {
    pub degrade: bool,
    /// Why, from the first trigger that fired.
    pub reason: String,
    /// Every trigger that fired, in the seed's order.
    pub triggers: Vec<Trigger>,
    pub error_amplification: Option<f64>,
    pub redundancy: Option<f64>,
}

/// Mean pairwise Jaccard similarity of the answers' word sets.
#[must_use]
pub(crate) fn redundancy(answers: &[String]) -> Option<f64> {
    let sets: Vec<HashSet<String>> = answers
        .iter()
        .map(|a| {
            a.to_lowercase()
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .filter(|s: &HashSet<String>| !s.is_empty())
        .collect();
    let mut sims = Vec::new();
    for i in 0..sets.len() {
        for j in i + 1..sets.len() {
            let inter = sets[i].intersection(&sets[j]).count() as f64;
            let union = sets[i].union(&sets[j]).count() as f64;
            sims.push(inter / union);
        }
    }
    (!sims.is_empty()).then(|| sims.iter().sum::<f64>() / sims.len() as f64)
}

/// Checks recent outcomes of a multi-agent topology against single-agent ones, their
/// coordination overhead against the preset's cap (`max_overhead`), the overlap of `answers`,
/// and one run's counts (`run`: refused outputs, visits over the cap). The run-level triggers
/// fire whatever the topology: degraded mode also cuts context and stretches timeouts.
#[must_use]
pub(crate) fn degradation(
    topology: Topology,
    outcomes: &[Outcome],
    answers: &[String],
    max_overhead: f64,
    run: RunStrain,
) -> Degradation {
    let rate = |t: Topology| {
        let xs: Vec<&Outcome> = outcomes.iter().filter(|o| o.topology == t).collect();
        (!xs.is_empty()).then(|| xs.iter().filter(|o| !o.success).count() as f64 / xs.len() as f64)
    };
    // Without single-agent outcomes, assume the paper's SAS failure rate (1 − 0.466 ≈ 0.53
    // is the benchmark mean; 0.3 is the seed's working figure) — 0.3 keeps the check strict.
    let sas = rate(Topology::Sas).filter(|r| *r > 0.0).unwrap_or(0.3);
    let amp = rate(topology).map(|r| r / sas);
    let red = redundancy(answers);
    let mine: Vec<f64> = outcomes
        .iter()
        .filter(|o| o.topology == topology)
        .map(|o| o.overhead)
        .collect();
    // Three outcomes at least, so one expensive stage does not decide.
    let overhead = (mine.len() >= 3).then(|| mine.iter().sum::<f64>() / mine.len() as f64);
    let mut fired: Vec<(Trigger, String)> = Vec::new();
    if topology != Topology::Sas {
        if let Some(a) = amp.filter(|a| *a > 1.2) {
            fired.push((
                Trigger::Amplification,
                format!("errors are {a:.1}× the single agent's: fall back to one agent"),
            ));
        }
        if mine.len() >= 5
            && rate(topology).is_some_and(|r| r > 0.7)
            && overhead.is_some_and(|o| o > 1.5)
        {
            fired.push((
                Trigger::FailingAndDear,
                format!(
                    "{} of the last {} stages run this way failed, at {:.1}× a single agent's cost: fall back to one agent",
                    outcomes
                        .iter()
                        .filter(|o| o.topology == topology && !o.success)
                        .count(),
                    mine.len(),
                    overhead.unwrap_or_default()
                ),
            ));
        }
        if let Some(o) = overhead.filter(|o| *o > max_overhead) {
            fired.push((
                Trigger::Overhead,
                format!(
                    "coordination costs {o:.1}× a single agent here, over the preset's cap of {max_overhead}: fall back to one agent"
                ),
            ));
        }
        if let Some(r) = red.filter(|r| *r > 0.85) {
            fired.push((
                Trigger::Redundancy,
                format!(
                    "the agents' answers overlap {:.0}%: the extra agents add cost, not information",
                    r * 100.0
                ),
            ));
        }
    }
    for t in run.triggers() {
        let why = match t {
            Trigger::FormatErrors => format!(
                "{} outputs of this run were refused (the limit is {MAX_FORMAT_ERRORS})",
                run.refused_answers
            ),
            _ => format!(
                "{} visits of this run went over the preset's overhead cap of {max_overhead} (the limit is {MAX_OVERHEAD_VIOLATIONS})",
                run.overhead_violations
            ),
        };
        fired.push((
            t,
            format!("{why}: degraded mode, one provider, less context, longer timeouts"),
        ));
    }
    let reason = match fired.first() {
        Some((_, why)) => why.clone(),
        None if topology == Topology::Sas => "already a single agent".to_string(),
        None => "no sign of degradation".to_string(),
    };
    Degradation {
        degrade: !fired.is_empty(),
        reason,
        triggers: fired.into_iter().map(|(t, _)| t).collect(),
        error_amplification: amp,
        redundancy: red,
    }
}
