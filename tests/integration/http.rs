//! MCP over Streamable HTTP: rmcp's client, two clients at once, the bearer token, and the
//! official conformance suite.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::service::{ClientInitializeError, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::mcp::{Project, analysis, call, hypotheses, ok, submit_for_approval};

/// The longest wait for one step (a server printing its address, one HTTP exchange, one
/// client handshake). It bounds a hang on a loaded 2-core machine; it measures nothing.
const WAIT: Duration = Duration::from_secs(60);

/// Runs `fut` with the bounded wait, or fails the test naming `what` hung.
async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
}

/// `maestro serve --http` as a child process, killed when dropped.
struct HttpServer {
    // Held for `kill_on_drop`.
    _child: tokio::process::Child,
    port: u16,
    /// The MCP line it printed, e.g. `maestro serve: MCP at http://127.0.0.1:PORT/mcp`.
    mcp_line: String,
    /// The approval page's URL with its access token, as printed.
    page_url: String,
    /// Everything it printed on stderr so far, for failure messages.
    log: Arc<Mutex<String>>,
}

impl HttpServer {
    /// `serve --http ADDR` plus `args` in the project, with `env` added. Waits (bounded) for
    /// the two lines that say where it listens.
    async fn start(p: &Project, addr: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = serve_http(p, addr, args, env);
        cmd.stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn maestro serve --http");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        // Keep reading stderr for the server's whole life, so a full pipe never blocks it.
        let sink = Arc::clone(&log);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let (mut mcp_line, mut page_url) = (None, None);
        let deadline = tokio::time::Instant::now() + WAIT;
        while mcp_line.is_none() || page_url.is_none() {
            let line = tokio::time::timeout_at(deadline, rx.recv()).await;
            match line {
                Ok(Some(line)) => {
                    if line.starts_with("maestro serve: MCP at ") {
                        mcp_line = Some(line);
                    } else if let Some(url) = line.strip_prefix("maestro serve: approval page at ")
                    {
                        page_url = Some(url.trim().to_string());
                    }
                }
                Ok(None) => panic!(
                    "maestro serve --http {addr} stopped before saying where it listens ({:?}):\n{}",
                    child.try_wait(),
                    log.lock().unwrap()
                ),
                Err(elapsed) => panic!(
                    "maestro serve --http {addr} did not say where it listens within {WAIT:?} ({elapsed}):\n{}",
                    log.lock().unwrap()
                ),
            }
        }
        let (mcp_line, page_url) = (mcp_line.unwrap(), page_url.unwrap());
        let port = mcp_line
            .strip_prefix("maestro serve: MCP at http://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {mcp_line:?}"));
        Self {
            _child: child,
            port,
            mcp_line,
            page_url,
            log,
        }
    }

    fn mcp_url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    fn stderr(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// The `serve --http` command of this project, with nothing inherited that changes its access.
fn serve_http(
    p: &Project,
    addr: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> tokio::process::Command {
    let mut cmd = p.command();
    cmd.arg("--http")
        .arg(addr)
        .args(args)
        .env_remove("MAESTRO_HTTP_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// An rmcp client over Streamable HTTP, with `Authorization: Bearer <bearer>` when given.
async fn http_client(
    url: &str,
    bearer: Option<&str>,
) -> Result<RunningService<RoleClient, ()>, ClientInitializeError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = bearer {
        config = config.auth_header(token);
    }
    // reqwest carries no TLS provider of its own (see providers::install_tls).
    maestro::testing::providers::install_tls();
    let transport = StreamableHttpClientTransport::from_config(config);
    bounded("an MCP client's handshake over HTTP", ().serve(transport)).await
}

async fn tool_names(client: &RunningService<RoleClient, ()>) -> Vec<String> {
    let mut names: Vec<String> = bounded("tools/list", client.list_all_tools())
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

/// The run's stage and the id of its pending approval, as the `status` tool reports them.
async fn stage_and_pending(
    client: &RunningService<RoleClient, ()>,
    run: &str,
) -> (String, Option<String>) {
    let s = ok(&bounded("status", call(client, "status", json!({"run_id": run}))).await);
    let stage = s["run"]["stage"].as_str().unwrap_or_default().to_string();
    let pending = s["run"]["approval"]["approval_id"]
        .as_str()
        .map(str::to_string);
    // The list of pending approvals agrees with the run's own view.
    let listed: Vec<&str> = s["pending_approvals"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["approval_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        listed,
        pending.iter().map(String::as_str).collect::<Vec<_>>(),
        "{s}"
    );
    (stage, pending)
}

/// The approval page as a browser without JavaScript uses it: the token traded for the cookie,
/// then plain GETs and form POSTs. Redirects are not followed so they can be checked.
struct Page {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Page {
    /// Opens the URL the server printed: 303 to the same path, with the per-port cookie.
    async fn open(server: &HttpServer) -> Self {
        // reqwest carries no TLS provider of its own (see providers::install_tls).
        maestro::testing::providers::install_tls();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{}", server.port);
        assert!(
            server.page_url.starts_with(&format!("{base}/?token=")),
            "{}",
            server.page_url
        );
        let r = bounded("the page's token URL", http.get(&server.page_url).send())
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            303,
            "the token URL answers with a redirect"
        );
        assert_eq!(
            r.headers().get("location").and_then(|v| v.to_str().ok()),
            Some("/"),
            "the redirect drops the token from the address"
        );
        let set = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("the token URL sets a cookie")
            .to_string();
        let cookie = set.split(';').next().unwrap().trim().to_string();
        assert!(
            cookie.starts_with(&format!("maestro_ui_{}=", server.port)),
            "{set}"
        );
        assert!(set.contains("HttpOnly"), "{set}");
        Self { http, base, cookie }
    }

    async fn get(&self, path: &str) -> Answer {
        let r = bounded(
            path,
            self.http
                .get(format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .send(),
        )
        .await
        .unwrap();
        Self::answer(r).await
    }

    /// POSTs a form, encoded as a browser encodes it.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = bounded(
            path,
            self.http
                .post(format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", &self.base)
                .body(body)
                .send(),
        )
        .await
        .unwrap();
        Self::answer(r).await
    }

    async fn answer(r: reqwest::Response) -> Answer {
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = bounded("a page's body", r.text()).await.unwrap();
        Answer {
            status,
            location,
            body,
        }
    }
}

/// `application/x-www-form-urlencoded`: every byte but the unreserved ones as `%XX`.
/// Starts a `default` run over `client` and submits its analysis: (run id, approval id).
async fn start_at_gate(client: &RunningService<RoleClient, ()>, task: &str) -> (String, String) {
    let r = ok(&bounded(
        "start",
        call(
            client,
            "start",
            json!({"task": task, "workflow": "default"}),
        ),
    )
    .await);
    let run = r["run_id"].as_str().unwrap().to_string();
    assert_eq!(r["brief"]["stage"], "analyze", "{r}");
    let apr = bounded("submit", submit_for_approval(client, &run, analysis(0.9))).await;
    (run, apr)
}

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `value` of the `<input>` named `name`.
fn input_value(html: &str, name: &str) -> Option<String> {
    let wanted = format!("name=\"{name}\"");
    html.split("<input")
        .skip(1)
        .map(|rest| &rest[..rest.find('>').unwrap_or(rest.len())])
        .find(|tag| tag.contains(&wanted))
        .and_then(|tag| {
            let v = &tag[tag.find("value=\"")? + "value=\"".len()..];
            Some(v[..v.find('"')?].to_string())
        })
}

/// The `maestro log RUN --jsonl` events of one kind.
fn events(p: &Project, run: &str, kind: &str) -> Vec<Value> {
    let log = p.terminal(&["log", run, "--jsonl"]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    log.json_lines()
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_started_over_http_is_approved_on_the_page() {
    let p = Project::new();
    let server = HttpServer::start(&p, "127.0.0.1:0", &[], &[]).await;
    assert_eq!(
        server.mcp_line,
        format!("maestro serve: MCP at {}", server.mcp_url()),
        "no token, no bearer note:\n{}",
        server.stderr()
    );
    let client = http_client(&server.mcp_url(), None)
        .await
        .unwrap_or_else(|e| panic!("initialize over HTTP: {e}\n{}", server.stderr()));
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("maestro")
    );

    // The same tools as over stdio, with the same definitions.
    let (stdio, _) = p.connect().await;
    let over_stdio = bounded("tools/list over stdio", stdio.list_all_tools())
        .await
        .unwrap();
    let over_http = bounded("tools/list over HTTP", client.list_all_tools())
        .await
        .unwrap();
    assert!(over_http.iter().any(|t| t.name == "submit"));
    assert_eq!(tool_names(&client).await, tool_names(&stdio).await);
    assert_eq!(
        serde_json::to_value(&over_http).unwrap(),
        serde_json::to_value(&over_stdio).unwrap(),
        "a tool is described differently over HTTP"
    );
    bounded("closing the stdio client", stdio.cancel())
        .await
        .unwrap();

    let (run, apr) = start_at_gate(&client, "parse() panics on empty input").await;
    assert_eq!(
        stage_and_pending(&client, &run).await,
        ("analyze".to_string(), Some(apr.clone()))
    );

    // The person opens the page: the approval waits on the list and on the run's page.
    let page = Page::open(&server).await;
    let list = page.get("/").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body.contains(&apr),
        "the list shows the pending approval:\n{}",
        list.body
    );
    let view = page.get(&format!("/runs/{run}")).await;
    assert_eq!(view.status, 200, "{}", view.body);
    assert!(
        view.body.contains(&format!("action=\"/approvals/{apr}\""))
            && view.body.contains("id=\"decide\""),
        "the run page has the decision form for {apr}:\n{}",
        view.body
    );
    for q in ["analyze_completeness", "analyze_accuracy"] {
        assert!(
            view.body.contains(&format!("name=\"q_{q}\"")),
            "no field for {q}"
        );
    }
    let csrf = input_value(&view.body, "csrf").expect("the form carries a CSRF token");
    assert!(!csrf.is_empty());
    let action = format!("/approvals/{apr}");

    // Approving without the critical answers is refused, keeping what was typed.
    let refused = page
        .post(
            &action,
            &[
                ("csrf", &csrf),
                ("q_analyze_accuracy", "All correct"),
                ("feedback", ""),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("<option value=\"All correct\" selected>"),
        "the answer given is kept:\n{}",
        refused.body
    );
    assert!(
        refused.body.contains("analyze_completeness"),
        "the refusal names the unanswered question:\n{}",
        refused.body
    );
    assert_eq!(
        stage_and_pending(&client, &run).await,
        ("analyze".to_string(), Some(apr.clone())),
        "a refused approval decides nothing"
    );

    let done = page
        .post(
            &action,
            &[
                ("csrf", &csrf),
                ("q_analyze_completeness", "Nothing is missing"),
                ("q_analyze_accuracy", "All correct"),
                ("feedback", ""),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("/runs/{run}").as_str())
    );

    // Claude Code's side, over HTTP, sees the run in the next stage.
    assert_eq!(
        stage_and_pending(&client, &run).await,
        ("hypothesize".to_string(), None)
    );
    let b = ok(&bounded("brief", call(&client, "brief", json!({"run_id": run}))).await);
    assert_eq!(b["brief"]["stage"], "hypothesize", "{b}");
    // The audit trail says the decision came from the page, with the answers given there.
    let decided = events(&p, &run, "approval_decided");
    assert_eq!(decided.len(), 1, "{decided:?}");
    let d = &decided[0]["data"];
    assert_eq!(
        (d["by"].as_str(), d["decision"].as_str()),
        (Some("web"), Some("approve")),
        "{d}"
    );
    assert_eq!(d["answers"]["analyze_accuracy"], "All correct", "{d}");
    assert_eq!(
        d["answers"]["analyze_completeness"], "Nothing is missing",
        "{d}"
    );
    bounded("closing the HTTP client", client.cancel())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_http_clients_a_terminal_and_a_stdio_server_share_one_queue() {
    let p = Project::new();
    let server = HttpServer::start(&p, "127.0.0.1:0", &[], &[]).await;
    let a = http_client(&server.mcp_url(), None)
        .await
        .unwrap_or_else(|e| panic!("client A: {e}\n{}", server.stderr()));
    let b = http_client(&server.mcp_url(), None)
        .await
        .unwrap_or_else(|e| panic!("client B: {e}\n{}", server.stderr()));

    let (run, apr) = start_at_gate(&a, "shared run").await;

    // B, in its own session, sees A's run and its pending approval: by status and as a resource.
    let waiting = ("analyze".to_string(), Some(apr.clone()));
    assert_eq!(stage_and_pending(&b, &run).await, waiting);
    let uri = format!("maestro://runs/{run}");
    let resources = bounded("resources/list", b.list_all_resources())
        .await
        .unwrap();
    assert!(
        resources.iter().any(|r| r.uri == uri),
        "B's resources list A's run"
    );
    let read = bounded(
        "resources/read",
        b.read_resource(rmcp::model::ReadResourceRequestParams::new(uri.as_str())),
    )
    .await
    .unwrap();
    let read = serde_json::to_value(&read).unwrap();
    let body: Value = serde_json::from_str(read["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["run"]["approval"]["approval_id"],
        apr.as_str(),
        "{body}"
    );

    // A stdio server that Claude Code started in the same project shares the state file.
    let (stdio, _) = p.connect().await;
    assert_eq!(stage_and_pending(&stdio, &run).await, waiting);

    // The person decides from a terminal; everyone sees the run move.
    let out = p.terminal(&[
        "approve",
        &apr,
        "--answer",
        "analyze_completeness=Nothing is missing",
        "--answer",
        "analyze_accuracy=All correct",
        "--no-input",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let moved = ("hypothesize".to_string(), None);
    assert_eq!(stage_and_pending(&a, &run).await, moved);
    assert_eq!(stage_and_pending(&b, &run).await, moved);
    assert_eq!(stage_and_pending(&stdio, &run).await, moved);

    // And the other way: B carries A's run on, and A and the stdio server see the new gate.
    let apr2 = bounded("submit", submit_for_approval(&b, &run, hypotheses())).await;
    assert_ne!(apr2, apr);
    let waiting = ("hypothesize".to_string(), Some(apr2));
    assert_eq!(stage_and_pending(&a, &run).await, waiting);
    assert_eq!(stage_and_pending(&stdio, &run).await, waiting);

    for c in [a, b, stdio] {
        bounded("closing a client", c.cancel()).await.unwrap();
    }
}

/// A raw `POST /mcp` (an initialize) with the Host and further headers given; returns the
/// status code. Raw, so the Host header is what the test says.
async fn raw_mcp_status(port: u16, host: &str, headers: &[(&str, &str)]) -> u16 {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
    })
    .to_string();
    let mut req = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    bounded("a raw HTTP request", async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        // Only the status line: a 200 opens an event stream that does not end.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n") {
            if s.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
        let line = String::from_utf8_lossy(&head).into_owned();
        line.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP status line: {line:?}"))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_token_host_and_origin_guard_mcp() {
    let p = Project::new();
    let server = HttpServer::start(&p, "127.0.0.1:0", &["--token", "s3cret"], &[]).await;
    assert_eq!(
        server.mcp_line,
        format!(
            "maestro serve: MCP at {} (bearer token required)",
            server.mcp_url()
        )
    );
    let url = server.mcp_url();
    assert!(
        http_client(&url, None).await.is_err(),
        "a client without the bearer token is refused"
    );
    assert!(
        http_client(&url, Some("wrong")).await.is_err(),
        "a client with a wrong token is refused"
    );
    let client = http_client(&url, Some("s3cret"))
        .await
        .unwrap_or_else(|e| panic!("the right token: {e}\n{}", server.stderr()));
    assert!(tool_names(&client).await.contains(&"start".to_string()));
    let s = ok(&bounded("status", call(&client, "status", json!({}))).await);
    assert!(s["summary"].is_string(), "{s}");
    bounded("closing the client", client.cancel())
        .await
        .unwrap();

    let port = server.port;
    let own = format!("127.0.0.1:{port}");
    let auth = ("Authorization", "Bearer s3cret");
    // The right request is accepted, so each refusal below is for the one header changed.
    assert_eq!(raw_mcp_status(port, &own, &[auth]).await, 200);
    assert_eq!(
        raw_mcp_status(
            port,
            &format!("localhost:{port}"),
            &[auth, ("Origin", &format!("http://localhost:{port}"))]
        )
        .await,
        200
    );
    assert_eq!(raw_mcp_status(port, &own, &[]).await, 403, "no token");
    assert_eq!(
        raw_mcp_status(port, &own, &[("Authorization", "Bearer s3cre")]).await,
        403,
        "a wrong token"
    );
    assert_eq!(
        raw_mcp_status(port, &format!("evil.example:{port}"), &[auth]).await,
        403,
        "a foreign Host (DNS rebinding)"
    );
    assert_eq!(
        raw_mcp_status(port, &own, &[auth, ("Origin", "http://evil.example")]).await,
        403,
        "a foreign Origin"
    );
    drop(server);

    // The token can come from the environment.
    let server = HttpServer::start(
        &p,
        "127.0.0.1:0",
        &[],
        &[("MAESTRO_HTTP_TOKEN", "from-env")],
    )
    .await;
    assert!(
        server.mcp_line.ends_with(" (bearer token required)"),
        "{}",
        server.mcp_line
    );
    let own = format!("127.0.0.1:{}", server.port);
    assert_eq!(raw_mcp_status(server.port, &own, &[]).await, 403);
    assert_eq!(
        raw_mcp_status(server.port, &own, &[("Authorization", "Bearer from-env")]).await,
        200
    );
    drop(server);

    // A non-loopback address needs --allow-remote, and then a token; neither starts a server.
    let refuse = |args: &'static [&'static str]| {
        let mut cmd = serve_http(&p, "0.0.0.0:0", args, &[]);
        cmd.stderr(Stdio::piped());
        async move {
            let out = bounded("serve --http 0.0.0.0:0", cmd.output())
                .await
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let (code, stderr) = refuse(&[]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--allow-remote"), "{stderr}");
    let (code, stderr) = refuse(&["--allow-remote"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--token"), "{stderr}");
    // With both it serves, and the token is still required.
    let server = HttpServer::start(
        &p,
        "0.0.0.0:0",
        &["--allow-remote", "--token", "s3cret"],
        &[],
    )
    .await;
    assert!(http_client(&server.mcp_url(), None).await.is_err());
    let client = http_client(&server.mcp_url(), Some("s3cret"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.stderr()));
    bounded("closing the client", client.cancel())
        .await
        .unwrap();
}

/// The scenarios of the official suite that apply to maestro's server (no sampling, logging,
/// completion or tool-call fixtures of the suite's own).
const SCENARIOS: [&str; 6] = [
    "server-initialize",
    "ping",
    "tools-list",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
];

/// Where `.ci/run` installs the suite, as a hint in messages.
const INSTALL_HINT: &str = "`.ci/run` installs it with npm (npm install --prefix ~/.cache/maestro-conformance @modelcontextprotocol/conformance@0.1.16 node@22) and sets MAESTRO_CONFORMANCE_DIR to that folder";

/// Node 22 and the suite's entry point inside `dir`.
fn conformance_suite(dir: &Path) -> (PathBuf, PathBuf) {
    let node = dir.join("node_modules/node/bin/node");
    let cli = dir.join("node_modules/.bin/conformance");
    for f in [&node, &cli] {
        assert!(
            f.is_file(),
            "MAESTRO_CONFORMANCE_DIR={} has no {}; {INSTALL_HINT}",
            dir.display(),
            f.display()
        );
    }
    (node, cli)
}

/// Without the suite this test is ignored, with the reason, outside CI (tests/integration/support.rs
/// says how); when it runs without it anyway it fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    maestro_missing = "conformance",
    ignore = "needs the MCP conformance suite: set MAESTRO_CONFORMANCE_DIR (README, \"Running the tests\")"
)]
async fn the_official_conformance_suite_passes() {
    let dir = std::env::var_os("MAESTRO_CONFORMANCE_DIR")
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "MAESTRO_CONFORMANCE_DIR is not set, so the MCP conformance suite cannot run (it names a folder whose node_modules hold node@22 and @modelcontextprotocol/conformance); {INSTALL_HINT}"
            )
        });
    let (node, cli) = conformance_suite(Path::new(&dir));
    let p = Project::new();
    let server = HttpServer::start(&p, "127.0.0.1:0", &[], &[]).await;
    // The suite may write results next to where it runs: keep them out of the project.
    let scratch = tempfile::tempdir().unwrap();
    for scenario in SCENARIOS {
        let out = tokio::process::Command::new(&node)
            .arg(&cli)
            .args(["server", "--url", &server.mcp_url(), "--scenario", scenario])
            .current_dir(scratch.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        // A scenario runs a few requests; five minutes only bounds a hang.
        let out = tokio::time::timeout(Duration::from_secs(300), out)
            .await
            .unwrap_or_else(|_| panic!("conformance scenario {scenario} hung"))
            .unwrap_or_else(|e| panic!("running {}: {e}", node.display()));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let report = format!(
            "scenario {scenario}:\n{text}\n--- maestro's stderr\n{}",
            server.stderr()
        );
        assert!(out.status.success(), "{report}");
        assert!(text.contains(" 0 failed"), "{report}");
        // "Passed: n/n": every check of the scenario ran and passed (not 0 of 0).
        let passed = text
            .split("Passed: ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|frac| frac.split_once('/'))
            .and_then(|(a, b)| Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?)))
            .unwrap_or_else(|| panic!("no \"Passed: n/m\" line; {report}"));
        assert!(passed.0 == passed.1 && passed.1 > 0, "{passed:?}; {report}");
    }
}
