//! The SQL schema. Bump `VERSION` and append statements; never edit a released statement.

pub(super) const VERSION: i64 = 1;

/// The audit trail.
const EVENTS: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, seq);
";

/// Tables of JSON documents, all of one shape.
const DOCUMENTS: [&str; 4] = ["runs", "approvals", "evidence", "backups"];

/// The statements that create schema version 1.
pub(super) fn sql() -> String {
    let mut sql = EVENTS.to_string();
    for table in DOCUMENTS {
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                id TEXT PRIMARY KEY,
                run_id TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                data TEXT NOT NULL,
                version INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS {table}_status ON {table} (status, run_id);\n"
        ));
    }
    sql
}
