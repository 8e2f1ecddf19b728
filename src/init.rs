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
}
