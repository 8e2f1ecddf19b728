//! The HTTP listener of the page and `/mcp`: accepted TCP connections → hyper's HTTP/1.1 →
//! the router, within limits that keep the server answering a person while strangers hold
//! connections open (issue 21: 20,000 idle connections once made the page unanswerable).
//!
//! Invariants:
//! - At most [`connection_cap`] connections are served at once. Past it, a new connection takes
//!   the slot of the connection idle the longest (no request in flight); only when every
//!   connection is in the middle of a request is the new one told `503` and closed.
//! - A connection sends a whole request head within [`REQUEST_HEAD_TIMEOUT`] of being accepted,
//!   and again within it after each response, or it is closed: the one clock is both the
//!   header-read timeout and the keep-alive idle timeout. A response being sent (an event
//!   stream, `/events` or MCP's GET stream) is not waiting for a head, so it is never cut.
//! - A request body that sends nothing for [`BODY_STALL_TIMEOUT`] fails, so a request in flight
//!   cannot hold its slot by going silent.
//!
//! Weighed and not chosen: a semaphore around `accept` that waits in the kernel's backlog when
//! full (the person's connection would queue behind every stranger's until their timeouts ran
//! out, and past the backlog it is not even accepted), and closing every connection past the
//! cap (whoever holds the slots first keeps the page to themselves for as long as they keep
//! reconnecting). Taking the slot of the longest-idle connection serves the newest connection
//! at once, and costs an idle one nothing a browser does not already handle: it reconnects.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// The most connections served at once. A person's browser holds a handful (the page, its
/// event stream, an asset or two) and each MCP client one or two; 512 leaves room for many
/// people and clients, and keeps the worst case of hyper's read buffers (64 KiB each) at
/// 32 MiB.
pub const MAX_CONNECTIONS: usize = 512;

/// How long a connection has to send a request head: from being accepted, and again after each
/// response (hyper starts this clock whenever it waits for a head, so it is also the idle
/// timeout of a kept-alive connection). A browser or MCP client sends its head at once; ten
/// seconds is room for a slow tunnel, and short enough that silent connections let go.
pub const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request body may send nothing before the request fails. Forms and MCP messages
/// are small and sent whole; a body that stalls this long is not coming.
pub(crate) const BODY_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The most a connection buffers of what it reads (hyper's default is ~400 KiB): request heads
/// are a few KiB, bodies are passed on as they come, and 512 connections × 400 KiB of
/// headers sent on purpose would be 200 MiB.
const READ_BUFFER: usize = 64 * 1024;

/// The pause after `accept` fails for a reason other than the one connection (the process is
/// out of file descriptors, say): long enough not to spin, short enough to pick up soon.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// What a connection past the cap reads before it is closed, when every slot is mid-request.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 104\r\nConnection: close\r\n\r\nmaestro has as many connections open as it serves at once, all mid-request; try again in a few seconds.\n";

/// The connection cap for this process: [`MAX_CONNECTIONS`], or half the open-file limit when
/// that is lower (macOS starts shells at 256). The other half is the engine's: the state file,
/// provider subprocesses' pipes, files it reads. Past the limit `accept` itself fails, and no
/// connection could be let in however idle the others are.
#[must_use]
pub(crate) fn connection_cap() -> usize {
    let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .ok()
        .and_then(|(soft, _)| usize::try_from(soft).ok())
        .unwrap_or(MAX_CONNECTIONS * 2);
    MAX_CONNECTIONS.min(soft / 2).max(1)
}

/// One served connection, as the accept loop sees it.
#[derive(Debug)]
struct Slot {
    /// Requests in flight: from the request's head until its response body is dropped (sent,
    /// or the connection gone), so an open event stream counts as one.
    busy: AtomicUsize,
    /// When it last became idle (accepted, or its last response ended), in milliseconds since
    /// [`Slots::epoch`].
    idle_since: AtomicU64,
    /// Woken when the slot is given to a newer connection.
    evict: Notify,
}

/// The connections being served.
#[derive(Debug)]
struct Slots {
    cap: usize,
    epoch: Instant,
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Slot>>>,
}

impl Slots {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            epoch: Instant::now(),
            next: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        // The map is left whole by every holder (no code between lock and unlock panics).
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a new connection: a free one, or the one idle the longest; `None` when the
    /// cap is reached and every connection is mid-request. (A request that begins on the chosen
    /// connection at this very instant is cut with it, as a reset would cut it; the client
    /// sees a closed connection and retries.)
    fn admit(&self) -> Option<(u64, Arc<Slot>)> {
        let mut open = self.lock();
        if open.len() >= self.cap {
            let victim = open
                .iter()
                .filter(|(_, s)| s.busy.load(Ordering::Acquire) == 0)
                .min_by_key(|(_, s)| s.idle_since.load(Ordering::Acquire))
                .map(|(id, _)| *id)?;
            // Out of the map at once, so the count is right before its task has run.
            if let Some(slot) = open.remove(&victim) {
                slot.evict.notify_one();
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.now()),
            evict: Notify::new(),
        });
        open.insert(id, Arc::clone(&slot));
        Some((id, slot))
    }

    fn release(&self, id: u64) {
        self.lock().remove(&id);
    }
}

/// One request in flight on a connection; dropped with the response body.
struct InFlight {
    slot: Arc<Slot>,
    slots: Arc<Slots>,
}

impl InFlight {
    fn begin(slot: &Arc<Slot>, slots: &Arc<Slots>) -> Self {
        slot.busy.fetch_add(1, Ordering::AcqRel);
        Self {
            slot: Arc::clone(slot),
            slots: Arc::clone(slots),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.slot
            .idle_since
            .store(self.slots.now(), Ordering::Release);
        self.slot.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight until it is dropped.
struct Tracked {
    inner: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = <Body as HttpBody>::Data;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that fails when nothing arrives for [`BODY_STALL_TIMEOUT`].
struct Stalling {
    inner: Incoming,
    /// Set while the body waits for its next frame.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl HttpBody for Stalling {
    type Data = <Incoming as HttpBody>::Data;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.deadline = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = self
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(BODY_STALL_TIMEOUT)));
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(format!(
                        "the request body sent nothing for {} s",
                        BODY_STALL_TIMEOUT.as_secs()
                    )
                    .into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `router` on `listener` until the process stops.
pub(crate) async fn serve(listener: TcpListener, router: Router) -> Infallible {
    let slots = Arc::new(Slots::new(connection_cap()));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(REQUEST_HEAD_TIMEOUT)
        .max_buf_size(READ_BUFFER);
    let http = Arc::new(http);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // A connection reset before it was accepted is the client's business; anything
                // else (no file descriptors left) is the process's, and passes.
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionRefused
                ) {
                    eprintln!("maestro: accepting a connection failed: {e}");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                }
                continue;
            }
        };
        let Some((id, slot)) = slots.admit() else {
            refuse(&stream);
            continue;
        };
        tokio::spawn(connection(
            stream,
            id,
            slot,
            Arc::clone(&slots),
            Arc::clone(&http),
            router.clone(),
        ));
    }
}

/// Answers a connection past the cap with a 503 and closes it. Written without waiting: the
/// socket's empty send buffer takes these few bytes, and a client that cannot take them is
/// closed just the same.
fn refuse(stream: &TcpStream) {
    // A failed write has no one to tell: the connection is closed either way.
    stream.try_write(BUSY).ok();
}

/// Serves one connection until it ends, fails its timeouts, or gives its slot away.
async fn connection(
    stream: TcpStream,
    id: u64,
    slot: Arc<Slot>,
    slots: Arc<Slots>,
    http: Arc<http1::Builder>,
    router: Router,
) {
    let router = TowerToHyperService::new(router);
    let service = {
        let (slot, slots) = (Arc::clone(&slot), Arc::clone(&slots));
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let in_flight = InFlight::begin(&slot, &slots);
            let answer = router.call(req.map(|inner| Stalling {
                inner,
                deadline: None,
            }));
            async move {
                let response: Response<Body> = answer.await?;
                Ok::<_, Infallible>(response.map(|inner| {
                    Body::new(Tracked {
                        inner,
                        _in_flight: in_flight,
                    })
                }))
            }
        })
    };
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        // Its end, good or bad (a timeout, a malformed head, a reset), is the client's
        // business; the slot is freed either way.
        _ = conn => {}
        () = slot.evict.notified() => {}
    }
    slots.release(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_house_gives_the_longest_idle_slot_away_and_refuses_when_all_are_busy() {
        let slots = Arc::new(Slots::new(2));
        let (a, first) = slots.admit().unwrap();
        let (b, second) = slots.admit().unwrap();
        second.idle_since.store(0, Ordering::Release);
        first.idle_since.store(5, Ordering::Release);
        // `second` has been idle the longest: the third connection takes its slot.
        let (c, third) = slots.admit().unwrap();
        assert!(slots.lock().contains_key(&a) && slots.lock().contains_key(&c));
        assert!(!slots.lock().contains_key(&b));
        // Both remaining connections mid-request: the next one is refused.
        let _x = InFlight::begin(&first, &slots);
        let held = InFlight::begin(&third, &slots);
        assert!(slots.admit().is_none());
        drop(held);
        let (d, _) = slots.admit().unwrap();
        assert!(slots.lock().contains_key(&a) && slots.lock().contains_key(&d));
        assert_eq!(slots.lock().len(), 2);
    }

    #[test]
    fn the_refusal_is_one_whole_http_response() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 ") && head.contains("\r\nRetry-After: "));
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
    }

    #[test]
    fn the_cap_leaves_half_the_open_file_limit_to_the_engine() {
        let cap = connection_cap();
        assert!((1..=MAX_CONNECTIONS).contains(&cap), "{cap}");
    }
}
