//! maestro: a declarative workflow interpreter that lets Claude Code consult other models.

pub mod diagnostic;
pub mod lint;
pub mod source;
pub mod syntax;
