//! maestro: a declarative workflow interpreter that lets Claude Code consult other models.
//!
//! The library is a small façade: the binary's entry point ([`run`]), the engine both adapters
//! call ([`Engine`]), the loader and linter, and the asset home. Everything else is
//! `pub(crate)`, so the compiler reports dead code. [`testing`] re-exports the internals the
//! integration tests and benchmarks exercise directly; it is not an API.

pub(crate) mod cli;
pub(crate) mod compile;
pub(crate) mod consult;
pub(crate) mod diagnostic;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod home;
pub(crate) mod hook;
pub(crate) mod ids;
pub(crate) mod init;
mod join;
pub(crate) mod lint;
pub(crate) mod loader;
pub(crate) mod log;
pub(crate) mod mcp;
pub(crate) mod process;
pub(crate) mod providers;
pub(crate) mod quality;
pub(crate) mod render;
pub(crate) mod schema;
pub(crate) mod source;
pub(crate) mod store;
pub(crate) mod syntax;
pub(crate) mod template;
pub(crate) mod web;
pub(crate) mod workflow;
pub(crate) mod workspace;

pub use cli::run;
pub use diagnostic::rules::Rule;
pub use engine::{Actor, DecisionKind, DecisionText, Engine, Failure, FailureCode, StartRequest};
pub use home::{Home, Origin};
pub use lint::Linter;
pub use loader::{Loaded, load_bytes};
pub use syntax::ast::Format;

/// Internals the integration tests and benchmarks reach for. Not an API: no promise is kept.
#[doc(hidden)]
pub mod testing {
    pub mod consult {
        pub use crate::consult::select::{JudgeRun, SelectAsk, judge_prompt};
        pub use crate::consult::{Ask, EnsembleAsk, consult, ensemble, unknown_flags};
    }
    pub mod diagnostic {
        pub use crate::diagnostic::rules::BUILTIN_PROMPTS;
        pub use crate::diagnostic::{MAX_FINDINGS_PER_FILE, Severity};
    }
    pub mod mcp {
        pub use crate::mcp::{MAX_SESSIONS, Server};
    }
    pub mod providers {
        pub use crate::providers::{Kind, ProviderSet, argv, config, install_tls};
    }
    pub mod quality {
        pub use crate::quality::calibrate::expected_samples;
        pub use crate::quality::redflag::RuleSet;
        pub use crate::quality::vote::{Format, SampleError, VoteConfig, vote};
    }
    pub use crate::render::human_plain;
    pub mod schema {
        pub use crate::schema::{Validator, compile};
    }
    pub use crate::syntax::ast::Spanned;
    pub mod web {
        pub use crate::web::listen::{MAX_CONNECTIONS, REQUEST_HEAD_TIMEOUT};
        pub use crate::web::pages::{self, Draft, Frame};
        pub use crate::web::{Options, bind};
    }
    pub use crate::workflow::{Texts, Workflow};
    pub mod workspace {
        pub use crate::workspace::backup::{apply, restore};
        pub use crate::workspace::context::{ContextRequest, Packed, pack};
        pub use crate::workspace::gitdiff::DiffSpec;
        pub use crate::workspace::mask::mask;
        pub use crate::workspace::patch::{ChangeKind, PatchError};
        pub use crate::workspace::verify::{Check, CheckSource, run};
    }
}
