//! A failure the caller should read and act on: what went wrong and what to do next.

use serde::Serialize;
use serde_json::Value;

use super::{FailureClass, FailureCode};
use crate::store::StoreError;

/// A refused operation. `code` is stable for programs; `message` says what is wrong and
/// `help` what to do. Nothing was changed when an operation returns one.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Failure {
    pub code: FailureCode,
    pub message: String,
    pub help: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl Failure {
    #[must_use]
    pub(crate) fn new(
        code: FailureCode,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            help: help.into(),
            details: Value::Null,
        }
    }

    #[must_use]
    pub(crate) fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

impl Failure {
    /// The run has reached an end; nothing more can happen in it.
    #[must_use]
    pub(crate) fn run_finished(run: &super::Run) -> Self {
        Failure::new(
            FailureCode::RunFinished,
            format!(
                "run {} has finished ({})",
                run.id,
                run.end.as_ref().map_or("?", super::model::RunEnd::name)
            ),
            "start a new run with `start`",
        )
    }

    /// A stage a request named that the workflow does not have; the help lists its stages.
    #[must_use]
    pub(crate) fn no_such_stage(workflow: &crate::workflow::Workflow, stage: &str) -> Self {
        Failure::new(
            FailureCode::UnknownStage,
            format!(
                "workflow `{}` has no stage `{}`",
                workflow.name.value,
                stage.chars().take(80).collect::<String>()
            ),
            format!(
                "name one of its stages: {}",
                workflow
                    .stages
                    .iter()
                    .map(|s| s.name.value.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }

    /// The run sits in a stage that the current workflow file no longer has.
    #[must_use]
    pub(crate) fn stage_gone(stage: &str) -> Self {
        Failure::new(
            FailureCode::UnknownStage,
            format!("the run is in `{stage}`, which the workflow no longer has"),
            "restore the stage in the workflow file, or start a new run",
        )
    }
}

impl Failure {
    /// Leaves a trace on stderr (see `crate::log`): a refusal the caller can act on at
    /// `debug`, a provider's trouble at `warn`, maestro's own at `error`.
    pub(crate) fn log(&self) {
        let (code, message) = (self.code.as_str(), &self.message);
        match self.code.class() {
            FailureClass::NotFound | FailureClass::Refused => {
                tracing::debug!(code, "refused: {message}");
            }
            FailureClass::Unavailable => tracing::warn!(code, "{message}"),
            FailureClass::Internal => tracing::error!(code, "{message}"),
        }
    }
}

/// The one way a failure is told, at every door (the CLI, an MCP tool's error, the page):
/// what went wrong and its code, then what to do, then the details.
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)?;
        if !self.help.is_empty() {
            write!(f, "\nWhat to do: {}", self.help)?;
        }
        if !self.details.is_null() {
            write!(f, "\nDetails: {}", self.details)?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let help = match &e {
            StoreError::Empty { .. } => {
                "nothing was written to it; restore it from a backup, or delete it to start afresh (its runs and approvals are gone)"
            }
            StoreError::TooNew { .. } => "install a newer maestro; nothing was changed",
            StoreError::Corrupt { .. } => {
                "the state file holds something this maestro cannot read; keep a copy and report it"
            }
            _ => "check that the state file is writable; no change was made",
        };
        Failure::new(FailureCode::StateError, e.to_string(), help)
    }
}
