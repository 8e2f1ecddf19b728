//! Attacks through `maestro verify`, the terminal door to the project's checks (`cli/verify.rs`
//! → `Engine::verify`, held by `Engine::hold_own`). Claude Code's Bash runs any command the
//! model writes, with the session in `CLAUDE_CODE_SESSION_ID`, so each test runs the real
//! binary as that Bash would (or as a shell the model opened some other way, without it) and
//! judges the effect: a marker file a check would create, the run's trail, the exit code and
//! the words.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::attacks::{
    HUMAN_GATE, Lab, TO_DONE, awaiting_approval, contains_bytes, one_stage, snapshot, start,
};
use crate::support::{Output, Test};

const SESSION: &str = "7a3c9e1f-2b4d-4e6f-8a0b-1c2d3e4f5a6b";
const OTHER: &str = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";

/// The check the tests name: a script that leaves `mark.marker` in the workspace, so "it ran"
/// is a file on disk.
const MARK_CHECK: &str = "checks:\n  mark:\n    run: [sh, scripts/mark.sh]\n    timeout: 30s\n";

/// `maestro ARGS` in `cwd` as Claude Code's Bash runs it: the lab's HOME, config dir and PATH,
/// and the session in `CLAUDE_CODE_SESSION_ID`; `None` is a shell the model opened some other
/// way (no session id at all).
fn bash_in(lab: &Lab, cwd: &Path, session: Option<&str>, args: &[&str]) -> Output {
    let mut t = Test::new()
        .args(args)
        .current_dir(cwd)
        .env("HOME", lab.home().to_str().unwrap())
        .env("XDG_CONFIG_HOME", config(lab).to_str().unwrap())
        .env("PATH", &lab.path_var());
    if let Some(s) = session {
        t = t.env("CLAUDE_CODE_SESSION_ID", s).env("CLAUDECODE", "1");
    }
    t.run()
}

fn bash(lab: &Lab, session: Option<&str>, args: &[&str]) -> Output {
    bash_in(lab, &lab.root(), session, args)
}

/// The lab's `XDG_CONFIG_HOME` (the user's config dir is `maestro/` in it).
fn config(lab: &Lab) -> PathBuf {
    lab.home().parent().unwrap().join("config")
}

/// A workspace with the `mark` check configured in `.maestro/conf/verify.yaml`.
fn lab_with_mark() -> Lab {
    let lab = Lab::new();
    lab.write("scripts/mark.sh", "#!/bin/sh\ntouch mark.marker\n");
    lab.checks(MARK_CHECK);
    lab
}

fn marked(lab: &Lab) -> bool {
    lab.root().join("mark.marker").exists()
}

/// The events of `run`'s trail, from `maestro log RUN --jsonl` run in `lab`.
fn trail(lab: &Lab, run: &str) -> Vec<Value> {
    let out = lab.maestro(&["log", run, "--jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.json_lines()
}

fn kinds(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["kind"] == kind).count()
}

/// Asserts that `out` is a refusal with failure `code`: exit 1, the code on stderr, nothing on
/// stdout (no result a caller could mistake for a check's).
fn refused(out: &Output, code: &str, what: &str) {
    assert_eq!(
        out.code, 1,
        "{what}: exit {}\n--- stdout\n{}\n--- stderr\n{}",
        out.code, out.stdout, out.stderr
    );
    assert!(
        out.stderr.contains(&format!("({code})")),
        "{what}: not `{code}`: {}",
        out.stderr
    );
    assert!(
        out.stdout.trim().is_empty(),
        "{what}: printed a result: {}",
        out.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// 1. A waiting gate holds the door.

/// While a run waits at a `by "human"` gate, `maestro verify` is a command like any other:
/// held for the run's own session (as its Bash sets it), for another session, and for a shell
/// with no session at all (`hold_own`'s rule at a gate is for every session); named checks,
/// the default "every check", `--run`, `--json` and a subfolder alike. Nothing runs, and each
/// refusal is a `tool_denied` event on the run. Once the person approves, the same command
/// runs the check: it was the hold that stopped it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_gate_holds_maestro_verify_from_every_shell() {
    let lab = lab_with_mark();
    lab.workflow("gated", &one_stage("gated", "", HUMAN_GATE, TO_DONE));
    std::fs::create_dir_all(lab.root().join("src/deep")).unwrap();
    let client = lab.serve_as(SESSION).await;
    let run = start(&client, "gated", "fix the parser").await;
    let apr = awaiting_approval(&client, &run, json!({"x": 1})).await;
    client.cancel().await.unwrap();

    let subfolder = lab.root().join("src/deep");
    let attempts: [(Option<&str>, &PathBuf, Vec<&str>); 7] = [
        (Some(SESSION), &lab.root(), vec!["verify", "mark"]),
        (Some(SESSION), &lab.root(), vec!["verify"]),
        (
            Some(SESSION),
            &lab.root(),
            vec!["verify", "mark", "--run", &run],
        ),
        (Some(SESSION), &lab.root(), vec!["verify", "--json", "mark"]),
        (Some(SESSION), &subfolder, vec!["verify", "mark"]),
        (Some(OTHER), &lab.root(), vec!["verify", "mark"]),
        (None, &lab.root(), vec!["verify", "mark"]),
    ];
    for (session, cwd, args) in &attempts {
        let what = format!("{session:?} in {}: {args:?}", cwd.display());
        let out = bash_in(&lab, cwd, *session, args);
        refused(&out, "held", &what);
        assert!(
            out.stderr.contains("`verify` is held")
                && out.stderr.contains("waits for a person's decision")
                && out.stderr.contains(&run)
                && out.stderr.contains(&apr),
            "{what}: the refusal does not say what holds it: {}",
            out.stderr
        );
        assert!(!marked(&lab), "{what}: the check ran at a waiting gate");
    }

    // Each refusal is on the run's trail, with the session that tried; nothing was recorded.
    let events = trail(&lab, &run);
    let denied: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "tool_denied" && e["data"]["tool"] == "verify")
        .collect();
    assert_eq!(denied.len(), attempts.len(), "{events:#?}");
    assert!(denied.iter().all(|e| e["data"]["rule"] == "human_gate"));
    for session in [SESSION, OTHER, ""] {
        assert!(
            denied.iter().any(|e| e["data"]["session"] == session),
            "no refusal recorded for session {session:?}: {denied:#?}"
        );
    }
    assert_eq!(kinds(&events, "check_recorded"), 0, "{events:#?}");
    assert_eq!(kinds(&events, "evidence"), 0, "{events:#?}");

    // The control: the person decides, and the same command runs the check.
    let out = lab.maestro(&["approve", &apr]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = bash(&lab, Some(SESSION), &["verify", "mark"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        marked(&lab),
        "the check did not run once the gate was decided"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Only configured checks run.

/// What the model could type in place of a check's name: a command line, a path in or out of
/// the workspace (the real check script among them), shell metacharacters. Each is
/// `unknown_check`, naming the configured checks, and nothing runs: not the text, not the
/// script it names, and not `mark` beside it (the whole request is refused first).
#[test]
fn a_check_name_is_only_ever_a_name() {
    let lab = lab_with_mark();
    // A program outside the workspace, reachable as `../outside/x`.
    let outside_marker = lab.outside().join("x.marker");
    let x = lab.outside().join("x");
    std::fs::write(
        &x,
        format!("#!/bin/sh\ntouch '{}'\n", outside_marker.display()),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&x, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let before = snapshot(&lab.root());
    let names = [
        "sh -c 'touch shell.marker'",
        "../x",
        "../outside/x",
        x.to_str().unwrap(),
        "scripts/mark.sh",
        "./scripts/mark.sh",
        "/usr/bin/touch",
        "mark;touch semi.marker",
        "mark && touch and.marker",
        "mark | touch pipe.marker",
        "$(touch sub.marker)",
        "`touch tick.marker`",
        "mark\ntouch nl.marker",
        "mark ",
        "MARK",
        "",
    ];
    for name in names {
        for session in [Some(SESSION), None] {
            let out = bash(&lab, session, &["verify", name]);
            refused(&out, "unknown_check", &format!("{name:?}"));
            assert!(
                out.stderr.contains("is not a configured check")
                    && out
                        .stderr
                        .contains("only checks from conf/verify.yaml run: mark"),
                "{name:?}: the refusal does not say what runs: {}",
                out.stderr
            );
        }
    }
    // A configured name beside an unknown one: refused before `mark` runs.
    let out = bash(
        &lab,
        Some(SESSION),
        &["verify", "mark", "sh -c 'touch shell.marker'"],
    );
    refused(&out, "unknown_check", "mark beside a command line");
    assert_eq!(
        snapshot(&lab.root()),
        before,
        "a refused `maestro verify` wrote into the workspace"
    );
    assert!(!outside_marker.exists(), "`../outside/x` ran");
}

/// A check configured anywhere but an asset layer's `conf/verify.yaml` is not a check: the
/// files a model could write (the workspace's own `verify.yaml` and `conf/verify.yaml`, a
/// `.maestro/` above the git root) and user-level places maestro does not read (`~/.maestro/`,
/// `~/.config/maestro/` while `XDG_CONFIG_HOME` names another folder, the config dir without
/// `conf/`). The user's config dir is a layer, but the project's `verify.yaml` comes first, so
/// a name only it has is not run either. The control: the same user-level file, in a project
/// with no `verify.yaml` of its own, runs and says where it came from.
#[test]
fn a_check_planted_outside_the_asset_layers_does_not_run() {
    let lab = lab_with_mark();
    let tmp = lab.home().parent().unwrap().to_path_buf();
    let places = [
        ("in_ws_root", lab.root().join("verify.yaml")),
        ("in_ws_conf", lab.root().join("conf/verify.yaml")),
        ("above_git_root", tmp.join(".maestro/conf/verify.yaml")),
        (
            "in_home_maestro",
            lab.home().join(".maestro/conf/verify.yaml"),
        ),
        (
            "in_home_config",
            lab.home().join(".config/maestro/conf/verify.yaml"),
        ),
        (
            "in_config_no_conf",
            config(&lab).join("maestro/verify.yaml"),
        ),
        ("in_config_root", config(&lab).join("verify.yaml")),
        (
            "in_maestro_no_conf",
            lab.root().join(".maestro/verify.yaml"),
        ),
        (
            "shadowed_user",
            config(&lab).join("maestro/conf/verify.yaml"),
        ),
    ];
    let marker = |name: &str| lab.outside().join(format!("{name}.marker"));
    for (name, file) in &places {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            file,
            format!(
                "checks:\n  {name}:\n    run: [touch, \"{}\"]\n",
                marker(name).display()
            ),
        )
        .unwrap();
    }
    for (name, file) in &places {
        let out = bash(&lab, Some(SESSION), &["verify", name]);
        refused(
            &out,
            "unknown_check",
            &format!("{name} in {}", file.display()),
        );
        assert!(
            !marker(name).exists(),
            "{name}: a check from {} ran",
            file.display()
        );
    }
    // With no name, only the project's checks run.
    let out = bash(&lab, Some(SESSION), &["verify", "--json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let ran: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(ran, ["mark"], "{v}");
    for (name, _) in &places {
        assert!(
            !marker(name).exists(),
            "{name} ran with `verify` and no name"
        );
    }

    // The control: the user's config dir is read when the project configures no checks.
    let plain = Lab::new();
    let user = config(&plain).join("maestro/conf/verify.yaml");
    let user_marker = plain.outside().join("user.marker");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(
        &user,
        format!(
            "checks:\n  usercheck:\n    run: [touch, \"{}\"]\n",
            user_marker.display()
        ),
    )
    .unwrap();
    let out = bash(&plain, Some(SESSION), &["verify", "usercheck"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(user_marker.exists(), "the user-level check did not run");
    assert!(
        out.stdout.contains("configured outside the project"),
        "{}",
        out.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// 3. A configured check is argv, never a shell.

/// A configured check whose arguments carry `;`, `$(…)`, backquotes, `&&`, `|` and a newline
/// hands them to its program as they are: no second command starts. A program named with a
/// whole command line does not start at all (`cannot_run`), and `sh -c` is refused in the
/// file itself.
#[test]
fn a_configured_check_runs_as_argv_without_a_shell() {
    let lab = Lab::new();
    lab.checks(concat!(
        "checks:\n",
        "  echoes:\n",
        "    run: [echo, \"x; touch semi.marker\", \"$(touch sub.marker)\", \"`touch tick.marker`\", \"&&\", touch, and.marker, \"|\", touch, pipe.marker, \"\\ntouch nl.marker\"]\n",
        "  glued:\n",
        "    run: [\"touch glued1.marker; touch glued2.marker\"]\n",
        "  literal:\n",
        "    run: [touch, \"$(touch dollar.marker).lit\"]\n",
        "  shell:\n",
        "    run: [sh, -c, \"touch shellcfg.marker\"]\n",
    ));
    let out = bash(
        &lab,
        Some(SESSION),
        &["verify", "--json", "echoes", "glued", "literal"],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    let result = |name: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no `{name}` in {v}"))
            .clone()
    };
    let echoes = result("echoes");
    assert_eq!(echoes["status"], "passed", "{echoes}");
    assert!(
        echoes["output"].as_str().unwrap().starts_with(
            "x; touch semi.marker $(touch sub.marker) `touch tick.marker` && touch and.marker | touch pipe.marker \ntouch nl.marker"
        ),
        "echo did not get its arguments as written: {echoes}"
    );
    assert_eq!(result("glued")["status"], "cannot_run", "{v}");
    assert_eq!(result("literal")["status"], "passed", "{v}");
    // `touch` made the file named literally, `$(` and all.
    assert!(lab.root().join("$(touch dollar.marker).lit").exists());

    let out = bash(&lab, Some(SESSION), &["verify", "shell"]);
    refused(&out, "unknown_check", "sh -c in verify.yaml");
    assert!(
        out.stderr.contains("a shell command line is not allowed"),
        "{}",
        out.stderr
    );

    for m in [
        "semi", "sub", "tick", "and", "pipe", "nl", "glued1", "glued2", "dollar", "shellcfg",
    ] {
        assert!(
            !lab.root().join(format!("{m}.marker")).exists(),
            "a second command ran: {m}.marker exists"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 4. `--run` names a run of this project.

/// `--run` with another project's run, or an id nobody made, is `unknown_run` before anything
/// runs; the other project's trail gets nothing. The control: without `--run` the check runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_naming_another_projects_run_or_none_runs_nothing() {
    let lab = lab_with_mark();
    let other = Lab::new();
    other.workflow("plain", &one_stage("plain", "", "", TO_DONE));
    other.write("scripts/mark.sh", "#!/bin/sh\ntouch mark.marker\n");
    other.checks(MARK_CHECK);
    let client = other.serve_as(SESSION).await;
    let theirs = start(&client, "plain", "their task").await;
    client.cancel().await.unwrap();

    for id in [
        theirs.as_str(),
        "run-nope",
        "",
        "../",
        "%",
        "' OR 1=1 --",
        "$(touch sub.marker)",
    ] {
        for session in [Some(SESSION), None] {
            let out = bash(&lab, session, &["verify", "mark", "--run", id]);
            refused(&out, "unknown_run", &format!("--run {id:?}"));
            assert!(!marked(&lab), "--run {id:?}: the check ran");
        }
    }
    assert!(!other.root().join("mark.marker").exists());
    assert!(!lab.root().join("sub.marker").exists());
    let events = trail(&other, &theirs);
    assert_eq!(kinds(&events, "check_recorded"), 0, "{events:#?}");
    assert_eq!(kinds(&events, "evidence"), 0, "{events:#?}");

    let out = bash(&lab, Some(SESSION), &["verify", "mark"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(marked(&lab), "the control did not run");
}

// ---------------------------------------------------------------------------------------------
// 5. What a check prints is masked, shown and stored.

/// Realistic fake keys, as a check that dumps its environment would print them: (line, the
/// secret in it).
/// A token on the check's command line in `verify.yaml`.
const ARGV_TOKEN: &str = "ghp_T4nW8qL2xR6vK9mP3sZ7yB5cF1hJ0dGeUaQo";

const LEAKS: [(&str, &str); 4] = [
    (
        "AWS_ACCESS_KEY_ID=AKIAQ3EGRTX7LB2MZP4K",
        "AKIAQ3EGRTX7LB2MZP4K",
    ),
    (
        "AWS_SECRET_ACCESS_KEY=Wq8dT2vKx9LmN4pRs7YbZc1Fg6Hj3Qe5Uo0AiXwV",
        "Wq8dT2vKx9LmN4pRs7YbZc1Fg6Hj3Qe5Uo0AiXwV",
    ),
    (
        "GITHUB_TOKEN=ghp_R8mK2xQ7vL4nT9pW3sY6zB1cF5hJ0dGeUaXo",
        "ghp_R8mK2xQ7vL4nT9pW3sY6zB1cF5hJ0dGeUaXo",
    ),
    (
        "export OPENAI_API_KEY=sk-proj-Zt5Yw8Xq2Vn6Rm1Lk4Jh7Gf0Dc3Bs9Ap",
        "sk-proj-Zt5Yw8Xq2Vn6Rm1Lk4Jh7Gf0Dc3Bs9Ap",
    ),
];

/// A failing check prints keys: `--json` and the text tail show them masked, and neither the
/// run's trail (`maestro log --jsonl`) nor the state file's bytes hold them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_a_check_prints_is_masked_in_json_and_in_the_state_file() {
    let lab = Lab::new();
    lab.workflow("plain", &one_stage("plain", "", "", TO_DONE));
    let mut script = String::from("#!/bin/sh\n");
    for (line, _) in LEAKS {
        script.push_str(&format!("echo '{line}'\n"));
    }
    script.push_str("echo 'test result: FAILED. 0 passed; 1 failed' >&2\nexit 1\n");
    lab.write("scripts/leak.sh", &script);
    // The check's own command line carries a token too (a config file may): results show the
    // command, so it is masked there as well.
    lab.checks(&format!(
        "checks:\n  leak:\n    run: [sh, scripts/leak.sh, \"--token={ARGV_TOKEN}\"]\n    timeout: 30s\n"
    ));
    let client = lab.serve_as(SESSION).await;
    let run = start(&client, "plain", "t").await;
    client.cancel().await.unwrap();

    let json_out = bash(
        &lab,
        Some(SESSION),
        &["verify", "leak", "--json", "--run", &run],
    );
    assert_eq!(json_out.code, 1, "{}{}", json_out.stdout, json_out.stderr);
    let v: Value = serde_json::from_str(&json_out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", json_out.stdout, json_out.stderr));
    let output = v["results"][0]["output"].as_str().unwrap();
    assert_eq!(v["results"][0]["status"], "failed", "{v}");
    // The check did print them, masked (a check that printed nothing would pass this test).
    for label in ["aws-access-key", "aws-secret", "github-token", "openai-key"] {
        assert!(
            output.contains(&format!("[masked:{label}]")),
            "no {label} in {output}"
        );
    }

    let text_out = bash(&lab, Some(SESSION), &["verify", "leak", "--run", &run]);
    assert_eq!(text_out.code, 1, "{}{}", text_out.stdout, text_out.stderr);
    assert!(text_out.stdout.contains("[masked:"), "{}", text_out.stdout);

    let log = lab.maestro(&["log", &run, "--jsonl"]);
    let events = log.json_lines();
    assert_eq!(kinds(&events, "check_recorded"), 2, "{}", log.stdout);
    assert_eq!(kinds(&events, "evidence"), 2, "{}", log.stdout);

    let mut stored = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = PathBuf::from(format!("{}{suffix}", lab.state().display()));
        if let Ok(bytes) = std::fs::read(&path) {
            stored.extend(bytes);
        }
    }
    assert!(
        !stored.is_empty(),
        "no state file at {}",
        lab.state().display()
    );
    for secret in LEAKS.iter().map(|(_, s)| *s).chain([ARGV_TOKEN]) {
        for (place, text) in [
            ("--json", &json_out.stdout),
            ("--json's stderr", &json_out.stderr),
            ("the text output", &text_out.stdout),
            ("the text stderr", &text_out.stderr),
            ("maestro log --jsonl", &log.stdout),
        ] {
            assert!(!text.contains(secret), "{secret} shown in {place}: {text}");
        }
        assert!(
            !contains_bytes(&stored, secret),
            "{secret} stored in the state file"
        );
    }
}
