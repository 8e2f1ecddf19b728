//! Consulting other models, with budgets: the one path the MCP tools (`consult`, `ensemble`,
//! `vote`, `calibrate`, `select`) and the CLI (`maestro consult`) share. With a run, every
//! provider call is charged through [`Engine::charge_consults`] *before* it is made (nothing
//! runs if the budget cannot pay), and the tokens and cost providers report are recorded.
//!
//! Engine calls run on blocking threads ([`Engine::blocking`]); provider calls are async and
//! never hold anything of the engine.

#![allow(
    clippy::result_large_err,
    reason = "a Failure carries a readable message and help; refusals are rare"
)]

pub mod calibrate;
pub mod checks;
pub mod select;
pub mod vote;

use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::engine::work::{EvidenceKind, Note};
use crate::engine::{BudgetView, Engine, Failure, RunEvent};
use crate::home::{Home, Kind};
use crate::providers::{Answer, ProviderError, ProviderSet, Request};
use crate::workflow::DEFAULT_CAPABILITY_THRESHOLD;

/// What to ask.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub prompt: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub run_id: Option<String>,
    pub timeout_s: Option<u64>,
}

/// One consult's result.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Consulted {
    pub answer: Answer,
    /// The run's budget after the charge, when a run was given.
    pub budget: Option<BudgetView>,
}

pub(crate) fn provider_failure(e: &ProviderError) -> Failure {
    Failure::new(
        "provider_failed",
        format!("{} ({}): {}", e.provider, e.kind, e.message),
        e.help.clone(),
    )
}

pub(crate) fn unknown_provider(name: &str, set: &ProviderSet) -> Failure {
    let problems = set.problems_of(name);
    if !problems.is_empty() {
        // Configured, but refused for what is wrong in providers.yaml: say that.
        return Failure::new(
            "provider_config",
            format!("provider `{name}` is not usable: {}", problems.join("; ")),
            "fix its entry in conf/providers.yaml (`maestro doctor` lists every problem)",
        );
    }
    Failure::new(
        "unknown_provider",
        format!(
            "no provider `{}` is configured",
            name.chars().take(80).collect::<String>()
        ),
        format!("use some of: {}", set.names().join(", ")),
    )
}

fn no_provider() -> Failure {
    Failure::new(
        "no_provider",
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
        "no_state",
        "a run id was given but no state is open",
        "run inside the project that holds the run",
    )
}

/// Checks that the run (when given) exists and can be charged, before anything is asked.
///
/// # Errors
/// An unknown run, or a run id without an open state file.
pub(crate) fn require_run(engine: Option<&Engine>, run_id: Option<&str>) -> Result<(), Failure> {
    match (engine, run_id) {
        (Some(e), id) => e.require_run(id).map(drop),
        (None, Some(_)) => Err(no_state()),
        (None, None) => Ok(()),
    }
}

/// Charges a run (when given) for `n` provider calls: the one budget door.
///
/// # Errors
/// A spent budget, an unknown, finished or waiting run; nothing is charged then.
pub(crate) fn charge(
    engine: Option<&Engine>,
    run_id: Option<&str>,
    n: u32,
    what: &str,
) -> Result<Option<BudgetView>, Failure> {
    match (engine, run_id) {
        (Some(e), Some(id)) => e.charge_consults(id, n, what).map(Some),
        (None, Some(_)) => Err(no_state()),
        _ => Ok(None),
    }
}

/// Records answers in the run's evidence chain and adds the tokens and cost they reported.
pub(crate) fn record(engine: Option<&Engine>, run_id: Option<&str>, answers: &[Answer]) {
    if let (Some(e), Some(id)) = (engine, run_id) {
        for a in answers {
            let _ = e.note(&Note {
                run_id: Some(id.to_string()),
                kind: EvidenceKind::Observation,
                content: a.text.chars().take(4000).collect(),
                source: Some(format!("{} ({})", a.provider, a.model)),
                links: Vec::new(),
                data: serde_json::json!({"tokens_in": a.tokens_in, "tokens_out": a.tokens_out, "cost_usd": a.cost_usd}),
            });
        }
        let tokens: u64 = answers
            .iter()
            .map(|a| a.tokens_in.unwrap_or(0) + a.tokens_out.unwrap_or(0))
            .sum();
        let cost: f64 = answers.iter().filter_map(|a| a.cost_usd).sum();
        if tokens > 0 || cost > 0.0 {
            let _ = e.record_usage(id, tokens, cost);
        }
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

/// The prompt framed by a role template, when one is named.
///
/// # Errors
/// An unknown role, or one that does not render.
pub fn frame(home: &Home, role: Option<&str>, prompt: &str) -> Result<String, Failure> {
    let Some(role) = role else {
        return Ok(prompt.to_string());
    };
    if !crate::home::valid_name(role) {
        return Err(crate::engine::library::bad_name("role", role));
    }
    let asset = home.find(Kind::Role, role).ok().flatten().ok_or_else(|| {
        Failure::new(
            "unknown_role",
            format!("no role `{}`", role.chars().take(80).collect::<String>()),
            format!("use one of: {}", home.names(Kind::Role).join(", ")),
        )
    })?;
    let template = String::from_utf8_lossy(&asset.bytes).into_owned();
    let ctx = serde_json::json!({
        "task": prompt, "workflow": {"name": "consult", "summary": ""},
        "stage": {"name": "consult", "title": role, "visit": 1, "max_visits": null, "topology": "sas"},
        "run": {"id": "", "consults_used": 0, "consults_left": null},
        "outputs": {}, "feedback": [], "context": "", "facts": [], "errors": [],
        "constraints": [], "files": [], "schema": "", "lang": "en",
    });
    let role_text = crate::template::render(role, &template, &ctx).map_err(|e| {
        Failure::new(
            "role_render_failed",
            format!("role `{role}` does not render: {e}"),
            "run `maestro validate` and fix the role template",
        )
    })?;
    Ok(format!("{role_text}\n\n{prompt}"))
}

/// Picks the provider and charges the run (when given): everything that needs the engine
/// before a consult.
///
/// # Errors
/// A spent budget (nothing is asked), an unknown provider, no provider at all.
pub fn plan_consult(
    engine: Option<&Engine>,
    set: &ProviderSet,
    ask: &Ask,
) -> Result<(Request, Option<BudgetView>), Failure> {
    let given: Vec<String> = ask.provider.iter().cloned().collect();
    let provider = choose(engine, &given, ask.run_id.as_deref(), set)?
        .into_iter()
        .next()
        .ok_or_else(no_provider)?;
    let budget = charge(
        engine,
        ask.run_id.as_deref(),
        1,
        &format!("consult {provider}"),
    )?;
    Ok((
        Request {
            provider,
            model: ask.model.clone(),
            prompt: ask.prompt.clone(),
            timeout: ask.timeout_s.map(std::time::Duration::from_secs),
        },
        budget,
    ))
}

/// Runs the default red flags over an answer: a flagged answer is discarded (with its
/// reasons recorded), never repaired.
///
/// # Errors
/// `red_flag`, naming the rules the answer tripped.
pub fn screen(
    engine: Option<&Engine>,
    run_id: Option<&str>,
    answer: &Answer,
) -> Result<(), Failure> {
    let flags =
        crate::quality::redflag::check(&answer.text, &crate::quality::redflag::RuleSet::default());
    if flags.is_empty() {
        return Ok(());
    }
    if let Some(e) = engine {
        let _ = e.record(
            run_id,
            &RunEvent::OutputRefused {
                code: "red_flag".into(),
                message: None,
                provider: Some(answer.provider.clone()),
                flags: serde_json::to_value(&flags).ok(),
            },
        );
    }
    Err(Failure::new(
        "red_flag",
        format!(
            "the answer of {} was discarded: {}",
            answer.provider,
            flags
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        "ask again (perhaps more narrowly) or ask another provider; flagged answers are never repaired",
    ))
}

/// Asks one provider: the named one, else the stage's first preference, else the first
/// enabled. Charged first, screened, recorded.
///
/// # Errors
/// An unknown run or provider, a spent budget (nothing is asked), the provider's failure,
/// or a red-flagged answer.
pub async fn consult(
    engine: Option<&Arc<Engine>>,
    set: Arc<ProviderSet>,
    ask: Ask,
    cancel: &CancellationToken,
) -> Result<Consulted, Failure> {
    let (s, a) = (set.clone(), ask.clone());
    let (req, budget) = with_engine(engine, move |e| plan_consult(e, &s, &a)).await?;
    let answer = set
        .consult(&req, cancel)
        .await
        .map_err(|e| provider_failure(&e))?;
    let (a, run_id) = (answer.clone(), ask.run_id.clone());
    with_engine(engine, move |e| {
        screen(e, run_id.as_deref(), &a)?;
        record(e, run_id.as_deref(), std::slice::from_ref(&a));
        Ok(())
    })
    .await?;
    Ok(Consulted { answer, budget })
}

/// What an ensemble needs beyond the prompt.
#[derive(Debug, Clone, Default)]
pub struct EnsembleAsk {
    pub prompt: String,
    pub providers: Vec<String>,
    pub n: Option<usize>,
    pub run_id: Option<String>,
    pub baseline_confidence: Option<f64>,
}

/// Who will be asked, already paid for.
#[derive(Debug, Clone)]
pub struct EnsemblePlan {
    pub names: Vec<String>,
    pub concurrency: usize,
    pub reduced: Option<String>,
    pub budget: Option<BudgetView>,
}

/// Chooses the providers (one when Kim et al.'s capability threshold says more would not pay,
/// fewer when the budget cannot pay for all) and charges them.
///
/// # Errors
/// A spent budget, unknown providers, or none at all.
pub fn plan_ensemble(
    engine: Option<&Engine>,
    set: &ProviderSet,
    ask: &EnsembleAsk,
) -> Result<EnsemblePlan, Failure> {
    let mut names = choose(engine, &ask.providers, ask.run_id.as_deref(), set)?;
    if let Some(n) = ask.n {
        names.truncate(n.max(1));
    }
    let (threshold, max_agents) = match engine.zip(ask.run_id.as_deref()) {
        Some((e, id)) => e.policy(id)?,
        None => (DEFAULT_CAPABILITY_THRESHOLD, 3),
    };
    let mut reduced = None;
    if let Some(b) = ask.baseline_confidence.filter(|&b| b >= threshold) {
        reduced = Some(format!(
            "baseline confidence {b:.2} ≥ capability threshold {threshold:.2}: more agents tend to lower accuracy here (Kim et al. 2025), so one provider was asked"
        ));
        names.truncate(1);
    }
    if let (Some(e), Some(id)) = (engine, ask.run_id.as_deref()) {
        let left = e.budget(id)?;
        let want = u32::try_from(names.len()).unwrap_or(u32::MAX);
        let can = crate::engine::budget::affordable(&left, want);
        // With nothing left, the charge below gives the precise refusal.
        if can > 0 && can < want {
            reduced = Some(format!(
                "the budget pays for {can} of {want} consults, so {can} provider(s) were asked"
            ));
            names.truncate(can as usize);
        }
    }
    let n = u32::try_from(names.len()).unwrap_or(u32::MAX);
    let budget = charge(
        engine,
        ask.run_id.as_deref(),
        n,
        &format!("ensemble {}", names.join(",")),
    )?;
    Ok(EnsemblePlan {
        names,
        concurrency: max_agents as usize,
        reduced,
        budget,
    })
}

/// The answers and failures of an ensemble.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Ensembled {
    pub answers: Vec<Answer>,
    pub failures: Vec<ProviderError>,
    /// Why fewer providers were asked, if so.
    pub reduced: Option<String>,
    pub budget: Option<BudgetView>,
}

/// Asks several providers in parallel, charged first; flagged answers are discarded (and
/// counted as failures with the reason).
///
/// # Errors
/// A refused plan (budget, providers), or every provider failing.
pub async fn ensemble(
    engine: Option<&Arc<Engine>>,
    set: Arc<ProviderSet>,
    ask: EnsembleAsk,
    cancel: &CancellationToken,
    on_done: &(dyn Fn(&str, usize, usize) + Send + Sync),
) -> Result<Ensembled, Failure> {
    let (s, a) = (set.clone(), ask.clone());
    let plan = with_engine(engine, move |e| plan_ensemble(e, &s, &a)).await?;
    let results = set
        .ensemble(&plan.names, &ask.prompt, plan.concurrency, cancel, on_done)
        .await;
    let mut out = Ensembled {
        reduced: plan.reduced,
        budget: plan.budget,
        ..Ensembled::default()
    };
    for r in results {
        match r {
            Ok(a) => out.answers.push(a),
            Err(e) => out.failures.push(e),
        }
    }
    let (answers, run_id) = (out.answers.clone(), ask.run_id.clone());
    let kept = with_engine(engine, move |e| {
        let mut kept = Vec::new();
        let mut refused = Vec::new();
        for a in answers {
            match screen(e, run_id.as_deref(), &a) {
                Ok(()) => kept.push(a),
                Err(f) => refused.push((a.provider.clone(), f.message)),
            }
        }
        record(e, run_id.as_deref(), &kept);
        Ok((kept, refused))
    })
    .await?;
    out.answers = kept.0;
    for (provider, message) in kept.1 {
        out.failures.push(ProviderError {
            provider,
            kind: crate::providers::ErrorKind::Malformed,
            message,
            help:
                "flagged answers are discarded, never repaired; ask again or ask another provider"
                    .into(),
        });
    }
    if out.answers.is_empty() {
        return Err(Failure::new(
            "provider_failed",
            format!(
                "every provider failed: {}",
                out.failures
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            "run `maestro doctor`, or ask fewer or other providers",
        ));
    }
    Ok(out)
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
