//! The run engine: the façade the CLI and the MCP server both call.
//!
//! A run moves through a compiled workflow: `start` enters the start stage, `submit` validates
//! an output (schema, red flags) and either opens the gate's approval or fires an event, and a
//! decision on an approval moves the run on. Every operation is one write transaction on the
//! state file (load the run, apply a pure step, store it with its events), so several processes
//! can share runs and a restart resumes exactly where the last commit left off.

#![allow(
    clippy::result_large_err,
    reason = "a Failure carries a readable message and help; refusals are rare, not a hot path"
)]

pub mod brief;
pub mod budget;
mod failure;
pub mod library;
pub mod model;
mod ops;
pub mod step;
pub mod views;
pub mod work;

use std::path::{Path, PathBuf};

pub use brief::Brief;
pub use budget::BudgetView;
pub use failure::Failure;
pub use library::Library;
pub use model::{Actor, Approval, DecisionKind, DecisionText, Run, RunContext, RunStatus};
pub use ops::{Decided, StartRequest, Started, Submitted};
pub use views::{ApprovalView, RunSummary, RunView};

use crate::home::Home;
use crate::store::Store;

/// Outputs larger than this are refused before anything else looks at them.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// An open engine: the workflows of a home and the state file runs live in.
#[derive(Debug)]
pub struct Engine {
    pub library: Library,
    pub store: Store,
    /// The workspace: files are packed from it and patches applied inside it.
    pub root: PathBuf,
}

impl Engine {
    /// Opens the state file at `state` and serves the workflows of `home`.
    ///
    /// # Errors
    /// When the state file cannot be opened.
    pub fn open(home: Home, state: &Path) -> Result<Engine, Failure> {
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
        Ok(Engine {
            library: Library::new(home),
            store,
            root,
        })
    }
}

/// Where a project's state lives: `MAESTRO_STATE`, else `.maestro/state.db` in the project
/// (the `.maestro/` found upward from `cwd`, else the git root's, else `cwd`'s).
#[must_use]
pub fn state_path(cwd: &Path) -> PathBuf {
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
mod tests;
