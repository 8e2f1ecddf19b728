//! Planning a unified diff inside the workspace: every path judged by `confine::writable`,
//! every hunk checked (with a small offset tolerance) against the file, and nothing written
//! (`backup.rs` writes). Error messages show the file's lines only masked, and secret files
//! are refused before they are read, so a patch is never an oracle over a secret.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::confine::{self, Refused};
use super::diff::{self, FilePatch, HunkLine};
use super::mask::mask;

/// How far (in lines) a hunk may have drifted from where its header says.
pub(crate) const OFFSET_TOLERANCE: usize = 40;

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

impl From<Refused> for PatchError {
    fn from(r: Refused) -> Self {
        PatchError::Path {
            path: r.path,
            reason: r.reason,
        }
    }
}

/// How a patch changed a file.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Modified,
    Created,
    Deleted,
    Renamed,
}

impl ChangeKind {
    /// The name used in JSON.
    #[must_use]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Modified => "modified",
            ChangeKind::Created => "created",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Renamed => "renamed",
        }
    }
}

impl std::fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct FileChange {
    pub path: String,
    pub kind: ChangeKind,
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

/// Lines for an error message, masked as one text (so a key block spanning lines is caught)
/// before each gets its `    |` margin.
fn shown(lines: &[&str]) -> String {
    mask(&lines.join("\n"))
        .split('\n')
        .map(|l| format!("    |{l}"))
        .collect::<Vec<_>>()
        .join("\n")
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
                        shown(&old),
                        shown(&have)
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
pub(crate) struct Planned {
    pub change: FileChange,
    /// (path relative to root, new bytes or None for deletion)
    pub writes: Vec<(String, Option<Vec<u8>>)>,
}

/// Parses and checks every hunk against the files; writes nothing.
///
/// # Errors
/// The first refusal: a parse error, a confined path, a binary patch, a hunk that does not
/// match, a new file that exists or a deleted file that does not.
pub(crate) fn plan(root: &Path, diff_text: &str) -> Result<Vec<Planned>, PatchError> {
    let files =
        diff::parse(diff_text).map_err(|e| PatchError::Parse(mask(&e.to_string()).into_owned()))?;
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
            .map(|p| confine::writable(root, p))
            .transpose()?;
        let new_full = fp
            .new_path
            .as_deref()
            .map(|p| confine::writable(root, p))
            .transpose()?;
        let original = match &old_full {
            Some(path) => {
                let bytes = confine::read_nofollow(path).map_err(|_| PatchError::State {
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
            (None, Some(n)) => (ChangeKind::Created, vec![(n.clone(), Some(result.bytes()))]),
            (Some(o), None) => {
                if !result.lines.is_empty() {
                    return Err(PatchError::State {
                        path: o.clone(),
                        reason: "the diff deletes it but does not remove all of its lines".into(),
                    });
                }
                (ChangeKind::Deleted, vec![(o.clone(), None)])
            }
            (Some(o), Some(n)) if o != n => {
                if new_full.as_ref().is_some_and(|p| p.exists()) {
                    return Err(PatchError::State {
                        path: n.clone(),
                        reason: "already exists, but the diff renames a file to it".into(),
                    });
                }
                (
                    ChangeKind::Renamed,
                    vec![(n.clone(), Some(result.bytes())), (o.clone(), None)],
                )
            }
            (Some(o), Some(_)) => (
                ChangeKind::Modified,
                vec![(o.clone(), Some(result.bytes()))],
            ),
            (None, None) => continue,
        };
        out.push(Planned {
            change: FileChange {
                path: fp.path().to_string(),
                kind,
                from: (kind == ChangeKind::Renamed)
                    .then(|| fp.old_path.clone())
                    .flatten(),
                hunks: fp.hunks.len(),
                added,
                removed,
            },
            writes,
        });
    }
    Ok(out)
}
