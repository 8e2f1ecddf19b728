//! `note`: an entry in the evidence chain (and the run's audit trail).

use super::super::events::RunEvent;
use super::super::model::Run;
use super::super::work::{Evidence, Note};
use super::super::{Engine, Failure};
use super::unknown_run;
use crate::engine::FailureCode;
use crate::store::{Row, Table, Versioned, new_id, now_ms};

impl Engine {
    /// Appends to the evidence chain.
    ///
    /// # Errors
    /// An unknown run or link.
    pub(crate) fn note(&self, n: &Note) -> Result<Evidence, Failure> {
        self.store.write(|tx| {
            let stage = match &n.run_id {
                Some(id) => {
                    let run: Versioned<Run> =
                        tx.get(Table::Runs, id)?.ok_or_else(|| unknown_run(id))?;
                    run.value.stage
                }
                None => None,
            };
            for link in &n.links {
                if tx.get::<Evidence>(Table::Evidence, link)?.is_none() {
                    return Err(Failure::new(
                        FailureCode::UnknownLink,
                        format!(
                            "there is no evidence entry `{}`",
                            link.chars().take(80).collect::<String>()
                        ),
                        "link to ids returned by `note` or `evidence`",
                    ));
                }
            }
            let e = Evidence {
                id: new_id("ev"),
                run_id: n.run_id.clone(),
                stage,
                kind: n.kind,
                content: n.content.clone(),
                source: n.source.clone(),
                links: n.links.clone(),
                at: now_ms(),
                data: n.data.to_value(),
            };
            let run_key = e.run_id.clone().unwrap_or_default();
            tx.insert(
                Table::Evidence,
                &Row {
                    id: &e.id,
                    run_id: &run_key,
                    status: e.kind.as_str(),
                },
                &e,
            )?;
            tx.append(
                &run_key,
                &RunEvent::Evidence {
                    id: e.id.clone(),
                    kind: e.kind,
                    stage: e.stage.clone(),
                    content: e.content.clone(),
                    source: e.source.clone(),
                    links: e.links.clone(),
                },
            )?;
            // Return what was stored (masked).
            Ok(tx
                .get::<Evidence>(Table::Evidence, &e.id)?
                .map_or(e, |v| v.value))
        })
    }

    /// Appends an event to a run's audit trail (or the global one with no run).
    ///
    /// # Errors
    /// A state-file failure.
    pub(crate) fn record(&self, run_id: Option<&str>, event: &RunEvent) -> Result<(), Failure> {
        self.store.write(|tx| {
            tx.append(run_id.unwrap_or(""), event)
                .map_err(Failure::from)
        })?;
        Ok(())
    }

    /// Records a `select` outcome: in the audit trail, and for a run that is being worked, as
    /// the visit's `selection` its guards read (`selection.none_passed`).
    ///
    /// # Errors
    /// An unknown run; a state-file failure.
    pub(crate) fn record_selection(
        &self,
        run_id: Option<&str>,
        s: &crate::quality::select::Selection,
    ) -> Result<(), Failure> {
        let event = RunEvent::Selection {
            winner: s.winner.clone(),
            test_signal: s.test_signal,
            requires_review: s.requires_review,
            none_passed: s.none_passed,
        };
        let Some(id) = run_id else {
            return self.record(None, &event);
        };
        self.mutate(id, |_, _, run, events| {
            if run.status == super::super::model::RunStatus::Active {
                run.selection = Some(super::super::model::SelectionFact {
                    winner: s.winner.clone(),
                    none_passed: s.none_passed,
                });
            }
            events.push(event);
            Ok(())
        })?;
        Ok(())
    }
}
