//! Durable state in SQLite: an append-only event log plus materialized runs and approvals.
//!
//! The only module that imports `rusqlite`. Every write is one `BEGIN IMMEDIATE` transaction, so
//! several processes (two MCP servers and a terminal) can share one file: writers queue behind
//! the busy timeout instead of failing, and each row carries a version that a write checks.
//! Rows hold their data as JSON; the engine owns the shapes.

mod schema;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("state database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state database {path} holds a row that does not decode: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "state file {path} is empty (0 bytes): it was truncated, and opening it would start a new database over every run and approval; restore it from a backup, or delete it to start afresh"
    )]
    Empty { path: PathBuf },
    #[error(
        "state database {path} was written by a newer maestro (schema {found}, this build knows {known}); upgrade maestro"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
}

/// An open state file: a small pool of connections, so callers on several threads each get
/// their own and no lock is held while SQLite works.
pub(crate) struct Store {
    pool: Mutex<Vec<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// One event of the audit trail as stored: `kind` and `data` are the event's serde tag and
/// content, so `maestro log --jsonl` prints `{seq, run_id, at, kind, data}`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub(crate) struct Logged<E> {
    pub seq: i64,
    pub run_id: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    #[serde(flatten)]
    pub event: E,
}

/// A row with its version, for optimistic checks.
#[derive(Debug, Clone)]
pub(crate) struct Versioned<T> {
    pub value: T,
    pub version: i64,
}

impl Store {
    /// Opens (creating if needed) the state file, in WAL mode with `synchronous=FULL`.
    ///
    /// # Errors
    /// When the file cannot be created or opened, is empty (truncated: SQLite would silently
    /// start a new database over it, losing every run and approval), or holds a newer schema.
    pub(crate) fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        if std::fs::symlink_metadata(path).is_err() {
            create(path)?;
        }
        if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            return Err(StoreError::Empty {
                path: path.to_path_buf(),
            });
        }
        let conn = connect(path)?;
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        // Switching to WAL needs a moment of exclusive access; another process opening the
        // file at the same instant makes it busy, so retry for a while.
        let mut tries = 0;
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => break,
                Err(e) if tries < 200 && is_busy(&e) => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(e) => return Err(err(e)),
            }
        }
        let store = Store {
            pool: Mutex::new(vec![conn]),
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    #[must_use]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// A connection from the pool (or a new one); the pool lock is held only to pop it.
    fn take(&self) -> Result<Connection, StoreError> {
        let pooled = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match pooled {
            Some(c) => Ok(c),
            None => connect(&self.path),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut pool = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.len() < POOL_SIZE {
            pool.push(conn);
        }
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let conn = self.take()?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sqlite(e))?;
        self.give_back(conn);
        if found > schema::VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known: schema::VERSION,
            });
        }
        if found < schema::VERSION {
            self.write(|tx| {
                // Re-read inside the lock: another process may have migrated meanwhile.
                let now: i64 = tx.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                for (version, sql) in schema::migrations() {
                    if now < version {
                        tx.conn.execute_batch(&sql)?;
                    }
                }
                tx.conn
                    .pragma_update(None, "user_version", schema::VERSION)?;
                Ok::<_, StoreError>(())
            })?;
        }
        Ok(())
    }

    fn transaction<T, E>(
        &self,
        behavior: TransactionBehavior,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let conn = self.take().map_err(E::from)?;
        let result = self.run(&conn, behavior, f);
        self.give_back(conn);
        result
    }

    /// `f` in one transaction on `conn`, committed when it returns `Ok`.
    fn run<T, E>(
        &self,
        conn: &Connection,
        behavior: TransactionBehavior,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = rusqlite::Transaction::new_unchecked(conn, behavior)
            .map_err(|e| E::from(self.sqlite(e)))?;
        let out = f(&Tx {
            conn: &tx,
            path: &self.path,
        })?;
        tx.commit().map_err(|e| E::from(self.sqlite(e)))?;
        Ok(out)
    }

    /// Runs `f` in one immediate (write-locking) transaction; commits when it returns `Ok`.
    ///
    /// # Errors
    /// A database failure, or `f`'s own error (nothing is written then).
    pub(crate) fn write<T, E>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.transaction(TransactionBehavior::Immediate, f)
    }

    /// As [`Store::write`], but the commit does not wait for the disk (`synchronous=NORMAL`
    /// for this one transaction: the WAL is synced at the next checkpoint). For a record that
    /// may be lost to a power cut without harm, written where the wait would cost most: the
    /// hook's `tool_denied`, in a process that lives a few milliseconds before every tool call.
    /// The refusal itself does not depend on the record.
    ///
    /// # Errors
    /// A database failure, or `f`'s own error (nothing is written then).
    pub(crate) fn write_relaxed<T, E>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let conn = self.take().map_err(E::from)?;
        let set = |mode: &str| {
            conn.pragma_update(None, "synchronous", mode)
                .map_err(|e| E::from(self.sqlite(e)))
        };
        let result =
            set("NORMAL").and_then(|()| self.run(&conn, TransactionBehavior::Immediate, f));
        // Back to every commit synced before the connection serves anyone else; one that
        // cannot be set back is not reused.
        if set("FULL").is_ok() {
            self.give_back(conn);
        }
        result
    }

    /// Runs `f` in a read transaction (a consistent snapshot).
    ///
    /// # Errors
    /// A database failure, or `f`'s own error.
    pub(crate) fn read<T, E>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.transaction(TransactionBehavior::Deferred, f)
    }
}

/// Connections kept for reuse; more are opened when several threads work at once.
const POOL_SIZE: usize = 4;

/// Creates a new state file whole: built and migrated under a temporary name beside `path`,
/// then linked into place only if nothing is there yet. Several processes opening a new
/// project at once (the plugin's server and Claude Code's session-start hook) each build one;
/// the first link wins and the others open it. A file never appears at `path` half made, so
/// the zero-byte refusal is left for a file that really was truncated.
fn create(path: &Path) -> Result<(), StoreError> {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let name = path
        .file_name()
        .map_or_else(|| "state.db".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.{:016x}.new", h.finish()));
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let built = (|| {
        let conn = connect(&tmp)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|source| StoreError::Sqlite {
                path: tmp.clone(),
                source,
            })?;
        let store = Store {
            pool: Mutex::new(vec![conn]),
            path: tmp.clone(),
        };
        store.migrate()?;
        // Everything into the file itself before it is linked into place (connections do not
        // checkpoint when they close, see `connect`).
        store
            .take()?
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(|source| StoreError::Sqlite {
                path: tmp.clone(),
                source,
            })?;
        drop(store);
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(io(e)),
        }
    })();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = tmp.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    built
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open(path).map_err(err)?;
    // A short-lived process (the hook before every tool call, a CLI command) would otherwise
    // checkpoint the WAL into the file and delete it as it closes: a directory and three file
    // syncs more for every refusal the hook records, and the next writer creates the WAL
    // again. Commits still sync the WAL (`synchronous=FULL`), and SQLite checkpoints as the WAL
    // grows (every 1,000 pages), so nothing is less durable.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(err)?;
    Ok(conn)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// A transaction in progress.
pub(crate) struct Tx<'a> {
    conn: &'a Connection,
    path: &'a Path,
}

impl From<rusqlite::Error> for StoreError {
    fn from(source: rusqlite::Error) -> Self {
        StoreError::Sqlite {
            path: PathBuf::new(),
            source,
        }
    }
}

impl Tx<'_> {
    fn fail(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.to_path_buf(),
            source,
        }
    }

    fn decode<T: DeserializeOwned>(&self, text: &str) -> Result<T, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
            path: self.path.to_path_buf(),
            detail: e.to_string(),
        })
    }

    /// Serializes a value for storage with every string masked: the state file is the one
    /// place everything durable passes through, so no secret reaches it (or `maestro log`).
    fn encode<T: Serialize>(&self, value: &T) -> Result<String, StoreError> {
        let mut v = serde_json::to_value(value).map_err(|e| StoreError::Corrupt {
            path: self.path.to_path_buf(),
            detail: e.to_string(),
        })?;
        mask_strings(&mut v);
        Ok(v.to_string())
    }

    /// Appends one event (a serde-tagged enum: `{"kind": ..., "data": ...}`), masked; returns
    /// its sequence number.
    ///
    /// # Errors
    /// A database failure, or an event that does not serialize as `{kind, data}`.
    pub(crate) fn append<E: Serialize>(&self, run_id: &str, event: &E) -> Result<i64, StoreError> {
        let mut v = serde_json::to_value(event).map_err(|e| StoreError::Corrupt {
            path: self.path.to_path_buf(),
            detail: e.to_string(),
        })?;
        mask_strings(&mut v);
        let kind = v
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| StoreError::Corrupt {
                path: self.path.to_path_buf(),
                detail: "an event without a `kind` tag".into(),
            })?
            .to_string();
        let data = v.get("data").cloned().unwrap_or(serde_json::Value::Null);
        self.conn
            .execute(
                "INSERT INTO events (run_id, at, kind, data) VALUES (?1, ?2, ?3, ?4)",
                params![run_id, now_ms(), kind, data.to_string()],
            )
            .map_err(|e| self.fail(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The events of one run (or all runs), oldest first, decoded as `E`.
    ///
    /// # Errors
    /// A database failure, or a row that does not decode (an unknown kind is an error).
    pub(crate) fn events<E: DeserializeOwned>(
        &self,
        run_id: Option<&str>,
    ) -> Result<Vec<Logged<E>>, StoreError> {
        self.events_of(run_id, None)
    }

    /// The events of one run (or all runs) whose kind is one of `kinds` (all when `None`),
    /// oldest first: a long run's history is read without decoding every output it stored.
    ///
    /// # Errors
    /// A database failure, or a row that does not decode.
    pub(crate) fn events_of<E: DeserializeOwned>(
        &self,
        run_id: Option<&str>,
        kinds: Option<&[&str]>,
    ) -> Result<Vec<Logged<E>>, StoreError> {
        let kinds_json = kinds.map(|k| serde_json::to_string(k).unwrap_or_default());
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, run_id, at, kind, data FROM events
                 WHERE (?1 IS NULL OR run_id = ?1)
                 AND (?2 IS NULL OR kind IN (SELECT value FROM json_each(?2)))
                 ORDER BY seq",
            )
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map(params![run_id, kinds_json], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(|e| self.fail(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, run_id, at, kind, data) = row.map_err(|e| self.fail(e))?;
            let data: serde_json::Value = self.decode(&data)?;
            let event = serde_json::from_value(serde_json::json!({"kind": kind, "data": data}))
                .map_err(|e| StoreError::Corrupt {
                    path: self.path.to_path_buf(),
                    detail: format!("event {seq} ({kind}): {e}"),
                })?;
            out.push(Logged {
                seq,
                run_id,
                at,
                event,
            });
        }
        Ok(out)
    }

    /// Reads one row of a table of JSON documents (`runs`, `approvals`).
    ///
    /// # Errors
    /// A database failure or a row that does not decode.
    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        table: Table,
        id: &str,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        let sql = format!("SELECT data, version FROM {} WHERE id = ?1", table.name());
        let row: Option<(String, i64)> = self
            .conn
            .query_row(&sql, params![id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(|e| self.fail(e))?;
        row.map(|(data, version)| {
            Ok(Versioned {
                value: self.decode(&data)?,
                version,
            })
        })
        .transpose()
    }

    /// Rows of a table, newest first, optionally only those with `status`.
    ///
    /// # Errors
    /// A database failure or a row that does not decode.
    pub(crate) fn list<T: DeserializeOwned>(
        &self,
        table: Table,
        status: Option<&str>,
        run_id: Option<&str>,
    ) -> Result<Vec<Versioned<T>>, StoreError> {
        let sql = format!(
            "SELECT data, version FROM {} WHERE (?1 IS NULL OR status = ?1)
             AND (?2 IS NULL OR run_id = ?2) ORDER BY created_at DESC, id",
            table.name()
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map(params![status, run_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(|e| self.fail(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (data, version) = row.map_err(|e| self.fail(e))?;
            out.push(Versioned {
                value: self.decode(&data)?,
                version,
            });
        }
        Ok(out)
    }

    /// Inserts a new row at version 1.
    ///
    /// # Errors
    /// A database failure (including an id that exists).
    pub(crate) fn insert<T: Serialize>(
        &self,
        table: Table,
        row: &Row<'_>,
        value: &T,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {} (id, run_id, status, created_at, updated_at, data, version)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5, 1)",
            table.name()
        );
        self.conn
            .execute(
                &sql,
                params![
                    row.id,
                    row.run_id,
                    row.status,
                    now_ms(),
                    self.encode(value)?
                ],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Replaces a row if it is still at `version`; returns whether it was.
    ///
    /// # Errors
    /// A database failure.
    pub(crate) fn update<T: Serialize>(
        &self,
        table: Table,
        row: &Row<'_>,
        version: i64,
        value: &T,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE {} SET status = ?2, updated_at = ?3, data = ?4, version = version + 1
             WHERE id = ?1 AND version = ?5",
            table.name()
        );
        let n = self
            .conn
            .execute(
                &sql,
                params![row.id, row.status, now_ms(), self.encode(value)?, version],
            )
            .map_err(|e| self.fail(e))?;
        Ok(n == 1)
    }
}

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

/// The document tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Runs,
    Approvals,
    Evidence,
    Backups,
    /// Workflow versions runs are pinned to, by hash (schema 2).
    Versions,
}

impl Table {
    const fn name(self) -> &'static str {
        match self {
            Table::Runs => "runs",
            Table::Approvals => "approvals",
            Table::Evidence => "evidence",
            Table::Backups => "backups",
            Table::Versions => "versions",
        }
    }
}

/// The indexed columns of a document row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    pub id: &'a str,
    pub run_id: &'a str,
    pub status: &'a str,
}

/// Masks every string inside a JSON value, in place (object keys are ids, not secrets).
pub(crate) fn mask_strings(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(m) = crate::workspace::mask::mask(s) {
                *s = m;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_strings),
        Value::Object(o) => o.values_mut().for_each(mask_strings),
        _ => {}
    }
}

pub(crate) use crate::ids::{new_id, now_ms};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_round_trip_and_versions_guard_updates() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s/state.db")).unwrap();
        let row = Row {
            id: "run-1",
            run_id: "run-1",
            status: "active",
        };
        store
            .write::<_, StoreError>(|tx| {
                tx.insert(Table::Runs, &row, &json!({"a": 1}))?;
                tx.append("run-1", &json!({"kind": "started", "data": {}}))?;
                Ok(())
            })
            .unwrap();
        let got: Versioned<serde_json::Value> = store
            .read::<_, StoreError>(|tx| tx.get(Table::Runs, "run-1"))
            .unwrap()
            .unwrap();
        assert_eq!(got.value, json!({"a": 1}));
        assert_eq!(got.version, 1);
        let ok = store
            .write::<_, StoreError>(|tx| tx.update(Table::Runs, &row, 1, &json!({"a": 2})))
            .unwrap();
        assert!(ok);
        let stale = store
            .write::<_, StoreError>(|tx| tx.update(Table::Runs, &row, 1, &json!({"a": 3})))
            .unwrap();
        assert!(!stale, "a write at an old version must not land");
        let events = store
            .read::<_, StoreError>(|tx| tx.events::<serde_json::Value>(Some("run-1")))
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event["kind"], "started");
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db")).unwrap();
        let r: Result<(), StoreError> = store.write(|tx| {
            tx.append("r", &json!({"kind": "x", "data": {}}))?;
            Err(StoreError::Corrupt {
                path: PathBuf::new(),
                detail: "boom".into(),
            })
        });
        assert!(r.is_err());
        let events = store
            .read::<_, StoreError>(|tx| tx.events::<serde_json::Value>(None))
            .unwrap();
        assert!(events.is_empty());
    }

    #[test]
    fn secrets_never_reach_the_file_and_an_empty_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = Store::open(&path).unwrap();
        let key = "sk-proj-abcDEF1234567890abcdef1234567890";
        let row = Row {
            id: "run-1",
            run_id: "run-1",
            status: "active",
        };
        store
            .write::<_, StoreError>(|tx| {
                tx.insert(Table::Runs, &row, &json!({"task": format!("use {key}")}))?;
                tx.append("run-1", &json!({"kind": "k", "data": {"x": [key]}}))?;
                Ok(())
            })
            .unwrap();
        let got: Versioned<serde_json::Value> = store
            .read::<_, StoreError>(|tx| tx.get(Table::Runs, "run-1"))
            .unwrap()
            .unwrap();
        assert!(!got.value.to_string().contains("abcDEF"), "{}", got.value);
        drop(store);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend(std::fs::read(dir.path().join("state.db-wal")).unwrap_or_default());
        assert!(!bytes.windows(6).any(|w| w == b"abcDEF"));

        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        let err = Store::open(&empty).unwrap_err();
        assert!(matches!(err, StoreError::Empty { .. }), "{err}");
        assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
    }

    #[test]
    fn ids_are_distinct_and_well_formed() {
        let a = new_id("run");
        let b = new_id("run");
        assert_ne!(a, b);
        assert!(a.starts_with("run-") && a.len() == 14);
    }
}
