//! Integration tests: the real `maestro` binary, run through one builder.

mod attacks;
mod consult;
mod fuzz;
mod fuzz_mcp;
mod mcp;
mod patch;
mod providers;
mod quality;
mod shipped;
mod support;
mod svg;
mod web;
mod http;
mod validate;
mod workflows;
mod workspace;
