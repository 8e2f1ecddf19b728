//! The git diff a consult carries: which diff ([`DiffSpec`]: `staged`, `unstaged`,
//! `base:<ref>`) → one packed section of text, with what it holds and what was refused or cut.
//!
//! Invariants:
//! - Every changed path is judged before any content is read: secret files (by the name asked
//!   for and by a link's target, `confine::readable`), control files (`.maestro/`, `.claude/`,
//!   `.git/`, `.mcp.json`) and files that are not regular files are refused, listed, and kept out
//!   of the diff by exclusion pathspecs, so their content never leaves git.
//! - Renames are off: a secret file moved to an innocent name shows as its own deletion (refused
//!   by its name) and the new file's addition, never as a diff against the secret's content.
//! - As much of the changed files' surroundings as fits the budget: whole functions, then 20
//!   lines, then 3, then each file's diff cut, the largest first.
//! - `git` runs as a plain subprocess in the workspace root that can start no other program
//!   and wait for no person, whatever the repository, the user's git config or maestro's
//!   environment say (pager, filters, hooks, fsmonitor, external diff drivers, textconv,
//!   submodules, lazy fetch and every transport, prompts: `git.rs` lists them), under a time
//!   limit and an output cap. Git missing, not a repository, an unknown ref, a blob a partial
//!   clone lacks: a refusal, never a panic and never a fetch.
//! - A workspace below the repository's top sees only its own subtree (`--relative`), with
//!   paths relative to the workspace, as `confine` judges them.
//! - Masking is the caller's (`context::pack` masks the whole packed text).
//!
//! `spec.rs` parses the diff asked for, `git.rs` runs git (`overrides.rs` finds the filter
//! drivers to switch off), `fit.rs` fits the text to the budget; this file decides what is
//! shown.

mod fit;
mod git;
mod overrides;
mod spec;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use serde::Serialize;

use fit::{MIN_FILE_CHARS, cut_to_fit, longest_backtick_run, split};
use git::{Git, GitError};

use super::confine;
use super::context::Refusal;
pub use spec::DiffSpec;
pub(crate) use spec::check_ref;

/// The packed diff, as reported to a caller.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct DiffPacked {
    /// The diff asked for: `staged`, `unstaged` or `base:<ref>`.
    pub spec: DiffSpec,
    /// Files whose diff is shown (whole or cut), in git's order.
    pub files: Vec<String>,
    /// Surroundings shown around each change: `function` (the enclosing functions whole),
    /// `20 lines` or `3 lines`; `none` when there was nothing to show.
    pub context: String,
    /// Some file's diff was cut or left out to fit (listed in `cut`).
    pub truncated: bool,
}

/// The diff section of a packed context.
#[derive(Debug, Clone, Default)]
pub(crate) struct DiffSection {
    /// Markdown: a heading, then the diff in a fence. Not yet masked.
    pub text: String,
    /// `None` when there is no diff at all (git missing, not a repository, a bad ref).
    pub packed: Option<DiffPacked>,
    /// Changed files that may not be shown, and why; or `diff` itself when git failed.
    pub refused: Vec<Refusal>,
    /// Files whose diff was cut or left out for the budget.
    pub cut: Vec<Refusal>,
}

/// Bytes of diff read at most, whatever the budget: beyond this, files are left out.
const MAX_DIFF_BYTES: usize = 32 << 20;
/// Bytes of changed-path list read at most.
const MAX_NAMES_BYTES: usize = 8 << 20;
/// Characters kept for the section's heading and fences.
const FRAME_CHARS: usize = 160;
/// The total length of exclusion pathspecs passed on one command line.
const MAX_EXCLUDE_BYTES: usize = 1 << 20;

/// The widest surroundings first.
const CONTEXTS: [(&str, &str); 3] = [
    ("--function-context", "function"),
    ("-U20", "20 lines"),
    ("-U3", "3 lines"),
];

/// Packs the diff `spec` of the repository around `root` within `budget` characters.
/// Never fails: problems are refusals (path `diff`), never a panic.
#[must_use]
pub(crate) fn pack(root: &Path, spec: &DiffSpec, budget: usize) -> DiffSection {
    let mut out = DiffSection::default();
    let git = match Git::open(root) {
        Ok(g) => g,
        Err(e) => {
            out.refused.push(whole_diff(e.explain(spec)));
            return out;
        }
    };
    if let Err(reason) = probe(&git, spec) {
        out.refused.push(whole_diff(reason));
        return out;
    }
    let changed = match changed_paths(&git, spec) {
        Ok(c) => c,
        Err(reason) => {
            out.refused.push(whole_diff(reason));
            return out;
        }
    };
    let mut excludes: Vec<OsString> = Vec::new();
    for raw in &changed {
        let verdict = match std::str::from_utf8(raw) {
            Ok(rel) => judge(root, rel).map_err(|why| (rel.to_string(), why)),
            Err(_) => Err((
                String::from_utf8_lossy(raw).into_owned(),
                "its name is not UTF-8; rename it to review its diff".to_string(),
            )),
        };
        if let Err((path, reason)) = verdict {
            let mut ex = OsString::from(":(exclude,literal)");
            ex.push(OsStr::from_bytes(raw));
            excludes.push(ex);
            out.refused.push(Refusal { path, reason });
        }
    }
    if excludes.iter().map(|e| e.len() + 1).sum::<usize>() > MAX_EXCLUDE_BYTES {
        out.refused.push(whole_diff(format!(
            "{} changed files are refused, too many to keep out of one diff; name the files to \
             review in `files` instead",
            excludes.len()
        )));
        return out;
    }
    let heading = format!("## Diff ({spec})\n");
    let withheld: Vec<&str> = out.refused.iter().map(|r| r.path.as_str()).collect();
    if changed.len() == excludes.len() {
        out.text = format!("{heading}{}\n\n", nothing_to_show(spec, &withheld));
        out.packed = Some(DiffPacked {
            spec: spec.clone(),
            files: Vec::new(),
            context: "none".into(),
            truncated: false,
        });
        return out;
    }
    let room = budget.saturating_sub(FRAME_CHARS + heading.len());
    if room < MIN_FILE_CHARS {
        out.cut.push(Refusal {
            path: "diff".into(),
            reason: format!("no room left in the budget for the `{spec}` diff"),
        });
        return out;
    }
    let (text, label, capped) = match widest_that_fits(&git, spec, excludes, room) {
        Ok(d) => d,
        Err(reason) => {
            out.refused.push(whole_diff(reason));
            return out;
        }
    };
    let (body, shown, truncated) = cut_to_fit(&split(&text), room, capped, &mut out.cut);
    let mut text = heading;
    text.push_str(&format!(
        "{} file{}, {} around each change{}.\n",
        shown.len(),
        if shown.len() == 1 { "" } else { "s" },
        describe_context(label),
        if truncated { ", cut to fit" } else { "" }
    ));
    if !withheld.is_empty() {
        // The adviser should know a change exists that it cannot see.
        text.push_str(&format!(
            "Withheld (secret or control files): {}.\n",
            withheld.join(", ")
        ));
    }
    let fence = "`".repeat(longest_backtick_run(&body).max(2) + 1);
    text.push_str(&format!("{fence}diff\n{body}"));
    if !body.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{fence}\n\n"));
    out.text = text;
    out.packed = Some(DiffPacked {
        spec: spec.clone(),
        files: shown,
        context: label.into(),
        truncated,
    });
    out
}

/// A refusal of the whole diff.
fn whole_diff(reason: String) -> Refusal {
    Refusal {
        path: "diff".into(),
        reason,
    }
}

/// Whether git can produce the diff at all: a work tree, and for `base:` a commit.
fn probe(git: &Git, spec: &DiffSpec) -> Result<(), String> {
    // Outside a work tree `git diff` compares any two paths it is given (`--no-index`), so
    // nothing else runs until git confirms the workspace is in one.
    let inside = git
        .rev_parse(&args(&["--is-inside-work-tree"]), 64)
        .map_err(|e| e.explain(spec))?;
    if inside.bytes.trim_ascii() != b"true" {
        return Err(
            "the workspace is inside a repository's `.git` folder, not its work tree; \
                    there is no diff to pack"
                .into(),
        );
    }
    let DiffSpec::Base(r) = spec else {
        return Ok(());
    };
    // A ref built by hand (not through `FromStr`) is checked all the same.
    check_ref(r).map_err(|why| format!("`{spec}`: {why}"))?;
    let commit = format!("{r}^{{commit}}");
    match git.rev_parse(&args(&["--verify", "--end-of-options", &commit]), 4096) {
        Ok(_) => Ok(()),
        Err(GitError::Failed(_)) => Err(format!(
            "`{r}` names no commit in this repository; use a branch, tag or commit that exists \
             (see `git branch -a` or `git log --oneline`), e.g. `base:main` or `base:HEAD~1`"
        )),
        Err(e) => Err(e.explain(spec)),
    }
}

fn args(a: &[&str]) -> Vec<OsString> {
    a.iter().map(OsString::from).collect()
}

/// The paths the diff changes, relative to the workspace root, as git names them.
fn changed_paths(git: &Git, spec: &DiffSpec) -> Result<Vec<Vec<u8>>, String> {
    let mut cmd = common_args(spec);
    cmd.extend(args(&["--name-only", "-z", "--"]));
    let o = git
        .diff(&cmd, MAX_NAMES_BYTES)
        .map_err(|e| e.explain(spec))?;
    if o.capped {
        return Err(format!(
            "the `{spec}` diff changes too many files to list; name the ones to review in \
             `files`, or use a nearer base"
        ));
    }
    Ok(o.bytes
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// What the section says when no file's diff can be shown.
fn nothing_to_show(spec: &DiffSpec, withheld: &[&str]) -> String {
    if !withheld.is_empty() {
        return format!(
            "No change left to show: every changed file was withheld (secret or control \
             files): {}.",
            withheld.join(", ")
        );
    }
    match spec {
        DiffSpec::Staged => "No changes: nothing is staged (`git add` stages a change).".into(),
        DiffSpec::Unstaged => "No changes: the working tree matches the index (new files \
                               appear once `git add -N` marks them)."
            .into(),
        DiffSpec::Base(r) => format!("No changes since `{r}`."),
    }
}

/// The diff text with the widest surroundings that fit `room` characters (or the narrowest,
/// to be cut), its context label, and whether git wrote more than was read.
fn widest_that_fits(
    git: &Git,
    spec: &DiffSpec,
    excludes: Vec<OsString>,
    room: usize,
) -> Result<(String, &'static str, bool), String> {
    let mut tail = args(&["--", "."]);
    tail.extend(excludes);
    let run = |flag: &str, cap: usize| {
        let mut a = common_args(spec);
        a.push(flag.into());
        a.extend(tail.iter().cloned());
        git.diff(&a, cap)
            .map(|o| (String::from_utf8_lossy(&o.bytes).into_owned(), o.capped))
            .map_err(|e| e.explain(spec))
    };
    let fits = |r: &(String, bool)| !r.1 && r.0.chars().count() <= room;
    // The widest and the narrowest at once (each is one pass of git over the changes): the
    // widest is taken when it fits; when even the narrowest does not, no other will, and it is
    // cut without running git again; in between, 20 lines are tried.
    let [(wide, wide_label), (mid, mid_label), (narrow, narrow_label)] = CONTEXTS;
    let (w, n) = std::thread::scope(|s| {
        let n = s.spawn(|| run(narrow, MAX_DIFF_BYTES));
        // More bytes than 4 × the room is more characters than the room.
        let w = run(wide, room.saturating_mul(4));
        (w, n.join())
    });
    let n = n.map_err(|_| "git's output could not be read".to_string())??;
    let w = w?;
    if fits(&w) {
        return Ok((w.0, wide_label, false));
    }
    if !fits(&n) {
        return Ok((n.0, narrow_label, n.1));
    }
    let m = run(mid, room.saturating_mul(4))?;
    Ok(if fits(&m) {
        (m.0, mid_label, false)
    } else {
        (n.0, narrow_label, false)
    })
}

/// `function` → "the enclosing functions whole", `20 lines` → "20 lines of context".
#[must_use]
pub(crate) fn describe_context(label: &str) -> String {
    match label {
        "function" => "the enclosing functions whole".into(),
        "none" => "nothing".into(),
        n => format!("{n} of context"),
    }
}

/// Whether a changed path may be shown; why not otherwise.
fn judge(root: &Path, rel: &str) -> Result<(), String> {
    if let Some(why) = confine::control_reason(rel) {
        return Err(why.strip_prefix("it is ").unwrap_or(why).to_string());
    }
    match confine::readable(root, rel) {
        Ok(_) => Ok(()),
        // A file the change deletes has nothing on disk to follow; its name alone is judged.
        Err(_) if root.join(rel).symlink_metadata().is_err() => match confine::secret_reason(rel) {
            Some(why) => Err(format!("a secret file: {why}")),
            None => Ok(()),
        },
        Err(r) => Err(r.reason),
    }
}

/// The arguments every `git diff` of `spec` shares (`git.rs` adds the ones that keep programs
/// from starting).
fn common_args(spec: &DiffSpec) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--no-color",
        "--no-renames",
        "--relative",
        "--src-prefix=a/",
        "--dst-prefix=b/",
    ]
    .map(OsString::from)
    .into();
    match spec {
        DiffSpec::Staged => args.push("--cached".into()),
        DiffSpec::Unstaged => {}
        DiffSpec::Base(r) => args.extend(["--merge-base".into(), r.into()]),
    }
    args
}
