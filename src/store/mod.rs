//! Durable state in SQLite: an append-only event log plus materialized runs and approvals.
//!
//! The only module that imports `rusqlite`. Every write is one `BEGIN IMMEDIATE` transaction, so
//! several processes (two MCP servers and a terminal) can share one file: writers queue behind
//! the busy timeout instead of failing, and each row carries a version that a write checks.
//! Rows hold their data as JSON; the engine owns the shapes.

mod consults;
mod schema;
mod tx;

pub(crate) use tx::{Logged, Row, Table, Tx, Versioned};

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

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
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
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
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!("removing {} failed: {e}", p.to_string_lossy());
            }
            _ => {}
        }
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
