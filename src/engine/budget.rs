//! Budgets: consults per visit and per run, wall clock, tokens and cost. Pure arithmetic over a
//! run and its workflow; the engine applies it inside a write transaction so two processes can
//! never both spend the last consult.

use serde::Serialize;

use super::Failure;
use super::library::Compiled;
use super::model::Run;
use crate::engine::FailureCode;

/// What is left, as shown in briefs and status.
#[derive(Debug, Clone, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct BudgetView {
    pub consults_used: u32,
    /// Left for the whole run; `None` when unlimited.
    pub consults_left_run: Option<u32>,
    /// Left in this visit of the current stage; `None` when unlimited. 0 in a visit before
    /// the stage's `consult from-visit`.
    pub consults_left_visit: Option<u32>,
    pub wall_secs_left: Option<u64>,
    /// Working time left in the current stage (its `wall`); `None` when unlimited.
    pub stage_secs_left: Option<u64>,
    pub tokens_used: u64,
    pub tokens_left: Option<u64>,
    pub cost_usd: f64,
    pub cost_usd_left: Option<f64>,
}

/// The budget left in `run` now.
#[must_use]
pub(crate) fn view(wf: &Compiled, run: &Run, now_ms: i64) -> BudgetView {
    let workflow = wf.workflow();
    let b = &workflow.budget;
    let stage = run.stage.as_ref().and_then(|s| workflow.stage(s));
    let stage_max = stage.and_then(|s| {
        let max = s.settings.consult.max.as_ref().map(|m| m.value);
        if run.visit() < s.consult_from_visit() {
            Some(0)
        } else {
            max
        }
    });
    let stage_secs_left = stage.and_then(|s| {
        let wall = s.wall_secs()?;
        Some(wall.saturating_sub(run.stage_work_secs(&s.name.value, now_ms)))
    });
    let elapsed = u64::try_from((now_ms - run.created_at).max(0) / 1000).unwrap_or(0);
    BudgetView {
        consults_used: run.consults_used,
        consults_left_run: b
            .consults
            .as_ref()
            .map(|c| c.value.saturating_sub(run.consults_used)),
        consults_left_visit: stage_max.map(|m| m.saturating_sub(run.consults_in_visit)),
        wall_secs_left: b.wall_secs.map(|w| w.saturating_sub(elapsed)),
        stage_secs_left,
        tokens_used: run.tokens_used,
        tokens_left: b.tokens.map(|t| t.saturating_sub(run.tokens_used)),
        cost_usd: run.cost_usd,
        cost_usd_left: b.cost_usd.map(|c| (c - run.cost_usd).max(0.0)),
    }
}

/// How many of `n` consults the budget can pay for now (0 when a limit is spent).
#[must_use]
pub(crate) fn affordable(v: &BudgetView, n: u32) -> u32 {
    if v.wall_secs_left == Some(0)
        || v.stage_secs_left == Some(0)
        || v.tokens_left == Some(0)
        || v.cost_usd_left == Some(0.0)
    {
        return 0;
    }
    let mut can = n;
    if let Some(left) = v.consults_left_run {
        can = can.min(left);
    }
    if let Some(left) = v.consults_left_visit {
        can = can.min(left);
    }
    can
}

/// Checks that `n` consults fit and charges them to `run`.
///
/// # Errors
/// `budget_exhausted` naming the limit and the counts left; nothing is charged then.
pub(crate) fn charge(
    wf: &Compiled,
    run: &mut Run,
    n: u32,
    now_ms: i64,
) -> Result<BudgetView, Failure> {
    let v = view(wf, run, now_ms);
    let stage = run.stage.clone().unwrap_or_default();
    let refuse = |what: String| {
        Failure::new(
            FailureCode::BudgetExhausted,
            what,
            "answer without consulting, or ask the person to raise the budget in the workflow file",
        )
        .with_details(serde_json::to_value(&v).unwrap_or_default())
    };
    if v.wall_secs_left == Some(0) {
        return Err(refuse("the run's wall-clock budget is spent".into()));
    }
    if v.stage_secs_left == Some(0) {
        return Err(refuse(format!(
            "stage `{stage}` has used its working time (`wall`); its work stops here"
        )));
    }
    let from = wf
        .workflow()
        .stage(&stage)
        .map_or(1, crate::workflow::Stage::consult_from_visit);
    if run.visit() < from {
        return Err(Failure::new(
            FailureCode::ConsultNotYet,
            format!(
                "stage `{stage}` allows consults from visit {from}; this is visit {}",
                run.visit()
            ),
            "work this visit alone: the workflow keeps consults for when the loop is stuck",
        )
        .with_details(serde_json::to_value(&v).unwrap_or_default()));
    }
    if v.tokens_left == Some(0) {
        return Err(refuse(format!(
            "the run's token budget is spent ({} used)",
            v.tokens_used
        )));
    }
    if v.cost_usd_left == Some(0.0) {
        return Err(refuse(format!(
            "the run's cost budget is spent (${:.2} used)",
            v.cost_usd
        )));
    }
    if let Some(left) = v.consults_left_run.filter(|&l| l < n) {
        return Err(refuse(format!(
            "{n} consult(s) asked, {left} left in the run ({} used)",
            v.consults_used
        )));
    }
    if let Some(left) = v.consults_left_visit.filter(|&l| l < n) {
        return Err(refuse(format!(
            "{n} consult(s) asked, {left} left in this visit of stage `{stage}`"
        )));
    }
    run.consults_used += n;
    run.consults_in_visit += n;
    Ok(view(wf, run, now_ms))
}

/// Leave to make one provider call, and the only way to reach a provider: `ProviderSet`'s
/// calls take one by value, and only the engine issues them ([`super::Engine::pay`]), charged
/// to the run the call belongs to, or free for a call that belongs to no run. A new door that
/// forgets to pay does not compile.
#[derive(Debug)]
#[must_use = "a ticket is a paid provider call"]
pub(crate) struct Ticket {
    run_id: Option<String>,
    /// The call may take this many times its configured timeout: above 1 for a run in
    /// degraded mode (`degraded.rs`).
    timeout_factor: f64,
}

impl Ticket {
    /// `n` tickets for `run_id` (already charged), or free ones for `None`.
    pub(in crate::engine) fn issue(run_id: Option<&str>, n: u32) -> Vec<Ticket> {
        Ticket::issue_stretched(run_id, n, 1.0)
    }

    /// [`Ticket::issue`], for calls that may take `timeout_factor` times their timeout.
    pub(in crate::engine) fn issue_stretched(
        run_id: Option<&str>,
        n: u32,
        timeout_factor: f64,
    ) -> Vec<Ticket> {
        (0..n)
            .map(|_| Ticket {
                run_id: run_id.map(str::to_string),
                timeout_factor,
            })
            .collect()
    }

    /// How long the call may take, for a request or provider that allows `configured`.
    #[must_use]
    pub(crate) fn timeout(&self, configured: std::time::Duration) -> std::time::Duration {
        configured.mul_f64(self.timeout_factor)
    }

    /// The run this call was charged to; `None` for a call outside every run.
    #[must_use]
    pub(crate) fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }
}

/// The run a provider call belongs to, as [`super::Engine::payer`] decided it: the run of the
/// thread it continues, the run it names, or the one unfinished run its session started.
/// Only the engine makes one, so a call cannot declare itself free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payer {
    run_id: Option<String>,
}

impl Payer {
    pub(in crate::engine) fn new(run_id: Option<String>) -> Payer {
        Payer { run_id }
    }

    /// The run charged; `None` outside every run.
    #[must_use]
    pub(crate) fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
    }

    /// The payer of a call in a project where no run can exist: no state file at `state`
    /// (nothing was ever started there). `None` when the file exists: then the engine decides.
    #[must_use]
    pub(crate) fn without_state(state: &std::path::Path) -> Option<Payer> {
        (!state.exists()).then(|| Payer::new(None))
    }
}

/// Free tickets for a call the engine (or an absent state file) found to belong to no run;
/// `None` for a payer with a run, whose calls only [`super::Engine::pay`] can charge.
#[must_use]
pub(crate) fn free(payer: &Payer, n: u32) -> Option<Vec<Ticket>> {
    payer.run_id.is_none().then(|| Ticket::issue(None, n))
}
