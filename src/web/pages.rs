//! The page's views: plain HTML from minijinja templates built into the binary, over the same
//! engine reads the CLI and the MCP tools use.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use serde_json::{Value, json};

use crate::compile::{SvgMarks, to_svg};
use crate::engine::FailureCode;
use crate::engine::events::RunEvent;
use crate::engine::report::Report;
use crate::engine::work::{Evidence, EvidenceKind, EvidenceQuery};
use crate::engine::{Engine, Failure, RunStatus};

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // Everything is escaped unless a view marks it safe: the reports' HTML (made inert by
    // `markdown::to_html`) and the diagram (escaped by `to_svg`).
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    // `truncate` lives in minijinja-contrib; one small filter is not worth the crate.
    env.add_filter("truncate", |s: String, n: usize| -> String {
        if s.chars().count() > n {
            format!("{}…", s.chars().take(n).collect::<String>())
        } else {
            s
        }
    });
    for (name, text) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("runs.html", include_str!("templates/runs.html")),
        ("run.html", include_str!("templates/run.html")),
        ("refused.html", include_str!("templates/refused.html")),
    ] {
        env.add_template(name, text)
            .expect("the page's templates are valid");
    }
    env
});

fn render(name: &str, ctx: &Value) -> Result<String, Failure> {
    ENV.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| {
            Failure::new(
                FailureCode::PageError,
                format!("maestro could not draw this page: {e}"),
                "report this as a bug in maestro; the run itself is unaffected",
            )
        })
}

/// Shared by every page: the form token and the live-update marker.
#[derive(Debug, Clone, Serialize)]
pub struct Frame {
    pub csrf: String,
    /// The state's change counter when the page was drawn.
    pub seq: i64,
}

/// How many runs the list shows (waiting ones first, then the newest).
const LISTED_RUNS: usize = 200;

/// `/`: runs, those waiting for a person first.
///
/// # Errors
/// A state-file failure.
pub fn runs(engine: &Engine, frame: &Frame) -> Result<String, Failure> {
    let mut runs = engine.runs_with_budget()?;
    let approvals = engine.approvals(true)?;
    // Waiting first, then active, then the rest; newest first within each.
    runs.sort_by_key(|(r, _)| {
        let rank = match r.status {
            RunStatus::Waiting => 0,
            RunStatus::Active => 1,
            RunStatus::Finished => 2,
        };
        (rank, std::cmp::Reverse(r.updated_at))
    });
    // A person reads the newest runs; the rest are one command away.
    let total = runs.len();
    let runs: Vec<Value> = runs
        .iter()
        .take(LISTED_RUNS)
        .map(|(r, b)| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            v["budget"] = serde_json::to_value(b).unwrap_or(Value::Null);
            v
        })
        .collect();
    render(
        "runs.html",
        &json!({"frame": frame, "runs": runs, "approvals": approvals,
                "more": total.saturating_sub(LISTED_RUNS)}),
    )
}

/// What a person typed into an approval form, kept when a decision is refused so that
/// nothing is lost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Draft {
    pub error: Option<String>,
    pub feedback: String,
    pub answers: BTreeMap<String, String>,
    /// Critical questions an approval left empty: the form marks them.
    pub unanswered: Vec<String>,
}

/// `/runs/{id}`: the run, its machine, its reports, consults, checks, patches and evidence.
///
/// # Errors
/// An unknown run, or a state-file failure.
pub fn run(engine: &Engine, id: &str, frame: &Frame, draft: &Draft) -> Result<String, Failure> {
    let view = engine.status(id)?;
    let record = engine.run_record(id)?;
    let (run, wf) = (&record.run, &record.wf);
    let mut marks = SvgMarks {
        current: run
            .stage
            .clone()
            .or_else(|| run.end.as_ref().map(ToString::to_string)),
        waiting: run
            .pending_approval
            .as_ref()
            .and(run.stage.clone())
            .filter(|_| run.status == RunStatus::Waiting),
        ..SvgMarks::default()
    };
    for l in &record.log {
        match &l.event {
            RunEvent::StageEntered { stage, .. } if !marks.visited.contains(stage) => {
                marks.visited.push(stage.clone());
            }
            RunEvent::Transition { from, to, .. } => {
                let edge = (from.clone(), to.clone());
                if !marks.taken.contains(&edge) {
                    marks.taken.push(edge);
                }
                if !marks.visited.contains(to) {
                    marks.visited.push(to.clone());
                }
            }
            _ => {}
        }
    }
    let svg = to_svg(wf.workflow(), wf.machine(), &run.lang, &marks);
    let reports: Vec<Value> = record.reports.iter().rev().map(report_json).collect();
    let evidence: Vec<Evidence> = engine.evidence(&EvidenceQuery {
        run_id: Some(id.to_string()),
        limit: Some(200),
        ..EvidenceQuery::default()
    })?;
    let patches: Vec<&Evidence> = evidence
        .iter()
        .filter(|e| matches!(e.kind, EvidenceKind::Patch | EvidenceKind::Rollback))
        .collect();
    let history: Vec<Value> = view
        .history
        .iter()
        .map(|h| {
            let v = serde_json::to_value(&h.event).unwrap_or(Value::Null);
            json!({"at": h.at, "kind": v["kind"], "what": describe(&v)})
        })
        .collect();
    render(
        "run.html",
        &json!({
            "frame": frame,
            "run": view,
            "svg": svg,
            "reports": reports,
            "pending": reports.first().filter(|r| r["approval"]["status"] == "pending"),
            "draft": draft,
            "consults": record.consults,
            "evidence": evidence,
            "patches": patches,
            "history": history,
        }),
    )
}

/// A report for the page: a pending one without its questions, which the form below it asks.
fn report_json(r: &Report) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    let markdown = r.without_questions.as_deref().unwrap_or(&r.markdown);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "html".into(),
            Value::String(super::markdown::to_html(markdown)),
        );
    }
    v
}

/// An event in one line for the history: its fields but the bulky ones.
fn describe(v: &Value) -> String {
    let data = v.get("data").cloned().unwrap_or(Value::Null);
    let Some(o) = data.as_object() else {
        return String::new();
    };
    o.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "output" | "flags" | "context" | "changes"))
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            // A workflow version reads as its first 8 digits, as `maestro runs` shows it; long
            // words are cut (the reports and `maestro log` have them whole).
            let v = if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                v[..8].to_string()
            } else if v.chars().count() > 120 {
                format!("{}…", v.chars().take(120).collect::<String>())
            } else {
                v
            };
            format!("{k}: {v}")
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A refusal, as a page.
#[must_use]
/// The page for a refused or failed request: its status, and the message with its line breaks.
pub(crate) fn refused(status: axum::http::StatusCode, message: &str) -> String {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    render(
        "refused.html",
        &json!({"title": title.trim_end(), "message": message}),
    )
    .unwrap_or_else(|_| "<p>refused</p>".to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_of_the_page_compiles() {
        for name in ["layout.html", "runs.html", "run.html", "refused.html"] {
            assert!(super::ENV.get_template(name).is_ok(), "{name}");
        }
        let page = super::refused(axum::http::StatusCode::CONFLICT, "<b>x</b>");
        assert!(page.contains("<h1>409 Conflict</h1>"), "{page}");
        assert!(
            page.contains("&lt;b&gt;x") && !page.contains("<b>"),
            "{page}"
        );
    }

    /// Every section of a run's page draws, with a decision, evidence and a hostile task.
    #[test]
    fn a_run_page_draws_every_section() {
        use crate::engine::{Actor, DecisionKind, DecisionText, Engine, StartRequest};
        let tmp = tempfile::tempdir().unwrap();
        let engine = Engine::open(crate::home::Home::builtin(), &tmp.path().join("s.db")).unwrap();
        let run = engine
            .start(&StartRequest {
                task: "<script>alert(1)</script> fix it".into(),
                workflow: Some("default".into()),
                ..Default::default()
            })
            .unwrap()
            .run
            .run_id;
        let output = serde_json::json!({
            "observations": [{"fact": "<img src=x onerror=alert(1)>", "source": "pytest"}],
            "constraints": [], "unknowns": [], "repro_steps": ["pytest"], "confidence": 0.8,
            "summary": "**bold** <b>raw</b>"
        });
        let apr = engine
            .submit(&run, &output, None)
            .unwrap()
            .approval
            .unwrap()
            .approval_id;
        let frame = super::Frame {
            csrf: "c".into(),
            seq: 1,
        };
        let page = super::run(&engine, &run, &frame, &super::Draft::default()).unwrap();
        for marker in [
            "id=\"decide\"",
            "name=\"q_analyze_accuracy\"",
            "<svg",
            "data-state=\"analyze\"",
        ] {
            assert!(page.contains(marker), "{marker}");
        }
        assert!(
            !page.contains("<script>alert")
                && !page.contains("<img src=x")
                && !page.contains("<b>raw")
        );
        let mut answers = std::collections::BTreeMap::new();
        answers.insert(
            "analyze_completeness".to_string(),
            "No, the cache is missing".to_string(),
        );
        answers.insert("analyze_accuracy".to_string(), "All correct".to_string());
        engine
            .decide(
                &apr,
                DecisionKind::Approve,
                &DecisionText {
                    feedback: None,
                    answers,
                },
                Actor::Web,
            )
            .unwrap();
        let page = super::run(&engine, &run, &frame, &super::Draft::default()).unwrap();
        assert!(
            page.contains("flagged answers"),
            "a critical answer that says no is flagged"
        );
        assert!(!page.contains("id=\"decide\""), "no form once decided");
        let list = super::runs(&engine, &frame).unwrap();
        assert!(list.contains(&run) && !list.contains("<script>alert"));
    }
}
