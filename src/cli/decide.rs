//! `maestro approvals`, `approve`, `revise`, `reject`: a person decides from a terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal};

use super::args::{ApprovalsArgs, DecideArgs};
use super::runs::to_json;
use super::{EXIT_OK, EXIT_USAGE, fail, print_err, print_out};
use crate::engine::model::ApprovalStatus;
use crate::engine::{Actor, ApprovalView, DecisionKind, DecisionText, Engine, RunStatus};

pub(super) fn approvals(args: &ApprovalsArgs, engine: &Engine) -> i32 {
    match engine.approvals(!args.all) {
        Ok(list) => {
            if args.json {
                print_out(&format!("{}\n", to_json(&list)));
            } else if list.is_empty() {
                print_out("no approvals are waiting\n");
            } else {
                let mut out = String::new();
                for a in &list {
                    out.push_str(&show(a, engine));
                    out.push('\n');
                }
                print_out(&out);
            }
            EXIT_OK
        }
        Err(f) => fail(&f),
    }
}

/// An approval as a person reads it: a header, the stage's report (the same Markdown the
/// form and the page show), and how to decide.
pub(super) fn show(a: &ApprovalView, engine: &Engine) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "approval {}  [{}]  run {} · {} · stage {} — {} (visit {})",
        a.approval_id,
        a.status.as_str(),
        a.run_id,
        a.workflow,
        a.stage,
        a.title,
        a.visit
    );
    match engine.report(&a.approval_id) {
        Ok(r) => {
            out.push('\n');
            out.push_str(r.markdown.trim_end());
            out.push_str("\n\n");
            if !r.unanswered.is_empty() {
                let _ = writeln!(
                    out,
                    "to approve, answer the critical questions: {}",
                    r.unanswered.join(", ")
                );
            }
        }
        Err(_) => {
            let report = serde_json::to_string_pretty(&a.report).unwrap_or_default();
            out.push_str("report:\n");
            for line in report.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    if !a.questions.is_empty() {
        out.push_str("question ids:");
        for q in &a.questions {
            let _ = write!(out, " {} [{}]", q.id, q.priority.as_str());
        }
        out.push('\n');
    }
    if a.status == ApprovalStatus::Pending {
        let _ = writeln!(
            out,
            "decide: maestro approve {id} --answer ID=TEXT ... | maestro revise {id} --feedback \"...\" | maestro reject {id}",
            id = a.approval_id
        );
    }
    out
}

pub(super) fn decide(args: &DecideArgs, kind: DecisionKind, engine: &Engine) -> i32 {
    let mut answers = BTreeMap::new();
    for a in &args.answers {
        let Some((k, v)) = a.split_once('=') else {
            print_err(&format!(
                "error: --answer `{a}` is not QUESTION_ID=TEXT\nhelp: e.g. --answer analyze_accuracy=\"All correct\"\n"
            ));
            return EXIT_USAGE;
        };
        answers.insert(k.trim().to_string(), v.trim().to_string());
    }
    let mut feedback = args.feedback.clone();
    let at_terminal = std::io::stdin().is_terminal();
    let interactive = answers.is_empty() && !args.no_input && at_terminal;
    if interactive {
        match engine.approval(&args.id) {
            Ok(a) if a.status == ApprovalStatus::Pending => {
                print_err(&show(&a, engine));
                ask(&a, &mut answers, &mut feedback, kind);
            }
            Ok(_) | Err(_) => {}
        }
    }
    if kind == DecisionKind::Revise
        && feedback.as_deref().is_none_or(|f| f.trim().is_empty())
        && answers.is_empty()
    {
        print_err(
            "error: `revise` needs words for the orchestrator\nhelp: add --feedback \"what to change\"\n",
        );
        return EXIT_USAGE;
    }
    let text = DecisionText { feedback, answers };
    // Without a terminal nobody can tell a person from a script (or an agent's shell), and
    // the audit trail says so.
    let actor = if at_terminal {
        Actor::Terminal
    } else {
        Actor::Command
    };
    match engine.decide(&args.id, kind, &text, actor) {
        Ok(d) => {
            if args.json {
                print_out(&format!("{}\n", to_json(&d)));
            } else {
                let r = &d.run;
                let where_now = match (&r.stage, &r.end) {
                    (Some(s), _) if r.status == RunStatus::Waiting => {
                        format!("waiting for approval at `{s}`")
                    }
                    (Some(s), _) => format!("now in stage `{s}` (visit {})", r.visit),
                    (None, Some(e)) => format!("finished: {e}"),
                    _ => r.status.as_str().to_string(),
                };
                print_out(&format!(
                    "{} {}: run {} {where_now}\n",
                    kind.as_str(),
                    d.approval.approval_id,
                    r.run_id
                ));
            }
            EXIT_OK
        }
        Err(f) => fail(&f),
    }
}

/// Asks each question on the terminal; an empty line skips it.
fn ask(
    a: &ApprovalView,
    answers: &mut BTreeMap<String, String>,
    feedback: &mut Option<String>,
    kind: DecisionKind,
) {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    for q in &a.questions {
        let mut prompt = format!("{} ", q.text);
        if !q.options.is_empty() {
            for (i, o) in q.options.iter().enumerate() {
                let _ = write!(prompt, "\n  {}) {o}", i + 1);
            }
            prompt.push('\n');
        }
        prompt.push_str("> ");
        print_err(&prompt);
        let Some(Ok(line)) = lines.next() else { return };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value = line
            .parse::<usize>()
            .ok()
            .and_then(|n| q.options.get(n.wrapping_sub(1)))
            .map_or_else(|| line.to_string(), Clone::clone);
        answers.insert(q.id.clone(), value);
    }
    if feedback.is_none() {
        let what = if kind == DecisionKind::Revise {
            "what should change"
        } else {
            "optional"
        };
        print_err(&format!("feedback ({what}) > "));
        if let Some(Ok(line)) = lines.next() {
            let line = line.trim();
            if !line.is_empty() {
                *feedback = Some(line.to_string());
            }
        }
    }
}
