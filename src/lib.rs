//! maestro: a declarative workflow interpreter that lets Claude Code consult other models.

pub mod compile;
pub mod diagnostic;
pub mod error;
pub mod home;
pub mod lint;
pub mod schema;
pub mod source;
pub mod syntax;
pub mod template;
pub mod workflow;
