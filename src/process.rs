//! Supervised subprocesses: argv (never a shell), the input on stdin, output drained
//! concurrently with a size cap, and everything the call started killed when it ends (exit,
//! timeout, silence, cancellation or drop), even processes that left its process group or
//! session, so no grandchild or daemon outlives its call.
//!
//! Used by the providers (model CLIs) and by `verify` (the project's own checks).
//!
//! How "everything the call started" is found (Linux): each call puts a unique tag in its
//! child's environment ([`TAG_VAR`]; the environment is cleared and rebuilt, so it is ours to
//! set, and every descendant inherits it through fork, `setsid` and double forks alike). When
//! the call ends, `sweep` SIGKILLs every live process whose `/proc/<pid>/environ` carries the
//! tag, plus the descendants (by ppid) of those and of our own child, over and over until none
//! is left, so a process forking while we kill is caught on the next round. The process group
//! is killed as before (also the only mechanism on other unixes).
//!
//! Weighed and not chosen:
//! - `PR_SET_CHILD_SUBREAPER` on maestro: orphans would become children of the whole maestro
//!   process, with nothing saying which call they came from, and the ones that exit on their
//!   own would stay zombies unless we reaped with `waitpid(-1)`, which steals the exit status
//!   of children that tokio or std (git, the MCP transport) are waiting for. A subreaper needs a
//!   process of its own (a supervisor binary), which a library call cannot assume.
//! - cgroups: usually not writable for an unprivileged user; nothing may depend on them.
//! - `pre_exec` hooks (`PR_SET_PDEATHSIG`, a new PID namespace): the crate forbids `unsafe`.
//!
//! What the tag cannot see: a process that both drops the tag from its environment (exec with
//! a cleared environment) and detaches from its parent (double fork). The drains then give up
//! after a short grace, so the call still returns. Zombies: nothing new becomes ours (no
//! subreaper); our own child is reaped by tokio, and killed descendants by their parents or
//! init.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// What to run and how long it may take.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub argv: Vec<String>,
    /// Written to the child's stdin, which is then closed.
    pub stdin: Vec<u8>,
    pub cwd: Option<PathBuf>,
    /// Variables copied from this process's environment; everything else is cleared.
    pub env_pass: Vec<String>,
    /// Variables set for the child.
    pub env_set: Vec<(String, String)>,
    pub timeout: Duration,
    /// Ends the call when neither stdout nor stderr has produced a byte for this long.
    pub idle_timeout: Option<Duration>,
    /// Bytes kept of each stream; beyond it the *tail* is kept (where answers and summaries are).
    pub output_cap: usize,
}

/// Why the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Exited(i32),
    /// Killed by a signal it did not get from us.
    Signaled(i32),
    TimedOut,
    Idle,
    Cancelled,
}

/// What came back.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub ended: Ended,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnError {
    #[error("`{0}` was not found on PATH")]
    NotFound(String),
    #[error("cannot start `{program}`: {message}")]
    Io { program: String, message: String },
    #[error("empty command")]
    Empty,
}

/// The environment variable that carries the tags of the calls a process belongs to.
pub(crate) const TAG_VAR: &str = "MAESTRO_CALL_TAGS";

/// How long the drains may still take once everything was killed: only a process the sweep
/// cannot see (see the module comment) can hold a pipe open that long.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

static CALLS: AtomicU64 = AtomicU64::new(0);

/// A tag no other call (of this or another maestro) uses: pid, counter and the clock.
fn new_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}.{}.{nanos:x}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    )
}

/// The tag list for a child: the tags this process inherited, then ours. A maestro running
/// inside a check (its own test suite, say) clears the environment of its children too; keeping
/// the outer tags lets the outer call still find them.
fn tag_list(tag: &str) -> String {
    match std::env::var(TAG_VAR) {
        Ok(outer) if !outer.is_empty() => format!("{outer},{tag}"),
        _ => tag.to_string(),
    }
}

/// Kills everything the call started when dropped (a cancelled future, a panic, an early
/// return), and on demand when the call ends.
struct Group {
    pgid: Option<i32>,
    tag: String,
    /// Our child while it is not reaped: its pid cannot be reused, so it is safe to follow.
    child: Option<i32>,
    /// The child's start time: nothing of this call started before it.
    since: u64,
    armed: bool,
}

impl Group {
    /// Tagged processes and their descendants first, while the tree is whole (a parent killed
    /// first would hand its untagged children to init); then the rest of the group.
    fn kill_all(&self) {
        kill_everything(self.pgid, &self.tag, self.child, self.since);
    }
}

fn kill_everything(pgid: Option<i32>, tag: &str, root: Option<i32>, since: u64) {
    sweep::kill_tagged(tag, root, since);
    if let Some(pgid) = pgid {
        // ESRCH (already gone) is fine.
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.armed {
            // Synchronous on purpose: the runtime may be going away (a client that left).
            self.kill_all();
        }
    }
}

fn now_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What a drain has kept so far: the last `cap` bytes, and whether anything was cut.
#[derive(Default)]
struct Kept {
    bytes: VecDeque<u8>,
    truncated: bool,
}

type Shared = Arc<std::sync::Mutex<Kept>>;

/// Reads a stream to its end into `kept`, keeping the last `cap` bytes and noting activity.
async fn drain<R: AsyncRead + Unpin>(
    mut r: R,
    cap: usize,
    kept: Shared,
    last: Arc<AtomicU64>,
    start: Instant,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                last.store(now_ms(start), Ordering::Relaxed);
                let mut k = kept
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                k.bytes.extend(&buf[..n]);
                if k.bytes.len() > cap {
                    k.truncated = true;
                    let extra = k.bytes.len() - cap;
                    k.bytes.drain(..extra);
                }
            }
        }
    }
}

/// What a drain kept by `deadline`; after it the drain is stopped (closing our end of the
/// pipe) and what it read until then is kept.
async fn finish(
    deadline: tokio::time::Instant,
    mut task: tokio::task::JoinHandle<()>,
    kept: &Shared,
) -> (Vec<u8>, bool) {
    if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
        task.abort();
    }
    let mut k = kept
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let k = std::mem::take(&mut *k);
    (k.bytes.into(), k.truncated)
}

/// Runs `spec` to completion, or until its time is up or `cancel` fires.
///
/// # Errors
/// Only when the process cannot be started; everything after that is in the [`Outcome`].
pub(crate) async fn run(spec: &Spec, cancel: &CancellationToken) -> Result<Outcome, SpawnError> {
    let program = spec.argv.first().ok_or(SpawnError::Empty)?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(&spec.argv[1..])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for name in &spec.env_pass {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    for (k, v) in &spec.env_set {
        cmd.env(k, v);
    }
    // Set last, so that no configured variable can remove the tag.
    let tag = new_tag();
    cmd.env(TAG_VAR, tag_list(&tag));
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SpawnError::NotFound(program.clone())
        } else {
            SpawnError::Io {
                program: program.clone(),
                message: e.to_string(),
            }
        }
    })?;
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    let mut group = Group {
        pgid: pid,
        tag,
        child: pid,
        since: pid.and_then(sweep::start_time).unwrap_or(0),
        armed: true,
    };
    let last = Arc::new(AtomicU64::new(0));
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(SpawnError::Io {
            program: program.clone(),
            message: "pipes were not created".into(),
        });
    };
    let input = spec.stdin.clone();
    let writer = tokio::spawn(async move {
        // A child that exits without reading its input is not an error here.
        let _ = stdin.write_all(&input).await;
        let _ = stdin.shutdown().await;
    });
    let (out_kept, err_kept) = (Shared::default(), Shared::default());
    let out_task = tokio::spawn(drain(
        stdout,
        spec.output_cap,
        out_kept.clone(),
        last.clone(),
        start,
    ));
    let err_task = tokio::spawn(drain(
        stderr,
        spec.output_cap,
        err_kept.clone(),
        last.clone(),
        start,
    ));

    let idle = spec.idle_timeout;
    let last_seen = last.clone();
    let silence = async move {
        let Some(limit) = idle else {
            return std::future::pending::<()>().await;
        };
        loop {
            let quiet = now_ms(start).saturating_sub(last_seen.load(Ordering::Relaxed));
            let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
            if quiet >= limit_ms {
                return;
            }
            tokio::time::sleep(Duration::from_millis((limit_ms - quiet).clamp(10, 1000))).await;
        }
    };
    let ended = tokio::select! {
        status = child.wait() => match status {
            Ok(s) => {
                use std::os::unix::process::ExitStatusExt;
                match (s.code(), s.signal()) {
                    (Some(c), _) => Ended::Exited(c),
                    (None, Some(sig)) => Ended::Signaled(sig),
                    (None, None) => Ended::Exited(-1),
                }
            }
            Err(_) => Ended::Exited(-1),
        },
        () = tokio::time::sleep(spec.timeout) => Ended::TimedOut,
        () = silence => Ended::Idle,
        () = cancel.cancelled() => Ended::Cancelled,
    };
    if matches!(ended, Ended::Exited(_) | Ended::Signaled(_)) {
        // tokio reaped the child: its pid may be reused from now on, so it is not followed.
        group.child = None;
    }
    // Whatever happened, nothing the call started survives it (off the runtime: this reads
    // /proc and waits for the deaths).
    let (pgid, tag, root, since) = (group.pgid, group.tag.clone(), group.child, group.since);
    if tokio::task::spawn_blocking(move || kill_everything(pgid, &tag, root, since))
        .await
        .is_err()
    {
        group.kill_all();
    }
    let _ = child.wait().await;
    group.child = None;
    group.armed = false;
    writer.abort();
    // Every writer of the pipes is dead, so the drains end at once; one shared grace bounds
    // them in case a process the sweep cannot see still holds a pipe.
    let deadline = tokio::time::Instant::now() + DRAIN_GRACE;
    let (stdout, stdout_truncated) = finish(deadline, out_task, &out_kept).await;
    let (stderr, _) = finish(deadline, err_task, &err_kept).await;
    Ok(Outcome {
        ended,
        stdout,
        stderr,
        stdout_truncated,
        elapsed: start.elapsed(),
    })
}

/// Finding and killing what a call started, by its tag (see the module comment).
#[cfg(target_os = "linux")]
mod sweep {
    use std::collections::HashSet;

    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    /// Rounds of find-and-kill before giving up on a process that will not die (one stuck in
    /// the kernel dies when it comes back; it cannot run our code any more).
    const ROUNDS: u32 = 60;

    /// What `/proc/<pid>/stat` says about a process.
    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct Stat {
        pub state: char,
        pub ppid: i32,
        pub pgrp: i32,
        pub session: i32,
        /// Clock ticks after boot.
        pub start: u64,
    }

    /// One live process.
    struct Proc {
        pid: i32,
        stat: Stat,
    }

    /// Reads a stat line; the name in parentheses may hold spaces and `)`.
    pub(super) fn parse_stat(line: &str) -> Option<Stat> {
        let rest = &line[line.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // The fields after the name start at field 3 (state); start time is field 22.
        Some(Stat {
            state: fields.first()?.chars().next()?,
            ppid: fields.get(1)?.parse().ok()?,
            pgrp: fields.get(2)?.parse().ok()?,
            session: fields.get(3)?.parse().ok()?,
            start: fields.get(19)?.parse().ok()?,
        })
    }

    fn stat(pid: i32) -> Option<Stat> {
        parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// When `pid` started, in clock ticks since boot.
    pub(super) fn start_time(pid: i32) -> Option<u64> {
        stat(pid).map(|s| s.start)
    }

    /// Live processes (not zombies) that started at `since` or later.
    fn processes(since: u64) -> Vec<Proc> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| {
            let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = stat(pid)?;
            (!matches!(stat.state, 'Z' | 'X' | 'x') && stat.start >= since)
                .then_some(Proc { pid, stat })
        })
        .collect()
    }

    /// Whether the process's environment carries `tag` in [`super::TAG_VAR`].
    fn carries(pid: i32, tag: &str) -> bool {
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            return false;
        };
        let prefix = format!("{}=", super::TAG_VAR);
        environ
            .split(|b| *b == 0)
            .filter_map(|var| var.strip_prefix(prefix.as_bytes()))
            .any(|tags| tags.split(|b| *b == b',').any(|t| t == tag.as_bytes()))
    }

    /// The processes of the call: tagged, or `root`, or a descendant of one of those, or a
    /// member of a session or group that one of those (or one killed before, in `killed`)
    /// created. The last catches what dropped the tag and was orphaned inside a session of
    /// ours; a session or group id cannot be reused while the session or group has members.
    fn targets(tag: &str, root: Option<i32>, since: u64, killed: &HashSet<i32>) -> Vec<i32> {
        let me = i32::try_from(std::process::id()).unwrap_or(0);
        let procs = processes(since);
        let mut found: HashSet<i32> = procs
            .iter()
            .filter(|p| p.pid != me && (Some(p.pid) == root || carries(p.pid, tag)))
            .map(|p| p.pid)
            .collect();
        // A child starts after its parent, and a member after its leader, so `since` keeps
        // them all.
        loop {
            let before = found.len();
            for p in &procs {
                let ours = |id: i32| found.contains(&id) || killed.contains(&id);
                if p.pid != me && (ours(p.stat.ppid) || ours(p.stat.pgrp) || ours(p.stat.session)) {
                    found.insert(p.pid);
                }
            }
            if found.len() == before {
                break;
            }
        }
        found.into_iter().collect()
    }

    /// SIGKILLs everything of the call until nothing is left; returns how many were signalled.
    pub(super) fn kill_tagged(tag: &str, root: Option<i32>, since: u64) -> usize {
        let mut signalled = HashSet::new();
        for round in 0..ROUNDS {
            let found = targets(tag, root, since, &signalled);
            if found.is_empty() {
                break;
            }
            for pid in found {
                // ESRCH (died meanwhile) is fine.
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                signalled.insert(pid);
            }
            // Give the killed a moment to die before looking again.
            std::thread::sleep(std::time::Duration::from_millis(if round < 10 {
                1
            } else {
                10
            }));
        }
        signalled.len()
    }
}

/// Elsewhere only the process group is killed (today's behaviour there).
#[cfg(not(target_os = "linux"))]
mod sweep {
    pub(super) fn start_time(_pid: i32) -> Option<u64> {
        None
    }

    pub(super) fn kill_tagged(_tag: &str, _root: Option<i32>, _since: u64) -> usize {
        0
    }
}

/// Where `program` is: a path (with a `/`, from `dir`) or the first executable file of that
/// name on PATH.
///
/// # Errors
/// A sentence saying it is missing or not executable.
pub(crate) fn find_program(
    program: &str,
    dir: &std::path::Path,
) -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &std::path::Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = dir.join(program);
        return if executable(&path) {
            Ok(path)
        } else if path.is_file() {
            Err(format!("`{program}` is not executable"))
        } else {
            Err(format!("`{program}` does not exist"))
        };
    }
    let mut not_executable = None;
    for folder in std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
    {
        let path = folder.join(program);
        if executable(&path) {
            return Ok(path);
        }
        if path.is_file() && not_executable.is_none() {
            not_executable = Some(path);
        }
    }
    Err(match not_executable {
        Some(p) => format!("`{program}` at {} is not executable", p.display()),
        None => format!("`{program}` was not found on PATH"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Spec {
        Spec {
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            stdin: Vec::new(),
            cwd: None,
            env_pass: vec!["PATH".into()],
            env_set: Vec::new(),
            timeout: Duration::from_secs(10),
            idle_timeout: None,
            output_cap: 1 << 20,
        }
    }

    /// Running (a killed child waiting to be reaped by init counts as gone).
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().to_string()))
            .is_some_and(|state| !state.starts_with('Z') && !state.starts_with('X'))
    }

    #[tokio::test]
    async fn stdin_goes_in_and_output_comes_back() {
        let mut spec = sh("cat; echo done >&2; exit 3");
        spec.stdin = b"hello".to_vec();
        let out = run(&spec, &CancellationToken::new()).await.unwrap();
        assert_eq!(out.ended, Ended::Exited(3));
        assert_eq!(out.stdout, b"hello");
        assert_eq!(out.stderr, b"done\n");
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_group() {
        let mut spec = sh("sleep 30 & echo $!; wait");
        spec.timeout = Duration::from_millis(300);
        let out = run(&spec, &CancellationToken::new()).await.unwrap();
        assert_eq!(out.ended, Ended::TimedOut);
        let grandchild: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!alive(grandchild), "grandchild {grandchild} survived");
    }

    #[tokio::test]
    async fn silence_ends_the_call_and_cancellation_too() {
        let mut spec = sh("echo start; sleep 30");
        spec.idle_timeout = Some(Duration::from_millis(300));
        let out = run(&spec, &CancellationToken::new()).await.unwrap();
        assert_eq!(out.ended, Ended::Idle);
        assert_eq!(out.stdout, b"start\n");
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            c2.cancel();
        });
        let out = run(&sh("sleep 30"), &cancel).await.unwrap();
        assert_eq!(out.ended, Ended::Cancelled);
        assert!(out.elapsed < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn floods_are_capped_keeping_the_tail_and_the_environment_is_clean() {
        let mut spec = sh("head -c 5000000 /dev/zero; echo END; echo \"[$HOME]\" >&2");
        spec.output_cap = 1000;
        let out = run(&spec, &CancellationToken::new()).await.unwrap();
        assert!(out.stdout_truncated);
        assert_eq!(out.stdout.len(), 1000);
        assert!(out.stdout.ends_with(b"END\n"));
        assert_eq!(out.stderr, b"[]\n");
    }

    #[tokio::test]
    async fn missing_programs_and_signals_are_reported() {
        let spec = Spec {
            argv: vec!["maestro-no-such-program".into()],
            ..sh("")
        };
        assert!(matches!(
            run(&spec, &CancellationToken::new()).await,
            Err(SpawnError::NotFound(_))
        ));
        let out = run(&sh("kill -9 $$"), &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(out.ended, Ended::Signaled(9));
    }

    #[tokio::test]
    async fn large_inputs_travel_on_stdin() {
        let mut spec = sh("wc -c");
        spec.stdin = vec![b'x'; 300 * 1024];
        let out = run(&spec, &CancellationToken::new()).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "307200");
    }

    /// A python program (the escapes below need fork and setsid).
    fn py(script: &str, arg: &str) -> Spec {
        Spec {
            argv: vec!["python3".into(), "-c".into(), script.into(), arg.into()],
            env_pass: vec!["PATH".into(), "HOME".into()],
            ..sh("")
        }
    }

    /// Forks a child that leaves the session (`setsid`), prints its pid and sleeps holding
    /// stdout; the parent then sleeps `argv[1]` seconds and exits.
    const SETSID: &str = "import os, sys, time\n\
r, w = os.pipe()\n\
if os.fork() == 0:\n    os.setsid()\n    print(os.getpid(), flush=True)\n    os.write(w, b'x')\n    time.sleep(120)\n    os._exit(0)\n\
os.read(r, 1)\n\
time.sleep(float(sys.argv[1]))\n";

    /// A daemon: fork, setsid, fork again, the middle process exits (the daemon's parent is
    /// then init); the daemon prints its pid and sleeps holding stdout.
    const DAEMON: &str = "import os, sys, time\n\
r, w = os.pipe()\n\
if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        print(os.getpid(), flush=True)\n        os.write(w, b'x')\n        time.sleep(120)\n    os._exit(0)\n\
os.read(r, 1)\n\
os.wait()\n\
time.sleep(float(sys.argv[1]))\n";

    fn pid_in(out: &[u8]) -> i32 {
        String::from_utf8_lossy(out)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no pid in {:?}", String::from_utf8_lossy(out)))
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn escaped_children_die_when_the_call_times_out() {
        for (what, script) in [("setsid", SETSID), ("daemon", DAEMON)] {
            assert_printed_pid_dies_on_timeout(what, script, "120").await;
        }
    }

    /// Runs `script` until a 1.5 s timeout; the pid it printed must be dead afterwards.
    async fn assert_printed_pid_dies_on_timeout(what: &str, script: &str, arg: &str) {
        let mut spec = py(script, arg);
        spec.timeout = Duration::from_millis(1500);
        let out = run(&spec, &CancellationToken::new()).await.unwrap();
        assert_eq!(out.ended, Ended::TimedOut, "{what}: {out:?}");
        let pid = pid_in(&out.stdout);
        assert!(!alive(pid), "{what}: {pid} survived the timeout");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn escaped_children_die_when_the_call_exits_normally() {
        for (what, script) in [("setsid", SETSID), ("daemon", DAEMON)] {
            let out = run(&py(script, "0"), &CancellationToken::new())
                .await
                .unwrap();
            // The escapee still held stdout when the parent exited: the call came back with
            // the exit status, not a timeout, and the output up to then.
            assert_eq!(out.ended, Ended::Exited(0), "{what}: {out:?}");
            let pid = pid_in(&out.stdout);
            assert!(!alive(pid), "{what}: {pid} outlived its call");
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_descendant_that_dropped_the_tag_dies_with_its_parent_line() {
        // The escapee leaves the session and runs with an empty environment (no tag); its
        // parent is still ours, so it is found by ppid.
        let script = "import os, sys, time\n\
r, w = os.pipe()\n\
pid = os.fork()\n\
if pid == 0:\n    os.setsid()\n    os.execve('/bin/sleep', ['sleep', '120'], {})\n\
print(pid, flush=True)\n\
time.sleep(120)\n";
        assert_printed_pid_dies_on_timeout("", script, "").await;
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn an_orphan_that_dropped_the_tag_dies_with_the_session_it_is_in() {
        // A child of ours opens a session; inside it a process with an empty environment (no
        // tag) is orphaned by its parent. Neither tag nor ppid leads to it; its session does.
        let script = "import os, sys, time\n\
if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        pid = os.fork()\n        if pid == 0:\n            os.execve('/bin/sleep', ['sleep', '120'], {})\n        print(pid, flush=True)\n        os._exit(0)\n    time.sleep(120)\n    os._exit(0)\n\
time.sleep(120)\n";
        assert_printed_pid_dies_on_timeout("", script, "").await;
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn escaped_children_die_on_cancel_and_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        // Writes the escapee's pid to a file, since a dropped call returns nothing.
        let script = "import os, sys, time\n\
if os.fork() == 0:\n    os.setsid()\n    open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))\n    os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n    time.sleep(120)\n    os._exit(0)\n\
time.sleep(120)\n";
        let wait_for = |file: &std::path::Path| {
            for _ in 0..400 {
                if let Ok(s) = std::fs::read_to_string(file) {
                    return s.trim().parse::<i32>().unwrap();
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            panic!("{} never appeared", file.display());
        };
        // Cancelled.
        let file = dir.path().join("cancelled");
        let spec = py(script, file.to_str().unwrap());
        let cancel = CancellationToken::new();
        let call = tokio::spawn({
            let cancel = cancel.clone();
            async move { run(&spec, &cancel).await }
        });
        let pid = tokio::task::spawn_blocking({
            let file = file.clone();
            move || wait_for(&file)
        })
        .await
        .unwrap();
        assert!(alive(pid));
        cancel.cancel();
        let out = call.await.unwrap().unwrap();
        assert_eq!(out.ended, Ended::Cancelled);
        assert!(!alive(pid), "{pid} survived the cancel");
        // Dropped mid-call (the caller went away).
        let file = dir.path().join("dropped");
        let spec = py(script, file.to_str().unwrap());
        let call = tokio::spawn(async move { run(&spec, &CancellationToken::new()).await });
        let pid = tokio::task::spawn_blocking({
            let file = file.clone();
            move || wait_for(&file)
        })
        .await
        .unwrap();
        assert!(alive(pid));
        call.abort();
        assert!(call.await.unwrap_err().is_cancelled());
        assert!(!alive(pid), "{pid} survived the drop");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn tags_are_matched_whole_in_a_list_and_stat_names_may_hold_parens() {
        let mut other = std::process::Command::new("sleep")
            .arg("120")
            .env_clear()
            .env(TAG_VAR, "outer.1,inner.22")
            .spawn()
            .unwrap();
        let pid = i32::try_from(other.id()).unwrap();
        // A prefix of a tag is not the tag.
        assert_eq!(sweep::kill_tagged("inner.2", None, 0), 0);
        assert!(alive(pid));
        assert_eq!(sweep::kill_tagged("outer.1", None, 0), 1);
        let status = other.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        let stat = "42 (a) b (c) S 7 40 41 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 9876 0 0";
        assert_eq!(
            sweep::parse_stat(stat),
            Some(sweep::Stat {
                state: 'S',
                ppid: 7,
                pgrp: 40,
                session: 41,
                start: 9876
            })
        );
    }
}
