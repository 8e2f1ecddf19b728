//! MCP sessions over HTTP, at most [`MAX_SESSIONS`] at once: rmcp's in-memory
//! [`LocalSessionManager`] behind a table of when each session was last used and how many of
//! its streams are open.
//!
//! Every `initialize` creates a session that rmcp keeps in memory until it is closed or sits
//! idle for rmcp's keep-alive (5 minutes): 1,500 of them once took `serve --http` from 17 to
//! 357 MB (issue 21). Past the cap, a new session takes the place of the session idle the
//! longest (no request in flight, no stream open) — a client that comes back with it is told
//! 404 and, as the MCP specification requires, starts a new session. When every session is in
//! use, [`Sessions::full`] says so and the HTTP layer answers `503` with `Retry-After` before
//! rmcp is asked; a session asked for anyway (two at the same instant) fails with
//! [`SessionsError::Full`].

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{RestoreOutcome, ServerSseMessage};
use rmcp::transport::streamable_http_server::{SessionId, SessionManager};
use tokio_stream::Stream;

/// The most MCP sessions kept at once. Each Claude Code session (or other client) holds one;
/// a few hundred is far more than people run against one state file, and bounds what sessions
/// cost in memory: ~65 KB each in a release build (its server, channels and caches), so ~17 MB
/// at the cap; 1,500 `initialize` calls now leave the server at ~43 MB, not ~360.
pub const MAX_SESSIONS: usize = 256;

/// Why a session was not created.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionsError {
    #[error(
        "maestro holds {MAX_SESSIONS} MCP sessions, all in use; close one (DELETE /mcp) or try again shortly"
    )]
    Full,
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
}

#[derive(Debug)]
struct Usage {
    last: Instant,
    /// Streams and handshakes in flight; the session is idle at zero.
    open: usize,
}

#[derive(Debug, Default)]
struct Table {
    sessions: HashMap<SessionId, Usage>,
    /// Sessions being created, counted against the cap before they have an id.
    creating: usize,
}

impl Table {
    fn len(&self) -> usize {
        self.sessions.len() + self.creating
    }

    fn longest_idle(&self) -> Option<SessionId> {
        self.sessions
            .iter()
            .filter(|(_, u)| u.open == 0)
            .min_by_key(|(_, u)| u.last)
            .map(|(id, _)| id.clone())
    }

    fn touch(&mut self, id: &SessionId) {
        if let Some(u) = self.sessions.get_mut(id) {
            u.last = Instant::now();
        }
    }
}

type Shared = Arc<Mutex<Table>>;

fn lock(table: &Shared) -> std::sync::MutexGuard<'_, Table> {
    // No holder panics between lock and unlock: the table stays whole.
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A stream or handshake of a session in flight; the session is not idle while one lives.
struct Open {
    table: Shared,
    id: SessionId,
}

impl Open {
    fn new(table: &Shared, id: &SessionId) -> Self {
        let mut t = lock(table);
        t.touch(id);
        if let Some(u) = t.sessions.get_mut(id) {
            u.open += 1;
        }
        Self {
            table: Arc::clone(table),
            id: id.clone(),
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let mut t = lock(&self.table);
        t.touch(&self.id);
        if let Some(u) = t.sessions.get_mut(&self.id) {
            u.open = u.open.saturating_sub(1);
        }
    }
}

/// A session's stream, counted as open until it is dropped (ended, or its client gone).
struct Held {
    inner: Pin<Box<dyn Stream<Item = ServerSseMessage> + Send + Sync>>,
    _open: Open,
}

impl Stream for Held {
    type Item = ServerSseMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// A session being created: counted against the cap until it has an id (or fails, or its
/// request is dropped).
struct Creating(Shared);

impl Drop for Creating {
    fn drop(&mut self) {
        let mut t = lock(&self.0);
        t.creating = t.creating.saturating_sub(1);
    }
}

/// rmcp's in-memory sessions, at most [`MAX_SESSIONS`] of them.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    inner: LocalSessionManager,
    table: Shared,
}

impl Sessions {
    /// Whether a new session would be refused: the cap is reached and every session is in use.
    pub(crate) fn full(&self) -> bool {
        let t = lock(&self.table);
        t.len() >= MAX_SESSIONS && t.longest_idle().is_none()
    }

    /// A stream of `id` that keeps the session in use while it is open.
    fn hold(
        &self,
        id: &SessionId,
        stream: impl Stream<Item = ServerSseMessage> + Send + Sync + 'static,
    ) -> Held {
        Held {
            inner: Box::pin(stream),
            _open: Open::new(&self.table, id),
        }
    }

    async fn close_local(&self, id: &SessionId) {
        if let Err(e) = self.inner.close_session(id).await {
            eprintln!("maestro: closing MCP session {id}: {e}");
        }
    }
}

impl SessionManager for Sessions {
    type Error = SessionsError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let (victim, creating) = {
            let mut t = lock(&self.table);
            let victim = if t.len() >= MAX_SESSIONS {
                let id = t.longest_idle().ok_or(SessionsError::Full)?;
                t.sessions.remove(&id);
                Some(id)
            } else {
                None
            };
            t.creating += 1;
            (victim, Creating(Arc::clone(&self.table)))
        };
        if let Some(id) = victim {
            self.close_local(&id).await;
        }
        let (id, transport) = self.inner.create_session().await?;
        let mut t = lock(&self.table);
        t.sessions.insert(
            id.clone(),
            Usage {
                last: Instant::now(),
                open: 0,
            },
        );
        drop(t);
        drop(creating);
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        let _open = Open::new(&self.table, id);
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        lock(&self.table).touch(id);
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        lock(&self.table).sessions.remove(id);
        Ok(self.inner.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let _open = Open::new(&self.table, id);
        let stream = self.inner.create_stream(id, message).await?;
        Ok(self.hold(id, stream))
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        let _open = Open::new(&self.table, id);
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let _open = Open::new(&self.table, id);
        let stream = self.inner.create_standalone_stream(id).await?;
        Ok(self.hold(id, stream))
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let _open = Open::new(&self.table, id);
        let stream = self.inner.resume(id, last_event_id).await?;
        Ok(self.hold(id, stream))
    }

    async fn restore_session(
        &self,
        _id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        // No session store is configured: a session that is gone stays gone (404), and a
        // restore would bring one back past the cap.
        Ok(RestoreOutcome::NotSupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn past_the_cap_the_longest_idle_session_goes_and_none_goes_while_all_are_in_use() {
        let s = Sessions::default();
        let mut ids = Vec::new();
        for _ in 0..MAX_SESSIONS {
            ids.push(s.create_session().await.unwrap().0);
        }
        assert!(!s.full());
        // Every session in use: the next one is refused.
        let held: Vec<Open> = ids.iter().map(|id| Open::new(&s.table, id)).collect();
        assert!(s.full());
        assert!(matches!(s.create_session().await, Err(SessionsError::Full)));
        drop(held);
        // Touch all but the second: it is now the longest idle, and goes first.
        for id in ids.iter().filter(|id| **id != ids[1]) {
            assert!(s.has_session(id).await.unwrap());
        }
        let (newest, _) = s.create_session().await.unwrap();
        assert!(!s.has_session(&ids[1]).await.unwrap());
        assert!(s.has_session(&ids[0]).await.unwrap());
        assert!(s.has_session(&newest).await.unwrap());
        assert_eq!(lock(&s.table).len(), MAX_SESSIONS);
    }
}
