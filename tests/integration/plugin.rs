//! The Claude Code plugin: validated and installed with the real `claude` CLI.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::support::{claude_bin, repo};

/// The hook events the issue asks the plugin to bring (the guard and the two context lines).
const REQUIRED_HOOK_EVENTS: [&str; 3] = ["PreToolUse", "SessionStart", "UserPromptSubmit"];

/// Claude Code's CLI in a home of its own: its settings, marketplaces, plugin cache and
/// `.claude.json` live in a temporary directory, never in the real `~/.claude`.
struct Claude {
    bin: PathBuf,
    home: tempfile::TempDir,
}

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Claude {
    fn new(bin: PathBuf) -> Self {
        Self {
            bin,
            home: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Runs `claude <args>` in `cwd` and returns what it printed; a run that does not end in
    /// two minutes fails the test (each call takes about a second).
    async fn run(&self, args: &[&str], cwd: &Path) -> Run {
        let mut cmd = tokio::process::Command::from(crate::support::isolated_claude(
            &self.bin,
            self.home.path(),
            cwd,
        ));
        cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
        let desc = format!("claude {}", args.join(" "));
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("`{desc}` hung (no exit in two minutes)"))
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        Run {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Records that the person trusted `folder`, as answering yes to the question `claude`
    /// asks on its first start in a folder does: `projects.<folder>.hasTrustDialogAccepted`
    /// in the CLI's `.claude.json`, whose other contents are kept.
    fn trust(&self, folder: &Path) {
        let config = self.home.path().join(".claude/.claude.json");
        let mut state = if config.is_file() {
            read_json(&config)
        } else {
            serde_json::json!({})
        };
        // The CLI looks a folder up by its real path, which is where it runs.
        let folder = folder.canonicalize().expect("the folder exists");
        let folder = folder.to_str().expect("UTF-8 path");
        state["projects"][folder]["hasTrustDialogAccepted"] = Value::Bool(true);
        std::fs::write(&config, serde_json::to_vec_pretty(&state).expect("JSON"))
            .unwrap_or_else(|e| panic!("writing {}: {e}", config.display()));
    }

    /// Runs and asserts success, printing everything on failure.
    async fn expect_success(&self, args: &[&str], cwd: &Path) -> Run {
        let run = self.run(args, cwd).await;
        assert!(
            run.success,
            "`claude {}` failed\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            run.stdout,
            run.stderr
        );
        run
    }
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The hook events `plugin/hooks/hooks.json` declares.
fn declared_hook_events() -> BTreeSet<String> {
    let hooks = read_json(&repo().join("plugin/hooks/hooks.json"));
    hooks["hooks"]
        .as_object()
        .expect("hooks.json has a \"hooks\" object")
        .keys()
        .cloned()
        .collect()
}

/// The names `claude plugin details` lists for one kind of component, from its inventory line,
/// e.g. `  Hooks (3)  PreToolUse, SessionStart, UserPromptSubmit  (harness-only …)`.
fn inventory(details: &str, kind: &str) -> BTreeSet<String> {
    let line = details
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{kind} (")))
        .unwrap_or_else(|| panic!("no \"{kind} (n)\" line in `claude plugin details`:\n{details}"));
    let names = line.split_once(')').map_or("", |(_, rest)| rest).trim();
    // A note in parentheses may follow the names, after two spaces.
    let names = names.split_once("  (").map_or(names, |(n, _)| n);
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
#[cfg_attr(
    maestro_missing = "claude",
    ignore = "needs Claude Code's CLI: set MAESTRO_CLAUDE_BIN (README, \"Running the tests\")"
)]
async fn the_plugin_and_its_marketplace_pass_claude_plugin_validate_strict() {
    let bin = claude_bin("the plugin");
    let claude = Claude::new(bin);
    let scratch = tempfile::tempdir().unwrap();
    // The plugin folder (its manifest, hooks and skill), then the repository root, where
    // `validate` finds the marketplace manifest `.claude-plugin/marketplace.json`.
    for (target, kind) in [
        (repo().join("plugin"), "plugin manifest"),
        (repo(), "marketplace manifest"),
    ] {
        let target = target.to_str().expect("UTF-8 path");
        let run = claude
            .expect_success(&["plugin", "validate", "--strict", target], scratch.path())
            .await;
        let report = format!("--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains(&format!("Validating {kind}")),
            "{report}"
        );
        assert!(run.stdout.contains("Validation passed"), "{report}");
    }
}

#[tokio::test]
#[cfg_attr(
    maestro_missing = "claude",
    ignore = "needs Claude Code's CLI: set MAESTRO_CLAUDE_BIN (README, \"Running the tests\")"
)]
async fn claude_installs_the_plugin_from_the_marketplace_with_its_server_skill_and_hooks() {
    let bin = claude_bin("the plugin");
    let claude = Claude::new(bin);
    let project = tempfile::tempdir().unwrap();
    let root = repo();
    let root = root.to_str().expect("UTF-8 path");

    let added = claude
        .expect_success(&["plugin", "marketplace", "add", root], project.path())
        .await;
    assert!(
        added
            .stdout
            .contains("Successfully added marketplace: maestro"),
        "{}{}",
        added.stdout,
        added.stderr
    );
    let installed = claude
        .expect_success(&["plugin", "install", "maestro@maestro"], project.path())
        .await;
    assert!(
        installed
            .stdout
            .contains("Successfully installed plugin: maestro@maestro"),
        "{}{}",
        installed.stdout,
        installed.stderr
    );

    // What the plugin brings, as Claude Code counts it.
    let details = claude
        .expect_success(&["plugin", "details", "maestro@maestro"], project.path())
        .await
        .stdout;
    assert!(
        details.starts_with(&format!("maestro {}", env!("CARGO_PKG_VERSION"))),
        "{details}"
    );
    let names = |v: &[&str]| {
        v.iter()
            .map(std::string::ToString::to_string)
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        inventory(&details, "MCP servers"),
        names(&["maestro"]),
        "{details}"
    );
    assert_eq!(
        inventory(&details, "Skills"),
        names(&["maestro"]),
        "{details}"
    );
    let hooks = inventory(&details, "Hooks");
    assert_eq!(hooks, declared_hook_events(), "{details}");
    assert!(
        hooks.is_superset(&names(&REQUIRED_HOOK_EVENTS)),
        "{details}"
    );

    // The installed copy keeps the server's command portable: `maestro serve`, found on PATH.
    let list = claude
        .expect_success(&["plugin", "list", "--json"], project.path())
        .await
        .stdout;
    let list: Value = serde_json::from_str(&list).unwrap_or_else(|e| panic!("{e}: {list}"));
    let plugin = list
        .as_array()
        .and_then(|l| l.iter().find(|p| p["id"] == "maestro@maestro"))
        .unwrap_or_else(|| panic!("maestro@maestro is not in `claude plugin list --json`: {list}"));
    assert_eq!(plugin["enabled"], true, "{plugin}");
    assert_eq!(plugin["version"], env!("CARGO_PKG_VERSION"), "{plugin}");
    assert_eq!(
        plugin["mcpServers"]["maestro"],
        serde_json::json!({"command": "maestro", "args": ["serve"]}),
        "{plugin}"
    );

    // `claude mcp list` starts each server and checks it answers MCP's handshake. Newer CLIs
    // (2.1.337) check only in a folder the person trusted, which `claude` asks once in a new
    // folder: the person says yes here. The server comes from a plugin the user enabled, so no
    // other prompt stands in the way (the `.mcp.json` approval guards a project's own
    // servers), and with stdin closed nothing waits for a person. It exits 0 even when a
    // server fails, so the line itself is what tells.
    claude.trust(project.path());
    let mcp = claude
        .expect_success(&["mcp", "list"], project.path())
        .await;
    let line = mcp
        .stdout
        .lines()
        .find(|l| l.starts_with("plugin:maestro:maestro:"))
        .unwrap_or_else(|| {
            panic!(
                "no maestro server in `claude mcp list`:\n{}{}",
                mcp.stdout, mcp.stderr
            )
        });
    assert!(line.contains("maestro serve"), "{line}");
    assert!(
        line.trim_end().ends_with("Connected"),
        "{}{}",
        mcp.stdout,
        mcp.stderr
    );
}

/// The command word of a hook or server command: what the shell or Claude Code looks up.
fn command_word(command: &str) -> &str {
    command.split_whitespace().next().unwrap_or("")
}

#[test]
fn the_manifests_are_json_carry_the_crate_version_and_name_maestro_on_path() {
    let root = repo();
    let plugin = read_json(&root.join("plugin/.claude-plugin/plugin.json"));
    assert_eq!(plugin["name"], "maestro", "{plugin}");
    assert_eq!(
        plugin["version"],
        env!("CARGO_PKG_VERSION"),
        "plugin/.claude-plugin/plugin.json must carry Cargo.toml's version: {plugin}"
    );

    let market = read_json(&root.join(".claude-plugin/marketplace.json"));
    assert_eq!(market["name"], "maestro", "{market}");
    let entries = market["plugins"].as_array().expect("marketplace plugins");
    assert_eq!(entries.len(), 1, "{market}");
    assert_eq!(entries[0]["name"], plugin["name"], "{market}");
    let source = entries[0]["source"].as_str().expect("a relative source");
    assert!(
        root.join(source)
            .join(".claude-plugin/plugin.json")
            .is_file(),
        "the marketplace's source {source} holds no plugin manifest"
    );
    // A version stated in the marketplace entry too must agree with the plugin's (`claude
    // plugin tag` refuses a release where they differ).
    if let Some(v) = entries[0].get("version") {
        assert_eq!(v, &plugin["version"], "{market}");
    }

    // These files are copied onto every user's machine: an absolute path would be the path of
    // the machine that wrote them. They name `maestro`, found on PATH.
    let mcp = read_json(&root.join("plugin/.mcp.json"));
    let servers = mcp["mcpServers"].as_object().expect("mcpServers");
    assert_eq!(servers.keys().collect::<Vec<_>>(), ["maestro"], "{mcp}");
    for (name, server) in servers {
        let command = server["command"].as_str().expect("a command");
        assert_eq!(command, "maestro", "server {name}: {mcp}");
        assert_eq!(
            server["args"],
            serde_json::json!(["serve"]),
            "server {name}: {mcp}"
        );
    }

    let hooks = read_json(&root.join("plugin/hooks/hooks.json"));
    let mut commands = Vec::new();
    for (event, matchers) in hooks["hooks"].as_object().expect("hooks") {
        for matcher in matchers.as_array().expect("matchers") {
            for hook in matcher["hooks"].as_array().expect("hooks") {
                if hook["type"] == "command" {
                    let command = hook["command"].as_str().expect("a command");
                    commands.push((event.clone(), command.to_string()));
                }
            }
        }
    }
    let events: BTreeSet<&str> = commands.iter().map(|(e, _)| e.as_str()).collect();
    for event in REQUIRED_HOOK_EVENTS {
        assert!(
            events.contains(event),
            "no {event} command hook in hooks.json"
        );
    }
    for (event, command) in &commands {
        let word = command_word(command);
        assert!(
            !Path::new(word).is_absolute(),
            "the {event} hook runs an absolute path: {command}"
        );
        assert_eq!(word, "maestro", "the {event} hook: {command}");
    }
}
