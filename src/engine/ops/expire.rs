//! `expire`: a pending approval whose gate `timeout` has passed is resolved by the gate's
//! `on-timeout` — as recorded when the approval was opened, from the workflow version the
//! run is pinned to, so a later edit of the file cannot add a timeout that approves.

use super::super::events::Events;
use super::super::library::Compiled;
use super::super::model::{Actor, Approval, ApprovalStatus, DecisionKind, DecisionText, Run};
use super::super::{Engine, Failure, RunStatus};
use super::decide::apply_decision;
use super::save_approval;
use crate::store::{Table, Tx, Versioned, now_ms};

/// Resolves the run's pending approval if its deadline has passed (inside a transaction).
pub(in crate::engine) fn apply(
    tx: &Tx<'_>,
    wf: &Compiled,
    run: &mut Run,
    events: &mut Events,
) -> Result<(), Failure> {
    let Some(id) = run.pending_approval.clone() else {
        return Ok(());
    };
    let Some(row) = tx.get::<Approval>(Table::Approvals, &id)? else {
        return Ok(());
    };
    let mut approval = row.value;
    let (Some(deadline), Some(on_timeout)) = (approval.deadline, approval.on_timeout) else {
        return Ok(());
    };
    if approval.status != ApprovalStatus::Pending || now_ms() < deadline {
        return Ok(());
    }
    let text = DecisionText {
        feedback: Some("the approval timed out".into()),
        answers: std::collections::BTreeMap::new(),
    };
    apply_decision(
        wf,
        run,
        &mut approval,
        DecisionKind::of_timeout(on_timeout),
        &text,
        Actor::Timeout,
        events,
    )?;
    save_approval(tx, &approval, row.version)
}

impl Engine {
    /// Resolves every due gate timeout (of one run, or of all waiting runs). Reads call this
    /// first; it writes only when something is due.
    ///
    /// # Errors
    /// A state-file failure.
    pub(crate) fn expire_due(&self, run_id: Option<&str>) -> Result<(), Failure> {
        let due: Vec<String> = self.store.read(|tx| {
            let runs: Vec<Versioned<Run>> = match run_id {
                Some(id) => tx.get(Table::Runs, id)?.into_iter().collect(),
                None => tx.list(Table::Runs, Some(RunStatus::Waiting.as_str()), None)?,
            };
            let mut due = Vec::new();
            for r in runs {
                let Some(a) = &r.value.pending_approval else {
                    continue;
                };
                let approval: Option<Versioned<Approval>> = tx.get(Table::Approvals, a)?;
                if approval.is_some_and(|a| {
                    a.value.status == ApprovalStatus::Pending
                        && a.value.on_timeout.is_some()
                        && a.value.deadline.is_some_and(|d| d <= now_ms())
                }) {
                    due.push(r.value.id);
                }
            }
            Ok::<_, Failure>(due)
        })?;
        for id in due {
            // A run whose workflow version no longer compiles stays as it is.
            crate::log::dropped(
                &format!("applying the timeout of run {id}'s gate"),
                self.mutate(&id, |_, _, _, _| Ok(())),
            );
        }
        Ok(())
    }
}
