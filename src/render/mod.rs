//! Renderers for findings, one per output format. Findings stay plain data until here.

mod github;
mod human;
mod json;

pub(crate) use github::github;
pub(crate) use human::human;
pub use human::human_plain;
pub(crate) use json::json;
