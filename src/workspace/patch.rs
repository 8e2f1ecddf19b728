//! Applying a unified diff inside the workspace: every hunk checked (with a small offset
//! tolerance) before anything is written, a backup first, then all files or none.
//! Paths are confined to the workspace root: no absolute paths, no `..`, nothing under
//! `.git/`, no symlink that leads outside.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::diff::{self, FilePatch, HunkLine};

/// How far (in lines) a hunk may have drifted from where its header says.
pub const OFFSET_TOLERANCE: usize = 40;

/// Why a patch was refused. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("the diff does not parse: {0}")]
    Parse(String),
    #[error("the diff changes no file")]
    Empty,
    #[error("`{path}` is refused: {reason}")]
    Path { path: String, reason: String },
    #[error("`{0}` is a binary patch; only text diffs are applied")]
    Binary(String),
    #[error("`{path}`: hunk {hunk} does not match the file{detail}")]
    Mismatch {
        path: String,
        hunk: usize,
        /// The lines that were expected and what the file has there.
        detail: String,
    },
    #[error("`{path}`: {reason}")]
    State { path: String, reason: String },
    #[error("{0}")]
    Io(String),
}

/// What happened to one file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct FileChange {
    pub path: String,
    /// `modified`, `created`, `deleted` or `renamed`.
    pub kind: String,
    /// For a rename: the old path.
    pub from: Option<String>,
    pub hunks: usize,
    pub added: usize,
    pub removed: usize,
}

/// A file's lines: text without `\n` (a CRLF file's `\r` stays), and whether the last line
/// ends with a newline.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lines {
    lines: Vec<String>,
    final_newline: bool,
}

impl Lines {
    fn read(bytes: &[u8], path: &str) -> Result<Lines, PatchError> {
        let text = std::str::from_utf8(bytes).map_err(|_| PatchError::State {
            path: path.into(),
            reason: "is not UTF-8 text".into(),
        })?;
        if text.is_empty() {
            return Ok(Lines {
                lines: Vec::new(),
                final_newline: true,
            });
        }
        let final_newline = text.ends_with('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        Ok(Lines {
            lines: body.split('\n').map(str::to_string).collect(),
            final_newline,
        })
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = self.lines.join("\n");
        if !self.lines.is_empty() && self.final_newline {
            out.push('\n');
        }
        out.into_bytes()
    }
}

/// Checks that `rel` names a place inside `root` that may be written.
///
/// # Errors
/// Absolute paths, `..`, `.git/`, and symlinks (in the path or at it) that leave the root.
pub fn confine(root: &Path, rel: &str) -> Result<PathBuf, PatchError> {
    let refuse = |reason: &str| PatchError::Path {
        path: rel.to_string(),
        reason: reason.to_string(),
    };
    let p = Path::new(rel);
    if rel.is_empty() || p.is_absolute() {
        return Err(refuse(
            "absolute or empty paths are not allowed; use a path relative to the workspace",
        ));
    }
    for c in p.components() {
        match c {
            Component::Normal(s) if s == ".git" => {
                return Err(refuse("nothing under .git/ may be changed"));
            }
            Component::Normal(_) | Component::CurDir => {}
            _ => return Err(refuse("`..` and prefixes are not allowed")),
        }
    }
    let root = root
        .canonicalize()
        .map_err(|e| PatchError::Io(format!("workspace root {}: {e}", root.display())))?;
    let full = root.join(p);
    if full
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        return Err(refuse(
            "it is a symbolic link; change the file it points to instead",
        ));
    }
    // The deepest existing ancestor, with symlinks resolved, must stay inside the root.
    let mut probe = full.parent().map(Path::to_path_buf);
    while let Some(dir) = probe {
        if dir.exists() {
            let real = dir
                .canonicalize()
                .map_err(|e| PatchError::Io(e.to_string()))?;
            if !real.starts_with(&root) {
                return Err(refuse(
                    "a symbolic link in the path leads outside the workspace",
                ));
            }
            break;
        }
        probe = dir.parent().map(Path::to_path_buf);
    }
    Ok(full)
}

/// Applies one file's hunks to its lines.
fn apply_hunks(fp: &FilePatch, mut file: Lines) -> Result<(Lines, usize, usize), PatchError> {
    let path = fp.path().to_string();
    let mut delta: isize = 0;
    let mut removed = 0;
    for (n, h) in fp.hunks.iter().enumerate() {
        let old: Vec<&str> = h
            .lines
            .iter()
            .filter_map(|l| match l {
                HunkLine::Context(t, _) | HunkLine::Remove(t, _) => Some(t.as_str()),
                HunkLine::Add(..) => None,
            })
            .collect();
        let new: Vec<String> = h
            .lines
            .iter()
            .filter_map(|l| match l {
                HunkLine::Context(t, _) | HunkLine::Add(t, _) => Some(t.clone()),
                HunkLine::Remove(..) => None,
            })
            .collect();
        let new_ends_without_nl = h.lines.iter().rev().find_map(|l| match l {
            HunkLine::Context(_, nl) | HunkLine::Add(_, nl) => Some(!*nl),
            HunkLine::Remove(..) => None,
        });
        let want = if h.old_len == 0 {
            h.old_start
        } else {
            h.old_start.saturating_sub(1)
        };
        let want = usize::try_from(isize::try_from(want).unwrap_or(0) + delta).unwrap_or(0);
        let fits = |at: usize| {
            at + old.len() <= file.lines.len()
                && file.lines[at..at + old.len()]
                    .iter()
                    .zip(&old)
                    .all(|(a, b)| a == b)
        };
        let at = (0..=OFFSET_TOLERANCE)
            .flat_map(|d| [want.checked_add(d), want.checked_sub(d)])
            .flatten()
            .find(|&at| fits(at))
            .ok_or_else(|| {
                let have: Vec<&str> = file
                    .lines
                    .iter()
                    .skip(want)
                    .take(old.len().max(1))
                    .map(String::as_str)
                    .collect();
                PatchError::Mismatch {
                    path: path.clone(),
                    hunk: n + 1,
                    detail: format!(
                        " near line {}:\n  expected:\n{}\n  found:\n{}",
                        want + 1,
                        old.iter()
                            .map(|l| format!("    |{l}"))
                            .collect::<Vec<_>>()
                            .join("\n"),
                        have.iter()
                            .map(|l| format!("    |{l}"))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ),
                }
            })?;
        let touches_end = at + old.len() == file.lines.len();
        removed += h
            .lines
            .iter()
            .filter(|l| matches!(l, HunkLine::Remove(..)))
            .count();
        let new_len = new.len();
        file.lines.splice(at..at + old.len(), new);
        if touches_end && let Some(no_nl) = new_ends_without_nl {
            file.final_newline = !no_nl;
        }
        delta += isize::try_from(new_len).unwrap_or(0) - isize::try_from(old.len()).unwrap_or(0);
    }
    let added = fp
        .hunks
        .iter()
        .flat_map(|h| &h.lines)
        .filter(|l| matches!(l, HunkLine::Add(..)))
        .count();
    Ok((file, added, removed))
}

/// One planned write: what the file becomes (`None`: removed).
#[derive(Debug, Clone)]
pub struct Planned {
    pub change: FileChange,
    /// (path relative to root, new bytes or None for deletion)
    pub writes: Vec<(String, Option<Vec<u8>>)>,
}

/// Parses and checks every hunk against the files; writes nothing.
///
/// # Errors
/// The first refusal: a parse error, a confined path, a binary patch, a hunk that does not
/// match, a new file that exists or a deleted file that does not.
pub fn plan(root: &Path, diff_text: &str) -> Result<Vec<Planned>, PatchError> {
    let files = diff::parse(diff_text).map_err(|e| PatchError::Parse(e.to_string()))?;
    if files.is_empty() {
        return Err(PatchError::Empty);
    }
    let mut out = Vec::new();
    for fp in &files {
        if fp.binary {
            return Err(PatchError::Binary(fp.path().to_string()));
        }
        let old_full = fp
            .old_path
            .as_deref()
            .map(|p| confine(root, p))
            .transpose()?;
        let new_full = fp
            .new_path
            .as_deref()
            .map(|p| confine(root, p))
            .transpose()?;
        let original = match &old_full {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|_| PatchError::State {
                    path: fp.old_path.clone().unwrap_or_default(),
                    reason: "does not exist in the workspace".into(),
                })?;
                Lines::read(&bytes, fp.path())?
            }
            None => Lines {
                lines: Vec::new(),
                final_newline: true,
            },
        };
        if old_full.is_none()
            && let Some(n) = &new_full
            && n.exists()
        {
            return Err(PatchError::State {
                path: fp.path().into(),
                reason: "already exists, but the diff creates it".into(),
            });
        }
        let (result, added, removed) = apply_hunks(fp, original)?;
        let (kind, writes) = match (&fp.old_path, &fp.new_path) {
            (None, Some(n)) => ("created", vec![(n.clone(), Some(result.bytes()))]),
            (Some(o), None) => {
                if !result.lines.is_empty() {
                    return Err(PatchError::State {
                        path: o.clone(),
                        reason: "the diff deletes it but does not remove all of its lines".into(),
                    });
                }
                ("deleted", vec![(o.clone(), None)])
            }
            (Some(o), Some(n)) if o != n => {
                if new_full.as_ref().is_some_and(|p| p.exists()) {
                    return Err(PatchError::State {
                        path: n.clone(),
                        reason: "already exists, but the diff renames a file to it".into(),
                    });
                }
                (
                    "renamed",
                    vec![(n.clone(), Some(result.bytes())), (o.clone(), None)],
                )
            }
            (Some(o), Some(_)) => ("modified", vec![(o.clone(), Some(result.bytes()))]),
            (None, None) => continue,
        };
        out.push(Planned {
            change: FileChange {
                path: fp.path().to_string(),
                kind: kind.into(),
                from: (kind == "renamed").then(|| fp.old_path.clone()).flatten(),
                hunks: fp.hunks.len(),
                added,
                removed,
            },
            writes,
        });
    }
    Ok(out)
}

/// Writes `bytes` to `path` through a temporary file in the same directory, then renames it.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_file_name(format!(
        ".{}.maestro-tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    std::fs::write(&tmp, bytes)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path)
}
