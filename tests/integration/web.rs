//! The approval page in a real browser (headless Chromium through ChromeDriver), and its refusals.
//!
//! The browser is driven over ChromeDriver's W3C WebDriver protocol (plain JSON over HTTP with
//! `reqwest`); the refusals are checked with raw HTTP over a TCP socket, so that the Host and
//! Origin headers are exactly what an attacker's page would send.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::mcp::{Project, analysis, call, hypotheses, ok, submit_for_approval};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long anything asynchronous may take before a test gives up (a bound, not a measure).
const PATIENCE: Duration = Duration::from_secs(20);
/// The key W3C WebDriver puts an element's id under.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// `maestro ui --addr 127.0.0.1:0` in the project, stopped when dropped.
pub(crate) struct Ui {
    child: Child,
    pub(crate) port: u16,
    token: String,
    stderr: Arc<Mutex<String>>,
    _config: tempfile::TempDir,
}

impl Ui {
    pub(crate) fn start(p: &Project) -> Self {
        // The same isolation as `Project::command()`: a config dir of its own, no MAESTRO_*.
        let config = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_maestro"))
            .args(["ui", "--addr", "127.0.0.1:0"])
            .current_dir(p.path())
            .env_remove("MAESTRO_HOME")
            .env_remove("MAESTRO_STATE")
            .env("XDG_CONFIG_HOME", config.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn maestro ui");
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // Drained so that the server never blocks on a full pipe; kept for failure messages.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let deadline = Instant::now() + PATIENCE;
        let url = loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| {
                    let _ = child.kill();
                    let _ = child.wait();
                    std::thread::sleep(Duration::from_millis(100));
                    panic!(
                        "`maestro ui` printed no URL; stderr:\n{}",
                        stderr.lock().unwrap()
                    )
                });
            if let Some(url) = line.strip_prefix("maestro ui: open ") {
                break url.trim().to_string();
            }
        };
        let rest = url
            .strip_prefix("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("not a loopback URL: {url}"));
        let (port, token) = rest
            .split_once("/?token=")
            .unwrap_or_else(|| panic!("no token in {url}"));
        assert!(
            token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()),
            "{url}"
        );
        Self {
            child,
            port: port.parse().unwrap(),
            token: token.to_string(),
            stderr,
            _config: config,
        }
    }

    pub(crate) fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn url(&self) -> String {
        format!("{}/?token={}", self.origin(), self.token)
    }

    pub(crate) fn cookie(&self) -> String {
        format!("maestro_ui_{}={}", self.port, self.token)
    }
}

impl Ui {
    /// A GET of the page with the cookie, as the person's browser sends it.
    pub(crate) fn get(&self, path: &str) -> Reply {
        let host = format!("127.0.0.1:{}", self.port);
        http(
            self.port,
            "GET",
            path,
            &[("Host", &host), ("Cookie", &self.cookie())],
            "",
        )
    }

    /// The page's form posted as the person's browser sends it: the cookie, this server's
    /// Origin, and the form's CSRF token read off the run's page.
    pub(crate) fn post_form(&self, run: &str, approval: &str, fields: &[(&str, &str)]) -> Reply {
        let page = self.get(&format!("/runs/{run}"));
        let csrf = csrf_of(&page.body);
        let mut fields = fields.to_vec();
        fields.push(("csrf", &csrf));
        let host = format!("127.0.0.1:{}", self.port);
        http(
            self.port,
            "POST",
            &format!("/approvals/{approval}"),
            &[
                ("Host", &host),
                ("Cookie", &self.cookie()),
                ("Origin", &self.origin()),
            ],
            &form(&fields),
        )
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("maestro ui stderr:\n{}", self.stderr.lock().unwrap());
        }
    }
}

/// A reply read off a raw socket.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One HTTP/1.1 request with exactly these headers (and `Connection: close`).
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    read_reply(&mut s).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Reads a reply to the end of its body: by its Content-Length, or until the server closes
/// (not every server honours `Connection: close`).
pub(crate) fn read_reply(s: &mut TcpStream) -> Result<Reply, String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = s.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if len.is_some_and(|len| raw.len() >= end + 4 + len) {
                break;
            }
        }
    }
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP reply: {raw:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok(Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

/// `application/x-www-form-urlencoded`, as a browser encodes a form.
pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The approvals waiting in the project's state file, by id.
pub(crate) fn pending(p: &Project) -> Vec<String> {
    let out = p.terminal(&["approvals", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["approval_id"].as_str().unwrap().to_string())
        .collect()
}

/// The run's `approval_decided` events.
pub(crate) fn decisions(p: &Project, run: &str) -> Vec<Value> {
    let log = p.terminal(&["log", run, "--jsonl"]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    log.json_lines()
        .into_iter()
        .filter(|e| e["kind"] == "approval_decided")
        .collect()
}

/// A run of `default` waiting at its analyze gate.
pub(crate) async fn run_at_analyze_gate(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
) -> (String, String) {
    let r = ok(&call(
        client,
        "start",
        json!({"task": "parse() panics on empty input", "context": {"facts": ["since v0.3"]}}),
    )
    .await);
    let run = r["run_id"].as_str().unwrap().to_string();
    let apr = submit_for_approval(client, &run, analysis(0.9)).await;
    (run, apr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_refuses_strangers_and_forged_forms() {
    let p = Project::new();
    let (client, _) = p.connect().await;
    let (run, apr) = run_at_analyze_gate(&client).await;
    let ui = Ui::start(&p);
    let host = format!("127.0.0.1:{}", ui.port);
    let cookie = ui.cookie();
    let refused = |r: &Reply, what: &str| {
        assert_eq!(r.status, 403, "{what}: {r:?}");
        assert!(r.body.contains("maestro refuses"), "{what}: {}", r.body);
        assert!(!r.body.contains(&apr), "{what}: a refusal shows nothing");
        assert_eq!(
            pending(&p),
            std::slice::from_ref(&apr),
            "{what}: nothing was decided"
        );
    };

    refused(
        &http(ui.port, "GET", "/", &[("Host", &host)], ""),
        "no token",
    );
    refused(
        &http(
            ui.port,
            "GET",
            &format!("/runs/{run}"),
            &[("Host", &host)],
            "",
        ),
        "no token on a run",
    );
    let wrong = "0".repeat(64);
    refused(
        &http(
            ui.port,
            "GET",
            &format!("/?token={wrong}"),
            &[("Host", &host)],
            "",
        ),
        "wrong token",
    );
    refused(
        &http(
            ui.port,
            "GET",
            "/",
            &[
                ("Host", &host),
                ("Cookie", &format!("maestro_ui_{}={wrong}", ui.port)),
            ],
            "",
        ),
        "wrong cookie",
    );
    // DNS rebinding: evil.example resolves to 127.0.0.1, the browser sends its own name.
    refused(
        &http(
            ui.port,
            "GET",
            &format!("/?token={}", ui.token),
            &[("Host", &format!("evil.example:{}", ui.port))],
            "",
        ),
        "foreign Host with the right token",
    );
    refused(
        &http(
            ui.port,
            "GET",
            "/",
            &[
                ("Host", &format!("evil.example:{}", ui.port)),
                ("Cookie", &cookie),
            ],
            "",
        ),
        "foreign Host with the right cookie",
    );
    refused(
        &http(
            ui.port,
            "GET",
            &format!("/runs/{run}"),
            &[
                ("Host", &host),
                ("Cookie", &cookie),
                ("Origin", "http://evil.example"),
            ],
            "",
        ),
        "foreign Origin",
    );

    // The right token in the URL is traded for a cookie and dropped from the address.
    let r = http(
        ui.port,
        "GET",
        &format!("/?token={}", ui.token),
        &[("Host", &host)],
        "",
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some("/"), "{r:?}");
    let set = r.header("set-cookie").unwrap_or_default();
    assert!(
        set.starts_with(&format!("{cookie};"))
            && set.contains("HttpOnly")
            && set.contains("SameSite=Strict"),
        "{set}"
    );
    // `localhost` names this server too.
    let page = http(
        ui.port,
        "GET",
        "/",
        &[
            ("Host", &format!("localhost:{}", ui.port)),
            ("Cookie", &cookie),
        ],
        "",
    );
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body.contains(&format!("/runs/{run}#decide")),
        "{}",
        page.body
    );

    let page = http(
        ui.port,
        "GET",
        &format!("/runs/{run}"),
        &[("Host", &host), ("Cookie", &cookie)],
        "",
    );
    assert_eq!(page.status, 200, "{page:?}");
    let csrf = csrf_of(&page.body);
    assert!(
        page.body.contains(&format!("action=\"/approvals/{apr}\"")),
        "{}",
        page.body
    );
    let answers = [
        ("q_analyze_completeness", "nothing is missing"),
        ("q_analyze_accuracy", "All correct"),
    ];
    let post = |fields: &[(&str, &str)], extra: &[(&str, &str)]| {
        let mut headers = vec![("Host", host.as_str()), ("Cookie", cookie.as_str())];
        headers.extend_from_slice(extra);
        http(
            ui.port,
            "POST",
            &format!("/approvals/{apr}"),
            &headers,
            &form(fields),
        )
    };
    let mut no_csrf = answers.to_vec();
    no_csrf.push(("decision", "approve"));
    refused(&post(&no_csrf, &[]), "a POST without csrf");
    let mut bad_csrf = no_csrf.clone();
    bad_csrf.push(("csrf", wrong.as_str()));
    refused(&post(&bad_csrf, &[]), "a POST with a wrong csrf");
    let mut good = no_csrf.clone();
    good.push(("csrf", csrf.as_str()));
    refused(
        &post(&good, &[("Origin", "http://evil.example")]),
        "a POST from a foreign Origin",
    );
    let no_cookie = http(
        ui.port,
        "POST",
        &format!("/approvals/{apr}"),
        &[("Host", &host)],
        &form(&good),
    );
    refused(&no_cookie, "a POST without the cookie");

    // The page's own form, as a browser on this server sends it: approved, by `web`.
    let origin = ui.origin();
    let r = post(&good, &[("Origin", &origin)]);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(r.header("location"), Some(format!("/runs/{run}").as_str()));
    assert!(pending(&p).is_empty());
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(s["run"]["stage"], "hypothesize", "{s}");
    let d = decisions(&p, &run);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (
            d[0]["data"]["approval_id"].as_str(),
            d[0]["data"]["by"].as_str(),
            d[0]["data"]["decision"].as_str(),
            d[0]["data"]["answers"]["analyze_accuracy"].as_str(),
        ),
        (
            Some(apr.as_str()),
            Some("web"),
            Some("approve"),
            Some("All correct")
        ),
        "{d:?}"
    );
    client.cancel().await.unwrap();
}

/// The page a person decides on asks each question once (in the form; the report above it
/// leaves them out) and marks the critical ones; a refused approval says what to correct in
/// the form in front of the person, marks the questions left empty and keeps what was typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_asks_each_question_once_and_a_refusal_says_what_to_fix_in_it() {
    let p = Project::new();
    let (client, _) = p.connect().await;
    let (run, apr) = run_at_analyze_gate(&client).await;
    let ui = Ui::start(&p);
    let page = ui.get(&format!("/runs/{run}"));
    assert_eq!(page.status, 200, "{page:?}");
    for question in [
        "What did the analysis leave out that you know about?",
        "Are the recorded observations correct?",
        "Which behaviour must not change while this is fixed?",
    ] {
        assert_eq!(
            page.body.matches(question).count(),
            1,
            "{question}: {}",
            page.body
        );
    }
    // The report is still there, all but its questions.
    assert!(
        page.body.contains("Key findings") && page.body.contains("To reproduce"),
        "{}",
        page.body
    );
    assert_eq!(
        page.body.matches("(required to approve)").count(),
        2,
        "the two critical questions are marked: {}",
        page.body
    );

    let r = ui.post_form(
        &run,
        &apr,
        &[
            ("decision", "approve"),
            ("q_analyze_accuracy", "All correct"),
            ("feedback", "check the tokenizer too"),
        ],
    );
    assert_eq!(r.status, 422, "{r:?}");
    let error = r
        .body
        .split("id=\"error\">")
        .nth(1)
        .and_then(|s| s.split("</p>").next())
        .unwrap_or_else(|| panic!("no error on the page: {}", r.body));
    assert_eq!(
        error,
        format!(
            "approval {apr} (stage `analyze`) has critical questions without an answer: \
             analyze_completeness — answer the questions marked below, or revise or reject instead"
        )
    );
    assert!(!r.body.contains("approval page"), "{}", r.body);
    assert!(
        r.body.contains("id=\"missing-analyze_completeness\"")
            && !r.body.contains("id=\"missing-analyze_accuracy\""),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("check the tokenizer too")
            && r.body.contains("<option value=\"All correct\" selected>"),
        "what was typed stays: {}",
        r.body
    );
    assert_eq!(pending(&p), std::slice::from_ref(&apr));
    assert!(decisions(&p, &run).is_empty());
    client.cancel().await.unwrap();
}

/// ChromeDriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session.
struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    /// Whether the session (and so Chromium) is closed already.
    closed: bool,
    /// Dropped after the session is closed, so that no Chromium outlives the test.
    driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Headless Chromium through ChromeDriver. A test that launches one carries
    /// `#[cfg_attr(maestro_missing = "browser", ignore = …)]`, so without them it is ignored
    /// with the reason outside CI (tests/integration/support.rs); run anyway, it fails here.
    async fn launch() -> Self {
        assert!(
            Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file(),
            "the browser test needs {CHROMIUM} and {CHROMEDRIVER}: install Debian's \
             `chromium` and `chromium-driver` packages (.ci/run installs them)"
        );
        // reqwest carries no TLS provider of its own (see providers::install_tls).
        maestro::testing::providers::install_tls();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let driver = startdriver(&http).await;
        let base = format!("http://127.0.0.1:{}", driver.port);
        let profile = tempfile::tempdir().unwrap();
        // Beside the usual headless flags: no scrollbars and one pixel per CSS pixel, so
        // that the README's screenshot looks the same on every machine.
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1200,1800",
                    "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let r = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("ChromeDriver made no session: {v}"))
            .to_string();
        Self {
            http,
            base,
            session,
            closed: false,
            driver,
            _profile: profile,
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        } else if method == reqwest::Method::POST {
            req = req.json(&json!({}));
        }
        let r = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let ok = r.status().is_success();
        let v: Value = r.json().await.unwrap();
        assert!(ok, "WebDriver {method} {path}: {}", v["value"]);
        v["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap().to_string()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element for `{css}`: {v}"))
            .to_string()
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.post(&format!("/element/{el}/click"), json!({})).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.post(&format!("/element/{el}/value"), json!({"text": text}))
            .await;
    }

    async fn text(&self, css: &str) -> String {
        let el = self.find(css).await;
        self.get(&format!("/element/{el}/text"))
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn script(&self, js: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": js, "args": args}))
            .await
    }

    /// Polls `js` (a function body) until it returns something truthy; returns that.
    async fn wait_for(&self, what: &str, js: &str, args: Value) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let v = self.script(js, args.clone()).await;
            if !(v.is_null() || v == false || v == "" || v == 0) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed {what}; it is at {}:\n{}",
                self.url().await,
                self.script("return document.body.innerText", json!([]))
                    .await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&self) -> Vec<u8> {
        let v = self.get("/screenshot").await;
        base64(v.as_str().unwrap())
    }

    /// A screenshot of the page from its top down to the bottom of `css`, without a focus
    /// ring: the window is made just tall enough (the viewport is the window less the
    /// browser's own frame).
    async fn screenshot_down_to(&self, css: &str) -> Vec<u8> {
        let want = self
            .script(
                "var r = document.querySelector(arguments[0]).getBoundingClientRect(); \
                 return Math.ceil(r.bottom + window.scrollY + 16);",
                json!([css]),
            )
            .await;
        let frame = self
            .script(
                "return Math.max(0, window.outerHeight - window.innerHeight);",
                json!([]),
            )
            .await;
        let height = want.as_u64().unwrap() + frame.as_u64().unwrap();
        self.post("/window/rect", json!({"width": 1200, "height": height}))
            .await;
        self.script(
            "if (document.activeElement) { document.activeElement.blur(); } window.scrollTo(0, 0);",
            json!([]),
        )
        .await;
        self.screenshot().await
    }

    async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        self.closed = true;
    }
}

impl Drop for Browser {
    /// A failed test still closes Chromium (ChromeDriver's end alone would orphan it).
    fn drop(&mut self) {
        if !self.closed {
            let host = format!("127.0.0.1:{}", self.driver.port);
            let _ = std::panic::catch_unwind(|| {
                http(
                    self.driver.port,
                    "DELETE",
                    &format!("/session/{}", self.session),
                    &[("Host", &host)],
                    "",
                )
            });
        }
    }
}

async fn startdriver(http: &reqwest::Client) -> Driver {
    // A free port can be taken between asking and binding: try a few.
    for _ in 0..3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut driver = Driver {
            child: Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn chromedriver"),
            port,
        };
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if driver.child.try_wait().unwrap().is_some() {
                break;
            }
            if let Ok(r) = http
                .get(format!("http://127.0.0.1:{port}/status"))
                .send()
                .await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("{CHROMEDRIVER} did not start (tried 3 ports)");
}

/// Standard base64 (WebDriver's screenshots), without a crate for it.
fn base64(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => panic!("not base64: {:?}", char::from(c)),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from(acc >> bits).unwrap());
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// The class of a stage's node in the page's diagram.
const NODE_CLASS: &str = "var n = document.querySelector('#machine g.node[data-state=\"' + arguments[0] + '\"]'); return n && n.getAttribute('class');";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    maestro_missing = "browser",
    ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (README, \"Running the tests\")"
)]
async fn a_person_decides_on_the_page_in_a_real_browser() {
    let browser = Browser::launch().await;
    let p = Project::new();
    let (client, _) = p.connect().await;
    let (run, apr) = run_at_analyze_gate(&client).await;
    let ui = Ui::start(&p);

    // The printed URL: its token becomes a cookie and leaves the address bar.
    browser.goto(&ui.url()).await;
    assert_eq!(browser.url().await, format!("{}/", ui.origin()));
    let card = browser.text("li.card.waiting").await;
    assert!(card.contains(&apr) && card.contains(&run), "{card}");
    browser
        .click(&format!("li.card.waiting a[href='/runs/{run}#decide']"))
        .await;
    browser
        .wait_for(
            "the run's page",
            "return location.pathname === arguments[0] && document.getElementById('decide')",
            json!([format!("/runs/{run}")]),
        )
        .await;
    assert_eq!(browser.text("#stage").await, "analyze");
    let class = browser.script(NODE_CLASS, json!(["analyze"])).await;
    let class = class.as_str().unwrap_or_default();
    assert!(
        class.contains("current") && class.contains("waiting"),
        "analyze is drawn as `{class}`"
    );
    let action = browser
        .script(
            "return document.getElementById('decide').getAttribute('action')",
            json!([]),
        )
        .await;
    assert_eq!(action, format!("/approvals/{apr}"));

    // The person answers: a choice for the options, words for the rest.
    browser
        .click("#q_analyze_accuracy option[value='All correct']")
        .await;
    browser.click("#q_analyze_files option[value='Yes']").await;
    browser
        .type_into(
            "#q_analyze_completeness",
            "Nothing is missing: only the empty input fails.",
        )
        .await;
    browser
        .type_into(
            "#q_analyze_repro",
            "Yes, `cargo test parse_empty` fails here too.",
        )
        .await;
    let chosen = browser
        .script(
            "return document.getElementById('q_analyze_accuracy').value",
            json!([]),
        )
        .await;
    assert_eq!(chosen, "All correct");

    // The README's picture: the page from its top through the diagram, the answered
    // questions in the middle.
    let png = browser.screenshot_down_to("#machine").await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 50_000,
        "a screenshot of a whole page, not a blank one"
    );
    // The README's picture is refreshed on request (MAESTRO_SCREENSHOT=1), so an ordinary test
    // run leaves the checkout clean; every run still takes the screenshot and keeps it.
    let images = if std::env::var_os("MAESTRO_SCREENSHOT").is_some() {
        crate::support::repo().join("docs/images")
    } else {
        std::env::temp_dir()
    };
    std::fs::create_dir_all(&images).unwrap();
    std::fs::write(images.join("approval-page.png"), &png).unwrap();

    browser.click("#approve").await;
    browser
        .wait_for(
            "the run after the decision",
            "return location.pathname === arguments[0] && !document.getElementById('decide')",
            json!([format!("/runs/{run}")]),
        )
        .await;
    let s = ok(&call(&client, "status", json!({"run_id": run})).await);
    assert_eq!(s["run"]["stage"], "hypothesize", "{s}");
    assert_eq!(browser.text("#stage").await, "hypothesize");
    let d = decisions(&p, &run);
    assert_eq!(
        (
            d[0]["data"]["approval_id"].as_str(),
            d[0]["data"]["by"].as_str(),
            d[0]["data"]["decision"].as_str()
        ),
        (Some(apr.as_str()), Some("web"), Some("approve")),
        "{d:?}"
    );
    assert_eq!(
        d[0]["data"]["answers"]["analyze_completeness"],
        "Nothing is missing: only the empty input fails.",
        "{d:?}"
    );

    // Live: the run moves from outside (Claude Code submits); the open page shows the new gate
    // without reloading (the marker set on this window survives).
    // Wait for the page's event stream to be open: a move made before it opens would be
    // missed (see the report: the server ignores the page's `since`).
    browser
        .wait_for(
            "the live stream open",
            "var l = document.getElementById('live'); return l && l.classList.contains('on');",
            json!([]),
        )
        .await;
    browser.script("window.__stay = 42", json!([])).await;
    let apr2 = submit_for_approval(&client, &run, hypotheses()).await;
    browser
        .wait_for(
            "the new approval's form",
            "var s = document.getElementById('decide-section'); return s && s.getAttribute('data-approval') === arguments[0];",
            json!([apr2]),
        )
        .await;
    assert_eq!(browser.script("return window.__stay", json!([])).await, 42);
    browser
        .wait_for(
            "hypothesize drawn as waiting",
            "var n = document.querySelector('#machine g.node[data-state=\"hypothesize\"]'); var c = n && n.getAttribute('class'); return c && c.indexOf('waiting') >= 0 && c;",
            json!([]),
        )
        .await;

    // Approve with the critical questions empty: refused, and what was typed and chosen stays.
    browser
        .type_into("#feedback", "try the tokenizer first")
        .await;
    browser
        .click("#q_hypo_testability option[value='Some need changes']")
        .await;
    browser.click("#approve").await;
    let error = browser
        .wait_for(
            "the refusal",
            "var e = document.getElementById('error'); return e && e.textContent;",
            json!([]),
        )
        .await;
    assert!(
        error.as_str().unwrap().contains("hypo_plausibility"),
        "{error}"
    );
    assert_eq!(
        browser
            .script(
                "return document.getElementById('feedback').value",
                json!([])
            )
            .await,
        "try the tokenizer first"
    );
    assert_eq!(
        browser
            .script(
                "return document.getElementById('q_hypo_testability').value",
                json!([])
            )
            .await,
        "Some need changes"
    );
    assert_eq!(pending(&p), std::slice::from_ref(&apr2));

    // Revise with those words: they reach the next brief.
    browser.click("#revise").await;
    browser
        .wait_for(
            "the run after the revision",
            "return location.pathname === arguments[0] && !document.getElementById('decide') && !document.getElementById('error')",
            json!([format!("/runs/{run}")]),
        )
        .await;
    let b = ok(&call(&client, "brief", json!({"run_id": run})).await);
    assert_eq!(
        (b["brief"]["stage"].as_str(), b["brief"]["visit"].as_u64()),
        (Some("hypothesize"), Some(2)),
        "{b}"
    );
    assert!(
        b["brief"]["feedback"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["text"] == "try the tokenizer first"),
        "{b}"
    );
    let d = decisions(&p, &run);
    assert_eq!(
        (
            d.len(),
            d[1]["data"]["decision"].as_str(),
            d[1]["data"]["by"].as_str()
        ),
        (2, Some("revise"), Some("web")),
        "{d:?}"
    );

    browser.quit().await;
    client.cancel().await.unwrap();
}

/// The CSRF token of a page's decision form.
fn csrf_of(body: &str) -> String {
    body.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no csrf field in {body}"))
        .to_string()
}
