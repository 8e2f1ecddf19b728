//! When to use several agents (Kim et al. 2025): task features, the rule that decides the
//! topology, and calibration from recorded outcomes. When to fall back to one agent is
//! `degradation.rs`.

use std::collections::BTreeMap;

use regex::Regex;
use serde::Serialize;

pub(crate) use crate::workflow::Topology;
use crate::workflow::{Policy, Preset, PresetLimits};

#[cfg(test)]
use super::degradation::redundancy;
pub(crate) use super::degradation::{
    DEGRADED, Degradation, DegradedMode, MAX_FORMAT_ERRORS, MAX_OVERHEAD_VIOLATIONS, RunStrain,
    Trigger, degradation, over_cap,
};

/// What kind of work a task is, from its words.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Domain {
    Debugging,
    Refactoring,
    Feature,
    General,
}

/// The rule that decided a recommendation (Kim et al.'s A–D, then defaults).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub(crate) enum CoordRule {
    /// The single agent is capable enough: more agents lower accuracy.
    #[serde(rename = "A-capability")]
    Capability,
    /// Outcomes recorded in this project favour one topology.
    #[serde(rename = "D-calibrated")]
    Calibrated,
    /// Sequential work: one agent.
    #[serde(rename = "B-sequential")]
    Sequential,
    /// Decomposable work: an orchestrator with helpers.
    #[serde(rename = "C-decomposable")]
    Decomposable,
    /// Tool-heavy work that does not split: one agent.
    #[serde(rename = "tool-heavy")]
    ToolHeavy,
    #[serde(rename = "stage-default")]
    StageDefault,
    #[serde(rename = "default")]
    Default,
    /// The caller chose the topology.
    #[serde(rename = "forced")]
    Forced,
}

impl CoordRule {
    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            CoordRule::Capability => "A-capability",
            CoordRule::Calibrated => "D-calibrated",
            CoordRule::Sequential => "B-sequential",
            CoordRule::Decomposable => "C-decomposable",
            CoordRule::ToolHeavy => "tool-heavy",
            CoordRule::StageDefault => "stage-default",
            CoordRule::Default => "default",
            CoordRule::Forced => "forced",
        }
    }
}

/// Task features, each in 0..1.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct Features {
    pub decomposability: f64,
    pub sequential_dependency: f64,
    pub tool_intensity: f64,
    pub domain: Domain,
}

fn score(text: &str, words: &[&str]) -> f64 {
    let n: usize = words
        .iter()
        .map(|w| {
            Regex::new(&format!(r"\b{}\b", regex::escape(w)))
                .map_or(0, |re| re.find_iter(text).count())
        })
        .sum();
    (n as f64 / 5.0).min(1.0)
}

/// Reads the features from the task, code context and error logs (keywords on word
/// boundaries).
#[must_use]
pub(crate) fn features(task: &str, code_context: &str, error_logs: &str) -> Features {
    let text = format!("{task} {code_context} {error_logs}").to_lowercase();
    let mut f = Features {
        decomposability: score(
            &text,
            &[
                "multiple",
                "several",
                "each",
                "all",
                "parallel",
                "independent",
                "separate",
                "various",
                "different",
                "compare",
                "alternatives",
                "options",
                "candidates",
            ],
        ),
        sequential_dependency: score(
            &text,
            &[
                "first",
                "then",
                "after",
                "before",
                "depends on",
                "requires",
                "must",
                "sequence",
                "order",
                "step by step",
                "chain",
                "pipeline",
                "workflow",
                "accumulate",
            ],
        ),
        tool_intensity: score(
            &text,
            &[
                "test",
                "run",
                "execute",
                "compile",
                "build",
                "deploy",
                "database",
                "api",
                "network",
                "file",
                "git",
                "docker",
                "kubernetes",
                "aws",
                "cloud",
            ],
        ),
        domain: Domain::General,
    };
    let has = |ws: &[&str]| score(&text, ws) > 0.0;
    if has(&["debug", "fix", "error", "bug", "fail", "failing", "crash"]) {
        f.domain = Domain::Debugging;
        f.sequential_dependency = f.sequential_dependency.max(0.75);
        f.tool_intensity = f.tool_intensity.max(0.5);
    } else if has(&["refactor", "clean", "improve", "optimize"]) {
        f.domain = Domain::Refactoring;
        f.decomposability = f.decomposability.max(0.5);
    } else if has(&["add", "implement", "create", "feature"]) {
        f.domain = Domain::Feature;
        f.decomposability = f.decomposability.max(0.4);
    }
    f
}

/// A recorded stage outcome.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct Outcome {
    pub topology: Topology,
    pub success: bool,
    /// Consults per visit beyond the single agent's own turn.
    pub overhead: f64,
}

/// The recommendation and the rule behind it.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct Recommendation {
    pub topology: Topology,
    pub rule: CoordRule,
    pub reason: String,
    pub confidence: f64,
    pub max_agents: u32,
    /// The paper's error amplification for this topology (SAS = 1).
    pub error_amplification: f64,
    pub features: Features,
    /// The workflow's coordination preset and what it allows a multi-agent round.
    pub preset: Preset,
    pub limits: PresetLimits,
}

/// Kim et al.'s measured error amplification per topology.
#[must_use]
pub(crate) fn amplification(topology: Topology) -> f64 {
    match topology {
        Topology::Independent => 17.2,
        Topology::Decentralized => 7.8,
        Topology::Hybrid => 5.1,
        Topology::Centralized => 4.4,
        Topology::Sas => 1.0,
    }
}

/// Tool intensity above which work that does not split goes to one agent (the seed's "more
/// than 3 tools", on the 0..1 scale of [`features`]: keyword hits ÷ 5).
pub(crate) const TOOL_HEAVY: f64 = 0.6;

/// Picks a topology. Rules in order: A capability threshold, D calibration from outcomes,
/// B sequential dependency, C decomposability, tool-heavy work, then the stage's default.
#[must_use]
pub(crate) fn recommend(
    f: &Features,
    stage: Option<&str>,
    baseline: Option<f64>,
    policy: &Policy,
    outcomes: &[Outcome],
) -> Recommendation {
    let (threshold, max_agents) = (policy.capability_threshold, policy.max_agents);
    let limits = policy.preset.limits();
    let (seq, dec) = (limits.sequential, limits.decomposable);
    let make =
        |topology: Topology, rule: CoordRule, reason: String, confidence: f64| Recommendation {
            topology,
            rule,
            reason,
            confidence,
            max_agents: if topology == Topology::Sas {
                1
            } else {
                max_agents
            },
            error_amplification: amplification(topology),
            features: f.clone(),
            preset: policy.preset,
            limits,
        };
    if let Some(b) = baseline.filter(|&b| b >= threshold) {
        return make(
            Topology::Sas,
            CoordRule::Capability,
            format!(
                "single-agent baseline {b:.2} ≥ {threshold:.2}: beyond it more agents lower accuracy (β = −0.408)"
            ),
            0.87,
        );
    }
    if outcomes.len() >= 10 {
        let mut by: BTreeMap<&str, (usize, usize, f64)> = BTreeMap::new();
        for o in outcomes {
            let e = by.entry(o.topology.as_str()).or_default();
            e.0 += 1;
            e.1 += usize::from(o.success);
            e.2 += o.overhead;
        }
        let best = by
            .iter()
            .filter(|(_, (n, _, _))| *n >= 3)
            .map(|(t, (n, s, o))| {
                let rate = *s as f64 / *n as f64;
                (*t, rate, rate - (o / *n as f64 * 0.1).min(0.3))
            })
            .max_by(|a, b| a.2.total_cmp(&b.2));
        if let Some((t, rate, _)) = best.filter(|(_, rate, _)| *rate > 0.7)
            && let Some(topology) = Topology::parse(t)
        {
            return make(
                topology,
                CoordRule::Calibrated,
                format!(
                    "{t} succeeded in {:.0}% of {} recorded stages here",
                    rate * 100.0,
                    by[t].0
                ),
                rate.min(0.9),
            );
        }
    }
    if f.sequential_dependency > seq {
        return make(
            Topology::Sas,
            CoordRule::Sequential,
            format!(
                "sequential dependency {:.2} > {seq} (preset {}): on sequential tasks every multi-agent design lost (PlanCraft −39% to −70%)",
                f.sequential_dependency,
                policy.preset.as_str()
            ),
            0.85,
        );
    }
    if f.decomposability > dec {
        return make(
            Topology::Centralized,
            CoordRule::Decomposable,
            format!(
                "decomposability {:.2} > {dec} (preset {}): parallel work pays, with an orchestrator verifying (errors ×4.4, not ×17.2 as with independent agents)",
                f.decomposability,
                policy.preset.as_str()
            ),
            0.75,
        );
    }
    // More than three tool words in five (edit, run, build, ...) on work that does not split:
    // every extra agent pays the coordination cost on each tool call.
    if f.tool_intensity > TOOL_HEAVY {
        return make(
            Topology::Sas,
            CoordRule::ToolHeavy,
            format!(
                "tool intensity {:.2} > {TOOL_HEAVY} on work that does not split: tool-heavy work loses with several agents (β = −0.330)",
                f.tool_intensity
            ),
            0.7,
        );
    }
    match stage {
        Some("hypothesize" | "improve") => make(
            Topology::Centralized,
            CoordRule::StageDefault,
            "competing ideas benefit from several models with one verifier".into(),
            0.65,
        ),
        Some(s @ ("analyze" | "implement" | "debug")) => make(
            Topology::Sas,
            CoordRule::StageDefault,
            format!("`{s}` is sequential work: one agent"),
            0.65,
        ),
        _ => make(
            Topology::Sas,
            CoordRule::Default,
            "no strong signal: a single agent is the safe default".into(),
            0.5,
        ),
    }
}

/// The caller's topology in place of `advice`: recorded as forced, with the same features.
/// The confidence is the advice's when both agree, else none (0): no rule backs the choice.
#[must_use]
pub(crate) fn forced(
    advice: &Recommendation,
    topology: Topology,
    max_agents: u32,
) -> Recommendation {
    Recommendation {
        topology,
        rule: CoordRule::Forced,
        reason: "forced by the caller".into(),
        confidence: if topology == advice.topology {
            advice.confidence
        } else {
            0.0
        },
        max_agents: if topology == Topology::Sas {
            1
        } else {
            max_agents
        },
        error_amplification: amplification(topology),
        features: advice.features.clone(),
        preset: advice.preset,
        limits: advice.limits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_move_the_thresholds_and_the_team_size() {
        let preset = |p: Preset| Policy {
            preset: p,
            max_agents: p.limits().max_agents,
            ..Policy::default()
        };
        // Sequential 0.6 and decomposability 0.5: between the presets' thresholds.
        let f = Features {
            decomposability: 0.5,
            sequential_dependency: 0.6,
            tool_intensity: 0.2,
            domain: Domain::Feature,
        };
        let pick = |p: Preset| {
            let r = recommend(&f, None, None, &preset(p), &[]);
            (r.topology, r.rule, r.max_agents)
        };
        assert_eq!(
            pick(Preset::Default),
            (Topology::Sas, CoordRule::Default, 1),
            "0.6 is under the default's 0.7 and 0.5 under its 0.6: no rule fires"
        );
        assert_eq!(
            pick(Preset::Conservative),
            (Topology::Sas, CoordRule::Sequential, 1),
            "conservative goes to one agent above 0.5"
        );
        let calm = Features {
            sequential_dependency: 0.3,
            ..f.clone()
        };
        let r = recommend(&calm, None, None, &preset(Preset::Aggressive), &[]);
        assert_eq!(
            (r.topology, r.rule, r.max_agents),
            (Topology::Centralized, CoordRule::Decomposable, 5),
            "aggressive fans out above 0.4 decomposability, with up to 5 agents"
        );
        assert_eq!(r.limits.max_rounds, 7);
        assert!(r.reason.contains("preset aggressive"), "{}", r.reason);
        let r = recommend(&calm, None, None, &preset(Preset::Default), &[]);
        assert_eq!(r.topology, Topology::Sas);
        // Tool-heavy work that does not split: one agent, whatever the stage.
        let tools = Features {
            tool_intensity: 0.8,
            ..calm.clone()
        };
        let r = recommend(
            &tools,
            Some("hypothesize"),
            None,
            &preset(Preset::Default),
            &[],
        );
        assert_eq!((r.topology, r.rule), (Topology::Sas, CoordRule::ToolHeavy));
        // The overhead cap: three centralized stages at 2.0× each are fine by default (2.5)
        // and too dear for conservative (1.5).
        let dear: Vec<Outcome> = (0..3)
            .map(|_| Outcome {
                topology: Topology::Centralized,
                success: true,
                overhead: 2.0,
            })
            .collect();
        let cap = |p: Preset| p.limits().max_overhead;
        assert!(
            !degradation(
                Topology::Centralized,
                &dear,
                &[],
                cap(Preset::Default),
                RunStrain::default()
            )
            .degrade
        );
        let d = degradation(
            Topology::Centralized,
            &dear,
            &[],
            cap(Preset::Conservative),
            RunStrain::default(),
        );
        assert!(d.degrade && d.reason.contains("cap of 1.5"), "{}", d.reason);
        // Mostly failing and dear (success < 0.3, overhead > 1.5 over five stages): back to one
        // agent even under the cap. (With no single-agent outcomes the amplification check
        // compares with the assumed 0.3 failure rate, so this needs SAS outcomes that fail too.)
        let mut failing: Vec<Outcome> = (0..5)
            .map(|i| Outcome {
                topology: Topology::Centralized,
                success: i == 0,
                overhead: 1.8,
            })
            .collect();
        failing.extend((0..5).map(|_| Outcome {
            topology: Topology::Sas,
            success: false,
            overhead: 0.0,
        }));
        let d = degradation(
            Topology::Centralized,
            &failing,
            &[],
            cap(Preset::Default),
            RunStrain::default(),
        );
        assert!(
            d.degrade && d.reason.contains("4 of the last 5"),
            "{}",
            d.reason
        );
    }

    #[test]
    #[allow(
        clippy::float_cmp,
        reason = "a forced advice copies its figures from constants and the advice: exact"
    )]
    fn rules_in_order() {
        let f = features(
            "Fix the failing login test; first reproduce, then bisect",
            "",
            "",
        );
        assert_eq!(f.domain, Domain::Debugging);
        let r = recommend(&f, Some("hypothesize"), Some(0.6), &Policy::default(), &[]);
        assert_eq!(
            (r.topology.as_str(), r.rule.as_str()),
            ("sas", "A-capability")
        );
        let r = recommend(&f, Some("hypothesize"), Some(0.2), &Policy::default(), &[]);
        assert_eq!(r.rule, CoordRule::Sequential);
        let g = features(
            "Compare several independent alternatives and options for each of the different candidates",
            "",
            "",
        );
        let r = recommend(&g, None, None, &Policy::default(), &[]);
        assert_eq!(
            (r.topology.as_str(), r.rule.as_str()),
            ("centralized", "C-decomposable")
        );
        let outcomes: Vec<Outcome> = (0..12)
            .map(|i| Outcome {
                topology: if i % 2 == 0 {
                    Topology::Centralized
                } else {
                    Topology::Sas
                },
                success: i % 2 == 0 || i % 3 == 0,
                overhead: 1.0,
            })
            .collect();
        let r = recommend(&g, None, None, &Policy::default(), &outcomes);
        assert_eq!(
            (r.topology.as_str(), r.rule.as_str()),
            ("centralized", "D-calibrated")
        );
        let plain = recommend(
            &features("hello", "", ""),
            None,
            None,
            &Policy::default(),
            &[],
        );
        assert_eq!(plain.rule, CoordRule::Default);
        let f = forced(&plain, Topology::Centralized, 3);
        assert_eq!(
            (f.topology, f.rule.as_str(), f.reason.as_str(), f.max_agents),
            (Topology::Centralized, "forced", "forced by the caller", 3)
        );
        assert_eq!(f.error_amplification, 4.4);
        assert_eq!(f.confidence, 0.0);
        assert_eq!(
            forced(&plain, Topology::Sas, 3).confidence,
            plain.confidence
        );
    }

    #[test]
    fn degradation_never_crashes_and_sees_amplification_and_redundancy() {
        assert!(!degradation(Topology::Centralized, &[], &[], 2.5, RunStrain::default()).degrade);
        let bad: Vec<Outcome> = (0..6)
            .map(|_| Outcome {
                topology: Topology::Centralized,
                success: false,
                overhead: 2.0,
            })
            .collect();
        let d = degradation(Topology::Centralized, &bad, &[], 2.5, RunStrain::default());
        assert!(d.degrade && d.error_amplification.unwrap() > 1.2);
        let same = vec![
            "the cache key ignores locale".to_string(),
            "The cache key ignores locale".to_string(),
        ];
        assert!(degradation(Topology::Centralized, &[], &same, 2.5, RunStrain::default()).degrade);
        assert_eq!(redundancy(&[String::new(), String::new()]), None);
    }

    #[test]
    fn a_runs_refused_outputs_and_dear_visits_fire_whatever_the_topology() {
        let calm = RunStrain {
            refused_answers: MAX_FORMAT_ERRORS - 1,
            overhead_violations: MAX_OVERHEAD_VIOLATIONS - 1,
        };
        assert!(calm.triggers().is_empty());
        let d = degradation(Topology::Sas, &[], &[], 2.5, calm);
        assert_eq!(
            (d.degrade, d.reason.as_str()),
            (false, "already a single agent")
        );
        let refused = RunStrain {
            refused_answers: 3,
            ..calm
        };
        let d = degradation(Topology::Sas, &[], &[], 2.5, refused);
        assert!(d.degrade, "{d:?}");
        assert_eq!(d.triggers, vec![Trigger::FormatErrors]);
        assert!(
            d.reason.starts_with("3 outputs of this run were refused"),
            "{}",
            d.reason
        );
        let both = RunStrain {
            overhead_violations: 2,
            ..refused
        };
        let same = vec!["a b c".to_string(), "a b c".to_string()];
        let d = degradation(Topology::Centralized, &[], &same, 1.5, both);
        assert_eq!(
            d.triggers,
            vec![
                Trigger::Redundancy,
                Trigger::FormatErrors,
                Trigger::OverheadViolations
            ],
            "every trigger that fired, in the seed's order"
        );
        // A visit is over the cap only past it: 2 consults fit the default 2.5, 3 do not.
        assert!(!over_cap(2, 2.5) && over_cap(3, 2.5) && over_cap(2, 1.5));
        assert_eq!(DEGRADED.chars(25_000), 17_500);
    }
}
