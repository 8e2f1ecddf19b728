//! The rule registry lives in the leaf module [`crate::diagnostic::rules`], so that modules
//! below `lint` can name rules without importing it. This path stays for existing code.

pub use crate::diagnostic::rules::Rule;
