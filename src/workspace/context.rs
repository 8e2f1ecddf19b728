//! Packing context for a model: files (paths or globs, `.gitignore` honoured), facts, errors
//! (long logs summarised, keeping tracebacks and the tail) and constraints, within a character
//! budget. Excerpts carry real line numbers. What may be read is decided by
//! `confine::readable` (secret files, by name or by a link's target, and anything outside the
//! workspace are refused); everything packed is masked.

use std::fmt::Write as _;
use std::path::Path;

use globset::{Glob, GlobSetBuilder};
use serde::Serialize;

use super::confine;
use super::mask::mask;

/// Why a path must never be packed, if it is a secret store (decided in `confine.rs`).
pub use super::confine::secret_reason;

/// The default budget of a packed context, in characters.
pub const DEFAULT_MAX_CHARS: usize = 40_000;

/// What to pack.
#[derive(Debug, Clone, Default)]
pub struct ContextRequest {
    pub files: Vec<String>,
    pub facts: Vec<String>,
    pub errors: Vec<String>,
    pub constraints: Vec<String>,
    pub max_chars: Option<usize>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Included {
    pub path: String,
    /// First and last line shown (1-based).
    pub first_line: usize,
    pub last_line: usize,
    pub total_lines: usize,
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Refusal {
    pub path: String,
    pub reason: String,
}

/// The packed text and what went into it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Packed {
    pub text: String,
    pub chars: usize,
    pub included: Vec<Included>,
    pub refused: Vec<Refusal>,
}

fn relative(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// The requested paths and the files the globs match, relative to the root. Whether each may
/// be read is decided later, by `confine::readable`.
fn resolve(root: &Path, specs: &[String], refused: &mut Vec<Refusal>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut globs = GlobSetBuilder::new();
    let mut any_glob = false;
    for spec in specs {
        if spec.contains(['*', '?', '[']) {
            match Glob::new(spec) {
                Ok(g) => {
                    globs.add(g);
                    any_glob = true;
                }
                Err(e) => refused.push(Refusal {
                    path: spec.clone(),
                    reason: format!("not a valid glob: {e}"),
                }),
            }
        } else {
            out.push(spec.clone());
        }
    }
    if any_glob && let Ok(set) = globs.build() {
        for entry in ignore::WalkBuilder::new(root)
            .hidden(false)
            .build()
            .flatten()
        {
            let path = entry.path();
            // Not worth walking into; `readable` refuses what is under `.git/` anyway.
            if path.components().any(|c| c.as_os_str() == ".git") || !path.is_file() {
                continue;
            }
            let rel = relative(root, path);
            if set.is_match(&rel) {
                out.push(rel);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Keeps tracebacks, panics and error lines plus the tail of a long log.
#[must_use]
pub fn summarize_log(log: &str, max_chars: usize) -> String {
    if log.chars().count() <= max_chars {
        return log.to_string();
    }
    let lines: Vec<&str> = log.lines().collect();
    let tail_from = lines.len().saturating_sub(30);
    let important = |l: &str| {
        let t = l.trim_start();
        t.starts_with("Traceback")
            || t.starts_with("File \"")
            || t.contains("panicked at")
            || t.starts_with("error")
            || t.starts_with("Error")
            || t.contains("Exception")
            || t.starts_with("at ")
            || t.starts_with("--> ")
    };
    let mut out = String::new();
    let mut elided = 0;
    for (i, l) in lines.iter().enumerate() {
        if i >= tail_from || important(l) {
            if elided > 0 {
                let _ = writeln!(out, "[… {elided} lines elided …]");
                elided = 0;
            }
            out.push_str(l);
            out.push('\n');
        } else {
            elided += 1;
        }
    }
    if out.chars().count() > max_chars {
        let skip = out.chars().count() - max_chars;
        out = format!(
            "[… {skip} characters elided …]\n{}",
            out.chars().skip(skip).collect::<String>()
        );
    }
    out
}

/// An excerpt of `text` with line numbers, within `budget` characters: the head and the
/// tail when it does not fit.
fn excerpt(text: &str, budget: usize) -> (String, usize, usize, usize, bool) {
    let lines: Vec<&str> = text.lines().collect();
    let total = lines.len();
    let numbered = |i: usize| format!("{:>5} | {}\n", i + 1, lines[i]);
    let whole: usize = lines.iter().map(|l| l.chars().count() + 8).sum();
    if whole <= budget {
        let s: String = (0..total).map(numbered).collect();
        return (s, 1, total.max(1), total, false);
    }
    let mut head = String::new();
    let mut i = 0;
    while i < total && head.chars().count() + lines[i].chars().count() + 8 < budget * 2 / 3 {
        head.push_str(&numbered(i));
        i += 1;
    }
    let mut tail: Vec<String> = Vec::new();
    let mut used = 0;
    let mut j = total;
    while j > i && used + lines[j - 1].chars().count() + 8 < budget / 3 {
        j -= 1;
        used += lines[j].chars().count() + 8;
        tail.push(numbered(j));
    }
    tail.reverse();
    let mut s = head;
    if j > i {
        let _ = writeln!(s, "      [… lines {}–{} omitted …]", i + 1, j);
    }
    s.extend(tail);
    (s, 1, total, total, true)
}

/// Packs the request. Never fails: problems are listed in `refused`.
#[must_use]
pub fn pack(root: &Path, req: &ContextRequest) -> Packed {
    let max = req.max_chars.unwrap_or(DEFAULT_MAX_CHARS).max(200);
    let mut refused = Vec::new();
    let mut text = String::new();
    for (head, items) in [("Facts", &req.facts), ("Constraints", &req.constraints)] {
        if !items.is_empty() {
            let _ = writeln!(text, "## {head}");
            for i in items {
                let _ = writeln!(text, "- {i}");
            }
            text.push('\n');
        }
    }
    if !req.errors.is_empty() {
        text.push_str("## Errors\n");
        let share = (max / 3) / req.errors.len();
        for e in &req.errors {
            text.push_str("```\n");
            text.push_str(&summarize_log(e, share));
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("```\n");
        }
        text.push('\n');
    }
    let root_real = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut readable = Vec::new();
    for rel in resolve(&root_real, &req.files, &mut refused) {
        let path = match confine::readable(&root_real, &rel) {
            Ok(path) => path,
            Err(r) => {
                refused.push(Refusal {
                    path: rel,
                    reason: r.reason,
                });
                continue;
            }
        };
        match confine::read_nofollow(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(s) => readable.push((rel, s)),
                Err(_) => refused.push(Refusal {
                    path: rel,
                    reason: "not UTF-8 text (binary?)".into(),
                }),
            },
            Err(e) => refused.push(Refusal {
                path: rel,
                reason: e.to_string(),
            }),
        }
    }
    let mut included = Vec::new();
    if !readable.is_empty() {
        let left = max.saturating_sub(text.chars().count());
        let share = left / readable.len();
        for (rel, content) in &readable {
            if share < 120 {
                refused.push(Refusal {
                    path: rel.clone(),
                    reason: format!("no room left in the {max}-character budget"),
                });
                continue;
            }
            let header = format!("## {rel}\n```\n");
            let (body, first, last, total, truncated) =
                excerpt(content, share.saturating_sub(header.len() + 5));
            text.push_str(&header);
            text.push_str(&body);
            text.push_str("```\n\n");
            included.push(Included {
                path: rel.clone(),
                first_line: first,
                last_line: last,
                total_lines: total,
                truncated,
            });
        }
    }
    let text = mask(&text).into_owned();
    Packed {
        chars: text.chars().count(),
        text,
        included,
        refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_logs_keep_tracebacks_and_the_tail() {
        let mut log = String::new();
        for i in 0..500 {
            let _ = writeln!(log, "noise {i}");
        }
        log.push_str("Traceback (most recent call last):\n  File \"a.py\", line 3, in <module>\n");
        for i in 0..500 {
            let _ = writeln!(log, "more {i}");
        }
        log.push_str("ValueError: boom\n");
        let s = summarize_log(&log, 3000);
        assert!(
            s.contains("Traceback")
                && s.contains("File \"a.py\", line 3")
                && s.ends_with("ValueError: boom\n")
        );
        assert!(s.contains("lines elided"));
        assert!(s.chars().count() <= 3100);
    }
}
