#![allow(clippy::unwrap_used)] // a test that cannot set up should stop there
//! Integration tests: the real `maestro` binary, run through one builder.

mod attacks;
mod attacks_budget;
mod attacks_git;
mod attacks_hold;
mod attacks_http;
mod attacks_init;
mod attacks_mask;
mod attacks_state;
mod attacks_upgrade;
mod attacks_verify;
mod claude_hooks;
mod consult;
mod decisions;
mod first_hour;
mod fuzz;
mod fuzz_mcp;
mod hook;
mod http;
mod layout;
mod logging;
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
