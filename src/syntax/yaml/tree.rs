//! YAML text → a small spanned YAML tree ([`YNode`]): saphyr-parser's event stream (which
//! keeps positions) built into mappings, lists and scalars.
//!
//! One document per file; nesting deeper than [`MAX_DEPTH`] is refused; a repeated key is a
//! finding (the first one is kept). A syntax error stops the read with one finding, and its
//! help says what in the text most likely caused it (`help.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::help;
use crate::diagnostic::{Diagnostic, Rule};
use crate::source::{CharIndex, SourceFile, Span};
use crate::syntax::ast::Value;

/// Nesting deeper than this is refused: no workflow needs it, and hostile input must not
/// exhaust memory or the stack.
const MAX_DEPTH: usize = 64;

/// A YAML value with its byte span.
#[derive(Debug, Clone)]
pub(crate) struct YNode {
    pub kind: YKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum YKind {
    Scalar(Value),
    Seq(Vec<YNode>),
    Map(Vec<(YNode, YNode)>),
}

impl YNode {
    /// The key text of a scalar used as a mapping key.
    #[must_use]
    pub(crate) fn key_text(&self) -> String {
        match &self.kind {
            YKind::Scalar(Value::String(s)) => s.clone(),
            YKind::Scalar(Value::Int(i)) => i.to_string(),
            YKind::Scalar(Value::Float(f)) => f.to_string(),
            YKind::Scalar(Value::Bool(b)) => b.to_string(),
            YKind::Scalar(Value::Null) => "null".into(),
            YKind::Seq(_) => "[...]".into(),
            YKind::Map(_) => "{...}".into(),
        }
    }

    #[must_use]
    pub(crate) fn get(&self, key: &str) -> Option<&YNode> {
        match &self.kind {
            YKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.key_text() == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A mapping being read: its entries, the key waiting for its value, and where each key was
/// first given (so a repeated key is found in constant time, not by a scan of the entries).
struct OpenMap {
    entries: Vec<(YNode, YNode)>,
    pending: Option<YNode>,
    seen: HashMap<String, Span>,
    span: Span,
}

enum Frame {
    Seq(Vec<YNode>, Span),
    Map(OpenMap),
}

/// Parses YAML text into a spanned tree. A file holds one document: a second one is refused
/// where it starts.
///
/// saphyr-parser reads events without recursion; this loop builds the tree with an explicit
/// stack, refuses nesting deeper than [`MAX_DEPTH`], and checks duplicate keys with a hash map,
/// so any input is read in linear time and constant stack.
pub(crate) fn parse_tree(source: &Arc<SourceFile>, diags: &mut Vec<Diagnostic>) -> Option<YNode> {
    let text = &*source.text;
    let chars = CharIndex::new(text);
    let to_span =
        |s: saphyr_parser::Span| Span::new(chars.byte(s.start.index()), chars.byte(s.end.index()));
    let too_deep = |span: Span| {
        Diagnostic::new(
            Rule::Syntax,
            source,
            span,
            format!("nesting deeper than {MAX_DEPTH} levels"),
        )
        .with_help("a workflow needs only a few levels: stages → stage → gate → questions")
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<YNode> = None;
    let mut ended = false;
    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(ev) => ev,
            Err(err) => {
                let at = chars.byte(err.marker().index());
                let span = Span::new(at, at + 1);
                // The scanner stops flow collections (`[[[...`) at 255 levels with its own words.
                diags.push(if err.info() == "recursion limit exceeded" {
                    too_deep(span)
                } else {
                    Diagnostic::new(Rule::Syntax, source, span, err.info().to_string())
                        .with_help_opt(help::syntax(source, err.info(), at))
                });
                return None;
            }
        };
        let span = to_span(span);
        let done = match event {
            Event::DocumentStart(_) if ended => {
                let at = if text[span.start..].starts_with("---") {
                    span
                } else {
                    Span::new(span.start, span.start)
                };
                diags.push(
                    Diagnostic::new(
                        Rule::Syntax,
                        source,
                        at,
                        "a second YAML document: a maestro file holds one workflow",
                    )
                    .with_help(
                        "move the second workflow into a file of its own, or remove the `---` line",
                    ),
                );
                return root;
            }
            Event::DocumentEnd => {
                ended = true;
                None
            }
            Event::Scalar(v, style, _, tag) => Some(YNode {
                kind: YKind::Scalar(scalar(&v, style, tag.is_some())),
                span,
            }),
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    diags.push(too_deep(span));
                    return None;
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(Vec::new(), span)
                } else {
                    Frame::Map(OpenMap {
                        entries: Vec::new(),
                        pending: None,
                        seen: HashMap::new(),
                        span,
                    })
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items, start)) => Some(YNode {
                    kind: YKind::Seq(items),
                    span: Span::new(start.start, span.end.max(start.end)),
                }),
                Some(Frame::Map(map)) => Some(YNode {
                    kind: YKind::Map(map.entries),
                    span: Span::new(map.span.start, span.end.max(map.span.end)),
                }),
                None => None,
            },
            Event::Alias(_) => {
                diags.push(
                    Diagnostic::new(
                        Rule::Syntax,
                        source,
                        span,
                        "YAML aliases are not supported in maestro files",
                    )
                    .with_help("write the value out where it is used"),
                );
                return None;
            }
            _ => None,
        };
        if let Some(node) = done {
            match stack.last_mut() {
                None => root = Some(node),
                Some(Frame::Seq(items, _)) => items.push(node),
                Some(Frame::Map(map)) => match map.pending.take() {
                    None => map.pending = Some(node),
                    Some(key) => {
                        let name = key.key_text();
                        if let Some(&first) = map.seen.get(&name) {
                            diags.push(
                                Diagnostic::new(
                                    Rule::DuplicateKey,
                                    source,
                                    key.span,
                                    format!("`{name}` is given twice in this mapping"),
                                )
                                .with_related(first, "first given here")
                                .with_help("remove one of them; YAML would silently keep only one"),
                            );
                        } else {
                            map.seen.insert(name, key.span);
                            map.entries.push((key, node));
                        }
                    }
                },
            }
        }
    }
    root
}

fn scalar(v: &str, style: ScalarStyle, tagged: bool) -> Value {
    if style != ScalarStyle::Plain || tagged {
        return Value::String(v.to_string());
    }
    match v {
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        s => {
            if let Ok(i) = s.parse::<i128>() {
                Value::Int(i)
            } else if let (true, Ok(f)) = (s.chars().any(|c| c.is_ascii_digit()), s.parse::<f64>())
            {
                Value::Float(f)
            } else {
                Value::String(s.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> (Option<YNode>, Vec<Diagnostic>) {
        let src = Arc::new(SourceFile::new("t.yaml", text));
        let mut diags = Vec::new();
        (parse_tree(&src, &mut diags), diags)
    }

    #[test]
    fn spans_are_bytes_even_after_multibyte_text() {
        let text = "title: 한글\nk: 3\n";
        let (root, diags) = tree(text);
        assert!(diags.is_empty());
        let k = root.unwrap().get("k").cloned().unwrap();
        assert_eq!(&text[k.span.start..k.span.end], "3");
    }

    #[test]
    fn duplicate_keys_are_findings() {
        let (_, diags) = tree("a: 1\nb: 2\na: 3\n");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].rule, Rule::DuplicateKey);
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let (root, _) = tree("a: true\nb: '1'\nc: 1.5\nd: ~\ne: 7\n");
        let root = root.unwrap();
        let val = |k: &str| match &root.get(k).unwrap().kind {
            YKind::Scalar(v) => v.clone(),
            _ => panic!(),
        };
        assert_eq!(val("a"), Value::Bool(true));
        assert_eq!(val("b"), Value::String("1".into()));
        assert_eq!(val("c"), Value::Float(1.5));
        assert_eq!(val("d"), Value::Null);
        assert_eq!(val("e"), Value::Int(7));
    }

    #[test]
    fn deep_nesting_is_refused() {
        for text in [
            "[".repeat(10_000),
            "{a: ".repeat(10_000),
            "- ".repeat(10_000),
            (0..200)
                .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
                .collect(),
        ] {
            let (root, diags) = tree(&text);
            assert!(root.is_none());
            assert_eq!(diags.len(), 1, "{diags:?}");
            assert_eq!(diags[0].rule, Rule::Syntax);
            assert_eq!(diags[0].message, "nesting deeper than 64 levels");
        }
    }

    #[test]
    fn a_second_document_is_refused_at_its_marker() {
        let text = "a: 1\n---\nb: 2\n";
        let (root, diags) = tree(text);
        assert!(root.is_some(), "the first document is still read");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].span.start, 5);
        let (_, diags) = tree("a: 1\n...\n");
        assert!(diags.is_empty(), "an end marker alone is fine: {diags:?}");
    }

    #[test]
    fn many_keys_are_checked_in_linear_time() {
        // 100,000 keys took minutes with a scan per key; with a hash map this is instant.
        let mut text: String = (0..100_000).map(|i| format!("k{i}: {i}\n")).collect();
        text.push_str("k7: again\n");
        let (root, diags) = tree(&text);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].rule, Rule::DuplicateKey);
        let Some(YNode {
            kind: YKind::Map(entries),
            ..
        }) = root
        else {
            panic!("a mapping")
        };
        assert_eq!(entries.len(), 100_000);
    }
}
