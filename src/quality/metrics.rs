//! Paper-aligned metrics from the audit trail: consults per stage, coordination overhead
//! against a single agent (Kim et al.'s O%), the red-flag rate (MAKER's v), vote samples
//! against MAKER's expectation, and how many selections test results backed.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::store::Event;

#[derive(Debug, Clone, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct StageMetrics {
    pub visits: u64,
    pub consults: u64,
    pub consults_per_visit: f64,
    pub approved: u64,
    pub sent_back: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Metrics {
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
}

/// Computes the metrics from events (one run's, or every run's).
#[must_use]
pub fn compute(events: &[Event]) -> Metrics {
    let mut m = Metrics::default();
    let mut runs = std::collections::BTreeSet::new();
    let mut expected = 0.0;
    let mut any_expected = false;
    for e in events {
        if !e.run_id.is_empty() {
            runs.insert(e.run_id.clone());
        }
        let stage = e.data["stage"].as_str().unwrap_or("").to_string();
        match e.kind.as_str() {
            "stage_entered" => m.stages.entry(stage).or_default().visits += 1,
            "consult_charged" => {
                let n = e.data["n"].as_u64().unwrap_or(1);
                m.consults += n;
                m.stages.entry(stage).or_default().consults += n;
            }
            "stage_outcome" => {
                let s = m.stages.entry(stage).or_default();
                if e.data["success"] == true {
                    s.approved += 1;
                } else {
                    s.sent_back += 1;
                }
            }
            "output_accepted" => m.red_flag_checked += 1,
            "output_refused" => {
                m.red_flag_checked += 1;
                if e.data["code"] == "red_flag" {
                    m.red_flagged += 1;
                }
            }
            "vote" => {
                m.votes += 1;
                let samples = e.data["samples"].as_u64().unwrap_or(0);
                let discarded = e.data["discarded"].as_u64().unwrap_or(0);
                m.vote_samples += samples;
                m.red_flag_checked +=
                    samples.saturating_sub(e.data["unavailable"].as_u64().unwrap_or(0));
                m.red_flagged += discarded;
                if let Some(x) = e.data["expected_samples"].as_f64() {
                    expected += x;
                    any_expected = true;
                }
            }
            "selection" => {
                m.selections += 1;
                if e.data["test_signal"] == true {
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
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(run: &str, kind: &str, data: serde_json::Value) -> Event {
        Event {
            seq: 0,
            run_id: run.into(),
            at: 0,
            kind: kind.into(),
            data,
        }
    }

    #[test]
    fn metrics_add_up() {
        let events = vec![
            ev("r1", "stage_entered", json!({"stage": "analyze"})),
            ev("r1", "consult_charged", json!({"stage": "analyze", "n": 2})),
            ev("r1", "output_refused", json!({"code": "red_flag"})),
            ev("r1", "output_accepted", json!({"stage": "analyze"})),
            ev(
                "r1",
                "stage_outcome",
                json!({"stage": "analyze", "success": true}),
            ),
            ev("r2", "stage_entered", json!({"stage": "analyze"})),
            ev(
                "r2",
                "vote",
                json!({"samples": 5, "discarded": 1, "unavailable": 0, "expected_samples": 3.5}),
            ),
            ev("r2", "selection", json!({"test_signal": true})),
            ev("r2", "selection", json!({"test_signal": false})),
        ];
        let m = compute(&events);
        assert_eq!((m.runs, m.consults), (2, 2));
        assert_eq!(m.stages["analyze"].visits, 2);
        assert!((m.coordination_overhead_percent - 100.0).abs() < 1e-9);
        assert_eq!((m.red_flag_checked, m.red_flagged), (7, 2));
        assert_eq!(m.vote_samples_expected, Some(3.5));
        assert_eq!(m.test_signal_share, Some(0.5));
        assert_eq!(compute(&[]).red_flag_pass_rate, None);
    }
}
