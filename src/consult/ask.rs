//! `consult`: asking one provider with what the server packs for it (files, a git diff), the
//! run's memory (roles render with the run's outputs, feedback, facts and errors) and the
//! thread's earlier turns.
//!
//! The order matters: everything that can be refused (run, thread, provider, role, files) is
//! checked before the budget is charged, the charge comes last before the call, and an answer
//! that was paid for is never thrown away: red flags on it are warnings shown with it.

use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::material::{Memory, default_role, join_prompt, material};
use super::stance::{Stance, Verdict};
use super::thread::{self, Replay};
use super::{choose, no_provider, pay_one, payer, provider_failure, with_engine};
use crate::engine::FailureCode;
use crate::engine::budget::Ticket;
use crate::engine::threads::Turn;
use crate::engine::work::{EvidenceData, EvidenceKind, Note, Usage};
use crate::engine::{BudgetView, Engine, Failure, RunEvent};
use crate::providers::{Answer, ProviderSet, Request};
use crate::quality::redflag::{self, RuleSet};
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

pub(super) fn warnings(text: &str) -> Vec<String> {
    redflag::check(text, &warn_rules())
        .into_iter()
        .map(|f| f.message)
        .collect()
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
pub(super) fn keep(
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
            data: EvidenceData::Answer {
                consult_id: turn.id.clone(),
                thread_id: turn.thread_id.clone(),
                turn: turn.turn,
                usage: Usage::of(a),
            },
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
