//! The YAML tree of a workflow → the same spanned [`Node`] tree as KDL.
//!
//! Reshapes with the known-keys table: a key that is a property of its node becomes a
//! property, one that is a child becomes a child node. The few places where YAML is written
//! differently (`stages` map, `ends` list, `next` list, `questions` list, `on-timeout` beside
//! `timeout`) are handled by name.

use std::sync::Arc;

use super::tree::{YKind, YNode};
use crate::diagnostic::{Diagnostic, Rule, closest, did_you_mean};
use crate::source::{SourceFile, Span};
use crate::syntax::ast::{Entry, Node, Spanned, Value};
use crate::syntax::keys::{self, Spec};

/// Reshapes the tree of a YAML workflow into its `workflow` node.
pub(super) fn workflow(
    tree: &YNode,
    source: &Arc<SourceFile>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Node> {
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
                    r.child(key, value, child.spec, &mut root);
                }
                _ => r.unknown(key, &k, "the top level", &top_level_keys()),
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
    fn unknown(&mut self, key: &YNode, k: &str, place: &str, known: &[&'static str]) {
        let meant = closest(k, known.iter().copied());
        let help = did_you_mean(k, meant)
            .or_else(|| Some(format!("known keys here: {}", known.join(", "))));
        self.diags.push(
            Diagnostic::new(
                Rule::UnknownKey,
                self.source,
                key.span,
                format!("unknown key `{k}` in {place}"),
            )
            .with_help_opt(help)
            .leaving_unset(meant),
        );
    }

    /// A value of the wrong shape for the setting `key` (`None`: not one a rule reads).
    fn bad_shape(&mut self, node: &YNode, what: &str, key: Option<&'static str>) {
        self.diags.push(
            Diagnostic::new(Rule::BadValue, self.source, node.span, what.to_string())
                .leaving_unset(key),
        );
    }

    fn scalar(&mut self, v: &YNode, key: &str) -> Option<Spanned<Value>> {
        match &v.kind {
            YKind::Scalar(value) => Some(Spanned::new(value.clone(), v.span)),
            _ => {
                self.bad_shape(
                    v,
                    &format!("`{key}` takes a single value here, not a list or mapping"),
                    None,
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
                None,
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
            YKind::Map(_) => {
                return self.bad_shape(value, "`ends` must be a list of end names", None);
            }
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
            self.unknown(key, k, &format!("`{}`", spec.name), &known);
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
                Some(spec.name),
            );
            child.explained = true;
        } else {
            self.body(value, spec, &mut child);
        }
        parent.children.push(child);
    }

    fn next_list(&mut self, value: &YNode, stage: &mut Node) {
        let YKind::Seq(items) = &value.kind else {
            return self.bad_shape(
                value,
                "`next` must be a list of {to, on, when} mappings",
                Some("next"),
            );
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
                            _ => self.unknown(key, &k, "`next`", &["to", "on", "when"]),
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
                    None,
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
                None,
            );
        };
        for item in items {
            let YKind::Map(entries) = &item.kind else {
                self.bad_shape(
                    item,
                    "a question must be a mapping with `id` and `text`",
                    None,
                );
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
                        self.localized_options(v, &mut q);
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
