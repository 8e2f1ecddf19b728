//! YAML text → the same spanned [`Node`] tree as KDL.
//!
//! Reads saphyr-parser's event stream (which keeps positions) into a small spanned YAML tree,
//! then reshapes it with the known-keys table: a key that is a property of its node becomes a
//! property, one that is a child becomes a child node. The few places where YAML is written
//! differently (`stages` map, `ends` list, `next` list, `questions` list) are handled by name.

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::ast::{Entry, Node, Spanned, Value};
use super::keys::{self, Spec};
use crate::diagnostic::{Diagnostic, Rule, did_you_mean};
use crate::source::{CharIndex, SourceFile, Span};

/// Nesting deeper than this is refused: no workflow needs it, and hostile input must not
/// exhaust memory or the stack.
pub(crate) const MAX_DEPTH: usize = 64;

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
    let YKind::Map(entries) = &tree.kind else {
        diags.push(
            Diagnostic::new(
                Rule::Syntax,
                source,
                tree.span,
                "a workflow file must be a mapping at the top level",
            )
            .with_help(
                "start with `workflow: <name>` followed by `version: 1` and `start: <stage>`",
            ),
        );
        return None;
    };
    let mut r = Reshaper { source, diags };
    let mut root = Node::new(
        Spanned::new(
            "workflow".into(),
            Span::new(tree.span.start, tree.span.start),
        ),
        tree.span,
    );
    let mut named = false;
    for (key, value) in entries {
        let k = key.key_text();
        match k.as_str() {
            "workflow" => {
                named = true;
                root.name.span = key.span;
                if let Some(v) = r.scalar(value, "workflow") {
                    root.entries.push(Entry {
                        name: None,
                        value: v,
                    });
                } else {
                    root.explained = true;
                }
            }
            "stages" => r.stages(value, &mut root),
            "ends" => r.ends(value, &mut root),
            _ => match keys::WORKFLOW.child(&k) {
                Some(child) if k != "stage" && k != "end" => {
                    r.child(key, value, child.spec, &mut root)
                }
                _ => r.unknown(key, &k, "the top level", top_level_keys()),
            },
        }
    }
    if !named {
        // This finding is the whole story: the shape check must not add "needs a value".
        root.explained = true;
        r.diags.push(
            Diagnostic::new(
                Rule::MissingKey,
                source,
                Span::new(0, 0),
                "the workflow has no `workflow` key naming it",
            )
            .with_help("add `workflow: <name>` at the top"),
        );
    }
    Some(root)
}

fn top_level_keys() -> Vec<&'static str> {
    let mut ks: Vec<&'static str> = keys::WORKFLOW
        .children
        .iter()
        .map(|c| c.spec.name)
        .filter(|n| *n != "stage" && *n != "end")
        .collect();
    ks.extend(["workflow", "stages", "ends"]);
    ks
}

struct Reshaper<'a> {
    source: &'a Arc<SourceFile>,
    diags: &'a mut Vec<Diagnostic>,
}

impl Reshaper<'_> {
    fn unknown(&mut self, key: &YNode, k: &str, place: &str, known: Vec<&'static str>) {
        let help = did_you_mean(k, known.iter().copied())
            .or_else(|| Some(format!("known keys here: {}", known.join(", "))));
        self.diags.push(
            Diagnostic::new(
                Rule::UnknownKey,
                self.source,
                key.span,
                format!("unknown key `{k}` in {place}"),
            )
            .with_help_opt(help),
        );
    }

    fn bad_shape(&mut self, node: &YNode, what: &str) {
        self.diags.push(Diagnostic::new(
            Rule::BadValue,
            self.source,
            node.span,
            what.to_string(),
        ));
    }

    fn scalar(&mut self, v: &YNode, key: &str) -> Option<Spanned<Value>> {
        match &v.kind {
            YKind::Scalar(value) => Some(Spanned::new(value.clone(), v.span)),
            _ => {
                self.bad_shape(
                    v,
                    &format!("`{key}` takes a single value here, not a list or mapping"),
                );
                None
            }
        }
    }

    fn stages(&mut self, value: &YNode, root: &mut Node) {
        let YKind::Map(entries) = &value.kind else {
            return self.bad_shape(
                value,
                "`stages` must be a mapping from stage name to its body",
            );
        };
        for (name, body) in entries {
            let mut stage = Node::new(
                Spanned::new("stage".into(), name.span),
                Span::new(name.span.start, body.span.end.max(name.span.end)),
            );
            stage.entries.push(Entry {
                name: None,
                value: Spanned::new(Value::String(name.key_text()), name.span),
            });
            self.body(body, &keys::STAGE, &mut stage);
            root.children.push(stage);
        }
    }

    fn ends(&mut self, value: &YNode, root: &mut Node) {
        let items: Vec<&YNode> = match &value.kind {
            YKind::Seq(items) => items.iter().collect(),
            YKind::Scalar(_) => vec![value],
            YKind::Map(_) => return self.bad_shape(value, "`ends` must be a list of end names"),
        };
        for item in items {
            if let Some(v) = self.scalar(item, "ends") {
                let mut end = Node::new(Spanned::new("end".into(), item.span), item.span);
                end.entries.push(Entry {
                    name: None,
                    value: v,
                });
                root.children.push(end);
            }
        }
    }

    /// Fills `node` from a YAML body according to `spec`.
    fn body(&mut self, body: &YNode, spec: &'static Spec, node: &mut Node) {
        match &body.kind {
            YKind::Map(entries) => {
                for (key, value) in entries {
                    let k = key.key_text();
                    self.entry(key, &k, value, spec, node, body);
                }
            }
            YKind::Seq(items) => {
                for item in items {
                    if let Some(v) = self.scalar(item, spec.name) {
                        node.entries.push(Entry {
                            name: None,
                            value: v,
                        });
                    }
                }
            }
            YKind::Scalar(Value::Null) => {}
            YKind::Scalar(v) => node.entries.push(Entry {
                name: None,
                value: Spanned::new(v.clone(), body.span),
            }),
        }
    }

    fn entry(
        &mut self,
        key: &YNode,
        k: &str,
        value: &YNode,
        spec: &'static Spec,
        node: &mut Node,
        body: &YNode,
    ) {
        // YAML-only spellings first.
        match (spec.name, k) {
            ("stage", "next") => return self.next_list(value, node),
            ("gate", "questions") => return self.questions(value, node),
            ("gate", "on-timeout") => return self.on_timeout(key, value, node, body),
            _ => {}
        }
        if spec.prop(k).is_some() || (spec.lang_props && keys::is_lang_code(k)) {
            if let Some(v) = self.scalar(value, k) {
                node.entries.push(Entry {
                    name: Some(Spanned::new(k.to_string(), key.span)),
                    value: v,
                });
            }
        } else if let Some(child) = spec.child(k) {
            self.child(key, value, child.spec, node);
        } else {
            let mut known: Vec<&'static str> = spec.props.iter().map(|p| p.name).collect();
            known.extend(spec.children.iter().map(|c| c.spec.name));
            match spec.name {
                "stage" if known.contains(&"next") => {}
                "gate" => known.extend(["questions", "on-timeout"]),
                _ => {}
            }
            known.retain(|n| !(spec.name == "gate" && *n == "question"));
            self.unknown(key, k, &format!("`{}`", spec.name), known);
        }
    }

    fn child(&mut self, key: &YNode, value: &YNode, spec: &'static Spec, parent: &mut Node) {
        let mut child = Node::new(
            Spanned::new(spec.name.to_string(), key.span),
            Span::new(key.span.start, value.span.end.max(key.span.end)),
        );
        // A node that takes only values (`role`, `start`, `version`...) cannot read a mapping:
        // say so once, at the mapping, instead of "needs a value" plus an unknown key per entry.
        let values_only = spec.props.is_empty() && spec.children.is_empty() && !spec.lang_props;
        if values_only && matches!(value.kind, YKind::Map(_)) {
            self.bad_shape(
                value,
                &format!("`{}` takes a single value here, not a mapping", spec.name),
            );
            child.explained = true;
        } else {
            self.body(value, spec, &mut child);
        }
        parent.children.push(child);
    }

    fn next_list(&mut self, value: &YNode, stage: &mut Node) {
        let YKind::Seq(items) = &value.kind else {
            return self.bad_shape(value, "`next` must be a list of {to, on, when} mappings");
        };
        for item in items {
            let mut next = Node::new(Spanned::new("next".into(), item.span), item.span);
            match &item.kind {
                YKind::Map(entries) => {
                    for (key, v) in entries {
                        let k = key.key_text();
                        match k.as_str() {
                            "to" => {
                                if let Some(v) = self.scalar(v, "to") {
                                    next.entries.insert(
                                        0,
                                        Entry {
                                            name: None,
                                            value: v,
                                        },
                                    );
                                } else {
                                    next.explained = true;
                                }
                            }
                            "on" | "when" => {
                                if let Some(v) = self.scalar(v, &k) {
                                    next.entries.push(Entry {
                                        name: Some(Spanned::new(k.clone(), key.span)),
                                        value: v,
                                    });
                                }
                            }
                            _ => self.unknown(key, &k, "`next`", vec!["to", "on", "when"]),
                        }
                    }
                }
                YKind::Scalar(v) => next.entries.push(Entry {
                    name: None,
                    value: Spanned::new(v.clone(), item.span),
                }),
                YKind::Seq(_) => self.bad_shape(
                    item,
                    "a `next` item must be a mapping like {to: debug, when: ...}",
                ),
            }
            stage.children.push(next);
        }
    }

    fn questions(&mut self, value: &YNode, gate: &mut Node) {
        let YKind::Seq(items) = &value.kind else {
            return self.bad_shape(
                value,
                "`questions` must be a list of {id, priority, text, options}",
            );
        };
        for item in items {
            let YKind::Map(entries) = &item.kind else {
                self.bad_shape(item, "a question must be a mapping with `id` and `text`");
                continue;
            };
            let mut q = Node::new(Spanned::new("question".into(), item.span), item.span);
            for (key, v) in entries {
                let k = key.key_text();
                match k.as_str() {
                    "id" => {
                        if let Some(v) = self.scalar(v, "id") {
                            q.entries.insert(
                                0,
                                Entry {
                                    name: None,
                                    value: v,
                                },
                            );
                        } else {
                            q.explained = true;
                        }
                    }
                    "options" if matches!(v.kind, YKind::Map(_)) => {
                        self.localized_options(v, &mut q)
                    }
                    _ => self.entry(key, &k, v, &keys::QUESTION, &mut q, item),
                }
            }
            gate.children.push(q);
        }
    }

    /// `options: {en: [...], ko: [...]}` → one `options` node per language.
    fn localized_options(&mut self, value: &YNode, q: &mut Node) {
        let YKind::Map(entries) = &value.kind else {
            return;
        };
        for (key, v) in entries {
            let lang = key.key_text();
            let mut opts = Node::new(
                Spanned::new("options".into(), key.span),
                Span::new(key.span.start, v.span.end),
            );
            self.body(v, &keys::OPTIONS, &mut opts);
            opts.entries.push(Entry {
                name: Some(Spanned::new("lang".into(), key.span)),
                value: Spanned::new(Value::String(lang), key.span),
            });
            q.children.push(opts);
        }
    }

    /// `on-timeout` sits beside `timeout` in YAML; in the tree it is a property of `timeout`.
    fn on_timeout(&mut self, key: &YNode, value: &YNode, gate: &mut Node, body: &YNode) {
        let Some(v) = self.scalar(value, "on-timeout") else {
            return;
        };
        let entry = Entry {
            name: Some(Spanned::new("on-timeout".into(), key.span)),
            value: v,
        };
        if let Some(timeout) = gate.children.iter_mut().find(|c| c.name.value == "timeout") {
            timeout.entries.push(entry);
        } else if body.get("timeout").is_some() {
            // `timeout` comes later in the mapping: park the property on a placeholder it will join.
            let mut t = Node::new(Spanned::new("timeout".into(), key.span), key.span);
            t.entries.push(entry);
            gate.children.push(t);
        } else {
            self.diags.push(
                Diagnostic::new(
                    Rule::MissingKey,
                    self.source,
                    key.span,
                    "`on-timeout` needs a `timeout` beside it",
                )
                .with_help("add `timeout: 24h` to the gate"),
            );
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
