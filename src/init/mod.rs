//! Copies the built-in assets into a project's `.maestro/`, never overwriting a person's edits
//! unless asked to, and sets a project up for Claude Code (`--claude`).
//!
//! A checkout may be hostile: every file is written only where no symbolic link is on the way
//! (`workspace::confine::own_file`), through a temporary file created exclusively, and a
//! setting that would turn the hooks off is reported rather than passed over.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::home::builtin_files;
use crate::workspace::confine::{own_file, write_atomic};
use crate::workspace::verify::Proposal;

/// Run state lives beside the assets but is never committed.
const GITIGNORE: &str =
    "# maestro's run state: local to this machine\nstate.db\nstate.db-*\nbackups/\n";

#[derive(Debug, Default)]
pub(crate) struct InitReport {
    pub written: Vec<String>,
    /// Files that differ from the defaults and were left alone.
    pub kept: Vec<String>,
    pub unchanged: usize,
}

/// Where `rel` may be written below `project`: no link on the way (see `own_file`).
fn target(project: &Path, rel: &str) -> Result<PathBuf, Error> {
    own_file(project, rel).map_err(|r| Error::Other(format!("{r}")))
}

/// Writes the defaults into the project's `.maestro/`.
///
/// # Errors
/// When a file cannot be written, or a link is on the way to one (nothing is written then).
pub(crate) fn init(project: &Path, force: bool) -> Result<InitReport, Error> {
    let mut report = InitReport::default();
    let files: Vec<(&str, &str)> = builtin_files()
        .iter()
        .copied()
        .chain(std::iter::once((".gitignore", GITIGNORE)))
        .collect();
    let paths = files
        .iter()
        .map(|(rel, _)| target(project, &format!(".maestro/{rel}")))
        .collect::<Result<Vec<_>, _>>()?;
    for ((rel, text), path) in files.into_iter().zip(paths) {
        match std::fs::read(&path) {
            Ok(existing) if existing == text.as_bytes() => {
                report.unchanged += 1;
                continue;
            }
            // The folder was made for run state alone; its ignore-everything file is maestro's.
            Ok(existing) if existing == crate::engine::STATE_ONLY_GITIGNORE.as_bytes() => {}
            Ok(_) if !force => {
                report.kept.push(rel.to_string());
                continue;
            }
            _ => {}
        }
        write_file(&path, text)?;
        report.written.push(rel.to_string());
    }
    Ok(report)
}

/// The checks `maestro init` wrote, and what of them cannot run here yet.
#[derive(Debug)]
pub(crate) struct ProposedChecks {
    /// The file written, relative to the project.
    pub file: String,
    pub proposal: Proposal,
}

/// Writes `.maestro/conf/verify.yaml` with checks for the project type found in `project`,
/// unless one exists: only checks whose program runs here or that the project declares, the
/// declared ones that are not installed named as missing (`workspace::verify::proposal`).
///
/// # Errors
/// When the file cannot be written, or the runtime that asks what is installed cannot start.
pub(crate) fn propose_checks(project: &Path) -> Result<Option<ProposedChecks>, Error> {
    let rel = ".maestro/conf/verify.yaml";
    let path = target(project, rel)?;
    if path.symlink_metadata().is_ok() {
        return Ok(None);
    }
    // Asking Python whether a module imports is a subprocess with a timeout.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?;
    let Some(proposal) = runtime.block_on(crate::workspace::verify::proposal(project)) else {
        return Ok(None);
    };
    write_file(&path, &proposal.text)?;
    Ok(Some(ProposedChecks {
        file: rel.into(),
        proposal,
    }))
}

/// The Claude Code skill `init --claude` writes (our own words); the plugin carries the same
/// file.
pub(crate) const CLAUDE_SKILL: &str = include_str!("../../plugin/skills/maestro/SKILL.md");

/// The hooks `init --claude` merges into `.claude/settings.json`: the plugin's own file, so
/// both routes install the same guards.
pub(crate) const CLAUDE_HOOKS: &str = include_str!("../../plugin/hooks/hooks.json");

/// How Claude Code starts maestro's server: `maestro` found on PATH, never the absolute path
/// of the binary that wrote it (the file is committed and shared by a team).
#[must_use]
pub(crate) fn server_entry() -> serde_json::Value {
    serde_json::json!({"type": "stdio", "command": "maestro", "args": ["serve"], "env": {}})
}

/// What `init --claude` did.
#[derive(Debug, Default)]
pub(crate) struct ClaudeSetup {
    pub written: Vec<String>,
    /// Settings that defeat the hooks, kept because `--force` was given.
    pub warnings: Vec<String>,
}

/// Registers maestro in the project's `.mcp.json` (keeping other servers), writes the Claude
/// Code skill and, with `hooks`, merges maestro's hooks into `.claude/settings.json` (keeping
/// every other setting and hook). Nothing is written when a file cannot be read as an object,
/// when a link is on the way to one, or (unless `force`) when a setting would turn the hooks
/// off: the project's `.claude/settings.json` or `settings.local.json`, or the user's
/// `user_settings` (`~/.claude/settings.json`).
///
/// # Errors
/// As above, or a file that cannot be read or written.
pub(crate) fn init_claude(
    project: &Path,
    hooks: bool,
    force: bool,
    user_settings: Option<&Path>,
) -> Result<ClaudeSetup, Error> {
    let mcp = target(project, ".mcp.json")?;
    let skill = target(project, ".claude/skills/maestro/SKILL.md")?;
    let settings = target(project, ".claude/settings.json")?;
    let mut mcp_doc = read_object(&mcp)?;
    object_at(&mut mcp_doc, "mcpServers", &mcp)?.insert("maestro".to_string(), server_entry());
    let mut setup = ClaudeSetup::default();
    let settings_doc = if hooks {
        let mut doc = read_object(&settings)?;
        merge_hooks(&mut doc, &settings)?;
        let local = project.join(".claude/settings.local.json");
        let mut defeats = hook_defeats(".claude/settings.json", &doc);
        for (shown, path) in [
            (
                ".claude/settings.local.json".to_string(),
                Some(local.as_path()),
            ),
            (
                user_settings.map_or_else(String::new, |p| p.display().to_string()),
                user_settings,
            ),
        ] {
            let other = path
                .and_then(|p| std::fs::read_to_string(p).ok())
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
            if let Some(other) = other {
                defeats.extend(hook_defeats(&shown, &other));
            }
        }
        if !defeats.is_empty() && !force {
            return Err(Error::Other(format!(
                "{}. maestro's hooks would be installed but never run (or a person's permission \
                 prompts skipped), so its gates would not hold Claude Code's tools. Remove the \
                 setting, or run again with --force to install anyway. Nothing was written.",
                defeats.join("; ")
            )));
        }
        setup.warnings = defeats;
        Some(doc)
    } else {
        None
    };
    write_json(&mcp, &mcp_doc)?;
    setup.written.push(".mcp.json".to_string());
    write_file(&skill, CLAUDE_SKILL)?;
    setup
        .written
        .push(".claude/skills/maestro/SKILL.md".to_string());
    if let Some(doc) = settings_doc {
        write_json(&settings, &doc)?;
        setup.written.push(".claude/settings.json".to_string());
    }
    Ok(setup)
}

/// The settings in `doc` (a Claude Code settings file shown as `shown`) that defeat maestro's
/// hooks: `disableAllHooks`, and a permission mode that skips the person's prompts.
fn hook_defeats(shown: &str, doc: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    if doc.get("disableAllHooks") == Some(&serde_json::Value::Bool(true)) {
        out.push(format!(
            "{shown} sets `disableAllHooks: true`: Claude Code runs no hooks at all"
        ));
    }
    if let Some(mode) = doc
        .pointer("/permissions/defaultMode")
        .and_then(serde_json::Value::as_str)
        .filter(|m| *m == "bypassPermissions")
    {
        out.push(format!(
            "{shown} sets `permissions.defaultMode: {mode}`: every call that no hook refuses \
             runs without asking you"
        ));
    }
    out
}

/// Whether a hook entry is one of maestro's (its command runs `maestro hook`).
fn is_ours(hook: &serde_json::Value) -> bool {
    hook.get("command")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|c| c.trim_start().starts_with("maestro hook"))
}

/// Puts maestro's hook groups into `doc["hooks"]`: an earlier copy of ours is replaced, every
/// other group and hook stays as it was.
fn merge_hooks(doc: &mut serde_json::Value, path: &Path) -> Result<(), Error> {
    let ours: serde_json::Value =
        serde_json::from_str(CLAUDE_HOOKS).expect("the built-in hooks are JSON");
    let hooks = object_at(doc, "hooks", path)?;
    for (event, groups) in ours["hooks"].as_object().into_iter().flatten() {
        let list = hooks
            .entry(event.clone())
            .or_insert_with(|| serde_json::json!([]));
        let Some(list) = list.as_array_mut() else {
            return Err(Error::Other(format!(
                "`hooks.{event}` in {} must be a list; fix it, then run again",
                path.display()
            )));
        };
        for group in list.iter_mut() {
            if let Some(entries) = group.get_mut("hooks").and_then(|h| h.as_array_mut()) {
                entries.retain(|h| !is_ours(h));
            }
        }
        list.retain(|g| {
            g.get("hooks")
                .and_then(|h| h.as_array())
                .is_none_or(|h| !h.is_empty())
        });
        list.extend(groups.as_array().into_iter().flatten().cloned());
    }
    Ok(())
}

/// A JSON file holding an object; a missing file is an empty object.
fn read_object(path: &Path) -> Result<serde_json::Value, Error> {
    let doc = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
            Error::Other(format!(
                "{} is not valid JSON ({e}); fix it or move it away, then run again",
                path.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => return Err(Error::io(path, e)),
    };
    if !doc.is_object() {
        return Err(Error::Other(format!(
            "{} must hold a JSON object",
            path.display()
        )));
    }
    Ok(doc)
}

/// `doc[key]`, created as `{}` when missing; an error when it is something else.
fn object_at<'a>(
    doc: &'a mut serde_json::Value,
    key: &str,
    path: &Path,
) -> Result<&'a mut serde_json::Map<String, serde_json::Value>, Error> {
    let value = doc
        .as_object_mut()
        .map(|o| o.entry(key).or_insert_with(|| serde_json::json!({})));
    value
        .and_then(serde_json::Value::as_object_mut)
        .ok_or_else(|| {
            Error::Other(format!(
                "`{key}` in {} must be an object; fix it, then run again",
                path.display()
            ))
        })
}

fn write_json(path: &Path, doc: &serde_json::Value) -> Result<(), Error> {
    write_file(
        path,
        &(serde_json::to_string_pretty(doc).unwrap_or_default() + "\n"),
    )
}

/// Writes a file `target` judged: through a temporary file made exclusively, never through a
/// link.
fn write_file(path: &Path, text: &str) -> Result<(), Error> {
    write_atomic(path, text.as_bytes()).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_keeps_edits_unless_forced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".maestro");
        let first = init(tmp.path(), false).unwrap();
        assert!(first.written.iter().any(|f| f == "workflows/default.kdl"));
        assert!(first.kept.is_empty());
        let wf = dir.join("workflows/default.kdl");
        std::fs::write(&wf, "// mine\n").unwrap();
        let second = init(tmp.path(), false).unwrap();
        assert_eq!(second.kept, vec!["workflows/default.kdl".to_string()]);
        assert!(second.written.is_empty());
        assert_eq!(std::fs::read_to_string(&wf).unwrap(), "// mine\n");
        let third = init(tmp.path(), true).unwrap();
        assert_eq!(third.written, vec!["workflows/default.kdl".to_string()]);
        assert_ne!(std::fs::read_to_string(&wf).unwrap(), "// mine\n");
    }

    #[test]
    fn claude_setup_keeps_other_servers() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join(".mcp.json"),
            r#"{"mcpServers": {"other": {"command": "x"}}}"#,
        )
        .unwrap();
        init_claude(tmp.path(), false, false, None).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join(".mcp.json")).unwrap())
                .unwrap();
        assert_eq!(doc["mcpServers"]["other"]["command"], "x");
        assert_eq!(doc["mcpServers"]["maestro"]["args"][0], "serve");
        let skill =
            std::fs::read_to_string(tmp.path().join(".claude/skills/maestro/SKILL.md")).unwrap();
        assert!(skill.starts_with("---\nname: maestro\n"));
        assert!(!tmp.path().join(".claude/settings.json").exists());
    }

    #[test]
    fn hooks_merge_into_settings_without_clobbering_and_only_once() {
        let tmp = tempfile::tempdir().unwrap();
        let settings = tmp.path().join(".claude/settings.json");
        std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
        let mine = serde_json::json!({
            "model": "opus",
            "hooks": {
                "PreToolUse": [
                    {"matcher": "Bash", "hooks": [{"type": "command", "command": "./lint.sh"}]},
                    {"matcher": "Edit", "hooks": [{"type": "command", "command": "maestro hook --old"}]}
                ],
                "Stop": [{"hooks": [{"type": "command", "command": "./notify.sh"}]}]
            }
        });
        std::fs::write(&settings, mine.to_string()).unwrap();
        for _ in 0..2 {
            let setup = init_claude(tmp.path(), true, false, None).unwrap();
            assert!(setup.written.contains(&".claude/settings.json".to_string()));
        }
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
        assert_eq!(doc["model"], "opus");
        assert_eq!(
            doc["hooks"]["Stop"][0]["hooks"][0]["command"],
            "./notify.sh"
        );
        let pre = doc["hooks"]["PreToolUse"].as_array().unwrap();
        // The person's Bash hook stays; the old maestro entry is replaced by one current copy.
        assert_eq!(pre[0]["hooks"][0]["command"], "./lint.sh");
        assert_eq!(pre.len(), 2, "{pre:?}");
        assert_eq!(pre[1]["matcher"], "*", "the hook sees every tool");
        for event in ["SessionStart", "UserPromptSubmit"] {
            let groups = doc["hooks"][event].as_array().unwrap();
            assert_eq!(groups.len(), 1, "{event}: {groups:?}");
            assert_eq!(groups[0]["hooks"][0]["command"], "maestro hook");
        }
        let mcp: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join(".mcp.json")).unwrap())
                .unwrap();
        assert_eq!(mcp["mcpServers"]["maestro"]["command"], "maestro");
    }

    #[test]
    fn settings_that_are_not_an_object_stop_everything() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join(".claude")).unwrap();
        std::fs::write(tmp.path().join(".claude/settings.json"), "{\"hooks\": []}").unwrap();
        let e = init_claude(tmp.path(), true, false, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`hooks`") && e.contains("must be an object"),
            "{e}"
        );
        assert!(!tmp.path().join(".mcp.json").exists(), "nothing is written");
    }
}
