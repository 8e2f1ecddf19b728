//! The SQL schema. Bump `VERSION` and append a migration; never edit a released statement.

pub(super) const VERSION: i64 = 3;

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

/// Consults, whole and masked: each is one turn of a thread (a follow-up continues one). A
/// thread's turns are numbered from 1; the unique pair makes two follow-ups racing for the
/// same turn number impossible.
const CONSULTS: &str = "
CREATE TABLE IF NOT EXISTS consults (
    id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (thread_id, turn)
);
CREATE INDEX IF NOT EXISTS consults_at ON consults (at);
";

/// A table of JSON documents; all of them have this one shape.
fn documents(table: &str) -> String {
    format!(
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
    )
}

/// (schema version, statements that bring the previous version to it).
pub(super) fn migrations() -> Vec<(i64, String)> {
    let mut v1 = EVENTS.to_string();
    for table in ["runs", "approvals", "evidence", "backups"] {
        v1.push_str(&documents(table));
    }
    // 2: workflow versions, so a run keeps the workflow it started with.
    // 3: every consult's whole question and answer, as turns of threads.
    // 4: an index of consults by run.
    vec![
        (1, v1),
        (2, documents("versions")),
        (3, CONSULTS.to_string()),
        // 4: a run's consults by time, for its reports and its page.
        (
            4,
            "CREATE INDEX IF NOT EXISTS consults_run ON consults (run_id, at);\n".to_string(),
        ),
    ]
}
