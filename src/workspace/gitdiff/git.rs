//! Running `git` for a diff: a plain subprocess in the workspace root with everything that
//! could start another program or wait for a person turned off, under a time limit and an
//! output cap. (Clean filters a person configured, such as git-lfs, still run for an
//! `unstaged` diff, as in any `git diff`; a repository cannot configure them itself.)

use std::ffi::OsString;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::DiffSpec;

/// How long one git command may take; a diff of a large repository takes a second or two.
const GIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a git command gave nothing usable.
#[derive(Debug)]
pub(super) enum GitError {
    Missing,
    Spawn(String),
    TimedOut,
    /// Exit status other than 0, with git's first lines of stderr.
    Failed(String),
}

impl GitError {
    pub(super) fn explain(self, spec: &DiffSpec) -> String {
        match self {
            Self::Missing => "git is not installed (or not on PATH); install git to pack a \
                              diff, or pass the changed files in `files`"
                .into(),
            Self::Spawn(e) => {
                format!("git could not be started ({e}); pass the changed files in `files`")
            }
            Self::TimedOut => format!(
                "git took longer than {} s to produce the `{spec}` diff; name the files to \
                 review in `files` instead",
                GIT_TIMEOUT.as_secs()
            ),
            Self::Failed(e) if e.to_lowercase().contains("not a git repository") => {
                "the workspace is not in a git repository, so there is no diff; pass the files \
                 to review in `files`"
                    .into()
            }
            Self::Failed(e) if e.contains("dubious ownership") => {
                "git refuses the repository: it belongs to another user (`safe.directory`); \
                 a person can trust it with `git config --global --add safe.directory <path>`"
                    .into()
            }
            Self::Failed(e) => format!("git could not produce the `{spec}` diff: {e}"),
        }
    }
}

pub(super) struct GitOutput {
    pub(super) bytes: Vec<u8>,
    /// More than the cap was written; `bytes` holds the first `cap`.
    pub(super) capped: bool,
}

/// Runs `git args` in `root`, reading at most `cap` bytes of its output.
pub(super) fn git(root: &Path, args: &[OsString], cap: usize) -> Result<GitOutput, GitError> {
    let mut cmd = Command::new("git");
    cmd.current_dir(root)
        .args(["--no-pager", "-c", "core.fsmonitor=false"])
        .args([
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "core.quotePath=false",
        ])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The repository is the one around the workspace, whatever this process was started with.
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_EXTERNAL_DIFF",
        "GIT_DIFF_OPTS",
        "GIT_PAGER",
    ] {
        cmd.env_remove(var);
    }
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            GitError::Missing
        } else {
            GitError::Spawn(e.to_string())
        }
    })?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(GitError::Spawn("no pipes".into()));
    };
    let (done, finished) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        // Reading stops at the cap; dropping the pipe then ends git with SIGPIPE.
        let _ = stdout.take(cap as u64 + 1).read_to_end(&mut bytes);
        let _ = done.send(());
        bytes
    });
    let errors = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.take(16 << 10).read_to_end(&mut bytes);
        bytes
    });
    let timed_out = matches!(
        finished.recv_timeout(GIT_TIMEOUT),
        Err(mpsc::RecvTimeoutError::Timeout)
    );
    let mut bytes = Vec::new();
    let capped;
    if timed_out {
        let _ = child.kill();
        capped = false;
    } else {
        bytes = reader.join().unwrap_or_default();
        capped = bytes.len() > cap;
        if capped {
            bytes.truncate(cap);
            let _ = child.kill();
        }
    }
    let status = child.wait();
    let err = errors.join().unwrap_or_default();
    if timed_out {
        return Err(GitError::TimedOut);
    }
    match status {
        Ok(s) if s.success() || capped => Ok(GitOutput { bytes, capped }),
        Ok(_) => {
            let err = String::from_utf8_lossy(&err);
            let first: Vec<&str> = err
                .lines()
                .map(|l| {
                    l.trim_start_matches("fatal: ")
                        .trim_start_matches("error: ")
                })
                .filter(|l| !l.is_empty())
                .take(2)
                .collect();
            Err(GitError::Failed(if first.is_empty() {
                "git failed without saying why".into()
            } else {
                first.join("; ")
            }))
        }
        Err(e) => Err(GitError::Spawn(e.to_string())),
    }
}
