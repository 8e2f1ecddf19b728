//! A transaction's operations on the event log and the document tables: every value is
//! masked on the way in (`encode`) and checked on the way out (`decode`).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use crate::ids::now_ms;

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

/// A transaction in progress.
pub(crate) struct Tx<'a> {
    pub(super) conn: &'a Connection,
    pub(super) path: &'a Path,
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
    pub(super) fn fail(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.to_path_buf(),
            source,
        }
    }

    pub(super) fn decode<T: DeserializeOwned>(&self, text: &str) -> Result<T, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
            path: self.path.to_path_buf(),
            detail: e.to_string(),
        })
    }

    /// Serializes a value for storage with every string masked: the state file is the one
    /// place everything durable passes through, so no secret reaches it (or `maestro log`).
    pub(super) fn encode<T: Serialize>(&self, value: &T) -> Result<String, StoreError> {
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
    pub(super) const fn name(self) -> &'static str {
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
