//! KDL 2.0 text → spanned [`Node`]s, with every parse error the parser recovers as a finding.

use std::sync::Arc;

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

use super::ast::{Entry, Node, Spanned, Value};
use crate::diagnostic::Diagnostic;
use crate::lint::registry::Rule;
use crate::source::{SourceFile, Span};

/// Deeper nesting than this is refused before parsing, so hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// Parses a KDL document into top-level nodes.
pub fn parse(source: &Arc<SourceFile>, diags: &mut Vec<Diagnostic>) -> Option<Vec<Node>> {
    let text = &*source.text;
    if let Some(at) = too_deep(text) {
        diags.push(
            Diagnostic::new(
                Rule::Syntax,
                source,
                Span::new(at, at + 1),
                format!("nesting deeper than {MAX_DEPTH} levels"),
            )
            .with_help("a workflow needs only a few levels: workflow → stage → gate → question"),
        );
        return None;
    }
    match KdlDocument::parse_v2(text) {
        Ok(doc) => Some(doc.nodes().iter().map(lower_node).collect()),
        Err(err) => {
            for d in &err.diagnostics {
                let start = d.span.offset().min(text.len());
                let end = (start + d.span.len()).min(text.len());
                let mut message = d
                    .message
                    .clone()
                    .unwrap_or_else(|| "invalid KDL".to_string());
                if let Some(label) = &d.label
                    && !message.contains(label.as_str())
                {
                    message = format!("{message}: {label}");
                }
                let mut diag =
                    Diagnostic::new(Rule::Syntax, source, Span::new(start, end), message);
                diag.help = d.help.clone();
                if looks_like_kdl_v1(text) && diag.help.is_none() {
                    diag.help = Some(
                        "maestro reads KDL 2.0: booleans are #true/#false and null is #null".into(),
                    );
                }
                diags.push(diag);
            }
            if err.diagnostics.is_empty() {
                diags.push(Diagnostic::new(
                    Rule::Syntax,
                    source,
                    Span::new(0, 0),
                    "invalid KDL document",
                ));
            }
            None
        }
    }
}

fn looks_like_kdl_v1(text: &str) -> bool {
    text.contains("=true")
        || text.contains("=false")
        || text.contains(" true")
        || text.contains(" false")
}

/// The byte offset where brace nesting first exceeds [`MAX_DEPTH`], ignoring braces in strings
/// only roughly: a false alarm needs 64 unbalanced braces inside strings.
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn span_of(s: miette::SourceSpan) -> Span {
    Span::new(s.offset(), s.offset() + s.len())
}

fn lower_node(node: &KdlNode) -> Node {
    let name = Spanned::new(node.name().value().to_string(), span_of(node.name().span()));
    let mut out = Node::new(name, span_of(node.span()));
    out.entries = node.entries().iter().map(lower_entry).collect();
    if let Some(children) = node.children() {
        out.children = children.nodes().iter().map(lower_node).collect();
    }
    out
}

fn lower_entry(entry: &KdlEntry) -> Entry {
    let whole = span_of(entry.span());
    let value = lower_value(entry.value());
    match entry.name() {
        None => Entry {
            name: None,
            value: Spanned::new(value, whole),
        },
        Some(key) => {
            let key_span = span_of(key.span());
            // The value starts after `key=`; the entry span ends where the value ends.
            let value_start = (key_span.end + 1).min(whole.end);
            Entry {
                name: Some(Spanned::new(key.value().to_string(), key_span)),
                value: Spanned::new(value, Span::new(value_start, whole.end)),
            }
        }
    }
}

fn lower_value(v: &KdlValue) -> Value {
    match v {
        KdlValue::String(s) => Value::String(s.clone()),
        KdlValue::Integer(i) => Value::Int(*i),
        KdlValue::Float(f) => Value::Float(*f),
        KdlValue::Bool(b) => Value::Bool(*b),
        KdlValue::Null => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> (Arc<SourceFile>, Vec<Node>) {
        let src = Arc::new(SourceFile::new("t.kdl", text));
        let mut diags = Vec::new();
        let nodes = parse(&src, &mut diags).expect("parses");
        assert!(diags.is_empty());
        (src, nodes)
    }

    #[test]
    fn spans_are_bytes_and_point_at_names_and_values() {
        let text = "// 한글 comment\nstage \"debug\" max=2 {\n    next \"x\" when=\"a\"\n}\n";
        let (src, nodes) = parse_ok(text);
        let stage = &nodes[0];
        assert_eq!(&text[stage.name.span.start..stage.name.span.end], "stage");
        let arg = stage.arg(0).unwrap();
        assert_eq!(&text[arg.span.start..arg.span.end], "\"debug\"");
        let max = stage.prop("max").unwrap();
        assert_eq!(&text[max.span.start..max.span.end], "2");
        let when = stage.children[0].prop("when").unwrap();
        assert_eq!(&text[when.span.start..when.span.end], "\"a\"");
        assert_eq!(src.line_col(when.span.start).0, 3);
    }

    #[test]
    fn errors_are_findings_with_places() {
        let src = Arc::new(SourceFile::new("t.kdl", "stage \"a\" {\n  next \"b\n}\n"));
        let mut diags = Vec::new();
        assert!(parse(&src, &mut diags).is_none());
        assert!(!diags.is_empty());
        assert!(diags.iter().all(|d| d.rule == Rule::Syntax));
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let text = format!("a {}", "{ b ".repeat(10_000));
        let src = Arc::new(SourceFile::new("t.kdl", text));
        let mut diags = Vec::new();
        assert!(parse(&src, &mut diags).is_none());
        assert!(diags[0].message.contains("nesting"));
    }
}
