//! The approval page (`maestro ui`) and MCP over Streamable HTTP (`maestro serve --http`):
//! one axum router over the same engine the CLI and the stdio server use.
//!
//! Every request passes [`access::Access`] first (Host, Origin, token), in [`guard`]; forms
//! also carry a CSRF token. A person's decision on the page is recorded as `Actor::Web` and
//! goes through the engine's one gate check like every other decision. Connections are served
//! by [`listen`], within its limits (open connections, header-read and idle timeouts); MCP
//! sessions are capped by `mcp::sessions`.

#![allow(
    clippy::result_large_err,
    reason = "engine calls return a Failure (message and help), turned into a page at once"
)]

pub(crate) mod access;
pub(crate) mod listen;
pub(crate) mod markdown;
pub mod pages;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tokio_stream::wrappers::ReceiverStream;

use crate::engine::{Actor, DecisionKind, DecisionText, Engine, Failure};
use crate::engine::{FailureClass, FailureCode};
use crate::mcp::sessions::Sessions;
use access::{Access, Refusal};
use pages::{Draft, Frame};

/// How often the live stream looks at the state file (other processes write it too).
const POLL: Duration = Duration::from_millis(400);

#[derive(Clone)]
struct App {
    engine: Arc<Engine>,
    access: Arc<Access>,
    /// The state file's newest event number, as the one watcher last saw it.
    changes: tokio::sync::watch::Receiver<i64>,
    /// `/mcp`'s sessions, when MCP is served.
    sessions: Option<Arc<Sessions>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn refused(why: Refusal) -> Response {
    html(why.status(), pages::refused(why.status(), why.message()))
}

fn failed(f: &Failure) -> Response {
    let status = match f.code.class() {
        FailureClass::NotFound => StatusCode::NOT_FOUND,
        FailureClass::Refused => StatusCode::CONFLICT,
        FailureClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        FailureClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    f.log();
    html(status, pages::refused(status, &f.to_string()))
}

/// The one door: Host and Origin for every route; then the page's token (URL or cookie)
/// for the page, or the bearer token for `/mcp`. Static assets need no token.
async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let a = &app.access;
    if let Err(why) = a.check_site(req.headers()) {
        return refused(why);
    }
    let path = req.uri().path().to_string();
    if path == "/mcp" || path.starts_with("/mcp/") {
        return match a.check_bearer(req.headers()) {
            Ok(()) if opens_session(&req) && app.sessions.as_ref().is_some_and(|s| s.full()) => {
                sessions_full()
            }
            Ok(()) => next.run(req).await,
            Err(why) => refused(why),
        };
    }
    if path.starts_with("/assets/") {
        return next.run(req).await;
    }
    match a.check_token(req.headers(), req.uri().query()) {
        // The token came in the URL: keep it in a cookie and drop it from the address bar.
        Ok(true) if req.method() == axum::http::Method::GET => {
            let mut r = Redirect::to(access::local_path(&path)).into_response();
            if let Ok(v) = HeaderValue::from_str(&a.set_cookie()) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(_) => {
            let mut r = next.run(req).await;
            let h = r.headers_mut();
            h.insert("x-frame-options", HeaderValue::from_static("DENY"));
            h.insert(
                "content-security-policy",
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                ),
            );
            h.insert("cache-control", HeaderValue::from_static("no-store"));
            r
        }
        Err(why) => refused(why),
    }
}

/// A POST to `/mcp` without a session id: an `initialize`, which would make a session. (A
/// client of the 2026 protocol, which keeps no sessions, posts without one too; it is refused
/// only while every session is in use, and told when to come back.)
fn opens_session(req: &Request) -> bool {
    req.method() == axum::http::Method::POST && !req.headers().contains_key("mcp-session-id")
}

/// The answer to a new MCP session when every one of them is in use: 503, and when to try
/// again. Sessions are in use while a request or stream of theirs is open, so places come free
/// as tool calls end and clients go; half a minute spares the server a client that retries
/// at once.
fn sessions_full() -> Response {
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        crate::mcp::sessions::SessionsError::Full.to_string(),
    )
        .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    r
}

async fn frame(app: &App) -> Frame {
    Frame {
        csrf: app.access.csrf.clone(),
        seq: app.engine.blocking(Engine::last_change).await.unwrap_or(0),
    }
}

async fn runs_page(State(app): State<App>) -> Response {
    let frame = frame(&app).await;
    match app.engine.blocking(move |e| pages::runs(e, &frame)).await {
        Ok(body) => html(StatusCode::OK, body),
        Err(f) => failed(&f),
    }
}

async fn run_page(State(app): State<App>, Path(id): Path<String>) -> Response {
    let frame = frame(&app).await;
    match app
        .engine
        .blocking(move |e| pages::run(e, &id, &frame, &Draft::default()))
        .await
    {
        Ok(body) => html(StatusCode::OK, body),
        Err(f) => failed(&f),
    }
}

/// A decision from the page. A refused decision (a critical question unanswered, a revise
/// without words, an approval already decided) redraws the page with the reason, said for the
/// form in front of the person, and with everything they typed. Which decisions are refused is
/// the engine's to say (`apply_decision`), the same as at every other door.
async fn decide(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !app.access.csrf_ok(field("csrf")) {
        return refused(Refusal::Csrf);
    }
    let answers: BTreeMap<String, String> = fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("q_")?.to_string(), v.trim().to_string())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let feedback = field("feedback")
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_string);
    let text = DecisionText {
        feedback: feedback.clone(),
        answers: answers.clone(),
    };
    let result = match field("decision")
        .unwrap_or_default()
        .parse::<DecisionKind>()
    {
        Ok(kind) => {
            let id2 = id.clone();
            app.engine
                .blocking(move |e| e.decide(&id2, kind, &text, Actor::Web))
                .await
                .map_err(|f| on_the_page(&f))
        }
        Err(why) => Err((why.to_string(), Vec::new())),
    };
    match result {
        Ok(decided) => Redirect::to(&format!("/runs/{}", decided.run.run_id)).into_response(),
        Err((error, unanswered)) => {
            let id3 = id.clone();
            let Ok(approval) = app.engine.blocking(move |e| e.approval(&id3)).await else {
                return html(
                    StatusCode::NOT_FOUND,
                    pages::refused(StatusCode::NOT_FOUND, &error),
                );
            };
            let frame = frame(&app).await;
            let draft = Draft {
                error: Some(error),
                feedback: feedback.unwrap_or_default(),
                answers,
                unanswered,
            };
            let run_id = approval.run_id.clone();
            match app
                .engine
                .blocking(move |e| pages::run(e, &run_id, &frame, &draft))
                .await
            {
                Ok(body) => html(StatusCode::UNPROCESSABLE_ENTITY, body),
                Err(f) => failed(&f),
            }
        }
    }
}

/// A refused decision in words for the person at the form, with the critical questions left
/// empty (the form marks them). The engine's help is written for the doors without a form
/// ("answer them with `maestro approve`, the form, or the approval page"); here the fix is
/// in the form in front of them.
fn on_the_page(f: &Failure) -> (String, Vec<String>) {
    let fix = match f.code {
        FailureCode::AnswersRequired => {
            "answer the questions marked below, or revise or reject instead"
        }
        FailureCode::RevisionNeedsWords => {
            "write what should change in the feedback box, then choose Revise again"
        }
        FailureCode::AlreadyDecided => "the page below shows where the run is now",
        FailureCode::UnknownQuestion => "reload the page: this form is older than the approval",
        _ => {
            return (f.to_string(), Vec::new());
        }
    };
    let unanswered = f.details["unanswered"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    (format!("{} — {fix}", f.message), unanswered)
}

/// One watcher of the state file per server, however many pages are open: it polls the
/// newest event number (other processes write the file too) while at least one page listens,
/// and publishes it when it moves.
fn watch_changes(engine: Arc<Engine>, start: i64) -> tokio::sync::watch::Receiver<i64> {
    let (tx, rx) = tokio::sync::watch::channel(start);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(POLL).await;
            if tx.is_closed() {
                break;
            }
            // The app keeps one receiver itself; more means a page is listening.
            if tx.receiver_count() <= 1 {
                continue;
            }
            if let Ok(now) = engine.blocking(Engine::last_change).await {
                tx.send_if_modified(|v| std::mem::replace(v, now) != now);
            }
        }
    });
    rx
}

/// Server-sent events: `change` whenever the state file's newest event changes. `since` is
/// the change number the page was drawn at, so a move made between drawing the page and
/// opening the stream is still sent.
async fn events(State(app): State<App>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let since = q.get("since").and_then(|s| s.parse::<i64>().ok());
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut changes = app.changes.clone();
    changes.borrow_and_update();
    // The watcher does not look while no page listens: read the number fresh once.
    let now = app.engine.blocking(Engine::last_change).await.unwrap_or(0);
    tokio::spawn(async move {
        let mut last = since.unwrap_or(now);
        let mut seen = now;
        loop {
            if seen != last {
                last = seen;
                let ev = Event::default().event("change").data(seen.to_string());
                if tx.send(Ok(ev)).await.is_err() {
                    break;
                }
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    seen = *changes.borrow_and_update();
                }
                () = tx.closed() => break,
            }
        }
    });
    Sse::new(ReceiverStream::<Result<Event, std::convert::Infallible>>::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.js" => (
            include_str!("assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "style.css" => (include_str!("assets/style.css"), "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let mut r = Body::from(body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r
}

/// The page's routes, with the guard in front of them and of anything merged in later.
fn page_routes() -> Router<App> {
    Router::new()
        .route("/", get(runs_page))
        .route("/runs/{id}", get(run_page))
        .route("/approvals/{id}", post(decide))
        .route("/events", get(events))
        .route("/assets/{name}", get(asset))
}

/// How the HTTP server is reached.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: SocketAddr,
    /// Further host names it answers to (a tunnel's).
    pub hosts: Vec<String>,
    /// `/mcp`'s bearer token.
    pub bearer: Option<String>,
    /// Serve MCP at `/mcp` as well as the page.
    pub mcp: bool,
}

/// A bound server, ready to run.
pub struct Bound {
    listener: tokio::net::TcpListener,
    router: Router,
    pub addr: SocketAddr,
    pub access: Arc<Access>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Bound {
    /// `host:port` to reach the server at (loopback when it listens on every address).
    #[must_use]
    pub(crate) fn authority(&self) -> String {
        if self.addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", self.addr.port())
        } else {
            access::authority(self.addr)
        }
    }

    /// The page's URL with its token.
    #[must_use]
    pub(crate) fn page_url(&self) -> String {
        format!("http://{}/?token={}", self.authority(), self.access.token)
    }

    /// Serves until the process is stopped (a failed connection or `accept` never stops it).
    pub async fn run(self) -> std::convert::Infallible {
        listen::serve(self.listener, self.router).await
    }
}

/// Binds the address and builds the router: the page, and `/mcp` when asked.
///
/// # Errors
/// The address cannot be bound.
pub async fn bind(engine: Arc<Engine>, opts: &Options) -> Result<Bound, String> {
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let access = Arc::new(Access::new(addr, &opts.hosts, opts.bearer.clone()));
    let start = engine.blocking(Engine::last_change).await.unwrap_or(0);
    let mcp = opts
        .mcp
        .then(|| crate::mcp::http_service(Arc::clone(&engine), access.hosts(), access.origins()));
    let app = App {
        changes: watch_changes(Arc::clone(&engine), start),
        engine,
        access: Arc::clone(&access),
        sessions: mcp.as_ref().map(|(_, sessions)| Arc::clone(sessions)),
    };
    let mut router = page_routes();
    if let Some((service, _)) = mcp {
        router = router.nest_service("/mcp", service);
    }
    let router = router
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app);
    Ok(Bound {
        listener,
        router,
        addr,
        access,
    })
}
