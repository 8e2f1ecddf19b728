//! The orchestrator's own tools: whether Claude Code may edit a file or run a command right
//! now, as `maestro hook` asks before each such call. This is the one place the rules live.
//!
//! Which runs count: the runs in this project's state file (the same file `maestro serve`
//! uses from that directory) that are not finished. Of those:
//! - a run waiting at a `by "human"` gate holds **every** session of the project: edits and
//!   commands are refused until the person decides, because the person is judging the work
//!   tree all sessions share;
//! - a run in a stage marked `edits #false` holds the editing tools of the session that
//!   started it (its `session`), and of every session when the run's session is unknown
//!   (started over HTTP or from the page): a read-only stage is that run's discipline;
//! - while any run is unfinished, maestro's control files (`.maestro/`, `.claude/`, `.git/`,
//!   `.mcp.json`, as `workspace::confine` defines them) are not edited through Claude Code's
//!   tools either: they decide the gates, the checks and the hooks themselves.
//!
//! Reads, searches and maestro's own MCP tools are never held. Every refusal is appended to
//! the trail of each run that caused it (`tool_denied`). A state that cannot be read is the
//! caller's to refuse (fail closed): [`Engine::hold`] returns the failure.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::events::RunEvent;
use super::model::{Approval, Run, RunStatus};
use super::{Engine, Failure, brief};
use crate::store::{Table, Tx, Versioned};
use crate::syntax::ast::Format;
use crate::workflow::{GateBy, Workflow};

/// What a Claude Code tool can do to the project, as far as the guard cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// Writes files: Edit, Write, MultiEdit, NotebookEdit.
    Edit,
    /// Runs anything: Bash, PowerShell.
    Command,
    /// Everything else (reads, searches, web, MCP tools): never held.
    Other,
}

impl ToolKind {
    /// The kind of a Claude Code tool, by its name.
    #[must_use]
    pub fn of(tool: &str) -> ToolKind {
        match tool {
            "Edit" | "Write" | "MultiEdit" | "NotebookEdit" => ToolKind::Edit,
            "Bash" | "PowerShell" => ToolKind::Command,
            _ => ToolKind::Other,
        }
    }

    /// Whether the guard looks at this tool at all (a crash while looking must refuse it).
    #[must_use]
    pub fn guarded(self) -> bool {
        self != ToolKind::Other
    }
}

/// Why a tool call was held.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HoldRule {
    /// The run waits for a person at a `by "human"` gate.
    HumanGate,
    /// The run's stage is marked `edits #false`.
    ReadOnlyStage,
    /// The call would edit one of maestro's control files while a run is unfinished.
    ControlFile,
}

/// A tool call Claude Code is about to make.
#[derive(Debug, Clone, Copy)]
pub struct ToolCall<'a> {
    /// Claude Code's session id (`session_id` in the hook's input).
    pub session: &'a str,
    pub tool: &'a str,
    /// The file an editing tool would write, as Claude Code names it (absolute).
    pub path: Option<&'a Path>,
}

/// The guard's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing holds the call: Claude Code's own permissions decide.
    Pass,
    /// Refused, with the words Claude Code shows the model.
    Deny(String),
}

/// An unfinished run with what the guard needs to know about it.
struct Live {
    run: Run,
    /// The workflow of the version the run is pinned to, loaded only where a rule needs it
    /// ([`Engine::with_workflows`]). Only its stages' `edits` and titles are read, so the hook
    /// parses the workflow file alone: compiling the version's roles, reports and schemas
    /// would cost ~20 ms on every tool call.
    wf: Option<Arc<Workflow>>,
    /// The pending approval, when the run waits at a gate only a person decides.
    human_gate: Option<Approval>,
}

impl Live {
    fn stage(&self) -> &str {
        self.run.stage.as_deref().unwrap_or("?")
    }

    fn read_only(&self) -> bool {
        self.run
            .stage
            .as_deref()
            .zip(self.wf.as_deref())
            .and_then(|(s, wf)| wf.stage(s))
            .is_some_and(|s| !s.edits())
    }

    /// Whether this run's own discipline (a read-only stage) binds `session`.
    fn binds(&self, session: &str) -> bool {
        self.run.session.as_deref().is_none_or(|s| s == session)
    }

    fn title(&self) -> String {
        match (&self.wf, &self.human_gate) {
            (Some(wf), _) => brief::stage_title(wf, self.stage(), &self.run.lang),
            (None, Some(a)) => a.stage_title.clone(),
            (None, None) => self.stage().to_string(),
        }
    }
}

impl Engine {
    /// Whether `call` may go ahead. Only the refusals write (one `tool_denied` event on each
    /// run that holds the call); a state file that does not exist yet is not created.
    ///
    /// # Errors
    /// The state file or a run's workflow version cannot be read: the caller refuses guarded
    /// tools then (a guard that cannot look must not wave a call through).
    pub fn hold(&self, call: &ToolCall<'_>) -> Result<Verdict, Failure> {
        let kind = ToolKind::of(call.tool);
        if !kind.guarded() {
            return Ok(Verdict::Pass);
        }
        let mut live = self.live_runs()?;
        let at_gate = live.iter().any(|l| l.human_gate.is_some());
        if !at_gate && kind == ToolKind::Edit {
            self.with_workflows(&mut live, |l| l.binds(call.session))?;
        }
        let pick = |f: &dyn Fn(&Live) -> bool| live.iter().filter(|l| f(l)).collect::<Vec<_>>();
        let read_only = |l: &Live| l.read_only() && l.binds(call.session);
        let control = call.path.and_then(|p| self.control_file(p));
        let (rule, holding) = if at_gate {
            (HoldRule::HumanGate, pick(&|l| l.human_gate.is_some()))
        } else if kind != ToolKind::Edit || live.is_empty() {
            return Ok(Verdict::Pass);
        } else if live.iter().any(read_only) {
            (HoldRule::ReadOnlyStage, pick(&read_only))
        } else if control.is_some() {
            (HoldRule::ControlFile, pick(&|_| true))
        } else {
            return Ok(Verdict::Pass);
        };
        let reason = match rule {
            HoldRule::HumanGate => gate_words(kind, &holding),
            HoldRule::ReadOnlyStage => read_only_words(&holding),
            HoldRule::ControlFile => control_words(call, control.unwrap_or_default(), holding[0]),
        };
        self.record_denial(call, rule, &holding);
        Ok(Verdict::Deny(reason))
    }

    /// A few lines for the start of a session or a prompt: where this project's unfinished
    /// runs stand. `None` when there are none.
    ///
    /// # Errors
    /// The state file cannot be read.
    pub fn standing(&self, session: &str) -> Result<Option<String>, Failure> {
        const SHOWN: usize = 3;
        let mut live = self.live_runs()?;
        let shown = live.len().min(SHOWN);
        self.with_workflows(&mut live[..shown], |_| true)?;
        if live.is_empty() {
            return Ok(None);
        }
        let mut lines = Vec::new();
        for l in live.iter().take(SHOWN) {
            let whose = match l.run.session.as_deref() {
                Some(s) if s == session => "this session's run",
                Some(_) => "another session's run",
                None => "run",
            };
            let mut line = format!(
                "maestro: {whose} {} (workflow `{}`) is at stage `{}` ({}), visit {}",
                l.run.id,
                l.run.workflow,
                l.stage(),
                l.title(),
                l.run.visits.get(l.stage()).copied().unwrap_or(1),
            );
            if let Some(a) = &l.human_gate {
                line.push_str(&format!(
                    "; approval {} waits for a person, so edits and commands are held until \
                     they decide (`maestro approvals`, or the page `maestro ui` prints)",
                    a.id
                ));
            } else if l.run.status == RunStatus::Waiting {
                line.push_str("; its output waits for a decision");
            } else if l.read_only() && l.binds(session) {
                line.push_str("; the stage is read-only (`edits #false`): no file edits");
            }
            line.push('.');
            lines.push(line);
        }
        if live.len() > SHOWN {
            lines.push(format!(
                "maestro: {} more unfinished runs (`maestro runs` lists them).",
                live.len() - SHOWN
            ));
        }
        lines.push(
            "maestro: its `status` tool, with a run_id, gives the brief and what to do next."
                .into(),
        );
        Ok(Some(lines.join("\n")))
    }

    /// The unfinished runs, newest first, with their human gates (workflows are loaded
    /// separately, where a rule needs them).
    fn live_runs(&self) -> Result<Vec<Live>, Failure> {
        self.expire_due(None)?;
        self.store.read(|tx| {
            let mut runs: Vec<Versioned<Run>> =
                tx.list(Table::Runs, Some(RunStatus::Waiting.as_str()), None)?;
            runs.extend(tx.list::<Run>(Table::Runs, Some(RunStatus::Active.as_str()), None)?);
            runs.sort_by_key(|r| std::cmp::Reverse(r.value.created_at));
            let mut live = Vec::with_capacity(runs.len());
            for Versioned { value: run, .. } in runs {
                let human_gate = match &run.pending_approval {
                    Some(id) => tx
                        .get::<Approval>(Table::Approvals, id)?
                        .map(|a| a.value)
                        .filter(|a| a.by == GateBy::Human),
                    None => None,
                };
                live.push(Live {
                    run,
                    wf: None,
                    human_gate,
                });
            }
            Ok(live)
        })
    }

    /// Loads the pinned workflow of each run in `live` that `wanted` picks (each version
    /// parsed once).
    fn with_workflows(
        &self,
        live: &mut [Live],
        wanted: impl Fn(&Live) -> bool,
    ) -> Result<(), Failure> {
        self.store.read(|tx| {
            let mut versions: HashMap<String, Arc<Workflow>> = HashMap::new();
            for l in live.iter_mut().filter(|l| wanted(l)) {
                l.wf = Some(match &l.run.workflow_version {
                    Some(v) => match versions.get(v) {
                        Some(wf) => wf.clone(),
                        None => {
                            let wf = pinned_workflow(tx, v)?;
                            versions.insert(v.clone(), wf.clone());
                            wf
                        }
                    },
                    None => Arc::new(
                        self.library
                            .get(&l.run.workflow)?
                            .compiled
                            .workflow()
                            .clone(),
                    ),
                });
            }
            Ok(())
        })
    }

    /// Why `path` is a control file of this workspace, if it is one.
    fn control_file(&self, path: &Path) -> Option<&'static str> {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        crate::workspace::confine::control_reason(&rel.to_string_lossy())
    }

    /// Appends the refusal to each holding run's trail. The refusal stands even when the
    /// trail cannot be written (it says so on stderr).
    fn record_denial(&self, call: &ToolCall<'_>, rule: HoldRule, holding: &[&Live]) {
        let written = self.store.write(|tx| {
            for l in holding {
                tx.append(
                    &l.run.id,
                    &RunEvent::ToolDenied {
                        session: call.session.to_string(),
                        tool: call.tool.to_string(),
                        rule,
                        stage: l.run.stage.clone(),
                        path: call.path.map(|p| p.to_string_lossy().into_owned()),
                    },
                )?;
            }
            Ok::<_, Failure>(())
        });
        if let Err(e) = written {
            warn(&format!(
                "maestro hook: the refusal could not be written to the run's trail: {e}"
            ));
        }
    }
}

/// The workflow of a stored version, parsed from its text alone.
fn pinned_workflow(tx: &Tx<'_>, version: &str) -> Result<Arc<Workflow>, Failure> {
    let s = super::ops::snapshot(tx, version)?;
    let format = Format::from_path(&s.display).unwrap_or_else(|| Format::sniff(&s.text));
    crate::loader::workflow_only(&s.display, &s.text, format)
        .map(Arc::new)
        .ok_or_else(|| {
            Failure::new(
                "version_unreadable",
                format!(
                    "workflow version {version} of `{}` no longer parses",
                    s.name
                ),
                "the state file is damaged or was written by another maestro; start a new run",
            )
        })
}

/// A warning on stderr (the hook's stdout is its answer to Claude Code).
fn warn(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

fn gate_words(kind: ToolKind, holding: &[&Live]) -> String {
    let what = if kind == ToolKind::Edit {
        "File edits are held"
    } else {
        "Commands are held"
    };
    let mut s = format!(
        "{what} by maestro: a stage waits for a person's decision, and nothing changes the \
         project until they decide."
    );
    for l in holding {
        if let Some(a) = &l.human_gate {
            s.push_str(&format!(
                " Run {} (workflow `{}`) waits at stage `{}` ({}) for approval {}.",
                l.run.id,
                l.run.workflow,
                l.stage(),
                l.title(),
                a.id
            ));
        }
    }
    let id = holding
        .iter()
        .find_map(|l| l.human_gate.as_ref())
        .map_or("<approval>", |a| a.id.as_str());
    s.push_str(&format!(
        " The person decides in a terminal (`maestro approve {id}`, `maestro revise {id} \
         --feedback \"...\"` or `maestro reject {id}`), on the approval page that `maestro ui` \
         prints, or in the form Claude Code shows. Until then, read, search and use maestro's \
         tools (`status`); tell the person the stage is ready for their review, \
         and do not try another way to change files."
    ));
    s
}

fn read_only_words(holding: &[&Live]) -> String {
    let l = holding[0];
    format!(
        "File edits are held by maestro: run {} (workflow `{}`) is in stage `{}` ({}), which \
         the workflow marks read-only (`edits #false`). Do this stage's work by reading, \
         searching and running commands, then `submit` its output with maestro's `submit` tool; \
         edits are allowed again in a stage that permits them. A person can change this in the \
         workflow file.",
        l.run.id,
        l.run.workflow,
        l.stage(),
        l.title()
    )
}

fn control_words(call: &ToolCall<'_>, why: &str, l: &Live) -> String {
    format!(
        "This edit is held by maestro: {}{why}. While run {} is unfinished, control files \
         are changed only by a person, outside Claude Code.",
        call.path
            .map_or_else(String::new, |p| format!("`{}`: ", p.display())),
        l.run.id
    )
}
