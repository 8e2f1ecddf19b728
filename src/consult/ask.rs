//! `consult` and `ensemble`: asking one provider, or several at once, with what the server
//! packs for them (files, a git diff), the run's memory (roles render with the run's outputs,
//! feedback, facts and errors) and the thread's earlier turns.
//!
//! The order matters: everything that can be refused (run, thread, provider, role, files) is
//! checked before the budget is charged, the charge comes last before the call, and an answer
//! that was paid for is never thrown away: red flags on it are warnings shown with it.

use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::stance::{self, Member, Stance, Verdict};
use super::thread::{self, Replay};
use super::{
    blank_vars, choose, no_provider, pay, pay_one, payer, provider_failure, render_role,
    with_engine,
};
use crate::engine::FailureCode;
use crate::engine::budget::Ticket;
use crate::engine::threads::Turn;
use crate::engine::work::{EvidenceKind, Note};
use crate::engine::{BudgetView, ConsultMemory, Engine, Failure, RunEvent};
use crate::providers::{Answer, ProviderError, ProviderSet, Request};
use crate::quality::redflag::{self, RuleSet};
use crate::workspace::context::{ContextRequest, DEFAULT_MAX_CHARS, Limits};
use crate::workspace::gitdiff::DiffSpec;

/// What to ask one provider.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub prompt: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    /// A role template that frames the question (rendered with the run's memory).
    pub role: Option<String>,
    /// Text the caller adds as it is (code, logs).
    pub context: Option<String>,
    /// Paths and globs the server packs (`.gitignore` honoured, secrets refused, masked).
    pub files: Vec<String>,
    pub diff: Option<DiffSpec>,
    /// Continue this thread (same provider; earlier turns replayed or resumed natively).
    pub thread_id: Option<String>,
    pub run_id: Option<String>,
    pub timeout_s: Option<u64>,
    /// The Claude Code session asking (the server's `CLAUDE_CODE_SESSION_ID`, never an
    /// argument): a consult without `run_id` from a session with an unfinished run is that
    /// run's.
    pub session: Option<String>,
}

/// One answer as the tools return it: whole, with where it is kept and what it tripped.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Reply {
    #[serde(flatten)]
    pub(crate) answer: Answer,
    /// The consult's id: `maestro://consults/<id>` holds the whole text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consult_id: Option<String>,
    /// Pass it back as `thread_id` to follow up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn: Option<u32>,
    /// Red flags the answer tripped: shown, never a reason to discard a paid-for answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Set when the text shown is only the first part (the client's output cap).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stance: Option<Stance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<String>,
}

/// One consult's result.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Consulted {
    /// The answer, whole unless the client's cap cut it (`truncated`).
    #[serde(rename = "answer")]
    pub reply: Reply,
    /// What the server packed with the question, and what it cut or refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed: Option<String>,
    /// How the thread's earlier turns went into the prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) replay: Option<Replay>,
    /// The run's budget after the charge, when a run was given.
    pub(crate) budget: Option<BudgetView>,
}

/// Red flags checked on a consult's answer. Length is not one: a long answer is what was
/// paid for, and the tools hand back whatever the client cannot take as a resource.
fn warn_rules() -> RuleSet {
    RuleSet {
        max_chars: None,
        ..RuleSet::default()
    }
}

fn warnings(text: &str) -> Vec<String> {
    redflag::check(text, &warn_rules())
        .into_iter()
        .map(|f| f.message)
        .collect()
}

/// What a request knows of its run, read once ([`Engine::consult_memory`]): the variables
/// roles render with, the stage's context limits, the coordination policy and whether the
/// stage fans out. Without a run: the task alone, and the defaults.
struct Memory(ConsultMemory);

impl Memory {
    fn of(engine: Option<&Engine>, run_id: Option<&str>, task: &str) -> Result<Memory, Failure> {
        Ok(Memory(match engine.zip(run_id) {
            Some((e, id)) => e.consult_memory(id)?,
            None => ConsultMemory {
                vars: blank_vars(task),
                ..ConsultMemory::default()
            },
        }))
    }

    /// The characters of what goes with the question: the stage's `context chars=…`, else the
    /// default.
    fn chars(&self) -> usize {
        self.0.limits.chars.unwrap_or(DEFAULT_MAX_CHARS)
    }

    /// The role rendered with the run's memory, and `extra` variables on top.
    fn role(
        &self,
        engine: Option<&Engine>,
        role: &str,
        extra: Option<(&str, serde_json::Value)>,
    ) -> Result<String, Failure> {
        let mut vars = self.0.vars.clone();
        if let Some((k, v)) = extra {
            vars[k] = v;
        }
        match engine {
            Some(e) => render_role(&e.library.home, role, &vars),
            None => render_role(&crate::home::Home::builtin(), role, &vars),
        }
    }
}

/// Files and a diff packed by the one context engine, plus the caller's own text.
fn material(
    engine: Option<&Engine>,
    files: &[String],
    diff: Option<&DiffSpec>,
    context: Option<&str>,
    max_chars: usize,
    limits: &Limits,
) -> (String, Option<String>) {
    let mut text = String::new();
    let mut line = None;
    if !files.is_empty() || diff.is_some() {
        let req = ContextRequest {
            files: files.to_vec(),
            diff: diff.cloned(),
            max_chars: Some(max_chars),
            ..ContextRequest::default()
        }
        .within(limits);
        let packed = match engine {
            Some(e) => e.context(&req),
            None => {
                let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
                crate::workspace::context::pack(&cwd, &req)
            }
        };
        line = Some(packed.summary());
        text = packed.with_omissions();
    }
    if let Some(c) = context.filter(|c| !c.trim().is_empty()) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(c);
    }
    (text, line)
}

/// The role a question is framed by: the one named, else for a run the `adviser`, which shows
/// the adviser the task and what the person approved so far.
fn default_role<'a>(role: Option<&'a str>, run_id: Option<&str>) -> Option<&'a str> {
    role.or(run_id.map(|_| "adviser"))
}

fn join_prompt(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim_end())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A consult, prepared on the engine's side and paid for.
struct Prepared {
    ticket: Ticket,
    /// The run charged (decided by the engine, whatever the call named).
    run_id: Option<String>,
    req: Request,
    budget: Option<BudgetView>,
    packed: Option<String>,
    replay: Option<Replay>,
}

fn prepare(engine: Option<&Engine>, set: &ProviderSet, ask: &Ask) -> Result<Prepared, Failure> {
    let payer = payer(
        engine,
        ask.run_id.as_deref(),
        ask.thread_id.as_deref(),
        ask.session.as_deref(),
    )?;
    let run_id = payer.run_id();
    let prior = match (&ask.thread_id, engine) {
        (Some(t), Some(e)) => e.thread(t)?,
        (None, _) | (Some(_), None) => Vec::new(),
    };
    let provider = match prior.last() {
        Some(last) => {
            if let Some(p) = ask.provider.as_ref().filter(|p| **p != last.provider) {
                return Err(Failure::new(
                    FailureCode::ThreadProvider,
                    format!(
                        "thread {} is a conversation with `{}`, not `{}`",
                        last.thread_id,
                        last.provider,
                        p.chars().take(80).collect::<String>()
                    ),
                    "omit `provider` to continue the thread, or omit `thread_id` to ask another provider afresh",
                ));
            }
            if set.get(&last.provider).is_none() {
                return Err(super::unknown_provider(&last.provider, set));
            }
            last.provider.clone()
        }
        None => {
            let given: Vec<String> = ask.provider.iter().cloned().collect();
            choose(engine, &given, run_id, set)?
                .into_iter()
                .next()
                .ok_or_else(no_provider)?
        }
    };
    let memory = Memory::of(engine, run_id, &ask.prompt)?;
    let role = match default_role(ask.role.as_deref(), run_id) {
        Some(r) => memory.role(engine, r, None)?,
        None => String::new(),
    };
    let chars = memory.chars();
    let wants_material = !ask.files.is_empty() || ask.diff.is_some();
    // A CLI that resumes its own session already has the earlier turns.
    let session = prior.last().and_then(|t| t.session.clone()).filter(|_| {
        set.get(&provider)
            .is_some_and(crate::providers::ProviderConfig::resumes)
    });
    let (history, replay) = if prior.is_empty() || session.is_some() {
        (String::new(), None)
    } else {
        let room = if wants_material { chars / 2 } else { chars };
        let (text, r) = thread::replay(&prior, room);
        (text, Some(r))
    };
    let (material, packed) = material(
        engine,
        &ask.files,
        ask.diff.as_ref(),
        ask.context.as_deref(),
        chars.saturating_sub(history.chars().count()).max(1_000),
        &memory.0.limits,
    );
    let now = if history.is_empty() {
        String::new()
    } else {
        "## The new question".to_string()
    };
    let context_head = if material.is_empty() {
        String::new()
    } else {
        "## Context".to_string()
    };
    let prompt = join_prompt(&[&role, &history, &now, &ask.prompt, &context_head, &material]);
    // Last: nothing is charged for a request refused above.
    let (ticket, budget) = pay_one(engine, &payer, &format!("consult {provider}"))?;
    Ok(Prepared {
        ticket,
        run_id: run_id.map(str::to_string),
        req: Request {
            provider,
            model: ask.model.clone(),
            prompt,
            timeout: ask.timeout_s.map(std::time::Duration::from_secs),
            session,
        },
        budget,
        packed,
        replay,
    })
}

/// Keeps a paid-for answer: as a turn of its thread (whole, masked), in the evidence chain
/// (an excerpt that points at the consult), with its usage and any red flags recorded.
fn keep(
    engine: Option<&Engine>,
    run_id: Option<&str>,
    thread_id: Option<&str>,
    question: &str,
    role: Option<&str>,
    packed: Option<&str>,
    answer: Answer,
) -> Result<Reply, Failure> {
    let warnings = warnings(&answer.text);
    let mut reply = Reply {
        answer,
        consult_id: None,
        thread_id: None,
        turn: None,
        warnings,
        truncated: false,
        stance: None,
        focus: None,
        verdict: None,
        points: Vec::new(),
    };
    let Some(e) = engine else {
        return Ok(reply);
    };
    let a = &reply.answer;
    let turn = e.add_turn(
        thread_id,
        Turn {
            id: String::new(),
            thread_id: String::new(),
            turn: 0,
            run_id: run_id.map(str::to_string),
            provider: a.provider.clone(),
            model: a.model.clone(),
            role: role.map(str::to_string),
            question: question.to_string(),
            packed: packed.map(str::to_string),
            answer: a.text.clone(),
            session: a.session.clone(),
            warnings: reply.warnings.clone(),
            at: crate::ids::now_ms(),
        },
    )?;
    if let Some(id) = run_id {
        let excerpt: String = a.text.chars().take(4_000).collect();
        let more = a.text.chars().count() > 4_000;
        let noted = e.note(&Note {
            run_id: Some(id.to_string()),
            kind: EvidenceKind::Observation,
            content: if more {
                format!("{excerpt} […] (whole: maestro://consults/{})", turn.id)
            } else {
                excerpt
            },
            source: Some(format!("{} ({})", a.provider, a.model)),
            links: Vec::new(),
            data: serde_json::json!({
                "consult_id": turn.id, "thread_id": turn.thread_id, "turn": turn.turn,
                "tokens_in": a.tokens_in, "tokens_out": a.tokens_out, "cost_usd": a.cost_usd,
            }),
        });
        crate::log::dropped("keeping a consult's answer in the run's evidence", noted);
        super::add_usage(e, id, std::slice::from_ref(a));
    }
    if !reply.warnings.is_empty() {
        crate::log::dropped(
            "recording a consult's red flags",
            e.record(
                run_id,
                &RunEvent::RedFlagCheck {
                    flags: reply.warnings.len(),
                },
            ),
        );
    }
    reply.consult_id = Some(turn.id);
    reply.thread_id = Some(turn.thread_id);
    reply.turn = Some(turn.turn);
    Ok(reply)
}

/// Asks one provider: the thread's, else the named one, else the stage's first preference,
/// else the first enabled. Packed, charged, asked, kept whole.
///
/// # Errors
/// An unknown run, thread, provider or role, a spent budget (nothing is asked), or the
/// provider's failure.
pub async fn consult(
    engine: Option<&Arc<Engine>>,
    set: Arc<ProviderSet>,
    ask: Ask,
    cancel: &CancellationToken,
) -> Result<Consulted, Failure> {
    let (s, a) = (set.clone(), ask.clone());
    let Prepared {
        ticket,
        run_id,
        req,
        budget,
        packed,
        replay,
    } = with_engine(engine, move |e| prepare(e, &s, &a)).await?;
    let answer = match set.consult(ticket, &req, cancel).await {
        Ok(a) => a,
        Err(err) => {
            let (run_id, failure) = (run_id.clone(), provider_failure(&err));
            with_engine(engine, move |e| {
                super::record_failures(e, run_id.as_deref(), &[err]);
                Ok(())
            })
            .await?;
            return Err(failure);
        }
    };
    let kept = packed.clone();
    let reply = with_engine(engine, move |e| {
        keep(
            e,
            run_id.as_deref(),
            ask.thread_id.as_deref(),
            &ask.prompt,
            default_role(ask.role.as_deref(), run_id.as_deref()),
            kept.as_deref(),
            answer,
        )
    })
    .await?;
    Ok(Consulted {
        reply,
        packed,
        replay,
        budget,
    })
}

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
