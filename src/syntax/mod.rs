//! Text → one spanned syntax tree: `kdl.rs` and `yaml.rs` lower into `ast.rs`; `keys.rs` holds
//! the known keys; `shape.rs` checks a tree against them.

pub mod ast;
pub mod conf;
pub mod kdl;
pub mod keys;
pub mod shape;
pub mod yaml;
