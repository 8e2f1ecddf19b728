//! The hold rule: whether a tool call may change the project right now. This is the one place
//! the rule lives; `maestro hook` asks it before each of Claude Code's tool calls, and
//! maestro's own tools that write files or run commands (`patch`, `restore`, `verify`) ask it
//! before they act.
//!
//! Which runs count: the runs in this project's state file (the same file `maestro serve`
//! uses from that directory) that are not finished. Of those:
//! - a run waiting at a `by "human"` gate holds **every** tool that can change anything, in
//!   every session of the project, until the person decides: only tools known to change
//!   nothing pass ([`ToolKind::Reads`], an allow-list; a tool nobody listed, another MCP
//!   server's or one Claude Code adds next, is held);
//! - a run in a stage marked `edits #false` holds the tools that write files
//!   ([`ToolKind::Edits`]) of the session that started it (its `session`), of every session
//!   when that is unknown (started over HTTP or from the page), and of any call that names
//!   the run: a read-only stage is that run's discipline;
//! - while any run is unfinished, maestro's control files are not written through those
//!   tools either: `workspace::confine::control_file` decides on the real path (links
//!   followed), inside the project (`.maestro/`, `.claude/`, `.git/`, `.mcp.json`) and outside
//!   it (the asset home, Claude Code's user settings).
//!
//! Every refusal is appended to the trail of each run that caused it (`tool_denied`). A state
//! that cannot be read is the caller's to refuse (fail closed): [`Engine::hold`] returns the
//! failure.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::events::RunEvent;
use super::model::{Approval, Run, RunStatus};
use super::{Engine, Failure, brief};
use crate::engine::FailureCode;
use crate::store::{Table, Tx, Versioned};
use crate::syntax::ast::Format;
use crate::workflow::{GateBy, Workflow};
use crate::workspace::confine::{Control, control_file};

/// What a tool can do to the project, as far as the hold rule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ToolKind {
    /// Changes nothing: reading, searching, the task list, a question to the person, and
    /// maestro's own tools (those of them that write or run are held by the engine itself,
    /// with this same rule). Never held.
    Reads,
    /// Writes files: Edit, Write, MultiEdit, NotebookEdit, the worktree tools (a worktree
    /// under `.claude/worktrees/` and a branch), maestro's `patch` and `restore`.
    Edits,
    /// Anything else: commands, other MCP servers' tools, tools nobody listed. Held while a
    /// gate waits.
    Other,
}

/// Claude Code's tools that change nothing. An allow-list: a tool missing here is held at a
/// gate, which is the safe mistake.
const CLAUDE_READS: [&str; 21] = [
    "Read",
    "Grep",
    "Glob",
    "LS",
    "NotebookRead",
    "ToolSearch",
    "TodoWrite",
    "TodoRead",
    "TaskCreate",
    "TaskGet",
    "TaskList",
    "TaskUpdate",
    "TaskOutput",
    "BashOutput",
    "ListMcpResourcesTool",
    "ReadMcpResourceTool",
    "AskUserQuestion",
    "EnterPlanMode",
    "ExitPlanMode",
    "Skill",
    "Sleep",
];

/// Claude Code's tools that write files.
const CLAUDE_EDITS: [&str; 6] = [
    "Edit",
    "Write",
    "MultiEdit",
    "NotebookEdit",
    "EnterWorktree",
    "ExitWorktree",
];

/// Tools that write into a control folder whatever their input says: the worktree tools
/// create and remove worktrees under `.claude/worktrees/`.
const WORKTREE_TOOLS: [&str; 2] = ["EnterWorktree", "ExitWorktree"];

/// How Claude Code names the tools of maestro's server: `maestro` from `.mcp.json` (`init
/// --claude`), or the plugin's server.
const OWN_SERVERS: [&str; 2] = ["mcp__maestro__", "mcp__plugin_maestro_maestro__"];

/// The commands Claude Code runs, named as such in a refusal.
const COMMANDS: [&str; 2] = ["Bash", "PowerShell"];

impl ToolKind {
    /// The kind of a tool, by the name Claude Code gives it.
    #[must_use]
    pub(crate) fn of(tool: &str) -> ToolKind {
        if CLAUDE_READS.contains(&tool) || is_own_tool(tool) {
            ToolKind::Reads
        } else if CLAUDE_EDITS.contains(&tool) {
            ToolKind::Edits
        } else {
            ToolKind::Other
        }
    }

    /// Whether the hold rule looks at this tool at all (a crash while looking must refuse it).
    #[must_use]
    pub(crate) fn guarded(self) -> bool {
        self != ToolKind::Reads
    }
}

/// Whether `tool` is one of maestro's own tools: exactly one of its servers' prefixes and a
/// plain tool name (so a server named `maestro__x` does not pass for maestro).
fn is_own_tool(tool: &str) -> bool {
    OWN_SERVERS.iter().any(|prefix| {
        tool.strip_prefix(prefix).is_some_and(|name| {
            !name.is_empty()
                && !name.contains("__")
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
    })
}

/// Why a tool call was held.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum HoldRule {
    /// The run waits for a person at a `by "human"` gate.
    HumanGate,
    /// The run's stage is marked `edits #false`.
    ReadOnlyStage,
    /// The call would write one of maestro's control files while a run is unfinished.
    ControlFile,
}

/// A tool call about to be made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ToolCall<'a> {
    /// The Claude Code session making it (`session_id` in the hook's input; the stdio
    /// server's `CLAUDE_CODE_SESSION_ID`); `None` when unknown (HTTP, a terminal).
    pub session: Option<&'a str>,
    pub tool: &'a str,
    pub kind: ToolKind,
    /// The files it would write, absolute or relative to the workspace.
    pub paths: &'a [PathBuf],
    /// The run the call names (maestro's own tools): its read-only stage binds the call
    /// whatever the session.
    pub run: Option<&'a str>,
}

/// The guard's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
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

    /// Whether this run's own discipline (a read-only stage) binds `call`: its own session,
    /// every session when the run's is unknown, a caller whose session is unknown, and any
    /// call that names the run.
    fn binds(&self, call: &ToolCall<'_>) -> bool {
        call.run == Some(self.run.id.as_str()) || self.binds_session(call.session)
    }

    /// Whether this run's discipline binds `session`: its own, or either is unknown.
    fn binds_session(&self, session: Option<&str>) -> bool {
        match (self.run.session.as_deref(), session) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => true,
        }
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
    /// The state file or a run's workflow version cannot be read: the caller refuses then (a
    /// guard that cannot look must not wave a call through).
    pub(crate) fn hold(&self, call: &ToolCall<'_>) -> Result<Verdict, Failure> {
        if call.kind == ToolKind::Reads {
            return Ok(Verdict::Pass);
        }
        let mut live = self.live_runs()?;
        let holding: Vec<&Live> = live.iter().filter(|l| l.human_gate.is_some()).collect();
        if !holding.is_empty() {
            self.record_denial(call, HoldRule::HumanGate, &holding, None);
            return Ok(Verdict::Deny(gate_words(call, &holding)));
        }
        if call.kind != ToolKind::Edits || live.is_empty() {
            return Ok(Verdict::Pass);
        }
        self.with_workflows(&mut live, |l| l.binds(call))?;
        let read_only: Vec<&Live> = live
            .iter()
            .filter(|l| l.read_only() && l.binds(call))
            .collect();
        if !read_only.is_empty() {
            self.record_denial(call, HoldRule::ReadOnlyStage, &read_only, None);
            return Ok(Verdict::Deny(read_only_words(&read_only)));
        }
        let worktrees = WORKTREE_TOOLS
            .contains(&call.tool)
            .then(|| self.root.join(".claude/worktrees"));
        let control = call
            .paths
            .iter()
            .chain(worktrees.as_ref())
            .find_map(|p| control_file(&self.root, p, &self.control).map(|c| (p, c)));
        let Some((path, control)) = control else {
            return Ok(Verdict::Pass);
        };
        let all: Vec<&Live> = live.iter().collect();
        self.record_denial(call, HoldRule::ControlFile, &all, Some(path));
        Ok(Verdict::Deny(control_words(path, &control, all[0])))
    }

    /// The hold rule for maestro's own tools that write files or run commands: `Ok` when
    /// nothing holds the call, else the refusal (code `held`) with the same words the hook
    /// gives Claude Code.
    ///
    /// # Errors
    /// Held, or the state cannot be read.
    pub(crate) fn hold_own(&self, call: &ToolCall<'_>) -> Result<(), Failure> {
        match self.hold(call)? {
            Verdict::Pass => Ok(()),
            Verdict::Deny(reason) => Err(Failure::new(
                FailureCode::Held,
                reason,
                "nothing was written or run; wait for the person's decision, or do this in a \
                 stage that allows it",
            )),
        }
    }

    /// A few lines for the start of a session or a prompt: where this project's unfinished
    /// runs stand. `None` when there are none.
    ///
    /// # Errors
    /// The state file cannot be read.
    pub(crate) fn standing(&self, session: &str) -> Result<Option<String>, Failure> {
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
                    "; approval {} waits for a person, so every tool that can change something \
                     (edits, commands, worktrees, other servers' tools) is held until they decide (`maestro approvals`, or the page `maestro ui` prints)",
                    a.id
                ));
            } else if l.run.status == RunStatus::Waiting {
                line.push_str("; its output waits for a decision");
            } else if l.read_only() && l.binds_session(Some(session)) {
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

    /// Appends the refusal to each holding run's trail. The refusal stands even when the
    /// trail cannot be written (it says so on stderr).
    fn record_denial(
        &self,
        call: &ToolCall<'_>,
        rule: HoldRule,
        holding: &[&Live],
        path: Option<&PathBuf>,
    ) {
        let path = path.or(call.paths.first());
        let written = self.store.write_relaxed(|tx| {
            for l in holding {
                tx.append(
                    &l.run.id,
                    &RunEvent::ToolDenied {
                        session: call.session.unwrap_or_default().to_string(),
                        tool: call.tool.to_string(),
                        rule,
                        stage: l.run.stage.clone(),
                        path: path.map(|p| p.to_string_lossy().into_owned()),
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
    let s = super::ops::workflow_text(tx, version)?;
    let format = Format::from_path(&s.display).unwrap_or_else(|| Format::sniff(&s.text));
    crate::loader::workflow_only(&s.display, &s.text, format)
        .map(Arc::new)
        .ok_or_else(|| {
            Failure::new(
                FailureCode::VersionUnreadable,
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

fn gate_words(call: &ToolCall<'_>, holding: &[&Live]) -> String {
    let what = if call.kind == ToolKind::Edits {
        "File edits are held".to_string()
    } else if COMMANDS.contains(&call.tool) {
        "Commands are held".to_string()
    } else {
        format!("`{}` is held", call.tool)
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

fn control_words(path: &Path, control: &Control, l: &Live) -> String {
    format!(
        "This edit is held by maestro: `{}`: {control}. While run {} is unfinished, control \
         files are changed only by a person, outside Claude Code.",
        path.display(),
        l.run.id
    )
}
