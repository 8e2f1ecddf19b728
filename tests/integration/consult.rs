//! Consultation that earns its cost, over the real MCP protocol against the fake CLIs: whole
//! answers (and the resource holding the rest past the client's cap), red flags as warnings,
//! files and a staged diff packed by the server, the run's memory in a role, threads that
//! replay (or natively resume) and outlive the server, and stances.

use std::path::{Path, PathBuf};

use rmcp::model::ReadResourceRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::mcp::{Project, analysis, call, err_text, hypotheses, ok, submit_for_approval};
use crate::providers::Fakes;

/// A project whose providers are the fakes, steered through `$HOME/.fake/`.
struct Lab {
    project: Project,
}

impl Lab {
    fn new() -> Self {
        let project = Project::new();
        std::fs::create_dir_all(project.path().join("home/.fake")).unwrap();
        Self { project }
    }

    fn path(&self) -> &Path {
        self.project.path()
    }

    fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    fn fake(&self, name: &str, value: &str) {
        std::fs::write(self.home().join(".fake").join(name), value).unwrap();
    }

    fn unfake(&self, name: &str) {
        let _ = std::fs::remove_file(self.home().join(".fake").join(name));
    }

    async fn connect_with(&self, env: &[(&str, &str)]) -> RunningService<RoleClient, ()> {
        let home = self.home();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let cmd = self.project.command().configure(move |c| {
            c.env("HOME", &home).env("PATH", Fakes::path_var());
            for (k, v) in &env {
                c.env(k, v);
            }
        });
        ().serve(TokioChildProcess::new(cmd).unwrap())
            .await
            .unwrap()
    }

    async fn connect(&self) -> RunningService<RoleClient, ()> {
        self.connect_with(&[]).await
    }

    fn maestro(&self, args: &[&str]) -> crate::support::Output {
        crate::support::Test::new()
            .args(args)
            .current_dir(self.path())
            .env("HOME", self.home().to_str().unwrap())
            .env("PATH", &Fakes::path_var())
            .run()
    }

    fn git(&self, args: &[&str]) {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    /// Makes the project a git repository whose one commit holds `src/lib.rs` with `lib`
    /// (the fakes' home is ignored).
    fn repo_with(&self, lib: &str) {
        self.git(&["init", "-q"]);
        self.git(&["config", "user.email", "t@example.com"]);
        self.git(&["config", "user.name", "t"]);
        self.write("src/lib.rs", lib);
        self.write("home/.gitignore", "*\n");
        self.git(&["add", "src/lib.rs"]);
        self.git(&["commit", "-q", "-m", "start"]);
    }

    /// Starts a `default` run and has the person approve its analysis from a terminal.
    async fn analysed_run(&self, client: &RunningService<RoleClient, ()>) -> String {
        let r = ok(&call(
            client,
            "start",
            json!({"task": "parse() fails on empty input", "workflow": "default"}),
        )
        .await);
        let run = r["run_id"].as_str().unwrap().to_string();
        let apr = submit_for_approval(client, &run, analysis(0.9)).await;
        let out = crate::mcp::approve_answering(&self.project, &apr);
        assert_eq!(out.code, 0, "{}", out.stderr);
        run
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

fn text_of(v: &Value) -> &str {
    v["answer"]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
}

async fn read_resource(client: &RunningService<RoleClient, ()>, uri: &str) -> String {
    let r = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap();
    match &r.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("{other:?}"),
    }
}

/// A 50,000-character security review that quotes `rm -rf /`.
fn long_review() -> String {
    let mut s = String::from("Never run `rm -rf /` as the installer suggests.\n");
    while s.len() < 50_000 {
        s.push_str("The handler trusts the path argument; check it against the workspace root. ");
    }
    s.truncate(50_000);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_for_answer_is_never_thrown_away() {
    let lab = Lab::new();
    let review = long_review();
    lab.fake("answer", &review);
    let client = lab.connect().await;
    let v = ok(&call(
        &client,
        "consult",
        json!({"prompt": "review the installer", "provider": "claude"}),
    )
    .await);
    let text = text_of(&v);
    assert!(text.contains(&review), "the whole answer arrives");
    assert!(v["answer"].get("truncated").is_none(), "{}", v["summary"]);
    let warnings = v["answer"]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("rm -rf")),
        "the dangerous command is a warning shown with the answer: {warnings:?}"
    );
    assert!(v["summary"].as_str().unwrap().contains("warning"), "{v}");
    let id = v["answer"]["consult_id"].as_str().unwrap().to_string();
    assert!(
        read_resource(&client, &format!("maestro://consults/{id}"))
            .await
            .contains(&review)
    );
    client.cancel().await.unwrap();

    // A client that takes less (MAX_MCP_OUTPUT_TOKENS) gets the first part and the resource.
    let client = lab.connect_with(&[("MAX_MCP_OUTPUT_TOKENS", "5000")]).await;
    let r = call(
        &client,
        "consult",
        json!({"prompt": "review the installer", "provider": "claude"}),
    )
    .await;
    let v = ok(&r);
    assert_eq!(v["answer"]["truncated"], true, "{}", v["summary"]);
    let text = text_of(&v);
    let id = v["answer"]["consult_id"].as_str().unwrap();
    let uri = format!("maestro://consults/{id}");
    assert!(text.contains(&uri) && text.len() < 20_000, "{}", text.len());
    let wire: usize = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.chars().count()))
        .sum();
    assert!(
        wire < 5_000 * 3,
        "the result stays under the cap: {wire} chars"
    );
    let whole = read_resource(&client, &uri).await;
    assert!(whole.contains(&review), "the resource holds all of it");
    client.cancel().await.unwrap();

    // The CLI keeps it too, with the warning on stderr.
    let out = lab.maestro(&["consult", "--provider", "codex", "how do I install it?"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(&review));
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("rm -rf"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_the_staged_diff_reach_the_adviser_without_secrets() {
    let lab = Lab::new();
    lab.write(".env", "DATABASE_PASSWORD=hunter2-very-secret\n");
    lab.repo_with("pub fn parse(s: &str) -> Option<u32> {\n    s.parse().ok()\n}\n");
    let token = format!("ghp_{}", "a1B2c3D4e5".repeat(4));
    lab.write(
        "src/lib.rs",
        &format!(
            "pub fn parse(s: &str) -> Option<u32> {{\n    // token {token}\n    s.trim().parse().ok()\n}}\n"
        ),
    );
    lab.write(".env", "DATABASE_PASSWORD=hunter2-changed\n");
    lab.git(&["add", "src/lib.rs", ".env"]);
    lab.fake("echo", "");
    let client = lab.connect().await;
    let v = ok(&call(
        &client,
        "consult",
        json!({
            "prompt": "review my staged change",
            "provider": "codex",
            "files": ["src/*.rs", ".env"],
            "diff": "staged",
        }),
    )
    .await);
    let seen = text_of(&v);
    assert!(seen.contains("review my staged change"), "{seen}");
    assert!(
        seen.contains("s.trim().parse().ok()"),
        "the file and the diff: {seen}"
    );
    assert!(
        seen.contains("+    s.trim().parse().ok()"),
        "the staged hunk: {seen}"
    );
    assert!(!seen.contains("hunter2"), "the .env never leaves: {seen}");
    assert!(!seen.contains(&token), "keys are masked: {seen}");
    let summary = v["summary"].as_str().unwrap();
    assert!(
        summary.contains(".env") && summary.contains("diff (staged)"),
        "{summary}"
    );
    let e = err_text(
        &call(
            &client,
            "consult",
            json!({"prompt": "q", "provider": "codex", "diff": "base:--output=/tmp/x"}),
        )
        .await,
    );
    assert!(e.contains("diff"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_consult_for_a_run_sees_what_the_person_approved() {
    let lab = Lab::new();
    let client = lab.connect().await;
    let run = lab.analysed_run(&client).await;
    lab.fake("echo", "");
    let v = ok(&call(
        &client,
        "consult",
        json!({"prompt": "what would you try first?", "role": "debugger", "run_id": run, "provider": "gemini"}),
    )
    .await);
    let seen = text_of(&v);
    assert!(seen.contains("The approved analysis"), "{seen}");
    assert!(
        seen.contains("parse() returns None for empty input"),
        "the debugger sees the approved analysis: {seen}"
    );
    assert!(
        seen.contains("parse() fails on empty input"),
        "and the task"
    );
    // It is charged, and in the evidence chain with a pointer to the whole text.
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(s["run"]["budget"]["consults_used"], 1, "{s}");
    let ev = ok(&call(
        &client,
        "evidence",
        json!({"run_id": run, "kind": "observation"}),
    )
    .await);
    let consult_id = v["answer"]["consult_id"].as_str().unwrap();
    assert!(
        ev["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["data"]["consult_id"] == consult_id),
        "{ev}"
    );
    // A consult that fails is in the evidence chain too, with what failed.
    lab.fake("mode", "auth");
    let e = err_text(
        &call(
            &client,
            "consult",
            json!({"prompt": "and then?", "run_id": run, "provider": "gemini"}),
        )
        .await,
    );
    assert!(e.contains("provider_failed"), "{e}");
    let ev = ok(&call(&client, "evidence", json!({"run_id": run})).await);
    assert!(
        ev["entries"].as_array().unwrap().iter().any(|e| {
            e["content"]
                .as_str()
                .unwrap_or_default()
                .starts_with("consult failed: gemini")
                && e["data"]["failed"] == true
        }),
        "{ev}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_replays_its_turns_and_outlives_the_server() {
    let lab = Lab::new();
    let client = lab.connect().await;
    lab.fake("answer", "first answer: check the empty case");
    let v = ok(&call(
        &client,
        "consult",
        json!({"prompt": "QUESTION ONE about parse", "provider": "gemini"}),
    )
    .await);
    let thread = v["answer"]["thread_id"].as_str().unwrap().to_string();
    assert_eq!(v["answer"]["turn"], 1);
    lab.fake("answer", "second answer: add a test for whitespace");
    let v = ok(&call(
        &client,
        "consult",
        json!({"prompt": "QUESTION TWO, a follow-up", "thread_id": thread}),
    )
    .await);
    assert_eq!(v["answer"]["thread_id"], thread.as_str());
    assert_eq!(v["answer"]["turn"], 2);
    assert_eq!(
        v["answer"]["provider"], "gemini",
        "a thread keeps its provider"
    );
    let e = err_text(
        &call(
            &client,
            "consult",
            json!({"prompt": "q", "thread_id": thread, "provider": "codex"}),
        )
        .await,
    );
    assert!(e.contains("thread_provider") && e.contains("gemini"), "{e}");
    client.cancel().await.unwrap();

    // A day later (a new server): turn 3 carries turns 1 and 2.
    let client = lab.connect().await;
    lab.fake("echo", "");
    let v = ok(&call(
        &client,
        "consult",
        json!({"prompt": "QUESTION THREE", "thread_id": thread}),
    )
    .await);
    let seen = text_of(&v);
    for part in [
        "QUESTION ONE about parse",
        "first answer: check the empty case",
        "QUESTION TWO, a follow-up",
        "second answer: add a test for whitespace",
        "QUESTION THREE",
    ] {
        assert!(seen.contains(part), "{part} missing from {seen}");
    }
    assert!(seen.find("QUESTION ONE").unwrap() < seen.find("QUESTION TWO").unwrap());
    assert!(seen.find("QUESTION TWO").unwrap() < seen.find("QUESTION THREE").unwrap());
    assert_eq!(v["replay"]["whole"], json!([1, 2]), "{v}");
    let whole = read_resource(&client, &format!("maestro://threads/{thread}")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&whole)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    client.cancel().await.unwrap();

    // The terminal sees the thread and can continue it.
    lab.unfake("echo");
    let list = lab.maestro(&["threads"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(
        list.stdout.contains(&thread) && list.stdout.contains("3 turn(s)"),
        "{}",
        list.stdout
    );
    let show = lab.maestro(&["threads", &thread]);
    assert!(
        show.stdout.contains("QUESTION TWO") && show.stdout.contains("turn 3"),
        "{}",
        show.stdout
    );
    let out = lab.maestro(&["consult", "--thread", &thread, "and a fourth?"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("replayed 3 earlier turn(s)"),
        "{}",
        out.stderr
    );
    let e = lab.maestro(&["threads", "th-nope"]);
    assert_eq!(e.code, 1);
    assert!(e.stderr.contains("no consult thread"), "{}", e.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_stage_budget_the_oldest_turn_is_summarised_first() {
    let lab = Lab::new();
    lab.write(
        ".maestro/workflows/chat.kdl",
        "workflow \"chat\" {\n    version 1\n    start \"talk\"\n    budget consults=10\n    stage \"talk\" {\n        consult max=10 context-chars=2500\n        next \"done\"\n    }\n    end \"done\"\n}\n",
    );
    let client = lab.connect().await;
    let r = ok(&call(
        &client,
        "start",
        json!({"task": "long talk", "workflow": "chat"}),
    )
    .await);
    let run = r["run_id"].as_str().unwrap().to_string();
    let first = format!("OLDEST {}", "a".repeat(1_200));
    let second = format!("NEWER {}", "b".repeat(1_200));
    lab.fake("answer", &first);
    let v = ok(&call(&client, "consult", json!({"prompt": "one", "run_id": run})).await);
    let thread = v["answer"]["thread_id"].as_str().unwrap().to_string();
    lab.fake("answer", &second);
    ok(&call(
        &client,
        "consult",
        json!({"prompt": "two", "run_id": run, "thread_id": thread}),
    )
    .await);
    lab.fake("echo", "");
    let v = ok(&call(
        &client,
        "consult",
        json!({"prompt": "three", "run_id": run, "thread_id": thread}),
    )
    .await);
    assert_eq!(v["replay"]["summarised"], json!([1]), "{v}");
    assert_eq!(v["replay"]["whole"], json!([2]), "{v}");
    let seen = text_of(&v);
    assert!(seen.contains(&second), "the newer turn stays whole");
    assert!(!seen.contains(&first), "the oldest is only summarised");
    assert!(seen.contains("Turn 1 (summarised"), "{seen}");
    // `context` packs within the same stage budget, by run or by stage name.
    lab.write("big.txt", &"line of text\n".repeat(2_000));
    for args in [
        json!({"files": ["big.txt"], "run_id": run}),
        json!({"files": ["big.txt"], "run_id": run, "stage": "talk"}),
    ] {
        let v = ok(&call(&client, "context", args).await);
        let chars = v["packed"]["chars"].as_u64().unwrap();
        assert!(chars <= 2_600, "{chars}: {}", v["summary"]);
        assert!(v["summary"].as_str().unwrap().contains("cut"), "{v}");
    }
    let v = ok(&call(&client, "context", json!({"files": ["big.txt"]})).await);
    assert!(
        v["packed"]["chars"].as_u64().unwrap() > 20_000,
        "no stage: the default budget"
    );
    let e = err_text(
        &call(
            &client,
            "context",
            json!({"files": ["big.txt"], "run_id": run, "stage": "nope"}),
        )
        .await,
    );
    assert!(e.contains("unknown_stage") && e.contains("talk"), "{e}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_that_resumes_its_own_session_gets_only_the_new_question() {
    let lab = Lab::new();
    lab.write(
        ".maestro/conf/providers.yaml",
        "providers:\n  codex:\n    kind: cli\n    command: [codex, exec, --json, --sandbox, read-only, --skip-git-repo-check, \"-\"]\n    resume: [codex, exec, --json, --sandbox, read-only, --skip-git-repo-check, resume, \"{{ session }}\", \"-\"]\n    model: m\n    parser: codex-jsonl\n    env:\n      pass: [HOME, PATH]\n",
    );
    let client = lab.connect().await;
    let v = ok(&call(&client, "consult", json!({"prompt": "FIRST QUESTION"})).await);
    let thread = v["answer"]["thread_id"].as_str().unwrap().to_string();
    lab.fake("echo", "");
    let v = ok(&call(
        &client,
        "consult",
        json!({"prompt": "SECOND QUESTION", "thread_id": thread}),
    )
    .await);
    let seen = text_of(&v);
    assert!(
        seen.starts_with("RESUMED(0199a3c2-5f10-7d21-9a0e-2b7c4e81d0aa)"),
        "the session the CLI reported is continued: {seen}"
    );
    assert!(
        seen.contains("SECOND QUESTION") && !seen.contains("FIRST QUESTION"),
        "{seen}"
    );
    assert!(v.get("replay").is_none(), "{v}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stances_reach_each_member_and_the_positions_come_back_side_by_side() {
    let lab = Lab::new();
    lab.fake("echo", "");
    let client = lab.connect().await;
    let v = ok(&call(
        &client,
        "ensemble",
        json!({
            "prompt": "Should we cache parsed configs?",
            "stances": [
                {"provider": "codex", "stance": "for"},
                {"provider": "gemini", "stance": "against", "focus": "stale data after edits"},
                {"provider": "claude", "stance": "neutral"}
            ]
        }),
    )
    .await);
    let answers = v["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 3, "{v}");
    let by = |p: &str| answers.iter().find(|a| a["provider"] == p).unwrap();
    assert!(
        by("codex")["text"]
            .as_str()
            .unwrap()
            .contains("Role: advocate")
    );
    let critic = by("gemini")["text"].as_str().unwrap();
    assert!(critic.contains("Role: critic") && critic.contains("stale data after edits"));
    assert!(
        by("claude")["text"]
            .as_str()
            .unwrap()
            .contains("neutral reviewer")
    );
    assert_eq!(by("gemini")["stance"], "against");
    for a in answers {
        assert!(
            a["text"]
                .as_str()
                .unwrap()
                .contains("Should we cache parsed configs?")
        );
        assert!(
            a["thread_id"].is_string(),
            "each member can be followed up: {a}"
        );
    }
    // The echoed template is not a verdict: each member is listed as unclear.
    assert_eq!(
        v["positions"]["unclear"].as_array().unwrap().len(),
        3,
        "{v}"
    );

    // Real verdicts are grouped.
    lab.unfake("echo");
    lab.fake(
        "answer",
        "It is risky.\nVERDICT: disagree\nPOINTS:\n- stale reads\n",
    );
    let v = ok(&call(
        &client,
        "ensemble",
        json!({"prompt": "q", "stances": [{"provider": "codex", "stance": "against"}, {"provider": "claude", "stance": "for"}]}),
    )
    .await);
    assert_eq!(
        v["positions"]["disagree"],
        json!(["codex (against)", "claude (for)"]),
        "{v}"
    );
    // (The fake appends `[model …]` to the last line.)
    assert!(
        v["answers"][0]["points"][0]
            .as_str()
            .unwrap()
            .starts_with("stale reads"),
        "{v}"
    );
    client.cancel().await.unwrap();
}

/// The new doors of this surface (files, diff, thread ids, the consult resources, roles) are
/// refused where they would reach outside the workspace, a control file, a secret, or a
/// budget, and nothing is charged or sent for a refused request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_on_the_consult_doors_are_refused() {
    let lab = Lab::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("loot.txt"), "OUTSIDE-SECRET").unwrap();
    lab.write(".maestro/conf/verify.yaml", "checks: {}\n");
    lab.write(".git/config", "[core]\n\tCONTROL-FILE = 1\n");
    lab.write("notes.txt", "fine to read\n");
    lab.fake("echo", "");
    let client = lab.connect().await;
    let rel = format!(
        "../{}/loot.txt",
        outside.path().file_name().unwrap().to_str().unwrap()
    );
    let v = ok(&call(
        &client,
        "consult",
        json!({
            "prompt": "look", "provider": "codex",
            "files": [rel, outside.path().join("loot.txt").to_str().unwrap(),
                      ".git/config", ".maestro/conf/verify.yaml", ".maestro/state.db", "notes.txt",
                      "**/*.txt"],
        }),
    )
    .await);
    let seen = text_of(&v);
    assert!(seen.contains("fine to read"), "{seen}");
    for secret in ["OUTSIDE-SECRET", "CONTROL-FILE", "SQLite format"] {
        assert!(!seen.contains(secret), "{secret} leaked: {seen}");
    }
    // A ref that reads as an option never reaches git as one.
    let pwned = outside.path().join("pwned");
    let e = err_text(
        &call(
            &client,
            "consult",
            json!({"prompt": "q", "provider": "codex", "diff": format!("base:--output={}", pwned.display())}),
        )
        .await,
    );
    assert!(e.contains("diff"), "{e}");
    assert!(!pwned.exists());
    // Thread ids and consult resources are looked up, never built into a query or a path.
    let r = ok(&call(
        &client,
        "start",
        json!({"task": "t", "workflow": "consult"}),
    )
    .await);
    let run = r["run_id"].as_str().unwrap().to_string();
    for bad in ["x' OR 1=1 --", "../../etc/passwd", "%", ""] {
        let e = err_text(
            &call(
                &client,
                "consult",
                json!({"prompt": "q", "thread_id": bad, "run_id": run}),
            )
            .await,
        );
        assert!(e.contains("unknown_thread"), "{bad}: {e}");
        let gone = client
            .read_resource(ReadResourceRequestParams::new(format!(
                "maestro://consults/{bad}"
            )))
            .await;
        assert!(gone.is_err(), "{bad}");
    }
    // A role is a name, not a path.
    let e = err_text(
        &call(
            &client,
            "consult",
            json!({"prompt": "q", "role": "../../../etc/passwd", "run_id": run}),
        )
        .await,
    );
    assert!(e.contains("role"), "{e}");
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(
        s["run"]["budget"]["consults_used"], 0,
        "refusals are free: {s}"
    );
    // A spent budget refuses a follow-up before anything is asked or kept.
    let v = ok(&call(&client, "consult", json!({"prompt": "q", "run_id": run})).await);
    let thread = v["answer"]["thread_id"].as_str().unwrap().to_string();
    ok(&call(
        &client,
        "consult",
        json!({"prompt": "q", "run_id": run, "thread_id": thread}),
    )
    .await);
    let e = err_text(
        &call(
            &client,
            "consult",
            json!({"prompt": "q", "run_id": run, "thread_id": thread}),
        )
        .await,
    );
    assert!(e.contains("budget_exhausted"), "{e}");
    let turns = read_resource(&client, &format!("maestro://threads/{thread}")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&turns)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    client.cancel().await.unwrap();
}

/// The issue's "done when": "codex, review my staged change against the hypothesis we
/// approved" is one `consult` call, with nothing pasted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_reviews_the_staged_change_against_the_approved_hypothesis() {
    let lab = Lab::new();
    lab.repo_with("pub fn parse(s: &str) -> Option<u32> {\n    if s.len() > 1 { s.parse().ok() } else { None }\n}\n");
    let client = lab.connect().await;
    let run = lab.analysed_run(&client).await;
    let apr = submit_for_approval(&client, &run, hypotheses()).await;
    assert_eq!(crate::mcp::approve_answering(&lab.project, &apr).code, 0);
    lab.write("src/lib.rs", "pub fn parse(s: &str) -> Option<u32> {\n    if s.len() > 0 { s.parse().ok() } else { None }\n}\n");
    lab.git(&["add", "src/lib.rs"]);
    lab.fake("echo", "");
    let v = ok(&call(
        &client,
        "consult",
        json!({"prompt": "review my staged change against the hypothesis we approved", "provider": "codex", "diff": "staged", "run_id": run}),
    )
    .await);
    let seen = text_of(&v);
    assert!(
        seen.contains("the length check is off by one"),
        "the approved hypothesis: {seen}"
    );
    assert!(
        seen.contains("+    if s.len() > 0"),
        "the staged change: {seen}"
    );
    assert_eq!(v["answer"]["provider"], "codex");
    assert!(v["budget"]["consults_used"].as_u64().unwrap() >= 1, "{v}");
    client.cancel().await.unwrap();
}

/// A stage that says `ensemble #false` does not fan out: nothing is asked or charged, and one
/// member (or a stage that allows it) goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_without_ensembles_refuses_to_fan_out() {
    let lab = Lab::new();
    let client = lab.connect().await;
    let r = ok(&call(
        &client,
        "start",
        json!({"task": "parse() fails on empty input", "workflow": "default"}),
    )
    .await);
    let run = r["run_id"].as_str().unwrap().to_string();
    let e = err_text(
        &call(
            &client,
            "ensemble",
            json!({"prompt": "q", "run_id": run, "providers": ["codex", "gemini"]}),
        )
        .await,
    );
    assert!(
        e.contains("ensemble_not_allowed") && e.contains("`analyze`"),
        "{e}"
    );
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(s["run"]["budget"]["consults_used"], 0, "{s}");
    let v = ok(&call(
        &client,
        "ensemble",
        json!({"prompt": "q", "run_id": run, "providers": ["codex", "gemini"], "n": 1}),
    )
    .await);
    assert_eq!(v["answers"].as_array().unwrap().len(), 1, "{v}");
    client.cancel().await.unwrap();
}
