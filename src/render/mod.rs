//! Renderers for findings, one per output format. Findings stay plain data until here.

mod github;
mod human;
mod json;

pub use github::github;
pub use human::{human, human_plain};
pub use json::json;
