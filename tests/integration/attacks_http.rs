//! Attacks on the HTTP server of `maestro ui` and `maestro serve --http` (issue 21, item 6),
//! each tried over real sockets against the real binary and judged by its effect: the page
//! still answers a person, the process's memory and open files stay bounded, a redirect never
//! leaves the host. Speeds are the benches' business: every wait here is a generous bound.

use crate::web::{Reply, read_reply};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use maestro::testing::web::{MAX_CONNECTIONS, REQUEST_HEAD_TIMEOUT};
use serde_json::json;

/// The longest wait for one answer: it bounds a hang on a loaded 2-core machine; it measures
/// nothing.
const PATIENCE: Duration = Duration::from_secs(30);

/// The open-file limit of Linux desktop sessions (systemd's default soft limit), under which a
/// flood of idle connections once left `accept` failing and the page unanswerable.
const DESKTOP_FILE_LIMIT: usize = 1024;

/// `maestro ui` or `maestro serve --http` in a project of its own, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    token: String,
    log: Arc<Mutex<String>>,
    _dirs: [tempfile::TempDir; 2],
}

impl Server {
    fn ui(file_limit: Option<usize>) -> Self {
        Self::start(&["ui", "--addr", "127.0.0.1:0"], file_limit)
    }

    fn serve_http(file_limit: Option<usize>) -> Self {
        Self::start(&["serve", "--http", "127.0.0.1:0"], file_limit)
    }

    /// Starts maestro with `args`; with `file_limit`, under that soft open-file limit (set by
    /// the shell it is exec'd from, as a login session sets it).
    fn start(args: &[&str], file_limit: Option<usize>) -> Self {
        let (project, config) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::create_dir_all(project.path().join(".git")).unwrap();
        let bin = env!("CARGO_BIN_EXE_maestro");
        let mut cmd = match file_limit {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -Sn {n} && exec \"$0\" \"$@\""))
                    .arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(args)
            .current_dir(project.path())
            .env_remove("MAESTRO_HOME")
            .env_remove("MAESTRO_STATE")
            .env_remove("MAESTRO_HTTP_TOKEN")
            .env_remove("CLAUDE_CODE_SESSION_ID")
            .env_remove("CLAUDE_PROJECT_DIR")
            .env("XDG_CONFIG_HOME", config.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn maestro");
        // Both pipes drained for the server's whole life (a full pipe would block it); the
        // page's URL is on stdout for `ui`, on stderr for `serve --http`.
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for pipe in [out, err] {
            let (tx, log) = (tx.clone(), Arc::clone(&log));
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                    drop(log);
                    let _ = tx.send(line);
                }
            });
        }
        let deadline = Instant::now() + PATIENCE;
        let url = loop {
            let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            else {
                let _ = child.kill();
                panic!(
                    "maestro {args:?} printed no page URL:\n{}",
                    log.lock().unwrap()
                );
            };
            if let Some(at) = line
                .find("http://127.0.0.1:")
                .filter(|_| line.contains("?token="))
            {
                break line[at..].trim().to_string();
            }
        };
        let rest = url.strip_prefix("http://127.0.0.1:").unwrap();
        let (port, token) = rest.split_once("/?token=").unwrap();
        Self {
            child,
            port: port.parse().unwrap(),
            token: token.to_string(),
            log,
            _dirs: [project, config],
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn cookie(&self) -> String {
        format!("maestro_ui_{}={}", self.port, self.token)
    }

    /// The files (sockets among them) the server process holds open.
    fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }

    /// The server's resident memory, in MiB.
    fn rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap()
            / 1024
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// A person's request for the page (with the cookie the token URL gave them), on a new
    /// connection: the status and body, or why there was none within the patience.
    fn page(&self) -> Result<(u16, String), String> {
        let req = format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nConnection: close\r\n\r\n",
            self.host(),
            self.cookie()
        );
        let reply = exchange(self.addr(), &req)?;
        Ok((reply.status, reply.body))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("server output:\n{}", self.log());
        }
    }
}

/// One request on a new connection; the reply read to the end of its body (by Content-Length,
/// or until the server closes).
fn exchange(addr: SocketAddr, req: &str) -> Result<Reply, String> {
    let mut s = TcpStream::connect_timeout(&addr, PATIENCE).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    read_reply(&mut s)
}

/// Whether the server has closed `s`: a read sees the end (or a reset) rather than waiting.
fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    }
}

/// Raises this test process's own soft open-file limit to `want` (within the hard limit), and
/// returns the limit it now has.
fn raise_own_file_limit(want: u64) -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let new = want.min(hard).max(soft);
    setrlimit(Resource::RLIMIT_NOFILE, new, hard).unwrap();
    new
}

#[test]
fn idle_connections_past_the_cap_do_not_keep_a_person_from_the_page() {
    // The server under a desktop's open-file limit (or less, when this process may not open
    // twice as many): today's flood of idle connections used up its descriptors, `accept`
    // failed, and a person's request waited in the kernel's queue.
    let own = usize::try_from(raise_own_file_limit(8192)).unwrap();
    // Room for the files the other tests running beside this one hold.
    let usable = own.saturating_sub(300);
    let server_limit = DESKTOP_FILE_LIMIT.min(usable / 2);
    assert!(
        server_limit >= 128,
        "an open-file limit of {own} is too small for this test"
    );
    // What the server serves at once: the cap, or half its open-file limit (README).
    let cap = MAX_CONNECTIONS.min(server_limit / 2);
    let server = Server::ui(Some(server_limit));
    let flood = usable.min(2500);
    let mut idle = Vec::new();
    for _ in 0..flood {
        // A connection the kernel no longer takes (its queue full) ends the flood: the server
        // is as flooded as it gets.
        match TcpStream::connect_timeout(&server.addr(), Duration::from_secs(2)) {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    assert!(
        idle.len() > server_limit,
        "opened only {} connections to a server that may open {server_limit} files",
        idle.len()
    );

    let (status, body) = server.page().unwrap_or_else(|e| {
        panic!(
            "with {} idle connections open, the page did not answer: {e}",
            idle.len()
        )
    });
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<html"), "{body}");
    // The strangers' connections beyond the cap were let go, not kept.
    let open = server.open_files();
    assert!(
        open <= cap + 64,
        "the server holds {open} files with {} connections opened (cap {cap})",
        idle.len()
    );

    // Connections that send nothing do not keep their slots: past the head timeout the server
    // has closed them (the test still holds its ends).
    let deadline = Instant::now() + REQUEST_HEAD_TIMEOUT + PATIENCE;
    while server.open_files() > 64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        server.open_files() <= 64,
        "{} files still open {REQUEST_HEAD_TIMEOUT:?} after the idle connections were opened",
        server.open_files()
    );
    drop(idle);
}

#[test]
fn a_silent_a_trickling_and_an_idle_kept_alive_connection_are_each_closed() {
    let server = Server::ui(None);
    let limit = REQUEST_HEAD_TIMEOUT + PATIENCE;
    let silent = {
        let addr = server.addr();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            closed_by_server(&mut s, limit)
        })
    };
    // Slowloris: a head that never ends, one header a second.
    let trickling = {
        let (addr, host) = (server.addr(), server.host());
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            let started = Instant::now();
            let mut line = format!("GET / HTTP/1.1\r\nHost: {host}\r\n");
            while started.elapsed() < limit {
                if s.write_all(line.as_bytes()).is_err() {
                    return true;
                }
                line = format!("X-Slow-{}: 1\r\n", started.elapsed().as_millis());
                if closed_by_server(&mut s, Duration::from_secs(1)) {
                    return true;
                }
            }
            false
        })
    };
    // A whole exchange, then nothing: the connection is kept alive, and then let go.
    let kept = {
        let (addr, host, cookie) = (server.addr(), server.host(), server.cookie());
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            write!(
                s,
                "GET /assets/style.css HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n"
            )
            .unwrap();
            s.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut first = [0u8; 12];
            s.read_exact(&mut first).unwrap();
            assert_eq!(&first, b"HTTP/1.1 200", "the asset was not served");
            closed_by_server(&mut s, limit)
        })
    };
    assert!(
        silent.join().unwrap(),
        "a connection that sent nothing was kept open"
    );
    assert!(
        trickling.join().unwrap(),
        "a head trickled a line a second was read forever"
    );
    assert!(
        kept.join().unwrap(),
        "an idle kept-alive connection was kept open"
    );
    // And the server answers as before.
    assert_eq!(server.page().unwrap().0, 200);
}

/// Reads `s` (an event stream) for `how_long`: whether it stayed open throughout, and when
/// (after the start) bytes last arrived.
fn watch_stream(s: &mut TcpStream, how_long: Duration) -> (bool, Option<Duration>) {
    let started = Instant::now();
    let mut last = None;
    let mut buf = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    while started.elapsed() < how_long {
        match s.read(&mut buf) {
            Ok(0) => return (false, last),
            Ok(_) => last = Some(started.elapsed()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (false, last),
        }
    }
    (true, last)
}

/// Opens a stream with `req` on a new connection and reads its status line.
fn open_stream(addr: SocketAddr, req: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect_timeout(&addr, PATIENCE).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if s.read(&mut byte).unwrap() == 0 {
            break;
        }
        line.push(byte[0]);
    }
    (s, String::from_utf8_lossy(&line).trim().to_string())
}

/// An `initialize` request body.
fn initialize() -> String {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "flood", "version": "1"}}
    })
    .to_string()
}

fn http_client() -> reqwest::Client {
    // reqwest carries no TLS provider of its own (see providers::install_tls).
    maestro::testing::providers::install_tls();
    reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap()
}

/// `initialize` on `/mcp`: the status, the session id, the body, the `Retry-After`.
async fn open_session(
    client: &reqwest::Client,
    server: &Server,
) -> (u16, Option<String>, String, Option<String>) {
    let r = client
        .post(format!("http://{}/mcp", server.host()))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(initialize())
        .send()
        .await
        .unwrap_or_else(|e| panic!("initialize: {e}"));
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (id, retry) = (header("mcp-session-id"), header("retry-after"));
    let status = r.status().as_u16();
    let body = r.text().await.unwrap_or_default();
    (status, id, body, retry)
}

/// The status of a notification sent in session `id`: 202 while it lives, 404 once gone.
async fn session_status(client: &reqwest::Client, server: &Server, id: &str) -> u16 {
    client
        .post(format!("http://{}/mcp", server.host()))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("Mcp-Session-Id", id)
        .body(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_initialize_calls_keeps_sessions_and_memory_bounded() {
    let server = Server::serve_http(None);
    let client = http_client();
    let before = server.rss_mib();
    let mut ids = Vec::new();
    for i in 0..1500 {
        let (status, id, body, _) = open_session(&client, &server).await;
        assert_eq!(status, 200, "initialize #{i}: {body}");
        ids.push(id.expect("a session id"));
    }
    let after = server.rss_mib();
    // Unbounded, these 1,500 sessions took ~340 MiB; bounded, they take ~30 MiB.
    assert!(
        after < before + 120,
        "1,500 initialize calls took the server from {before} MiB to {after} MiB"
    );
    // The sessions idle the longest made room for the newest: the first is gone (a client
    // that comes back with it is told 404 and starts anew), the last is served.
    assert_eq!(session_status(&client, &server, &ids[0]).await, 404);
    assert_eq!(session_status(&client, &server, &ids[1499]).await, 202);
    let live = {
        let mut n = 0;
        for id in &ids[1500 - maestro::testing::mcp::MAX_SESSIONS - 10..] {
            if session_status(&client, &server, id).await == 202 {
                n += 1;
            }
        }
        n
    };
    assert_eq!(
        live,
        maestro::testing::mcp::MAX_SESSIONS,
        "sessions alive among the newest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_session_is_in_use_a_new_one_is_told_503_with_retry_after() {
    let server = Server::serve_http(None);
    let client = http_client();
    // Every session in use: each with its event stream (GET /mcp) open.
    let mut streams = Vec::new();
    for i in 0..maestro::testing::mcp::MAX_SESSIONS {
        let (status, id, body, _) = open_session(&client, &server).await;
        assert_eq!(status, 200, "initialize #{i}: {body}");
        let id = id.unwrap();
        let req = format!(
            "GET /mcp HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nMcp-Session-Id: {id}\r\n\r\n",
            server.host()
        );
        let addr = server.addr();
        let (s, line) = tokio::task::spawn_blocking(move || open_stream(addr, &req))
            .await
            .unwrap();
        assert_eq!(line, "HTTP/1.1 200 OK", "the event stream of session #{i}");
        streams.push((id, s));
    }
    let (status, id, body, retry) = open_session(&client, &server).await;
    assert_eq!(status, 503, "{body}");
    assert!(id.is_none());
    assert!(
        retry
            .as_deref()
            .is_some_and(|r| r.parse::<u32>().is_ok_and(|s| s > 0)),
        "Retry-After: {retry:?}"
    );
    assert!(body.contains("MCP sessions"), "{body}");

    // One client goes away: its session is idle now, and the next initialize takes its place.
    let (gone, stream) = streams.remove(7);
    drop(stream);
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        let (status, ..) = open_session(&client, &server).await;
        if status != 503 || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(status, 200, "no session was freed by a closed stream");
    assert_eq!(session_status(&client, &server, &gone).await, 404);
    assert_eq!(session_status(&client, &server, &streams[0].0).await, 202);
}

#[test]
fn when_every_connection_is_mid_request_a_new_one_is_told_503() {
    // A small open-file limit makes a small cap (half of it, README), which event streams fill.
    let server = Server::ui(Some(256));
    let cap = MAX_CONNECTIONS.min(256 / 2);
    let req = format!(
        "GET /events HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n\r\n",
        server.host(),
        server.cookie()
    );
    let mut streams: Vec<TcpStream> = (0..cap)
        .map(|i| {
            let (s, line) = open_stream(server.addr(), &req);
            assert_eq!(line, "HTTP/1.1 200 OK", "event stream #{i}");
            s
        })
        .collect();
    // Sends nothing: the refusal is written as soon as the connection is accepted.
    let mut s = TcpStream::connect_timeout(&server.addr(), PATIENCE).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    assert!(
        raw.starts_with("HTTP/1.1 503 ") && raw.contains("Retry-After: "),
        "with {cap} event streams open, a new connection got {raw:?}"
    );
    // One stream closed frees its slot for a person.
    drop(streams.pop());
    let deadline = Instant::now() + PATIENCE;
    let answer = loop {
        let answer = server.page();
        if answer.as_ref().is_ok_and(|(status, _)| *status == 200) || Instant::now() > deadline {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(answer.map(|(s, _)| s), Ok(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_event_streams_outlive_the_idle_timeout() {
    // Not an attack: the guard against the timeouts cutting what they must not.
    let server = Server::serve_http(None);
    let client = http_client();
    let (status, id, body, _) = open_session(&client, &server).await;
    assert_eq!(status, 200, "{body}");
    let host = server.host();
    let page = format!(
        "GET /events HTTP/1.1\r\nHost: {host}\r\nCookie: {}\r\n\r\n",
        server.cookie()
    );
    let mcp = format!(
        "GET /mcp HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nMcp-Session-Id: {}\r\n\r\n",
        id.unwrap()
    );
    // Both send a keep-alive every 15 s; watched until past the first.
    let watch = REQUEST_HEAD_TIMEOUT + Duration::from_secs(8);
    let addr = server.addr();
    let watchers: Vec<_> = [page, mcp]
        .into_iter()
        .map(|req| {
            std::thread::spawn(move || {
                let (mut s, line) = open_stream(addr, &req);
                assert_eq!(line, "HTTP/1.1 200 OK");
                watch_stream(&mut s, watch)
            })
        })
        .collect();
    for (what, w) in ["/events", "GET /mcp"].into_iter().zip(watchers) {
        let (open, last) = tokio::task::spawn_blocking(move || w.join().unwrap())
            .await
            .unwrap();
        assert!(open, "{what}: the stream was closed within {watch:?}");
        assert!(
            last.is_some_and(|t| t > REQUEST_HEAD_TIMEOUT),
            "{what}: no keep-alive arrived after {REQUEST_HEAD_TIMEOUT:?} (last bytes at {last:?})"
        );
    }
}

/// Whether a browser that follows `location` from this server stays on it. Browsers drop tabs
/// and newlines and read `\` as `/` in http(s) URLs first.
fn stays_on_host(location: &str) -> bool {
    let seen: String = location
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    let seen = seen.trim_matches(|c: char| c <= ' ');
    seen.starts_with('/') && !seen.starts_with("//")
}

#[test]
fn the_token_redirect_never_leaves_the_host() {
    let server = Server::ui(None);
    let get = |target: &str| {
        exchange(
            server.addr(),
            &format!(
                "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                server.host()
            ),
        )
        .unwrap_or_else(|e| panic!("GET {target}: {e}"))
    };
    let token = &server.token;
    // The redirect still does its job: the token into a cookie, out of the address bar.
    let plain = get(&format!("/runs/r-1?token={token}"));
    assert_eq!(plain.status, 303);
    assert_eq!(plain.header("location"), Some("/runs/r-1"));
    assert!(plain.header("set-cookie").is_some());

    let attacks = [
        "//evil.example/",
        "///evil.example/",
        "//evil.example/%2F..",
        "/\\evil.example/",
        "/\\/evil.example/",
        "/%2F%2Fevil.example/",
        "/%5C%5Cevil.example/",
        "/%09/evil.example/",
        "/.//evil.example/",
    ];
    for path in attacks {
        let reply = get(&format!("{path}?token={token}"));
        if let Some(location) = reply.header("location") {
            assert!(
                stays_on_host(location),
                "GET {path}?token=… answered Location: {location}"
            );
        } else {
            // Refused outright (hyper does not take every byte in a path): also safe.
            assert!(
                (400..500).contains(&reply.status),
                "GET {path}: {} without a Location",
                reply.status
            );
        }
    }
    // The address the audit found lands on this server's front page.
    let reply = get(&format!("//evil.example/?token={token}"));
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/"));
}
