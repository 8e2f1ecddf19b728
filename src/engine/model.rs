//! The durable shapes of runs and approvals (stored as JSON rows). Every closed set is an enum,
//! parsed once when a row is read; an unknown value is a decoding error, never a default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::workflow::{GateBy, OnTimeout, Priority};
use crate::workspace::verify::{CheckStatus, Counts};

/// Where a finished run ended: one of its workflow's ends, or an end the engine chose when
/// the workflow gave it nowhere to go. Stored as the end's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// An end the workflow declares, by name.
    Reached(String),
    /// A stage ran out of visits and has no `exhausted` edge.
    Exhausted,
    /// A person rejected a gate that has no `rejected` edge.
    Rejected,
}

impl RunEnd {
    /// The end's name as shown and stored.
    #[must_use]
    pub(crate) fn name(&self) -> &str {
        match self {
            RunEnd::Reached(name) => name,
            RunEnd::Exhausted => "exhausted",
            RunEnd::Rejected => "rejected",
        }
    }

    /// Reads a stored name back; a workflow end that shares a built-in's name reads as the
    /// built-in, which shows the same.
    fn from_name(name: String) -> RunEnd {
        match name.as_str() {
            "exhausted" => RunEnd::Exhausted,
            "rejected" => RunEnd::Rejected,
            _ => RunEnd::Reached(name),
        }
    }
}

impl std::fmt::Display for RunEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for RunEnd {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for RunEnd {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(RunEnd::from_name)
    }
}

impl schemars::JsonSchema for RunEnd {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RunEnd".into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(g)
    }
}

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
#[serde(from = "StoredCheckFact")]
pub(crate) struct CheckFact {
    /// `status` is `passed`.
    pub passed: bool,
    /// `passed`, `failed`, or `cannot_run`: the program never started, nothing was tested.
    pub status: CheckStatus,
    /// Why it could not run and what to do (only with `cannot_run`).
    pub reason: Option<String>,
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

/// A [`CheckFact`] as stored: records from before `status` existed read theirs from `passed`.
#[derive(Deserialize, schemars::JsonSchema)]
struct StoredCheckFact {
    passed: bool,
    #[serde(default)]
    status: Option<CheckStatus>,
    #[serde(default)]
    reason: Option<String>,
    exit_code: Option<i32>,
    timed_out: bool,
    counts: Option<Counts>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    repeats: u32,
}

impl From<StoredCheckFact> for CheckFact {
    fn from(s: StoredCheckFact) -> Self {
        let status = s.status.unwrap_or(if s.passed {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        });
        CheckFact {
            passed: status == CheckStatus::Passed,
            status,
            reason: s.reason,
            exit_code: s.exit_code,
            timed_out: s.timed_out,
            counts: s.counts,
            error: s.error,
            repeats: s.repeats,
        }
    }
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
    pub end: Option<RunEnd>,
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
    /// What the run counts toward degraded mode, and whether it is in it (`degraded.rs`).
    #[serde(default, skip_serializing_if = "super::degraded::Strain::is_calm")]
    pub strain: super::degraded::Strain,
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

impl DecisionKind {
    /// Every decision, in the order doors offer them.
    pub(crate) const ALL: [DecisionKind; 3] = [
        DecisionKind::Approve,
        DecisionKind::Revise,
        DecisionKind::Reject,
    ];

    /// Whether this decision needs an answer to `q`: approving needs every critical question
    /// answered. `apply_decision` enforces it; the terminal's prompt asks by it.
    #[must_use]
    pub(crate) fn needs_answer(self, q: &QuestionView) -> bool {
        self == DecisionKind::Approve && q.priority == Priority::Critical
    }

    /// Whether this decision needs words (feedback, or an answer): a revision sends the stage
    /// back to the model, which can only act on what it is told.
    #[must_use]
    pub(crate) const fn needs_words(self) -> bool {
        matches!(self, DecisionKind::Revise)
    }
}

/// A word that names no decision (see [`DecisionKind`]'s `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownDecision(String);

impl std::fmt::Display for UnknownDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: Vec<&str> = DecisionKind::ALL.iter().map(|d| d.as_str()).collect();
        let word: String = self.0.chars().take(40).collect();
        if word.is_empty() {
            write!(f, "no decision was given: choose {}", words.join(", "))
        } else {
            write!(f, "`{word}` is not a decision: choose {}", words.join(", "))
        }
    }
}

impl std::error::Error for UnknownDecision {}

/// The one reading of a decision's word, for every door that receives it as text (the page's
/// form, the MCP form); the words are the ones serde reads and writes.
impl std::str::FromStr for DecisionKind {
    type Err = UnknownDecision;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let word = s.trim();
        DecisionKind::ALL
            .into_iter()
            .find(|d| d.as_str() == word)
            .ok_or_else(|| UnknownDecision(word.to_string()))
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

impl Approval {
    /// The event approving fires: the one the submit named, else `approved`.
    #[must_use]
    pub(crate) fn approve_event(&self) -> &str {
        self.event
            .as_deref()
            .unwrap_or(crate::workflow::BuiltinEvent::Approved.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::DecisionKind;

    #[test]
    fn a_decision_reads_from_its_word_and_nothing_else() {
        for d in DecisionKind::ALL {
            assert_eq!(d.as_str().parse::<DecisionKind>(), Ok(d));
            // The same words serde writes, so a stored decision and a typed one agree.
            assert_eq!(
                serde_json::to_value(d).unwrap(),
                serde_json::json!(d.as_str())
            );
        }
        assert_eq!(
            " revise\n".parse::<DecisionKind>(),
            Ok(DecisionKind::Revise)
        );
        let e = "approved".parse::<DecisionKind>().unwrap_err().to_string();
        assert_eq!(
            e,
            "`approved` is not a decision: choose approve, revise, reject"
        );
        let e = "".parse::<DecisionKind>().unwrap_err().to_string();
        assert_eq!(e, "no decision was given: choose approve, revise, reject");
    }
}
