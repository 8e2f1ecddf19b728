//! Supervised subprocesses: argv (never a shell), the input on stdin, output drained
//! concurrently with a size cap, and the whole process group killed on timeout, silence,
//! cancellation or drop, so no grandchild outlives its call.
//!
//! Used by the providers (model CLIs) and by `verify` (the project's own checks).

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
pub struct Spec {
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
pub enum Ended {
    Exited(i32),
    /// Killed by a signal it did not get from us.
    Signaled(i32),
    TimedOut,
    Idle,
    Cancelled,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ended: Ended,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("`{0}` was not found on PATH")]
    NotFound(String),
    #[error("cannot start `{program}`: {message}")]
    Io { program: String, message: String },
    #[error("empty command")]
    Empty,
}

/// Kills the process group when dropped (a cancelled future, a panic, an early return).
struct Group(Option<i32>);

impl Group {
    fn kill(&mut self) {
        if let Some(pgid) = self.0 {
            // ESRCH (already gone) is fine.
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

fn now_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Reads a stream to its end, keeping the last `cap` bytes and noting activity.
async fn drain<R: AsyncRead + Unpin>(
    mut r: R,
    cap: usize,
    last: Arc<AtomicU64>,
    start: Instant,
) -> (Vec<u8>, bool) {
    let mut kept: VecDeque<u8> = VecDeque::new();
    let mut truncated = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                last.store(now_ms(start), Ordering::Relaxed);
                kept.extend(&buf[..n]);
                if kept.len() > cap {
                    truncated = true;
                    let extra = kept.len() - cap;
                    kept.drain(..extra);
                }
            }
        }
    }
    (kept.into_iter().collect(), truncated)
}

/// Runs `spec` to completion, or until its time is up or `cancel` fires.
///
/// # Errors
/// Only when the process cannot be started; everything after that is in the [`Outcome`].
pub async fn run(spec: &Spec, cancel: &CancellationToken) -> Result<Outcome, SpawnError> {
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
    let mut group = Group(child.id().and_then(|p| i32::try_from(p).ok()));
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
    let out_task = tokio::spawn(drain(stdout, spec.output_cap, last.clone(), start));
    let err_task = tokio::spawn(drain(stderr, spec.output_cap, last.clone(), start));

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
    // Whatever happened, nothing of the group survives the call.
    group.kill();
    let _ = child.wait().await;
    writer.abort();
    let grace = Duration::from_secs(2);
    let (stdout, stdout_truncated) = tokio::time::timeout(grace, out_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let (stderr, stderr_truncated) = tokio::time::timeout(grace, err_task)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    group.0 = None;
    Ok(Outcome {
        ended,
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
        elapsed: start.elapsed(),
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
}
