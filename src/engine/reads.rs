//! Reads: plain read transactions over the state file. A read resolves due gate timeouts
//! first (the `expire` command, which writes only when something is due).

use std::sync::Arc;

use super::brief::{self, Brief};
use super::budget::{self, BudgetView};
use super::events::{Logged, RunEvent};
use super::library::Compiled;
use super::model::{Approval, Run, RunStatus};
use super::ops::{unknown_approval, unknown_run};
use super::views::{self, ApprovalView, RunSummary, RunView};
use super::work::{Evidence, EvidenceQuery};
use super::{Engine, Failure};
use crate::store::{Table, Versioned, now_ms};
use crate::workspace::context::{ContextRequest, Limits, Packed, pack};

impl Engine {
    /// A run and the workflow version it is pinned to, read without writing (a run stored
    /// before pinning reads with the current version until a command pins it).
    ///
    /// # Errors
    /// An unknown run, or a version that does not compile.
    pub(crate) fn read_run(&self, run_id: &str) -> Result<(Run, Arc<Compiled>), Failure> {
        self.store.read(|tx| {
            let run: Versioned<Run> = tx
                .get(Table::Runs, run_id)?
                .ok_or_else(|| unknown_run(run_id))?;
            let wf = match &run.value.workflow_version {
                Some(v) => self.load_version(tx, v)?,
                None => self.library.get(&run.value.workflow)?.compiled,
            };
            Ok((run.value, wf))
        })
    }

    pub(super) fn brief_of(&self, wf: &Compiled, run: &Run) -> Result<Brief, Failure> {
        let c = &run.context;
        let limits = current_limits(wf, run);
        let packed = self.context(
            &ContextRequest {
                files: c.files.clone(),
                facts: c.facts.clone(),
                errors: c.errors.clone(),
                constraints: c.constraints.clone(),
                ..ContextRequest::default()
            }
            .within(&limits),
        );
        let text = packed.with_omissions();
        brief::render(wf, run, budget::view(wf, run, now_ms()), text)
    }

    /// A run's full state.
    ///
    /// # Errors
    /// An unknown run.
    pub fn status(&self, run_id: &str) -> Result<RunView, Failure> {
        self.expire_due(Some(run_id))?;
        let (run, wf) = self.read_run(run_id)?;
        let (events, approval) = self.store.read(|tx| {
            let events: Vec<Logged> = tx.events_of(Some(run_id), Some(views::HISTORY_KINDS))?;
            let approval = match &run.pending_approval {
                Some(id) => tx.get::<Approval>(Table::Approvals, id)?.map(|a| a.value),
                None => None,
            };
            Ok::<_, Failure>((events, approval))
        })?;
        let current = self.library.get(&run.workflow).ok();
        Ok(RunView {
            summary: RunSummary::of(&run),
            lang: run.lang.clone(),
            title: run.stage.as_ref().map(|s| brief::title(&wf, s, &run.lang)),
            max_visits: run
                .stage
                .as_ref()
                .and_then(|s| wf.workflow().stage(s))
                .and_then(crate::workflow::Stage::max_visits),
            note: run.note.clone(),
            budget: budget::view(&wf, &run, now_ms()),
            approval: approval.as_ref().map(ApprovalView::of),
            outputs: run.outputs.keys().cloned().collect(),
            checks: run.checks.clone(),
            history: views::history(&events),
            newer_version: current
                .as_ref()
                .map(|c| c.compiled.version().to_string())
                .filter(|v| Some(v) != run.workflow_version.as_ref()),
            workflow_problems: current.map(|c| c.refused_edit).unwrap_or_default(),
        })
    }

    /// Runs, newest first; only unfinished ones when `active_only`.
    ///
    /// # Errors
    /// A state-file failure.
    pub fn runs(&self, active_only: bool) -> Result<Vec<RunSummary>, Failure> {
        self.expire_due(None)?;
        let runs: Vec<Versioned<Run>> = self.store.read(|tx| tx.list(Table::Runs, None, None))?;
        Ok(runs
            .iter()
            .map(|r| RunSummary::of(&r.value))
            .filter(|r| !active_only || r.status != RunStatus::Finished)
            .collect())
    }

    /// Runs with what each has spent and has left (the page's list), from one read.
    ///
    /// # Errors
    /// A state-file failure.
    pub(crate) fn runs_with_budget(&self) -> Result<Vec<(RunSummary, BudgetView)>, Failure> {
        self.expire_due(None)?;
        let now = now_ms();
        self.store.read(|tx| {
            let runs: Vec<Versioned<Run>> = tx.list(Table::Runs, None, None)?;
            let mut out = Vec::with_capacity(runs.len());
            for r in &runs {
                let wf = match &r.value.workflow_version {
                    Some(v) => self.load_version(tx, v).ok(),
                    None => self.library.get(&r.value.workflow).ok().map(|e| e.compiled),
                };
                // A run whose version no longer compiles is still listed, without a budget.
                let budget =
                    wf.map_or_else(BudgetView::default, |wf| budget::view(&wf, &r.value, now));
                out.push((RunSummary::of(&r.value), budget));
            }
            Ok::<_, Failure>(out)
        })
    }

    /// The brief of a run's current stage.
    ///
    /// # Errors
    /// An unknown or finished run.
    pub(crate) fn brief(&self, run_id: &str) -> Result<Brief, Failure> {
        self.expire_due(Some(run_id))?;
        let (run, wf) = self.read_run(run_id)?;
        self.brief_of(&wf, &run)
    }

    /// The budget left in a run now.
    ///
    /// # Errors
    /// An unknown run.
    pub(crate) fn budget(&self, run_id: &str) -> Result<BudgetView, Failure> {
        let (run, wf) = self.read_run(run_id)?;
        Ok(budget::view(&wf, &run, now_ms()))
    }

    /// The coordination policy of a run's workflow: (capability threshold, max agents).
    ///
    /// # Errors
    /// An unknown run.
    pub(crate) fn policy(&self, run_id: &str) -> Result<crate::workflow::Policy, Failure> {
        let (_, wf) = self.read_run(run_id)?;
        Ok(wf.workflow().policy.clone())
    }

    /// The audit trail of a run.
    ///
    /// # Errors
    /// An unknown run.
    pub(crate) fn log(&self, run_id: &str) -> Result<Vec<Logged>, Failure> {
        self.store.read(|tx| {
            if tx.get::<Run>(Table::Runs, run_id)?.is_none() {
                return Err(unknown_run(run_id));
            }
            Ok(tx.events(Some(run_id))?)
        })
    }

    /// Approvals, newest first; only pending ones when `pending_only`.
    ///
    /// # Errors
    /// A state-file failure.
    pub(crate) fn approvals(&self, pending_only: bool) -> Result<Vec<ApprovalView>, Failure> {
        self.expire_due(None)?;
        let list: Vec<Versioned<Approval>> = self
            .store
            .read(|tx| tx.list(Table::Approvals, pending_only.then_some("pending"), None))?;
        Ok(list.iter().map(|a| ApprovalView::of(&a.value)).collect())
    }

    /// One approval.
    ///
    /// # Errors
    /// An unknown id.
    pub(crate) fn approval(&self, id: &str) -> Result<ApprovalView, Failure> {
        let a: Option<Versioned<Approval>> = self.store.read(|tx| tx.get(Table::Approvals, id))?;
        a.map(|a| ApprovalView::of(&a.value))
            .ok_or_else(|| unknown_approval(id))
    }

    /// Reads the evidence chain, newest first.
    ///
    /// # Errors
    /// A state-file failure.
    pub(crate) fn evidence(&self, q: &EvidenceQuery) -> Result<Vec<Evidence>, Failure> {
        let rows: Vec<Versioned<Evidence>> = self.store.read(|tx| {
            tx.list(
                Table::Evidence,
                q.kind.map(super::work::EvidenceKind::as_str),
                q.run_id.as_deref(),
            )
        })?;
        Ok(rows
            .into_iter()
            .map(|r| r.value)
            .filter(|e| q.stage.as_ref().is_none_or(|s| e.stage.as_ref() == Some(s)))
            .take(q.limit.unwrap_or(100))
            .collect())
    }

    /// What a consult made for the run knows of it, from one read (see [`ConsultMemory`]).
    ///
    /// # Errors
    /// An unknown run.
    pub(crate) fn consult_memory(&self, run_id: &str) -> Result<ConsultMemory, Failure> {
        let (run, wf) = self.read_run(run_id)?;
        let view = budget::view(&wf, &run, now_ms());
        let solo_stage = run.stage.clone().filter(|s| {
            wf.workflow()
                .stage(s)
                .and_then(|st| st.settings.consult.ensemble.as_ref())
                .is_some_and(|e| !e.value)
        });
        Ok(ConsultMemory {
            vars: brief::template_vars(&wf, &run, &view, ""),
            limits: current_limits(&wf, &run),
            policy: wf.workflow().policy.clone(),
            solo_stage,
            degraded: run.strain.view("en").map(|v| v.note),
        })
    }

    /// A stage's context limits (`context ...`, `consult context-chars`): the named stage
    /// (else the run's current one) of the run's workflow, or with no run, of the `default`
    /// workflow.
    ///
    /// # Errors
    /// An unknown run, or a stage the workflow does not have.
    pub(crate) fn stage_limits(
        &self,
        run_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<Limits, Failure> {
        let (wf, run) = match run_id {
            Some(id) => {
                let (run, wf) = self.read_run(id)?;
                (wf, Some(run))
            }
            None => (self.library.get("default")?.compiled, None),
        };
        let current = run.as_ref().and_then(|r| r.stage.clone());
        let Some(name) = stage.map(str::to_string).or(current) else {
            return Ok(Limits::default());
        };
        let s = wf
            .workflow()
            .stage(&name)
            .ok_or_else(|| Failure::no_such_stage(wf.workflow(), &name))?;
        Ok(match &run {
            Some(run) => super::degraded::limits(run, stage_limits(s)),
            None => stage_limits(s),
        })
    }

    /// Packs context from the workspace.
    #[must_use]
    pub(crate) fn context(&self, req: &ContextRequest) -> Packed {
        pack(&self.root, req)
    }

    /// Stage outcomes of every run, oldest first (Rule D's calibration data).
    ///
    /// # Errors
    /// A state-file failure.
    pub(crate) fn outcomes(&self) -> Result<Vec<crate::quality::coordinate::Outcome>, Failure> {
        let events: Vec<Logged> = self
            .store
            .read(|tx| tx.events(None).map_err(Failure::from))?;
        Ok(events
            .iter()
            .filter_map(|e| match &e.event {
                RunEvent::StageOutcome {
                    topology,
                    success,
                    consults,
                    ..
                } => Some(crate::quality::coordinate::Outcome {
                    topology: *topology,
                    success: *success,
                    overhead: f64::from(*consults),
                }),
                _ => None,
            })
            .collect())
    }

    /// Metrics for one run, or all runs.
    ///
    /// # Errors
    /// An unknown run.
    pub(crate) fn metrics(
        &self,
        run_id: Option<&str>,
    ) -> Result<crate::engine::metrics::Metrics, Failure> {
        let events = match run_id {
            Some(id) => self.log(id)?,
            None => self
                .store
                .read(|tx| tx.events(None).map_err(Failure::from))?,
        };
        Ok(crate::engine::metrics::compute(&events))
    }
}

/// What a consult made for a run knows of it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConsultMemory {
    /// The variables a role renders with — the same as the current stage's brief (approved
    /// outputs, feedback, facts, errors), except that the packed material follows the question.
    pub vars: serde_json::Value,
    /// The current stage's context limits.
    pub limits: Limits,
    /// The workflow's coordination policy.
    pub policy: crate::workflow::Policy,
    /// The current stage, when it says `ensemble #false`: a question may not fan out there.
    pub solo_stage: Option<String>,
    /// Why the run asks one provider per question, when it is in degraded mode.
    pub degraded: Option<String>,
}

/// The context limits of the run's current stage (none when it is in no stage).
fn current_limits(wf: &Compiled, run: &Run) -> Limits {
    let l = run
        .stage
        .as_deref()
        .and_then(|s| wf.workflow().stage(s))
        .map(stage_limits)
        .unwrap_or_default();
    super::degraded::limits(run, l)
}

/// A stage's context limits as packing takes them.
#[must_use]
pub(super) fn stage_limits(s: &crate::workflow::Stage) -> Limits {
    let c = &s.settings.context;
    let n = |v: Option<u32>| v.map(|v| v as usize);
    Limits {
        chars: n(s.context_chars()),
        files: n(c.files),
        lines: n(c.lines),
        error_lines: n(c.error_lines),
    }
}
