//! `maestro approvals`, `approve`, `revise`, `reject`: a person decides from a terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};

use super::args::{ApprovalsArgs, DecideArgs};
use super::runs::to_json;
use super::{EXIT_OK, EXIT_USAGE, fail, print_err, print_out};
use crate::engine::model::ApprovalStatus;
use crate::engine::{Actor, ApprovalView, DecisionKind, DecisionText, Engine};

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
                let lang = engine.status(&a.run_id).map(|r| r.lang).unwrap_or_default();
                let prompt = Prompt {
                    approval: &a,
                    kind,
                    korean: lang == "ko",
                };
                let mut input = std::io::stdin().lock();
                let mut out = std::io::stderr().lock();
                if let Err(e) = prompt.ask(&mut input, &mut out, &mut answers, &mut feedback) {
                    print_err(&format!("error: cannot read the terminal: {e}\n"));
                }
            }
            Ok(_) | Err(_) => {}
        }
    }
    // Whether the words suffice (critical answers to approve, words to revise) is the
    // engine's rule, the same at every door.
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
                print_out(&format!(
                    "{} {}: {}\n",
                    kind.as_str(),
                    d.approval.approval_id,
                    d.run.where_now()
                ));
            }
            EXIT_OK
        }
        Err(f) => fail(&f),
    }
}

/// The questions of a pending approval asked on a terminal, one at a time. What the engine
/// would refuse is asked again at once, so nothing typed is lost to a refusal at the end: an
/// approval needs every critical question answered (they are marked required), a revision
/// needs words.
struct Prompt<'a> {
    approval: &'a ApprovalView,
    kind: DecisionKind,
    /// The run's language is Korean: the prompt's own words are too (the questions already are).
    korean: bool,
}

impl Prompt<'_> {
    fn say(&self, en: &str, ko: &str) -> String {
        if self.korean { ko } else { en }.to_string()
    }

    /// Asks each question, then for feedback. An empty line skips a question that is not
    /// required; the end of input (Ctrl-D) stops asking and leaves the engine to judge what
    /// was given.
    fn ask(
        &self,
        input: &mut dyn BufRead,
        out: &mut dyn Write,
        answers: &mut BTreeMap<String, String>,
        feedback: &mut Option<String>,
    ) -> std::io::Result<()> {
        for q in &self.approval.questions {
            let required = self.kind.needs_answer(q);
            let mut prompt = q.text.clone();
            if required {
                prompt.push(' ');
                prompt.push_str(&self.say("(required)", "(필수)"));
            }
            for (i, o) in q.options.iter().enumerate() {
                let _ = write!(prompt, "\n  {}) {o}", i + 1);
            }
            prompt.push_str("\n> ");
            write!(out, "{prompt}")?;
            let answer = loop {
                out.flush()?;
                let Some(line) = read_line(input)? else {
                    writeln!(out)?;
                    return Ok(());
                };
                if line.is_empty() {
                    if !required {
                        break None;
                    }
                    write!(
                        out,
                        "{}\n> ",
                        self.say(
                            "an answer is required to approve (or Ctrl-D to stop)",
                            "승인하려면 답이 필요합니다 (그만두려면 Ctrl-D)"
                        )
                    )?;
                    continue;
                }
                match choice(&line, &q.options) {
                    Ok(value) => break Some(value),
                    Err(n) => write!(
                        out,
                        "{}\n> ",
                        if self.korean {
                            format!(
                                "{n}번 선택지는 없습니다: 1–{}에서 고르거나 답을 쓰세요",
                                q.options.len()
                            )
                        } else {
                            format!(
                                "there is no option {n}: choose 1–{} or write an answer",
                                q.options.len()
                            )
                        }
                    )?,
                }
            };
            if let Some(value) = answer {
                answers.insert(q.id.clone(), value);
            }
        }
        if feedback.is_some() {
            return Ok(());
        }
        // A revision needs words: feedback, unless an answer already says what to change.
        let needs_words = self.kind.needs_words() && answers.is_empty();
        let what = match (self.kind, needs_words) {
            (DecisionKind::Revise, true) => {
                self.say("what should change (required)", "무엇을 바꿀지 (필수)")
            }
            (DecisionKind::Revise, false) => self.say("what should change", "무엇을 바꿀지"),
            _ => self.say("optional", "선택"),
        };
        write!(out, "{} ({what}) > ", self.say("feedback", "피드백"))?;
        loop {
            out.flush()?;
            let Some(line) = read_line(input)? else {
                writeln!(out)?;
                return Ok(());
            };
            if !line.is_empty() {
                *feedback = Some(line);
                return Ok(());
            }
            if !needs_words {
                return Ok(());
            }
            write!(
                out,
                "{}\n> ",
                self.say(
                    "a revision needs words: say what should change (or Ctrl-D to stop)",
                    "수정 요청에는 무엇을 바꿀지 적어야 합니다 (그만두려면 Ctrl-D)"
                )
            )?;
        }
    }
}

/// One line of input, trimmed; `None` at the end of input.
fn read_line(input: &mut dyn BufRead) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim().to_string()))
}

/// An answer as typed: a number picks an option; any other text is the answer itself. A
/// number past the options is a slip, returned to be asked again.
fn choice(line: &str, options: &[String]) -> Result<String, usize> {
    match line.parse::<usize>() {
        Ok(n) if !options.is_empty() => options.get(n.wrapping_sub(1)).cloned().ok_or(n),
        _ => Ok(line.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::QuestionView;
    use crate::workflow::Priority;

    fn approval() -> ApprovalView {
        let q = |id: &str, priority, text: &str, options: &[&str]| QuestionView {
            id: id.into(),
            priority,
            text: text.into(),
            options: options.iter().map(|o| (*o).to_string()).collect(),
        };
        ApprovalView {
            approval_id: "apr-1".into(),
            run_id: "run-1".into(),
            workflow: "default".into(),
            stage: "analyze".into(),
            title: "Analysis".into(),
            visit: 1,
            status: ApprovalStatus::Pending,
            by: crate::workflow::GateBy::Human,
            report: serde_json::json!({}),
            questions: vec![
                q(
                    "left_out",
                    Priority::Critical,
                    "What did the analysis leave out?",
                    &[],
                ),
                q(
                    "accuracy",
                    Priority::Critical,
                    "Are the observations correct?",
                    &["All correct", "Some are wrong"],
                ),
                q("repro", Priority::High, "Can you reproduce it?", &[]),
            ],
            deadline: None,
            on_timeout: None,
            decision: None,
            decided_by: None,
        }
    }

    /// Runs the prompt over `typed`; returns the answers, the feedback and what was shown.
    fn run(
        kind: DecisionKind,
        korean: bool,
        typed: &str,
    ) -> (BTreeMap<String, String>, Option<String>, String) {
        let a = approval();
        let prompt = Prompt {
            approval: &a,
            kind,
            korean,
        };
        let (mut answers, mut feedback, mut out) = (BTreeMap::new(), None, Vec::new());
        prompt
            .ask(&mut typed.as_bytes(), &mut out, &mut answers, &mut feedback)
            .unwrap();
        (answers, feedback, String::from_utf8(out).unwrap())
    }

    #[test]
    fn an_empty_answer_to_a_required_question_is_asked_again_and_nothing_is_lost() {
        // Enter on both critical questions, then the answers; Enter skips the optional one.
        let (answers, feedback, shown) = run(
            DecisionKind::Approve,
            false,
            "\nNothing missing\n\n7\n1\n\nlooks fine\n",
        );
        assert_eq!(answers["left_out"], "Nothing missing");
        assert_eq!(answers["accuracy"], "All correct");
        assert!(!answers.contains_key("repro"));
        assert_eq!(feedback.as_deref(), Some("looks fine"));
        assert!(
            shown.contains("What did the analysis leave out? (required)\n> ")
                && shown.contains("Are the observations correct? (required)\n  1) All correct")
                && shown.contains("Can you reproduce it?\n> "),
            "{shown}"
        );
        assert_eq!(
            shown
                .matches("an answer is required to approve (or Ctrl-D to stop)")
                .count(),
            2,
            "{shown}"
        );
        assert!(
            shown.contains("there is no option 7: choose 1–2 or write an answer"),
            "{shown}"
        );
    }

    #[test]
    fn the_prompt_speaks_the_runs_language() {
        let (answers, _, shown) = run(DecisionKind::Approve, true, "\n없음\n1\n\n\n");
        assert_eq!(answers["left_out"], "없음");
        assert!(
            shown.contains("(필수)") && shown.contains("승인하려면 답이 필요합니다"),
            "{shown}"
        );
        assert!(!shown.contains("required"), "{shown}");
    }

    #[test]
    fn revise_and_reject_require_no_answers_but_a_revision_needs_words() {
        let (answers, feedback, shown) =
            run(DecisionKind::Revise, false, "\n\n\n\n\nname the function\n");
        assert!(answers.is_empty());
        assert_eq!(feedback.as_deref(), Some("name the function"));
        assert!(!shown.contains("(required)\n"), "{shown}");
        assert!(
            shown.contains("feedback (what should change (required)) > ")
                && shown.contains("a revision needs words"),
            "{shown}"
        );
        // An answer already says what to change: feedback may stay empty.
        let (answers, feedback, _) = run(DecisionKind::Revise, false, "\n2\n\n\n");
        assert_eq!(answers["accuracy"], "Some are wrong");
        assert_eq!(feedback, None);
        let (answers, feedback, shown) = run(DecisionKind::Reject, false, "\n\n\n\n");
        assert!(answers.is_empty() && feedback.is_none());
        assert!(shown.contains("feedback (optional) > "), "{shown}");
    }

    #[test]
    fn the_end_of_input_stops_asking() {
        let (answers, feedback, shown) = run(DecisionKind::Approve, false, "\n\nthe cache");
        assert_eq!(answers["left_out"], "the cache");
        assert!(!answers.contains_key("accuracy") && feedback.is_none());
        assert!(shown.ends_with("> \n"), "{shown:?}");
    }
}
