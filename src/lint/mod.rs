//! Lint rules over a loaded workflow.
pub mod registry;
