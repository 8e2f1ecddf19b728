//! Integration tests: the real `maestro` binary, run through one builder.

mod fuzz;
mod mcp;
mod providers;
mod support;
mod validate;
mod workflows;
