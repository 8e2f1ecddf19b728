//! `submit`: an output is checked (schema, red flags) and either opens the gate's approval
//! or fires the stage's event.

use serde::Serialize;
use serde_json::{Value, json};

use super::super::brief;
use super::super::degraded::{self, Strained};
use super::super::events::{Events, RunEvent};
use super::super::library::Compiled;
use super::super::model::{Approval, ApprovalStatus, Run, RunStatus};
use super::super::views::{ApprovalView, RunSummary};
use super::super::{Brief, Engine, Failure, MAX_OUTPUT_BYTES, step};
use super::approval_row;
use crate::engine::FailureCode;
use crate::store::{Table, Tx, new_id, now_ms};
use crate::workflow::OnTimeout;

/// Where a submit left the run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SubmitOutcome {
    /// The stage is gated: an approval waits for a decision.
    AwaitingApproval,
    /// The run moved to another stage.
    Advanced,
    /// The run reached an end.
    Finished,
}

impl SubmitOutcome {
    /// Where a run with this status stands after a submit.
    #[must_use]
    pub(crate) const fn of(status: RunStatus) -> Self {
        match status {
            RunStatus::Waiting => SubmitOutcome::AwaitingApproval,
            RunStatus::Active => SubmitOutcome::Advanced,
            RunStatus::Finished => SubmitOutcome::Finished,
        }
    }
}

/// What a submit did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Submitted {
    pub(crate) outcome: SubmitOutcome,
    pub run: RunSummary,
    pub approval: Option<ApprovalView>,
    pub(crate) brief: Option<Brief>,
}

impl Engine {
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
            Ok((approval, run, wf)) => {
                let brief = (run.status == RunStatus::Active)
                    .then(|| self.brief_of(&wf, &run).ok())
                    .flatten();
                Ok(Submitted {
                    outcome: SubmitOutcome::of(run.status),
                    run: RunSummary::of(&run),
                    approval: approval.as_ref().map(ApprovalView::of),
                    brief,
                })
            }
            Err(f) => {
                if matches!(f.code, FailureCode::OutputInvalid | FailureCode::RedFlag) {
                    // The refusal itself is worth keeping: it feeds the red-flag rate, and
                    // enough of them put the run in degraded mode.
                    let kept = self.mutate(run_id, |_, wf, run, events| {
                        events.push(RunEvent::OutputRefused {
                            code: f.code,
                            message: Some(f.message.clone()),
                            provider: None,
                            flags: None,
                        });
                        degraded::strained(wf, run, Strained::RefusedOutput, events);
                        Ok(())
                    });
                    crate::log::dropped("recording a refused output", kept);
                }
                Err(f)
            }
        }
    }
}

pub(in crate::engine) fn pending(run: &Run) -> Failure {
    let id = run.pending_approval.clone().unwrap_or_default();
    Failure::new(
        FailureCode::ApprovalPending,
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
                FailureCode::UnknownEvent,
                format!(
                    "stage `{stage_name}` has no `next` for event `{}`",
                    ev.chars().take(80).collect::<String>()
                ),
                format!("name one of: {} (or omit `event`)", allowed.join(", ")),
            ));
        }
    }
    *run.stage_secs.entry(stage_name.clone()).or_default() += run.visit_secs(now_ms());
    events.push(RunEvent::OutputAccepted {
        stage: stage_name.clone(),
        visit: run.visit(),
        output: output.clone(),
        event: event.map(str::to_string),
    });
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
            by: gate.by,
            output: output.clone(),
            event: event.map(str::to_string),
            questions: brief::questions(wf, &stage_name, &run.lang),
            created_at: now,
            deadline,
            // A timeout without `on-timeout` rejects (workflow-language.md).
            on_timeout: gate
                .timeout_secs
                .map(|_| gate.on_timeout.unwrap_or(OnTimeout::Reject)),
            decided_at: None,
            decided_by: None,
            decision: None,
            words: None,
        };
        tx.insert(Table::Approvals, &approval_row(&approval), &approval)?;
        events.push(RunEvent::ApprovalRequested {
            approval_id: approval.id.clone(),
            stage: stage_name.clone(),
            by: approval.by,
        });
        run.status = RunStatus::Waiting;
        run.pending_approval = Some(approval.id.clone());
        return Ok(Some(approval));
    }
    events.push(RunEvent::StageOutcome {
        stage: stage_name.clone(),
        workflow: run.workflow.clone(),
        topology: stage.topology(),
        success: true,
        consults: run.consults_in_visit,
    });
    run.outputs.insert(stage_name, output.clone());
    let ev = event.unwrap_or("done").to_string();
    step::fire(wf, run, &ev, output, events)?;
    Ok(None)
}

/// Schema and red-flag checks on a submitted output; every violation is reported.
fn check_output(wf: &Compiled, stage: &str, output: &Value) -> Result<(), Failure> {
    let Value::Object(_) = output else {
        return Err(Failure::new(
            FailureCode::OutputInvalid,
            format!("`output` must be a JSON object, not {}", json_kind(output)),
            "submit the stage's result as an object that matches `output_schema` in the brief",
        ));
    };
    let text = output.to_string();
    if text.len() > MAX_OUTPUT_BYTES {
        return Err(Failure::new(
            FailureCode::OutputInvalid,
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
            .violations(output)
            .into_iter()
            .map(|v| json!({"pointer": v.pointer, "reason": v.reason}))
            .collect();
        if !violations.is_empty() {
            let first = &violations[0];
            return Err(Failure::new(
                FailureCode::OutputInvalid,
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
            FailureCode::RedFlag,
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
