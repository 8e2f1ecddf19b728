//! Consulting other models, with budgets: the one path the MCP tools (`consult`, `ensemble`,
//! `vote`, `calibrate`, `select`) and the CLI (`maestro consult`) share. Every provider call is
//! paid through [`Engine::pay`] *before* it is made (nothing runs if the budget cannot pay):
//! the run it belongs to is decided by [`Engine::payer`] (a thread's run, the named run, the
//! calling session's run), and a provider can only be called with the ticket the payment
//! returns. The tokens and cost providers report are recorded.
//!
//! Engine calls run on blocking threads ([`Engine::blocking`]); provider calls are async and
//! never hold anything of the engine.

#![allow(
    clippy::result_large_err,
    reason = "a Failure carries a readable message and help; refusals are rare"
)]

mod ask;
pub(crate) mod calibrate;
pub(crate) mod checks;
mod ensemble;
mod material;
pub(crate) mod select;
pub(crate) mod stance;
pub(crate) mod thread;
pub(crate) mod vote;

pub use ask::Ask;
pub use ask::consult;
pub(crate) use ask::{Consulted, Reply};
pub use ensemble::EnsembleAsk;
pub(crate) use ensemble::Ensembled;
pub use ensemble::ensemble;

use std::sync::Arc;

use crate::engine::FailureCode;
use crate::engine::budget::{Payer, Ticket};
use crate::engine::work::{EvidenceData, EvidenceKind, Note, Usage};
use crate::engine::{BudgetView, Engine, Failure};
use crate::home::{Home, Kind};
use crate::providers::{Answer, ProviderError, ProviderSet};

pub(crate) fn provider_failure(e: &ProviderError) -> Failure {
    Failure::new(
        FailureCode::ProviderFailed,
        format!("{} ({}): {}", e.provider, e.kind, e.message),
        e.help.clone(),
    )
}

pub(crate) fn unknown_provider(name: &str, set: &ProviderSet) -> Failure {
    let problems = set.problems_of(name);
    if !problems.is_empty() {
        // Configured, but refused for what is wrong in providers.yaml: say that.
        return Failure::new(
            FailureCode::ProviderConfig,
            format!("provider `{name}` is not usable: {}", problems.join("; ")),
            "fix its entry in conf/providers.yaml (`maestro doctor` lists every problem)",
        );
    }
    Failure::new(
        FailureCode::UnknownProvider,
        format!(
            "no provider `{}` is configured",
            name.chars().take(80).collect::<String>()
        ),
        format!("use some of: {}", set.names().join(", ")),
    )
}

fn no_provider() -> Failure {
    Failure::new(
        FailureCode::NoProvider,
        "no provider is configured and enabled",
        "run `maestro doctor`, then install a CLI or add a provider to conf/providers.yaml",
    )
}

/// The providers a run's current stage prefers, else every enabled one.
fn preferred(engine: Option<&Engine>, run_id: Option<&str>, set: &ProviderSet) -> Vec<String> {
    let from_stage = engine.zip(run_id).and_then(|(e, id)| {
        let (run, wf) = e.read_run(id).ok()?;
        let stage = wf.workflow().stage(run.stage.as_deref()?)?;
        let prefer: Vec<String> = stage
            .settings
            .consult
            .prefer
            .iter()
            .map(|p| p.value.clone())
            .collect();
        (!prefer.is_empty()).then_some(prefer)
    });
    from_stage.unwrap_or_else(|| set.enabled())
}

/// The providers to ask: the named ones (all known), else the stage's preferences, else
/// every enabled one.
///
/// # Errors
/// An unknown provider, or none at all.
pub(crate) fn choose(
    engine: Option<&Engine>,
    given: &[String],
    run_id: Option<&str>,
    set: &ProviderSet,
) -> Result<Vec<String>, Failure> {
    let names = if given.is_empty() {
        preferred(engine, run_id, set)
    } else {
        given.to_vec()
    };
    if let Some(bad) = names.iter().find(|n| set.get(n).is_none()) {
        return Err(unknown_provider(bad, set));
    }
    if names.is_empty() {
        return Err(no_provider());
    }
    Ok(names)
}

/// A run id without an open state file: nothing can be charged, so nothing is asked.
pub(crate) fn no_state() -> Failure {
    Failure::new(
        FailureCode::NoState,
        "a run id was given but no state is open",
        "run inside the project that holds the run",
    )
}

fn unknown_thread_without_state() -> Failure {
    Failure::new(
        FailureCode::NoState,
        "a thread id was given but no state is open",
        "run inside the project whose `.maestro/state.db` holds the thread",
    )
}

/// Who pays for a provider call ([`Engine::payer`]: the thread's run, the named run, the
/// calling session's run). Without an engine only a call in a project with no state file at
/// all goes free. Decided before anything else, so the run's memory and rules apply.
///
/// # Errors
/// As [`Engine::payer`]; a run or thread named without a state file.
pub(crate) fn payer(
    engine: Option<&Engine>,
    run_id: Option<&str>,
    thread_id: Option<&str>,
    session: Option<&str>,
) -> Result<Payer, Failure> {
    match engine {
        Some(e) => e.payer(run_id, thread_id, session),
        None if run_id.is_some() => Err(no_state()),
        None if thread_id.is_some() => Err(unknown_thread_without_state()),
        None => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
            Payer::without_state(&crate::engine::state_path(&cwd)).ok_or_else(no_state)
        }
    }
}

/// Pays for `n` provider calls: the one budget door. The tickets are what the calls take.
///
/// # Errors
/// A spent budget, an unknown, finished or waiting run; nothing is charged then.
pub(crate) fn pay(
    engine: Option<&Engine>,
    payer: &Payer,
    n: u32,
    what: &str,
) -> Result<(Vec<Ticket>, Option<BudgetView>), Failure> {
    match engine {
        Some(e) => e.pay(payer, n, what),
        None => crate::engine::budget::free(payer, n)
            .map(|t| (t, None))
            .ok_or_else(no_state),
    }
}

/// Pays for one provider call ([`pay`] with `n` = 1): its ticket and the budget after it.
///
/// # Errors
/// As [`pay`].
pub(crate) fn pay_one(
    engine: Option<&Engine>,
    payer: &Payer,
    what: &str,
) -> Result<(Ticket, Option<BudgetView>), Failure> {
    let (tickets, budget) = pay(engine, payer, 1, what)?;
    let ticket = tickets
        .into_iter()
        .next()
        .expect("one ticket is issued for one call");
    Ok((ticket, budget))
}

/// Records answers that are not consults of their own (a judge's verdict) in the run's
/// evidence chain, and adds the tokens and cost they reported.
pub(crate) fn record(engine: Option<&Engine>, run_id: Option<&str>, answers: &[Answer]) {
    if let (Some(e), Some(id)) = (engine, run_id) {
        for a in answers {
            let noted = e.note(&Note {
                run_id: Some(id.to_string()),
                kind: EvidenceKind::Observation,
                content: a.text.chars().take(4000).collect(),
                source: Some(format!("{} ({})", a.provider, a.model)),
                links: Vec::new(),
                data: EvidenceData::Usage(Usage::of(a)),
            });
            crate::log::dropped("keeping an answer in the run's evidence", noted);
        }
        add_usage(e, id, answers);
    }
}

/// Keeps each provider failure in the run's evidence chain (what failed, and the hint), so a
/// person sees the consults that did not answer as well as those that did.
pub(crate) fn record_failures(
    engine: Option<&Engine>,
    run_id: Option<&str>,
    failures: &[crate::providers::ProviderError],
) {
    if let (Some(e), Some(id)) = (engine, run_id) {
        for f in failures {
            let noted = e.note(&Note {
                run_id: Some(id.to_string()),
                kind: EvidenceKind::Observation,
                content: format!("consult failed: {} ({}): {}", f.provider, f.kind, f.message),
                source: Some(f.provider.clone()),
                links: Vec::new(),
                data: EvidenceData::FailedConsult {
                    failed: true,
                    kind: f.kind,
                    help: f.help.clone(),
                },
            });
            crate::log::dropped("keeping a failed consult in the run's evidence", noted);
        }
    }
}

/// Adds the tokens and cost the answers reported to the run's usage.
pub(crate) fn add_usage(e: &Engine, run_id: &str, answers: &[Answer]) {
    let tokens: u64 = answers
        .iter()
        .map(|a| a.tokens_in.unwrap_or(0) + a.tokens_out.unwrap_or(0))
        .sum();
    let cost: f64 = answers.iter().filter_map(|a| a.cost_usd).sum();
    if tokens > 0 || cost > 0.0 {
        crate::log::dropped(
            "adding a consult's tokens and cost to the run's usage",
            e.record_usage(run_id, tokens, cost),
        );
    }
}

/// Runs an engine call on a blocking thread when there is an engine, inline otherwise.
pub(crate) async fn with_engine<T: Send + 'static>(
    engine: Option<&Arc<Engine>>,
    f: impl FnOnce(Option<&Engine>) -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    match engine {
        Some(e) => e.blocking(move |e| f(Some(e))).await,
        None => f(None),
    }
}

/// The template variables a role sees outside a run: the task and nothing else. With a run,
/// [`Engine::role_vars`] gives the same variables as the stage's brief.
#[must_use]
pub(crate) fn blank_vars(task: &str) -> serde_json::Value {
    serde_json::json!({
        "task": task, "workflow": {"name": "consult", "summary": ""},
        "stage": {"name": "consult", "title": "consult", "visit": 1, "max_visits": null, "topology": "sas"},
        "run": {"id": "", "consults_used": 0, "consults_left": null},
        "outputs": {}, "feedback": [], "context": "", "facts": [], "errors": [],
        "constraints": [], "files": [], "schema": "", "lang": "en",
    })
}

/// Renders the role template `role` with `vars` (see [`blank_vars`]).
///
/// # Errors
/// An invalid or unknown role, or one that does not render.
pub(crate) fn render_role(
    home: &Home,
    role: &str,
    vars: &serde_json::Value,
) -> Result<String, Failure> {
    if !crate::home::valid_name(role) {
        return Err(crate::engine::library::bad_name("role", role));
    }
    let asset = home.find(Kind::Role, role).ok().flatten().ok_or_else(|| {
        Failure::new(
            FailureCode::UnknownRole,
            format!("no role `{}`", role.chars().take(80).collect::<String>()),
            format!("use one of: {}", home.names(Kind::Role).join(", ")),
        )
    })?;
    let template = String::from_utf8_lossy(&asset.bytes).into_owned();
    crate::template::render(role, &template, vars).map_err(|e| {
        Failure::new(
            FailureCode::RoleRenderFailed,
            format!("role `{role}` does not render: {e}"),
            "run `maestro validate` and fix the role template",
        )
    })
}

/// Flags of a provider's argv that its recorded or live `--help` text does not mention.
#[must_use]
pub fn unknown_flags(argv: &[String], help: &str) -> Vec<String> {
    argv.iter()
        .filter(|a| a.starts_with('-') && a.len() > 1)
        .filter(|flag| {
            !help
                .split(|c: char| c.is_whitespace() || c == ',' || c == '=' || c == '[' || c == '<')
                .any(|w| w == flag.as_str())
        })
        .cloned()
        .collect()
}
