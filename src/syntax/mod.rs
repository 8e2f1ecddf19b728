//! Text → one spanned syntax tree: `kdl.rs` and `yaml.rs` lower into `ast.rs`; `keys.rs` holds
//! the known keys; `shape.rs` checks a tree against them.

pub(crate) mod ast;
pub(crate) mod conf;
pub(crate) mod kdl;
pub(crate) mod keys;
pub(crate) mod shape;
pub(crate) mod yaml;
