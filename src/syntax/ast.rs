//! The spanned syntax tree both formats lower into: KDL's shape (nodes with arguments,
//! properties and children), so every later pass is written once.

use crate::source::Span;

/// A value with the byte span it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// A spanned value serialises as its value: where it was written is not what it means, and
/// every edit above it moves it (`maestro upgrade` compares serialised workflows).
impl<T: serde::Serialize> serde::Serialize for Spanned<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<T> Spanned<T> {
    pub(crate) const fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

/// A scalar as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    String(String),
    Int(i128),
    Float(f64),
    Bool(bool),
    Null,
}

impl Value {
    #[must_use]
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Null => "null",
        }
    }

    #[must_use]
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    #[must_use]
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            #[allow(clippy::cast_precision_loss, reason = "numbers in workflows are small")]
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// An argument (`name` is `None`) or a property (`key=value`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub name: Option<Spanned<String>>,
    pub value: Spanned<Value>,
}

/// A node: `name arg... key=value... { children }`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub name: Spanned<String>,
    pub entries: Vec<Entry>,
    pub children: Vec<Node>,
    /// The whole node, for findings about it as a whole.
    pub span: Span,
    /// A finding already explains why this node's value is missing (e.g. a YAML mapping where a
    /// name belongs), so the shape check does not report the absence again.
    pub explained: bool,
}

impl Node {
    #[must_use]
    pub(crate) fn new(name: Spanned<String>, span: Span) -> Self {
        Self {
            name,
            entries: Vec::new(),
            children: Vec::new(),
            span,
            explained: false,
        }
    }

    pub(crate) fn args(&self) -> impl Iterator<Item = &Spanned<Value>> {
        self.entries
            .iter()
            .filter(|e| e.name.is_none())
            .map(|e| &e.value)
    }

    #[must_use]
    pub(crate) fn arg(&self, i: usize) -> Option<&Spanned<Value>> {
        self.args().nth(i)
    }

    pub(crate) fn props(&self) -> impl Iterator<Item = (&Spanned<String>, &Spanned<Value>)> {
        self.entries
            .iter()
            .filter_map(|e| e.name.as_ref().map(|n| (n, &e.value)))
    }

    /// The last value given for a property (KDL's rule: the rightmost wins).
    #[must_use]
    pub(crate) fn prop(&self, key: &str) -> Option<&Spanned<Value>> {
        self.props()
            .filter(|(n, _)| n.value == key)
            .map(|(_, v)| v)
            .last()
    }

    pub(crate) fn children_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name.value == name)
    }

    #[must_use]
    pub(crate) fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name.value == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Kdl,
    Yaml,
}

impl Format {
    /// Picks the format from a file name; `None` when the extension is neither.
    #[must_use]
    pub fn from_path(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".kdl") {
            Some(Format::Kdl)
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Format::Yaml)
        } else {
            None
        }
    }

    /// Guesses the format of text with no name (stdin): YAML has a `workflow:` key.
    #[must_use]
    pub(crate) fn sniff(text: &str) -> Format {
        let yaml = text.lines().any(|l| {
            let t = l.trim_start_matches('\u{feff}');
            t.starts_with("workflow:") || t.starts_with("stages:") || t.starts_with("version:")
        });
        if yaml { Format::Yaml } else { Format::Kdl }
    }
}
