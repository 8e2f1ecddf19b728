//! The durable shapes of runs and approvals (stored as JSON rows). Every closed set is an enum,
//! parsed once when a row is read; an unknown value is a decoding error, never a default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::workflow::{GateBy, OnTimeout, Priority};
use crate::workspace::verify::Counts;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RunStatus {
    /// In a stage, waiting for the orchestrator's `submit`.
    Active,
    /// A submitted output waits for a decision on its approval.
    Waiting,
    /// Reached an end.
    Finished,
}

impl RunStatus {
    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            RunStatus::Active => "active",
            RunStatus::Waiting => "waiting",
            RunStatus::Finished => "finished",
        }
    }
}

/// What the caller handed `start` to pack for every stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunContext {
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub facts: Vec<String>,
    #[serde(default)]
    pub errors: Vec<String>,
    #[serde(default)]
    pub constraints: Vec<String>,
}

/// A decision's words carried into later briefs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct Feedback {
    pub stage: String,
    pub visit: u32,
    pub decision: DecisionKind,
    pub text: Option<String>,
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
}

/// What a configured check reported, as guards read it (`checks.<name>.passed`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct CheckFact {
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub counts: Option<Counts>,
    /// The failure's signature (`workspace::verify::failure_signature`): its error line with
    /// numbers and addresses blanked, so the same error reads the same when a line moves.
    /// `None` when the check passed.
    #[serde(default)]
    pub error: Option<String>,
    /// How many records in a row, one per visit, failed with this same error (1 for a new
    /// one, 0 when the check passed).
    #[serde(default)]
    pub repeats: u32,
}

/// The last `select` of a visit, as guards read it (`selection.none_passed`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct SelectionFact {
    pub winner: Option<String>,
    /// Every candidate failed its tests: nothing was selected.
    pub none_passed: bool,
}

/// One durable run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Run {
    pub id: String,
    pub workflow: String,
    /// The workflow version the run is pinned to (`None` only for runs stored before
    /// pinning; they are pinned to the current version the first time they are touched).
    #[serde(default)]
    pub workflow_version: Option<String>,
    pub task: String,
    pub lang: String,
    pub status: RunStatus,
    /// The current stage while active or waiting.
    pub stage: Option<String>,
    /// The end reached, once finished.
    pub end: Option<String>,
    pub visits: BTreeMap<String, u32>,
    /// The last accepted output of each stage.
    pub outputs: BTreeMap<String, Value>,
    pub feedback: Vec<Feedback>,
    pub context: RunContext,
    /// Checks `verify` ran for this run in the current visit of the current stage.
    #[serde(default)]
    pub checks: BTreeMap<String, CheckFact>,
    /// The last record of each check before the current visit began (`previous.checks`).
    #[serde(default)]
    pub previous_checks: BTreeMap<String, CheckFact>,
    /// The current stage's accepted output of its previous visit (`previous.output`).
    #[serde(default)]
    pub previous_output: Option<Value>,
    /// The last `select` for this run in the current visit.
    #[serde(default)]
    pub selection: Option<SelectionFact>,
    /// Seconds worked in each stage over its finished visits: from entering to the accepted
    /// output (a gate's wait for a person does not count).
    #[serde(default)]
    pub stage_secs: BTreeMap<String, u64>,
    pub consults_used: u32,
    /// Consults charged in the current visit of the current stage.
    pub consults_in_visit: u32,
    pub tokens_used: u64,
    pub cost_usd: f64,
    pub pending_approval: Option<String>,
    pub created_at: i64,
    pub stage_entered_at: i64,
    pub finished_at: Option<i64>,
    /// Why the run ended when that was not an ordinary end (e.g. a loop exhausted).
    pub note: Option<String>,
    /// The Claude Code session whose maestro server started the run (`CLAUDE_CODE_SESSION_ID`
    /// in the server's environment, never an argument the model could choose). `maestro hook`
    /// holds that session to the run's read-only stages; `None` (started over HTTP, from the
    /// page, or before sessions were recorded) holds every session of the project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

impl Run {
    /// Seconds worked in `stage` so far, the current visit included while it is being worked.
    #[must_use]
    pub(crate) fn stage_work_secs(&self, stage: &str, now_ms: i64) -> u64 {
        let done = self.stage_secs.get(stage).copied().unwrap_or(0);
        let current = if self.stage.as_deref() == Some(stage) && self.status == RunStatus::Active {
            self.visit_secs(now_ms)
        } else {
            0
        };
        done + current
    }

    /// Seconds since the current visit began.
    #[must_use]
    pub(crate) fn visit_secs(&self, now_ms: i64) -> u64 {
        u64::try_from((now_ms - self.stage_entered_at).max(0) / 1000).unwrap_or(0)
    }

    #[must_use]
    pub(crate) fn visit(&self) -> u32 {
        self.stage
            .as_ref()
            .and_then(|s| self.visits.get(s))
            .copied()
            .unwrap_or(0)
    }
}

/// The state of an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ApprovalStatus {
    Pending,
    Approved,
    Revised,
    Rejected,
}

impl ApprovalStatus {
    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Revised => "revised",
            ApprovalStatus::Rejected => "rejected",
        }
    }
}

/// A question as shown to the person, in the run's language.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct QuestionView {
    pub id: String,
    pub priority: Priority,
    pub text: String,
    /// Choices; empty for a free-text answer.
    pub options: Vec<String>,
}

/// How a decision arrived. Only the first four are a person; `by "human"` gates refuse
/// `model`. A `command` may be a script (or an agent's shell), so it is recorded as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// `maestro approve/revise/reject` answered at an interactive terminal.
    Terminal,
    /// The same commands without a terminal (a script, a pipe).
    Command,
    /// An MCP elicitation form the client showed the person.
    Form,
    /// The approval page in a browser.
    Web,
    /// The orchestrating model, through the `decide` tool.
    #[serde(alias = "tool")]
    Model,
    /// The gate's `timeout` ran out and `on-timeout` applied.
    Timeout,
    /// A person, recorded before maestro said how (state files of version 0.1).
    #[serde(rename = "human")]
    LegacyHuman,
}

impl Actor {
    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Actor::Terminal => "terminal",
            Actor::Command => "command",
            Actor::Form => "form",
            Actor::Web => "web",
            Actor::Model => "model",
            Actor::Timeout => "timeout",
            Actor::LegacyHuman => "human",
        }
    }

    /// Whether this channel may decide a gate of `by`. The one check that keeps the model
    /// away from human gates.
    #[must_use]
    pub(crate) const fn may_decide(self, by: GateBy) -> bool {
        match by {
            GateBy::Any => true,
            GateBy::Human => !matches!(self, Actor::Model),
        }
    }
}

/// A decision on an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Approve,
    Revise,
    Reject,
}

impl DecisionKind {
    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Approve => "approve",
            DecisionKind::Revise => "revise",
            DecisionKind::Reject => "reject",
        }
    }

    #[must_use]
    pub(crate) const fn of_timeout(o: OnTimeout) -> Self {
        match o {
            OnTimeout::Approve => DecisionKind::Approve,
            OnTimeout::Revise => DecisionKind::Revise,
            OnTimeout::Reject => DecisionKind::Reject,
        }
    }
}

/// A decision with its words.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct DecisionText {
    pub feedback: Option<String>,
    pub answers: BTreeMap<String, String>,
}

/// A durable approval request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Approval {
    pub id: String,
    pub run_id: String,
    pub workflow: String,
    pub stage: String,
    pub stage_title: String,
    pub visit: u32,
    pub status: ApprovalStatus,
    pub by: GateBy,
    /// The submitted output under review.
    pub output: Value,
    /// A custom event the submit named, fired on approval instead of `approved`.
    pub event: Option<String>,
    pub questions: Vec<QuestionView>,
    pub created_at: i64,
    pub deadline: Option<i64>,
    pub on_timeout: Option<OnTimeout>,
    pub decided_at: Option<i64>,
    pub decided_by: Option<Actor>,
    pub decision: Option<DecisionKind>,
    pub words: Option<DecisionText>,
}
