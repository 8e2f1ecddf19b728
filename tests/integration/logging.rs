//! The server leaves a trace: `MAESTRO_LOG` sends tracing lines to stderr (never stdout, the
//! protocol channel), a refused tool call is logged with its code, and secrets are masked.

use std::process::Stdio;

use rmcp::ServiceExt;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::json;
use tokio::io::AsyncReadExt;

use crate::mcp::{Project, call};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_on_the_server_is_logged_to_stderr_with_its_code_and_secrets_masked() {
    let p = Project::new();
    let (transport, stderr) = TokioChildProcess::builder(p.command().configure(|c| {
        c.env("MAESTRO_LOG", "debug");
    }))
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stderr = stderr.expect("stderr is piped");
    let client = ().serve(transport).await.unwrap();
    // A run id carrying a secret: the refusal quotes it, the log must not.
    let secret = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    let r = call(
        client.peer(),
        "status",
        json!({"run_id": format!("run-{secret}")}),
    )
    .await;
    assert_eq!(r.is_error, Some(true), "{r:?}");
    client.cancel().await.unwrap();
    let mut log = String::new();
    stderr.read_to_string(&mut log).await.unwrap();
    assert!(
        log.contains("refused") && log.contains("unknown_run"),
        "no log line for the refusal:\n{log}"
    );
    assert!(!log.contains(secret), "a secret reached the log:\n{log}");
    assert!(
        log.contains("there is no run `run-"),
        "the id is not in the log:\n{log}"
    );
}

#[test]
fn a_log_filter_that_does_not_parse_is_reported_and_the_command_still_runs() {
    let out = crate::support::Test::new()
        .args(&["rules"])
        .env("MAESTRO_LOG", "maestro=[[[")
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("MAESTRO_LOG=`maestro=[[[` is not a log filter"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("unbounded-loop"), "{}", out.stdout);
}
