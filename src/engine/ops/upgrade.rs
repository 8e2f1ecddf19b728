//! `upgrade`: a person moves a run to the current version of its workflow, after seeing what
//! changed (gates, questions, timeouts, transitions). Runs never move by themselves.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;

use super::super::events::RunEvent;
use super::super::library::{Compiled, Snapshot};
use super::super::model::RunStatus;
use super::super::views::RunSummary;
use super::super::{Engine, Failure};
use crate::workflow::{Stage, Workflow};

/// What moving a run to the current version would change.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UpgradePreview {
    pub run_id: String,
    pub workflow: String,
    /// The version the run is pinned to.
    pub from: String,
    /// The current version of the workflow file.
    pub to: String,
    /// One line per difference a person should know about.
    pub changes: Vec<String>,
}

/// A run moved to a new version.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Upgrade {
    pub preview: UpgradePreview,
    pub run: RunSummary,
}

impl Engine {
    /// What `upgrade` would change, without changing anything.
    ///
    /// # Errors
    /// An unknown or finished run, a current file that does not validate, or a current
    /// version without the stage the run is in.
    pub fn upgrade_preview(&self, run_id: &str) -> Result<UpgradePreview, Failure> {
        self.plan_upgrade(run_id).map(|(preview, _)| preview)
    }

    /// The preview and the current version it was computed against.
    fn plan_upgrade(&self, run_id: &str) -> Result<(UpgradePreview, Arc<Compiled>), Failure> {
        let (run, from) = self.read_run(run_id)?;
        if run.status == RunStatus::Finished {
            return Err(Failure::run_finished(&run));
        }
        let to = self.library.get(&run.workflow)?.compiled;
        if let Some(stage) = &run.stage
            && to.workflow().stage(stage).is_none()
        {
            return Err(Failure::new(
                "stage_gone",
                format!(
                    "the current `{}` has no stage `{stage}`, where run {run_id} is",
                    run.workflow
                ),
                "restore the stage in the workflow file, or finish this run on its own version",
            ));
        }
        let preview = UpgradePreview {
            run_id: run.id.clone(),
            workflow: run.workflow.clone(),
            from: from.version().to_string(),
            to: to.version().to_string(),
            changes: differences(&from, &to),
        };
        Ok((preview, to))
    }

    /// Moves a run to the current version, if it is still the one the person saw (`to`).
    ///
    /// # Errors
    /// As [`Engine::upgrade_preview`], or `conflict` when the file changed since the preview.
    pub fn upgrade(&self, run_id: &str, to: &str) -> Result<Upgrade, Failure> {
        let (preview, target) = self.plan_upgrade(run_id)?;
        if preview.to != to {
            return Err(super::conflict(&format!("workflow `{}`", preview.workflow)));
        }
        if preview.from == preview.to {
            return Err(Failure::new(
                "up_to_date",
                format!(
                    "run {run_id} already uses the current version {}",
                    Snapshot::short(to)
                ),
                "nothing to do",
            ));
        }
        let (_, run, _) = self.mutate(run_id, |tx, _, run, events| {
            if run.workflow_version.as_deref() != Some(preview.from.as_str()) {
                return Err(super::conflict(&format!("run {run_id}")));
            }
            self.save_version(tx, &target)?;
            run.workflow_version = Some(to.to_string());
            events.push(RunEvent::WorkflowUpgraded {
                from: preview.from.clone(),
                to: to.to_string(),
                changes: preview.changes.clone(),
            });
            Ok(())
        })?;
        Ok(Upgrade {
            preview,
            run: RunSummary::of(&run),
        })
    }
}

fn edges(s: &Stage) -> BTreeSet<String> {
    s.next
        .iter()
        .map(|e| {
            let mut t = format!("on `{}` → `{}`", e.event(s), e.to.value);
            if let Some(w) = &e.when {
                t.push_str(&format!(" when `{}`", w.value));
            }
            t
        })
        .collect()
}

fn gate_line(s: &Stage) -> String {
    match &s.settings.gate {
        None => "no gate".into(),
        Some(g) => {
            let mut t = format!("gate by `{}`", g.by.as_str());
            if let Some(secs) = g.timeout_secs {
                t.push_str(&format!(
                    ", timeout {secs}s then `{}`",
                    g.on_timeout
                        .map_or("reject", crate::workflow::OnTimeout::as_str)
                ));
            }
            t
        }
    }
}

fn questions(s: &Stage, lang: &str) -> Vec<(String, String)> {
    s.settings.gate.as_ref().map_or_else(Vec::new, |g| {
        g.questions
            .iter()
            .map(|q| {
                let text = q.text.get(lang, lang).unwrap_or_default();
                let opts = q.options_in(lang).join(" | ");
                (
                    q.id.value.clone(),
                    format!(
                        "[{}] {text}{}",
                        q.priority.as_str(),
                        if opts.is_empty() {
                            String::new()
                        } else {
                            format!(" ({opts})")
                        }
                    ),
                )
            })
            .collect()
    })
}

/// The differences a person should see before moving a run from `a` to `b`.
fn differences(a: &Compiled, b: &Compiled) -> Vec<String> {
    let (wa, wb): (&Workflow, &Workflow) = (a.workflow(), b.workflow());
    let mut out = Vec::new();
    let start = |w: &Workflow| {
        w.start
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_default()
    };
    if start(wa) != start(wb) {
        out.push(format!("start: `{}` → `{}`", start(wa), start(wb)));
    }
    let budget = |w: &Workflow| {
        format!(
            "consults={:?} wall={:?}s tokens={:?} cost={:?}",
            w.budget.consults.as_ref().map(|c| c.value),
            w.budget.wall_secs,
            w.budget.tokens,
            w.budget.cost_usd
        )
    };
    if budget(wa) != budget(wb) {
        out.push(format!("budget: {} → {}", budget(wa), budget(wb)));
    }
    let lang = wb.default_lang().to_string();
    for s in &wa.stages {
        let name = &s.name.value;
        let Some(t) = wb.stage(name) else {
            out.push(format!("stage `{name}` removed"));
            continue;
        };
        let (ga, gb) = (gate_line(s), gate_line(t));
        if ga != gb {
            out.push(format!("stage `{name}`: {ga} → {gb}"));
        }
        let (qa, qb) = (questions(s, &lang), questions(t, &lang));
        for (id, text) in &qa {
            match qb.iter().find(|(i, _)| i == id) {
                None => out.push(format!("stage `{name}`: question `{id}` removed")),
                Some((_, other)) if other != text => out.push(format!(
                    "stage `{name}`: question `{id}` changed: {text} → {other}"
                )),
                Some(_) => {}
            }
        }
        for (id, text) in &qb {
            if !qa.iter().any(|(i, _)| i == id) {
                out.push(format!("stage `{name}`: question `{id}` added: {text}"));
            }
        }
        let (ea, eb) = (edges(s), edges(t));
        for e in ea.difference(&eb) {
            out.push(format!("stage `{name}`: transition removed: {e}"));
        }
        for e in eb.difference(&ea) {
            out.push(format!("stage `{name}`: transition added: {e}"));
        }
        if s.max_visits() != t.max_visits() {
            out.push(format!(
                "stage `{name}`: max-visits {:?} → {:?}",
                s.max_visits(),
                t.max_visits()
            ));
        }
        let cmax = |x: &Stage| x.settings.consult.max.as_ref().map(|m| m.value);
        if cmax(s) != cmax(t) {
            out.push(format!(
                "stage `{name}`: consult max {:?} → {:?}",
                cmax(s),
                cmax(t)
            ));
        }
        let output = |x: &Stage| x.settings.output.as_ref().map(|o| o.value.clone());
        if output(s) != output(t) {
            out.push(format!(
                "stage `{name}`: output schema {:?} → {:?}",
                output(s),
                output(t)
            ));
        }
    }
    for t in &wb.stages {
        if wa.stage(&t.name.value).is_none() {
            out.push(format!("stage `{}` added ({})", t.name.value, gate_line(t)));
        }
    }
    let ends = |w: &Workflow| {
        w.ends
            .iter()
            .map(|e| e.value.clone())
            .collect::<BTreeSet<_>>()
    };
    for e in ends(wa).difference(&ends(wb)) {
        out.push(format!("end `{e}` removed"));
    }
    for e in ends(wb).difference(&ends(wa)) {
        out.push(format!("end `{e}` added"));
    }
    let files = |c: &Compiled| {
        c.snapshot
            .files
            .iter()
            .map(|f| (format!("{}/{}", f.kind.dir(), f.name), f.text.clone()))
            .collect::<BTreeSet<_>>()
    };
    let (fa, fb) = (files(a), files(b));
    let changed: BTreeSet<&String> = fa.symmetric_difference(&fb).map(|(name, _)| name).collect();
    for name in changed {
        out.push(format!("`{name}` changed"));
    }
    if out.is_empty() && a.version() != b.version() {
        out.push("the workflow text changed (comments, titles or wording only)".into());
    }
    out
}
