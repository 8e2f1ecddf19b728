//! `maestro hook` under the real Claude Code CLI, with a local stand-in for the model API.
//!
//! `ClaudeHarness` runs the real `claude` (the one `MAESTRO_CLAUDE_BIN` names) in print mode
//! against `tests/fakes/anthropic_api.py`, which answers each model turn from a script (e.g. turn
//! 1 asks for a Write, turn 2 says "done") and logs every request the CLI sends, so a test sees
//! what Claude Code did with a tool call: whether the tool ran, and the `tool_result` the model
//! was shown. The CLI lives in a temporary HOME and project; the real `~/.claude` is never read
//! or written. One run takes about a second.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::repo;

/// How to get the CLI, as a hint in messages.
const INSTALL_HINT: &str = "`.ci/run` installs it with npm (npm install @anthropic-ai/claude-code) and sets MAESTRO_CLAUDE_BIN to its node_modules/.bin/claude";

/// A stalled CLI fails the test instead of hanging it; a run normally ends in about a second.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The fake API writes its port within a fraction of a second of starting.
const API_START_TIMEOUT: Duration = Duration::from_secs(20);

/// The `claude` executable named by `MAESTRO_CLAUDE_BIN`; `None` (the test skips) when it is
/// unset outside CI. Under CI a missing CLI is a failure: the hooks would go untested.
pub(crate) fn claude_bin() -> Option<PathBuf> {
    let Some(bin) = std::env::var_os("MAESTRO_CLAUDE_BIN").filter(|b| !b.is_empty()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "MAESTRO_CLAUDE_BIN is not set, so hooks cannot be run under Claude Code's CLI; {INSTALL_HINT}"
        );
        eprintln!(
            "skipped: running hooks under Claude Code needs MAESTRO_CLAUDE_BIN (the path of its `claude` executable, npm @anthropic-ai/claude-code); {INSTALL_HINT}"
        );
        return None;
    };
    let bin = PathBuf::from(bin);
    assert!(
        bin.is_file(),
        "MAESTRO_CLAUDE_BIN={} is not a file; {INSTALL_HINT}",
        bin.display()
    );
    Some(bin)
}

/// Kills what is left of a process group: a hook or MCP server the CLI started must not
/// outlive the test.
fn kill_group(pid: u32) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid fits i32"));
    // ESRCH (nothing left) is the normal case after a clean exit.
    let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
}

/// Waits for `child` at most `limit`; `None` when it is still running (the caller kills it).
fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `tests/fakes/anthropic_api.py` on a free port of 127.0.0.1, killed on drop.
struct FakeApi {
    child: Child,
    port: u16,
    log: PathBuf,
    stderr: PathBuf,
}

impl FakeApi {
    fn start(dir: &Path, script: &Value) -> Self {
        fs::create_dir_all(dir).expect("fake API dir");
        let script_path = dir.join("script.json");
        fs::write(
            &script_path,
            serde_json::to_vec_pretty(script).expect("script JSON"),
        )
        .expect("write script");
        let log = dir.join("requests.jsonl");
        let port_file = dir.join("port");
        let stderr = dir.join("api.stderr");
        let mut child = Command::new("python3")
            .arg(repo().join("tests/fakes/anthropic_api.py"))
            .arg(&script_path)
            .arg(&log)
            .arg("--port-file")
            .arg(&port_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr).expect("api stderr file"))
            .spawn()
            .expect("start python3 tests/fakes/anthropic_api.py (is python3 on PATH?)");
        let deadline = Instant::now() + API_START_TIMEOUT;
        let port = loop {
            // The fake writes the file whole (rename), so a present file holds the full port.
            if let Ok(text) = fs::read_to_string(&port_file) {
                break text.trim().parse().expect("port number");
            }
            if let Some(status) = child.try_wait().expect("wait for fake API") {
                panic!(
                    "the fake API exited ({status}) before listening:\n{}",
                    fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("the fake API did not listen within {API_START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Self {
            child,
            port,
            log,
            stderr,
        }
    }

    /// Every request logged so far: `{"method", "path", "kind", "turn", "body"}`.
    fn requests(&self) -> Vec<Value> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("request log ({e}): {l}")))
            .collect()
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary HOME and project for the real `claude`, with the hooks a test gives it in the
/// project's `.claude/settings.json`.
pub(crate) struct ClaudeHarness {
    bin: PathBuf,
    root: tempfile::TempDir,
    hooks: Value,
    args: Vec<String>,
    runs: usize,
}

impl ClaudeHarness {
    pub(crate) fn new(bin: PathBuf) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(root.path().join("home/.claude")).expect("home");
        fs::create_dir_all(root.path().join("project/.claude")).expect("project");
        Self {
            bin,
            root,
            hooks: json!({}),
            args: Vec::new(),
            runs: 0,
        }
    }

    /// The project directory `claude` runs in (absolute: scripted tool inputs name paths in it).
    pub(crate) fn project(&self) -> PathBuf {
        self.root.path().join("project")
    }

    /// The `hooks` object of the project's `.claude/settings.json`, as in Claude Code's docs:
    /// `{"PreToolUse": [{"matcher": "*", "hooks": [{"type": "command", "command": "..."}]}]}`.
    pub(crate) fn hooks(mut self, hooks: Value) -> Self {
        self.hooks = hooks;
        self
    }

    /// More arguments for `claude`, after the harness's own (e.g. `--mcp-config FILE`,
    /// `--tools Read,Grep`, `--resume ID`).
    #[allow(
        dead_code,
        reason = "the harness is for the maestro hook tests to come; the first test needs no extra flags"
    )]
    pub(crate) fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_string()));
        self
    }

    /// Runs `claude -p PROMPT` with the model's turns taken from `script` (see
    /// tests/fakes/anthropic_api.py for its form) and returns what it printed and sent.
    pub(crate) fn run(&mut self, prompt: &str, script: &Value) -> ClaudeRun {
        self.runs += 1;
        let project = self.project();
        let home = self.root.path().join("home");
        fs::write(
            project.join(".claude/settings.json"),
            serde_json::to_vec_pretty(&json!({ "hooks": self.hooks })).expect("settings JSON"),
        )
        .expect("write settings.json");
        let dir = self.root.path().join(format!("run{}", self.runs));
        let api = FakeApi::start(&dir, script);
        // The `maestro` under test first on PATH: hooks name `maestro`, as they do for a user
        // after `cargo install`, and another maestro on this machine must not answer instead.
        let maestro_dir = Path::new(env!("CARGO_BIN_EXE_maestro"))
            .parent()
            .expect("the maestro binary has a directory");
        let path = std::env::join_paths(
            std::iter::once(maestro_dir.to_path_buf()).chain(
                std::env::var_os("PATH")
                    .iter()
                    .flat_map(std::env::split_paths),
            ),
        )
        .expect("PATH");
        let (stdout_path, stderr_path) = (dir.join("claude.stdout"), dir.join("claude.stderr"));
        let mut cmd = Command::new(&self.bin);
        cmd.arg("-p")
            .arg(prompt)
            .args(["--output-format", "json"])
            // Every tool runs without a prompt, so a tool that did not run was held by a hook
            // (a PreToolUse deny applies in every mode, this one included).
            .args(["--permission-mode", "bypassPermissions"])
            .args(&self.args)
            .current_dir(&project)
            // A clean environment: the developer's own Claude Code settings and credentials
            // (CLAUDE_*, ANTHROPIC_*) must neither leak in nor be used.
            .env_clear()
            .env("PATH", path)
            .env("HOME", &home)
            .env("CLAUDE_CONFIG_DIR", home.join(".claude"))
            .env(
                "ANTHROPIC_BASE_URL",
                format!("http://127.0.0.1:{}", api.port),
            )
            // Any non-empty key: the fake API does not check it, and with a key set the CLI
            // never looks for a login.
            .env("ANTHROPIC_API_KEY", "sk-ant-fake-key-for-tests")
            // No telemetry, error reports, update checks or feature-flag fetches: the machine
            // may have no network, and a test must not call anthropic.com.
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            // As root (CI containers) the CLI refuses bypassPermissions ("cannot be used with
            // root/sudo privileges") unless told it runs in a sandbox, which a test's
            // throw-away project is.
            .env("IS_SANDBOX", "1")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout_path).expect("stdout file"))
            .stderr(fs::File::create(&stderr_path).expect("stderr file"))
            // Its own process group, so hooks and MCP servers it starts can be killed with it.
            .process_group(0);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}; {INSTALL_HINT}", self.bin.display()));
        let status = wait_with_timeout(&mut child, RUN_TIMEOUT);
        kill_group(child.id());
        if status.is_none() {
            let _ = child.wait();
        }
        let run = ClaudeRun {
            code: status.and_then(|s| s.code()),
            timed_out: status.is_none(),
            elapsed: started.elapsed(),
            stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
            stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
            requests: api.requests(),
            api_stderr: fs::read_to_string(&api.stderr).unwrap_or_default(),
        };
        assert!(
            !run.timed_out,
            "claude did not finish within {RUN_TIMEOUT:?}\n{}",
            run.describe()
        );
        run
    }
}

/// What one `claude -p` run printed, and every request it sent to the fake API.
pub(crate) struct ClaudeRun {
    code: Option<i32>,
    timed_out: bool,
    elapsed: Duration,
    stdout: String,
    stderr: String,
    requests: Vec<Value>,
    api_stderr: String,
}

impl ClaudeRun {
    /// Asserts the CLI exited 0 and printed its `--output-format json` result without error.
    pub(crate) fn expect_success(&self) -> &Self {
        assert_eq!(self.code, Some(0), "claude failed\n{}", self.describe());
        let result: Value = serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("claude's stdout is not JSON ({e})\n{}", self.describe()));
        assert_eq!(
            result["is_error"],
            json!(false),
            "claude reported an error\n{}",
            self.describe()
        );
        self
    }

    /// The bodies of the conversation's requests (the ones answered from the script), in order.
    pub(crate) fn main_requests(&self) -> Vec<&Value> {
        self.requests
            .iter()
            .filter(|r| r["kind"] == "main")
            .map(|r| &r["body"])
            .collect()
    }

    /// Everything about the run, for a failure message.
    pub(crate) fn describe(&self) -> String {
        let requests: Vec<String> = self
            .requests
            .iter()
            .map(|r| format!("  {} {} ({})", r["method"], r["path"], r["kind"]))
            .collect();
        format!(
            "exit code {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- requests to the fake API\n{}\n--- fake API stderr (last lines)\n{}",
            self.code,
            self.elapsed,
            self.stdout,
            self.stderr,
            requests.join("\n"),
            tail(&self.api_stderr, 20),
        )
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The `tool_result` blocks of a request's last message: what the CLI reports back to the model
/// after running (or not running) the tools of the previous turn.
pub(crate) fn tool_results(request: &Value) -> Vec<&Value> {
    request["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_array())
        .map(|blocks| {
            blocks
                .iter()
                .filter(|b| b["type"] == "tool_result")
                .collect()
        })
        .unwrap_or_default()
}

/// A `tool_result`'s text, whether the CLI sent a string or a list of text blocks.
pub(crate) fn result_text(result: &Value) -> String {
    match &result["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

#[test]
fn a_pre_tool_use_deny_holds_a_write_and_the_model_is_shown_the_reason() {
    let Some(bin) = claude_bin() else { return };
    const WRITE_ID: &str = "toolu_01HeldByTestWrite000001";
    let script = |project: &Path| {
        json!({"turns": [
            {"tool_use": {"id": WRITE_ID, "name": "Write", "input": {
                "file_path": project.join("held.txt"), "content": "written\n"}}},
            {"text": "done"}
        ]})
    };

    // Control: with no hook the same scripted Write lands, so a missing file below is the
    // hook's doing and not a script the CLI ignored.
    let mut free = ClaudeHarness::new(bin.clone());
    let run = free.run("Write held.txt", &script(&free.project()));
    run.expect_success();
    assert_eq!(
        fs::read_to_string(free.project().join("held.txt"))
            .ok()
            .as_deref(),
        Some("written\n"),
        "without a hook the Write should have run\n{}",
        run.describe()
    );

    let deny = r#"echo '{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"held by test"}}'"#;
    let mut held = ClaudeHarness::new(bin).hooks(json!({
        "PreToolUse": [{"matcher": "*", "hooks": [{"type": "command", "command": deny}]}]
    }));
    let run = held.run("Write held.txt", &script(&held.project()));
    run.expect_success();
    assert!(
        !held.project().join("held.txt").exists(),
        "the hook denied the Write, yet the file was written\n{}",
        run.describe()
    );
    let main = run.main_requests();
    assert_eq!(
        main.len(),
        2,
        "expected the Write turn and the one after it\n{}",
        run.describe()
    );
    let results = tool_results(main[1]);
    let result = results
        .iter()
        .find(|r| r["tool_use_id"] == WRITE_ID)
        .unwrap_or_else(|| {
            panic!(
                "the request after the Write carries no tool_result for it: {}\n{}",
                main[1]["messages"],
                run.describe()
            )
        });
    assert!(
        result_text(result).contains("held by test"),
        "the tool_result does not carry the hook's reason: {result}"
    );
    assert_eq!(
        result["is_error"],
        json!(true),
        "a denied call is an error result: {result}"
    );
}
