//! The workspace over MCP with a real git repository: context packing, a patch dry-run,
//! applied, verified with the project's own tests, restored — and every step in the evidence
//! chain.

use std::path::Path;

use rmcp::ServiceExt;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};

use crate::mcp::{Project, call, err_text, ok};
use crate::support::{Test, repo};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_verify_restore_with_evidence_over_mcp() {
    let p = Project::new();
    std::fs::remove_dir_all(p.path().join(".git")).unwrap();
    copy_dir(&repo().join("tests/fixtures/verify/cargo-demo"), p.path());
    git(p.path(), &["init", "-q"]);
    git(p.path(), &["add", "-A"]);
    git(p.path(), &["commit", "-qm", "demo"]);
    // `maestro init` proposes cargo checks for a Cargo project.
    let out = Test::new().args(&["init"]).current_dir(p.path()).run();
    assert!(out.stdout.contains("verify.yaml"), "{}", out.stdout);
    let conf = std::fs::read_to_string(p.path().join(".maestro/conf/verify.yaml")).unwrap();
    assert!(conf.contains("run: [cargo, test]"), "{conf}");
    let target = tempfile::tempdir().unwrap();
    let cmd = p.command().configure(|c| {
        c.env("CARGO_TARGET_DIR", target.path());
    });
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();

    let r = ok(&call(
        &client,
        "start",
        json!({"task": "fix add", "context": {"files": ["src/lib.rs"]}}),
    )
    .await);
    let run = r["run_id"].as_str().unwrap().to_string();
    assert!(
        r["brief"]["context"]
            .as_str()
            .unwrap()
            .contains("    2 |     a - b"),
        "{}",
        r["brief"]["context"]
    );

    let v = ok(&call(
        &client,
        "verify",
        json!({"checks": ["test"], "run_id": run}),
    )
    .await);
    assert_eq!(v["passed"], false);
    assert_eq!(
        v["results"][0]["counts"],
        json!({"passed": 1, "failed": 1, "skipped": 0})
    );

    let diff = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,3 +1,3 @@\n pub fn add(a: i32, b: i32) -> i32 {\n-    a - b\n+    a + b\n }\n";
    let d = ok(&call(
        &client,
        "patch",
        json!({"diff": diff, "dry_run": true, "run_id": run}),
    )
    .await);
    assert_eq!(d["report"]["backup_id"], Value::Null);
    assert!(
        std::fs::read_to_string(p.path().join("src/lib.rs"))
            .unwrap()
            .contains("a - b")
    );
    let a = ok(&call(&client, "patch", json!({"diff": diff, "run_id": run})).await);
    let backup = a["report"]["backup_id"].as_str().unwrap().to_string();
    assert!(
        std::fs::read_to_string(p.path().join("src/lib.rs"))
            .unwrap()
            .contains("a + b")
    );
    let v = ok(&call(
        &client,
        "verify",
        json!({"checks": ["test"], "run_id": run}),
    )
    .await);
    assert_eq!(v["passed"], true, "{v}");
    assert_eq!(v["results"][0]["counts"]["passed"], 2);

    // The same diff again no longer matches: refused, nothing written.
    let e = err_text(&call(&client, "patch", json!({"diff": diff})).await);
    assert!(e.contains("patch_refused") && e.contains("hunk 1"), "{e}");
    // Commands outside the config are refused.
    let e = err_text(&call(&client, "verify", json!({"checks": ["rm -rf /"]})).await);
    assert!(e.contains("unknown_check") && e.contains("test"), "{e}");

    let r = ok(&call(&client, "restore", json!({"backup_id": backup})).await);
    assert_eq!(r["report"]["restored"], json!(["src/lib.rs"]));
    assert!(
        git(p.path(), &["status", "--porcelain", "src"]).is_empty(),
        "restore left a change"
    );
    let e = err_text(&call(&client, "restore", json!({"backup_id": "../../etc"})).await);
    assert!(e.contains("restore_refused"), "{e}");

    let n = ok(&call(
        &client,
        "note",
        json!({"run_id": run, "kind": "hypothesis", "content": "the sign is wrong", "links": []}),
    )
    .await);
    let first = n["entries"][0]["id"].as_str().unwrap().to_string();
    ok(&call(
        &client,
        "note",
        json!({"run_id": run, "kind": "decision", "content": "fix the sign", "links": [first]}),
    )
    .await);
    // An unknown kind is refused by the parameters' schema, with the kinds listed.
    let e = err_text(&call(&client, "note", json!({"kind": "gossip", "content": "x"})).await);
    assert!(e.contains("unknown variant") && e.contains("observation"), "{e}");
    let ev = ok(&call(&client, "evidence", json!({"run_id": run})).await);
    let kinds: Vec<&str> = ev["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "verification",
        "patch",
        "rollback",
        "hypothesis",
        "decision",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "verification").count(), 2);
    let only = ok(&call(&client, "evidence", json!({"run_id": run, "kind": "patch"})).await);
    assert_eq!(only["entries"].as_array().unwrap().len(), 1);
    client.cancel().await.unwrap();
    let log = Test::new()
        .args(&["log", &run, "--jsonl"])
        .current_dir(p.path())
        .run();
    assert!(
        log.stdout.contains("\"kind\":\"evidence\""),
        "{}",
        log.stdout
    );
}

#[test]
fn context_honours_gitignore_refuses_secrets_and_escapes_and_masks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "outside\n").unwrap();
    git(root, &["init", "-q"]);
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join(".gitignore"), "build/\n").unwrap();
    std::fs::create_dir_all(root.join("build")).unwrap();
    std::fs::write(root.join("build/gen.rs"), "generated\n").unwrap();
    std::fs::write(
        root.join("src/a.rs"),
        "fn a() {}\nlet key = \"sk-proj-abcdefghijklmnopqrstuvwxyz0123\";\n",
    )
    .unwrap();
    let big: String = (1..=5000)
        .map(|i| format!("line {i} of a long file\n"))
        .collect();
    std::fs::write(root.join("src/big.rs"), &big).unwrap();
    std::fs::write(root.join(".env"), "OPENAI_API_KEY=sk-live\n").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("src/link.rs"))
        .unwrap();
    let req = maestro::workspace::context::ContextRequest {
        files: vec!["**/*.rs".into(), ".env".into(), "../x".into()],
        errors: vec![format!(
            "{}thread 'main' panicked at src/a.rs:2:5\n",
            "noise\n".repeat(3000)
        )],
        max_chars: Some(8000),
        ..Default::default()
    };
    let p = maestro::workspace::context::pack(root, &req);
    let paths: Vec<&str> = p.included.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["src/a.rs", "src/big.rs"], "{:?}", p.refused);
    let refused: Vec<(&str, &str)> = p
        .refused
        .iter()
        .map(|r| (r.path.as_str(), r.reason.as_str()))
        .collect();
    assert!(refused.iter().any(|(p, _)| *p == ".env"), "{refused:?}");
    assert!(
        refused
            .iter()
            .any(|(p, r)| *p == "src/link.rs" && r.contains("outside")),
        "{refused:?}"
    );
    assert!(refused.iter().any(|(p, _)| *p == "../x"), "{refused:?}");
    assert!(!p.text.contains("generated"), "an ignored file was packed");
    assert!(p.text.contains("[masked:openai-key]") && !p.text.contains("abcdefghijkl"));
    assert!(p.text.contains("panicked at src/a.rs:2:5"));
    assert!(
        p.text.contains(" 5000 | line 5000 of a long file"),
        "the tail keeps its real line numbers"
    );
    assert!(p.text.contains("omitted"));
    assert!(p.chars <= 8200, "{}", p.chars);
    let big_inc = &p.included[1];
    assert!(big_inc.truncated && big_inc.total_lines == 5000);
}

#[test]
fn a_check_that_hangs_is_killed_at_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let check = maestro::workspace::verify::Check {
        name: "slow".into(),
        argv: vec!["sleep".into(), "30".into()],
        timeout: std::time::Duration::from_secs(1),
        cwd: None,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let start = std::time::Instant::now();
    let r = rt.block_on(maestro::workspace::verify::run(
        dir.path(),
        &check,
        &tokio_util::sync::CancellationToken::new(),
    ));
    assert!(r.timed_out && !r.passed);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}
