//! The engine's commands, one file per operation. Each is one write transaction: load the
//! run and the workflow version it is pinned to, apply a pure step, store it with its events.
//! A command validates its whole request before it writes or runs anything.

pub(crate) mod charge;
pub(crate) mod decide;
pub(crate) mod expire;
pub(crate) mod note;
pub(crate) mod patch;
pub(crate) mod start;
pub(crate) mod submit;
pub(crate) mod upgrade;
pub(crate) mod verify;

use std::sync::Arc;

pub use start::StartRequest;
pub(crate) use submit::{SubmitOutcome, Submitted};

use super::events::{Events, RunEvent};
use super::library::{Compiled, Snapshot};
use super::model::{Approval, Run};
use super::{Engine, Failure};
use crate::engine::FailureCode;
use crate::store::{Row, Table, Tx, Versioned};

pub(super) fn unknown_run(id: &str) -> Failure {
    Failure::new(
        FailureCode::UnknownRun,
        format!(
            "there is no run `{}`",
            id.chars().take(80).collect::<String>()
        ),
        "call `status` without a run id to list the active runs; nothing was done",
    )
}

pub(super) fn unknown_approval(id: &str) -> Failure {
    Failure::new(
        FailureCode::UnknownApproval,
        format!(
            "there is no approval `{}`",
            id.chars().take(80).collect::<String>()
        ),
        "list pending approvals with `maestro approvals` or `status`",
    )
}

pub(super) fn conflict(what: &str) -> Failure {
    Failure::new(
        FailureCode::Conflict,
        format!("{what} changed while this request was applied"),
        "read its state again (`status`) and retry",
    )
}

pub(super) fn run_row(run: &Run) -> Row<'_> {
    Row {
        id: &run.id,
        run_id: &run.id,
        status: run.status.as_str(),
    }
}

pub(super) fn approval_row(a: &Approval) -> Row<'_> {
    Row {
        id: &a.id,
        run_id: &a.run_id,
        status: a.status.as_str(),
    }
}

/// Writes a decided approval back, if nobody changed it meanwhile.
pub(super) fn save_approval(tx: &Tx<'_>, a: &Approval, version: i64) -> Result<(), Failure> {
    if tx.update(Table::Approvals, &approval_row(a), version, a)? {
        Ok(())
    } else {
        Err(conflict(&format!("approval {}", a.id)))
    }
}

/// Appends a step's events to the run's trail.
pub(super) fn append_all(tx: &Tx<'_>, run_id: &str, events: &Events) -> Result<(), Failure> {
    for e in events {
        tx.append(run_id, e)?;
    }
    Ok(())
}

/// The stored snapshot of a workflow version.
pub(super) fn snapshot(tx: &Tx<'_>, version: &str) -> Result<Snapshot, Failure> {
    version_row(tx, version)
}

/// A stored version, decoded as `T` (the whole snapshot, or a part of it).
fn version_row<T: serde::de::DeserializeOwned>(tx: &Tx<'_>, version: &str) -> Result<T, Failure> {
    let row: Versioned<T> = tx.get(Table::Versions, version)?.ok_or_else(|| {
        Failure::new(
            FailureCode::UnknownVersion,
            format!("the state file has no workflow version {version}"),
            "the state file is damaged; start a new run",
        )
    })?;
    Ok(row.value)
}

/// A stored version's workflow file alone (`files` skipped unread): the hook needs only the
/// stages' `edits` and titles, before every tool call.
#[derive(Debug, serde::Deserialize)]
pub(super) struct WorkflowText {
    pub(super) name: String,
    pub(super) display: String,
    pub(super) text: String,
}

pub(super) fn workflow_text(tx: &Tx<'_>, version: &str) -> Result<WorkflowText, Failure> {
    version_row(tx, version)
}

impl Engine {
    /// Keeps a version's snapshot in the state file (once).
    pub(super) fn save_version(&self, tx: &Tx<'_>, c: &Arc<Compiled>) -> Result<(), Failure> {
        let snap = &c.snapshot;
        if tx
            .get::<Snapshot>(Table::Versions, &snap.version)?
            .is_none()
        {
            tx.insert(
                Table::Versions,
                &Row {
                    id: &snap.version,
                    run_id: "",
                    status: "kept",
                },
                snap.as_ref(),
            )?;
        }
        self.library.remember(c);
        Ok(())
    }

    /// A pinned version, compiled: from this process's cache, else from its snapshot.
    pub(super) fn load_version(
        &self,
        tx: &Tx<'_>,
        version: &str,
    ) -> Result<Arc<Compiled>, Failure> {
        if let Some(c) = self.library.cached(version) {
            return Ok(c);
        }
        self.library.pinned(&snapshot(tx, version)?)
    }

    /// The workflow version a run is pinned to. A run stored before pinning existed is pinned
    /// now to the current version, and the trail says so.
    pub(super) fn version_of(
        &self,
        tx: &Tx<'_>,
        run: &mut Run,
        events: &mut Events,
    ) -> Result<Arc<Compiled>, Failure> {
        if let Some(v) = &run.workflow_version {
            return self.load_version(tx, v);
        }
        let current = self.library.get(&run.workflow)?.compiled;
        self.save_version(tx, &current)?;
        run.workflow_version = Some(current.version().to_string());
        events.push(RunEvent::WorkflowPinned {
            version: current.version().to_string(),
        });
        Ok(current)
    }

    /// Loads a run and its version, resolves an expired gate by its `on-timeout`, runs `f`,
    /// and stores the result with the events, all in one write transaction. Nothing is
    /// written when `f` (or anything before it) fails.
    pub(super) fn mutate<T>(
        &self,
        run_id: &str,
        f: impl FnOnce(&Tx<'_>, &Compiled, &mut Run, &mut Events) -> Result<T, Failure>,
    ) -> Result<(T, Run, Arc<Compiled>), Failure> {
        self.store.write(|tx| {
            let row: Versioned<Run> = tx
                .get(Table::Runs, run_id)?
                .ok_or_else(|| unknown_run(run_id))?;
            let mut run = row.value;
            let mut events = Events::new();
            let wf = self.version_of(tx, &mut run, &mut events)?;
            expire::apply(tx, &wf, &mut run, &mut events)?;
            let out = f(tx, &wf, &mut run, &mut events)?;
            if !tx.update(Table::Runs, &run_row(&run), row.version, &run)? {
                return Err(conflict(&format!("run {run_id}")));
            }
            append_all(tx, &run.id, &events)?;
            Ok((out, run, wf))
        })
    }

    /// Checks that a run exists (for commands that take an optional `run_id`), before they
    /// write or run anything.
    ///
    /// # Errors
    /// An unknown run.
    pub(crate) fn require_run(&self, run_id: Option<&str>) -> Result<Option<Run>, Failure> {
        let Some(id) = run_id else { return Ok(None) };
        let run: Option<Versioned<Run>> = self.store.read(|tx| tx.get(Table::Runs, id))?;
        run.map(|r| Some(r.value)).ok_or_else(|| unknown_run(id))
    }
}
