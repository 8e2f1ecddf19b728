//! A stage's report for the person at its gate: one renderer for the terminal
//! (`maestro approvals`), the elicitation form's message and the approval page.
//!
//! The engine gathers the facts (the output, the consults and checks of the visit, the
//! questions and their answers, what the next stage is) and a template writes them as
//! Markdown: the stage's `report "name"` (`reports/<name>.md.j2`) or the built-in `default`,
//! which reads any output. Answers to critical questions that point at a problem are flagged
//! here, in one place ([`concern`]).

mod concern;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::events::{Events, Logged, RunEvent};
use super::library::Compiled;
use super::model::{Approval, ApprovalStatus, CheckFact, DecisionKind, Run, RunStatus};
use super::threads::Turn;
use super::views::ApprovalView;
use super::{Engine, Failure, step};
use crate::store::{Table, Versioned};
use crate::workspace::verify::CheckStatus;

/// The report template a stage without `report` uses.
pub(crate) const DEFAULT: &str = "default";

/// How much of a consult's answer a report quotes (the page links the whole answer).
const ANSWER_EXCERPT: usize = 600;
/// Items of one list field a report shows.
const LIST_ITEMS: usize = 5;

/// One stage visit's report.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Report {
    pub approval: ApprovalView,
    /// The report as Markdown (the stage's template, or the default).
    pub markdown: String,
    /// A pending approval's report without its questions, for a door that asks them in its
    /// own form (the page), so that they are shown once.
    #[serde(skip)]
    pub without_questions: Option<String>,
    /// Ids of critical questions whose answers point at a problem ("no", "error", ...; see
    /// `concern`).
    pub flagged: Vec<String>,
    /// Ids of critical questions not answered yet: an approval must answer them.
    pub unanswered: Vec<String>,
    /// The answers and feedback of a decided approval.
    pub answers: BTreeMap<String, String>,
    pub feedback: Option<String>,
    /// Where an approval would take the run now (a pending approval only).
    pub next: Option<String>,
    /// The consults of the visit, oldest first.
    pub consults: Vec<ConsultLine>,
    /// The checks recorded in the visit, by name (the last record of each).
    #[schemars(with = "BTreeMap<String, Value>")]
    pub checks: BTreeMap<String, CheckFact>,
}

/// What [`Engine::run_record`] reads.
#[derive(Debug)]
pub(crate) struct RunRecord {
    pub run: Run,
    pub wf: std::sync::Arc<Compiled>,
    pub log: Vec<Logged>,
    /// The run's consults, whole, oldest first.
    pub consults: Vec<Turn>,
    pub reports: Vec<Report>,
}

/// A consult as a report lists it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct ConsultLine {
    pub id: String,
    pub provider: String,
    pub question: String,
    /// The start of the answer; the whole one is `maestro://consults/<id>`.
    pub answer: String,
    pub cut: bool,
    pub warnings: Vec<String>,
}

/// Critical questions of `a` that `answers` leaves empty.
#[must_use]
pub(crate) fn unanswered_critical(
    questions: &[super::model::QuestionView],
    answers: &BTreeMap<String, String>,
) -> Vec<String> {
    questions
        .iter()
        .filter(|q| DecisionKind::Approve.needs_answer(q))
        .filter(|q| answers.get(&q.id).is_none_or(|a| a.trim().is_empty()))
        .map(|q| q.id.clone())
        .collect()
}

impl Engine {
    /// The report of one approval.
    ///
    /// # Errors
    /// An unknown approval or run.
    pub(crate) fn report(&self, approval_id: &str) -> Result<Report, Failure> {
        let approval: Approval = self
            .store
            .read(|tx| tx.get::<Approval>(Table::Approvals, approval_id))?
            .ok_or_else(|| super::ops::unknown_approval(approval_id))?
            .value;
        let (run, wf) = self.read_run(&approval.run_id)?;
        let log = self.log(&run.id)?;
        let turns: Vec<Turn> = self.store.read(|tx| tx.run_turns(&run.id))?;
        Ok(build(&wf, &run, &approval, &log, &turns))
    }

    /// A run with everything its page shows beside the summary, each read once: the run and
    /// its workflow version, its log, its consults and every stage report (oldest first).
    ///
    /// # Errors
    /// An unknown run.
    pub(crate) fn run_record(&self, run_id: &str) -> Result<RunRecord, Failure> {
        let (run, wf) = self.read_run(run_id)?;
        let log = self.log(run_id)?;
        let (approvals, consults) = self.store.read(|tx| {
            let a: Vec<Versioned<Approval>> = tx.list(Table::Approvals, None, Some(run_id))?;
            let t: Vec<Turn> = tx.run_turns(run_id)?;
            Ok::<_, Failure>((a, t))
        })?;
        let mut approvals: Vec<Approval> = approvals.into_iter().map(|v| v.value).collect();
        approvals.sort_by_key(|a| a.created_at);
        let reports = approvals
            .iter()
            .map(|a| build(&wf, &run, a, &log, &consults))
            .collect();
        Ok(RunRecord {
            run,
            wf,
            log,
            consults,
            reports,
        })
    }

    /// The newest event's number: it changes whenever any run moves.
    ///
    /// # Errors
    /// A state-file failure.
    pub(crate) fn last_change(&self) -> Result<i64, Failure> {
        self.store.read(|tx| Ok::<_, Failure>(tx.last_seq()?))
    }
}

/// The window of the approval's visit in the run's log: from its `stage_entered` to its
/// `approval_requested` (both inclusive), as times and log positions.
fn visit_window(log: &[Logged], a: &Approval) -> (usize, usize) {
    let end = log
        .iter()
        .position(|l| {
            matches!(&l.event, RunEvent::ApprovalRequested { approval_id, .. } if *approval_id == a.id)
        })
        .unwrap_or(log.len().saturating_sub(1));
    let start = log[..=end.min(log.len().saturating_sub(1))]
        .iter()
        .rposition(|l| {
            matches!(&l.event, RunEvent::StageEntered { stage, visit } if *stage == a.stage && *visit == a.visit)
        })
        .unwrap_or(0);
    (start, end)
}

fn build(wf: &Compiled, run: &Run, a: &Approval, log: &[Logged], turns: &[Turn]) -> Report {
    let (start, end) = if log.is_empty() {
        (0, 0)
    } else {
        visit_window(log, a)
    };
    let window = log.get(start..=end).unwrap_or_default();
    let (from, to) = (window.first().map_or(a.created_at, |l| l.at), a.created_at);
    let mut checks = BTreeMap::new();
    for l in window {
        if let RunEvent::CheckRecorded { name, fact, .. } = &l.event {
            checks.insert(name.clone(), fact.clone());
        }
    }
    let consults: Vec<ConsultLine> = turns
        .iter()
        .filter(|t| t.at >= from && t.at <= to)
        .map(|t| {
            let cut = t.answer.chars().count() > ANSWER_EXCERPT;
            ConsultLine {
                id: t.id.clone(),
                provider: t.provider.clone(),
                question: first_line(&t.question, 200),
                answer: t.answer.chars().take(ANSWER_EXCERPT).collect(),
                cut,
                warnings: t.warnings.clone(),
            }
        })
        .collect();
    let words = a.words.clone().unwrap_or_default();
    let flagged: Vec<String> = a
        .questions
        .iter()
        .filter(|q| {
            words
                .answers
                .get(&q.id)
                .is_some_and(|answer| concern::concern(q, answer))
        })
        .map(|q| q.id.clone())
        .collect();
    let unanswered = if a.status == ApprovalStatus::Pending {
        unanswered_critical(&a.questions, &words.answers)
    } else {
        Vec::new()
    };
    let next = (a.status == ApprovalStatus::Pending && run.status == RunStatus::Waiting)
        .then(|| predict_next(wf, run, a))
        .flatten();
    let lang = run.lang.clone();
    let workflow = wf.workflow();
    let next_view = next.as_ref().map(|n| {
        let is_end = workflow.stage(n).is_none();
        json!({
            "name": n,
            "title": if is_end { n.clone() } else { super::brief::title(wf, n, &lang) },
            "end": is_end,
        })
    });
    let schema = wf
        .stages
        .get(&a.stage)
        .and_then(|s| s.schema.clone())
        .unwrap_or(Value::Null);
    let questions: Vec<Value> = a
        .questions
        .iter()
        .map(|q| {
            json!({
                "id": q.id, "text": q.text, "priority": q.priority.as_str(),
                "options": q.options,
                "answer": words.answers.get(&q.id),
                "flagged": flagged.contains(&q.id),
            })
        })
        .collect();
    let checks_json: Vec<Value> = checks
        .iter()
        .map(|(k, f)| {
            let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("name".into(), Value::String(k.clone()));
            }
            v
        })
        .collect();
    let fields = fields(&a.output, &schema);
    // The summary: the output's own, else its first text field (the seed: the stage's opening
    // words and its first findings).
    let summary = a
        .output
        .get("summary")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            fields
                .iter()
                .find(|f| f["kind"] == "text")
                .and_then(|f| f["text"].as_str().map(str::to_string))
        });
    let risks: Vec<Value> = fields
        .iter()
        .filter(|f| f["key"] == "risks")
        .flat_map(|f| f["items"].as_array().cloned().unwrap_or_default())
        .collect();
    let mut ctx = json!({
        "lang": lang,
        "run": {"id": run.id, "task": run.task, "workflow": run.workflow},
        "stage": {"name": a.stage, "title": a.stage_title, "visit": a.visit},
        "output": a.output,
        "summary": summary,
        "risks": risks,
        "fields": fields,
        "next": next_view,
        "consults": consults,
        "checks": checks_json,
        "questions": questions,
        "metrics": {
            "seconds": (to - from).max(0) / 1000,
            "consults": consults.len(),
            "checks_passed": checks.values().filter(|c| c.passed).count(),
            "checks_failed": checks.values().filter(|c| c.status == CheckStatus::Failed).count(),
            "checks_cannot_run": checks.values().filter(|c| c.status == CheckStatus::CannotRun).count(),
        },
        "decision": a.decision.map(|d| json!({
            "kind": d.as_str(),
            "by": a.decided_by.map(super::model::Actor::as_str),
            "feedback": words.feedback,
        })),
    });
    let template = wf.stages.get(&a.stage).and_then(|s| s.report.clone());
    let markdown = render(template.as_deref(), &ctx);
    // Every template guards its questions with `{% if questions %}` (docs: "Reports").
    let without_questions =
        (a.status == ApprovalStatus::Pending && !a.questions.is_empty()).then(|| {
            ctx["questions"] = json!([]);
            render(template.as_deref(), &ctx)
        });
    Report {
        approval: ApprovalView::of(a),
        markdown,
        without_questions,
        flagged,
        unanswered,
        answers: words.answers.clone(),
        feedback: words.feedback.clone(),
        next,
        consults,
        checks,
    }
}

/// Renders the report; a template that fails to render still leaves the person the output
/// itself, with the reason (a report must never hide what it reports on).
fn render(template: Option<&str>, ctx: &Value) -> String {
    let fallback = |why: &str| {
        format!(
            "_The report template could not be rendered ({why}); the output follows._\n\n```json\n{}\n```\n",
            serde_json::to_string_pretty(&ctx["output"]).unwrap_or_default()
        )
    };
    let text = match template {
        Some(t) => {
            crate::template::render("report", t, ctx).unwrap_or_else(|e| fallback(&e.to_string()))
        }
        None => fallback("no template"),
    };
    tidy(&text)
}

/// At most one blank line in a row, and none at the start: templates may leave more
/// behind their optional sections.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = true;
    for line in text.lines() {
        let is_blank = line.trim().is_empty();
        if is_blank && blank {
            continue;
        }
        blank = is_blank;
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Where approving `a` would take the run: the approved edge fired on a copy.
fn predict_next(wf: &Compiled, run: &Run, a: &Approval) -> Option<String> {
    let mut copy: Run = run.clone();
    let mut events: Events = Vec::new();
    step::fire(wf, &mut copy, a.approve_event(), &a.output, &mut events).ok()?;
    events.iter().find_map(|e| match e {
        RunEvent::Transition { to, .. } => Some(to.clone()),
        _ => None,
    })
}

fn first_line(s: &str, max: usize) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

/// An output's fields for a template that knows nothing of its schema: each with a label (the
/// schema's `title`, else the key in words), its text when it is a scalar, and its items (one
/// line each) when it is a list.
fn fields(output: &Value, schema: &Value) -> Vec<Value> {
    let Some(obj) = output.as_object() else {
        return Vec::new();
    };
    obj.iter()
        .map(|(key, v)| {
            let label = schema
                .pointer(&format!("/properties/{key}/title"))
                .and_then(Value::as_str)
                .map_or_else(|| key.replace('_', " "), str::to_string);
            let (kind, text, items, more) = match v {
                Value::Array(list) => (
                    "list",
                    Value::Null,
                    list.iter().take(LIST_ITEMS).map(one_line).collect::<Vec<_>>(),
                    list.len().saturating_sub(LIST_ITEMS),
                ),
                Value::Object(_) => ("object", Value::String(one_line(v)), Vec::new(), 0),
                Value::Null => ("empty", Value::Null, Vec::new(), 0),
                _ => ("text", Value::String(one_line(v)), Vec::new(), 0),
            };
            json!({"key": key, "label": label, "kind": kind, "text": text, "items": items, "more": more})
        })
        .collect()
}

/// A value as one readable line: strings as they are, objects by their telling fields.
fn one_line(v: &Value) -> String {
    const TELLING: [&str; 14] = [
        "id",
        "title",
        "name",
        "fact",
        "claim",
        "statement",
        "finding",
        "description",
        "summary",
        "text",
        "file",
        "path",
        "reason",
        "source",
    ];
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => {
            let parts: Vec<String> = TELLING
                .iter()
                .filter_map(|k| o.get(*k))
                .filter_map(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect();
            if parts.is_empty() {
                v.to_string()
            } else {
                parts.join(" — ")
            }
        }
        other => other.to_string(),
    };
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_reads_objects_by_their_telling_fields() {
        let v = json!({"id": "H1", "statement": "the list is empty", "confidence": 0.7});
        assert_eq!(one_line(&v), "H1 — the list is empty");
        assert_eq!(one_line(&json!("a\n  b")), "a b");
    }
}
