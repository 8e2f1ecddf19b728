//! Integration tests: the real `maestro` binary, run through one builder.

mod attacks;
mod claude_hooks;
mod consult;
mod fuzz;
mod fuzz_mcp;
mod hook;
mod http;
mod layout;
mod mcp;
mod patch;
mod plugin;
mod providers;
mod quality;
mod shipped;
mod support;
mod svg;
mod validate;
mod web;
mod workflows;
mod workspace;
