//! Applying planned patches atomically after a backup, and restoring a backup.
//! Backups live in `.maestro/backups/<id>/` with a manifest of what the patch touched.
//! Every workspace path is judged by `confine::writable` (again at restore: a manifest is a
//! file on disk, not a promise); the backup folder itself is maestro's own, reached through
//! `confine::internal`, and no write here follows a link.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::confine::{self, internal, read_nofollow, write_atomic, write_new};
use super::patch::{FileChange, PatchError, plan};

/// One touched path and whether it existed before the patch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Entry {
    pub path: String,
    pub existed: bool,
}

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Manifest {
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

/// `.maestro/backups/<id>/<parts…>`, with no link on the way.
fn backup_path(root: &Path, id: &str, parts: &[&str]) -> Result<PathBuf, PatchError> {
    let mut all = vec!["backups", id];
    all.extend_from_slice(parts);
    Ok(internal(root, &all)?)
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
    // Judge every path again before the first byte is written.
    let targets = planned
        .iter()
        .flat_map(|p| &p.writes)
        .map(|(rel, bytes)| Ok((rel, bytes, confine::writable(root, rel)?)))
        .collect::<Result<Vec<_>, PatchError>>()?;
    let id = crate::ids::new_id("bk");
    let dir = backup_path(root, &id, &[])?;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    // A fresh folder: nothing in it can have been planted.
    std::fs::create_dir(&dir).map_err(io)?;
    let mut entries = Vec::new();
    for (rel, _, full) in &targets {
        // A diff that names a file twice is backed up once, as it was before the patch.
        if entries.iter().any(|e: &Entry| &e.path == *rel) {
            continue;
        }
        let existed = full.is_file();
        if existed {
            let bytes = read_nofollow(full).map_err(io)?;
            write_new(&backup_path(root, &id, &["files", rel])?, &bytes).map_err(io)?;
        }
        entries.push(Entry {
            path: (*rel).clone(),
            existed,
        });
    }
    let manifest = Manifest {
        id: id.clone(),
        created_at: crate::ids::now_ms(),
        changes: files.clone(),
        entries,
    };
    write_new(
        &backup_path(root, &id, &["manifest.json"])?,
        &serde_json::to_vec_pretty(&manifest).map_err(io)?,
    )
    .map_err(io)?;
    for (rel, bytes, full) in &targets {
        let result = match bytes {
            Some(b) => write_atomic(full, b),
            None => std::fs::remove_file(full),
        };
        if let Err(e) = result {
            return Err(PatchError::Io(match restore(root, &id, None) {
                Ok(_) => {
                    format!("writing {rel} failed ({e}); every file was put back from backup {id}")
                }
                Err(r) => {
                    tracing::error!("restoring backup {id} after a failed write failed: {r}");
                    format!(
                        "writing {rel} failed ({e}), and putting the files back failed too ({r}); \
                         restore them with `restore` and backup {id}"
                    )
                }
            }));
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
pub(crate) fn valid_id(id: &str) -> bool {
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
    let manifest_path = backup_path(root, id, &["manifest.json"])?;
    let manifest: Manifest = match read_nofollow(&manifest_path) {
        Err(_) => {
            return Err(PatchError::State {
                path: id.into(),
                reason: "no such backup in .maestro/backups/".into(),
            });
        }
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| PatchError::State {
            path: id.into(),
            // serde quotes what it could not read; a hostile manifest could hold anything.
            reason: format!(
                "its manifest in .maestro/backups/{id}/ is damaged ({}); nothing was restored",
                super::mask::mask(&e.to_string())
            ),
        })?,
    };
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
    let chosen: Vec<&Entry> = manifest
        .entries
        .iter()
        .filter(|e| files.is_none_or(|w| w.contains(&e.path)))
        .collect();
    // Every path is judged before anything is put back: all or nothing.
    let targets = chosen
        .iter()
        .map(|e| Ok((*e, confine::writable(root, &e.path)?)))
        .collect::<Result<Vec<_>, PatchError>>()?;
    let mut report = RestoreReport {
        backup_id: id.into(),
        restored: Vec::new(),
        removed: Vec::new(),
    };
    for (e, full) in targets {
        if e.existed {
            let bytes = read_nofollow(&backup_path(root, id, &["files", &e.path])?).map_err(io)?;
            write_atomic(&full, &bytes).map_err(io)?;
            report.restored.push(e.path.clone());
        } else if full.symlink_metadata().is_ok() {
            std::fs::remove_file(&full).map_err(io)?;
            report.removed.push(e.path.clone());
        }
    }
    Ok(report)
}
