//! The page's views: plain HTML from minijinja templates built into the binary, over the same
//! engine reads the CLI and the MCP tools use.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use serde_json::{Value, json};

use crate::compile::{SvgMarks, to_svg};
use crate::engine::events::RunEvent;
use crate::engine::report::Report;
use crate::engine::threads::Turn;
use crate::engine::work::{Evidence, EvidenceKind, EvidenceQuery};
use crate::engine::{Engine, Failure, RunStatus};

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // Everything is escaped unless a view marks it safe: the reports' HTML (made inert by
    // `markdown::to_html`) and the diagram (escaped by `to_svg`).
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
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

fn render(name: &str, ctx: &Value) -> String {
    ENV.get_template(name)
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| format!("<pre>maestro could not draw this page: {e}</pre>"))
}

/// Shared by every page: the form token and the live-update marker.
#[derive(Debug, Clone, Serialize)]
pub struct Frame {
    pub csrf: String,
    /// The state's change counter when the page was drawn.
    pub seq: i64,
}

/// `/`: runs, those waiting for a person first.
///
/// # Errors
/// A state-file failure.
pub fn runs(engine: &Engine, frame: &Frame) -> Result<String, Failure> {
    let mut runs = engine.runs(false)?;
    let approvals = engine.approvals(true)?;
    // Waiting first, then active, then the rest; newest first within each.
    runs.sort_by_key(|r| {
        let rank = match r.status {
            RunStatus::Waiting => 0,
            RunStatus::Active => 1,
            _ => 2,
        };
        (rank, std::cmp::Reverse(r.updated_at))
    });
    Ok(render(
        "runs.html",
        &json!({"frame": frame, "runs": runs, "approvals": approvals}),
    ))
}

/// What a person typed into an approval form, kept when a decision is refused so that
/// nothing is lost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Draft {
    pub error: Option<String>,
    pub feedback: String,
    pub answers: BTreeMap<String, String>,
}

/// `/runs/{id}`: the run, its machine, its reports, consults, checks, patches and evidence.
///
/// # Errors
/// An unknown run, or a state-file failure.
pub fn run(engine: &Engine, id: &str, frame: &Frame, draft: &Draft) -> Result<String, Failure> {
    let view = engine.status(id)?;
    let (run, wf) = engine.read_run(id)?;
    let log = engine.log(id)?;
    let mut marks = SvgMarks {
        current: run.stage.clone().or_else(|| run.end.clone()),
        waiting: run
            .pending_approval
            .as_ref()
            .and(run.stage.clone())
            .filter(|_| run.status == RunStatus::Waiting),
        ..SvgMarks::default()
    };
    for l in &log {
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
    let reports: Vec<Value> = engine
        .reports(id)?
        .into_iter()
        .rev()
        .map(|r| report_json(&r))
        .collect();
    let turns: Vec<Turn> = engine.run_consults(id)?;
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
    Ok(render(
        "run.html",
        &json!({
            "frame": frame,
            "run": view,
            "svg": svg,
            "reports": reports,
            "pending": reports.first().filter(|r| r["approval"]["status"] == "pending"),
            "draft": draft,
            "consults": turns,
            "evidence": evidence,
            "patches": patches,
        "history": history,
        }),
    ))
}

fn report_json(r: &Report) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("html".into(), Value::String(super::markdown::to_html(&r.markdown)));
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
        .filter(|(k, _)| !matches!(k.as_str(), "output" | "flags"))
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A refusal, as a page.
#[must_use]
pub fn refused(message: &str) -> String {
    render("refused.html", &json!({"message": message}))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_of_the_page_compiles() {
        for name in ["layout.html", "runs.html", "run.html", "refused.html"] {
            assert!(super::ENV.get_template(name).is_ok(), "{name}");
        }
        let page = super::refused("<b>x</b>");
        assert!(page.contains("&lt;b&gt;x") && !page.contains("<b>"), "{page}");
    }
}
