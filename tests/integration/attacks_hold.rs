//! The second audit's item 1 (issue 21): a gate holds everything, not a list of tool names;
//! maestro's own writers obey the same holds; control files are decided on the real path,
//! the user-level ones too. Each test is the audit's repro, judged by its effect: the hook's
//! decision, a file unchanged, a marker that never appears.

use std::path::PathBuf;

use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::attacks::{Lab, TO_DONE, awaiting_approval, new_file, one_stage, start};
use crate::mcp::{call, err_text, ok};
use crate::support::{Output, Test};

const SESSION: &str = "4f1c2a9e-7d3b-4c5a-9e8f-1a2b3c4d5e6f";
const OTHER: &str = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b";

/// A workflow whose one stage is read-only and gated by a person, then a second that edits.
const READ_ONLY_THEN_EDIT: &str = r#"workflow "ro" {
    version 1
    start "look"
    stage "look" {
        edits #false
        max-visits 5
        gate {
            by "human"
        }
        next "work"
    }
    stage "work" {
        max-visits 5
        next "done"
    }
    end "done"
}
"#;

impl Lab {
    /// `maestro serve` as Claude Code starts it for `session`.
    pub(crate) async fn serve_as(&self, session: &str) -> RunningService<RoleClient, ()> {
        let session = session.to_string();
        let cmd = self.serve_command().configure(move |c| {
            c.env("CLAUDE_CODE_SESSION_ID", &session);
        });
        ().serve(TokioChildProcess::new(cmd).unwrap())
            .await
            .unwrap()
    }

    /// `maestro hook` as Claude Code runs it for `session`, before `tool` with `input`.
    fn hook(&self, session: &str, tool: &str, input: Value) -> Option<String> {
        let mut stdin = json!({
            "hook_event_name": "PreToolUse",
            "session_id": session,
            "cwd": self.root(),
            "tool_name": tool,
        });
        stdin["tool_input"] = input;
        let out = self.hook_env(Test::new().args(&["hook"]).stdin(stdin.to_string()));
        assert_eq!(out.code, 0, "{}", out.stderr);
        if out.stdout.trim().is_empty() {
            return None;
        }
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny", "{v}");
        Some(
            v["hookSpecificOutput"]["permissionDecisionReason"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    }

    fn hook_env(&self, t: Test) -> Output {
        t.current_dir(&self.root())
            .env("CLAUDE_PROJECT_DIR", self.root().to_str().unwrap())
            .env("HOME", self.home().to_str().unwrap())
            .env("XDG_CONFIG_HOME", self.config().to_str().unwrap())
            // Claude Code's own settings folder follows HOME unless this names another.
            .env("CLAUDE_CONFIG_DIR", "")
            .run()
    }

    fn config(&self) -> PathBuf {
        self.home().parent().unwrap().join("config")
    }
}

/// Starts `ro` for `session` and brings it to its gate; returns (run, approval).
async fn at_gate(client: &RunningService<RoleClient, ()>) -> (String, String) {
    let run = start(client, "ro", "look around").await;
    let apr = awaiting_approval(client, &run, json!({})).await;
    (run, apr)
}

/// The audit: EnterWorktree (not in the old matcher) made `.claude/worktrees/…` and a branch
/// while a gate waited; another server's writing tool and any tool Claude Code adds next
/// passed the same way. Now only tools known to change nothing pass, for every session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_a_gate_every_tool_but_a_known_read_is_held() {
    let lab = Lab::new();
    lab.workflow("ro", READ_ONLY_THEN_EDIT);
    let client = lab.serve_as(SESSION).await;
    let (run, apr) = at_gate(&client).await;
    let held = [
        ("EnterWorktree", json!({"name": "side"})),
        ("ExitWorktree", json!({})),
        ("WebFetch", json!({"url": "http://127.0.0.1:9/"})),
        ("Task", json!({"prompt": "edit the files"})),
        ("Agent", json!({"prompt": "edit the files"})),
        ("KillShell", json!({"shell_id": "1"})),
        ("TaskStop", json!({"task_id": "1"})),
        ("Monitor", json!({"command": "touch x"})),
        ("LSP", json!({})),
        (
            "mcp__filesystem__write_file",
            json!({"path": "a.txt", "content": "x"}),
        ),
        ("mcp__github__create_pull_request", json!({"title": "x"})),
        ("mcp__maestro__x__patch", json!({})),
        ("mcp__maestroo__patch", json!({})),
        ("SomeToolClaudeCodeAddsNextYear", json!({})),
        ("bash", json!({"command": "touch x"})),
        ("Bash", json!({"command": "touch x"})),
        ("Write", json!({"file_path": lab.root().join("a.txt")})),
    ];
    for session in [SESSION, OTHER] {
        for (tool, input) in &held {
            let reason = lab
                .hook(session, tool, input.clone())
                .unwrap_or_else(|| panic!("{tool} passed a waiting gate"));
            assert!(
                reason.contains("waits for a person's decision")
                    && reason.contains(&apr)
                    && reason.contains(&run),
                "{tool}: {reason}"
            );
        }
    }
    for tool in [
        "Read",
        "Grep",
        "Glob",
        "LS",
        "NotebookRead",
        "ToolSearch",
        "TodoWrite",
        "TaskCreate",
        "TaskList",
        "AskUserQuestion",
        "mcp__maestro__status",
        "mcp__maestro__context",
        "mcp__plugin_maestro_maestro__brief",
    ] {
        assert_eq!(lab.hook(SESSION, tool, json!({})), None, "{tool} is a read");
    }
    // Each refusal is in the run's trail.
    let log = lab.maestro(&["log", &run, "--jsonl"]).stdout;
    assert!(
        log.contains("EnterWorktree") && log.contains("mcp__filesystem__write_file"),
        "{log}"
    );
    client.cancel().await.unwrap();
}

/// The matchers the plugin and `init --claude` install send every tool to the hook: a matcher
/// naming tools would let the next tool through unseen.
#[test]
fn the_shipped_hooks_see_every_tool() {
    let lab = Lab::new();
    let out = lab.maestro(&["init", "--claude"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(lab.root().join(".claude/settings.json")).unwrap(),
    )
    .unwrap();
    let plugin: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::support::repo().join("plugin/hooks/hooks.json")).unwrap(),
    )
    .unwrap();
    for doc in [&settings, &plugin] {
        let groups = doc["hooks"]["PreToolUse"].as_array().unwrap();
        let ours: Vec<&Value> = groups
            .iter()
            .filter(|g| {
                g["hooks"][0]["command"]
                    .as_str()
                    .unwrap()
                    .starts_with("maestro hook")
            })
            .collect();
        assert_eq!(ours.len(), 1, "{doc}");
        assert_eq!(ours[0]["matcher"], "*", "{doc}");
    }
}

/// In an `edits #false` stage the worktree tools write too (a worktree and a branch): held
/// with the editing tools; commands and reads are how such a stage looks, so they pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_stage_holds_the_worktree_tools() {
    let lab = Lab::new();
    lab.workflow("ro", READ_ONLY_THEN_EDIT);
    let client = lab.serve_as(SESSION).await;
    let run = start(&client, "ro", "look around").await;
    for tool in ["EnterWorktree", "ExitWorktree", "NotebookEdit", "MultiEdit"] {
        let reason = lab
            .hook(
                SESSION,
                tool,
                json!({"file_path": lab.root().join("x.txt")}),
            )
            .unwrap_or_else(|| panic!("{tool} passed a read-only stage"));
        assert!(
            reason.contains("read-only") && reason.contains(&run),
            "{reason}"
        );
    }
    for tool in ["Bash", "WebFetch", "Read"] {
        assert_eq!(lab.hook(SESSION, tool, json!({})), None, "{tool}");
    }
    client.cancel().await.unwrap();
}

/// The audit: `patch` and `restore` edited files while a human gate waited and in an
/// `edits #false` stage (and created a file with no `run_id`). They obey the hook's rule, in
/// the engine; `verify` runs commands, held at a gate like Bash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_restore_and_verify_obey_the_holds() {
    let lab = Lab::new();
    lab.workflow("ro", READ_ONLY_THEN_EDIT);
    lab.write("notes.txt", "one\n");
    let marker = lab.outside().join("verify-ran");
    lab.checks(&format!(
        "checks:\n  test:\n    run: [\"touch\", \"{}\"]\n",
        marker.display()
    ));
    let client = lab.serve_as(SESSION).await;
    // Before any run: a patch is the model's to make, and leaves a backup to restore later.
    let edit = "--- a/notes.txt\n+++ b/notes.txt\n@@ -1 +1 @@\n-one\n+two\n";
    let done = ok(&call(&client, "patch", json!({"diff": edit})).await);
    let backup = done["report"]["backup_id"].as_str().unwrap().to_string();

    // A read-only stage of this session's run: with the run named, and without.
    let run = start(&client, "ro", "look around").await;
    let create = new_file("created.txt", &["planted"]);
    for args in [
        json!({"diff": create, "run_id": run}),
        json!({"diff": create}),
    ] {
        let r = call(&client, "patch", args).await;
        let text = err_text(&r);
        assert!(
            text.contains("read-only") && text.contains("held"),
            "{text}"
        );
    }
    let r = call(&client, "restore", json!({"backup_id": backup})).await;
    assert!(err_text(&r).contains("read-only"), "{}", err_text(&r));
    assert!(!lab.root().join("created.txt").exists());
    assert_eq!(
        std::fs::read_to_string(lab.root().join("notes.txt")).unwrap(),
        "two\n"
    );

    // At the gate: every session, every writer, and the checks.
    awaiting_approval(&client, &run, json!({})).await;
    let other = lab.serve_as(OTHER).await;
    for c in [&client, &other] {
        let r = call(c, "patch", json!({"diff": create})).await;
        assert!(
            err_text(&r).contains("waits for a person"),
            "{}",
            err_text(&r)
        );
        let r = call(c, "restore", json!({"backup_id": backup})).await;
        assert!(
            err_text(&r).contains("waits for a person"),
            "{}",
            err_text(&r)
        );
        let r = call(c, "verify", json!({"checks": ["test"]})).await;
        assert!(
            err_text(&r).contains("waits for a person"),
            "{}",
            err_text(&r)
        );
    }
    assert!(!lab.root().join("created.txt").exists());
    assert_eq!(
        std::fs::read_to_string(lab.root().join("notes.txt")).unwrap(),
        "two\n"
    );
    assert!(!marker.exists(), "a check ran while the gate waited");
    // A dry run changes nothing, so it is not held.
    let r = ok(&call(&client, "patch", json!({"diff": create, "dry_run": true})).await);
    assert!(r["report"]["backup_id"].is_null(), "{r}");
    let log = lab.maestro(&["log", &run, "--jsonl"]).stdout;
    assert!(
        log.contains("\"tool\":\"patch\"") && log.contains("\"tool\":\"verify\""),
        "{log}"
    );
    other.cancel().await.unwrap();
    client.cancel().await.unwrap();
}

/// Another session's run in a read-only stage does not bind this session's `patch`, as it
/// does not bind its Write; a call naming that run is bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_stage_binds_its_own_session_and_calls_that_name_it() {
    let lab = Lab::new();
    lab.workflow("ro", READ_ONLY_THEN_EDIT);
    let mine = lab.serve_as(SESSION).await;
    let run = start(&mine, "ro", "look around").await;
    let other = lab.serve_as(OTHER).await;
    let r = call(
        &other,
        "patch",
        json!({"diff": new_file("b.txt", &["b"]), "run_id": run}),
    )
    .await;
    assert!(err_text(&r).contains("read-only"), "{}", err_text(&r));
    ok(&call(&other, "patch", json!({"diff": new_file("a.txt", &["a"])})).await);
    assert!(lab.root().join("a.txt").exists() && !lab.root().join("b.txt").exists());
    other.cancel().await.unwrap();
    mine.cancel().await.unwrap();
}

/// The audit: a committed link `docs/cfg -> ../.claude` let Write rewrite
/// `.claude/settings.json`, and `wf -> .maestro/workflows` planted a workflow. The hook now
/// decides on where a path really leads: through links, dangling links, and `..`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_files_are_decided_on_the_real_path() {
    let lab = Lab::new();
    lab.write(".claude/settings.json", "{}\n");
    lab.workflow("one", &one_stage("one", "", "", TO_DONE));
    let root = lab.root();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::os::unix::fs::symlink("../.claude", root.join("docs/cfg")).unwrap();
    std::os::unix::fs::symlink(".maestro/workflows", root.join("wf")).unwrap();
    std::os::unix::fs::symlink(".claude/settings.local.json", root.join("notes.md")).unwrap();
    std::os::unix::fs::symlink(".", root.join("here")).unwrap();
    std::os::unix::fs::symlink("loop-b", root.join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", root.join("loop-b")).unwrap();
    let client = lab.serve_as(SESSION).await;
    let run = start(&client, "one", "tidy up").await;
    for rel in [
        "docs/cfg/settings.json",
        "wf/evil.kdl",
        "notes.md",
        "here/.mcp.json",
        "docs/../docs/cfg/settings.json",
        "here/here/.git/config",
        "loop-a/x",
    ] {
        let reason = lab
            .hook(
                SESSION,
                "Write",
                json!({"file_path": root.join(rel), "content": "x"}),
            )
            .unwrap_or_else(|| panic!("Write to {rel} passed"));
        assert!(
            reason.contains("control file") || reason.contains("loop"),
            "{rel}: {reason}"
        );
        assert!(reason.contains(&run), "{reason}");
    }
    assert_eq!(
        lab.hook(
            SESSION,
            "Write",
            json!({"file_path": root.join("docs/ok.md")})
        ),
        None
    );
    // `patch` decides with the same function.
    let r = call(
        &client,
        "patch",
        json!({"diff": new_file("docs/cfg/hooks.json", &["{}"])}),
    )
    .await;
    assert!(
        err_text(&r).contains("`.claude/hooks.json`"),
        "{}",
        err_text(&r)
    );
    assert!(!root.join(".claude/hooks.json").exists());
    client.cancel().await.unwrap();
}

/// The audit: the model wrote `~/.config/maestro/conf/verify.yaml` (the project had none)
/// and `verify` then ran its command. Every layer of the asset home and Claude Code's user
/// settings are control files for the hook, whether they exist yet or not; a check from
/// outside the project says where it came from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_level_control_files_are_held_and_checks_say_where_they_came_from() {
    let lab = Lab::new();
    lab.workflow("one", &one_stage("one", "", "", TO_DONE));
    let client = lab.serve_as(SESSION).await;
    let run = start(&client, "one", "tidy up").await;
    let home = lab.home();
    let user_conf = lab.config().join("maestro/conf/verify.yaml");
    assert!(!lab.config().join("maestro").exists());
    std::fs::create_dir_all(home.join("docs")).unwrap();
    std::os::unix::fs::symlink(home.join(".claude"), home.join("docs/claude-link")).unwrap();
    for path in [
        user_conf.clone(),
        home.join(".claude/settings.json"),
        home.join(".claude.json"),
        home.join("docs/claude-link/settings.json"),
    ] {
        let reason = lab
            .hook(SESSION, "Write", json!({"file_path": path, "content": "x"}))
            .unwrap_or_else(|| panic!("Write to {} passed", path.display()));
        assert!(
            reason.contains("control file") && reason.contains(&run),
            "{reason}"
        );
    }
    // MAESTRO_HOME is a layer too.
    let explicit = lab.outside().join("maestro-home");
    let out = lab.hook_env(
        Test::new()
            .args(&["hook"])
            .env("MAESTRO_HOME", explicit.to_str().unwrap())
            .stdin(
                json!({"hook_event_name": "PreToolUse", "session_id": SESSION, "tool_name": "Write",
                       "tool_input": {"file_path": explicit.join("workflows/default.kdl")}})
                .to_string(),
            ),
    );
    assert!(
        out.stdout.contains("deny") && out.stdout.contains("control file"),
        "{} {}",
        out.stdout,
        out.stderr
    );

    // Written anyway (a person, or a shell before any run): `verify` runs it, and says so.
    let marker = lab.outside().join("user-check-ran");
    std::fs::create_dir_all(user_conf.parent().unwrap()).unwrap();
    std::fs::write(
        &user_conf,
        format!(
            "checks:\n  test:\n    run: [\"touch\", \"{}\"]\n",
            marker.display()
        ),
    )
    .unwrap();
    // The server resolves its asset layers when it starts.
    client.cancel().await.unwrap();
    let client = lab.serve_as(SESSION).await;
    let r = ok(&call(
        &client,
        "verify",
        json!({"checks": ["test"], "run_id": run}),
    )
    .await);
    assert!(marker.exists());
    let summary = r["summary"].as_str().unwrap();
    assert!(
        summary.contains("configured outside the project") && summary.contains("verify.yaml"),
        "{summary}"
    );
    assert_eq!(r["results"][0]["source"]["outside_project"], true, "{r}");
    client.cancel().await.unwrap();
}
