//! `decide`: a decision on a pending approval moves the run on. This is the only code that
//! passes a gate, and [`Actor::may_decide`] is checked here: the model never decides a
//! `by "human"` gate.

use serde::Serialize;

use super::super::events::{Events, RunEvent};
use super::super::library::Compiled;
use super::super::model::{
    Actor, Approval, ApprovalStatus, DecisionKind, DecisionText, Feedback, Run, RunEnd, RunStatus,
};
use super::super::views::{ApprovalView, RunSummary};
use super::super::{Brief, Engine, Failure, step};
use super::{save_approval, unknown_approval};
use crate::engine::FailureCode;
use crate::store::{Table, Versioned, now_ms};
use crate::workflow::BuiltinEvent;

/// What a decision did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Decided {
    pub approval: ApprovalView,
    pub run: RunSummary,
    pub(crate) brief: Option<Brief>,
}

fn already_decided(a: &Approval) -> Failure {
    Failure::new(
        FailureCode::AlreadyDecided,
        format!(
            "approval {} was already decided: {}",
            a.id,
            a.decision.map_or("?", DecisionKind::as_str)
        ),
        "nothing to do; call `status` for where the run is now",
    )
}

impl Engine {
    /// Records a decision on a pending approval and moves the run on.
    ///
    /// # Errors
    /// An unknown or already decided approval, a `by "human"` gate decided by the model,
    /// unknown question ids, an approval that leaves a critical question empty, a revision
    /// without words, or no transition for the resulting event.
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
        let (approval, run, wf) = self.mutate(&run_id, |tx, wf, run, events| {
            let row: Versioned<Approval> = tx
                .get(Table::Approvals, approval_id)?
                .ok_or_else(|| unknown_approval(approval_id))?;
            let mut approval = row.value;
            if approval.status != ApprovalStatus::Pending {
                return Err(already_decided(&approval));
            }
            apply_decision(wf, run, &mut approval, kind, text, actor, events)?;
            save_approval(tx, &approval, row.version)?;
            Ok(approval)
        })?;
        let noted = self.note(&super::super::work::Note {
            run_id: Some(run.id.clone()),
            kind: super::super::work::EvidenceKind::Decision,
            content: format!(
                "{} of stage `{}` by {}{}",
                kind.as_str(),
                approval.stage,
                actor.as_str(),
                text.feedback
                    .as_ref()
                    .map(|f| format!(": {f}"))
                    .unwrap_or_default()
            ),
            source: Some(actor.as_str().to_string()),
            links: Vec::new(),
            data: super::super::work::EvidenceData::Decision {
                approval_id: approval.id.clone(),
                answers: text.answers.clone(),
            },
        });
        crate::log::dropped("keeping a decision in the run's evidence", noted);
        let brief = (run.status == RunStatus::Active)
            .then(|| self.brief_of(&wf, &run).ok())
            .flatten();
        Ok(Decided {
            approval: ApprovalView::of(&approval),
            run: RunSummary::of(&run),
            brief,
        })
    }
}

/// Whether a decision says anything: feedback or an answer that is more than blanks.
fn has_words(text: &DecisionText) -> bool {
    text.feedback
        .iter()
        .chain(text.answers.values())
        .any(|w| !w.trim().is_empty())
}

/// Applies a decision to a pending approval and moves the run (inside a transaction).
pub(in crate::engine) fn apply_decision(
    wf: &Compiled,
    run: &mut Run,
    approval: &mut Approval,
    kind: DecisionKind,
    text: &DecisionText,
    actor: Actor,
    events: &mut Events,
) -> Result<(), Failure> {
    // The one check that keeps the model from passing a `by "human"` gate: every decision
    // (a person's, the model's, a timeout's) comes through here.
    if !actor.may_decide(approval.by) {
        let id = &approval.id;
        return Err(Failure::new(
            FailureCode::HumanGate,
            format!(
                "approval {id} (stage `{}`) is for a person to decide, not a tool",
                approval.stage
            ),
            format!(
                "show the person the report and questions and ask them to run \
                 `maestro approve {id}` (or `maestro revise {id} --feedback ...` \
                 / `maestro reject {id}`) in a terminal"
            ),
        ));
    }
    let known: Vec<&str> = approval.questions.iter().map(|q| q.id.as_str()).collect();
    if let Some(bad) = text.answers.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Failure::new(
            FailureCode::UnknownQuestion,
            format!(
                "approval {} has no question `{}`",
                approval.id,
                bad.chars().take(80).collect::<String>()
            ),
            format!("answer these question ids: {}", known.join(", ")),
        ));
    }
    // The seed's rule: critical questions must be answered before a stage is approved. A
    // timeout has no one to answer; revise and reject need no answers.
    if kind == DecisionKind::Approve && actor != Actor::Timeout {
        let missing =
            crate::engine::report::unanswered_critical(&approval.questions, &text.answers);
        if !missing.is_empty() {
            let id = &approval.id;
            let example = missing
                .iter()
                .map(|q| format!("--answer {q}=\"...\""))
                .collect::<Vec<_>>()
                .join(" ");
            return Err(Failure::new(
                FailureCode::AnswersRequired,
                format!(
                    "approval {id} (stage `{}`) has critical questions without an answer: {}",
                    approval.stage,
                    missing.join(", ")
                ),
                format!(
                    "answer them to approve (`maestro approve {id} {example}`, the form, or the \
                     approval page), or revise or reject instead"
                ),
            )
            .with_details(serde_json::json!({"unanswered": missing})));
        }
    }
    // A revision sends the stage back to the model, which can only act on words: feedback,
    // or answers that say what is wrong. A timeout's revision has nobody to say them.
    if kind.needs_words() && actor != Actor::Timeout && !has_words(text) {
        let id = &approval.id;
        return Err(Failure::new(
            FailureCode::RevisionNeedsWords,
            format!(
                "approval {id} (stage `{}`): a revision needs words — say what should change",
                approval.stage
            ),
            format!(
                "give feedback (`maestro revise {id} --feedback \"what to change\"`, or the \
                 feedback field of the form or the approval page), or answer the questions"
            ),
        ));
    }
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
    events.push(RunEvent::ApprovalDecided {
        approval_id: approval.id.clone(),
        stage: stage.clone(),
        decision: kind,
        by: actor,
        feedback: text.feedback.clone(),
        answers: text.answers.clone(),
    });
    if text.feedback.is_some() || !text.answers.is_empty() || kind != DecisionKind::Approve {
        run.feedback.push(Feedback {
            stage: stage.clone(),
            visit: approval.visit,
            decision: kind,
            text: text.feedback.clone(),
            answers: text.answers.clone(),
        });
    }
    events.push(RunEvent::StageOutcome {
        stage: stage.clone(),
        workflow: run.workflow.clone(),
        topology: wf
            .workflow()
            .stage(&stage)
            .map(crate::workflow::Stage::topology)
            .unwrap_or_default(),
        success: kind == DecisionKind::Approve,
        consults: run.consults_in_visit,
    });
    let output = approval.output.clone();
    let has_edge = |event: BuiltinEvent| {
        wf.workflow()
            .stage(&stage)
            .is_some_and(|s| s.next.iter().any(|e| e.listens_for(s, event)))
    };
    match kind {
        DecisionKind::Approve => {
            run.outputs.insert(stage, output.clone());
            let ev = approval.approve_event();
            step::fire(wf, run, ev, &output, events)
        }
        DecisionKind::Revise if has_edge(BuiltinEvent::Revise) => {
            step::fire(wf, run, BuiltinEvent::Revise.as_str(), &output, events)
        }
        DecisionKind::Revise => step::enter(wf, run, &stage, events),
        DecisionKind::Reject if has_edge(BuiltinEvent::Rejected) => {
            step::fire(wf, run, BuiltinEvent::Rejected.as_str(), &output, events)
        }
        DecisionKind::Reject => {
            step::finish(
                run,
                RunEnd::Rejected,
                Some(format!("stage `{stage}` was rejected")),
                events,
            );
            Ok(())
        }
    }
}
