//! Claude Code's command-hook contract, for `maestro hook`: the JSON Claude Code writes on the
//! hook's stdin, and the JSON the hook answers on stdout. The rules themselves live in
//! `engine::guard`; this is only the adapter.
//!
//! - `PreToolUse` for any tool that is not known to change nothing (see
//!   `engine::guard::ToolKind`): no output lets Claude Code's own permissions decide (maestro
//!   never answers "allow", which would skip the person's permission prompts); a refusal is `permissionDecision: "deny"` with the reason the model
//!   reads. A guard that cannot look refuses (fail closed).
//! - `SessionStart` and `UserPromptSubmit`: `additionalContext` saying where the project's
//!   unfinished runs stand, or nothing. These never block (fail open).
//! - Anything else: no output.

#![allow(
    clippy::result_large_err,
    reason = "a Failure carries a readable message and help, as everywhere in the engine"
)]

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::engine::guard::{ToolCall, ToolKind, Verdict};
use crate::engine::{Engine, Failure};
use crate::home::{Home, HomeOptions};

/// The hook events maestro answers; the others get no output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub(crate) enum Event {
    PreToolUse,
    SessionStart,
    UserPromptSubmit,
    #[serde(other)]
    Other,
}

/// The fields of the hook's input that maestro reads (Claude Code sends more).
#[derive(Debug, Clone, serde::Deserialize)]
#[allow(
    clippy::struct_field_names,
    reason = "the fields are named after the keys of Claude Code's hook input"
)]
pub(crate) struct Input {
    pub hook_event_name: Event,
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    #[serde(default)]
    pub tool_name: Option<String>,
    #[serde(default)]
    pub tool_input: Value,
}

impl Input {
    /// The file an editing tool would write.
    fn path(&self) -> Option<PathBuf> {
        ["file_path", "notebook_path"]
            .iter()
            .find_map(|k| self.tool_input.get(*k).and_then(Value::as_str))
            .map(PathBuf::from)
    }
}

/// What the hook prints: exactly the documented shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Output {
    #[serde(rename = "hookSpecificOutput")]
    pub hook_specific_output: Specific,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "hookEventName")]
pub(crate) enum Specific {
    PreToolUse {
        #[serde(rename = "permissionDecision")]
        permission_decision: Permission,
        #[serde(rename = "permissionDecisionReason")]
        permission_decision_reason: String,
    },
    SessionStart {
        #[serde(rename = "additionalContext")]
        additional_context: String,
    },
    UserPromptSubmit {
        #[serde(rename = "additionalContext")]
        additional_context: String,
    },
}

/// maestro only ever refuses; the other decisions stay with Claude Code and the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Permission {
    Deny,
}

impl Output {
    #[must_use]
    pub(crate) fn deny(reason: String) -> Output {
        Output {
            hook_specific_output: Specific::PreToolUse {
                permission_decision: Permission::Deny,
                permission_decision_reason: reason,
            },
        }
    }

    /// The JSON line for stdout.
    #[must_use]
    pub(crate) fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default() + "\n"
    }
}

/// Where the hook looks: `CLAUDE_PROJECT_DIR` (set by Claude Code for every hook and for the
/// MCP servers it starts; the model cannot move it), else the input's `cwd`, else the
/// process's own directory.
#[must_use]
pub(crate) fn project_dir(
    input_cwd: Option<&Path>,
    claude_project_dir: Option<PathBuf>,
) -> PathBuf {
    claude_project_dir
        .filter(|p| !p.as_os_str().is_empty())
        .or_else(|| input_cwd.map(Path::to_path_buf))
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Answers one hook call. `raw` is the hook's stdin; `home` and `project` as the process
/// found them. `None`: print nothing.
#[must_use]
pub(crate) fn answer(
    raw: &[u8],
    home: &HomeOptions,
    claude_project_dir: Option<PathBuf>,
) -> Option<Output> {
    let input: Input = match serde_json::from_slice(raw) {
        Ok(i) => i,
        Err(e) => return unreadable_input(raw, &e),
    };
    let guarded = input.hook_event_name == Event::PreToolUse
        && ToolKind::of(input.tool_name.as_deref().unwrap_or_default()).guarded();
    let context = matches!(
        input.hook_event_name,
        Event::SessionStart | Event::UserPromptSubmit
    );
    if !guarded && !context {
        return None;
    }
    let project = project_dir(input.cwd.as_deref(), claude_project_dir);
    let state = crate::engine::state_path(&project);
    // No state file: no run has ever started here. Nothing to hold, and nothing is created.
    if !state.exists() {
        return None;
    }
    let opened = Engine::open(
        Home::resolve(&HomeOptions {
            cwd: project,
            ..home.clone()
        }),
        &state,
    );
    if guarded {
        let tool = input.tool_name.as_deref().unwrap_or_default();
        let paths: Vec<PathBuf> = input.path().into_iter().collect();
        let call = ToolCall {
            session: Some(input.session_id.as_str()).filter(|s| !s.is_empty()),
            tool,
            kind: ToolKind::of(tool),
            paths: &paths,
            run: None,
        };
        return match opened.and_then(|e| e.hold(&call)) {
            Ok(Verdict::Pass) => None,
            Ok(Verdict::Deny(reason)) => Some(Output::deny(reason)),
            Err(f) => Some(Output::deny(cannot_look(&state, &f))),
        };
    }
    let text = match opened.and_then(|e| e.standing(&input.session_id)) {
        Ok(Some(text)) => text,
        Ok(None) => return None,
        Err(f) => format!(
            "maestro: {}; until that is fixed, maestro's hook holds every tool but reads.",
            cannot_read(&state, &f)
        ),
    };
    Some(Output {
        hook_specific_output: if input.hook_event_name == Event::SessionStart {
            Specific::SessionStart {
                additional_context: text,
            }
        } else {
            Specific::UserPromptSubmit {
                additional_context: text,
            }
        },
    })
}

/// Whether `raw` may be a call the guard holds, read as leniently as possible: when the
/// hook fails, this decides between refusing (fail closed) and saying nothing (fail open).
#[must_use]
pub(crate) fn may_guard(raw: &[u8]) -> bool {
    let v: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
    let tool = v.get("tool_name").and_then(Value::as_str);
    match v.get("hook_event_name").and_then(Value::as_str) {
        Some("PreToolUse") => tool.is_none_or(|t| ToolKind::of(t).guarded()),
        Some(_) => false,
        None => true,
    }
}

/// Input that is not the documented JSON: refuse when it may be a guarded call (fail closed),
/// otherwise say nothing.
fn unreadable_input(raw: &[u8], e: &serde_json::Error) -> Option<Output> {
    may_guard(raw).then(|| {
        Output::deny(format!(
            "maestro hook could not read what Claude Code sent ({e}), so it holds this call: a \
             guard that cannot look must not let a call through. `maestro hook` expects the \
             JSON of a Claude Code command hook on stdin; update maestro or Claude Code, or \
             turn maestro's hooks off (see the maestro README)."
        ))
    })
}

fn cannot_read(state: &Path, f: &Failure) -> String {
    format!(
        "maestro could not read its state file {} ({}: {})",
        state.display(),
        f.code,
        f.message
    )
}

fn cannot_look(state: &Path, f: &Failure) -> String {
    format!(
        "{}, so it holds every tool but reads: a guard that cannot look must not let a call \
         through. {} A person can check it with `maestro runs`, or move the file away to start \
         over with no runs.",
        cannot_read(state, f),
        f.help
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_prints_exactly_the_documented_fields() {
        assert_eq!(
            Output::deny("held".into()).to_line(),
            "{\"hookSpecificOutput\":{\"hookEventName\":\"PreToolUse\",\"permissionDecision\":\"deny\",\"permissionDecisionReason\":\"held\"}}\n"
        );
        let context = Output {
            hook_specific_output: Specific::SessionStart {
                additional_context: "maestro: …".into(),
            },
        };
        assert_eq!(
            context.to_line(),
            "{\"hookSpecificOutput\":{\"hookEventName\":\"SessionStart\",\"additionalContext\":\"maestro: …\"}}\n"
        );
    }

    #[test]
    fn only_what_may_be_a_guarded_call_fails_closed() {
        for (raw, guarded) in [
            ("", true),
            ("[1]", true),
            (r#"{"hook_event_name": "PreToolUse"}"#, true),
            (
                r#"{"hook_event_name": "PreToolUse", "tool_name": "PowerShell"}"#,
                true,
            ),
            (
                r#"{"hook_event_name": "PreToolUse", "tool_name": "NotebookEdit"}"#,
                true,
            ),
            (
                r#"{"hook_event_name": "PreToolUse", "tool_name": "Read"}"#,
                false,
            ),
            (
                r#"{"hook_event_name": "PreToolUse", "tool_name": "mcp__maestro__submit"}"#,
                false,
            ),
            (r#"{"hook_event_name": "UserPromptSubmit"}"#, false),
        ] {
            assert_eq!(may_guard(raw.as_bytes()), guarded, "{raw}");
        }
    }

    #[test]
    fn the_project_is_claude_codes_not_the_shells() {
        let cwd = Path::new("/elsewhere");
        assert_eq!(
            project_dir(Some(cwd), Some(PathBuf::from("/proj"))),
            PathBuf::from("/proj")
        );
        assert_eq!(project_dir(Some(cwd), Some(PathBuf::new())), cwd);
        assert_eq!(project_dir(Some(cwd), None), cwd);
    }
}
