//! Read models: what `status`, `runs` and `approvals` show.

use serde::Serialize;
use serde_json::Value;

use super::budget::BudgetView;
use super::events::{Logged, RunEvent};
use super::model::{Actor, Approval, ApprovalStatus, DecisionKind, QuestionView, Run, RunStatus};
use crate::diagnostic::Record;
use crate::workflow::{GateBy, OnTimeout};

/// One line of a run list.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunSummary {
    pub run_id: String,
    pub workflow: String,
    /// The workflow version the run is pinned to (hex; the first 8 digits identify it).
    pub workflow_version: Option<String>,
    pub task: String,
    pub(crate) status: RunStatus,
    pub stage: Option<String>,
    pub visit: u32,
    pub end: Option<String>,
    pub pending_approval: Option<String>,
    pub updated_at: i64,
}

impl RunSummary {
    #[must_use]
    pub(crate) fn of(run: &Run) -> Self {
        Self {
            run_id: run.id.clone(),
            workflow: run.workflow.clone(),
            workflow_version: run.workflow_version.clone(),
            task: run.task.clone(),
            status: run.status,
            stage: run.stage.clone(),
            visit: run.visit(),
            end: run.end.as_ref().map(ToString::to_string),
            pending_approval: run.pending_approval.clone(),
            updated_at: run.finished_at.unwrap_or(run.stage_entered_at),
        }
    }

    /// Where the run stands, in one sentence for a person or the model: "run R is in stage
    /// `s` (visit 2)", "run R waits for approval of stage `s`", "run R finished: done".
    #[must_use]
    pub(crate) fn where_now(&self) -> String {
        let id = &self.run_id;
        match (self.status, &self.stage, &self.end) {
            (RunStatus::Finished, _, Some(end)) => format!("run {id} finished: {end}"),
            (RunStatus::Waiting, Some(s), _) => {
                format!("run {id} waits for approval of stage `{s}`")
            }
            (_, Some(s), _) => format!("run {id} is in stage `{s}` (visit {})", self.visit),
            _ => format!("run {id} is {}", self.status.as_str()),
        }
    }

    /// `name@1a2b3c4d`: the workflow and the short form of its pinned version.
    #[must_use]
    pub(crate) fn workflow_label(&self) -> String {
        match &self.workflow_version {
            Some(v) => format!("{}@{}", self.workflow, super::library::Snapshot::short(v)),
            None => self.workflow.clone(),
        }
    }
}

/// A pending (or decided) approval as shown to a person.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ApprovalView {
    pub approval_id: String,
    pub run_id: String,
    pub workflow: String,
    pub stage: String,
    pub title: String,
    pub visit: u32,
    pub(crate) status: ApprovalStatus,
    /// `human`: only a person decides; `any`: the orchestrator may too.
    pub by: GateBy,
    /// The stage's submitted output (the report under review).
    #[schemars(with = "Value")]
    pub report: Value,
    pub(crate) questions: Vec<QuestionView>,
    /// Milliseconds since the epoch after which `on_timeout` applies.
    pub deadline: Option<i64>,
    pub on_timeout: Option<OnTimeout>,
    pub decision: Option<DecisionKind>,
    pub decided_by: Option<Actor>,
}

impl ApprovalView {
    #[must_use]
    pub(crate) fn of(a: &Approval) -> Self {
        Self {
            approval_id: a.id.clone(),
            run_id: a.run_id.clone(),
            workflow: a.workflow.clone(),
            stage: a.stage.clone(),
            title: a.stage_title.clone(),
            visit: a.visit,
            status: a.status,
            by: a.by,
            report: a.output.clone(),
            questions: a.questions.clone(),
            deadline: a.deadline,
            on_timeout: a.on_timeout,
            decision: a.decision,
            decided_by: a.decided_by,
        }
    }
}

/// One step of a run's history.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct HistoryItem {
    pub at: i64,
    #[serde(flatten)]
    pub event: RunEvent,
}

/// A run in full: where it is, what it may spend, what waits, how it got here.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunView {
    #[serde(flatten)]
    pub summary: RunSummary,
    pub lang: String,
    pub title: Option<String>,
    pub max_visits: Option<u32>,
    pub note: Option<String>,
    pub(crate) budget: BudgetView,
    pub approval: Option<ApprovalView>,
    /// Stages with an accepted output.
    pub outputs: Vec<String>,
    /// Checks recorded in this visit (what `checks.<name>` reads).
    pub(crate) checks: std::collections::BTreeMap<String, super::model::CheckFact>,
    pub(crate) history: Vec<HistoryItem>,
    /// The current version of the workflow file, when it differs from the run's
    /// (`maestro upgrade` moves the run).
    pub newer_version: Option<String>,
    /// Findings of a newer edit of the workflow file that was refused.
    #[schemars(with = "Vec<Value>")]
    pub(crate) workflow_problems: Vec<Record>,
}

/// The kinds of events a run's history shows (transitions, decisions, ends, versions). The
/// store selects them by kind, so a long run's outputs are never read for `status`.
pub(crate) const HISTORY_KINDS: &[&str] = &[
    "run_started",
    "stage_entered",
    "transition",
    "approval_requested",
    "approval_decided",
    "stage_exhausted",
    "stage_overtime",
    "run_finished",
    "workflow_upgraded",
    "degraded",
];

/// History items from events already selected by [`HISTORY_KINDS`].
#[must_use]
pub(crate) fn history(events: &[Logged]) -> Vec<HistoryItem> {
    events
        .iter()
        .map(|e| HistoryItem {
            at: e.at,
            event: e.event.clone(),
        })
        .collect()
}
