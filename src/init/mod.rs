//! Copies the built-in assets into a project's `.maestro/`, never overwriting a person's edits
//! unless asked to.

use std::path::Path;

use crate::error::Error;
use crate::home::builtin_files;

/// Run state lives beside the assets but is never committed.
const GITIGNORE: &str =
    "# maestro's run state: local to this machine\nstate.db\nstate.db-*\nbackups/\n";

#[derive(Debug, Default)]
pub struct InitReport {
    pub written: Vec<String>,
    /// Files that differ from the defaults and were left alone.
    pub kept: Vec<String>,
    pub unchanged: usize,
}

/// Writes the defaults into `dir`.
///
/// # Errors
/// When a file cannot be written.
pub fn init(dir: &Path, force: bool) -> Result<InitReport, Error> {
    let mut report = InitReport::default();
    let files = builtin_files()
        .iter()
        .copied()
        .chain(std::iter::once((".gitignore", GITIGNORE)));
    for (rel, text) in files {
        let path = dir.join(rel);
        match std::fs::read(&path) {
            Ok(existing) if existing == text.as_bytes() => {
                report.unchanged += 1;
                continue;
            }
            Ok(_) if !force => {
                report.kept.push(rel.to_string());
                continue;
            }
            _ => {}
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        report.written.push(rel.to_string());
    }
    Ok(report)
}

/// Writes `.maestro/conf/verify.yaml` with checks for the project type found in `project`,
/// unless one exists. Returns the file written.
///
/// # Errors
/// When the file cannot be written.
pub fn propose_checks(project: &Path) -> Result<Option<String>, Error> {
    let path = project.join(".maestro/conf/verify.yaml");
    if path.exists() {
        return Ok(None);
    }
    let Some(text) = crate::workspace::verify::proposal(project) else {
        return Ok(None);
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    Ok(Some(".maestro/conf/verify.yaml".into()))
}

/// The Claude Code skill `init --claude` writes (our own words).
pub const CLAUDE_SKILL: &str = include_str!("claude-skill.md");

/// Registers maestro in the project's `.mcp.json` (keeping other servers) and writes the
/// Claude Code skill. Returns the files written.
///
/// # Errors
/// When a file cannot be read or written, or `.mcp.json` is not a JSON object.
pub fn init_claude(project: &Path, server: &serde_json::Value) -> Result<Vec<String>, Error> {
    let mcp = project.join(".mcp.json");
    let mut doc = match std::fs::read_to_string(&mcp) {
        Ok(text) => serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
            Error::Other(format!(
                "{} is not valid JSON ({e}); fix it or move it away, then run again",
                mcp.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => return Err(Error::io(&mcp, e)),
    };
    let Some(obj) = doc.as_object_mut() else {
        return Err(Error::Other(format!(
            "{} must hold a JSON object",
            mcp.display()
        )));
    };
    let servers = obj
        .entry("mcpServers")
        .or_insert_with(|| serde_json::json!({}));
    let Some(servers) = servers.as_object_mut() else {
        return Err(Error::Other(format!(
            "`mcpServers` in {} must be an object",
            mcp.display()
        )));
    };
    servers.insert("maestro".to_string(), server.clone());
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
    std::fs::write(&mcp, text).map_err(|e| Error::io(&mcp, e))?;
    let skill = project.join(".claude/skills/maestro/SKILL.md");
    if let Some(parent) = skill.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(&skill, CLAUDE_SKILL).map_err(|e| Error::io(&skill, e))?;
    Ok(vec![
        ".mcp.json".to_string(),
        ".claude/skills/maestro/SKILL.md".to_string(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_keeps_edits_unless_forced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".maestro");
        let first = init(&dir, false).unwrap();
        assert!(first.written.iter().any(|f| f == "workflows/default.kdl"));
        assert!(first.kept.is_empty());
        let wf = dir.join("workflows/default.kdl");
        std::fs::write(&wf, "// mine\n").unwrap();
        let second = init(&dir, false).unwrap();
        assert_eq!(second.kept, vec!["workflows/default.kdl".to_string()]);
        assert!(second.written.is_empty());
        assert_eq!(std::fs::read_to_string(&wf).unwrap(), "// mine\n");
        let third = init(&dir, true).unwrap();
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
        let server = serde_json::json!({"command": "maestro", "args": ["serve"]});
        init_claude(tmp.path(), &server).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join(".mcp.json")).unwrap())
                .unwrap();
        assert_eq!(doc["mcpServers"]["other"]["command"], "x");
        assert_eq!(doc["mcpServers"]["maestro"]["args"][0], "serve");
        let skill =
            std::fs::read_to_string(tmp.path().join(".claude/skills/maestro/SKILL.md")).unwrap();
        assert!(skill.starts_with("---\nname: maestro\n"));
    }
}
