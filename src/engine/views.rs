//! Read models: what `status`, `runs` and `approvals` show.

use serde::Serialize;
use serde_json::Value;

use super::budget::BudgetView;
use super::model::{Approval, QuestionView, Run};
use crate::diagnostic::Record;
use crate::store::Event;

/// One line of a run list.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunSummary {
    pub run_id: String,
    pub workflow: String,
    pub task: String,
    /// `active`, `waiting` (an approval is pending) or `finished`.
    pub status: String,
    pub stage: Option<String>,
    pub visit: u32,
    pub end: Option<String>,
    pub pending_approval: Option<String>,
    pub updated_at: i64,
}

impl RunSummary {
    #[must_use]
    pub fn of(run: &Run) -> Self {
        Self {
            run_id: run.id.clone(),
            workflow: run.workflow.clone(),
            task: run.task.clone(),
            status: run.status.as_str().to_string(),
            stage: run.stage.clone(),
            visit: run.visit(),
            end: run.end.clone(),
            pending_approval: run.pending_approval.clone(),
            updated_at: run.finished_at.unwrap_or(run.stage_entered_at),
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
    pub status: String,
    /// `human`: only a person decides; `any`: the orchestrator may too.
    pub by: String,
    /// The stage's submitted output (the report under review).
    pub report: Value,
    pub questions: Vec<QuestionView>,
    /// Milliseconds since the epoch after which `on_timeout` applies.
    pub deadline: Option<i64>,
    pub on_timeout: Option<String>,
    pub decision: Option<String>,
    pub decided_by: Option<String>,
}

impl ApprovalView {
    #[must_use]
    pub fn of(a: &Approval) -> Self {
        Self {
            approval_id: a.id.clone(),
            run_id: a.run_id.clone(),
            workflow: a.workflow.clone(),
            stage: a.stage.clone(),
            title: a.stage_title.clone(),
            visit: a.visit,
            status: a.status.as_str().to_string(),
            by: a.by.clone(),
            report: a.output.clone(),
            questions: a.questions.clone(),
            deadline: a.deadline,
            on_timeout: a.on_timeout.clone(),
            decision: a.decision.map(|d| d.as_str().to_string()),
            decided_by: a.decided_by.map(|d| {
                serde_json::to_value(d)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            }),
        }
    }
}

/// One step of a run's history.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct HistoryItem {
    pub at: i64,
    pub kind: String,
    #[schemars(with = "Value")]
    pub data: Value,
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
    pub budget: BudgetView,
    pub approval: Option<ApprovalView>,
    /// Stages with an accepted output.
    pub outputs: Vec<String>,
    pub history: Vec<HistoryItem>,
    /// Findings of a newer edit of the workflow file that was refused (the run keeps using
    /// the last version that validated).
    #[schemars(with = "Vec<Value>")]
    pub workflow_problems: Vec<Record>,
}

/// The history items worth showing (transitions, decisions, ends).
#[must_use]
pub fn history(events: &[Event]) -> Vec<HistoryItem> {
    events
        .iter()
        .filter(|e| {
            matches!(
                e.kind.as_str(),
                "run_started"
                    | "stage_entered"
                    | "transition"
                    | "approval_requested"
                    | "approval_decided"
                    | "stage_exhausted"
                    | "run_finished"
            )
        })
        .map(|e| HistoryItem {
            at: e.at,
            kind: e.kind.clone(),
            data: e.data.clone(),
        })
        .collect()
}
