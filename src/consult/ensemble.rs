//! `ensemble`: several providers asked at once, each paid for first; with stances, their
//! positions side by side. Every answer is kept whole, as for `consult`.

use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::ask::{Reply, keep};
use super::material::{Memory, default_role, join_prompt, material};
use super::stance::{self, Member, Verdict};
use super::{choose, pay, payer, with_engine};
use crate::engine::FailureCode;
use crate::engine::budget::Ticket;
use crate::engine::{BudgetView, Engine, Failure};
use crate::providers::{ProviderError, ProviderSet, Request};
use crate::workspace::gitdiff::DiffSpec;

/// What an ensemble needs beyond the prompt.
#[derive(Debug, Clone, Default)]
pub struct EnsembleAsk {
    pub prompt: String,
    pub providers: Vec<String>,
    pub n: Option<usize>,
    pub role: Option<String>,
    pub context: Option<String>,
    pub files: Vec<String>,
    pub diff: Option<DiffSpec>,
    /// Members with a stance and focus; without them every provider answers plainly.
    pub stances: Vec<Member>,
    pub run_id: Option<String>,
    pub baseline_confidence: Option<f64>,
    /// The Claude Code session asking, as for [`Ask::session`].
    pub session: Option<String>,
}

/// Who will be asked what, already paid for.
struct EnsemblePlan {
    requests: Vec<(Ticket, Request, Option<Member>)>,
    /// The run charged (decided by the engine, whatever the call named).
    run_id: Option<String>,
    concurrency: usize,
    reduced: Option<String>,
    budget: Option<BudgetView>,
    packed: Option<String>,
}

/// The members: one per stance (providers from the stance, else the chosen ones in turn),
/// else one per chosen provider.
fn members(
    engine: Option<&Engine>,
    set: &ProviderSet,
    ask: &EnsembleAsk,
    run_id: Option<&str>,
) -> Result<Vec<(String, Option<Member>)>, Failure> {
    let chosen = choose(engine, &ask.providers, run_id, set)?;
    if ask.stances.is_empty() {
        return Ok(chosen.into_iter().map(|p| (p, None)).collect());
    }
    let named: Vec<String> = ask
        .stances
        .iter()
        .filter_map(|m| m.provider.clone())
        .collect();
    if let Some(bad) = named.iter().find(|n| set.get(n).is_none()) {
        return Err(super::unknown_provider(bad, set));
    }
    Ok(ask
        .stances
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let p = m
                .provider
                .clone()
                .unwrap_or_else(|| chosen[i % chosen.len()].clone());
            (p, Some(m.clone()))
        })
        .collect())
}

fn plan_ensemble(
    engine: Option<&Engine>,
    set: &ProviderSet,
    ask: &EnsembleAsk,
) -> Result<EnsemblePlan, Failure> {
    let payer = payer(engine, ask.run_id.as_deref(), None, ask.session.as_deref())?;
    let run_id = payer.run_id();
    let mut members = members(engine, set, ask, run_id)?;
    if let Some(n) = ask.n {
        members.truncate(n.max(1));
    }
    let memory = Memory::of(engine, run_id, &ask.prompt)?;
    let policy = &memory.0.policy;
    let (threshold, max_agents) = (policy.capability_threshold, policy.max_agents);
    let mut reduced = None;
    // Stances are a deliberate debate: the capability threshold does not cut them.
    if ask.stances.is_empty()
        && let Some(b) = ask.baseline_confidence.filter(|&b| b >= threshold)
    {
        reduced = Some(format!(
            "baseline confidence {b:.2} ≥ capability threshold {threshold:.2}: more agents tend to lower accuracy here (Kim et al. 2025), so one provider was asked"
        ));
        members.truncate(1);
    }
    // A run in degraded mode asks one provider per question, stances or not.
    if let Some(why) = memory.0.degraded.as_ref().filter(|_| members.len() > 1) {
        reduced = Some(format!("{why} One provider was asked."));
        members.truncate(1);
    }
    let role = match default_role(ask.role.as_deref(), run_id) {
        Some(r) => memory.role(engine, r, None)?,
        None => String::new(),
    };
    let mut stance_texts = Vec::new();
    for (_, m) in &members {
        stance_texts.push(match m {
            Some(m) => memory.role(
                engine,
                "stance",
                Some((
                    "member",
                    serde_json::json!({"stance": m.stance, "focus": m.focus}),
                )),
            )?,
            None => String::new(),
        });
    }
    let (material, packed) = material(
        engine,
        &ask.files,
        ask.diff.as_ref(),
        ask.context.as_deref(),
        memory.chars(),
        &memory.0.limits,
    );
    let mut can_pay = None;
    if let (Some(e), Some(id)) = (engine, run_id) {
        let left = e.budget(id)?;
        let want = u32::try_from(members.len()).unwrap_or(u32::MAX);
        let can = crate::engine::budget::affordable(&left, want);
        can_pay = Some(can);
        // With nothing left, the charge below gives the precise refusal.
        if can > 0 && can < want {
            reduced = Some(format!(
                "the budget pays for {can} of {want} consults, so {can} member(s) were asked"
            ));
            members.truncate(can as usize);
        }
    }
    // Checked on the members that would really be asked; with nothing left to pay, the charge
    // below gives the budget's refusal instead.
    if members.len() > 1
        && can_pay != Some(0)
        && let Some(stage) = &memory.0.solo_stage
    {
        return Err(Failure::new(
            FailureCode::EnsembleNotAllowed,
            format!(
                "stage `{stage}` does not fan a question out (`ensemble #false`); {} providers were asked for",
                members.len()
            ),
            "ask one provider with `consult`, or `ensemble` with `n: 1`",
        ));
    }
    let n = u32::try_from(members.len()).unwrap_or(u32::MAX);
    let names: Vec<&str> = members.iter().map(|(p, _)| p.as_str()).collect();
    let (tickets, budget) = pay(engine, &payer, n, &format!("ensemble {}", names.join(",")))?;
    let context_head = if material.is_empty() {
        ""
    } else {
        "## Context"
    };
    let requests = members
        .into_iter()
        .zip(stance_texts)
        .zip(tickets)
        .map(|(((provider, member), stance_text), ticket)| {
            let prompt = join_prompt(&[&role, &stance_text, &ask.prompt, context_head, &material]);
            (
                ticket,
                Request {
                    provider,
                    prompt,
                    ..Request::default()
                },
                member,
            )
        })
        .collect();
    Ok(EnsemblePlan {
        requests,
        run_id: run_id.map(str::to_string),
        concurrency: max_agents as usize,
        reduced,
        budget,
        packed,
    })
}

/// The answers and failures of an ensemble, and with stances, the positions side by side.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Ensembled {
    pub answers: Vec<Reply>,
    pub failures: Vec<ProviderError>,
    /// With stances: the providers by verdict, for the asker to weigh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) positions: Option<Positions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed: Option<String>,
    /// Why fewer providers were asked, if so.
    pub reduced: Option<String>,
    pub(crate) budget: Option<BudgetView>,
}

/// Members grouped by their verdict (`provider (stance)`), and the points each raised.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub(crate) struct Positions {
    pub agree: Vec<String>,
    pub disagree: Vec<String>,
    pub mixed: Vec<String>,
    /// Members whose answer has no readable verdict.
    pub unclear: Vec<String>,
}

fn positions(replies: &[Reply]) -> Positions {
    let mut out = Positions::default();
    for r in replies {
        let who = match r.stance {
            Some(s) => format!("{} ({})", r.answer.provider, s.as_str()),
            None => r.answer.provider.clone(),
        };
        match r.verdict {
            Some(Verdict::Agree) => out.agree.push(who),
            Some(Verdict::Disagree) => out.disagree.push(who),
            Some(Verdict::Mixed) => out.mixed.push(who),
            None => out.unclear.push(who),
        }
    }
    out
}

/// Asks several providers in parallel, charged first. Every answer is kept whole; red flags
/// are warnings on it, as for `consult`.
///
/// # Errors
/// A refused plan (budget, providers, role), or every provider failing.
pub async fn ensemble(
    engine: Option<&Arc<Engine>>,
    set: Arc<ProviderSet>,
    ask: EnsembleAsk,
    cancel: &CancellationToken,
    on_done: &(dyn Fn(&str, usize, usize) + Send + Sync),
) -> Result<Ensembled, Failure> {
    let (s, a) = (set.clone(), ask.clone());
    let plan = with_engine(engine, move |e| plan_ensemble(e, &s, &a)).await?;
    let mut calls = Vec::with_capacity(plan.requests.len());
    let mut members = Vec::with_capacity(plan.requests.len());
    for (ticket, req, member) in plan.requests {
        calls.push((ticket, req));
        members.push(member);
    }
    let results = set.ensemble(calls, plan.concurrency, cancel, on_done).await;
    let mut out = Ensembled {
        reduced: plan.reduced,
        budget: plan.budget,
        packed: plan.packed.clone(),
        ..Ensembled::default()
    };
    let mut answered = Vec::new();
    for (r, member) in results.into_iter().zip(members) {
        match r {
            Ok(a) => answered.push((a, member)),
            Err(e) => out.failures.push(e),
        }
    }
    let with_stances = !ask.stances.is_empty();
    let (run_id, question, role, packed, failed) = (
        plan.run_id,
        ask.prompt.clone(),
        ask.role.clone(),
        plan.packed,
        out.failures.clone(),
    );
    let replies = with_engine(engine, move |e| {
        super::record_failures(e, run_id.as_deref(), &failed);
        let mut replies = Vec::new();
        for (a, member) in answered {
            let mut reply = keep(
                e,
                run_id.as_deref(),
                None,
                &question,
                default_role(role.as_deref(), run_id.as_deref()),
                packed.as_deref(),
                a,
            )?;
            if let Some(m) = member {
                let (verdict, points) = stance::position(&reply.answer.text);
                reply.stance = Some(m.stance);
                reply.focus = m.focus;
                reply.verdict = verdict;
                reply.points = points;
            }
            replies.push(reply);
        }
        Ok(replies)
    })
    .await?;
    if with_stances {
        out.positions = Some(positions(&replies));
    }
    out.answers = replies;
    if out.answers.is_empty() {
        return Err(Failure::new(
            FailureCode::ProviderFailed,
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
