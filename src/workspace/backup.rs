//! Applying planned patches atomically after a backup, and restoring a backup.
//! Backups live in `.maestro/backups/<id>/` with a manifest of what the patch touched.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::patch::{FileChange, PatchError, confine, plan, write_atomic};

/// One touched path and whether it existed before the patch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub existed: bool,
}

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub id: String,
    pub created_at: i64,
    pub changes: Vec<FileChange>,
    pub entries: Vec<Entry>,
}

/// What `patch` did (or, dry, would do).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct PatchReport {
    pub dry_run: bool,
    /// Pass this to `restore` to take the patch back.
    pub backup_id: Option<String>,
    pub files: Vec<FileChange>,
}

/// What `restore` put back.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct RestoreReport {
    pub backup_id: String,
    pub restored: Vec<String>,
    /// Files the patch had created, now removed.
    pub removed: Vec<String>,
}

fn backups(root: &Path) -> PathBuf {
    root.join(".maestro").join("backups")
}

fn io(e: impl std::fmt::Display) -> PatchError {
    PatchError::Io(e.to_string())
}

/// Checks every hunk, backs up what will change, then writes all files or none.
///
/// # Errors
/// Any refusal from planning (nothing written), or an I/O failure (rolled back).
pub fn apply(root: &Path, diff_text: &str, dry_run: bool) -> Result<PatchReport, PatchError> {
    let planned = plan(root, diff_text)?;
    let files: Vec<FileChange> = planned.iter().map(|p| p.change.clone()).collect();
    if dry_run {
        return Ok(PatchReport {
            dry_run: true,
            backup_id: None,
            files,
        });
    }
    let id = crate::store::new_id("bk");
    let dir = backups(root).join(&id);
    let mut entries = Vec::new();
    for (rel, _) in planned.iter().flat_map(|p| &p.writes) {
        let full = confine(root, rel)?;
        let existed = full.is_file();
        if existed {
            let copy = dir.join("files").join(rel);
            if let Some(parent) = copy.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::copy(&full, &copy).map_err(io)?;
        }
        entries.push(Entry {
            path: rel.clone(),
            existed,
        });
    }
    let manifest = Manifest {
        id: id.clone(),
        created_at: crate::store::now_ms(),
        changes: files.clone(),
        entries,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).map_err(io)?,
    )
    .map_err(io)?;
    for (rel, bytes) in planned.iter().flat_map(|p| &p.writes) {
        let full = confine(root, rel)?;
        let result = match bytes {
            Some(b) => write_atomic(&full, b),
            None => std::fs::remove_file(&full),
        };
        if let Err(e) = result {
            let _ = restore(root, &id, None);
            return Err(PatchError::Io(format!(
                "writing {rel} failed ({e}); every file was put back from backup {id}"
            )));
        }
    }
    Ok(PatchReport {
        dry_run: false,
        backup_id: Some(id),
        files,
    })
}

/// Whether `id` has the shape of a backup id (and so cannot name another folder).
#[must_use]
pub fn valid_id(id: &str) -> bool {
    id.strip_prefix("bk-").is_some_and(|rest| {
        rest.len() == 10
            && rest
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    })
}

/// Puts back what a patch changed and removes what it created; only `files` when given.
///
/// # Errors
/// An invalid or unknown backup id, a file not in the backup, or an I/O failure.
pub fn restore(
    root: &Path,
    id: &str,
    files: Option<&[String]>,
) -> Result<RestoreReport, PatchError> {
    if !valid_id(id) {
        return Err(PatchError::State {
            path: id.into(),
            reason: "is not a backup id (they look like bk-0a1b2c3d4e, from `patch`)".into(),
        });
    }
    let dir = backups(root).join(id);
    let manifest: Manifest = std::fs::read(dir.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| PatchError::State {
            path: id.into(),
            reason: "no such backup in .maestro/backups/".into(),
        })?;
    if let Some(wanted) = files
        && let Some(missing) = wanted
            .iter()
            .find(|w| !manifest.entries.iter().any(|e| &e.path == *w))
    {
        return Err(PatchError::State {
            path: missing.clone(),
            reason: format!("backup {id} does not hold it"),
        });
    }
    let mut report = RestoreReport {
        backup_id: id.into(),
        restored: Vec::new(),
        removed: Vec::new(),
    };
    for e in &manifest.entries {
        if files.is_some_and(|w| !w.contains(&e.path)) {
            continue;
        }
        let full = confine(root, &e.path)?;
        if e.existed {
            let bytes = std::fs::read(dir.join("files").join(&e.path)).map_err(io)?;
            write_atomic(&full, &bytes).map_err(io)?;
            report.restored.push(e.path.clone());
        } else if full.exists() {
            std::fs::remove_file(&full).map_err(io)?;
            report.removed.push(e.path.clone());
        }
    }
    Ok(report)
}
