//! The closed sets a workflow names: coordination presets and topologies, who decides a gate
//! and what its timeout does, question priorities, and the events the engine fires itself.
//! Each is an enum parsed once from its one spelling.

/// Named coordination presets (`policy preset=...`), with the seed's numbers.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    #[default]
    Default,
    /// Fewer agents, sooner back to one: a single agent above 0.5 sequential dependency.
    Conservative,
    /// More agents, later back to one.
    Aggressive,
}

/// What a preset sets: the thresholds `coordinate` decides by and the limits of a multi-agent
/// round.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct PresetLimits {
    /// Above this sequential dependency, one agent (rule B).
    pub sequential: f64,
    /// Above this decomposability, a centralized team (rule C).
    pub decomposable: f64,
    /// The most coordination overhead (× a single agent's cost) worth paying.
    pub max_overhead: f64,
    pub max_tokens: u64,
    pub max_rounds: u32,
    pub max_agents: u32,
}

impl Preset {
    #[must_use]
    pub(crate) fn parse(s: &str) -> Option<Preset> {
        Some(match s {
            "default" => Preset::Default,
            "conservative" => Preset::Conservative,
            "aggressive" => Preset::Aggressive,
            _ => return None,
        })
    }

    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Preset::Default => "default",
            Preset::Conservative => "conservative",
            Preset::Aggressive => "aggressive",
        }
    }

    /// The seed's numbers (sequential / decomposable / overhead / tokens / rounds / agents).
    #[must_use]
    pub(crate) const fn limits(self) -> PresetLimits {
        let (sequential, decomposable, max_overhead, max_tokens, max_rounds, max_agents) =
            match self {
                Preset::Default => (0.7, 0.6, 2.5, 50_000, 5, 3),
                Preset::Conservative => (0.5, 0.7, 1.5, 30_000, 3, 2),
                Preset::Aggressive => (0.8, 0.4, 3.0, 100_000, 7, 5),
            };
        PresetLimits {
            sequential,
            decomposable,
            max_overhead,
            max_tokens,
            max_rounds,
            max_agents,
        }
    }
}

/// Coordination topologies of Kim et al. 2025.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Topology {
    #[default]
    Sas,
    Centralized,
    Independent,
    Decentralized,
    Hybrid,
}

impl Topology {
    #[must_use]
    pub(crate) fn parse(s: &str) -> Option<Topology> {
        Some(match s {
            "sas" => Topology::Sas,
            "centralized" => Topology::Centralized,
            "independent" => Topology::Independent,
            "decentralized" => Topology::Decentralized,
            "hybrid" => Topology::Hybrid,
            _ => return None,
        })
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Topology::Sas => "sas",
            Topology::Centralized => "centralized",
            Topology::Independent => "independent",
            Topology::Decentralized => "decentralized",
            Topology::Hybrid => "hybrid",
        }
    }
}

/// The events with a meaning fixed by the engine. A workflow may name other events on its
/// edges (`on="needs-data"`), which a submit fires by name; these the engine fires itself, or
/// fires by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuiltinEvent {
    /// A stage without a gate accepted its output.
    Done,
    /// The person (or a timeout) approved a gated stage.
    Approved,
    /// The person sent the stage back with feedback.
    Revise,
    /// The person rejected the stage.
    Rejected,
    /// The stage reached its `max-visits`.
    Exhausted,
}

impl BuiltinEvent {
    pub(crate) const ALL: [BuiltinEvent; 5] = [
        BuiltinEvent::Done,
        BuiltinEvent::Approved,
        BuiltinEvent::Revise,
        BuiltinEvent::Rejected,
        BuiltinEvent::Exhausted,
    ];

    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            BuiltinEvent::Done => "done",
            BuiltinEvent::Approved => "approved",
            BuiltinEvent::Revise => "revise",
            BuiltinEvent::Rejected => "rejected",
            BuiltinEvent::Exhausted => "exhausted",
        }
    }

    /// The built-in event spelled `s`; `None` for a workflow's own event.
    #[must_use]
    pub(crate) fn parse(s: &str) -> Option<BuiltinEvent> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Fired only by the engine (a decision, a loop bound): a submit may not name it.
    #[must_use]
    pub(crate) const fn engine_only(self) -> bool {
        matches!(
            self,
            BuiltinEvent::Revise | BuiltinEvent::Rejected | BuiltinEvent::Exhausted
        )
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum GateBy {
    Human,
    Any,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OnTimeout {
    Reject,
    Revise,
    Approve,
}

impl GateBy {
    #[must_use]
    pub(crate) fn parse(s: &str) -> Option<GateBy> {
        Some(match s {
            "human" => GateBy::Human,
            "any" => GateBy::Any,
            _ => return None,
        })
    }

    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            GateBy::Human => "human",
            GateBy::Any => "any",
        }
    }
}

impl OnTimeout {
    #[must_use]
    pub(crate) fn parse(s: &str) -> Option<OnTimeout> {
        Some(match s {
            "reject" => OnTimeout::Reject,
            "revise" => OnTimeout::Revise,
            "approve" => OnTimeout::Approve,
            _ => return None,
        })
    }

    /// The spelling [`OnTimeout::parse`] reads; the tests check the two agree.
    #[cfg(test)]
    pub(super) const fn as_str(self) -> &'static str {
        match self {
            OnTimeout::Reject => "reject",
            OnTimeout::Revise => "revise",
            OnTimeout::Approve => "approve",
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Critical,
    High,
    Medium,
    Low,
}

impl Priority {
    #[must_use]
    pub(crate) fn parse(s: &str) -> Option<Priority> {
        Some(match s {
            "critical" => Priority::Critical,
            "high" => Priority::High,
            "medium" => Priority::Medium,
            "low" => Priority::Low,
            _ => return None,
        })
    }

    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }
}
