//! The engine's operations. Each is one write transaction: load, apply a pure step, store.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::brief::{self, Brief};
use super::budget::{self, BudgetView};
use super::library::Compiled;
use super::model::{
    Actor, Approval, ApprovalStatus, DecisionKind, DecisionText, Feedback, Run, RunContext,
    RunStatus,
};
use super::step::{self, Events};
use super::views::{self, ApprovalView, RunSummary, RunView};
use super::{Engine, Failure, MAX_OUTPUT_BYTES};
use crate::store::{Event, Row, Table, Tx, Versioned, new_id, now_ms};
use crate::workflow::{GateBy, OnTimeout};

/// What `start` needs.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    pub task: String,
    pub workflow: Option<String>,
    pub context: RunContext,
    pub lang: Option<String>,
}

/// A new run and its first brief.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    pub run: RunSummary,
    pub brief: Option<Brief>,
}

/// What a submit did.
#[derive(Debug, Clone, Serialize)]
pub struct Submitted {
    /// `awaiting_approval`, `advanced` or `finished`.
    pub outcome: &'static str,
    pub run: RunSummary,
    pub approval: Option<ApprovalView>,
    pub brief: Option<Brief>,
}

/// What a decision did.
#[derive(Debug, Clone, Serialize)]
pub struct Decided {
    pub approval: ApprovalView,
    pub run: RunSummary,
    pub brief: Option<Brief>,
}

fn unknown_run(id: &str) -> Failure {
    Failure::new(
        "unknown_run",
        format!("there is no run `{id}`"),
        "call `status` without a run id to list the active runs",
    )
}

fn run_row(run: &Run) -> Row<'_> {
    Row {
        id: &run.id,
        run_id: &run.id,
        status: run.status.as_str(),
    }
}

fn conflict(what: &str) -> Failure {
    Failure::new(
        "conflict",
        format!("{what} changed while this request was applied"),
        "read its state again (`status`) and retry",
    )
}

impl Engine {
    /// Creates a durable run and enters its start stage.
    ///
    /// # Errors
    /// An unknown or invalid workflow, an empty task, or an unsupported language.
    pub fn start(&self, req: &StartRequest) -> Result<Started, Failure> {
        let name = req.workflow.as_deref().unwrap_or("default");
        if req.task.trim().is_empty() {
            return Err(Failure::new(
                "empty_task",
                "`task` is empty",
                "describe what the run should achieve in `task`",
            ));
        }
        let current = self.library.get(name)?;
        let wf = &current.compiled;
        let workflow = wf.workflow();
        let langs: Vec<&str> = workflow.langs.iter().map(|l| l.value.as_str()).collect();
        let env_lang = std::env::var("MAESTRO_LANG").ok().filter(|l| !l.is_empty());
        let lang = match req.lang.clone().or(env_lang) {
            Some(l) if langs.is_empty() || langs.contains(&l.as_str()) => l,
            Some(l) if req.lang.is_none() => {
                // MAESTRO_LANG names a language this workflow lacks: use its default.
                let _ = l;
                workflow.default_lang().to_string()
            }
            Some(l) => {
                return Err(Failure::new(
                    "unsupported_lang",
                    format!("workflow `{name}` has no text in `{l}`"),
                    format!("use one of: {}", langs.join(", ")),
                ));
            }
            None => workflow.default_lang().to_string(),
        };
        let start = workflow
            .start
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_default();
        let now = now_ms();
        let mut run = Run {
            id: new_id("run"),
            workflow: name.to_string(),
            task: req.task.clone(),
            lang,
            status: RunStatus::Active,
            stage: None,
            end: None,
            visits: BTreeMap::new(),
            outputs: BTreeMap::new(),
            feedback: Vec::new(),
            context: req.context.clone(),
            consults_used: 0,
            consults_in_visit: 0,
            tokens_used: 0,
            cost_usd: 0.0,
            pending_approval: None,
            created_at: now,
            stage_entered_at: now,
            finished_at: None,
            note: None,
        };
        let mut events: Events = vec![(
            "run_started",
            json!({"workflow": name, "task": req.task, "lang": run.lang, "source": wf.display,
                   "context": req.context}),
        )];
        step::enter(wf, &mut run, &start, &mut events)?;
        self.store.write(|tx| {
            tx.insert(Table::Runs, &run_row(&run), &run)?;
            for (kind, data) in &events {
                tx.append(&run.id, kind, data)?;
            }
            Ok::<_, Failure>(())
        })?;
        let brief = self.brief_of(wf, &run).ok();
        Ok(Started {
            run: RunSummary::of(&run),
            brief,
        })
    }

    fn brief_of(&self, wf: &Compiled, run: &Run) -> Result<Brief, Failure> {
        let c = &run.context;
        let packed = self.context(&crate::workspace::context::ContextRequest {
            files: c.files.clone(),
            facts: c.facts.clone(),
            errors: c.errors.clone(),
            constraints: c.constraints.clone(),
            max_chars: None,
        });
        let mut text = packed.text;
        for r in &packed.refused {
            text.push_str(&format!("(not included: {} — {})\n", r.path, r.reason));
        }
        brief::render(wf, run, budget::view(wf, run, now_ms()), text)
    }

    /// Loads a run, applies expired gate timeouts, runs `f`, and stores the result.
    fn mutate<T>(
        &self,
        run_id: &str,
        f: impl FnOnce(&Tx<'_>, &Compiled, &mut Run, &mut Events) -> Result<T, Failure>,
    ) -> Result<(T, Run), Failure> {
        self.store.write(|tx| {
            let row: Versioned<Run> = tx
                .get(Table::Runs, run_id)?
                .ok_or_else(|| unknown_run(run_id))?;
            let mut run = row.value;
            let current = self.library.get(&run.workflow)?;
            let wf = &current.compiled;
            let mut events = Events::new();
            expire(tx, wf, &mut run, &mut events)?;
            let out = f(tx, wf, &mut run, &mut events)?;
            if !tx.update(Table::Runs, &run_row(&run), row.version, &run)? {
                return Err(conflict(&format!("run {run_id}")));
            }
            for (kind, data) in &events {
                tx.append(&run.id, kind, data)?;
            }
            Ok((out, run))
        })
    }

    /// A run's full state.
    ///
    /// # Errors
    /// An unknown run.
    pub fn status(&self, run_id: &str) -> Result<RunView, Failure> {
        let ((), run) = self.mutate(run_id, |_, _, _, _| Ok(()))?;
        let current = self.library.get(&run.workflow)?;
        let wf = &current.compiled;
        let (events, approval) = self.store.read(|tx| {
            let events = tx.events(Some(run_id))?;
            let approval = match &run.pending_approval {
                Some(id) => tx.get::<Approval>(Table::Approvals, id)?.map(|a| a.value),
                None => None,
            };
            Ok::<_, Failure>((events, approval))
        })?;
        Ok(RunView {
            summary: RunSummary::of(&run),
            lang: run.lang.clone(),
            title: run.stage.as_ref().map(|s| brief::title(wf, s, &run.lang)),
            max_visits: run
                .stage
                .as_ref()
                .and_then(|s| wf.workflow().stage(s))
                .and_then(crate::workflow::Stage::max_visits),
            note: run.note.clone(),
            budget: budget::view(wf, &run, now_ms()),
            approval: approval.as_ref().map(ApprovalView::of),
            outputs: run.outputs.keys().cloned().collect(),
            history: views::history(&events),
            workflow_problems: current.refused_edit.clone(),
        })
    }

    /// Runs, newest first; only unfinished ones when `active_only`.
    ///
    /// # Errors
    /// A state-file failure.
    pub fn runs(&self, active_only: bool) -> Result<Vec<RunSummary>, Failure> {
        let runs: Vec<Versioned<Run>> = self.store.read(|tx| tx.list(Table::Runs, None, None))?;
        Ok(runs
            .iter()
            .map(|r| RunSummary::of(&r.value))
            .filter(|r| !active_only || r.status != "finished")
            .collect())
    }

    /// The brief of a run's current stage.
    ///
    /// # Errors
    /// An unknown or finished run.
    pub fn brief(&self, run_id: &str) -> Result<Brief, Failure> {
        let ((), run) = self.mutate(run_id, |_, _, _, _| Ok(()))?;
        let current = self.library.get(&run.workflow)?;
        self.brief_of(&current.compiled, &run)
    }

    /// The audit trail of a run.
    ///
    /// # Errors
    /// An unknown run.
    pub fn log(&self, run_id: &str) -> Result<Vec<Event>, Failure> {
        self.store.read(|tx| {
            if tx.get::<Run>(Table::Runs, run_id)?.is_none() {
                return Err(unknown_run(run_id));
            }
            Ok(tx.events(Some(run_id))?)
        })
    }

    /// Validates an output and moves the run: opens the gate's approval, or fires the event.
    ///
    /// # Errors
    /// A refused output (every violation listed), a pending approval, a finished run, an
    /// unknown event, or no transition for the event.
    pub fn submit(
        &self,
        run_id: &str,
        output: &Value,
        event: Option<&str>,
    ) -> Result<Submitted, Failure> {
        let result = self.mutate(run_id, |tx, wf, run, events| {
            submit_step(tx, wf, run, output, event, events)
        });
        match result {
            Ok((approval, run)) => {
                let current = self.library.get(&run.workflow)?;
                let brief = (run.status == RunStatus::Active)
                    .then(|| self.brief_of(&current.compiled, &run).ok())
                    .flatten();
                Ok(Submitted {
                    outcome: match run.status {
                        RunStatus::Waiting => "awaiting_approval",
                        RunStatus::Active => "advanced",
                        RunStatus::Finished => "finished",
                    },
                    run: RunSummary::of(&run),
                    approval: approval.as_ref().map(ApprovalView::of),
                    brief,
                })
            }
            Err(f) => {
                if matches!(f.code, "output_invalid" | "red_flag") {
                    // The refusal itself is worth keeping: it feeds the red-flag rate.
                    let _ = self.store.write(|tx| {
                        tx.append(
                            run_id,
                            "output_refused",
                            &json!({"code": f.code, "message": f.message}),
                        )
                        .map_err(Failure::from)
                    });
                }
                Err(f)
            }
        }
    }

    /// Approvals, newest first; only pending ones when `pending_only`. Expired gates are
    /// resolved by their `on-timeout` first.
    ///
    /// # Errors
    /// A state-file failure.
    pub fn approvals(&self, pending_only: bool) -> Result<Vec<ApprovalView>, Failure> {
        let waiting: Vec<Versioned<Run>> = self
            .store
            .read(|tx| tx.list(Table::Runs, Some("waiting"), None))?;
        for run in &waiting {
            // Applies timeouts; a run whose workflow broke stays as it is.
            let _ = self.mutate(&run.value.id, |_, _, _, _| Ok(()));
        }
        let list: Vec<Versioned<Approval>> = self
            .store
            .read(|tx| tx.list(Table::Approvals, pending_only.then_some("pending"), None))?;
        Ok(list.iter().map(|a| ApprovalView::of(&a.value)).collect())
    }

    /// One approval.
    ///
    /// # Errors
    /// An unknown id.
    pub fn approval(&self, id: &str) -> Result<ApprovalView, Failure> {
        let a: Option<Versioned<Approval>> = self.store.read(|tx| tx.get(Table::Approvals, id))?;
        a.map(|a| ApprovalView::of(&a.value))
            .ok_or_else(|| unknown_approval(id))
    }

    /// Records a decision on a pending approval and moves the run on.
    ///
    /// # Errors
    /// An unknown or already decided approval, a `by "human"` gate decided by a tool, unknown
    /// question ids, or no transition for the resulting event.
    pub fn decide(
        &self,
        approval_id: &str,
        kind: DecisionKind,
        text: &DecisionText,
        actor: Actor,
    ) -> Result<Decided, Failure> {
        let a: Versioned<Approval> = self
            .store
            .read(|tx| tx.get(Table::Approvals, approval_id))?
            .ok_or_else(|| unknown_approval(approval_id))?;
        let run_id = a.value.run_id.clone();
        let (approval, run) = self.mutate(&run_id, |tx, wf, run, events| {
            let row: Versioned<Approval> = tx
                .get(Table::Approvals, approval_id)?
                .ok_or_else(|| unknown_approval(approval_id))?;
            let mut approval = row.value;
            if approval.status != ApprovalStatus::Pending {
                return Err(already_decided(&approval));
            }
            if approval.by == "human" && actor == Actor::Tool {
                return Err(Failure::new(
                    "human_gate",
                    format!(
                        "approval {approval_id} (stage `{}`) is for a person to decide, not a tool",
                        approval.stage
                    ),
                    format!(
                        "show the person the report and questions and ask them to run \
                         `maestro approve {approval_id}` (or `maestro revise {approval_id} --feedback ...` \
                         / `maestro reject {approval_id}`) in a terminal"
                    ),
                ));
            }
            let known: Vec<&str> = approval.questions.iter().map(|q| q.id.as_str()).collect();
            if let Some(bad) = text.answers.keys().find(|k| !known.contains(&k.as_str())) {
                return Err(Failure::new(
                    "unknown_question",
                    format!("approval {approval_id} has no question `{bad}`"),
                    format!("answer these question ids: {}", known.join(", ")),
                ));
            }
            apply_decision(wf, run, &mut approval, kind, text, actor, events)?;
            save_approval(tx, &approval, row.version)?;
            Ok(approval)
        })?;
        let _ = self.note(&super::work::Note {
            run_id: Some(run.id.clone()),
            kind: "decision".into(),
            content: format!(
                "{} of stage `{}` by {}{}",
                kind.as_str(),
                approval.stage,
                serde_json::to_value(actor)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                text.feedback
                    .as_ref()
                    .map(|f| format!(": {f}"))
                    .unwrap_or_default()
            ),
            source: Some(format!("approval {}", approval.id)),
            links: Vec::new(),
            data: json!({"approval_id": approval.id, "answers": text.answers}),
        });
        let current = self.library.get(&run.workflow)?;
        let brief = (run.status == RunStatus::Active)
            .then(|| self.brief_of(&current.compiled, &run).ok())
            .flatten();
        Ok(Decided {
            approval: ApprovalView::of(&approval),
            run: RunSummary::of(&run),
            brief,
        })
    }

    /// What the budget of a run has left now.
    ///
    /// # Errors
    /// An unknown run.
    pub fn budget(&self, run_id: &str) -> Result<BudgetView, Failure> {
        let ((), run) = self.mutate(run_id, |_, _, _, _| Ok(()))?;
        let current = self.library.get(&run.workflow)?;
        Ok(budget::view(&current.compiled, &run, now_ms()))
    }

    /// Checks that `n` consults fit the run's budgets and charges them, atomically. Every
    /// consult tool calls this before asking a provider, so none can bypass the budget.
    ///
    /// # Errors
    /// An unknown or finished run, a pending approval, or a spent budget (with the counts).
    pub fn charge_consults(&self, run_id: &str, n: u32, what: &str) -> Result<BudgetView, Failure> {
        let (view, _) = self.mutate(run_id, |_, wf, run, events| {
            match run.status {
                RunStatus::Finished => {
                    return Err(Failure::new(
                        "run_finished",
                        format!("run {run_id} has finished; it has no budget left to spend"),
                        "consult without `run_id`, or start a new run",
                    ));
                }
                RunStatus::Waiting => {
                    return Err(pending(run));
                }
                RunStatus::Active => {}
            }
            let v = budget::charge(wf, run, n, now_ms())?;
            events.push((
                "consult_charged",
                json!({"stage": run.stage, "n": n, "what": what,
                       "consults_used": run.consults_used}),
            ));
            Ok(v)
        })?;
        Ok(view)
    }

    /// The coordination policy of a run's workflow: (capability threshold, max agents).
    ///
    /// # Errors
    /// An unknown run.
    pub fn policy(&self, run_id: &str) -> Result<(f64, u32), Failure> {
        let run: Versioned<Run> = self
            .store
            .read(|tx| tx.get(Table::Runs, run_id))?
            .ok_or_else(|| unknown_run(run_id))?;
        let current = self.library.get(&run.value.workflow)?;
        let p = &current.compiled.workflow().policy;
        Ok((p.capability_threshold, p.max_agents))
    }

    /// Adds tokens and cost a provider reported to a run.
    ///
    /// # Errors
    /// An unknown run.
    pub fn record_usage(&self, run_id: &str, tokens: u64, cost_usd: f64) -> Result<(), Failure> {
        self.mutate(run_id, |_, _, run, events| {
            run.tokens_used += tokens;
            run.cost_usd += cost_usd;
            events.push((
                "usage_recorded",
                json!({"stage": run.stage, "tokens": tokens, "cost_usd": cost_usd}),
            ));
            Ok(())
        })?;
        Ok(())
    }
}

fn unknown_approval(id: &str) -> Failure {
    Failure::new(
        "unknown_approval",
        format!("there is no approval `{id}`"),
        "list pending approvals with `maestro approvals` or `status`",
    )
}

fn already_decided(a: &Approval) -> Failure {
    Failure::new(
        "already_decided",
        format!(
            "approval {} was already decided: {}",
            a.id,
            a.decision.map_or("?", DecisionKind::as_str)
        ),
        "nothing to do; call `status` for where the run is now",
    )
}

fn pending(run: &Run) -> Failure {
    let id = run.pending_approval.clone().unwrap_or_default();
    Failure::new(
        "approval_pending",
        format!(
            "run {} waits for a decision on approval {id} (stage `{}`)",
            run.id,
            run.stage.as_deref().unwrap_or("?")
        ),
        format!(
            "nothing moves until it is decided: ask the person to run `maestro approve {id}` \
             (or `maestro revise {id} --feedback ...`)"
        ),
    )
}

/// Writes a decided approval back, if nobody changed it meanwhile.
fn save_approval(tx: &Tx<'_>, a: &Approval, version: i64) -> Result<(), Failure> {
    if tx.update(Table::Approvals, &approval_row(a), version, a)? {
        Ok(())
    } else {
        Err(conflict(&format!("approval {}", a.id)))
    }
}

fn approval_row(a: &Approval) -> Row<'_> {
    Row {
        id: &a.id,
        run_id: &a.run_id,
        status: a.status.as_str(),
    }
}

fn submit_step(
    tx: &Tx<'_>,
    wf: &Compiled,
    run: &mut Run,
    output: &Value,
    event: Option<&str>,
    events: &mut Events,
) -> Result<Option<Approval>, Failure> {
    match run.status {
        RunStatus::Finished => {
            return Err(Failure::run_finished(run));
        }
        RunStatus::Waiting => return Err(pending(run)),
        RunStatus::Active => {}
    }
    let stage_name = run.stage.clone().unwrap_or_default();
    let Some(stage) = wf.workflow().stage(&stage_name) else {
        return Err(Failure::stage_gone(&stage_name));
    };
    check_output(wf, &stage_name, output)?;
    if let Some(ev) = event {
        let allowed = step::submittable_events(wf, &stage_name);
        if !allowed.iter().any(|a| a == ev) {
            return Err(Failure::new(
                "unknown_event",
                format!("stage `{stage_name}` has no `next` for event `{ev}`"),
                format!("name one of: {} (or omit `event`)", allowed.join(", ")),
            ));
        }
    }
    events.push((
        "output_accepted",
        json!({"stage": stage_name, "visit": run.visit(), "output": output, "event": event}),
    ));
    if let Some(gate) = &stage.settings.gate {
        let now = now_ms();
        let deadline = gate
            .timeout_secs
            .map(|s| now + i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX));
        let approval = Approval {
            id: new_id("apr"),
            run_id: run.id.clone(),
            workflow: run.workflow.clone(),
            stage: stage_name.clone(),
            stage_title: brief::title(wf, &stage_name, &run.lang),
            visit: run.visit(),
            status: ApprovalStatus::Pending,
            by: match gate.by {
                GateBy::Human => "human",
                GateBy::Any => "any",
            }
            .to_string(),
            output: output.clone(),
            event: event.map(str::to_string),
            questions: brief::questions(wf, &stage_name, &run.lang),
            created_at: now,
            deadline,
            on_timeout: gate.on_timeout.map(|o| on_timeout_name(o).to_string()),
            decided_at: None,
            decided_by: None,
            decision: None,
            words: None,
        };
        tx.insert(Table::Approvals, &approval_row(&approval), &approval)?;
        events.push((
            "approval_requested",
            json!({"approval_id": approval.id, "stage": stage_name, "by": approval.by}),
        ));
        run.status = RunStatus::Waiting;
        run.pending_approval = Some(approval.id.clone());
        return Ok(Some(approval));
    }
    events.push((
        "stage_outcome",
        json!({"stage": stage_name, "workflow": run.workflow, "topology": stage.topology().as_str(),
               "success": true, "consults": run.consults_in_visit}),
    ));
    run.outputs.insert(stage_name, output.clone());
    let ev = event.unwrap_or("done").to_string();
    step::fire(wf, run, &ev, output, events)?;
    Ok(None)
}

const fn on_timeout_name(o: OnTimeout) -> &'static str {
    match o {
        OnTimeout::Approve => "approve",
        OnTimeout::Revise => "revise",
        OnTimeout::Reject => "reject",
    }
}

/// Schema and red-flag checks on a submitted output; every violation is reported.
fn check_output(wf: &Compiled, stage: &str, output: &Value) -> Result<(), Failure> {
    let Value::Object(_) = output else {
        return Err(Failure::new(
            "output_invalid",
            format!("`output` must be a JSON object, not {}", json_kind(output)),
            "submit the stage's result as an object that matches `output_schema` in the brief",
        ));
    };
    let text = output.to_string();
    if text.len() > MAX_OUTPUT_BYTES {
        return Err(Failure::new(
            "output_invalid",
            format!(
                "`output` is {} bytes; the limit is {MAX_OUTPUT_BYTES}",
                text.len()
            ),
            "summarize: put long logs or files in the workspace and refer to them by path",
        ));
    }
    let assets = wf.assets(stage);
    if let Some(validator) = &assets.validator {
        let violations: Vec<Value> = validator
            .iter_errors(output)
            .map(|e| json!({"pointer": e.instance_path().to_string(), "reason": e.to_string()}))
            .collect();
        if !violations.is_empty() {
            let first = &violations[0];
            return Err(Failure::new(
                "output_invalid",
                format!(
                    "the output breaks the schema of stage `{stage}` in {} place(s); first at `{}`: {}",
                    violations.len(),
                    first["pointer"].as_str().unwrap_or(""),
                    first["reason"].as_str().unwrap_or("")
                ),
                "fix every listed violation (JSON pointer + reason) and submit again; the run stays in this stage",
            )
            .with_details(json!({"violations": violations})));
        }
    }
    let flags = red_flags(wf, stage, &text, output);
    if !flags.is_empty() {
        return Err(Failure::new(
            "red_flag",
            format!(
                "the output trips the stage's red flags: {}",
                flags
                    .iter()
                    .map(|f| f["message"].as_str().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            "a flagged output is discarded, not repaired: produce a new one that stays within the limits",
        )
        .with_details(json!({"flags": flags})));
    }
    Ok(())
}

/// The stage's `red-flags` node, through the one red-flag engine: lengths on the serialized
/// output, content rules (hedging, dangerous commands or code, forbidden files in diffs) on
/// its text fields. Only what the workflow asks for, plus forbidden files in diffs.
fn red_flags(wf: &Compiled, stage: &str, text: &str, output: &Value) -> Vec<Value> {
    use crate::quality::redflag::{RuleSet, check};
    let Some(s) = wf.workflow().stage(stage) else {
        return Vec::new();
    };
    let rf = &s.settings.red_flags;
    let lengths = RuleSet {
        max_chars: rf.max_chars,
        min_chars: rf.min_chars,
        max_tokens: rf.max_tokens,
        hedging: false,
        format: None,
        schema: None,
        dangerous_commands: false,
        dangerous_code: false,
        forbidden_files: false,
        max_files: None,
    };
    let content = RuleSet {
        max_chars: None,
        min_chars: None,
        max_tokens: None,
        hedging: rf.hedging.unwrap_or(false),
        dangerous_commands: rf.dangerous_commands.unwrap_or(false),
        dangerous_code: rf.dangerous_code.unwrap_or(false),
        forbidden_files: rf.forbidden_files.unwrap_or(true),
        max_files: rf.max_files,
        ..lengths.clone()
    };
    let mut strings = Vec::new();
    collect_strings(output, &mut strings);
    check(text, &lengths)
        .into_iter()
        .chain(check(&strings.join("\n"), &content))
        .map(|f| json!({"rule": f.rule, "message": f.message}))
        .collect()
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Applies a decision to a pending approval and moves the run.
fn apply_decision(
    wf: &Compiled,
    run: &mut Run,
    approval: &mut Approval,
    kind: DecisionKind,
    text: &DecisionText,
    actor: Actor,
    events: &mut Events,
) -> Result<(), Failure> {
    let stage = approval.stage.clone();
    approval.status = match kind {
        DecisionKind::Approve => ApprovalStatus::Approved,
        DecisionKind::Revise => ApprovalStatus::Revised,
        DecisionKind::Reject => ApprovalStatus::Rejected,
    };
    approval.decision = Some(kind);
    approval.decided_by = Some(actor);
    approval.decided_at = Some(now_ms());
    approval.words = Some(text.clone());
    run.pending_approval = None;
    run.status = RunStatus::Active;
    events.push((
        "approval_decided",
        json!({"approval_id": approval.id, "stage": stage, "decision": kind, "by": actor,
               "feedback": text.feedback, "answers": text.answers}),
    ));
    if text.feedback.is_some() || !text.answers.is_empty() || kind != DecisionKind::Approve {
        run.feedback.push(Feedback {
            stage: stage.clone(),
            visit: approval.visit,
            decision: kind.as_str().to_string(),
            text: text.feedback.clone(),
            answers: text.answers.clone(),
        });
    }
    events.push((
        "stage_outcome",
        json!({"stage": stage, "workflow": run.workflow,
               "topology": wf.workflow().stage(&stage).map(|s| s.topology().as_str()),
               "success": kind == DecisionKind::Approve, "consults": run.consults_in_visit}),
    ));
    let output = approval.output.clone();
    let has_edge = |event: &str| {
        wf.workflow()
            .stage(&stage)
            .is_some_and(|s| s.next.iter().any(|e| e.event(s) == event))
    };
    match kind {
        DecisionKind::Approve => {
            run.outputs.insert(stage, output.clone());
            let ev = approval.event.clone().unwrap_or_else(|| "approved".into());
            step::fire(wf, run, &ev, &output, events)
        }
        DecisionKind::Revise if has_edge("revise") => {
            step::fire(wf, run, "revise", &output, events)
        }
        DecisionKind::Revise => step::enter(wf, run, &stage, events),
        DecisionKind::Reject if has_edge("rejected") => {
            step::fire(wf, run, "rejected", &output, events)
        }
        DecisionKind::Reject => {
            step::finish(
                run,
                "rejected",
                Some(format!("stage `{stage}` was rejected")),
                events,
            );
            Ok(())
        }
    }
}

/// Resolves a pending approval whose gate `timeout` has passed, by its `on-timeout`.
fn expire(tx: &Tx<'_>, wf: &Compiled, run: &mut Run, events: &mut Events) -> Result<(), Failure> {
    let Some(id) = run.pending_approval.clone() else {
        return Ok(());
    };
    let Some(row) = tx.get::<Approval>(Table::Approvals, &id)? else {
        return Ok(());
    };
    let mut approval = row.value;
    let Some(deadline) = approval.deadline else {
        return Ok(());
    };
    if approval.status != ApprovalStatus::Pending || now_ms() < deadline {
        return Ok(());
    }
    let kind = match approval.on_timeout.as_deref() {
        Some("approve") => DecisionKind::Approve,
        Some("revise") => DecisionKind::Revise,
        _ => DecisionKind::Reject,
    };
    let text = DecisionText {
        feedback: Some("the approval timed out".into()),
        answers: BTreeMap::new(),
    };
    apply_decision(wf, run, &mut approval, kind, &text, Actor::Timeout, events)?;
    save_approval(tx, &approval, row.version)?;
    Ok(())
}

/// The events of every run, for `maestro log` without a run.
#[allow(dead_code)]
pub(crate) fn all_events(tx: &Tx<'_>) -> Result<Vec<Event>, Failure> {
    Ok(tx.events(None)?)
}
