//! Typed workflow → petgraph state machine, plus the graph helpers the graph rules reuse.
//!
//! Stages and ends are nodes; every `next` is an edge carrying its event and its compiled guard.
//! Building the machine finds `duplicate-stage`, `unknown-stage` and `bad-expression`.

mod diagram;
mod guard;
mod machine;
mod svg;

pub(crate) use diagram::{to_dot, to_mermaid};
pub(crate) use guard::{GUARD_VARIABLES, compile_guard};
pub(crate) use machine::{Machine, StateKind, compile};
pub(crate) use svg::{SvgMarks, to_svg};
