//! Running `git` for a diff: a plain subprocess in the workspace root that can start no other
//! program and wait for no person, under a time limit and an output cap.
//!
//! Everything git reads is treated as hostile: the repository (`.git/config`, its includes,
//! `.gitattributes`, hooks), the user's `~/.gitconfig` and `$XDG_CONFIG_HOME/git/config`
//! (a model with a shell can write them) and this process's environment. [`command`] builds
//! every git command, and each is closed against all the ways `git config --list`,
//! `git rev-parse` and `git diff` could start a program:
//! - the environment (`GIT_DIR`, `GIT_EXTERNAL_DIFF`, `GIT_SSH_COMMAND`, `GIT_CONFIG_*`,
//!   `GIT_EXEC_PATH`, `SSH_ASKPASS`, `PAGER`…): cleared whole (an allow-list, not a list of
//!   known names); only `HOME`, `XDG_CONFIG_HOME` and `PATH` are passed on, then ours set;
//! - the pager (`core.pager`, `pager.<cmd>`): `--no-pager` (and stdout is a pipe);
//! - filters (`filter.<x>.clean`, `smudge`, `process`; git-lfs too), named in any config file
//!   or include: each driver is emptied by name (`overrides.rs`);
//! - `diff.external`, `diff.<x>.command`: `--no-ext-diff`; `diff.<x>.textconv`:
//!   `--no-textconv`;
//! - `core.fsmonitor` (a hook, or the daemon): `core.fsmonitor=false`;
//! - hooks (`git diff` rewrites the index after a refresh, which runs `post-index-change`):
//!   `core.hooksPath=/dev/null`;
//! - a partial clone's lazy fetch of missing objects, and with it the remote's transport:
//!   `remote.<x>.url` (`ext::`, `fd::`, `<helper>::`, `remote.<x>.vcs`), `url.<x>.insteadOf`,
//!   `remote.<x>.uploadpack`, `core.sshCommand`, `core.gitProxy`, credential helpers,
//!   `core.askPass`: `GIT_NO_LAZY_FETCH=1` (git 2.39.4, 2.40.2, 2.41.1, 2.42.2, 2.43.4,
//!   2.44.1, 2.45 and later); for an older git, whose fetch still starts, `GIT_ALLOW_PROTOCOL` empty, which
//!   refuses every transport before it connects whatever `protocol.*.allow` says; and all the
//!   same, askpass off (`GIT_ASKPASS` empty) and credential helpers emptied;
//! - submodules (git runs `git status` inside each, under the submodule's own config, which no
//!   override here reaches): `--ignore-submodules=all`;
//! - trace2 targets a global config names (files or sockets git writes to): `GIT_TRACE2*=0`;
//! - a bare repository planted as the workspace: `safe.bareRepository=explicit`.
//!
//! Settings are handed to git through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_<n>`/`_VALUE_<n>`:
//! command-line level, which wins over every config file, and unlike `-c key=value` it carries
//! a driver name holding `=` (`-c filter.a=b.clean=` sets `filter.a` instead).
//!
//! What it costs: a filter a person relies on (git-lfs) does not run, so a touched LFS file
//! shows as its pointer against its content; submodule changes are not shown; a blob a partial
//! clone never downloaded makes the diff a refusal that says so.
//!
//! Weighed and not chosen:
//! - reading the repository with a library that cannot start programs: `cargo install`
//!   already takes 4.4–4.8 min of its 5-minute limit on two cores. gix with worktree status
//!   and blob diffs adds 93 crates, ~10 CPU-minutes of release build measured alone (on a
//!   busy machine); git2 adds a C build of libgit2, 2.7 min of it. Neither has
//!   `--function-context`, and gix runs configured filter drivers as git does, so it would
//!   need the same switching off.
//! - `--attr-source=<empty tree>` (git ≥ 2.40): it ignores `.gitattributes` in the tree, but
//!   not `.git/info/attributes`, so filters still had to be emptied by name; it would only
//!   lose attributes that help (`-diff`, `binary`).
//! - `core.attributesFile=/dev/null`: attributes only choose drivers, and every driver that
//!   could run a program is switched off above.
//! - an empty `diff.<x>.textconv`/`command`, `core.sshCommand` or `core.alternateRefsCommand`:
//!   git would take an empty command as a command (`sh -c ''`); the switches and the refused
//!   transports keep them from being read at all.
//!
//! The driver names are read by a first `git config --list -z` (which runs nothing: reading
//! config only opens files), so a config changed between that and the diff is not seen; only
//! a process already running beside maestro could do that, and it could run the program itself.

use std::ffi::{OsStr, OsString};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::DiffSpec;
use super::overrides::{MAX_DRIVERS, TooMany, overrides};

/// How long one git command may take; a diff of a large repository takes a second or two.
const GIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes of `git config --list` read at most: thousands of branches and remotes fit.
const MAX_CONFIG_BYTES: usize = 8 << 20;

/// Variables passed on from maestro's environment: where the user's git config is, and where
/// programs are (git itself needs none for a diff, but a `git` that is a wrapper script may).
const PASSED_ON: [&str; 3] = ["HOME", "XDG_CONFIG_HOME", "PATH"];

/// Set in every git command's environment (after it is cleared).
const ENVIRONMENT: [(&str, &str); 9] = [
    // Lazy fetch of a partial clone's missing objects is off: a fetch runs the remote's
    // transport, which a repository chooses.
    ("GIT_NO_LAZY_FETCH", "1"),
    // An empty list of allowed protocols allows none, whatever `protocol.*.allow` says
    // (`transport.c`): the fence for a git that predates `GIT_NO_LAZY_FETCH`.
    ("GIT_ALLOW_PROTOCOL", ""),
    ("GIT_TERMINAL_PROMPT", "0"),
    // An empty `GIT_ASKPASS` is taken before `core.askPass` and `SSH_ASKPASS`, and means none
    // (`prompt.c`).
    ("GIT_ASKPASS", ""),
    // A read-only look: no lock taken to refresh the index where git can avoid it.
    ("GIT_OPTIONAL_LOCKS", "0"),
    // Trace targets a global config names are files or sockets git would write to.
    ("GIT_TRACE2", "0"),
    ("GIT_TRACE2_PERF", "0"),
    ("GIT_TRACE2_EVENT", "0"),
    ("LC_ALL", "C"),
];

/// Set in every git command's configuration, above every config file.
const SETTINGS: [(&str, &str); 5] = [
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("credential.helper", ""),
    ("safe.bareRepository", "explicit"),
    ("core.quotePath", "false"),
];

/// The git commands maestro runs, each with the switches it needs.
#[derive(Clone, Copy)]
enum Sub {
    Config,
    RevParse,
    Diff,
}

impl Sub {
    /// The subcommand and the switches that come before the caller's arguments.
    fn args(self) -> &'static [&'static str] {
        match self {
            Self::Config => &["config", "--list", "-z", "--includes"],
            Self::RevParse => &["rev-parse"],
            Self::Diff => &[
                "diff",
                "--no-ext-diff",
                "--no-textconv",
                "--ignore-submodules=all",
            ],
        }
    }
}

/// The one place a git command is built: `sub` with `args` in `root`, and `settings` (the
/// fixed [`SETTINGS`], then the drivers to switch off) as command-line configuration.
fn command(root: &Path, settings: &[(OsString, OsString)], sub: Sub, args: &[OsString]) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(root)
        .env_clear()
        .arg("--no-pager")
        .args(sub.args())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in PASSED_ON {
        if let Some(value) = std::env::var_os(var) {
            cmd.env(var, value);
        }
    }
    cmd.envs(ENVIRONMENT);
    let fixed = SETTINGS.iter().map(|(k, v)| (OsStr::new(k), OsStr::new(v)));
    let all = fixed.chain(settings.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str())));
    let mut n = 0;
    for (i, (key, value)) in all.enumerate() {
        cmd.env(format!("GIT_CONFIG_KEY_{i}"), key)
            .env(format!("GIT_CONFIG_VALUE_{i}"), value);
        n = i + 1;
    }
    cmd.env("GIT_CONFIG_COUNT", n.to_string());
    cmd
}

/// Git in one workspace, with the drivers its configuration names switched off.
pub(super) struct Git {
    root: PathBuf,
    settings: Vec<(OsString, OsString)>,
}

impl Git {
    /// Reads the configuration git will see in `root` (every file, includes followed) for the
    /// filter drivers and credential helpers to switch off.
    pub(super) fn open(root: &Path) -> Result<Self, GitError> {
        let list = run(command(root, &[], Sub::Config, &[]), MAX_CONFIG_BYTES)?;
        if list.capped {
            return Err(GitError::Config(format!(
                "its configuration is larger than {} MiB",
                MAX_CONFIG_BYTES >> 20
            )));
        }
        let settings = overrides(&list.bytes).map_err(|TooMany(n)| {
            GitError::Config(format!(
                "its configuration names {n} filter drivers or credential URLs (at most \
                 {MAX_DRIVERS} can be switched off)"
            ))
        })?;
        Ok(Self {
            root: root.to_path_buf(),
            settings,
        })
    }

    /// `git rev-parse args`, reading at most `cap` bytes of its output.
    pub(super) fn rev_parse(&self, args: &[OsString], cap: usize) -> Result<GitOutput, GitError> {
        run(
            command(&self.root, &self.settings, Sub::RevParse, args),
            cap,
        )
    }

    /// `git diff args` (external diffs, textconv and submodules off), reading at most `cap`
    /// bytes of its output.
    pub(super) fn diff(&self, args: &[OsString], cap: usize) -> Result<GitOutput, GitError> {
        run(command(&self.root, &self.settings, Sub::Diff, args), cap)
    }
}

/// Why a git command gave nothing usable.
#[derive(Debug)]
pub(super) enum GitError {
    Missing,
    Spawn(String),
    TimedOut,
    /// The configuration cannot be made safe to run git under (too large, too many drivers).
    Config(String),
    /// The diff needs objects a partial clone never downloaded, and fetching is off.
    NotFetched,
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
            Self::Config(why) => format!(
                "git is not run on this repository: {why}; name the files to review in `files`"
            ),
            Self::NotFetched => format!(
                "the `{spec}` diff needs file contents this partial clone has not downloaded, \
                 and maestro never fetches (a fetch runs programs the repository chooses); \
                 name the files to review in `files`, or a person can download them (a `git \
                 diff` of their own fetches what it needs)"
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

/// Runs `cmd`, reading at most `cap` bytes of its output.
fn run(mut cmd: Command, cap: usize) -> Result<GitOutput, GitError> {
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
            // "lazy fetching disabled", then "could not fetch <oid> from promisor remote". A git
            // that predates `GIT_NO_LAZY_FETCH` starts the fetch, whose transport is refused
            // ("transport 'ext' not allowed"), and may die of SIGPIPE before saying more; a
            // diff tries a transport for nothing else.
            if err.contains("from promisor remote")
                || err.contains("lazy fetching disabled")
                || (err.contains("transport '") && err.contains("' not allowed"))
            {
                return Err(GitError::NotFetched);
            }
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
