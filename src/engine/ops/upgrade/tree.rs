//! A workflow version as a tree of settings, and the differences between two such trees.
//!
//! The tree is the serialised typed workflow (every field the model has, spans left out) plus
//! the hash of every file the compile read (roles, skills, schemas, report templates, config).
//! Nothing here lists settings by name, so a field added to the model is compared the day it
//! is added. Lists whose items carry an identity (`name`, `id`, an edge's `to`/`on`, a
//! `(lang, text)` pair) are keyed by it, so inserting a stage or a question does not shift
//! every later one, and their order is kept beside them as `order` (edges are tried in file
//! order); other lists of records are keyed by position. Null, empty lists and empty blocks
//! are absent: "unset" has one spelling.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::engine::library::Compiled;

/// The field beside a keyed list's items that holds their order.
pub(super) const ORDER: &str = "order";

/// One step of a path into the tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Seg {
    /// A field, in the language's spelling (`from-visit`, `red-flags`).
    Field(String),
    /// An item of a list, by its identity (a stage's name, a question's id).
    Key(String),
    /// An item of a list without an identity, by position.
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Leaf(Value),
    Map(BTreeMap<Seg, Node>),
}

impl Node {
    /// The node as JSON, for the structured change.
    pub(super) fn to_json(&self) -> Value {
        match self {
            Node::Leaf(v) => v.clone(),
            Node::Map(m) => Value::Object(
                m.iter()
                    .map(|(seg, n)| (seg.to_string(), n.to_json()))
                    .collect(),
            ),
        }
    }

    pub(super) fn get(&self, path: &[Seg]) -> Option<&Node> {
        match path.split_first() {
            None => Some(self),
            Some((seg, rest)) => match self {
                Node::Map(m) => m.get(seg)?.get(rest),
                Node::Leaf(_) => None,
            },
        }
    }

    pub(super) fn leaf(&self) -> Option<&Value> {
        match self {
            Node::Leaf(v) => Some(v),
            Node::Map(_) => None,
        }
    }
}

impl fmt::Display for Seg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seg::Field(s) | Seg::Key(s) => f.write_str(s),
            Seg::Index(i) => write!(f, "{i}"),
        }
    }
}

/// `stages[analyze].consult.from-visit`.
pub(super) fn path_text(path: &[Seg]) -> String {
    write_path(path, |seg| format!("[{seg}]"))
}

/// The path with every item replaced by `*`: what the rule table matches
/// (`stages[*].consult.from-visit`).
pub(super) fn shape(path: &[Seg]) -> String {
    write_path(path, |_| "[*]".to_owned())
}

/// Fields joined by dots, each key or index written by `item`.
fn write_path(path: &[Seg], item: impl Fn(&Seg) -> String) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Field(f) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(f);
            }
            Seg::Key(_) | Seg::Index(_) => out.push_str(&item(seg)),
        }
    }
    out
}

/// Everything a version means: its typed workflow and the hashes of the files it read.
///
/// # Errors
/// A workflow JSON cannot hold (a number past 64 bits): the caller must not call two such
/// versions equal.
pub(super) fn of(c: &Compiled) -> Result<Node, serde_json::Error> {
    let workflow = serde_json::to_value(c.workflow())?;
    let mut root = match from_json(&workflow) {
        Some(Node::Map(m)) => m,
        _ => BTreeMap::new(),
    };
    let assets: BTreeMap<Seg, Node> = c
        .snapshot
        .files
        .iter()
        .map(|f| {
            let hash = hex(&Sha256::digest(f.text.as_bytes()));
            (
                Seg::Key(format!("{}/{}", f.kind.dir(), f.name)),
                Node::Leaf(Value::String(hash)),
            )
        })
        .collect();
    if !assets.is_empty() {
        root.insert(Seg::Field("assets".into()), Node::Map(assets));
    }
    Ok(Node::Map(root))
}

/// Lower-case hex, as versions are written.
pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

fn from_json(v: &Value) -> Option<Node> {
    match v {
        Value::Null => None,
        Value::Object(m) => {
            let map: BTreeMap<Seg, Node> = m
                .iter()
                .filter_map(|(k, v)| from_json(v).map(|n| (Seg::Field(k.replace('_', "-")), n)))
                .collect();
            (!map.is_empty()).then_some(Node::Map(map))
        }
        Value::Array(items) if items.is_empty() => None,
        // A list of plain values (`prefer`, `lang`, `ends`, options) is one value: its order
        // is part of what it says.
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            Some(Node::Leaf(v.clone()))
        }
        Value::Array(items) => {
            let mut map = BTreeMap::new();
            let mut order = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let (key, node) = match identity(item) {
                    Some((key, inner)) => (Some(key), from_json(inner)),
                    None => (None, from_json(item)),
                };
                let Some(node) = node else { continue };
                let seg = match key {
                    None => Seg::Index(i),
                    Some(key) => {
                        // Two items with one identity (two edges to one stage, told apart by
                        // their guards) stay apart, in file order.
                        let mut seg = Seg::Key(key.clone());
                        let mut n = 1;
                        while map.contains_key(&seg) {
                            n += 1;
                            seg = Seg::Key(format!("{key} #{n}"));
                        }
                        order.push(Value::String(seg.to_string()));
                        seg
                    }
                };
                map.insert(seg, node);
            }
            if order.len() > 1 {
                map.insert(Seg::Field(ORDER.into()), Node::Leaf(Value::Array(order)));
            }
            (!map.is_empty()).then_some(Node::Map(map))
        }
        _ => Some(Node::Leaf(v.clone())),
    }
}

/// What an item of a list is known by, and the part of it that holds its content.
fn identity(item: &Value) -> Option<(String, &Value)> {
    match item {
        Value::Object(m) => {
            for field in ["name", "id"] {
                if let Some(Value::String(s)) = m.get(field) {
                    return Some((s.clone(), item));
                }
            }
            let Value::String(to) = m.get("to")? else {
                return None;
            };
            Some(match m.get("on") {
                Some(Value::String(on)) => (format!("{to} on={on}"), item),
                _ => (to.clone(), item),
            })
        }
        // `(lang, text)` and `(lang or none, options)` pairs.
        Value::Array(pair) if pair.len() == 2 => match &pair[0] {
            Value::String(lang) => Some((lang.clone(), &pair[1])),
            Value::Null => Some(("default".into(), &pair[1])),
            _ => None,
        },
        _ => None,
    }
}

/// One difference between two trees: a whole block added or removed, or a value changed.
#[derive(Debug, Clone)]
pub(super) struct Difference {
    pub(super) path: Vec<Seg>,
    pub(super) before: Option<Node>,
    pub(super) after: Option<Node>,
}

/// Every difference, in path order; a block present on one side only is one difference.
pub(super) fn diff(a: &Node, b: &Node) -> Vec<Difference> {
    let mut out = Vec::new();
    walk(&mut Vec::new(), Some(a), Some(b), &mut out);
    out
}

fn walk(path: &mut Vec<Seg>, a: Option<&Node>, b: Option<&Node>, out: &mut Vec<Difference>) {
    match (a, b) {
        (Some(Node::Map(x)), Some(Node::Map(y))) => {
            let keys: std::collections::BTreeSet<&Seg> = x.keys().chain(y.keys()).collect();
            for k in keys {
                path.push(k.clone());
                walk(path, x.get(k), y.get(k), out);
                path.pop();
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(Difference {
            path: path.clone(),
            before: a.cloned(),
            after: b.cloned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_with_an_identity_are_keyed_by_it_and_unset_has_one_spelling() {
        let a = from_json(&json!({
            "stages": [{"name": "a", "max_visits": 3}, {"name": "b", "edits": null, "prefer": []}],
        }))
        .unwrap();
        let b = from_json(&json!({
            "stages": [{"name": "new"}, {"name": "a", "max_visits": 4}, {"name": "b"}],
        }))
        .unwrap();
        let found: Vec<String> = diff(&a, &b).iter().map(|d| path_text(&d.path)).collect();
        assert_eq!(
            found,
            ["stages.order", "stages[a].max-visits", "stages[new]"]
        );
        assert_eq!(
            shape(&diff(&a, &b)[1].path),
            "stages[*].max-visits",
            "items are wildcards in a shape"
        );
    }

    #[test]
    fn edges_to_one_target_stay_apart_and_pairs_are_keyed_by_language() {
        let v = from_json(&json!({
            "next": [{"to": "done", "when": "x"}, {"to": "done"}, {"to": "a", "on": "exhausted"}],
            "options": [[null, ["Yes", "No"]], ["ko", ["예", "아니요"]]],
        }))
        .unwrap();
        let Node::Map(m) = &v else { panic!() };
        let Some(Node::Map(next)) = m.get(&Seg::Field("next".into())) else {
            panic!("{v:?}")
        };
        let keys: Vec<String> = next.keys().map(ToString::to_string).collect();
        assert_eq!(keys, ["order", "a on=exhausted", "done", "done #2"]);
        assert_eq!(
            next.get(&Seg::Field(ORDER.into())),
            Some(&Node::Leaf(json!(["done", "done #2", "a on=exhausted"]))),
            "edges are tried in file order"
        );
        assert!(
            v.get(&[Seg::Field("options".into()), Seg::Key("ko".into())])
                .is_some()
        );
        assert!(
            v.get(&[Seg::Field("options".into()), Seg::Key("default".into())])
                .is_some()
        );
    }
}
