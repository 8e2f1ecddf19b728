//! `maestro hook` under the real Claude Code CLI, with a local stand-in for the model API.
//!
//! `ClaudeHarness` runs the real `claude` (the one `MAESTRO_CLAUDE_BIN` names) in print mode
//! against `tests/fakes/anthropic_api.py`, which answers each model turn from a script (e.g. turn
//! 1 asks for a Write, turn 2 says "done") and logs every request the CLI sends, so a test sees
//! what Claude Code did with a tool call: whether the tool ran, and the `tool_result` the model
//! was shown. The CLI lives in a temporary HOME and project; the real `~/.claude` is never read
//! or written. One run takes about a second.
//!
//! The end-to-end test sets the project up as a user would (`maestro init --claude`) and walks
//! a run through its gates: Claude Code's edits and commands are held while a stage waits for
//! the person, its edits in read-only stages, and every session is told where the run stands.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{INSTALL_HINT, Test, claude_bin, repo};

/// A stalled CLI fails the test instead of hanging it; a run normally ends in about a second.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The fake API writes its port within a fraction of a second of starting.
const API_START_TIMEOUT: Duration = Duration::from_secs(20);

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
/// project's `.claude/settings.json`, or whatever the test set up there itself.
pub(crate) struct ClaudeHarness {
    bin: PathBuf,
    root: tempfile::TempDir,
    /// `None`: the harness leaves `.claude/settings.json` alone (e.g. `maestro init --claude`
    /// wrote it).
    hooks: Option<Value>,
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
            hooks: None,
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
        self.hooks = Some(hooks);
        self
    }

    /// Runs `claude -p PROMPT` with the model's turns taken from `script` (see
    /// tests/fakes/anthropic_api.py for its form) and returns what it printed and sent.
    pub(crate) fn run(&mut self, prompt: &str, script: &Value) -> ClaudeRun {
        self.run_with(prompt, &[], script)
    }

    /// As [`Self::run`], with more arguments for `claude` after the harness's own (e.g.
    /// `--session-id UUID`, `--resume UUID`, `--tools Read,Grep`).
    pub(crate) fn run_with(&mut self, prompt: &str, args: &[&str], script: &Value) -> ClaudeRun {
        self.runs += 1;
        let project = self.project();
        if let Some(hooks) = &self.hooks {
            fs::write(
                project.join(".claude/settings.json"),
                serde_json::to_vec_pretty(&json!({ "hooks": hooks })).expect("settings JSON"),
            )
            .expect("write settings.json");
        }
        let dir = self.root.path().join(format!("run{}", self.runs));
        let api = FakeApi::start(&dir, script);
        let (stdout_path, stderr_path) = (dir.join("claude.stdout"), dir.join("claude.stderr"));
        let mut cmd = self.command();
        cmd.arg("-p")
            .arg(prompt)
            .args(["--output-format", "json"])
            // Every tool runs without a prompt, so a tool that did not run was held by a hook
            // (a PreToolUse deny applies in every mode, this one included).
            .args(["--permission-mode", "bypassPermissions"])
            .args(args)
            .env(
                "ANTHROPIC_BASE_URL",
                format!("http://127.0.0.1:{}", api.port),
            )
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

    /// `claude` in the project, with the harness's HOME and a clean environment (no model
    /// yet: [`Self::run_with`] adds the fake API).
    fn command(&self) -> Command {
        let mut cmd = crate::support::isolated_claude(
            &self.bin,
            &self.root.path().join("home"),
            &self.project(),
        );
        // Any non-empty key: the fake API does not check it, and with a key set the CLI
        // never looks for a login.
        cmd.env("ANTHROPIC_API_KEY", "sk-ant-fake-key-for-tests")
            // As root (CI containers) the CLI refuses bypassPermissions ("cannot be used with
            // root/sudo privileges") unless told it runs in a sandbox, which a test's
            // throw-away project is.
            .env("IS_SANDBOX", "1");
        cmd
    }

    /// `claude ARGS` (e.g. `plugin install …`) in the harness's HOME and project; it must
    /// succeed. Returns its stdout.
    pub(crate) fn cli(&self, args: &[&str]) -> String {
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run claude");
        assert!(
            out.status.success(),
            "claude {} failed: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
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

    /// Every tool the model was shown in this run: a tool in a request's `tools`, except a
    /// deferred one (`defer_loading`: Claude Code 2.1.328 and 2.1.337 name MCP tools and some
    /// of their own only until `ToolSearch` loads them) that no `tool_reference` of the
    /// conversation has loaded. The fake API loads a scripted tool that way before calling it,
    /// so a tool of maestro's server shows here only when the CLI had its definition.
    pub(crate) fn shown_tools(&self) -> BTreeSet<String> {
        let mut shown = BTreeSet::new();
        for request in self.main_requests() {
            let loaded: BTreeSet<&str> = request["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|m| m["content"].as_array().into_iter().flatten())
                .filter(|b| b["type"] == "tool_result")
                .flat_map(|b| b["content"].as_array().into_iter().flatten())
                .filter(|r| r["type"] == "tool_reference")
                .filter_map(|r| r["tool_name"].as_str())
                .collect();
            for tool in request["tools"].as_array().into_iter().flatten() {
                let Some(name) = tool["name"].as_str() else {
                    continue;
                };
                if tool["defer_loading"] != json!(true) || loaded.contains(name) {
                    shown.insert(name.to_string());
                }
            }
        }
        shown
    }

    /// The `tool_result` the CLI sent the model for the tool call `id`, from any request of
    /// this run (a resumed conversation repeats earlier results, so a scenario gives each of
    /// its tool calls an id of its own).
    pub(crate) fn result_for(&self, id: &str) -> &Value {
        self.main_requests()
            .into_iter()
            .flat_map(|r| r["messages"].as_array().into_iter().flatten())
            .flat_map(|m| m["content"].as_array().into_iter().flatten())
            .find(|b| b["type"] == "tool_result" && b["tool_use_id"] == id)
            .unwrap_or_else(|| {
                panic!(
                    "no tool_result for the tool call {id} reached the fake API\n{}",
                    self.describe()
                )
            })
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
#[cfg_attr(
    maestro_missing = "claude",
    ignore = "needs Claude Code's CLI: set MAESTRO_CLAUDE_BIN (README, \"Running the tests\")"
)]
fn a_pre_tool_use_deny_holds_a_write_and_the_model_is_shown_the_reason() {
    const WRITE_ID: &str = "toolu_01HeldByTestWrite000001";
    let bin = claude_bin("maestro's hooks");
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

/// The Claude Code sessions of the end-to-end test, fixed with `--session-id` so the test knows
/// which session started a run and which one made a call.
const SESSION: &str = "0b5e1a8c-3f2d-4c6e-9a71-5d2f8e4b7c10";
const OTHER_SESSION: &str = "0b5e1a8c-3f2d-4c6e-9a71-5d2f8e4b7c20";

/// A file of the project that the model reads and tries to edit.
const PARSER: &str = "pub fn parse(input: &str) -> Option<u32> {\n    input.parse().ok()\n}\n";

/// A tool call id shaped like the API's (`toolu_01` and 22 characters), one per call of the
/// scenario so that each call's result can be found.
fn tool_id(tag: &str) -> String {
    format!("toolu_01{tag:0<22}")
}

/// `maestro ARGS` in the project, as the person runs it in a terminal; it must succeed.
fn maestro(project: &Path, args: &[&str]) -> crate::support::Output {
    Test::new().args(args).current_dir(project).expect(0)
}

/// The run's audit trail: `maestro log RUN --jsonl`.
fn trail(project: &Path, run: &str) -> Vec<Value> {
    maestro(project, &["log", run, "--jsonl"]).json_lines()
}

/// The one approval waiting for `run`, as `maestro approvals --json` lists it.
fn pending_approval(project: &Path, run: &str) -> Value {
    let list = maestro(project, &["approvals", "--json"]).stdout;
    let all: Value = serde_json::from_str(&list).expect("approvals --json");
    let mine: Vec<&Value> = all
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["run_id"] == run)
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "expected one approval waiting for {run}: {list}"
    );
    mine[0].clone()
}

/// The person approves in a terminal, answering every critical question, as
/// `maestro approve --no-input` requires.
fn approve(project: &Path, approval: &Value) {
    let id = approval["approval_id"].as_str().expect("approval_id");
    let out = crate::mcp::approve_answering_in(project, id);
    assert_eq!(out.code, 0, "maestro approve {id}: {}", out.stderr);
}

/// Every line of every string in a request body that contains `needle`: the context hooks add
/// reaches the model as text somewhere in the request (Claude Code 2.1.197 puts it in a
/// `"role": "system"` entry of `messages`, prefixed "SessionStart hook additional context: ",
/// and again after "UserPromptSubmit hook additional context: "), and where is the CLI's
/// business; that it arrives is what matters.
fn lines_with(body: &Value, needle: &str) -> Vec<String> {
    fn walk(v: &Value, needle: &str, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                out.extend(s.lines().filter(|l| l.contains(needle)).map(str::to_string));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, needle, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, needle, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(body, needle, &mut out);
    out
}

/// Asserts the model was told where the run stands, in the first request of `claude`: a
/// `maestro:` line that holds every one of `parts`.
fn assert_told(run: &ClaudeRun, parts: &[&str]) {
    let first = run.main_requests()[0];
    let lines = lines_with(first, "maestro: ");
    assert!(
        lines.iter().any(|l| parts.iter().all(|p| l.contains(p))),
        "no `maestro:` context line with {parts:?} reached the model; the lines were:\n{}\n{}",
        lines.join("\n"),
        run.describe()
    );
}

/// Asserts the call `id` was refused with words holding every one of `parts`.
fn assert_denied(run: &ClaudeRun, id: &str, parts: &[&str]) {
    let result = run.result_for(id);
    let text = result_text(result);
    assert_eq!(
        result["is_error"],
        json!(true),
        "the call {id} was not refused: {result}\n{}",
        run.describe()
    );
    for p in parts {
        assert!(
            text.contains(p),
            "the refusal of {id} does not say {p:?}: {text}"
        );
    }
}

/// Asserts the call `id` ran, and returns what it answered.
fn assert_ran(run: &ClaudeRun, id: &str) -> String {
    let result = run.result_for(id);
    assert_ne!(
        result["is_error"],
        json!(true),
        "the call {id} failed: {result}\n{}",
        run.describe()
    );
    result_text(result)
}

/// The issue's "done when": while a stage waits for the person, Claude Code cannot edit the
/// project, and is told why and how the person decides. Everything is real but the model: a
/// project set up with `maestro init --claude`, Claude Code's CLI loading maestro's server
/// from `.mcp.json` and running `maestro hook` from `.claude/settings.json`, and the person's
/// decisions in a terminal. Four `claude -p` runs of about two seconds each.
#[test]
#[cfg_attr(
    maestro_missing = "claude",
    ignore = "needs Claude Code's CLI: set MAESTRO_CLAUDE_BIN (README, \"Running the tests\")"
)]
fn while_a_stage_waits_for_the_person_claude_code_cannot_edit_and_is_told_how_they_decide() {
    let bin = claude_bin("maestro's hooks");
    let mut claude = ClaudeHarness::new(bin);
    let project = claude.project();
    fs::create_dir_all(project.join(".git")).expect("a git root");
    fs::create_dir_all(project.join("src")).expect("src");
    let parser = project.join("src/parser.rs");
    fs::write(&parser, PARSER).expect("parser.rs");
    maestro(&project, &["init", "--claude"]);

    let notes = project.join("notes.md");
    let made_by_bash = project.join("made-by-bash");
    let write = |tag: &str| {
        json!({"tool_use": {"id": tool_id(tag), "name": "Write",
            "input": {"file_path": notes, "content": "# Notes\n"}}})
    };
    let bash = |tag: &str| {
        json!({"tool_use": {"id": tool_id(tag), "name": "Bash",
            "input": {"command": "touch made-by-bash", "description": "Make a file"}}})
    };
    let submit = |tag: &str, output: Value| {
        json!({"tool_use": {"id": tool_id(tag), "name": "mcp__maestro__submit",
            "input": {"run_id": "$RUN_ID", "output": output}}})
    };

    // 1. The session starts a run. No flag loads the project's `.mcp.json`: in print mode
    // Claude Code approves its servers by itself as long as project settings are a setting
    // source (the default), where an interactive session would ask the person once; so this
    // is the server a user's `claude` starts, not one a test flag adds. `analyze` is marked
    // `edits #false`, so the Write is held; then the model submits and the run waits at the
    // stage's `by "human"` gate, where a Read still runs but an Edit and a command do not.
    let run1 = claude.run_with(
        "Fix the parser, with maestro",
        &["--session-id", SESSION],
        &json!({"turns": [
            {"tool_use": {"id": tool_id("Start"), "name": "mcp__maestro__start",
                "input": {"task": "fix the parser", "workflow": "default"}}},
            write("AnalyzeWrite"),
            submit("AnalyzeSubmit", crate::mcp::analysis(0.8)),
            {"tool_use": {"id": tool_id("GateRead"), "name": "Read",
                "input": {"file_path": parser}}},
            {"tool_use": {"id": tool_id("GateEdit"), "name": "Edit", "input": {
                "file_path": parser, "old_string": "input.parse()",
                "new_string": "input.trim().parse()"}}},
            bash("GateBash"),
            // Not one of the tools a list once named: at a gate only reads pass (issue 21).
            {"tool_use": {"id": tool_id("GateWorktree"), "name": "EnterWorktree",
                "input": {"name": "side"}}},
            {"text": "The analysis waits for your review."}
        ]}),
    );
    run1.expect_success();
    let tools = run1.shown_tools();
    assert!(
        tools.contains("mcp__maestro__start"),
        "the `maestro` server of the project's .mcp.json did not reach the model; its tools: {tools:?}\n{}",
        run1.describe()
    );
    let started: Value =
        serde_json::from_str(&assert_ran(&run1, &tool_id("Start"))).expect("start answers JSON");
    let run = started["run_id"].as_str().expect("run_id").to_string();
    assert_denied(
        &run1,
        &tool_id("AnalyzeWrite"),
        &[&run, "stage `analyze`", "read-only (`edits #false`)"],
    );
    let submitted: Value = serde_json::from_str(&assert_ran(&run1, &tool_id("AnalyzeSubmit")))
        .expect("submit answers JSON");
    assert_eq!(submitted["outcome"], "awaiting_approval", "{submitted}");
    let approval = pending_approval(&project, &run);
    let apr = approval["approval_id"].as_str().expect("approval_id");
    let approve_cmd = format!("maestro approve {apr}");
    let gate_words = [run.as_str(), "stage `analyze`", apr, &approve_cmd];
    assert!(assert_ran(&run1, &tool_id("GateRead")).contains("input.parse()"));
    assert_denied(&run1, &tool_id("GateEdit"), &gate_words);
    assert_denied(&run1, &tool_id("GateBash"), &gate_words);
    assert!(
        tools.contains("EnterWorktree"),
        "Claude Code no longer offers EnterWorktree; pick another tool no list names: {tools:?}"
    );
    assert_denied(&run1, &tool_id("GateWorktree"), &gate_words);
    assert!(
        !project.join(".claude/worktrees").exists(),
        "a held EnterWorktree made a worktree"
    );
    assert!(!notes.exists(), "a held Write wrote notes.md");
    assert!(!made_by_bash.exists(), "a held Bash command ran");
    assert_eq!(
        fs::read_to_string(&parser).expect("parser.rs"),
        PARSER,
        "a held Edit changed parser.rs"
    );
    // Claude Code gave the server it started its session: the run records it.
    let started_event = trail(&project, &run)
        .into_iter()
        .find(|e| e["kind"] == "run_started")
        .expect("a run_started event");
    assert_eq!(
        started_event["data"]["session"], SESSION,
        "the run did not record the Claude Code session that started it (CLAUDE_CODE_SESSION_ID in `maestro serve`'s environment): {started_event}"
    );

    // 2. Another session of the same project (a second terminal) is told, as it starts, that
    // a run waits for the person, and is held too: the person judges the work tree every
    // session shares.
    let run2 = claude.run_with(
        "Where do things stand?",
        &["--session-id", OTHER_SESSION],
        &json!({"turns": [write("OtherWrite"), {"text": "A stage waits for you."}]}),
    );
    run2.expect_success();
    let waits = format!("approval {apr} waits for a person");
    let other_run = format!("another session's run {run}");
    assert_told(&run2, &[&other_run, "stage `analyze`", &waits]);
    assert_denied(&run2, &tool_id("OtherWrite"), &gate_words);
    assert!(!notes.exists(), "a held Write wrote notes.md");

    // 3. The person approves in a terminal; the run moves to `hypothesize`, read-only too. The
    // session that started the run comes back (`--resume`), is told where its run stands,
    // and its Write is held for the stage, not the gate; it submits its hypotheses.
    approve(&project, &approval);
    let run3 = claude.run_with(
        "The analysis is approved; go on",
        &["--resume", SESSION],
        &json!({"turns": [
            write("HypothesizeWrite"),
            submit("HypothesizeSubmit", crate::mcp::hypotheses()),
            {"text": "The hypotheses wait for your review."}
        ]}),
    );
    run3.expect_success();
    let own_run = format!("this session's run {run}");
    assert_told(&run3, &[&own_run, "stage `hypothesize`", "read-only"]);
    assert_denied(
        &run3,
        &tool_id("HypothesizeWrite"),
        &[&run, "stage `hypothesize`", "read-only (`edits #false`)"],
    );
    assert!(!notes.exists(), "a held Write wrote notes.md");
    let submitted: Value = serde_json::from_str(&assert_ran(&run3, &tool_id("HypothesizeSubmit")))
        .expect("submit answers JSON");
    assert_eq!(submitted["outcome"], "awaiting_approval", "{submitted}");

    // 4. Approved again, the run is in `implement`, where edits and commands run: the same
    // Write and command now land (so the files missing above were the hook's doing).
    approve(&project, &pending_approval(&project, &run));
    let run4 = claude.run_with(
        "The hypotheses are approved; implement",
        &["--resume", SESSION],
        &json!({"turns": [
            write("ImplementWrite"),
            bash("ImplementBash"),
            {"text": "Implemented."}
        ]}),
    );
    run4.expect_success();
    assert_told(&run4, &[&own_run, "stage `implement`"]);
    assert_ran(&run4, &tool_id("ImplementWrite"));
    assert_ran(&run4, &tool_id("ImplementBash"));
    assert_eq!(
        fs::read_to_string(&notes).ok().as_deref(),
        Some("# Notes\n"),
        "in `implement` the Write should have run\n{}",
        run4.describe()
    );
    assert!(
        made_by_bash.exists(),
        "in `implement` the command should have run\n{}",
        run4.describe()
    );

    // Every refusal is in the run's trail, with the session, tool, rule and stage; the calls
    // that ran are not.
    let denials: Vec<Value> = trail(&project, &run)
        .into_iter()
        .filter(|e| e["kind"] == "tool_denied")
        .map(|e| {
            json!([
                e["data"]["session"],
                e["data"]["tool"],
                e["data"]["rule"],
                e["data"]["stage"]
            ])
        })
        .collect();
    assert_eq!(
        denials,
        [
            json!([SESSION, "Write", "read_only_stage", "analyze"]),
            json!([SESSION, "Edit", "human_gate", "analyze"]),
            json!([SESSION, "Bash", "human_gate", "analyze"]),
            json!([SESSION, "EnterWorktree", "human_gate", "analyze"]),
            json!([OTHER_SESSION, "Write", "human_gate", "analyze"]),
            json!([SESSION, "Write", "read_only_stage", "hypothesize"]),
        ]
    );
}

/// The plugin route, as the README gives it: nothing in the project but its own files; the
/// marketplace added and the plugin installed in the user's Claude Code. The plugin's server
/// and hooks then hold a read-only stage and a gate as `init --claude` does.
#[test]
#[cfg_attr(
    maestro_missing = "claude",
    ignore = "needs Claude Code's CLI: set MAESTRO_CLAUDE_BIN (README, \"Running the tests\")"
)]
fn the_installed_plugin_brings_the_server_and_the_guards() {
    let bin = claude_bin("the installed plugin");
    let mut claude = ClaudeHarness::new(bin);
    let project = claude.project();
    fs::create_dir_all(project.join(".git")).expect("a git root");
    claude.cli(&[
        "plugin",
        "marketplace",
        "add",
        repo().to_str().expect("utf-8"),
    ]);
    claude.cli(&["plugin", "install", "maestro@maestro"]);
    // The plugin's server is named `plugin:maestro:maestro`, so its tools are too.
    let tool = |name: &str| format!("mcp__plugin_maestro_maestro__{name}");
    let notes = project.join("notes.md");
    let write = |tag: &str| {
        json!({"tool_use": {"id": tool_id(tag), "name": "Write",
            "input": {"file_path": notes, "content": "# Notes\n"}}})
    };
    let run1 = claude.run_with(
        "Fix the parser, with maestro",
        &["--session-id", SESSION],
        &json!({"turns": [
            {"tool_use": {"id": tool_id("Start"), "name": tool("start"),
                "input": {"task": "fix the parser", "workflow": "default"}}},
            write("AnalyzeWrite"),
            {"tool_use": {"id": tool_id("AnalyzeSubmit"), "name": tool("submit"),
                "input": {"run_id": "$RUN_ID", "output": crate::mcp::analysis(0.8)}}},
            {"tool_use": {"id": tool_id("GateBash"), "name": "Bash",
                "input": {"command": "touch made-by-bash", "description": "Make a file"}}},
            {"text": "The analysis waits for your review."}
        ]}),
    );
    run1.expect_success();
    let started: Value =
        serde_json::from_str(&assert_ran(&run1, &tool_id("Start"))).expect("start answers JSON");
    let run = started["run_id"].as_str().expect("run_id").to_string();
    // The project had no maestro files: the state file is the server's, from the plugin.
    assert!(project.join(".maestro/state.db").is_file());
    assert!(!project.join(".mcp.json").exists() && !project.join(".claude/settings.json").exists());
    assert_denied(
        &run1,
        &tool_id("AnalyzeWrite"),
        &[&run, "read-only (`edits #false`)"],
    );
    let apr = pending_approval(&project, &run)["approval_id"]
        .as_str()
        .expect("approval_id")
        .to_string();
    assert_denied(
        &run1,
        &tool_id("GateBash"),
        &[&run, &apr, "maestro approve"],
    );
    assert!(!notes.exists() && !project.join("made-by-bash").exists());
    // The skill came with it.
    let skills = claude.cli(&["plugin", "details", "maestro@maestro"]);
    assert!(skills.contains("Skills (1)"), "{skills}");
}
