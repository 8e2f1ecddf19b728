//! The project's own checks (`conf/verify.yaml`): named argv commands run without a shell,
//! with timeouts and process-group kill; output kept to its tail; pass/fail counts parsed for
//! cargo test, pytest, jest/vitest and go test. Only configured checks can run: a tool call
//! must not become a way around the client's own permission prompts.

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
}

/// Pass/fail counts parsed from a runner's summary.
#[derive(
    Debug, Clone, Copy, Default, Serialize, serde::Deserialize, PartialEq, Eq, schemars::JsonSchema,
)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

/// One check's result.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct CheckResult {
    pub name: String,
    pub command: Vec<String>,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub counts: Option<Counts>,
    pub duration_ms: u64,
    /// The tail of stdout and stderr, masked.
    pub output: String,
}

fn scalar(n: &YNode) -> Option<String> {
    match &n.kind {
        YKind::Scalar(Value::String(s)) => Some(s.clone()),
        YKind::Scalar(Value::Int(i)) => Some(i.to_string()),
        _ => None,
    }
}

/// Parses `conf/verify.yaml`: `checks: { name: { run: [argv...], timeout: 10m, cwd: dir } }`.
#[must_use]
pub fn parse_config(name: &str, text: &str) -> (Vec<Check>, Vec<String>) {
    let src = Arc::new(SourceFile::new(name, text));
    let mut diags = Vec::new();
    let mut problems = Vec::new();
    let Some(tree) = yaml::parse_tree(&src, &mut diags) else {
        problems.extend(diags.iter().map(|d| format!("{name}: {}", d.message)));
        return (Vec::new(), problems);
    };
    let Some(YKind::Map(entries)) = tree.get("checks").map(|c| &c.kind) else {
        problems.push(format!("{name}: no `checks:` mapping"));
        return (Vec::new(), problems);
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let check = k.key_text();
        let argv: Option<Vec<String>> = match v.get("run").map(|r| &r.kind) {
            Some(YKind::Seq(items)) => items.iter().map(scalar).collect(),
            _ => None,
        };
        let Some(argv) = argv.filter(|a| !a.is_empty()) else {
            problems.push(format!(
                "check `{check}`: `run` must be a non-empty argv list (no shell)"
            ));
            continue;
        };
        if matches!(
            argv[0].as_str(),
            "sh" | "bash" | "zsh" | "/bin/sh" | "/bin/bash"
        ) && argv.get(1).is_some_and(|a| a == "-c")
        {
            problems.push(format!("check `{check}`: a shell command line is not allowed; list the program and its arguments"));
            continue;
        }
        let timeout = v
            .get("timeout")
            .and_then(|t| match &t.kind {
                YKind::Scalar(Value::Int(i)) => u64::try_from(*i).ok(),
                YKind::Scalar(Value::String(s)) => crate::syntax::keys::parse_duration(s),
                _ => None,
            })
            .unwrap_or(600);
        out.push(Check {
            name: check,
            argv,
            timeout: Duration::from_secs(timeout),
            cwd: v.get("cwd").and_then(scalar),
        });
    }
    (out, problems)
}

/// The checks `maestro init` proposes for the project type found at `root`.
#[must_use]
pub fn proposal(root: &Path) -> Option<String> {
    let checks: &[(&str, &str)] = if root.join("Cargo.toml").is_file() {
        &[
            ("test", "[cargo, test]"),
            ("lint", "[cargo, clippy, --all-targets]"),
            ("types", "[cargo, check]"),
        ]
    } else if root.join("pyproject.toml").is_file() || root.join("setup.py").is_file() {
        &[
            ("test", "[python3, -m, pytest, -q]"),
            ("lint", "[ruff, check, .]"),
            ("types", "[mypy, .]"),
        ]
    } else if root.join("package.json").is_file() {
        &[
            ("test", "[npm, test]"),
            ("lint", "[npx, eslint, .]"),
            ("types", "[npx, tsc, --noEmit]"),
        ]
    } else if root.join("go.mod").is_file() {
        &[("test", "[go, test, ./...]"), ("lint", "[go, vet, ./...]")]
    } else {
        return None;
    };
    let mut s = String::from(
        "# The project's own checks, run by the `verify` tool without a shell.\n# Only these names can be run. Edit the argv lists to match your project.\nchecks:\n",
    );
    for (name, argv) in checks {
        s.push_str(&format!("  {name}:\n    run: {argv}\n    timeout: 10m\n"));
    }
    Some(s)
}

fn num(re: &Regex, text: &str) -> u64 {
    re.captures_iter(text)
        .filter_map(|c| c.get(1)?.as_str().parse::<u64>().ok())
        .sum()
}

/// Pass/fail counts from the summary lines of cargo test, pytest, jest, vitest or go test.
#[must_use]
pub fn parse_counts(output: &str) -> Option<Counts> {
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

/// Runs one configured check in `root`.
pub async fn run(root: &Path, check: &Check, cancel: &CancellationToken) -> CheckResult {
    let cwd = check
        .cwd
        .as_ref()
        .map_or_else(|| root.to_path_buf(), |c| root.join(c));
    let spec = Spec {
        argv: check.argv.clone(),
        stdin: Vec::new(),
        cwd: Some(cwd),
        env_pass: [
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
        ]
        .map(String::from)
        .to_vec(),
        env_set: vec![
            ("NO_COLOR".into(), "1".into()),
            ("CI".into(), "true".into()),
        ],
        timeout: check.timeout,
        idle_timeout: None,
        output_cap: KEEP,
    };
    match process::run(&spec, cancel).await {
        Ok(out) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let exit = match out.ended {
                Ended::Exited(c) => Some(c),
                _ => None,
            };
            CheckResult {
                name: check.name.clone(),
                command: check.argv.clone(),
                passed: exit == Some(0),
                exit_code: exit,
                timed_out: matches!(out.ended, Ended::TimedOut),
                counts: parse_counts(&text),
                duration_ms: u64::try_from(out.elapsed.as_millis()).unwrap_or(u64::MAX),
                output: super::mask::mask(&text).into_owned(),
            }
        }
        Err(e) => CheckResult {
            name: check.name.clone(),
            command: check.argv.clone(),
            passed: false,
            exit_code: None,
            timed_out: false,
            counts: None,
            duration_ms: 0,
            output: e.to_string(),
        },
    }
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
}
