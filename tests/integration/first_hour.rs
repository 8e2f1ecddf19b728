//! A person's first hour (issue 22): a check whose program is not installed is `cannot_run`,
//! never a failing test — over MCP, in a run's guards, from `maestro verify`; `maestro doctor`
//! names the missing programs; `maestro init` proposes only checks that run here and says what
//! is missing. Every check here is a real subprocess.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::mcp::{Project, call, ok};
use crate::support::{Test, repo};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn executable(root: &Path, rel: &str, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    write(root, rel, text);
    std::fs::set_permissions(root.join(rel), std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The fixture's checks: one of each way a check ends.
fn checks_fixture(root: &Path) {
    let fixture = repo().join("tests/fixtures/verify/first-hour");
    write(
        root,
        ".maestro/conf/verify.yaml",
        &std::fs::read_to_string(fixture.join("verify.yaml")).unwrap(),
    );
    for script in ["exit127", "fails"] {
        executable(
            root,
            &format!("bin/{script}"),
            &std::fs::read_to_string(fixture.join(format!("bin/{script}"))).unwrap(),
        );
    }
}

fn by_name<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no result `{name}` in {v}"))
}

#[test]
fn verify_tells_a_program_that_did_not_start_from_a_failing_check() {
    let p = Project::new();
    checks_fixture(p.path());
    let out = p.terminal(&["verify", "--json"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    assert_eq!(v["passed"], false);

    for (name, words) in [
        ("missing", &["`no-such-tool-xyz` was not found on PATH"][..]),
        (
            "module",
            &[
                "`nosuchmodule_xyz` is not installed for `python3`",
                "pip install nosuchmodule_xyz",
            ][..],
        ),
        ("exit127", &["exited 127", "was not found"][..]),
    ] {
        let r = by_name(&v, name);
        assert_eq!(
            (r["status"].as_str(), r["passed"].as_bool()),
            (Some("cannot_run"), Some(false)),
            "{name}: {r}"
        );
        let reason = r["reason"].as_str().unwrap_or_default();
        for w in words {
            assert!(reason.contains(w), "{name}: `{w}` not in {reason}");
        }
        assert!(
            reason.contains(&format!("change check `{name}` in")) && reason.contains("verify.yaml"),
            "{name}: the reason says what to do: {reason}"
        );
    }
    for name in ["exits1", "fails"] {
        let r = by_name(&v, name);
        assert_eq!(
            (r["status"].as_str(), r["exit_code"].as_i64()),
            (Some("failed"), Some(1)),
            "{name}: {r}"
        );
        assert_eq!(r["reason"], Value::Null, "{name}: {r}");
    }
    assert_eq!(by_name(&v, "fails")["output"], "1 assertion failed\n");
    assert_eq!(by_name(&v, "passes")["status"], "passed");
    // The same from a terminal, in words: a missing tool is not a FAILED test.
    let out = p.terminal(&["verify", "missing", "fails"]);
    assert_eq!(out.code, 1);
    let line = |name: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}: {}", out.stdout))
            .to_string()
    };
    assert!(line("missing").contains("CANNOT RUN"), "{}", out.stdout);
    assert!(line("fails").contains("FAILED"), "{}", out.stdout);
    assert!(
        out.stdout.contains("| 1 assertion failed"),
        "a failing check shows its output: {}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("`missing` could not run, so nothing was tested")
            && out.stdout.contains("install what the reason names"),
        "what to do: {}",
        out.stdout
    );
}

/// A workflow whose guards tell the three apart.
const GUARDED: &str = r#"
workflow "first" {
    version 1
    start "work"
    stage "work" {
        max-visits 3
        next "done" when="checks.test.passed"
        next "blocked" when="checks.test.status == 'cannot_run'"
        next "broken" when="checks.test.status == 'failed'"
        next "work"
    }
    end "done"
    end "blocked"
    end "broken"
}
"#;

/// Runs `first` with `test` configured as `argv`, verifies it for the run and submits: the end
/// the guards chose, and what `verify` and `status` said.
async fn guarded_run(argv: &str) -> (String, Value, Value) {
    let p = Project::new();
    write(p.path(), ".maestro/workflows/first.kdl", GUARDED);
    write(
        p.path(),
        ".maestro/conf/verify.yaml",
        &format!("checks:\n  test:\n    run: {argv}\n    timeout: 30s\n"),
    );
    let (client, _) = p.connect().await;
    let r = ok(&call(&client, "start", json!({"task": "t", "workflow": "first"})).await);
    let run = r["run_id"].as_str().unwrap().to_string();
    let v = ok(&call(
        &client,
        "verify",
        json!({"checks": ["test"], "run_id": run}),
    )
    .await);
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    let r = ok(&call(&client, "submit", json!({"run_id": run, "output": {}})).await);
    let end = r["run"]["end"]
        .as_str()
        .unwrap_or_else(|| panic!("the run did not end: {r}"))
        .to_string();
    client.cancel().await.unwrap();
    (end, v, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_read_cannot_run_as_not_passed_and_say_so() {
    let (end, v, s) = guarded_run("[no-such-tool-xyz]").await;
    assert_eq!(end, "blocked", "{v}\n{s}");
    let summary = v["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("test: CANNOT RUN (`no-such-tool-xyz` was not found on PATH")
            && !summary.contains("FAILED")
            && summary.contains("could not run, so nothing was tested"),
        "{summary}"
    );
    let fact = &s["run"]["checks"]["test"];
    assert_eq!(
        (fact["passed"].as_bool(), fact["status"].as_str()),
        (Some(false), Some("cannot_run")),
        "{s}"
    );
    assert!(
        fact["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("no-such-tool-xyz"),
        "{fact}"
    );
    // A failure to compare with the next visit's is a test's, not a missing program's.
    assert_eq!(fact["error"], Value::Null, "{fact}");

    let (end, v, _) = guarded_run("[python3, -m, nosuchmodule_xyz]").await;
    assert_eq!(end, "blocked", "{v}");
    let (end, v, _) = guarded_run("[\"false\"]").await;
    assert_eq!(end, "broken", "{v}");
    assert!(
        v["summary"].as_str().unwrap().starts_with("test: FAILED"),
        "{v}"
    );
    let (end, v, _) = guarded_run("[\"true\"]").await;
    assert_eq!(end, "done", "{v}");
}

#[test]
fn doctor_names_each_verify_program_that_cannot_start() {
    let p = Project::new();
    checks_fixture(p.path());
    let out = p.terminal(&["doctor", "--json"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    let checks = &v["checks"];
    assert!(
        checks["file"]
            .as_str()
            .unwrap()
            .ends_with(".maestro/conf/verify.yaml"),
        "{checks}"
    );
    let row = |name: &str| {
        checks["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no `{name}` in {checks}"))
            .clone()
    };
    for (name, words) in [
        ("missing", "`no-such-tool-xyz` was not found on PATH"),
        (
            "module",
            "`nosuchmodule_xyz` is not installed for `python3`",
        ),
    ] {
        let r = row(name);
        assert_eq!(r["can_run"], false, "{r}");
        let problem = r["problem"].as_str().unwrap();
        assert!(
            problem.contains(words) && problem.contains(&format!("change check `{name}`")),
            "{problem}"
        );
    }
    // Doctor does not run checks: a script that would exit 127 starts, so it is not flagged.
    for name in ["passes", "exits1", "fails", "exit127"] {
        assert_eq!(row(name)["can_run"], true, "{name}: {checks}");
    }
    assert!(
        !p.path().join("ran").exists(),
        "doctor must not run the checks"
    );

    let text = p.terminal(&["doctor"]).stdout;
    assert!(
        text.lines()
            .any(|l| l.starts_with("missing") && l.contains("cannot run")),
        "{text}"
    );
    assert!(text.contains("4 of 6 checks can run"), "{text}");
}

/// A folder holding only `python3`: the real interpreter without its site-packages (`-S`),
/// so what is installed on this machine (pytest, ruff, mypy) cannot change the proposal.
fn bare_python() -> tempfile::TempDir {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    let exe = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(exe.is_file(), "{}", exe.display());
    let bin = tempfile::tempdir().unwrap();
    executable(
        bin.path(),
        "python3",
        &format!("#!/bin/sh\nexec '{}' -S \"$@\"\n", exe.display()),
    );
    bin
}

#[test]
fn init_proposes_unittest_for_a_unittest_project_and_says_what_is_missing() {
    let p = Project::new();
    let fixture = repo().join("tests/fixtures/verify/unittest-demo");
    for rel in ["pyproject.toml", "calc.py", "tests/test_calc.py"] {
        write(
            p.path(),
            rel,
            &std::fs::read_to_string(fixture.join(rel)).unwrap(),
        );
    }
    let bin = bare_python();
    let path = bin.path().to_str().unwrap();
    let out = Test::new()
        .args(&["init"])
        .current_dir(p.path())
        .env("PATH", path)
        .run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let said = &out.stdout;
    assert!(
        said.contains("test   python3 -m unittest discover -s tests"),
        "{said}"
    );
    assert!(
        said.contains("missing  `ruff` (lint) is named in pyproject.toml but not on PATH")
            && said.contains("python3 -m pip install ruff"),
        "{said}"
    );
    assert!(
        said.contains("skipped  types: `mypy` is neither installed nor named"),
        "{said}"
    );
    assert!(!said.contains("pytest"), "pytest was proposed: {said}");
    let conf = std::fs::read_to_string(p.path().join(".maestro/conf/verify.yaml")).unwrap();
    assert!(
        conf.contains("run: [python3, -m, unittest, discover, -s, tests]")
            && conf.contains("run: [ruff, check, .]")
            && !conf.contains("mypy ."),
        "{conf}"
    );

    // What was proposed runs here: the test check passes with its counts; the missing linter
    // cannot run, and says so.
    let out = Test::new()
        .args(&["verify", "--json"])
        .current_dir(p.path())
        .env("PATH", path)
        .run();
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    let test = by_name(&v, "test");
    assert_eq!(test["status"], "passed", "{test}");
    assert_eq!(
        test["counts"],
        json!({"passed": 2, "failed": 0, "skipped": 0}),
        "{test}"
    );
    assert_eq!(by_name(&v, "lint")["status"], "cannot_run", "{v}");
}

#[test]
fn init_for_node_names_the_install_it_needs_and_leaves_out_what_is_not_there() {
    let p = Project::new();
    write(
        p.path(),
        "package.json",
        r#"{"name": "demo", "scripts": {"test": "jest"}, "devDependencies": {"jest": "^29", "typescript": "^5"}}"#,
    );
    // Nothing on PATH: npm is named as missing rather than left to fail at `verify`.
    let empty = tempfile::tempdir().unwrap();
    let out = Test::new()
        .args(&["init"])
        .current_dir(p.path())
        .env("PATH", empty.path().to_str().unwrap())
        .run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let conf = std::fs::read_to_string(p.path().join(".maestro/conf/verify.yaml")).unwrap();
    assert!(
        conf.contains("run: [npm, test]")
            && conf.contains("run: [npx, --no-install, tsc, --noEmit]")
            && !conf.contains("eslint, ."),
        "{conf}"
    );
    assert!(
        out.stdout
            .contains("skipped  lint: no `lint` script and no `eslint`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("missing  `npm` (test, types) is not on PATH; install it before `verify`"),
        "{}",
        out.stdout
    );
}
