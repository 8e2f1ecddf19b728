//! maestro: a declarative workflow interpreter that lets Claude Code consult other models.

pub mod cli;
pub mod compile;
pub mod consult;
pub mod diagnostic;
pub mod engine;
pub mod error;
pub mod home;
pub mod hook;
pub mod ids;
pub mod init;
mod join;
pub mod lint;
pub mod loader;
pub mod mcp;
pub mod process;
pub mod providers;
pub mod quality;
pub mod render;
pub mod schema;
pub mod source;
pub mod store;
pub mod syntax;
pub mod template;
pub mod web;
pub mod workflow;
pub mod workspace;
