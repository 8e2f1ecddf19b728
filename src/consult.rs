//! Consulting with budgets: the one path the `consult`/`ensemble` tools and `maestro consult`
//! share. With a run, the engine checks and charges the consults first (nothing runs if the
//! budget cannot pay) and records the tokens and cost the providers report.

#![allow(
    clippy::result_large_err,
    reason = "a Failure carries a readable message and help; refusals are rare"
)]

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::engine::{BudgetView, Engine, Failure};
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
#[derive(Debug, Clone, Serialize)]
pub struct Consulted {
    pub answer: Answer,
    /// The run's budget after the charge, when a run was given.
    pub budget: Option<BudgetView>,
}

fn provider_failure(e: &ProviderError) -> Failure {
    Failure::new(
        "provider_failed",
        format!("{} ({}): {}", e.provider, e.kind, e.message),
        e.help.clone(),
    )
}

/// The providers a run's current stage prefers, else every enabled one.
fn preferred(engine: Option<&Engine>, run_id: Option<&str>, set: &ProviderSet) -> Vec<String> {
    let from_stage = engine.zip(run_id).and_then(|(e, id)| {
        let brief = e.brief(id).ok()?;
        (!brief.prefer.is_empty()).then_some(brief.prefer)
    });
    from_stage.unwrap_or_else(|| set.enabled())
}

/// Charges a run (when given) for `n` consults.
fn charge(
    engine: Option<&Engine>,
    run_id: Option<&str>,
    n: u32,
    what: &str,
) -> Result<Option<BudgetView>, Failure> {
    match (engine, run_id) {
        (Some(e), Some(id)) => e.charge_consults(id, n, what).map(Some),
        (None, Some(_)) => Err(Failure::new(
            "no_state",
            "a run id was given but no state is open",
            "run inside the project that holds the run",
        )),
        _ => Ok(None),
    }
}

fn record(engine: Option<&Engine>, run_id: Option<&str>, answers: &[&Answer]) {
    if let (Some(e), Some(id)) = (engine, run_id) {
        for a in answers {
            let _ = e.note(&crate::engine::work::Note {
                run_id: Some(id.to_string()),
                kind: "observation".into(),
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

/// Picks the provider and charges the run (when given): everything that needs the engine
/// before a consult, so a server can release the engine while the provider runs.
///
/// # Errors
/// A spent budget (nothing is asked), an unknown provider, no provider at all.
pub fn plan_consult(
    engine: Option<&Engine>,
    set: &ProviderSet,
    ask: &Ask,
) -> Result<(Request, Option<BudgetView>), Failure> {
    let provider = match &ask.provider {
        Some(p) => p.clone(),
        None => preferred(engine, ask.run_id.as_deref(), set)
            .into_iter()
            .next()
            .ok_or_else(|| {
                Failure::new(
                    "no_provider",
                    "no provider is configured and enabled",
                    "run `maestro doctor`, then install a CLI or add a provider to conf/providers.yaml",
                )
            })?,
    };
    if set.get(&provider).is_none() {
        return Err(Failure::new(
            "unknown_provider",
            format!("no provider `{provider}` is configured"),
            format!("use one of: {}", set.names().join(", ")),
        ));
    }
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
            "output_refused",
            &serde_json::json!({"code": "red_flag", "provider": answer.provider, "flags": flags}),
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

/// Adds what the answers reported (tokens, cost) to the run.
pub fn record_usage(engine: Option<&Engine>, run_id: Option<&str>, answers: &[&Answer]) {
    record(engine, run_id, answers);
}

/// Asks one provider: the named one, else the stage's first preference, else the first enabled.
///
/// # Errors
/// A spent budget (nothing is asked), an unknown provider, or the provider's failure.
pub async fn consult(
    engine: Option<&Engine>,
    set: &ProviderSet,
    ask: &Ask,
    cancel: &CancellationToken,
) -> Result<Consulted, Failure> {
    let (req, budget) = plan_consult(engine, set, ask)?;
    let answer = set
        .consult(&req, cancel)
        .await
        .map_err(|e| provider_failure(&e))?;
    screen(engine, ask.run_id.as_deref(), &answer)?;
    record(engine, ask.run_id.as_deref(), &[&answer]);
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
    let mut names = if ask.providers.is_empty() {
        preferred(engine, ask.run_id.as_deref(), set)
    } else {
        ask.providers.clone()
    };
    if let Some(unknown) = names.iter().find(|n| set.get(n).is_none()) {
        return Err(Failure::new(
            "unknown_provider",
            format!("no provider `{unknown}` is configured"),
            format!("use some of: {}", set.names().join(", ")),
        ));
    }
    if let Some(n) = ask.n {
        names.truncate(n.max(1));
    }
    if names.is_empty() {
        return Err(Failure::new(
            "no_provider",
            "no provider is configured and enabled",
            "run `maestro doctor`",
        ));
    }
    let (threshold, max_agents) = engine
        .zip(ask.run_id.as_deref())
        .and_then(|(e, id)| e.policy(id).ok())
        .unwrap_or((DEFAULT_CAPABILITY_THRESHOLD, 3));
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
#[derive(Debug, Clone, Default)]
pub struct EnsembleOutcome {
    pub answers: Vec<Answer>,
    pub failures: Vec<ProviderError>,
}

/// Asks the planned providers in parallel.
pub async fn run_ensemble(
    set: &ProviderSet,
    plan: &EnsemblePlan,
    prompt: &str,
    cancel: &CancellationToken,
    on_done: &(dyn Fn(&str, usize, usize) + Send + Sync),
) -> EnsembleOutcome {
    let results = set
        .ensemble(&plan.names, prompt, plan.concurrency, cancel, on_done)
        .await;
    let mut out = EnsembleOutcome::default();
    for r in results {
        match r {
            Ok(a) => out.answers.push(a),
            Err(e) => out.failures.push(e),
        }
    }
    out
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
