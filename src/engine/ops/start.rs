//! `start`: a new durable run, pinned to the current version of its workflow.

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::events::{Events, RunEvent};
use super::super::model::{Run, RunContext, RunStatus};
use super::super::views::RunSummary;
use super::super::{Brief, Engine, Failure, step};
use super::{append_all, run_row};
use crate::engine::FailureCode;
use crate::store::{Table, new_id, now_ms};

/// What `start` needs.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    pub task: String,
    pub workflow: Option<String>,
    pub context: RunContext,
    pub lang: Option<String>,
    /// The Claude Code session asking, as the adapter knows it from its own environment.
    pub session: Option<String>,
}

/// A new run and its first brief.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Started {
    pub run: RunSummary,
    pub(crate) brief: Option<Brief>,
}

impl Engine {
    /// Creates a durable run and enters its start stage.
    ///
    /// # Errors
    /// A workflow name that is not a name, an unknown or invalid workflow, an empty task, or
    /// an unsupported language.
    pub fn start(&self, req: &StartRequest) -> Result<Started, Failure> {
        let name = req.workflow.as_deref().unwrap_or("default");
        if req.task.trim().is_empty() {
            return Err(Failure::new(
                FailureCode::EmptyTask,
                "`task` is empty",
                "describe what the run should achieve in `task`",
            ));
        }
        let current = self.library.get(name)?;
        let wf = current.compiled;
        let workflow = wf.workflow();
        let langs: Vec<&str> = workflow.langs.iter().map(|l| l.value.as_str()).collect();
        let env_lang = std::env::var("MAESTRO_LANG").ok().filter(|l| !l.is_empty());
        let lang = match (&req.lang, env_lang) {
            (Some(l), _) if langs.is_empty() || langs.contains(&l.as_str()) => l.clone(),
            (Some(l), _) => {
                return Err(Failure::new(
                    FailureCode::UnsupportedLang,
                    format!(
                        "workflow `{name}` has no text in `{}`",
                        l.chars().take(20).collect::<String>()
                    ),
                    format!("use one of: {}", langs.join(", ")),
                ));
            }
            // MAESTRO_LANG naming a language this workflow lacks falls back to its default.
            (None, Some(l)) if langs.is_empty() || langs.contains(&l.as_str()) => l,
            (None, _) => workflow.default_lang().to_string(),
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
            workflow_version: Some(wf.version().to_string()),
            task: req.task.clone(),
            lang,
            status: RunStatus::Active,
            stage: None,
            end: None,
            visits: BTreeMap::new(),
            outputs: BTreeMap::new(),
            feedback: Vec::new(),
            context: req.context.clone(),
            checks: BTreeMap::new(),
            previous_checks: BTreeMap::new(),
            previous_output: None,
            selection: None,
            stage_secs: BTreeMap::new(),
            consults_used: 0,
            consults_in_visit: 0,
            strain: super::super::degraded::Strain::default(),
            tokens_used: 0,
            cost_usd: 0.0,
            pending_approval: None,
            created_at: now,
            stage_entered_at: now,
            finished_at: None,
            note: None,
            session: req.session.clone(),
        };
        let mut events: Events = vec![RunEvent::RunStarted {
            workflow: name.to_string(),
            version: Some(wf.version().to_string()),
            task: req.task.clone(),
            lang: run.lang.clone(),
            source: wf.display().to_string(),
            context: req.context.clone(),
            session: req.session.clone(),
        }];
        step::enter(&wf, &mut run, &start, &mut events)?;
        self.store.write(|tx| {
            self.save_version(tx, &wf)?;
            tx.insert(Table::Runs, &run_row(&run), &run)?;
            append_all(tx, &run.id, &events)
        })?;
        // What was stored is masked; the run in hand is what later reads will see.
        let run = self.read_run(&run.id)?.0;
        let brief = self.brief_of(&wf, &run).ok();
        Ok(Started {
            run: RunSummary::of(&run),
            brief,
        })
    }
}
