//! Typed workflow → petgraph state machine, plus the graph helpers the graph rules reuse.
//!
//! Stages and ends are nodes; every `next` is an edge carrying its event and its compiled guard.
//! Building the machine finds `duplicate-stage`, `unknown-stage` and `bad-expression`.

mod diagram;
mod guard;
mod machine;
mod svg;

pub use diagram::{to_dot, to_mermaid};
pub use guard::{GUARD_VARIABLES, Guard, compile_guard};
pub use machine::{Machine, State, StateKind, Transition, compile};
pub use svg::{SvgMarks, to_svg};
