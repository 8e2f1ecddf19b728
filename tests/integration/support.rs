//! `Test`: runs the real binary in an isolated environment and checks what it printed.
//!
//! # Tests that need a program from outside the crate
//!
//! Some tests drive a program this crate does not build: Claude Code's CLI (`claude_hooks`,
//! `plugin`), the official MCP conformance suite (`http`), Chromium and ChromeDriver (`web`).
//! Where one is missing, its tests are reported as **ignored, with the reason**, never as
//! passed: `cargo test` lists `test plugin::… ... ignored, needs Claude Code's CLI: …` and its
//! integration summary says `… passed; 0 failed; N ignored`. They used to print "skipped" into
//! output that libtest captures and then count as passed, so a newcomer read "199 passed".
//!
//! libtest decides "ignored" when a test is compiled, so `build.rs` (`missing_test_programs`)
//! looks for each program where its tests do (`MAESTRO_CLAUDE_BIN`, `MAESTRO_CONFORMANCE_DIR`,
//! `/usr/bin/chromium` and `/usr/bin/chromedriver`) and sets `cfg(maestro_missing = "claude" |
//! "conformance" | "browser")` for each one missing; each such test carries
//! `#[cfg_attr(maestro_missing = "…", ignore = "…")]`. Cargo runs the script again when one of
//! those variables changes or a program is installed or removed, so `MAESTRO_CLAUDE_BIN=…
//! cargo test` runs the tests it had ignored (after rebuilding the crate once). The other ways
//! we weighed say less: a line printed at the end of the run cannot come from the tests (a
//! test's output is captured, the order of tests is not fixed, and libtest's summary comes
//! last), so only a wrapper could print it, and `cargo test`, the README's command, has none
//! (`.ci/run` does add one, naming what it could not install); a test that fails unless told
//! to skip would make a fresh `cargo test` fail on a machine without the programs.
//!
//! Under CI (`CI` set, as `.ci/run` runs on CI machines) nothing is ignored: a missing program
//! fails its test with how to install it, so CI cannot pass without them. A test run without
//! its program anyway (`cargo test -- --include-ignored`) fails the same way.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// How to get Claude Code's CLI, as a hint in messages.
pub(crate) const INSTALL_HINT: &str = "`.ci/run` installs it with npm (npm install --prefix ~/.cache/maestro-claude-code @anthropic-ai/claude-code@2.1.197) and sets MAESTRO_CLAUDE_BIN to its node_modules/.bin/claude";

/// `claude` (the real CLI at `bin`) in a home of its own, run in `cwd`: a clean environment
/// (the developer's own Claude Code settings and credentials, CLAUDE_*, ANTHROPIC_* or
/// MAESTRO_HOME, neither leak in nor are used); HOME, the XDG folders and CLAUDE_CONFIG_DIR
/// (where the CLI keeps `settings.json`, `.claude.json` and `plugins/`) inside `home`; no
/// update check, telemetry or feature-flag fetch (the machine may have no network, and a test
/// must not call anthropic.com); the `maestro` under test first on PATH.
pub(crate) fn isolated_claude(bin: &Path, home: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(cwd)
        .env_clear()
        .env("PATH", path_with_maestro_first())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("CLAUDE_CONFIG_DIR", home.join(".claude"))
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("NO_COLOR", "1");
    if let Some(tmp) = std::env::var_os("TMPDIR") {
        cmd.env("TMPDIR", tmp);
    }
    cmd
}

/// PATH with the folder of the `maestro` under test first: hooks and servers name `maestro`
/// (found on PATH, as for a user after `cargo install`), and another maestro installed on this
/// machine must not answer in its place.
fn path_with_maestro_first() -> std::ffi::OsString {
    let maestro_dir = Path::new(env!("CARGO_BIN_EXE_maestro"))
        .parent()
        .expect("the maestro binary has a directory");
    std::env::join_paths(
        std::iter::once(maestro_dir.to_path_buf()).chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths),
        ),
    )
    .expect("PATH")
}

/// The `claude` executable named by `MAESTRO_CLAUDE_BIN`. A test that calls this carries
/// `#[cfg_attr(maestro_missing = "claude", ignore = …)]` (see the module's documentation), so
/// it runs without the variable only under CI or when asked to, and then fails: `what` (e.g.
/// "the plugin") would go untested.
pub(crate) fn claude_bin(what: &str) -> PathBuf {
    let bin = std::env::var_os("MAESTRO_CLAUDE_BIN")
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "MAESTRO_CLAUDE_BIN is not set, so {what} cannot be tested with Claude Code's CLI (the path of its `claude` executable, npm @anthropic-ai/claude-code); {INSTALL_HINT}"
            )
        });
    let bin = PathBuf::from(bin);
    assert!(
        bin.is_file(),
        "MAESTRO_CLAUDE_BIN={} is not a file; {INSTALL_HINT}",
        bin.display()
    );
    bin
}

pub(crate) struct Output {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    /// Parses `--format json` output: one object per line.
    pub(crate) fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

pub(crate) struct Test {
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    cwd: PathBuf,
    env: Vec<(String, String)>,
    /// The isolated config dir (`XDG_CONFIG_HOME`), alive for the run.
    config: tempfile::TempDir,
}

impl Test {
    pub(crate) fn new() -> Self {
        Self {
            args: Vec::new(),
            stdin: None,
            cwd: repo(),
            env: Vec::new(),
            config: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub(crate) fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| (*s).to_string()));
        self
    }

    pub(crate) fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub(crate) fn current_dir(mut self, dir: &Path) -> Self {
        self.cwd = dir.to_path_buf();
        self
    }

    pub(crate) fn run(self) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_maestro"));
        cmd.args(&self.args)
            .current_dir(&self.cwd)
            .env_remove("MAESTRO_HOME")
            // Tests run inside Claude Code too; its session must not leak into maestro's.
            .env_remove("CLAUDE_CODE_SESSION_ID")
            .env_remove("CLAUDE_PROJECT_DIR")
            .env("XDG_CONFIG_HOME", self.config.path())
            .env("NO_COLOR", "1")
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn maestro");
        if let Some(input) = &self.stdin {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(input).expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and asserts the exit code, printing everything on failure.
    pub(crate) fn expect(self, code: i32) -> Output {
        let desc = self.args.join(" ");
        let out = self.run();
        assert_eq!(
            out.code, code,
            "`maestro {desc}` exited {}\n--- stdout\n{}\n--- stderr\n{}",
            out.code, out.stdout, out.stderr
        );
        out
    }
}
