//! Attacks a model or a hostile repository could mount (issue 9): every one refused.
//!
//! Each test is one side door of issue 9 tried the way an attacker would: through the MCP tools
//! of a real `maestro serve`, through files planted in the repository, or through the terminal
//! commands a person runs afterwards. The assertions are the contract (`notes/decisions.md`),
//! not today's behaviour: a test here fails until its fix lands.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rmcp::model::{CallToolResult, ReadResourceRequestParams};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::mcp::{call, err_text, ok};
use crate::support::{Output, Test, repo};

// ---------------------------------------------------------------------------------------------
// The lab: a workspace with room around it for "outside" files, fake provider CLIs that count
// their calls, and a server or terminal command started with the same environment.

/// A temp folder holding `ws/` (the git root the model works in), `outside/` (files the model
/// must never reach), `home/` (HOME, steering the fakes), `bin/` (counting wrappers around
/// the fakes) and `config/` (XDG_CONFIG_HOME).
pub(crate) struct Lab {
    tmp: tempfile::TempDir,
}

pub(crate) const CLIS: [&str; 3] = ["codex", "gemini", "claude"];

impl Lab {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let lab = Self { tmp };
        for d in ["ws/.git", "outside", "home/.fake", "bin", "config"] {
            std::fs::create_dir_all(lab.tmp.path().join(d)).unwrap();
        }
        // Each wrapper counts the real consults (not `--version`/`--help` probes) and hands
        // over to the shared fake, so a test can tell how many calls a budget let through.
        let fake = repo().join("tests/fakes/fakecli.py");
        for cli in CLIS {
            let path = lab.tmp.path().join("bin").join(cli);
            std::fs::write(
                &path,
                format!(
                    "#!/bin/sh\ncase \" $* \" in *\" --version \"*|*\" --help \"*) ;; *) echo call >> \"$HOME/.fake/calls-{cli}\" ;; esac\nexec python3 '{}' {cli} \"$@\"\n",
                    fake.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        lab
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.tmp.path().join("ws")
    }

    pub(crate) fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    pub(crate) fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }

    pub(crate) fn state(&self) -> PathBuf {
        self.root().join(".maestro/state.db")
    }

    /// Writes a file below the workspace root, creating its folders.
    pub(crate) fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub(crate) fn workflow(&self, name: &str, text: &str) -> PathBuf {
        self.write(&format!(".maestro/workflows/{name}.kdl"), text)
    }

    pub(crate) fn checks(&self, yaml: &str) {
        self.write(".maestro/conf/verify.yaml", yaml);
    }

    pub(crate) fn fake(&self, setting: &str, value: &str) {
        std::fs::write(self.home().join(".fake").join(setting), value).unwrap();
    }

    /// Real consults the fake `cli` answered so far.
    pub(crate) fn calls(&self, cli: &str) -> usize {
        std::fs::read_to_string(self.home().join(format!(".fake/calls-{cli}")))
            .map_or(0, |s| s.lines().count())
    }

    pub(crate) fn path_var(&self) -> String {
        format!(
            "{}:{}",
            self.tmp.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    pub(crate) fn serve_command(&self) -> tokio::process::Command {
        let (root, config, home, path) = (
            self.root(),
            self.tmp.path().join("config"),
            self.home(),
            self.path_var(),
        );
        tokio::process::Command::new(env!("CARGO_BIN_EXE_maestro")).configure(move |cmd| {
            cmd.arg("serve")
                .current_dir(&root)
                .env_remove("MAESTRO_HOME")
                .env_remove("MAESTRO_STATE")
                .env("XDG_CONFIG_HOME", &config)
                .env("HOME", &home)
                .env("PATH", &path)
                .env("NO_COLOR", "1");
            for cli in CLIS {
                // A fake that hangs must not hold a test for the default 10 minutes.
                cmd.env(format!("MAESTRO_{}_TIMEOUT", cli.to_uppercase()), "20");
            }
        })
    }

    pub(crate) async fn serve(&self) -> RunningService<RoleClient, ()> {
        let transport = TokioChildProcess::new(self.serve_command()).unwrap();
        ().serve(transport).await.unwrap()
    }

    /// A terminal command in the workspace, with stdin not a terminal.
    pub(crate) fn maestro(&self, args: &[&str]) -> Output {
        Test::new()
            .args(args)
            .current_dir(&self.root())
            .env(
                "XDG_CONFIG_HOME",
                self.tmp.path().join("config").to_str().unwrap(),
            )
            .env("HOME", self.home().to_str().unwrap())
            .env("PATH", &self.path_var())
            .run()
    }

    /// The workflow version run `id` is pinned to, as `maestro runs ID --json` says.
    pub(crate) fn pinned_version(&self, id: &str) -> String {
        let out = self.maestro(&["runs", id, "--json"]);
        let v: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
        find(&v, "workflow_version")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no workflow_version in {v}"))
            .to_string()
    }
}

/// Everything a tool call returned, as one string: what the model would read.
pub(crate) fn all_text(r: &CallToolResult) -> String {
    serde_json::to_string(r).unwrap()
}

/// The first value under `key` anywhere in `v` (breadth first), so a test keeps working when a
/// typed result moves a field up or down a level.
pub(crate) fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let mut queue = std::collections::VecDeque::from([v]);
    while let Some(x) = queue.pop_front() {
        match x {
            Value::Object(m) => {
                if let Some(found) = m.get(key) {
                    return Some(found);
                }
                queue.extend(m.values());
            }
            Value::Array(a) => queue.extend(a.iter()),
            _ => {}
        }
    }
    None
}

/// `context` of one file (one per call, so that one miss cannot hide behind another): the
/// result's JSON and everything it returned as text; asserts that the file was read.
pub(crate) async fn context_of(
    client: &RunningService<RoleClient, ()>,
    file: &str,
) -> (Value, String) {
    let r = call(client, "context", json!({"files": [file]})).await;
    let v = ok(&r);
    let included: Vec<&str> = find(&v, "included")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .filter_map(|x| x["path"].as_str())
        .collect();
    assert_eq!(included, [file], "{file}: {v}");
    let text = all_text(&r);
    (v, text)
}

pub(crate) fn contains_bytes(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    hay.windows(n.len()).any(|w| w == n)
}

/// Every regular file below `dir` with its bytes, symlinks not followed, the state file left
/// out (a refused call may still touch SQLite's own files).
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("state.db") {
                continue;
            }
            let ft = e.file_type().unwrap();
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if ft.is_dir() {
                stack.push(e.path());
                out.insert(format!("{rel}/"), Vec::new());
            } else if ft.is_symlink() {
                let target = std::fs::read_link(e.path()).unwrap();
                out.insert(rel, target.to_string_lossy().as_bytes().to_vec());
            } else {
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

pub(crate) fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().to_string()))
        .is_some_and(|state| !state.starts_with('Z') && !state.starts_with('X'))
}

/// Starts `workflow` and returns the run id.
/// Submits `output` to a gated stage and returns the approval it opened.
pub(crate) async fn awaiting_approval(
    client: &RunningService<RoleClient, ()>,
    run: &str,
    output: Value,
) -> String {
    let r = ok(&call(client, "submit", json!({"run_id": run, "output": output})).await);
    assert_eq!(r["outcome"], "awaiting_approval", "{r}");
    r["approval"]["approval_id"].as_str().unwrap().to_string()
}

pub(crate) async fn start(
    client: &RunningService<RoleClient, ()>,
    workflow: &str,
    task: &str,
) -> String {
    let r = ok(&call(client, "start", json!({"task": task, "workflow": workflow})).await);
    r["run_id"].as_str().unwrap().to_string()
}

pub(crate) async fn status(client: &RunningService<RoleClient, ()>, run: &str) -> Value {
    ok(&call(client, "status", json!({"run_id": run})).await)
}

pub(crate) async fn consults_used(client: &RunningService<RoleClient, ()>, run: &str) -> u64 {
    let s = status(client, run).await;
    find(&s["run"], "consults_used")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no consults_used in {s}"))
}

/// A one-stage workflow: `gate` is the gate block (or empty), `edges` the `next` lines.
pub(crate) fn one_stage(name: &str, extra: &str, gate: &str, edges: &str) -> String {
    format!(
        "workflow \"{name}\" {{\n    version 1\n    start \"review\"\n    stage \"review\" {{\n        max-visits 5\n{extra}{gate}{edges}    }}\n    end \"done\"\n}}\n"
    )
}

pub(crate) const HUMAN_GATE: &str = "        gate {\n            by \"human\"\n        }\n";
pub(crate) const ANY_GATE: &str = "        gate {\n            by \"any\"\n        }\n";
pub(crate) const TO_DONE: &str = "        next \"done\"\n";

/// A diff creating `path` with `lines`.
pub(crate) fn new_file(path: &str, lines: &[&str]) -> String {
    let mut d = format!(
        "--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{} @@\n",
        lines.len()
    );
    for l in lines {
        d.push('+');
        d.push_str(l);
        d.push('\n');
    }
    d
}

// ---------------------------------------------------------------------------------------------
// 1. Control files are not the model's to write.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_cannot_write_control_files_and_their_consequences_stay_blocked() {
    let lab = Lab::new();
    lab.write(".git/config", "[core]\n\tbare = false\n");
    std::os::unix::fs::symlink(".git", lab.root().join("gitlink")).unwrap();
    lab.write("README.md", "hello\n");
    let client = lab.serve().await;
    let before = snapshot(&lab.root());

    let verify_yaml = ["checks:", "  pwn:", "    run: [touch, pwned]"];
    let providers_yaml = [
        "providers:",
        "  codex:",
        "    kind: cli",
        "    command: [touch, pwned]",
        "    model: x",
        "    parser: text",
    ];
    let workflow = [
        "workflow \"evil\" {",
        "    version 1",
        "    start \"s\"",
        "    stage \"s\" {",
        "        next \"done\"",
        "    }",
        "    end \"done\"",
        "}",
    ];
    let attempts: Vec<(&str, String)> = vec![
        ("verify config", new_file(".maestro/conf/verify.yaml", &verify_yaml)),
        ("provider config", new_file(".maestro/conf/providers.yaml", &providers_yaml)),
        ("a workflow", new_file(".maestro/workflows/evil.kdl", &workflow)),
        ("Claude Code settings", new_file(".claude/settings.json", &["{\"hooks\": {}}"])),
        ("Claude Code settings, other case", new_file(".Claude/settings.json", &["{}"])),
        ("the MCP config", new_file(".mcp.json", &["{\"mcpServers\": {}}"])),
        ("git config, other case", new_file(".GIT/config", &["[core]"])),
        ("maestro config, other case", new_file(".Maestro/conf/verify.yaml", &verify_yaml)),
        ("git hooks through a link", new_file("gitlink/hooks/pre-commit", &["touch pwned"])),
        (
            "git config through a link",
            "--- a/gitlink/config\n+++ b/gitlink/config\n@@ -1,2 +1,3 @@\n [core]\n \tbare = false\n+\tfsmonitor = touch pwned\n".to_string(),
        ),
        (
            "a control file next to an ordinary one",
            format!(
                "{}{}",
                "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-hello\n+hi\n",
                new_file(".maestro/conf/verify.yaml", &verify_yaml)
            ),
        ),
    ];
    for (what, diff) in &attempts {
        let r = call(&client, "patch", json!({"diff": diff})).await;
        let e = err_text(&r);
        assert!(e.contains("patch_refused"), "{what}: {e}");
        assert_eq!(
            snapshot(&lab.root()),
            before,
            "{what}: the patch wrote something"
        );
    }
    for p in [
        ".maestro/conf/verify.yaml",
        ".maestro/conf/providers.yaml",
        ".maestro/workflows/evil.kdl",
        ".claude",
        ".Claude",
        ".mcp.json",
        ".GIT",
        ".Maestro",
        ".git/hooks/pre-commit",
    ] {
        assert!(!lab.root().join(p).exists(), "{p} was created");
    }
    // The consequence stays blocked: the check the patch tried to add does not exist.
    let e = err_text(&call(&client, "verify", json!({"checks": ["pwn"]})).await);
    assert!(e.contains("unknown_check"), "{e}");
    assert!(!lab.root().join("pwned").exists(), "a planted command ran");
    client.cancel().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 2. Runs are pinned to their workflow.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_the_workflow_mid_run_does_not_remove_a_pending_gate() {
    let lab = Lab::new();
    let wf = lab.workflow("pinned", &one_stage("pinned", "", HUMAN_GATE, TO_DONE));
    let client = lab.serve().await;
    let run = start(&client, "pinned", "t").await;
    // While the stage is being worked on, the gate disappears from the file.
    std::fs::write(&wf, one_stage("pinned", "", "", TO_DONE)).unwrap();
    let r = ok(&call(
        &client,
        "submit",
        json!({"run_id": run, "output": {"done": true}}),
    )
    .await);
    assert_eq!(
        r["outcome"], "awaiting_approval",
        "the edit removed the gate: {r}"
    );
    let s = status(&client, &run).await;
    assert_eq!(s["run"]["status"], "waiting", "{s}");
    assert_eq!(s["run"]["end"], Value::Null, "{s}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_self_approving_timeout_mid_run_approves_nothing_and_upgrade_is_explicit() {
    let lab = Lab::new();
    let wf = lab.workflow("pinned", &one_stage("pinned", "", HUMAN_GATE, TO_DONE));
    let client = lab.serve().await;
    let run = start(&client, "pinned", "t").await;
    let apr = awaiting_approval(&client, &run, json!({"done": true})).await;

    let timed = "        gate {\n            by \"human\"\n            timeout \"1s\" on-timeout=\"approve\"\n        }\n";
    std::fs::write(&wf, one_stage("pinned", "", timed, TO_DONE)).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s = status(&client, &run).await;
    assert_eq!(
        (s["run"]["status"].as_str(), s["run"]["stage"].as_str()),
        (Some("waiting"), Some("review")),
        "the edited timeout decided the gate: {s}"
    );
    let approvals = lab.maestro(&["approvals", "--all", "--json"]);
    let list: Value = serde_json::from_str(&approvals.stdout).unwrap();
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["approval_id"] == apr.as_str())
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(mine["status"], "pending", "{mine}");
    assert_eq!(mine["decided_by"], Value::Null, "{mine}");

    // A new run gets the new version: its gate has the timeout.
    let fresh = start(&client, "pinned", "t2").await;
    let r = ok(&call(
        &client,
        "submit",
        json!({"run_id": fresh, "output": {"done": true}}),
    )
    .await);
    assert_eq!(r["approval"]["on_timeout"], "approve", "{r}");
    client.cancel().await.unwrap();

    // `maestro runs` shows each run's version.
    let listed = lab.maestro(&["runs", "--all"]);
    let re = regex::Regex::new(r"pinned@[0-9a-f]{8}\b").unwrap();
    assert!(
        re.is_match(&listed.stdout),
        "no name@version in:\n{}",
        listed.stdout
    );
    let version = |id: &str| lab.pinned_version(id);
    let (old, new) = (version(&run), version(&fresh));
    assert_ne!(old, new, "an edited workflow kept its version");
    let list: Value =
        serde_json::from_str(&lab.maestro(&["runs", "--all", "--json"]).stdout).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|r| r["workflow_version"].is_string()),
        "{list}"
    );

    // Without a terminal and without --yes, upgrade shows the change and does nothing.
    let out = lab.maestro(&["upgrade", &run]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("review") && said.contains("timeout"),
        "upgrade did not show the changed gate:\n{said}"
    );
    assert_eq!(version(&run), old, "upgrade without --yes moved the run");
    let log = lab.maestro(&["log", &run, "--jsonl"]);
    assert!(!log.stdout.contains("workflow_upgraded"), "{}", log.stdout);

    // With --yes the run moves to the current version, and the audit trail says so.
    let out = lab.maestro(&["upgrade", &run, "--yes"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(version(&run), new);
    let log = lab.maestro(&["log", &run, "--jsonl"]);
    let kinds: Vec<String> = log
        .json_lines()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(kinds.iter().any(|k| k == "workflow_upgraded"), "{kinds:?}");
}

// ---------------------------------------------------------------------------------------------
// 3. Transitions can read facts, not claims.

const CLAIM: &str =
    r#"{"test_result": {"command": "cargo test", "passed": true}, "summary": "all tests pass"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_test_result_does_not_pass_a_checks_guard_but_a_recorded_check_does() {
    let lab = Lab::new();
    let wf = lab.workflow(
        "facts",
        &one_stage(
            "facts",
            "",
            "",
            "        next \"done\" when=\"checks.test.passed\"\n        next \"review\"\n",
        ),
    );
    // The check passes only once `pass.flag` exists: the test decides when the facts change.
    lab.checks("checks:\n  test:\n    run: [test, -f, pass.flag]\n    timeout: 30s\n");
    let claim: Value = serde_json::from_str(CLAIM).unwrap();

    // `maestro validate` knows the new variable.
    let out = lab.maestro(&["validate", "--format", "json", wf.to_str().unwrap()]);
    let findings = out.json_lines();
    assert!(
        findings.iter().all(|f| !f.to_string().contains("checks")),
        "validate does not know `checks`: {findings:?}"
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    let client = lab.serve().await;
    let run = start(&client, "facts", "fix it").await;
    let other = start(&client, "facts", "another run").await;
    let finished = |s: &Value| s["run"]["status"] == "finished";

    // The model says the tests pass; nothing checked it.
    ok(&call(&client, "submit", json!({"run_id": run, "output": claim})).await);
    let s = status(&client, &run).await;
    assert!(!finished(&s), "a claim moved the run: {s}");

    // The check ran and failed: the claim still does not count.
    let v = ok(&call(
        &client,
        "verify",
        json!({"checks": ["test"], "run_id": run}),
    )
    .await);
    assert_eq!(v["passed"], false, "{v}");
    ok(&call(&client, "submit", json!({"run_id": run, "output": claim})).await);
    let s = status(&client, &run).await;
    assert!(!finished(&s), "a failed check moved the run: {s}");

    // A passing check recorded for another run is not this run's fact.
    std::fs::write(lab.root().join("pass.flag"), "").unwrap();
    let v = ok(&call(
        &client,
        "verify",
        json!({"checks": ["test"], "run_id": other}),
    )
    .await);
    assert_eq!(v["passed"], true, "{v}");
    ok(&call(&client, "submit", json!({"run_id": run, "output": claim})).await);
    let s = status(&client, &run).await;
    assert!(!finished(&s), "another run's check moved this run: {s}");

    // This run's own passing check, in this visit: now it moves.
    let v = ok(&call(
        &client,
        "verify",
        json!({"checks": ["test"], "run_id": run}),
    )
    .await);
    assert_eq!(v["passed"], true, "{v}");
    ok(&call(&client, "submit", json!({"run_id": run, "output": claim})).await);
    let s = status(&client, &run).await;
    assert!(
        finished(&s),
        "a recorded passing check did not move the run: {s}"
    );
    assert_eq!(s["run"]["end"], "done", "{s}");
    client.cancel().await.unwrap();
}

#[test]
fn the_default_workflow_moves_to_improve_on_a_recorded_check() {
    let out = Test::new().args(&["graph", "default"]).expect(0);
    let to_improve: Vec<&str> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("s_implement -->") && l.ends_with("s_improve"))
        .collect();
    assert!(!to_improve.is_empty(), "{}", out.stdout);
    assert!(
        to_improve.iter().any(|l| l.contains("checks.test.passed")),
        "implement → improve does not read the recorded check: {to_improve:?}"
    );
    assert!(
        to_improve
            .iter()
            .all(|l| !l.contains("output.test_result.passed")),
        "implement → improve still trusts the model's claim: {to_improve:?}"
    );
    let out = Test::new().args(&["validate"]).expect(0);
    assert!(!out.stdout.contains("undefined-variable"), "{}", out.stdout);
}

// ---------------------------------------------------------------------------------------------
// 4. Atomic writes cannot follow links.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_planted_at_a_temp_file_name_does_not_redirect_a_patch() {
    let lab = Lab::new();
    lab.write("b.txt", "one\n");
    lab.write("sub/c.txt", "one\n");
    // Every plausible temp-file name next to the target points at its own outside file.
    let names = [
        ".b.txt.maestro-tmp",
        "b.txt.maestro-tmp",
        ".b.txt.tmp",
        "b.txt.tmp",
        "b.txt~",
        ".b.txt.swp",
        ".b.txt.new",
        "b.txt.new",
        "sub/.c.txt.maestro-tmp",
        "sub/c.txt.maestro-tmp",
    ];
    let mut targets = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let target = lab.outside().join(format!("victim-{i}.txt"));
        std::fs::write(&target, "precious\n").unwrap();
        std::os::unix::fs::symlink(&target, lab.root().join(name)).unwrap();
        targets.push(target);
    }
    let client = lab.serve().await;
    let diff = "--- a/b.txt\n+++ b/b.txt\n@@ -1 +1 @@\n-one\n+two\n--- a/sub/c.txt\n+++ b/sub/c.txt\n@@ -1 +1 @@\n-one\n+two\n";
    let r = call(&client, "patch", json!({"diff": diff})).await;
    for t in &targets {
        assert_eq!(
            std::fs::read_to_string(t).unwrap(),
            "precious\n",
            "{} was overwritten through a planted link ({:?})",
            t.display(),
            r.content
        );
    }
    // Either the patch went through safely or it was refused whole; never half.
    let b = std::fs::read_to_string(lab.root().join("b.txt")).unwrap();
    let c = std::fs::read_to_string(lab.root().join("sub/c.txt")).unwrap();
    if r.is_error == Some(true) {
        assert_eq!((b.as_str(), c.as_str()), ("one\n", "one\n"));
    } else {
        assert_eq!((b.as_str(), c.as_str()), ("two\n", "two\n"));
        for name in names {
            assert!(
                std::fs::symlink_metadata(lab.root().join(name)).is_ok_and(|m| m.is_symlink())
                    || !lab.root().join(name).exists(),
                "{name}"
            );
        }
    }
    // Restoring must not follow the links either.
    if let Some(id) = r
        .structured_content
        .as_ref()
        .and_then(|v| find(v, "backup_id"))
        .and_then(Value::as_str)
    {
        ok(&call(&client, "restore", json!({"backup_id": id})).await);
        for t in &targets {
            assert_eq!(
                std::fs::read_to_string(t).unwrap(),
                "precious\n",
                "restore wrote {}",
                t.display()
            );
        }
    }
    assert_eq!(
        std::fs::read_dir(lab.outside()).unwrap().count(),
        names.len(),
        "a file appeared outside"
    );
    client.cancel().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 5. Nothing is written before the request is valid.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_and_verify_with_an_unknown_run_do_nothing() {
    let lab = Lab::new();
    lab.write("a.txt", "one\n");
    lab.checks("checks:\n  mark:\n    run: [touch, check-ran.marker]\n    timeout: 30s\n");
    let client = lab.serve().await;
    let before = snapshot(&lab.root());
    let diff = format!(
        "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+two\n{}",
        new_file("new.txt", &["x"])
    );
    let e = err_text(
        &call(
            &client,
            "patch",
            json!({"diff": diff, "run_id": "run-nope"}),
        )
        .await,
    );
    assert!(e.contains("unknown_run"), "{e}");
    assert_eq!(
        std::fs::read_to_string(lab.root().join("a.txt")).unwrap(),
        "one\n",
        "written before the run was checked"
    );
    assert!(!lab.root().join("new.txt").exists());
    assert_eq!(
        snapshot(&lab.root()),
        before,
        "something was written (a backup?)"
    );

    let e = err_text(
        &call(
            &client,
            "verify",
            json!({"checks": ["mark"], "run_id": "run-nope"}),
        )
        .await,
    );
    assert!(e.contains("unknown_run"), "{e}");
    assert!(
        !lab.root().join("check-ran.marker").exists(),
        "the check ran before the run was checked"
    );

    let e = err_text(
        &call(
            &client,
            "note",
            json!({"kind": "observation", "content": "x", "run_id": "run-nope"}),
        )
        .await,
    );
    assert!(e.contains("unknown_run"), "{e}");
    let ev = ok(&call(&client, "evidence", json!({})).await);
    assert_eq!(ev["entries"].as_array().map(Vec::len), Some(0), "{ev}");
    // The control: with no run the same check does run.
    ok(&call(&client, "verify", json!({"checks": ["mark"]})).await);
    assert!(lab.root().join("check-ran.marker").exists());
    client.cancel().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 6. Asset names are names.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_names_cannot_walk_out_of_the_asset_folders() {
    let lab = Lab::new();
    for d in ["workflows", "roles", "skills", "schemas", "conf"] {
        std::fs::create_dir_all(lab.root().join(".maestro").join(d)).unwrap();
    }
    // Files with every asset extension, inside the workspace but outside the asset folders, and
    // outside the workspace altogether. Their content must never come back.
    let secret = "LEAKED-CONTENT-6f1e sk-proj-ResourceLeak0123456789abcdef";
    for ext in ["kdl", "yaml", "yml", "md.j2", "md", "json"] {
        lab.write(&format!("x.{ext}"), secret);
        lab.write(&format!("tmp/x.{ext}"), secret);
        std::fs::write(lab.outside().join(format!("hosts.{ext}")), secret).unwrap();
    }
    let outside = lab.outside();
    let out_name = outside.file_name().unwrap().to_str().unwrap();
    let client = lab.serve().await;
    let uris = [
        "maestro://workflows/../../../etc/hosts".to_string(),
        format!("maestro://workflows/../../../{out_name}/hosts"),
        format!("maestro://workflows/../../{out_name}/hosts"),
        "maestro://workflows/../../x".to_string(),
        "maestro://workflows/..%2f..%2fx".to_string(),
        "maestro://workflows/%2e%2e/%2e%2e/x".to_string(),
        "maestro://workflows/../../tmp/x".to_string(),
        format!("maestro://workflows/{}", outside.join("hosts").display()),
        "maestro://roles/../../x".to_string(),
        "maestro://roles/..%2f..%2fx".to_string(),
        "maestro://skills/../../x".to_string(),
        "maestro://schemas/../../x".to_string(),
        format!("maestro://schemas/../../../{out_name}/hosts"),
        "maestro://schemas/..\\..\\x".to_string(),
        "maestro://runs/../../x".to_string(),
        "maestro://conf/../../x".to_string(),
    ];
    for uri in &uris {
        let r = client
            .read_resource(ReadResourceRequestParams::new(uri.as_str()))
            .await;
        let shown = format!("{r:?}");
        assert!(
            r.is_err(),
            "{uri} was read: {}",
            &shown[..shown.len().min(300)]
        );
        assert!(
            !shown.contains("LEAKED-CONTENT") && !shown.contains("ResourceLeak"),
            "{uri}: {shown}"
        );
    }
    // The same names in the tools that look assets up.
    std::fs::write(
        lab.root().join("tmp/x.kdl"),
        one_stage("x", "", "", TO_DONE),
    )
    .unwrap();
    for name in [
        "../../tmp/x",
        "../x",
        "./default",
        "DEFAULT",
        "default/",
        "de fault",
        "x".repeat(65).as_str(),
    ] {
        let e = err_text(&call(&client, "start", json!({"task": "t", "workflow": name})).await);
        assert!(e.contains("bad_name"), "workflow {name:?}: {e}");
    }
    let e = err_text(
        &call(
            &client,
            "consult",
            json!({"prompt": "q", "provider": "claude", "role": "../../x"}),
        )
        .await,
    );
    assert!(e.contains("bad_name"), "{e}");
    assert!(!e.contains("LEAKED-CONTENT"), "{e}");
    assert_eq!(
        lab.calls("claude"),
        0,
        "a provider was asked with a role read from outside"
    );
    let s = ok(&call(&client, "status", json!({})).await);
    assert_eq!(
        s["runs"].as_array().map(Vec::len),
        Some(0),
        "a run started: {s}"
    );
    client.cancel().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 7. Secrets stay secret everywhere.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_refuses_secret_files_by_name_and_by_link_target() {
    let lab = Lab::new();
    let secret_files = [
        ".env",
        "service-account.json",
        ".git-credentials",
        ".pgpass",
        ".my.cnf",
        "terraform.tfstate",
        ".htpasswd",
        ".vault-token",
        "token.json",
        ".dockercfg",
        "id_dsa",
        ".config/gh/hosts.yml",
        ".git/config",
        "deploy/service-account.json",
        "infra/terraform.tfstate",
    ];
    for (i, f) in secret_files.iter().enumerate() {
        lab.write(f, &format!("LEAKMARK-{i:02}-c0ffee\n"));
    }
    // Innocent names that lead to secret files.
    let links = [
        ("notes.txt", ".env"),
        ("docs/git.txt", "../.git/config"),
        ("readme.md", "id_dsa"),
    ];
    for (link, target) in links {
        std::fs::create_dir_all(lab.root().join(link).parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, lab.root().join(link)).unwrap();
    }
    lab.write("src/ok.rs", "fn fine() {}\n");
    let client = lab.serve().await;
    let mut asked: Vec<String> = secret_files.iter().map(ToString::to_string).collect();
    asked.extend(links.iter().map(|(l, _)| (*l).to_string()));
    asked.push("src/ok.rs".into());
    let r = call(&client, "context", json!({"files": asked})).await;
    let v = ok(&r);
    let whole = all_text(&r);
    assert!(
        !whole.contains("LEAKMARK"),
        "a secret file was packed: {}",
        v["packed"]["text"]
    );
    let refused: Vec<&str> = find(&v, "refused")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .filter_map(|x| x["path"].as_str())
        .collect();
    for f in secret_files.iter().chain(links.iter().map(|(l, _)| l)) {
        assert!(refused.contains(f), "{f} was not refused: {refused:?}");
    }
    assert!(
        whole.contains("fn fine()"),
        "the ordinary file was not packed"
    );
    // Globs reach the same files: still refused.
    let r = call(
        &client,
        "context",
        json!({"files": ["**/*", "**/.*", ".*"]}),
    )
    .await;
    assert!(
        !all_text(&r).contains("LEAKMARK"),
        "a glob packed a secret file"
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packed_files_have_every_kind_of_secret_masked() {
    let lab = Lab::new();
    // (file content, the secret value that must not appear)
    let cases: [(&str, &str); 13] = [
        ("DB_PASSWORD=Tr0ub4dor-db-7731\n", "Tr0ub4dor-db-7731"),
        (
            "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: pgS3cretValue42\n",
            "pgS3cretValue42",
        ),
        (
            "{\"user\": \"app\", \"password\": \"jsonPassw0rd-991\"}\n",
            "jsonPassw0rd-991",
        ),
        (
            "DJANGO_SECRET_KEY=q8w7e6r5t4y3-django-key\n",
            "q8w7e6r5t4y3-django-key",
        ),
        ("password=hunt3r\n", "hunt3r"),
        (
            "password = \"correct horse battery staple\"\n",
            "horse battery staple",
        ),
        ("db_password: 'tiny pass phrase'\n", "tiny pass phrase"),
        (
            "DATABASE_URL=postgres://app:Pg-url-pass-5521@db.internal:5432/app\n",
            "Pg-url-pass-5521",
        ),
        (
            "url = \"mysql://root:MyRootPw9@localhost/db\"\n",
            "MyRootPw9",
        ),
        (
            "SLACK_APP_TOKEN=xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\n",
            "abcdef0123456789abcdef0123456789abcdef",
        ),
        (
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGPgpBodyMarkerAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----\n",
            "PgpBodyMarker",
        ),
        (
            "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAnoEndLineMarkerBBBBBBBBBBBBBBBBBBBBBB\nCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC\n",
            "noEndLineMarker",
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEOpenSshMarkerDDDD\n",
            "OpenSshMarker",
        ),
    ];
    let mut files = Vec::new();
    for (i, (text, _)) in cases.iter().enumerate() {
        let f = format!("notes/m{i:02}.txt");
        lab.write(&f, text);
        files.push(f);
    }
    let client = lab.serve().await;
    for (i, (_, value)) in cases.iter().enumerate() {
        let (v, text) = context_of(&client, &files[i]).await;
        assert!(
            !text.contains(value),
            "{}: `{value}` was not masked:\n{}",
            files[i],
            v["packed"]["text"]
        );
    }
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_in_tasks_facts_outputs_and_feedback_never_reach_the_store_or_the_log() {
    let lab = Lab::new();
    lab.workflow(
        "leaky",
        &one_stage(
            "leaky",
            "",
            "        gate {\n            by \"human\"\n            question \"why\" priority=\"high\" {\n                text \"Why?\"\n            }\n        }\n",
            TO_DONE,
        ),
    );
    // Each key's body is distinct, so a failure says which door it came through.
    let keys = [
        ("task", "sk-proj-TaskKeyBody0123456789abcdefgh"),
        ("facts", "sk-proj-FactKeyBody0123456789abcdefgh"),
        ("constraints", "sk-proj-RuleKeyBody0123456789abcdefgh"),
        ("output", "sk-proj-OutKeyBody0123456789abcdefghi"),
        ("feedback", "sk-proj-FeedKeyBody0123456789abcdefgh"),
        ("answer", "sk-proj-AnswerKeyBody0123456789abcdef"),
        ("note", "sk-proj-NoteKeyBody0123456789abcdefgh"),
    ];
    let key = |k: &str| keys.iter().find(|(n, _)| *n == k).unwrap().1;
    let client = lab.serve().await;
    let r = ok(&call(
        &client,
        "start",
        json!({
            "task": format!("the deploy fails with key {}", key("task")),
            "workflow": "leaky",
            "context": {"facts": [format!("OPENAI_API_KEY={}", key("facts"))],
                        "constraints": [format!("never print {}", key("constraints"))]}
        }),
    )
    .await);
    let run = r["run_id"].as_str().unwrap().to_string();
    let apr = awaiting_approval(
        &client,
        &run,
        json!({"summary": format!("found {}", key("output"))}),
    )
    .await;
    ok(&call(
        &client,
        "note",
        json!({"run_id": run, "kind": "observation", "content": format!("saw {}", key("note"))}),
    )
    .await);
    let out = lab.maestro(&[
        "revise",
        &apr,
        "--feedback",
        &format!("rotate {} first", key("feedback")),
        "--answer",
        &format!("why=because {}", key("answer")),
        "--no-input",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r = ok(&call(
        &client,
        "submit",
        json!({"run_id": run, "output": {"summary": "ok"}}),
    )
    .await);
    assert_eq!(r["outcome"], "awaiting_approval", "{r}");
    client.cancel().await.unwrap();

    let body = |k: &str| key(k)["sk-proj-".len()..].to_string();
    let mut places: Vec<(String, Vec<u8>)> = Vec::new();
    for suffix in ["", "-wal", "-journal"] {
        let path = PathBuf::from(format!("{}{suffix}", lab.state().display()));
        if let Ok(bytes) = std::fs::read(&path) {
            places.push((path.display().to_string(), bytes));
        }
    }
    assert!(
        !places.is_empty(),
        "no state file at {}",
        lab.state().display()
    );
    for args in [
        vec!["log", run.as_str(), "--jsonl"],
        vec!["log", run.as_str()],
        vec!["runs", "--all", "--json"],
        vec!["runs", "--all"],
        vec!["runs", run.as_str(), "--json"],
        vec!["approvals", "--all", "--json"],
    ] {
        let out = lab.maestro(&args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        places.push((
            format!("maestro {}", args.join(" ")),
            format!("{}{}", out.stdout, out.stderr).into_bytes(),
        ));
    }
    let mut leaks = Vec::new();
    for (name, bytes) in &places {
        for (door, _) in &keys {
            if contains_bytes(bytes, &body(door)) {
                leaks.push(format!("the {door} key is in {name}"));
            }
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_patch_never_quotes_a_secret_file() {
    let lab = Lab::new();
    lab.write(
        ".env",
        "LOCAL_NOTE=zebra-unmaskable-4411\nOPENAI_API_KEY=sk-proj-EnvFileKeyBody0123456789abcd\nPORT=8080\n",
    );
    lab.write(
        "src/config.rs",
        "pub const NAME: &str = \"app\";\npub const KEY: &str = \"sk-proj-SrcFileKeyBody0123456789abcd\";\npub const PORT: u16 = 8080;\n",
    );
    std::os::unix::fs::symlink(".env", lab.root().join("notes.txt")).unwrap();
    let client = lab.serve().await;
    let before = snapshot(&lab.root());
    let attempts = [
        // A hunk that does not match: the error used to print the lines it found instead.
        "--- a/.env\n+++ b/.env\n@@ -1,3 +1,3 @@\n-LOCAL_NOTE=guess\n+LOCAL_NOTE=x\n OPENAI_API_KEY=guess\n PORT=8080\n",
        "--- a/.env\n+++ b/.env\n@@ -2 +2 @@\n-nothing\n+x\n",
        "--- a/notes.txt\n+++ b/notes.txt\n@@ -1 +1 @@\n-a\n+b\n",
        "--- a/src/config.rs\n+++ b/src/config.rs\n@@ -1,3 +1,3 @@\n pub const NAME: &str = \"app\";\n-pub const KEY: &str = \"guess\";\n+pub const KEY: &str = \"x\";\n pub const PORT: u16 = 9090;\n",
    ];
    for diff in attempts {
        for dry_run in [false, true] {
            let r = call(&client, "patch", json!({"diff": diff, "dry_run": dry_run})).await;
            let e = err_text(&r);
            for secret in ["zebra-unmaskable-4411", "EnvFileKeyBody", "SrcFileKeyBody"] {
                assert!(
                    !all_text(&r).contains(secret),
                    "the error shows `{secret}`: {e}"
                );
            }
        }
    }
    assert_eq!(snapshot(&lab.root()), before);
    client.cancel().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 8. Process groups hold.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_child_that_leaves_the_process_group_is_killed_with_the_check() {
    let lab = Lab::new();
    // The child writes its pid, leaves the group with setsid(), and sleeps; the parent sleeps
    // too, so the check can only end by its 2 s timeout.
    let script = "import os,time\n\
                  if os.fork() == 0:\n    \
                  open('escaped.pid.tmp','w').write(str(os.getpid()))\n    \
                  os.rename('escaped.pid.tmp','escaped.pid')\n    \
                  os.setsid()\n    \
                  time.sleep(60)\n\
                  else:\n    \
                  time.sleep(60)\n";
    lab.checks(&format!(
        "checks:\n  escape:\n    run: [python3, -c, {}]\n    timeout: 2s\n",
        serde_json::to_string(script).unwrap()
    ));
    let client = lab.serve().await;
    let v = ok(&call(&client, "verify", json!({"checks": ["escape"]})).await);
    let r = &v["results"][0];
    assert_eq!(
        (r["passed"].as_bool(), r["timed_out"].as_bool()),
        (Some(false), Some(true)),
        "{v}"
    );
    let pid_file = lab.root().join("escaped.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("the check's child never wrote its pid ({e}): {v}"))
        .trim()
        .parse()
        .unwrap();
    // Give the kill a moment to land; how long verify took is not the point here.
    let mut survived = true;
    for _ in 0..50 {
        if !alive(pid) {
            survived = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if survived {
        // Do not leave it behind for the next test, then report it.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        !survived,
        "the check's child {pid} left the group with setsid() and outlived the check"
    );
    client.cancel().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 9. Parsers are bounded.

/// Comment and nesting bombs of about `size` bytes, each a different way down the parser.
fn kdl_bombs(size: usize) -> Vec<(String, String)> {
    let alternating: String = (0..size)
        .map(|i| if i % 2 == 0 { '*' } else { '/' })
        .collect();
    vec![
        ("alternating".into(), format!("/*{alternating}")),
        ("closing".into(), format!("/*{}", "*/".repeat(size / 2))),
        ("nested-open".into(), "/*".repeat(size / 2)),
        (
            "deep-children".into(),
            format!("workflow \"w\" {{\n{}", "a {".repeat(size / 3)),
        ),
        (
            "deep-closed-children".into(),
            format!("{}{}", "a {".repeat(size / 4), "}".repeat(size / 4)),
        ),
        ("slashdash".into(), "/-".repeat(size / 2)),
        ("parens".into(), format!("a {}", "(".repeat(size))),
    ]
}

/// Runs `maestro` with `args` in `dir`, killing it after `limit` (a hang guard, not a speed
/// target): returns (exit code or None for a signal, stdout).
fn run_guarded(dir: &Path, args: &[&str], limit: Duration) -> (Option<i32>, String, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_maestro"))
        .args(args)
        .current_dir(dir)
        .env_remove("MAESTRO_HOME")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut so, &mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut se, &mut s).unwrap();
        s
    });
    let began = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`maestro {}` still running after {limit:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status.code(), out.join().unwrap(), err.join().unwrap())
}

#[test]
fn validate_reports_kdl_bombs_as_syntax_findings_instead_of_crashing() {
    let dir = tempfile::tempdir().unwrap();
    for size in [2_000, 8_000] {
        for (name, text) in kdl_bombs(size) {
            let file = dir.path().join(format!("{name}-{size}.kdl"));
            std::fs::write(&file, &text).unwrap();
            let (code, stdout, stderr) = run_guarded(
                dir.path(),
                &["validate", "--format", "json", file.to_str().unwrap()],
                Duration::from_secs(60),
            );
            assert_eq!(
                code,
                Some(1),
                "{name} ({size} bytes) killed validate: {stderr}"
            );
            assert!(
                stdout
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .any(|f| f["rule"] == "syntax"),
                "{name} ({size} bytes): no syntax finding in {stdout}"
            );
        }
    }
}

#[test]
fn a_yaml_mapping_with_100000_keys_validates_to_completion() {
    let dir = tempfile::tempdir().unwrap();
    let keys: String = (0..100_000).map(|i| format!("  k{i}: {i}\n")).collect();
    let nested = format!(
        "workflow: w\nversion: 1\nstart: a\nmeta:\n{keys}stages:\n  a:\n    next:\n      - {{to: done}}\nends: [done]\n"
    );
    std::fs::write(dir.path().join("nested.yaml"), nested).unwrap();
    // The same keys with one duplicate at the very end: found, not lost in the crowd.
    let dup =
        format!("workflow: w\nversion: 1\nstart: a\nmeta:\n{keys}  k7: again\nends: [done]\n");
    std::fs::write(dir.path().join("dup.yaml"), dup).unwrap();
    for (file, want) in [
        ("nested.yaml", "unknown-key"),
        ("dup.yaml", "duplicate-key"),
    ] {
        let (code, stdout, stderr) = run_guarded(
            dir.path(),
            &["validate", "--format", "json", file],
            Duration::from_secs(60),
        );
        assert!(matches!(code, Some(0 | 1)), "{file}: {code:?} {stderr}");
        assert!(
            stdout.contains(want),
            "{file}: no {want} in {}",
            &stdout[..stdout.len().min(2000)]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kdl_bomb_in_the_project_does_not_kill_the_server() {
    for (name, text) in kdl_bombs(2_000) {
        let lab = Lab::new();
        lab.workflow("bomb", &text);
        lab.workflow("fine", &one_stage("fine", "", "", TO_DONE));
        let client = lab.serve().await;
        // The answers may refuse the bomb; the server must live to answer the next request.
        let _ = client.list_all_prompts().await;
        let _ = client.list_all_resources().await;
        let _ = client
            .read_resource(ReadResourceRequestParams::new("maestro://workflows/bomb"))
            .await;
        let _ = client
            .call_tool(
                rmcp::model::CallToolRequestParams::new("start").with_arguments(
                    json!({"task": "t", "workflow": "bomb"})
                        .as_object()
                        .unwrap()
                        .clone(),
                ),
            )
            .await;
        let tools = client.list_all_tools().await;
        assert!(tools.is_ok(), "{name}: the server died: {tools:?}");
        let r = ok(&call(&client, "start", json!({"task": "t", "workflow": "fine"})).await);
        assert!(r["run_id"].is_string(), "{name}: {r}");
        client.cancel().await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// 10. Smaller ones.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_whose_cwd_leaves_the_workspace_does_not_run() {
    let lab = Lab::new();
    let unique = format!(
        "maestro-attack-{}-{}",
        std::process::id(),
        lab.tmp.path().file_name().unwrap().to_string_lossy()
    );
    let in_tmp = PathBuf::from("/tmp").join(&unique);
    lab.checks(&format!(
        "checks:\n  up:\n    run: [touch, ran-up.marker]\n    cwd: ../outside\n  abs:\n    run: [touch, {unique}]\n    cwd: /tmp\n  home:\n    run: [touch, ran-home.marker]\n    cwd: {}\n  fine:\n    run: [touch, ran-fine.marker]\n",
        lab.home().display()
    ));
    let client = lab.serve().await;
    for check in ["up", "abs", "home"] {
        let r = call(&client, "verify", json!({"checks": [check]})).await;
        let e = err_text(&r);
        assert!(e.contains("cwd") || e.contains("outside"), "{check}: {e}");
    }
    let ran_up = lab.outside().join("ran-up.marker").exists();
    let ran_abs = in_tmp.exists();
    let ran_home = lab.home().join("ran-home.marker").exists();
    let _ = std::fs::remove_file(&in_tmp);
    assert!(
        !ran_up && !ran_abs && !ran_home,
        "a check ran outside the workspace: up {ran_up}, /tmp {ran_abs}, home {ran_home}"
    );
    // The control: a check without a cwd runs in the workspace.
    ok(&call(&client, "verify", json!({"checks": ["fine"]})).await);
    assert!(lab.root().join("ran-fine.marker").exists());
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_check_names_are_refused_not_silently_first() {
    let lab = Lab::new();
    lab.checks("checks:\n  test:\n    run: [touch, first.marker]\n  test:\n    run: [touch, second.marker]\n");
    let client = lab.serve().await;
    let e = err_text(&call(&client, "verify", json!({"checks": ["test"]})).await);
    assert!(e.contains("test"), "{e}");
    assert!(
        !lab.root().join("first.marker").exists() && !lab.root().join("second.marker").exists(),
        "one of two checks named `test` ran: {e}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_from_a_command_without_a_terminal_is_recorded_as_command() {
    let lab = Lab::new();
    lab.workflow("gated", &one_stage("gated", "", HUMAN_GATE, TO_DONE));
    let client = lab.serve().await;
    let run = start(&client, "gated", "t").await;
    let apr = awaiting_approval(&client, &run, json!({"x": 1})).await;
    client.cancel().await.unwrap();
    // stdin is not a terminal here (support::Test gives /dev/null).
    let out = lab.maestro(&["approve", &apr]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: Value =
        serde_json::from_str(&lab.maestro(&["approvals", "--all", "--json"]).stdout).unwrap();
    let a = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["approval_id"] == apr.as_str())
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(a["decided_by"], "command", "{a}");
    let log = lab.maestro(&["log", &run, "--jsonl"]);
    let decided: Vec<Value> = log
        .json_lines()
        .into_iter()
        .filter(|e| e["kind"] == "approval_decided")
        .collect();
    assert_eq!(decided.len(), 1, "{}", log.stdout);
    assert_eq!(decided[0]["data"]["by"], "command", "{}", decided[0]);
}

#[test]
fn a_zero_byte_state_file_is_refused_and_left_alone() {
    let lab = Lab::new();
    lab.write(".maestro/state.db", "");
    for args in [
        vec!["runs"],
        vec!["approvals"],
        vec!["runs", "--all", "--json"],
    ] {
        let out = lab.maestro(&args);
        assert_ne!(
            out.code, 0,
            "{args:?} used an empty state file: {}",
            out.stdout
        );
        assert!(out.stderr.contains("empty"), "{args:?}: {}", out.stderr);
        assert_eq!(
            std::fs::metadata(lab.state()).unwrap().len(),
            0,
            "{args:?} wrote to the empty state file"
        );
    }
}

#[test]
fn a_gate_question_named_like_a_form_field_is_a_bad_name() {
    let lab = Lab::new();
    for id in ["decision", "feedback"] {
        let gate = format!(
            "        gate {{\n            by \"human\"\n            question \"{id}\" priority=\"high\" {{\n                text \"Sneaky?\"\n                options \"approve\" \"reject\"\n            }}\n        }}\n"
        );
        let wf = lab.workflow(
            &format!("q-{id}"),
            &one_stage(&format!("q-{id}"), "", &gate, TO_DONE),
        );
        let out = lab.maestro(&["validate", "--format", "json", wf.to_str().unwrap()]);
        assert_eq!(out.code, 1, "{id}: {}{}", out.stdout, out.stderr);
        let findings = out.json_lines();
        assert!(
            findings.iter().any(|f| f["rule"] == "bad-name"
                && f["severity"] == "error"
                && f.to_string().contains(id)),
            "{id}: {findings:?}"
        );
        std::fs::remove_file(wf).unwrap();
    }
    // In YAML too.
    let wf = lab.write(
        ".maestro/workflows/y.yaml",
        "workflow: y\nversion: 1\nstart: s\nstages:\n  s:\n    max-visits: 2\n    gate:\n      by: human\n      questions:\n        - id: feedback\n          text: Sneaky?\n    next:\n      - {to: done}\nends: [done]\n",
    );
    let out = lab.maestro(&["validate", "--format", "json", wf.to_str().unwrap()]);
    assert!(
        out.json_lines().iter().any(|f| f["rule"] == "bad-name"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_whose_question_shadows_a_form_field_cannot_be_started() {
    let lab = Lab::new();
    let gate = "        gate {\n            by \"human\"\n            question \"decision\" priority=\"high\" {\n                text \"Approve?\"\n                options \"approve\"\n            }\n        }\n";
    lab.workflow("shadow", &one_stage("shadow", "", gate, TO_DONE));
    let client = lab.serve().await;
    let r = call(&client, "start", json!({"task": "t", "workflow": "shadow"})).await;
    err_text(&r);
    client.cancel().await.unwrap();
}

const CLAUDE_ENTRY: &str = "  claude:\n    kind: cli\n    command: [claude, -p, --output-format, json, --model, \"{{ model }}\", --permission-mode, dontAsk, --strict-mcp-config]\n    model: sonnet\n    parser: claude-json\n    timeout: 20s\n    env:\n      pass: [HOME, PATH]\n";

#[test]
fn providers_yaml_with_unknown_keys_or_enabled_no_is_a_problem_and_the_entry_is_not_used() {
    let lab = Lab::new();
    lab.write(
        ".maestro/conf/providers.yaml",
        &format!(
            "providers:\n  codex:\n    kind: cli\n    command: [codex, exec, --json, -m, \"{{{{ model }}}}\", --sandbox, read-only, --skip-git-repo-check, \"-\"]\n    model: gpt-5-codex\n    parser: codex-jsonl\n    enabled: no\n    env:\n      pass: [HOME, PATH]\n  gemini:\n    kind: cli\n    command: [gemini, -p, \"\", -m, \"{{{{ model }}}}\", -o, json, --approval-mode, plan, --skip-trust]\n    model: gemini-2.5-pro\n    parser: gemini-json\n    sandbox-escape: true\n    env:\n      pass: [HOME, PATH]\n{CLAUDE_ENTRY}"
        ),
    );
    let out = lab.maestro(&["doctor", "--json"]);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    // The problems as a person reads them: the file's own, and each provider's.
    let mut problems: Vec<String> = v["config_problems"]
        .as_array()
        .into_iter()
        .flatten()
        .map(ToString::to_string)
        .collect();
    for p in v["providers"].as_array().into_iter().flatten() {
        problems.extend(
            p["problems"]
                .as_array()
                .into_iter()
                .flatten()
                .map(ToString::to_string),
        );
    }
    let text = problems.join("\n");
    assert!(
        text.contains("enabled"),
        "`enabled: no` is not listed as a problem: {v}"
    );
    assert!(
        text.contains("sandbox-escape"),
        "the unknown key is not listed: {v}"
    );
    assert_eq!(v["usable"], 1, "{v}");
    for name in ["codex", "gemini"] {
        if let Some(p) = v["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
        {
            assert_ne!(p["enabled"], true, "{name} is still enabled: {p}");
        }
    }
    for name in ["codex", "gemini"] {
        let out = lab.maestro(&["consult", "--provider", name, "hi"]);
        assert_ne!(out.code, 0, "{name} answered: {}", out.stdout);
        assert_eq!(lab.calls(name), 0, "{name} was called");
    }
    // The control: the well-formed entry still works.
    let out = lab.maestro(&["consult", "--provider", "claude", "hi"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(lab.calls("claude"), 1);
}

// ---------------------------------------------------------------------------------------------
// 11. Every provider call is charged (issue 9, part 1).

/// One stage allowing 2 consults per visit, preferring the fake claude; the gate lets the model
/// decide, so nothing here waits for a person.
pub(crate) fn budgeted(lab: &Lab) {
    lab.workflow(
        "budgeted",
        &one_stage(
            "budgeted",
            "        consult max=2 {\n            prefer \"claude\"\n            ensemble #false\n        }\n",
            ANY_GATE,
            TO_DONE,
        ),
    );
}

/// The fake claude's exact answer to `prompt` (its length and digest, then the text).
fn fake_answer(prompt: &str) -> String {
    format!(
        "ANSWER({}:{}) looks fine [model sonnet]",
        prompt.len(),
        crate::providers::digest(prompt)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibrate_sampling_is_charged_to_the_run_and_stops_at_the_budget() {
    let lab = Lab::new();
    budgeted(&lab);
    let client = lab.serve().await;
    let run = start(&client, "budgeted", "t").await;
    let prompt = "what is 6*7?";
    let args = json!({
        "step_prompt": prompt,
        "oracle_check": {"expected": fake_answer(prompt)},
        "samples": 5,
        "provider": "claude",
        "target": 0.9,
        "steps": 10.0,
        "run_id": run,
    });
    let r = call(&client, "calibrate", args.clone()).await;
    assert_eq!(consults_used(&client, &run).await, 2, "{:?}", r.content);
    assert!(
        lab.calls("claude") <= 2,
        "{} samples drawn past a budget of 2",
        lab.calls("claude")
    );
    if r.is_error != Some(true) {
        let drawn = find(&ok(&r), "samples").and_then(Value::as_u64);
        assert!(drawn.is_none_or(|n| n <= 2), "{:?}", r.structured_content);
    }
    // Spent: another calibration is refused and asks nobody.
    let before = lab.calls("claude");
    let e = err_text(&call(&client, "calibrate", args).await);
    assert!(e.contains("budget_exhausted"), "{e}");
    assert_eq!(lab.calls("claude"), before);
    assert_eq!(consults_used(&client, &run).await, 2);
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibrate_refuses_to_draw_hundreds_of_samples() {
    let lab = Lab::new();
    let client = lab.serve().await;
    let prompt = "what is 6*7?";
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        call(
            &client,
            "calibrate",
            json!({"step_prompt": prompt, "oracle_check": {"expected": fake_answer(prompt)},
                   "samples": 500, "provider": "claude", "target": 0.9, "steps": 10.0}),
        ),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "calibrate was still sampling after 20 s ({} calls)",
            lab.calls("claude")
        )
    });
    let e = err_text(&r);
    assert!(e.contains("too_many_samples") && e.contains("50"), "{e}");
    assert_eq!(
        lab.calls("claude"),
        0,
        "samples were drawn before the refusal"
    );
    // One past the cap of 50 is refused too.
    let r = call(
        &client,
        "calibrate",
        json!({"step_prompt": prompt, "oracle_check": {"expected": fake_answer(prompt)},
               "samples": 51, "provider": "claude", "target": 0.9, "steps": 10.0}),
    )
    .await;
    assert!(err_text(&r).contains("too_many_samples"));
    assert_eq!(lab.calls("claude"), 0);
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judge_selection_is_charged_and_refused_when_the_budget_is_spent() {
    let lab = Lab::new();
    budgeted(&lab);
    lab.fake(
        "answer",
        "```json\n{\"candidates_evaluated\": [{\"id\": \"a\", \"weighted_score\": 0.9}, {\"id\": \"b\", \"weighted_score\": 0.4}], \"selected\": \"a\", \"selection_reason\": \"smaller\"}\n```",
    );
    let client = lab.serve().await;
    let run = start(&client, "budgeted", "t").await;
    let cands = json!([
        {"id": "a", "content": "diff one", "provider": "codex"},
        {"id": "b", "content": "diff two", "provider": "gemini"}
    ]);
    let args =
        json!({"candidates": cands, "mode": "judge", "judge_provider": "claude", "run_id": run});
    let s = ok(&call(&client, "select", args.clone()).await);
    assert_eq!(find(&s, "winner"), Some(&json!("a")), "{s}");
    assert_eq!(
        consults_used(&client, &run).await,
        1,
        "the judge call was not charged"
    );
    ok(&call(&client, "consult", json!({"prompt": "q", "run_id": run})).await);
    assert_eq!(consults_used(&client, &run).await, 2);
    let before = lab.calls("claude");
    let e = err_text(&call(&client, "select", args).await);
    assert!(e.contains("budget_exhausted"), "{e}");
    assert_eq!(
        lab.calls("claude"),
        before,
        "the judge was asked past the budget"
    );
    assert_eq!(consults_used(&client, &run).await, 2);
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_that_runs_out_of_budget_says_budget() {
    let lab = Lab::new();
    budgeted(&lab);
    let client = lab.serve().await;
    let run = start(&client, "budgeted", "t").await;
    let v = ok(&call(
        &client,
        "vote",
        json!({"question": "q", "k": 3, "providers": ["claude"], "run_id": run, "max_samples": 6}),
    )
    .await);
    assert_eq!(find(&v, "stop_reason"), Some(&json!("budget")), "{v}");
    assert_eq!(find(&v, "converged"), Some(&json!(false)), "{v}");
    assert_eq!(consults_used(&client, &run).await, 2);
    assert_eq!(lab.calls("claude"), 2, "samples past the budget were drawn");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consult_ensemble_and_vote_refuse_at_zero_budget() {
    let lab = Lab::new();
    budgeted(&lab);
    let client = lab.serve().await;
    let run = start(&client, "budgeted", "t").await;
    for _ in 0..2 {
        ok(&call(&client, "consult", json!({"prompt": "q", "run_id": run})).await);
    }
    let spent = lab.calls("claude");
    assert_eq!(spent, 2);
    for (tool, args) in [
        ("consult", json!({"prompt": "q", "run_id": run})),
        (
            "consult",
            json!({"prompt": "q", "run_id": run, "provider": "codex"}),
        ),
        (
            "ensemble",
            json!({"prompt": "q", "run_id": run, "providers": ["claude", "codex", "gemini"]}),
        ),
        ("ensemble", json!({"prompt": "q", "run_id": run})),
    ] {
        let e = err_text(&call(&client, tool, args.clone()).await);
        assert!(e.contains("budget_exhausted"), "{tool} {args}: {e}");
    }
    let r = call(
        &client,
        "vote",
        json!({"question": "q", "providers": ["claude"], "run_id": run}),
    )
    .await;
    if r.is_error == Some(true) {
        assert!(err_text(&r).contains("budget_exhausted"), "{:?}", r.content);
    } else {
        assert_eq!(
            find(&ok(&r), "stop_reason"),
            Some(&json!("budget")),
            "{:?}",
            r.structured_content
        );
    }
    for cli in CLIS {
        assert_eq!(
            lab.calls(cli),
            if cli == "claude" { spent } else { 0 },
            "{cli} was asked past the budget"
        );
    }
    assert_eq!(consults_used(&client, &run).await, 2);
    client.cancel().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 12. The model cannot pass a human gate.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decide_is_refused_on_a_human_gate_whatever_the_answers_say() {
    let lab = Lab::new();
    lab.workflow("gated", &one_stage("gated", "", HUMAN_GATE, TO_DONE));
    let client = lab.serve().await;
    let run = start(&client, "gated", "t").await;
    let apr = awaiting_approval(&client, &run, json!({"x": 1})).await;
    for args in [
        json!({"approval_id": apr, "decision": "approve"}),
        json!({"approval_id": apr, "decision": "revise", "feedback": "x"}),
        json!({"approval_id": apr, "decision": "reject"}),
        json!({"approval_id": apr, "decision": "approve", "answers": {"decision": "approve", "by": "human"}}),
        json!({"approval_id": apr, "decision": "revise", "answers": {"decision": "approve", "feedback": "fine"}}),
    ] {
        let e = err_text(&call(&client, "decide", args.clone()).await);
        assert!(e.contains("human_gate"), "{args}: {e}");
    }
    let s = status(&client, &run).await;
    assert_eq!(
        (s["run"]["status"].as_str(), s["run"]["stage"].as_str()),
        (Some("waiting"), Some("review")),
        "{s}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_named_decision_or_feedback_cannot_smuggle_a_decision() {
    let lab = Lab::new();
    let gate = "        gate {\n            by \"any\"\n            question \"ok\" priority=\"high\" {\n                text \"Fine?\"\n            }\n        }\n";
    lab.workflow("open", &one_stage("open", "", gate, TO_DONE));
    let client = lab.serve().await;
    let run = start(&client, "open", "t").await;
    let apr = awaiting_approval(&client, &run, json!({"x": 1})).await;
    let r = call(
        &client,
        "decide",
        json!({"approval_id": apr, "decision": "revise", "feedback": "again",
               "answers": {"decision": "approve", "feedback": "", "ok": "yes"}}),
    )
    .await;
    let s = status(&client, &run).await;
    assert_ne!(
        s["run"]["status"], "finished",
        "an answer named `decision` approved the stage: {s}"
    );
    if r.is_error != Some(true) {
        let d = ok(&r);
        assert_eq!(d["approval"]["decision"], "revise", "{d}");
        assert_eq!(
            (s["run"]["stage"].as_str(), s["run"]["visit"].as_u64()),
            (Some("review"), Some(2)),
            "{s}"
        );
    }
    client.cancel().await.unwrap();
}

/// A role file a hostile repository ships with thousands of operators in one tag would
/// exhaust the stack when rendered; `consult` with that role refuses it and nothing is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_template_bomb_is_refused_not_rendered() {
    let lab = Lab::new();
    lab.write(
        ".maestro/roles/bomb.md.j2",
        &format!("{{{{ {} }}}}\n", vec!["1"; 5000].join(" + ")),
    );
    let client = lab.serve().await;
    let r = call(
        &client,
        "consult",
        json!({"prompt": "hi", "role": "bomb", "provider": "claude"}),
    )
    .await;
    let text = err_text(&r);
    assert!(text.contains("role_render_failed"), "{text}");
    assert_eq!(lab.calls("claude"), 0);
    // The server is still there.
    assert!(!client.list_all_tools().await.unwrap().is_empty());
    client.cancel().await.unwrap();
}
