//! Consult threads: each consult is a turn of a thread, numbered inside the write that stores
//! it.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{StoreError, Tx};
use crate::ids::now_ms;

/// A thread as listed: its first turn, how many turns it has and when it last moved.
#[derive(Debug, Clone)]
pub(crate) struct ThreadRow<T> {
    pub first: T,
    pub turns: i64,
    pub last_at: i64,
}

impl Tx<'_> {
    /// Stores a consult as the next turn of `thread_id` (masked, like everything written);
    /// returns the turn number it got. The number is taken inside this write transaction, so
    /// concurrent follow-ups get consecutive turns.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) fn add_turn<T: Serialize>(
        &self,
        id: &str,
        thread_id: &str,
        run_id: &str,
        value: impl FnOnce(i64) -> T,
    ) -> Result<i64, StoreError> {
        let turn: i64 = self
            .conn
            .query_row(
                "SELECT COALESCE(MAX(turn), 0) + 1 FROM consults WHERE thread_id = ?1",
                params![thread_id],
                |r| r.get(0),
            )
            .map_err(|e| self.fail(e))?;
        let data = self.encode(&value(turn))?;
        self.conn
            .execute(
                "INSERT INTO consults (id, thread_id, turn, run_id, at, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, thread_id, turn, run_id, now_ms(), data],
            )
            .map_err(|e| self.fail(e))?;
        Ok(turn)
    }

    /// One consult by id.
    ///
    /// # Errors
    /// A database failure or a row that does not decode.
    pub(crate) fn turn<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>, StoreError> {
        let data: Option<String> = self
            .conn
            .query_row(
                "SELECT data FROM consults WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.fail(e))?;
        data.map(|d| self.decode(&d)).transpose()
    }

    /// A thread's turns, oldest first (empty for an unknown thread).
    ///
    /// # Errors
    /// A database failure or a row that does not decode.
    pub(crate) fn thread<T: DeserializeOwned>(
        &self,
        thread_id: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.consults_where("thread_id = ?1 ORDER BY turn", thread_id)
    }

    /// Consults whose rows match `filter` (one `?1` parameter), decoded in its order.
    fn consults_where<T: DeserializeOwned>(
        &self,
        filter: &str,
        value: &str,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT data FROM consults WHERE {filter}"))
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map(params![value], |r| r.get::<_, String>(0))
            .map_err(|e| self.fail(e))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(self.decode(&row.map_err(|e| self.fail(e))?)?);
        }
        Ok(out)
    }

    /// A run's consults, oldest first.
    ///
    /// # Errors
    /// A database failure or a row that does not decode.
    pub(crate) fn run_turns<T: DeserializeOwned>(
        &self,
        run_id: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.consults_where("run_id = ?1 ORDER BY at, id", run_id)
    }

    /// The newest event's sequence number (0 for none): a cheap "has anything moved" for the
    /// page's live updates, which watch a state file other processes write too.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) fn last_seq(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
            .map_err(|e| self.fail(e))
    }

    /// Threads, the most recently moved first: each one's first turn and its size.
    ///
    /// # Errors
    /// A database failure or a row that does not decode.
    pub(crate) fn threads<T: DeserializeOwned>(
        &self,
        limit: usize,
    ) -> Result<Vec<ThreadRow<T>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.data, t.n, t.last FROM consults c
                 JOIN (SELECT thread_id, COUNT(*) AS n, MAX(at) AS last
                       FROM consults GROUP BY thread_id) t ON c.thread_id = t.thread_id
                 WHERE c.turn = 1 ORDER BY t.last DESC, c.thread_id LIMIT ?1",
            )
            .map_err(|e| self.fail(e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![limit], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(|e| self.fail(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (data, turns, last_at) = row.map_err(|e| self.fail(e))?;
            out.push(ThreadRow {
                first: self.decode(&data)?,
                turns,
                last_at,
            });
        }
        Ok(out)
    }
}
