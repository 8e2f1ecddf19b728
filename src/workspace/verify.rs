//! The project's own checks (`conf/verify.yaml`): named argv commands run without a shell,
//! with timeouts and process-group kill; output kept to its tail; pass/fail counts parsed for
//! cargo test, pytest, unittest, jest/vitest and go test. Only configured checks can run: a
//! tool call must not become a way around the client's own permission prompts.
//!
//! A check ends `passed`, `failed`, or `cannot_run`: a program that never started (not
//! installed, not executable, a missing Python module) tested nothing, so it is not reported
//! as a failing test (`runnable.rs` tells them apart); `propose.rs` is what `maestro init`
//! writes, proposing only what can run here.

mod propose;
mod runnable;

pub(crate) use propose::{Proposal, proposal};
pub(crate) use runnable::probe;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::process::{self, Ended, Spec};
use crate::source::SourceFile;
use crate::syntax::ast::Value;
use crate::syntax::yaml::{self, YKind, YNode};

/// Output kept per check (the tail, where test summaries are).
const KEEP: usize = 16 * 1024;

/// One configured check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub argv: Vec<String>,
    pub timeout: Duration,
    pub cwd: Option<String>,
    pub source: CheckSource,
}

/// Where a check is configured, shown with its result: a check that the project's own file
/// does not name (the user's config folder, `MAESTRO_HOME`) says so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CheckSource {
    /// The file that names the check.
    pub file: String,
    /// The file is not the project's own `.maestro/conf/verify.yaml`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub outside_project: bool,
}

/// Pass/fail counts parsed from a runner's summary.
#[derive(
    Debug, Clone, Copy, Default, Serialize, serde::Deserialize, PartialEq, Eq, schemars::JsonSchema,
)]
pub(crate) struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl Counts {
    /// ` (3 passed, 1 failed, 0 skipped)` for a result that has counts, else nothing: how a
    /// check's line ends in the CLI and in the evidence.
    #[must_use]
    pub(crate) fn suffix(counts: Option<Counts>) -> String {
        counts
            .map(|c| {
                format!(
                    " ({} passed, {} failed, {} skipped)",
                    c.passed, c.failed, c.skipped
                )
            })
            .unwrap_or_default()
    }
}

/// How a check ended: `cannot_run` when its program never started (nothing was tested).
// Variants carry no `///`: in the MCP output schema each would become a `oneOf` branch.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    // The program ran and exited 0.
    Passed,
    // The program ran and did not pass: a non-zero exit, a signal, its timeout.
    Failed,
    // Not found on PATH, not executable, exit 127 or 126 (a program it starts is missing), a
    // Python module `-m` names is not installed, or a `cwd` that cannot be used.
    CannotRun,
}

impl CheckStatus {
    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
            CheckStatus::CannotRun => "cannot run",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct CheckResult {
    pub name: String,
    pub command: Vec<String>,
    pub status: CheckStatus,
    /// With `cannot_run`: why, and what to do.
    pub reason: Option<String>,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub(crate) counts: Option<Counts>,
    pub duration_ms: u64,
    /// The tail of stdout and stderr, masked.
    pub output: String,
    /// Where the check is configured.
    pub source: CheckSource,
}

fn scalar(n: &YNode) -> Option<String> {
    match &n.kind {
        YKind::Scalar(Value::String(s)) => Some(s.clone()),
        YKind::Scalar(Value::Int(i)) => Some(i.to_string()),
        _ => None,
    }
}

/// The keys a check may have.
const CHECK_KEYS: &[&str] = &["run", "timeout", "cwd"];

/// What is wrong with a check's `cwd` as written (before looking at the disk), if anything.
fn cwd_problem(cwd: &str) -> Option<String> {
    let path = Path::new(cwd);
    if path.is_absolute() {
        return Some(format!(
            "`cwd` `{cwd}` is absolute; give a directory relative to the workspace root"
        ));
    }
    if path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Some(format!(
            "`cwd` `{cwd}` contains `..`; give a directory inside the workspace"
        ));
    }
    None
}

/// Parses `conf/verify.yaml`: `checks: { name: { run: [argv...], timeout: 10m, cwd: dir } }`.
/// A check with a problem is left out (it cannot run) and its problem names it.
#[must_use]
pub(crate) fn parse_config(name: &str, text: &str) -> (Vec<Check>, Vec<String>) {
    use crate::syntax::conf::{Duplicates, shown, unknown_keys};
    let src = Arc::new(SourceFile::new(name, text));
    let mut diags = Vec::new();
    let mut problems = Vec::new();
    let Some(tree) = yaml::parse_tree(&src, &mut diags) else {
        problems.extend(diags.iter().map(|d| format!("{name}: {}", d.message)));
        return (Vec::new(), problems);
    };
    problems.extend(
        unknown_keys(&tree, &["checks"], "the file")
            .into_iter()
            .map(|p| format!("{name}: {p}")),
    );
    let Some(
        map @ YNode {
            kind: YKind::Map(entries),
            ..
        },
    ) = tree.get("checks")
    else {
        problems.push(format!("{name}: no `checks:` mapping"));
        return (Vec::new(), problems);
    };
    let dups = Duplicates::sort(&src, &diags, map);
    problems.extend(dups.other.iter().map(|m| format!("{name}: {m}")));
    let mut out = Vec::new();
    for (i, (k, v)) in entries.iter().enumerate() {
        let check = k.key_text();
        let mut why: Vec<String> = dups.inside[i].clone();
        if dups.names.contains(&check) {
            why.push(
                "the name is given twice; neither runs until one is removed or renamed".into(),
            );
        }
        if !matches!(v.kind, YKind::Map(_)) {
            why.push(format!(
                "must be a mapping with `run` (and `timeout`, `cwd`), not {}",
                shown(v)
            ));
        }
        why.extend(unknown_keys(v, CHECK_KEYS, "the check"));
        let argv: Option<Vec<String>> = match v.get("run").map(|r| &r.kind) {
            Some(YKind::Seq(items)) => items.iter().map(scalar).collect(),
            _ => None,
        };
        let argv = argv.filter(|a| !a.is_empty());
        match &argv {
            None if matches!(v.kind, YKind::Map(_)) => {
                why.push("`run` must be a non-empty argv list (no shell)".into());
            }
            Some(argv)
                if matches!(
                    argv[0].as_str(),
                    "sh" | "bash" | "zsh" | "/bin/sh" | "/bin/bash"
                ) && argv.get(1).is_some_and(|a| a == "-c") =>
            {
                why.push(
                    "a shell command line is not allowed; list the program and its arguments"
                        .into(),
                );
            }
            _ => {}
        }
        let timeout = match v.get("timeout") {
            None => Some(600),
            Some(t) => {
                let secs = match &t.kind {
                    YKind::Scalar(Value::Int(i)) => u64::try_from(*i).ok(),
                    YKind::Scalar(Value::String(s)) => crate::syntax::keys::parse_duration(s),
                    _ => None,
                };
                match secs {
                    Some(0) => {
                        why.push("`timeout` must be longer than 0 s".into());
                        None
                    }
                    Some(s) => Some(s),
                    None => {
                        why.push(format!(
                            "`timeout` must be a duration like `90s`, `10m`, `1h` or a whole number of seconds, not {}",
                            shown(t)
                        ));
                        None
                    }
                }
            }
        };
        let cwd = match v.get("cwd") {
            None => None,
            Some(c) => match &c.kind {
                YKind::Scalar(Value::String(s)) => {
                    why.extend(cwd_problem(s));
                    Some(s.clone())
                }
                _ => {
                    why.push(format!(
                        "`cwd` must be a directory relative to the workspace root, not {}",
                        shown(c)
                    ));
                    None
                }
            },
        };
        match (argv, timeout) {
            (Some(argv), Some(timeout)) if why.is_empty() => out.push(Check {
                name: check,
                argv,
                timeout: Duration::from_secs(timeout),
                cwd,
                source: CheckSource {
                    file: name.to_string(),
                    outside_project: false,
                },
            }),
            _ => problems.extend(why.into_iter().map(|w| format!("check `{check}`: {w}"))),
        }
    }
    (out, problems)
}

/// The directory a check runs in: `root`, or its `cwd` inside `root` after resolving links.
///
/// # Errors
/// A sentence naming the check when the directory is missing or leads outside the workspace.
fn check_dir(root: &Path, check: &Check) -> Result<std::path::PathBuf, String> {
    let root = root.canonicalize().map_err(|e| {
        format!(
            "check `{}`: the workspace root {} cannot be resolved: {e}",
            check.name,
            root.display()
        )
    })?;
    let Some(cwd) = &check.cwd else {
        return Ok(root);
    };
    if let Some(why) = cwd_problem(cwd) {
        return Err(format!("check `{}`: {why}; not run", check.name));
    }
    let dir = root.join(cwd).canonicalize().map_err(|e| {
        format!(
            "check `{}`: `cwd` `{cwd}` cannot be used ({e}); create it or fix conf/verify.yaml; not run",
            check.name
        )
    })?;
    if !dir.starts_with(&root) {
        return Err(format!(
            "check `{}`: `cwd` `{cwd}` leads outside the workspace (to {}) through a link; not run",
            check.name,
            dir.display()
        ));
    }
    if !dir.is_dir() {
        return Err(format!(
            "check `{}`: `cwd` `{cwd}` is not a directory; not run",
            check.name
        ));
    }
    Ok(dir)
}

fn num(re: &Regex, text: &str) -> u64 {
    re.captures_iter(text)
        .filter_map(|c| c.get(1)?.as_str().parse::<u64>().ok())
        .sum()
}

/// Counts from unittest's `Ran N tests` and its closing `OK (skipped=1)` or
/// `FAILED (failures=1, errors=2)` line.
fn unittest_counts(output: &str) -> Option<Counts> {
    use std::sync::LazyLock;
    static RAN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?m)^Ran (\d+) tests? in ").expect("valid"));
    static END: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?m)^(?:OK|FAILED)(?: \((.*)\))?\s*$").expect("valid"));
    static PART: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\w+)=(\d+)").expect("valid"));
    let ran: u64 = RAN.captures_iter(output).last()?[1].parse().ok()?;
    let end = END.captures_iter(output).last()?;
    let mut c = Counts::default();
    for part in PART.captures_iter(end.get(1).map_or("", |m| m.as_str())) {
        let n: u64 = part[2].parse().unwrap_or(0);
        match &part[1] {
            "failures" | "errors" | "unexpected_successes" => c.failed += n,
            "skipped" => c.skipped += n,
            _ => {}
        }
    }
    c.passed = ran.saturating_sub(c.failed + c.skipped);
    Some(c)
}

/// Pass/fail counts from the summary lines of cargo test, pytest, unittest, jest, vitest or
/// go test.
#[must_use]
pub(crate) fn parse_counts(output: &str) -> Option<Counts> {
    use std::sync::LazyLock;
    static CARGO: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored").expect("valid")
    });
    static JEST: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?m)^Tests:\s+(.*)$").expect("valid"));
    static VITEST: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?m)^\s*Tests\s+(.*\(\d+\))\s*$").expect("valid"));
    static PYTEST: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?m)^=*\s*((?:\d+ \w+(?:, )?)+)(?: in [\d.]+s)?\s*=*\s*$").expect("valid")
    });
    static PASSED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d+) passed").expect("valid"));
    static FAILED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d+) failed").expect("valid"));
    static SKIPPED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(\d+) (?:skipped|ignored|todo|pending)").expect("valid"));
    static GO_PASS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?m)^\s*--- PASS").expect("valid"));
    static GO_FAIL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?m)^\s*--- FAIL").expect("valid"));
    static GO_SKIP: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?m)^\s*--- SKIP").expect("valid"));
    if CARGO.is_match(output) {
        let mut c = Counts::default();
        for cap in CARGO.captures_iter(output) {
            c.passed += cap[1].parse::<u64>().unwrap_or(0);
            c.failed += cap[2].parse::<u64>().unwrap_or(0);
            c.skipped += cap[3].parse::<u64>().unwrap_or(0);
        }
        return Some(c);
    }
    let summary = JEST
        .captures_iter(output)
        .last()
        .or_else(|| VITEST.captures_iter(output).last())
        .map(|c| c[1].to_string())
        .or_else(|| {
            PYTEST
                .captures_iter(output)
                .last()
                .map(|c| c[1].to_string())
                .filter(|s| s.contains("passed") || s.contains("failed"))
        });
    if let Some(s) = summary {
        return Some(Counts {
            passed: num(&PASSED, &s),
            failed: num(&FAILED, &s),
            skipped: num(&SKIPPED, &s),
        });
    }
    if let Some(c) = unittest_counts(output) {
        return Some(c);
    }
    let (p, f, s) = (
        GO_PASS.find_iter(output).count(),
        GO_FAIL.find_iter(output).count(),
        GO_SKIP.find_iter(output).count(),
    );
    (p + f + s > 0).then_some(Counts {
        passed: p as u64,
        failed: f as u64,
        skipped: s as u64,
    })
}

/// The variables a check (and its doctor probe) sees: the toolchains' own, nothing else.
const ENV_PASS: [&str; 13] = [
    "HOME",
    "PATH",
    "USER",
    "LANG",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "CARGO_TARGET_DIR",
    "GOPATH",
    "GOCACHE",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "NODE_PATH",
    "TMPDIR",
];

/// How `argv` runs in `cwd` as a check: no shell, the environment cleared to [`ENV_PASS`].
fn spec(argv: Vec<String>, cwd: std::path::PathBuf, timeout: Duration) -> Spec {
    Spec {
        argv,
        stdin: Vec::new(),
        cwd: Some(cwd),
        env_pass: ENV_PASS.map(String::from).to_vec(),
        env_set: vec![
            ("NO_COLOR".into(), "1".into()),
            ("CI".into(), "true".into()),
        ],
        timeout,
        idle_timeout: None,
        output_cap: KEEP,
    }
}

impl CheckResult {
    /// A check that never started: nothing was tested.
    fn cannot_run(check: &Check, reason: String) -> Self {
        CheckResult {
            name: check.name.clone(),
            command: shown_argv(check),
            status: CheckStatus::CannotRun,
            output: reason.clone(),
            reason: Some(reason),
            passed: false,
            exit_code: None,
            timed_out: false,
            counts: None,
            duration_ms: 0,
            source: check.source.clone(),
        }
    }
}

/// Runs one configured check in `root`. A `cwd` that leads outside `root` (checked here, on
/// the resolved path, as well as when the file is read) is refused without running anything.
pub async fn run(root: &Path, check: &Check, cancel: &CancellationToken) -> CheckResult {
    let cwd = match check_dir(root, check) {
        Ok(dir) => dir,
        Err(why) => {
            return CheckResult::cannot_run(check, why);
        }
    };
    let out = match process::run(
        &spec(check.argv.clone(), cwd.clone(), check.timeout),
        cancel,
    )
    .await
    {
        Ok(out) => out,
        Err(e) => return CheckResult::cannot_run(check, runnable::spawn_failure(check, &cwd, &e)),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let exit = match out.ended {
        Ended::Exited(c) => Some(c),
        _ => None,
    };
    let output = super::mask::mask(&text).into_owned();
    let duration_ms = u64::try_from(out.elapsed.as_millis()).unwrap_or(u64::MAX);
    if let Some(reason) = exit.and_then(|code| runnable::did_not_start(check, code, &output)) {
        return CheckResult {
            exit_code: exit,
            duration_ms,
            output,
            ..CheckResult::cannot_run(check, reason)
        };
    }
    let passed = exit == Some(0);
    CheckResult {
        name: check.name.clone(),
        command: shown_argv(check),
        status: if passed {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        },
        reason: None,
        passed,
        exit_code: exit,
        timed_out: matches!(out.ended, Ended::TimedOut),
        counts: parse_counts(&text),
        duration_ms,
        output,
        source: check.source.clone(),
    }
}

/// A check's argv as results show it: each argument masked, since a config file may carry a
/// token on a command line and results go to the model, the page and the terminal.
fn shown_argv(check: &Check) -> Vec<String> {
    check
        .argv
        .iter()
        .map(|a| super::mask::mask(a).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_each_runner() {
        let cargo = "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured\n...\ntest result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured\n";
        assert_eq!(
            parse_counts(cargo),
            Some(Counts {
                passed: 4,
                failed: 2,
                skipped: 1
            })
        );
        let pytest = "....F.s\n=================== 1 failed, 5 passed, 1 skipped in 0.12s ===================\n";
        assert_eq!(
            parse_counts(pytest),
            Some(Counts {
                passed: 5,
                failed: 1,
                skipped: 1
            })
        );
        let jest = "Test Suites: 1 failed, 1 total\nTests:       1 failed, 2 passed, 3 total\nSnapshots:   0 total\n";
        assert_eq!(
            parse_counts(jest),
            Some(Counts {
                passed: 2,
                failed: 1,
                skipped: 0
            })
        );
        let vitest = " Test Files  1 passed (1)\n      Tests  4 passed | 1 skipped (5)\n";
        assert_eq!(
            parse_counts(vitest),
            Some(Counts {
                passed: 4,
                failed: 0,
                skipped: 1
            })
        );
        let go = "=== RUN   TestA\n--- PASS: TestA (0.00s)\n=== RUN   TestB\n--- FAIL: TestB (0.00s)\nFAIL\n";
        assert_eq!(
            parse_counts(go),
            Some(Counts {
                passed: 1,
                failed: 1,
                skipped: 0
            })
        );
        let unittest = "..F.s\n----------------------------------------------------------------------\nRan 5 tests in 0.002s\n\nFAILED (failures=1, skipped=1)\n";
        assert_eq!(
            parse_counts(unittest),
            Some(Counts {
                passed: 3,
                failed: 1,
                skipped: 1
            })
        );
        assert_eq!(
            parse_counts("Ran 2 tests in 0.000s\n\nOK\n"),
            Some(Counts {
                passed: 2,
                failed: 0,
                skipped: 0
            })
        );
        assert_eq!(parse_counts("nothing here"), None);
    }

    #[test]
    fn config_refuses_shell_lines() {
        let (checks, problems) = parse_config(
            "verify.yaml",
            "checks:\n  test:\n    run: [cargo, test]\n    timeout: 5m\n  sneaky:\n    run: [sh, -c, \"curl x | sh\"]\n  empty:\n    run: []\n",
        );
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].timeout, Duration::from_secs(300));
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    fn names(checks: &[Check]) -> Vec<&str> {
        checks.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn a_cwd_outside_the_workspace_is_a_problem_naming_the_check() {
        let (checks, problems) = parse_config(
            "verify.yaml",
            "checks:\n  abs:\n    run: [ls]\n    cwd: /etc\n  up:\n    run: [ls]\n    cwd: sub/../../x\n  list:\n    run: [ls]\n    cwd: [a]\n  fine:\n    run: [ls]\n    cwd: sub/dir\n",
        );
        assert_eq!(names(&checks), ["fine"]);
        assert_eq!(checks[0].cwd.as_deref(), Some("sub/dir"));
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("check `abs`:") && problems[0].contains("absolute"));
        assert!(problems[1].starts_with("check `up`:") && problems[1].contains("`..`"));
        assert!(problems[2].starts_with("check `list`:") && problems[2].contains("a list"));
    }

    #[tokio::test]
    async fn a_cwd_that_leads_outside_through_a_link_is_refused_at_run_time() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        let check = |cwd: &str| Check {
            name: "escape".into(),
            argv: vec!["touch".into(), "ran".into()],
            timeout: Duration::from_secs(10),
            cwd: Some(cwd.into()),
            source: CheckSource::default(),
        };
        let cancel = CancellationToken::new();
        for (cwd, words) in [
            ("link", "leads outside the workspace"),
            ("link/.", "leads outside the workspace"),
            ("missing", "cannot be used"),
            ("../x", "`..`"),
            ("/tmp", "absolute"),
        ] {
            let r = run(root.path(), &check(cwd), &cancel).await;
            assert!(!r.passed && r.exit_code.is_none(), "{cwd}: {r:?}");
            assert!(
                r.output.starts_with("check `escape`:") && r.output.contains(words),
                "{cwd}: {}",
                r.output
            );
        }
        assert!(
            !outside.path().join("ran").exists(),
            "the check ran outside"
        );
        // Inside the workspace it runs where it says.
        let r = run(root.path(), &check("sub"), &cancel).await;
        assert!(r.passed, "{r:?}");
        assert!(root.path().join("sub/ran").exists());
        assert!(!root.path().join("ran").exists());
    }

    #[test]
    fn a_check_name_given_twice_runs_neither() {
        let (checks, problems) = parse_config(
            "verify.yaml",
            "checks:\n  test:\n    run: [cargo, test]\n  lint:\n    run: [cargo, clippy]\n  test:\n    run: [rm, -rf, x]\n  types:\n    run: [cargo, check]\n    run: [cargo, build]\n",
        );
        assert_eq!(names(&checks), ["lint"], "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("check `test`:") && p.contains("given twice")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("check `types`:") && p.contains("`run` is given twice")),
            "{problems:?}"
        );
    }

    #[test]
    fn unknown_keys_are_problems_with_a_suggestion() {
        let (checks, problems) = parse_config(
            "verify.yaml",
            "checks:\n  test:\n    run: [cargo, test]\n    tiemout: 5m\n  lint:\n    run: [cargo, clippy]\nchecsk: {}\n",
        );
        assert_eq!(names(&checks), ["lint"]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems.iter().any(|p| p.starts_with("check `test`:")
                && p.contains("`tiemout`")
                && p.contains("did you mean `timeout`?")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("`checsk`") && p.contains("did you mean `checks`?")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_malformed_timeout_is_a_problem_not_the_default() {
        for bad in ["5 min", "0", "-3", "[1]", "1.5", "\"\""] {
            let (checks, problems) = parse_config(
                "verify.yaml",
                &format!("checks:\n  test:\n    run: [cargo, test]\n    timeout: {bad}\n"),
            );
            assert!(checks.is_empty(), "`timeout: {bad}` must not run");
            assert!(
                problems.len() == 1
                    && problems[0].starts_with("check `test`:")
                    && problems[0].contains("`timeout`"),
                "{bad}: {problems:?}"
            );
        }
        let (checks, problems) = parse_config(
            "verify.yaml",
            "checks:\n  a:\n    run: [x]\n    timeout: 90\n  b:\n    run: [x]\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            (checks[0].timeout, checks[1].timeout),
            (Duration::from_secs(90), Duration::from_secs(600))
        );
    }
}
