//! Packing context for a model: files (paths or globs, `.gitignore` honoured), a git diff
//! (`gitdiff.rs`), facts, errors (long logs summarised, keeping tracebacks and the tail) and
//! constraints, within one character budget. Excerpts carry real line numbers. What may be
//! read is decided by `confine::readable` (secret files, by name or by a link's target, and
//! anything outside the workspace are refused); everything packed is masked. What was
//! refused (secrets, missing files) and what was cut for the budget are reported apart.

use std::fmt::Write as _;
use std::path::Path;

use globset::{Glob, GlobSetBuilder};
use serde::Serialize;

use super::confine;
use super::gitdiff::{self, DiffPacked, DiffSpec};
use super::mask::mask;

/// Why a path must never be packed, if it is a secret store (decided in `confine.rs`).
pub(crate) use super::confine::secret_reason;

/// The default budget of a packed context, in characters.
pub(crate) const DEFAULT_MAX_CHARS: usize = 40_000;

/// What to pack.
#[derive(Debug, Clone, Default)]
pub struct ContextRequest {
    pub files: Vec<String>,
    pub facts: Vec<String>,
    pub errors: Vec<String>,
    pub constraints: Vec<String>,
    pub max_chars: Option<usize>,
    /// A git diff to pack with its changed files' surroundings.
    pub diff: Option<DiffSpec>,
    /// At most this many files (in path order); the rest are reported as cut.
    pub max_files: Option<usize>,
    /// At most this many lines of each file (head and tail kept).
    pub max_lines: Option<usize>,
    /// At most this many lines of each error log (the newest kept).
    pub error_lines: Option<usize>,
}

/// A stage's context budget (`context files= lines= error-lines= chars=`): what packing for
/// that stage may hold. Unset limits fall back to the packing defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub(crate) struct Limits {
    pub chars: Option<usize>,
    pub files: Option<usize>,
    pub lines: Option<usize>,
    pub error_lines: Option<usize>,
}

impl ContextRequest {
    /// Fills the limits the request leaves unset from a stage's budget.
    #[must_use]
    pub(crate) fn within(mut self, l: &Limits) -> Self {
        self.max_chars = self.max_chars.or(l.chars);
        self.max_files = self.max_files.or(l.files);
        self.max_lines = self.max_lines.or(l.lines);
        self.error_lines = self.error_lines.or(l.error_lines);
        self
    }
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

/// A path and why it is not (wholly) in the packed text.
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
    /// Files packed, whole or cut (`truncated`).
    pub included: Vec<Included>,
    /// What may not be packed: secret and control files, missing files, bad globs, a diff
    /// git could not produce (path `diff`).
    pub refused: Vec<Refusal>,
    /// What did not fit the budget: files and diffs cut or left out.
    pub cut: Vec<Refusal>,
    /// The diff packed, when one was asked for and git produced it.
    pub diff: Option<DiffPacked>,
}

impl Packed {
    /// The packed text, then one line for each path refused or left out for room (a file cut
    /// short is in the text, marked where it was cut): what a model reads.
    #[must_use]
    pub(crate) fn with_omissions(self) -> String {
        let mut text = self.text;
        let left_out = self
            .cut
            .iter()
            .filter(|c| !self.included.iter().any(|i| i.path == c.path));
        for r in self.refused.iter().chain(left_out) {
            let _ = writeln!(text, "(not included: {} — {})", r.path, r.reason);
        }
        text
    }

    /// One line for a person or a model, naming what did not come whole: `packed 3 files (cut
    /// to fit: src/big.rs; left out for room: logs/run.txt); diff (staged) of 2 files, the
    /// enclosing functions whole; refused 1: .env (a secret file: …); 12400 characters`.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        // The diff's own cuts say so in their reason (`gitdiff.rs`).
        let in_diff = |c: &Refusal| c.path == "diff" || c.reason.starts_with("diff ");
        let cut_files: Vec<&str> = self
            .included
            .iter()
            .filter(|i| i.truncated)
            .map(|i| i.path.as_str())
            .collect();
        let left_out: Vec<&str> = self
            .cut
            .iter()
            .filter(|c| !in_diff(c) && !self.included.iter().any(|i| i.path == c.path))
            .map(|c| c.path.as_str())
            .collect();
        if !self.included.is_empty() || !left_out.is_empty() {
            let mut s = format!("packed {}", count(self.included.len(), "file"));
            let mut notes = Vec::new();
            if !cut_files.is_empty() {
                notes.push(format!("cut to fit: {}", some_of(&cut_files)));
            }
            if !left_out.is_empty() {
                notes.push(format!("left out for room: {}", some_of(&left_out)));
            }
            if !notes.is_empty() {
                let _ = write!(s, " ({})", notes.join(", "));
            }
            parts.push(s);
        }
        if let Some(d) = &self.diff {
            let mut s = format!("diff ({}) of {}", d.spec, count(d.files.len(), "file"));
            if !d.files.is_empty() {
                let _ = write!(s, ", {}", gitdiff::describe_context(&d.context));
            }
            let diff_cut = self.cut.iter().filter(|c| in_diff(c)).count();
            if diff_cut > 0 {
                let _ = write!(s, ", {diff_cut} cut to fit");
            }
            parts.push(s);
        } else if self.cut.iter().any(|c| c.path == "diff") {
            parts.push("diff left out for room".into());
        }
        if !self.refused.is_empty() {
            let shown: Vec<String> = self
                .refused
                .iter()
                .take(5)
                .map(|r| format!("{} ({})", r.path, r.reason))
                .collect();
            let more = self.refused.len().saturating_sub(shown.len());
            let mut s = format!("refused {}: {}", self.refused.len(), shown.join("; "));
            if more > 0 {
                let _ = write!(s, "; and {more} more");
            }
            parts.push(s);
        }
        if parts.is_empty() {
            parts.push("nothing packed".into());
        }
        format!("{}; {} characters", parts.join("; "), self.chars)
    }
}

/// Up to five names, then how many more: a summary line stays one line.
fn some_of(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut s = names[..names.len().min(SHOWN)].join(", ");
    if names.len() > SHOWN {
        let _ = write!(s, " and {} more", names.len() - SHOWN);
    }
    s
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
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
pub(crate) fn summarize_log(log: &str, max_chars: usize) -> String {
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

/// The last `n` lines of `log`, saying how many went before.
fn newest_lines(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    if lines.len() <= n {
        return log.to_string();
    }
    let skip = lines.len() - n;
    let mut out = format!("[… {skip} earlier lines elided …]\n");
    for l in &lines[skip..] {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// An excerpt of `text` with line numbers, within `budget` characters and `max_lines` lines:
/// the head (two thirds) and the tail when it does not fit.
fn excerpt(text: &str, budget: usize, max_lines: usize) -> (String, usize, usize, usize, bool) {
    let lines: Vec<&str> = text.lines().collect();
    let total = lines.len();
    let numbered = |i: usize| format!("{:>5} | {}\n", i + 1, lines[i]);
    let whole: usize = lines.iter().map(|l| l.chars().count() + 8).sum();
    if whole <= budget && total <= max_lines {
        let s: String = (0..total).map(numbered).collect();
        return (s, 1, total.max(1), total, false);
    }
    let head_lines = max_lines.saturating_mul(2).div_ceil(3).min(max_lines);
    let tail_lines = max_lines - head_lines;
    let mut head = String::new();
    let mut i = 0;
    while i < total
        && i < head_lines
        && head.chars().count() + lines[i].chars().count() + 8 < budget * 2 / 3
    {
        head.push_str(&numbered(i));
        i += 1;
    }
    let mut tail: Vec<String> = Vec::new();
    let mut used = 0;
    let mut j = total;
    while j > i && total - j < tail_lines && used + lines[j - 1].chars().count() + 8 < budget / 3 {
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

/// Packs the request. Never fails: problems are listed in `refused`, what did not fit in `cut`.
#[must_use]
pub fn pack(root: &Path, req: &ContextRequest) -> Packed {
    let max = req.max_chars.unwrap_or(DEFAULT_MAX_CHARS).max(200);
    let mut refused = Vec::new();
    let mut cut = Vec::new();
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
            let log = summarize_log(e, share);
            text.push_str(&match req.error_lines {
                Some(n) => newest_lines(&log, n),
                None => log,
            });
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("```\n");
        }
        text.push('\n');
    }
    let root_real = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut readable = read_files(&root_real, &req.files, &mut refused);
    if let Some(n) = req.max_files.filter(|&n| readable.len() > n) {
        for (rel, _) in readable.split_off(n) {
            cut.push(Refusal {
                path: rel,
                reason: format!("left out: this stage packs at most {n} files"),
            });
        }
    }
    let mut diff = None;
    if let Some(spec) = &req.diff {
        let left = max.saturating_sub(text.chars().count());
        // The diff is what is under review: it takes two thirds of what is left when files
        // come too (and the files get whatever it leaves unused), all of it otherwise.
        let share = if readable.is_empty() {
            left
        } else {
            left * 2 / 3
        };
        let section = gitdiff::pack(&root_real, spec, share);
        text.push_str(&section.text);
        refused.extend(section.refused);
        cut.extend(section.cut);
        diff = section.packed;
    }
    let left = max.saturating_sub(text.chars().count());
    let lines = req.max_lines.unwrap_or(usize::MAX).max(1);
    let included = pack_files(&readable, left, max, lines, &mut text, &mut cut);
    let text = mask(&text).into_owned();
    Packed {
        chars: text.chars().count(),
        text,
        included,
        refused,
        cut,
        diff,
    }
}

/// The files asked for that may be read, with their text; the others go to `refused`.
fn read_files(root: &Path, specs: &[String], refused: &mut Vec<Refusal>) -> Vec<(String, String)> {
    let mut readable = Vec::new();
    for rel in resolve(root, specs, refused) {
        let path = match confine::readable(root, &rel) {
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
    readable
}

/// A file is not shown in fewer characters than this: it is left out instead.
const MIN_FILE_CHARS: usize = 120;

/// Appends the files to `text` within `left` characters, in path order. Small files come
/// whole; the room they leave is shared by the larger ones, which are cut (head and tail
/// kept) when it is not enough, and left out when their share falls below
/// [`MIN_FILE_CHARS`].
fn pack_files(
    files: &[(String, String)],
    left: usize,
    max: usize,
    max_lines: usize,
    text: &mut String,
    cut: &mut Vec<Refusal>,
) -> Vec<Included> {
    let header = |rel: &str| format!("## {rel}\n```\n");
    // What each file takes whole: its header, numbered lines and closing fence.
    let need: Vec<usize> = files
        .iter()
        .map(|(rel, content)| {
            header(rel).len()
                + 5
                + content
                    .lines()
                    .map(|l| l.chars().count() + 8)
                    .sum::<usize>()
        })
        .collect();
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| need[i]);
    let mut share = vec![0; files.len()];
    let mut room = left;
    for (k, &i) in order.iter().enumerate() {
        let s = need[i].min(room / (files.len() - k));
        share[i] = s;
        room -= s;
    }
    let mut included = Vec::new();
    for (i, (rel, content)) in files.iter().enumerate() {
        if share[i] < MIN_FILE_CHARS.min(need[i]) {
            cut.push(Refusal {
                path: rel.clone(),
                reason: format!("left out: no room left in the {max}-character budget"),
            });
            continue;
        }
        let head = header(rel);
        let (body, first, last, total, truncated) =
            excerpt(content, share[i].saturating_sub(head.len() + 5), max_lines);
        text.push_str(&head);
        text.push_str(&body);
        text.push_str("```\n\n");
        if truncated {
            cut.push(Refusal {
                path: rel.clone(),
                reason: format!("cut to fit: the head and the tail of its {total} lines shown"),
            });
        }
        included.push(Included {
            path: rel.clone(),
            first_line: first,
            last_line: last,
            total_lines: total,
            truncated,
        });
    }
    included
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_the_files_left_out_for_room() {
        let dir = tempfile::tempdir().unwrap();
        let body: String = (1..=40).map(|i| format!("line {i} of a file\n")).collect();
        // Twelve files in 1,200 characters: each share is under the smallest useful part.
        for i in 10..=21 {
            std::fs::write(dir.path().join(format!("f{i}.txt")), &body).unwrap();
        }
        let p = pack(
            dir.path(),
            &ContextRequest {
                files: vec!["*.txt".into()],
                max_chars: Some(1_200),
                ..ContextRequest::default()
            },
        );
        let summary = p.summary();
        let left: Vec<&str> = p
            .cut
            .iter()
            .filter(|c| !p.included.iter().any(|i| i.path == c.path))
            .map(|c| c.path.as_str())
            .collect();
        assert!(left.len() > 5, "{p:?}");
        assert!(
            summary.contains(&format!(
                "left out for room: {} and {} more",
                left[..5].join(", "),
                left.len() - 5
            )),
            "{summary}"
        );
    }

    #[test]
    fn a_stages_limits_bound_files_lines_and_error_lines() {
        let dir = tempfile::tempdir().unwrap();
        for (name, lines) in [("a.py", 50), ("b.py", 10), ("c.py", 10)] {
            let text: String = (1..=lines).map(|i| format!("line {i}\n")).collect();
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let log: String = (1..=40).map(|i| format!("step {i}\n")).collect();
        let req = ContextRequest {
            files: vec!["*.py".into()],
            errors: vec![log],
            ..ContextRequest::default()
        }
        .within(&Limits {
            chars: Some(20_000),
            files: Some(2),
            lines: Some(12),
            error_lines: Some(5),
        });
        let p = pack(dir.path(), &req);
        let paths: Vec<&str> = p.included.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["a.py", "b.py"], "at most two files, in path order");
        assert!(
            p.cut
                .iter()
                .any(|c| c.path == "c.py" && c.reason.contains("at most 2 files")),
            "{:?}",
            p.cut
        );
        let a = &p.included[0];
        assert!(a.truncated, "50 lines do not fit a 12-line limit");
        assert!(p.text.contains("line 50\n"));
        assert!(
            p.text.contains("[… lines 9–46 omitted …]"),
            "head 8, tail 4: {}",
            p.text
        );
        assert!(!p.included[1].truncated, "10 lines fit");
        assert!(p.text.contains("step 40") && !p.text.contains("step 35\n"));
        assert!(
            p.text.contains("[… 35 earlier lines elided …]"),
            "{}",
            p.text
        );
    }

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
