//! `charge`: the one door to a run's budget. Every provider call made for a run — consult,
//! ensemble members, vote and calibration samples, the judge of a selection — is charged
//! here first, atomically, so two processes can never both spend the last consult.

use super::super::budget::{self, BudgetView};
use super::super::events::RunEvent;
use super::super::model::RunStatus;
use super::super::{Engine, Failure};
use super::submit::pending;
use crate::store::now_ms;

impl Engine {
    /// Checks that `n` consults fit the run's budgets and charges them.
    ///
    /// # Errors
    /// An unknown or finished run, a pending approval, or a spent budget (with the counts).
    pub fn charge_consults(&self, run_id: &str, n: u32, what: &str) -> Result<BudgetView, Failure> {
        let (view, _, _) = self.mutate(run_id, |_, wf, run, events| {
            match run.status {
                RunStatus::Finished => {
                    return Err(Failure::new(
                        "run_finished",
                        format!("run {run_id} has finished; it has no budget left to spend"),
                        "consult without `run_id`, or start a new run",
                    ));
                }
                RunStatus::Waiting => return Err(pending(run)),
                RunStatus::Active => {}
            }
            let v = budget::charge(wf, run, n, now_ms())?;
            events.push(RunEvent::ConsultCharged {
                stage: run.stage.clone(),
                n,
                what: what.to_string(),
                consults_used: run.consults_used,
            });
            Ok(v)
        })?;
        Ok(view)
    }

    /// Adds tokens and cost a provider reported to a run.
    ///
    /// # Errors
    /// An unknown run.
    pub fn record_usage(&self, run_id: &str, tokens: u64, cost_usd: f64) -> Result<(), Failure> {
        self.mutate(run_id, |_, _, run, events| {
            run.tokens_used += tokens;
            run.cost_usd += cost_usd;
            events.push(RunEvent::UsageRecorded {
                stage: run.stage.clone(),
                tokens,
                cost_usd,
            });
            Ok(())
        })?;
        Ok(())
    }
}
