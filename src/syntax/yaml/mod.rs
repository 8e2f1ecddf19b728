//! YAML text → the same spanned [`Node`] tree as KDL, in two steps: `tree.rs` reads the text
//! into a small spanned YAML tree (also what the config files are read with), `reshape.rs`
//! turns a workflow's tree into KDL's shape. `help.rs` finds the cause of a syntax error in
//! the text (read with `lines.rs`), and `cause.rs` puts it into words.

mod cause;
mod help;
mod lines;
mod reshape;
mod tree;

use std::sync::Arc;

pub(crate) use self::tree::{YKind, YNode, parse_tree};
use super::ast::Node;
use crate::diagnostic::{Diagnostic, Rule};
use crate::source::{SourceFile, Span};

/// Parses a YAML workflow into the `workflow` node.
pub(crate) fn parse(source: &Arc<SourceFile>, diags: &mut Vec<Diagnostic>) -> Option<Node> {
    let before = diags.len();
    let Some(tree) = parse_tree(source, diags) else {
        if diags.len() == before {
            diags.push(
                Diagnostic::new(
                    Rule::MissingKey,
                    source,
                    Span::new(0, 0),
                    "the file holds no workflow",
                )
                .with_help("start with `workflow: <name>`, `version: 1` and `start: <stage>`"),
            );
        }
        return None;
    };
    reshape::workflow(&tree, source, diags)
}
