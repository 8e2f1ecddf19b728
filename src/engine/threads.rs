//! Consult threads: every consult is kept whole (masked) as one turn of a thread, so a
//! follow-up can replay the conversation, a long answer can be read in full as the resource
//! `maestro://consults/<id>`, and threads outlive the server (`maestro threads`).

use serde::{Deserialize, Serialize};

use super::{Engine, Failure};
use crate::engine::FailureCode;
use crate::store::new_id;

/// One consult: the question as the caller asked it, the answer as the provider gave it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[allow(
    clippy::struct_field_names,
    reason = "`turn` is a key of the consult JSON the state file keeps and reports return"
)]
pub(crate) struct Turn {
    /// The consult's id (`c-…`).
    pub id: String,
    pub thread_id: String,
    /// 1 for the question that opened the thread.
    pub turn: u32,
    pub run_id: Option<String>,
    pub provider: String,
    pub model: String,
    pub role: Option<String>,
    /// The caller's question, without the role or the packed material.
    pub question: String,
    /// What was packed with it (one line), if anything.
    pub packed: Option<String>,
    pub answer: String,
    /// The provider CLI's own session id, for a native resume.
    pub session: Option<String>,
    /// Red flags the answer tripped (kept, shown as warnings).
    pub warnings: Vec<String>,
    pub at: i64,
}

/// A thread as listed.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct ThreadSummary {
    pub thread_id: String,
    pub provider: String,
    pub run_id: Option<String>,
    pub turns: i64,
    /// The first question, cut to one line.
    pub topic: String,
    pub started_at: i64,
    pub last_at: i64,
}

fn unknown_thread(id: &str) -> Failure {
    Failure::new(
        FailureCode::UnknownThread,
        format!(
            "there is no consult thread `{}`",
            id.chars().take(80).collect::<String>()
        ),
        "pass a `thread_id` a consult returned (`maestro threads` lists them), or omit it to start a new thread",
    )
}

impl Engine {
    /// Stores a consult as the next turn of its thread (a new thread when `thread_id` is
    /// `None`); returns it with its ids and turn number.
    ///
    /// # Errors
    /// A state-file failure.
    pub(crate) fn add_turn(&self, thread_id: Option<&str>, mut t: Turn) -> Result<Turn, Failure> {
        t.id = new_id("c");
        t.thread_id = thread_id.map_or_else(|| new_id("th"), str::to_string);
        let run_key = t.run_id.clone().unwrap_or_default();
        let (id, thread) = (t.id.clone(), t.thread_id.clone());
        let stored = self.store.write(|tx| {
            tx.add_turn(&id, &thread, &run_key, |n| {
                t.turn = u32::try_from(n).unwrap_or(u32::MAX);
                t
            })?;
            // What was stored is masked; hand back exactly that.
            tx.turn::<Turn>(&id)?
                .ok_or_else(|| crate::store::StoreError::Corrupt {
                    path: self.store.path().to_path_buf(),
                    detail: format!("consult {id} vanished as it was written"),
                })
        })?;
        Ok(stored)
    }

    /// A thread's turns, oldest first.
    ///
    /// # Errors
    /// An unknown thread.
    pub(crate) fn thread(&self, thread_id: &str) -> Result<Vec<Turn>, Failure> {
        let turns: Vec<Turn> = self.store.read(|tx| tx.thread(thread_id))?;
        if turns.is_empty() {
            return Err(unknown_thread(thread_id));
        }
        Ok(turns)
    }

    /// One consult, whole.
    ///
    /// # Errors
    /// An unknown consult id.
    pub(crate) fn turn(&self, id: &str) -> Result<Turn, Failure> {
        self.store.read(|tx| tx.turn(id))?.ok_or_else(|| {
            Failure::new(
                FailureCode::UnknownConsult,
                format!(
                    "there is no consult `{}`",
                    id.chars().take(80).collect::<String>()
                ),
                "use an id a consult returned (`maestro threads ID` lists a thread's consults)",
            )
        })
    }

    /// Threads, the most recently moved first.
    ///
    /// # Errors
    /// A state-file failure.
    pub(crate) fn threads(&self, limit: usize) -> Result<Vec<ThreadSummary>, Failure> {
        let rows = self.store.read(|tx| tx.threads::<Turn>(limit))?;
        Ok(rows
            .into_iter()
            .map(|r| ThreadSummary {
                topic: r
                    .first
                    .question
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .chars()
                    .take(100)
                    .collect(),
                thread_id: r.first.thread_id,
                provider: r.first.provider,
                run_id: r.first.run_id,
                turns: r.turns,
                started_at: r.first.at,
                last_at: r.last_at,
            })
            .collect())
    }
}
