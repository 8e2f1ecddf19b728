//! The run engine: the one place every side effect passes through. The CLI, the MCP server
//! and (later) the web page are adapters over these calls.
//!
//! - **Commands** (`ops/`, one file per operation: start, submit, decide, expire, charge,
//!   verify, patch, restore, note, upgrade) each run in one write transaction on the state
//!   file: load the run and its pinned workflow version, apply a pure step, store it with its
//!   events. Several processes share runs safely and a restart resumes at the last commit.
//! - **Reads** (`reads.rs`: status, runs, brief, approvals, log, evidence, metrics) are read
//!   transactions; a gate whose timeout passed is resolved by the `expire` command first.
//! - **Events** (`events.rs`) are one serde-tagged enum, the audit trail.
//!
//! The guarantees and where each is enforced:
//! - a `by "human"` gate is decided only by a person: [`model::Actor::may_decide`], checked in
//!   `ops/decide.rs`, the only code that moves a run past a gate (timeouts apply only what the
//!   workflow version the run is pinned to says);
//! - budgets bound every model call: `budget::charge`, reached only through
//!   [`Engine::pay`] (`ops/charge.rs`), which every provider call site uses first;
//! - nothing runs that a person did not name: `ops/verify.rs` runs only checks from the
//!   project's `conf/verify.yaml`, and providers come only from `conf/providers.yaml`;
//! - nothing is written outside the workspace or into control files: `workspace/confine.rs`;
//! - no secret is stored or logged: the store masks every string it writes (`store/`).
//!
//! The engine is `Sync`: it holds no connection across calls (the store pools them) and is
//! meant to be called from blocking threads (`tokio::task::spawn_blocking` in the server).

#![allow(
    clippy::result_large_err,
    reason = "a Failure carries a readable message and help; refusals are rare, not a hot path"
)]

pub(crate) mod brief;
pub(crate) mod budget;
pub(crate) mod degraded;
pub(crate) mod events;
mod failure;
mod failure_codes;
pub(crate) mod guard;
pub(crate) mod library;
pub(crate) mod metrics;
pub(crate) mod model;
pub(crate) mod ops;
mod reads;
pub(crate) mod report;
pub(crate) use reads::ConsultMemory;
pub(crate) mod step;
pub(crate) mod threads;
pub(crate) mod views;
pub(crate) mod work;

use std::path::{Path, PathBuf};

pub(crate) use brief::Brief;
pub(crate) use budget::BudgetView;
pub(crate) use events::RunEvent;
pub use failure::Failure;
pub(crate) use failure_codes::FailureClass;
pub use failure_codes::FailureCode;
pub(crate) use library::Library;
pub use model::Actor;
pub use model::DecisionKind;
pub use model::DecisionText;
pub(crate) use model::{Run, RunContext, RunStatus};
pub use ops::StartRequest;
pub(crate) use ops::{SubmitOutcome, Submitted};
pub(crate) use views::{ApprovalView, RunSummary, RunView};

use crate::home::Home;
use crate::store::Store;
use crate::workspace::confine::ControlPlaces;

/// Outputs larger than this are refused before anything else looks at them.
pub(crate) const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// An open engine: the workflows of a home and the state file runs live in.
#[derive(Debug)]
pub struct Engine {
    pub(crate) library: Library,
    pub(crate) store: Store,
    /// The workspace: files are packed from it and patches applied inside it.
    pub root: PathBuf,
    /// Control places outside the workspace (the asset home, Claude Code's user settings),
    /// read from the environment when the engine opens.
    pub(crate) control: ControlPlaces,
}

impl Engine {
    /// Opens the state file at `state` and serves the workflows of `home`.
    ///
    /// # Errors
    /// When the state file cannot be opened.
    pub fn open(home: Home, state: &Path) -> Result<Engine, Failure> {
        claim_state_dir(state);
        let store = Store::open(state)?;
        // `.maestro/state.db` sits in the workspace root; another state file means the
        // current directory is the workspace.
        let root = state
            .parent()
            .filter(|d| d.file_name().is_some_and(|n| n == ".maestro"))
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."));
        let control = ControlPlaces::from_env(&home.control_dirs());
        Ok(Engine {
            control,
            library: Library::new(home),
            store,
            root,
        })
    }
}

impl Engine {
    /// Runs `f` on a blocking thread: SQLite and file walks never run on the async runtime.
    ///
    /// # Errors
    /// `f`'s failure, or `internal` when the blocking task panicked.
    pub(crate) async fn blocking<T: Send + 'static>(
        self: &std::sync::Arc<Self>,
        f: impl FnOnce(&Engine) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || f(&engine))
            .await
            .unwrap_or_else(|e| {
                Err(Failure::new(
                    FailureCode::Internal,
                    format!("the operation failed inside maestro: {e}"),
                    "this is a bug in maestro; nothing was changed by the failed part",
                ))
            })
    }
}

/// The `.gitignore` maestro writes into a `.maestro/` folder it creates only to hold its run
/// state: with the plugin enabled everywhere, `maestro serve` starts in every project Claude
/// Code opens, and the state file must not show up in `git status` there. `maestro init`
/// replaces it with the one that ignores only the state (its workflows are for committing).
pub(crate) const STATE_ONLY_GITIGNORE: &str = "# maestro made this folder for its run state (state.db).\n\
     # `maestro init` replaces this file when you keep workflows here.\n*\n";

/// Creates the `.maestro/` folder of a state file that has none yet, with
/// [`STATE_ONLY_GITIGNORE`]. Anything else (a state file elsewhere, an existing folder) is left
/// alone; failures surface when the store opens the file.
fn claim_state_dir(state: &Path) {
    let Some(dir) = state
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == ".maestro"))
    else {
        return;
    };
    if dir.exists() || std::fs::create_dir_all(dir).is_err() {
        return;
    }
    crate::log::dropped(
        &format!("writing {}", dir.join(".gitignore").display()),
        std::fs::write(dir.join(".gitignore"), STATE_ONLY_GITIGNORE),
    );
}

/// Where a project's state lives: `MAESTRO_STATE`, else `.maestro/state.db` in the project
/// (the `.maestro/` found upward from `cwd`, else the git root's, else `cwd`'s).
#[must_use]
pub(crate) fn state_path(cwd: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("MAESTRO_STATE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(dir) = crate::home::project_dir(cwd) {
        return dir.join("state.db");
    }
    let root = cwd
        .ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(cwd);
    root.join(".maestro").join("state.db")
}

#[cfg(test)]
mod method_tests;
#[cfg(test)]
mod report_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
