//! Paper-aligned metrics from the audit trail: consults per stage, coordination overhead
//! against a single agent (Kim et al.'s O%), the red-flag rate (MAKER's v), vote samples
//! against MAKER's expectation, and how many selections test results backed.

use std::collections::BTreeMap;

use serde::Serialize;

use super::FailureCode;
use super::events::{Logged, RunEvent};

#[derive(Debug, Clone, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct StageMetrics {
    pub visits: u64,
    pub consults: u64,
    pub consults_per_visit: f64,
    pub approved: u64,
    pub sent_back: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct Metrics {
    pub runs: u64,
    pub stages: BTreeMap<String, StageMetrics>,
    pub consults: u64,
    /// (turns − single-agent turns) / single-agent turns × 100, where a single agent takes one
    /// turn per stage visit and every consult adds one.
    pub coordination_overhead_percent: f64,
    /// Outputs and samples checked by red flags, and how many were discarded.
    pub red_flag_checked: u64,
    pub red_flagged: u64,
    /// MAKER's v: the share that passed.
    pub red_flag_pass_rate: Option<f64>,
    pub votes: u64,
    pub vote_samples: u64,
    /// Σ of MAKER's expected samples for the votes whose p was known.
    pub vote_samples_expected: Option<f64>,
    pub selections: u64,
    pub selections_with_tests: u64,
    pub test_signal_share: Option<f64>,
    /// Kim et al.'s efficiency: the share of stage outcomes approved, divided by the turns
    /// taken relative to a single agent (1 + overhead).
    pub efficiency: Option<f64>,
    /// Each figure against the seed's target: overhead < 300%, efficiency > 0.4, selections
    /// backed by tests > 80%.
    pub targets: Vec<Target>,
}

/// One figure against its target.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
#[allow(
    clippy::struct_field_names,
    reason = "`target` is a field of the metrics JSON the tools return"
)]
pub(crate) struct Target {
    pub name: String,
    pub value: f64,
    /// The bound, e.g. `< 300` or `> 0.4`.
    pub target: String,
    pub met: bool,
}

fn target(name: &str, value: f64, bound: f64, below: bool) -> Target {
    Target {
        name: name.to_string(),
        value,
        target: format!("{} {bound}", if below { "<" } else { ">" }),
        met: if below { value < bound } else { value > bound },
    }
}

/// Computes the metrics from events (one run's, or every run's).
#[must_use]
pub(crate) fn compute(events: &[Logged]) -> Metrics {
    let mut m = Metrics::default();
    let mut runs = std::collections::BTreeSet::new();
    let mut expected = 0.0;
    let mut any_expected = false;
    for e in events {
        if !e.run_id.is_empty() {
            runs.insert(e.run_id.clone());
        }
        let stage = e.event.stage().unwrap_or("").to_string();
        match &e.event {
            RunEvent::StageEntered { .. } => m.stages.entry(stage).or_default().visits += 1,
            RunEvent::ConsultCharged { n, .. } => {
                m.consults += u64::from(*n);
                m.stages.entry(stage).or_default().consults += u64::from(*n);
            }
            RunEvent::StageOutcome { success, .. } => {
                let s = m.stages.entry(stage).or_default();
                if *success {
                    s.approved += 1;
                } else {
                    s.sent_back += 1;
                }
            }
            RunEvent::OutputAccepted { .. } => m.red_flag_checked += 1,
            RunEvent::OutputRefused { code, .. } => {
                m.red_flag_checked += 1;
                if *code == FailureCode::RedFlag {
                    m.red_flagged += 1;
                }
            }
            RunEvent::Vote {
                samples,
                discarded,
                unavailable,
                expected_samples,
                ..
            } => {
                m.votes += 1;
                m.vote_samples += u64::from(*samples);
                m.red_flag_checked += u64::from(samples.saturating_sub(*unavailable));
                m.red_flagged += u64::from(*discarded);
                if let Some(x) = expected_samples {
                    expected += x;
                    any_expected = true;
                }
            }
            RunEvent::Selection { test_signal, .. } => {
                m.selections += 1;
                if *test_signal {
                    m.selections_with_tests += 1;
                }
            }
            _ => {}
        }
    }
    m.runs = runs.len() as u64;
    let visits: u64 = m.stages.values().map(|s| s.visits).sum();
    for s in m.stages.values_mut() {
        s.consults_per_visit = if s.visits == 0 {
            0.0
        } else {
            s.consults as f64 / s.visits as f64
        };
    }
    m.coordination_overhead_percent = if visits == 0 {
        0.0
    } else {
        m.consults as f64 / visits as f64 * 100.0
    };
    m.red_flag_pass_rate =
        (m.red_flag_checked > 0).then(|| 1.0 - m.red_flagged as f64 / m.red_flag_checked as f64);
    m.vote_samples_expected = any_expected.then_some(expected);
    m.test_signal_share =
        (m.selections > 0).then(|| m.selections_with_tests as f64 / m.selections as f64);
    let (approved, sent_back): (u64, u64) = m
        .stages
        .values()
        .fold((0, 0), |(a, b), s| (a + s.approved, b + s.sent_back));
    m.efficiency = (approved + sent_back > 0).then(|| {
        approved as f64
            / (approved + sent_back) as f64
            / (1.0 + m.coordination_overhead_percent / 100.0)
    });
    if visits > 0 {
        m.targets.push(target(
            "coordination_overhead_percent",
            m.coordination_overhead_percent,
            300.0,
            true,
        ));
    }
    if let Some(e) = m.efficiency {
        m.targets.push(target("efficiency", e, 0.4, false));
    }
    if let Some(t) = m.test_signal_share {
        m.targets.push(target("test_signal_share", t, 0.8, false));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::vote::StopReason;
    use crate::workflow::Topology;

    fn ev(run: &str, event: RunEvent) -> Logged {
        Logged {
            seq: 0,
            run_id: run.into(),
            at: 0,
            event,
        }
    }

    fn selection(test_signal: bool) -> RunEvent {
        RunEvent::Selection {
            winner: None,
            test_signal,
            requires_review: false,
            none_passed: false,
        }
    }

    #[test]
    fn metrics_add_up() {
        let entered = || RunEvent::StageEntered {
            stage: "analyze".into(),
            visit: 1,
        };
        let events = vec![
            ev("r1", entered()),
            ev(
                "r1",
                RunEvent::ConsultCharged {
                    stage: Some("analyze".into()),
                    n: 2,
                    what: "consult".into(),
                    consults_used: 2,
                },
            ),
            ev(
                "r1",
                RunEvent::OutputRefused {
                    code: FailureCode::RedFlag,
                    message: None,
                    provider: None,
                    flags: None,
                },
            ),
            ev(
                "r1",
                RunEvent::OutputAccepted {
                    stage: "analyze".into(),
                    visit: 1,
                    output: serde_json::json!({}),
                    event: None,
                },
            ),
            ev(
                "r1",
                RunEvent::StageOutcome {
                    stage: "analyze".into(),
                    workflow: "w".into(),
                    topology: Topology::Sas,
                    success: true,
                    consults: 2,
                },
            ),
            ev("r2", entered()),
            ev(
                "r2",
                RunEvent::Vote {
                    k: 3,
                    samples: 5,
                    votes: 4,
                    discarded: 1,
                    unavailable: 0,
                    converged: true,
                    stop_reason: StopReason::AheadByK,
                    expected_samples: Some(3.5),
                },
            ),
            ev("r2", selection(true)),
            ev("r2", selection(false)),
        ];
        let m = compute(&events);
        assert_eq!((m.runs, m.consults), (2, 2));
        assert_eq!(m.stages["analyze"].visits, 2);
        assert!((m.coordination_overhead_percent - 100.0).abs() < 1e-9);
        assert_eq!((m.red_flag_checked, m.red_flagged), (7, 2));
        assert_eq!(m.vote_samples_expected, Some(3.5));
        assert_eq!(m.test_signal_share, Some(0.5));
        // One approved outcome at twice a single agent's turns.
        assert_eq!(m.efficiency, Some(0.5));
        let met: Vec<(&str, bool)> = m.targets.iter().map(|t| (t.name.as_str(), t.met)).collect();
        assert_eq!(
            met,
            [
                ("coordination_overhead_percent", true),
                ("efficiency", true),
                ("test_signal_share", false)
            ]
        );
        assert!(compute(&[]).targets.is_empty(), "no figure, no verdict");
        assert_eq!(compute(&[]).red_flag_pass_rate, None);
    }
}
