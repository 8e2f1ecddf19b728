//! What a question carries besides its words: the run's memory (read once per request), the
//! files and diff the context engine packs within the stage's limits, and the role that frames it.

use super::{blank_vars, render_role};
use crate::engine::{ConsultMemory, Engine, Failure};
use crate::workspace::context::{ContextRequest, DEFAULT_MAX_CHARS, Limits};
use crate::workspace::gitdiff::DiffSpec;
/// What a request knows of its run, read once ([`Engine::consult_memory`]): the variables
/// roles render with, the stage's context limits, the coordination policy and whether the
/// stage fans out. Without a run: the task alone, and the defaults.
pub(super) struct Memory(pub(super) ConsultMemory);

impl Memory {
    pub(super) fn of(
        engine: Option<&Engine>,
        run_id: Option<&str>,
        task: &str,
    ) -> Result<Memory, Failure> {
        Ok(Memory(match engine.zip(run_id) {
            Some((e, id)) => e.consult_memory(id)?,
            None => ConsultMemory {
                vars: blank_vars(task),
                ..ConsultMemory::default()
            },
        }))
    }

    /// The characters of what goes with the question: the stage's `context chars=…`, else the
    /// default.
    pub(super) fn chars(&self) -> usize {
        self.0.limits.chars.unwrap_or(DEFAULT_MAX_CHARS)
    }

    /// The role rendered with the run's memory, and `extra` variables on top.
    pub(super) fn role(
        &self,
        engine: Option<&Engine>,
        role: &str,
        extra: Option<(&str, serde_json::Value)>,
    ) -> Result<String, Failure> {
        let mut vars = self.0.vars.clone();
        if let Some((k, v)) = extra {
            vars[k] = v;
        }
        match engine {
            Some(e) => render_role(&e.library.home, role, &vars),
            None => render_role(&crate::home::Home::builtin(), role, &vars),
        }
    }
}

/// Files and a diff packed by the one context engine, plus the caller's own text.
pub(super) fn material(
    engine: Option<&Engine>,
    files: &[String],
    diff: Option<&DiffSpec>,
    context: Option<&str>,
    max_chars: usize,
    limits: &Limits,
) -> (String, Option<String>) {
    let mut text = String::new();
    let mut line = None;
    if !files.is_empty() || diff.is_some() {
        let req = ContextRequest {
            files: files.to_vec(),
            diff: diff.cloned(),
            max_chars: Some(max_chars),
            ..ContextRequest::default()
        }
        .within(limits);
        let packed = match engine {
            Some(e) => e.context(&req),
            None => {
                let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
                crate::workspace::context::pack(&cwd, &req)
            }
        };
        line = Some(packed.summary());
        text = packed.with_omissions();
    }
    if let Some(c) = context.filter(|c| !c.trim().is_empty()) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(c);
    }
    (text, line)
}

/// The role a question is framed by: the one named, else for a run the `adviser`, which shows
/// the adviser the task and what the person approved so far.
pub(super) fn default_role<'a>(role: Option<&'a str>, run_id: Option<&str>) -> Option<&'a str> {
    role.or(run_id.map(|_| "adviser"))
}

pub(super) fn join_prompt(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim_end())
        .collect::<Vec<_>>()
        .join("\n\n")
}
