//! The audit trail: every event a run (or the workspace) records, as one serde-tagged enum.
//! Stored as `{kind, data}` (`maestro log --jsonl` prints them so), decoded strictly: an
//! unknown kind is an error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FailureCode;
use super::model::{Actor, CheckFact, DecisionKind, RunContext, RunEnd};
use crate::workflow::{GateBy, Topology};

/// One event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub(crate) enum RunEvent {
    RunStarted {
        workflow: String,
        /// The pinned workflow version.
        #[serde(default)]
        version: Option<String>,
        task: String,
        lang: String,
        /// Where the workflow was found.
        source: String,
        context: RunContext,
        /// The Claude Code session that started the run, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<String>,
    },
    StageEntered {
        stage: String,
        visit: u32,
    },
    Transition {
        from: String,
        event: String,
        to: String,
    },
    StageExhausted {
        stage: String,
        visits: u32,
        max_visits: u32,
    },
    /// A stage's `wall` is spent: it is not entered again (`exhausted` fires instead).
    StageOvertime {
        stage: String,
        worked_secs: u64,
        wall_secs: u64,
    },
    RunFinished {
        end: RunEnd,
        note: Option<String>,
    },
    OutputAccepted {
        stage: String,
        visit: u32,
        #[schemars(with = "Value")]
        output: Value,
        event: Option<String>,
    },
    /// A submitted output or a provider's answer that was refused (schema, red flags).
    OutputRefused {
        code: FailureCode,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        provider: Option<String>,
        #[serde(default)]
        #[schemars(with = "Option<Value>")]
        flags: Option<Value>,
    },
    ApprovalRequested {
        approval_id: String,
        stage: String,
        by: GateBy,
    },
    ApprovalDecided {
        approval_id: String,
        stage: String,
        decision: DecisionKind,
        by: Actor,
        feedback: Option<String>,
        #[serde(default)]
        answers: BTreeMap<String, String>,
    },
    /// How a stage visit ended, for Rule D's calibration and the metrics.
    StageOutcome {
        stage: String,
        workflow: String,
        topology: Topology,
        success: bool,
        consults: u32,
    },
    ConsultCharged {
        stage: Option<String>,
        n: u32,
        what: String,
        consults_used: u32,
    },
    UsageRecorded {
        stage: Option<String>,
        tokens: u64,
        cost_usd: f64,
    },
    /// A `verify` check's result, which guards read as `checks.<name>`.
    CheckRecorded {
        stage: Option<String>,
        visit: u32,
        name: String,
        #[serde(flatten)]
        fact: CheckFact,
    },
    Evidence {
        id: String,
        kind: super::work::EvidenceKind,
        stage: Option<String>,
        content: String,
        source: Option<String>,
        links: Vec<String>,
    },
    Vote {
        k: u32,
        samples: u32,
        votes: u32,
        discarded: u32,
        unavailable: u32,
        converged: bool,
        stop_reason: crate::quality::vote::StopReason,
        #[serde(default)]
        expected_samples: Option<f64>,
    },
    RedFlagCheck {
        flags: usize,
    },
    Selection {
        winner: Option<String>,
        test_signal: bool,
        requires_review: bool,
        /// Every candidate failed its tests, so nothing was selected.
        #[serde(default)]
        none_passed: bool,
    },
    /// The run fell back to degraded mode for the rest of its life (`degraded.rs`): its
    /// context is cut by `context_factor`, its provider timeouts stretched by
    /// `timeout_factor`, and each question goes to one provider. Recorded once.
    Degraded {
        stage: Option<String>,
        triggers: Vec<crate::quality::coordinate::Trigger>,
        refused_answers: u32,
        overhead_violations: u32,
        context_factor: f64,
        timeout_factor: f64,
    },
    /// A person moved the run to a newer version of its workflow (`maestro upgrade`).
    WorkflowUpgraded {
        from: String,
        to: String,
        changes: Vec<String>,
    },
    /// A run stored before pinning was pinned to the version current when it was next used.
    WorkflowPinned {
        version: String,
    },
    /// `maestro hook` refused one of Claude Code's own tool calls because of this run.
    ToolDenied {
        /// The Claude Code session that made the call.
        session: String,
        tool: String,
        rule: super::guard::HoldRule,
        stage: Option<String>,
        /// The file an editing tool would have written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
}

impl RunEvent {
    /// The event's stage, when it names one.
    #[must_use]
    pub(crate) fn stage(&self) -> Option<&str> {
        match self {
            RunEvent::StageEntered { stage, .. }
            | RunEvent::StageExhausted { stage, .. }
            | RunEvent::OutputAccepted { stage, .. }
            | RunEvent::ApprovalRequested { stage, .. }
            | RunEvent::ApprovalDecided { stage, .. }
            | RunEvent::StageOutcome { stage, .. } => Some(stage),
            RunEvent::Transition { from, .. } => Some(from),
            RunEvent::ConsultCharged { stage, .. }
            | RunEvent::UsageRecorded { stage, .. }
            | RunEvent::CheckRecorded { stage, .. }
            | RunEvent::Evidence { stage, .. }
            | RunEvent::Degraded { stage, .. } => stage.as_deref(),
            _ => None,
        }
    }
}

/// Events a step produced, to append in the same transaction.
pub(crate) type Events = Vec<RunEvent>;

/// An event as stored, with its place in the log.
pub(crate) type Logged = crate::store::Logged<RunEvent>;
