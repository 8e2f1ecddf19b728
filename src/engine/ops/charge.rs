//! `charge`: the one door to a run's budget. Every provider call — consult, ensemble members,
//! vote and calibration samples, the judge of a selection — is paid here first: [`Engine::payer`]
//! decides which run it belongs to (whatever the call names: a thread's run, the caller's
//! session's run), and [`Engine::pay`] charges it atomically (two processes can never both
//! spend the last consult) and hands back the tickets a provider call needs.

use super::super::budget::{self, BudgetView, Payer, Ticket};
use super::super::degraded::{self, Strained};
use super::super::events::RunEvent;
use super::super::model::{Run, RunStatus};
use super::super::{Engine, Failure};
use super::submit::pending;
use crate::engine::FailureCode;
use crate::quality::coordinate::DegradedMode;
use crate::store::{Table, Versioned, now_ms};

impl Engine {
    /// Which run a provider call belongs to. In order: the run that started the thread it
    /// continues (a thread belongs to its run: every later turn is charged there and obeys
    /// its stage rules); the run it names; the one unfinished run that the calling Claude Code
    /// session started. `None` (free) only when none of these applies.
    ///
    /// # Errors
    /// An unknown run or thread; a call naming another run than its thread's; a thread whose
    /// run has finished; a session with several unfinished runs and no run named.
    pub(crate) fn payer(
        &self,
        named: Option<&str>,
        thread: Option<&str>,
        session: Option<&str>,
    ) -> Result<Payer, Failure> {
        if let Some(t) = thread {
            let turns = self.thread(t)?;
            if let Some(owner) = turns.iter().find_map(|turn| turn.run_id.clone()) {
                if let Some(other) = named.filter(|n| *n != owner) {
                    return Err(Failure::new(
                        FailureCode::ThreadRun,
                        format!(
                            "thread {t} belongs to run {owner}, not {}",
                            other.chars().take(80).collect::<String>()
                        ),
                        format!(
                            "omit `run_id` (or name {owner}) to continue the thread, or omit \
                             `thread_id` to start a new one"
                        ),
                    ));
                }
                let run = self
                    .require_run(Some(&owner))?
                    .expect("require_run returns the run it found");
                if run.status == RunStatus::Finished {
                    return Err(Failure::new(
                        FailureCode::ThreadClosed,
                        format!("thread {t} belongs to run {owner}, which has finished"),
                        "omit `thread_id` to start a new thread",
                    ));
                }
                return Ok(Payer::new(Some(owner)));
            }
        }
        if let Some(id) = named {
            self.require_run(Some(id))?;
            return Ok(Payer::new(Some(id.to_string())));
        }
        let Some(session) = session.filter(|s| !s.is_empty()) else {
            return Ok(Payer::new(None));
        };
        let mut mine = self.session_runs(session)?;
        match mine.len() {
            0 => Ok(Payer::new(None)),
            1 => Ok(Payer::new(mine.pop())),
            _ => Err(Failure::new(
                FailureCode::WhichRun,
                format!(
                    "this session has {} unfinished runs ({}), so a consult without `run_id` \
                     cannot tell which to charge",
                    mine.len(),
                    mine.join(", ")
                ),
                "name the run this consult is for in `run_id`",
            )),
        }
    }

    /// The unfinished runs `session` started, newest first.
    fn session_runs(&self, session: &str) -> Result<Vec<String>, Failure> {
        self.store.read(|tx| {
            let mut runs: Vec<Versioned<Run>> =
                tx.list(Table::Runs, Some(RunStatus::Active.as_str()), None)?;
            runs.extend(tx.list::<Run>(Table::Runs, Some(RunStatus::Waiting.as_str()), None)?);
            runs.sort_by_key(|r| std::cmp::Reverse(r.value.created_at));
            Ok(runs
                .into_iter()
                .filter(|r| r.value.session.as_deref() == Some(session))
                .map(|r| r.value.id)
                .collect())
        })
    }

    /// Pays for `n` provider calls of `payer`'s run (charged before anything is asked), or
    /// issues them free outside every run. The tickets are what a provider call takes.
    ///
    /// # Errors
    /// An unknown or finished run, a pending approval, or a spent budget (with the counts);
    /// nothing is charged then.
    pub(crate) fn pay(
        &self,
        payer: &Payer,
        n: u32,
        what: &str,
    ) -> Result<(Vec<Ticket>, Option<BudgetView>), Failure> {
        match payer.run_id() {
            Some(id) => {
                let (view, mode) = self.charge_run(id, n, what)?;
                // A run in degraded mode gives every provider call more time.
                let factor = mode.map_or(1.0, |m| m.timeout_factor);
                Ok((Ticket::issue_stretched(Some(id), n, factor), Some(view)))
            }
            None => Ok((Ticket::issue(None, n), None)),
        }
    }

    /// Checks that `n` consults fit the run's budgets and charges them (the tests' way in;
    /// every provider call pays through [`Engine::pay`]).
    ///
    /// # Errors
    /// An unknown or finished run, a pending approval, or a spent budget (with the counts).
    #[cfg(test)]
    pub(crate) fn charge_consults(
        &self,
        run_id: &str,
        n: u32,
        what: &str,
    ) -> Result<BudgetView, Failure> {
        Ok(self.charge_run(run_id, n, what)?.0)
    }

    /// Checks that `n` consults fit the run's budgets and charges them; returns the budget
    /// left and the degraded mode the run works in after the charge (a charge that takes a
    /// visit over the coordination cap may put it there).
    ///
    /// # Errors
    /// An unknown or finished run, a pending approval, or a spent budget (with the counts).
    fn charge_run(
        &self,
        run_id: &str,
        n: u32,
        what: &str,
    ) -> Result<(BudgetView, Option<DegradedMode>), Failure> {
        let (charged, _, _) = self.mutate(run_id, |_, wf, run, events| {
            match run.status {
                RunStatus::Finished => {
                    return Err(Failure::new(
                        FailureCode::RunFinished,
                        format!("run {run_id} has finished; it has no budget left to spend"),
                        "consult without `run_id`, or start a new run",
                    ));
                }
                RunStatus::Waiting => return Err(pending(run)),
                RunStatus::Active => {}
            }
            let before = run.consults_in_visit;
            let v = budget::charge(wf, run, n, now_ms())?;
            events.push(RunEvent::ConsultCharged {
                stage: run.stage.clone(),
                n,
                what: what.to_string(),
                consults_used: run.consults_used,
            });
            degraded::strained(wf, run, Strained::Charged { before }, events);
            Ok((v, run.strain.mode()))
        })?;
        Ok(charged)
    }

    /// Adds tokens and cost a provider reported to a run.
    ///
    /// # Errors
    /// An unknown run.
    pub(crate) fn record_usage(
        &self,
        run_id: &str,
        tokens: u64,
        cost_usd: f64,
    ) -> Result<(), Failure> {
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
