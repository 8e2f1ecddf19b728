//! Helpers for maestro's small YAML config files (`providers.yaml`, `verify.yaml`): problems
//! as sentences for unknown keys, and duplicate keys sorted so neither copy silently wins.

use crate::diagnostic::{Diagnostic, Rule};
use crate::source::SourceFile;
use crate::syntax::ast::Value;
use crate::syntax::yaml::{YKind, YNode};

/// How a scalar is shown in a problem: its text, or what kind of thing it is.
pub(crate) fn shown(n: &YNode) -> String {
    match &n.kind {
        YKind::Scalar(Value::Null) => "nothing".into(),
        YKind::Scalar(Value::String(s)) => format!("the text `{s}`"),
        YKind::Scalar(_) => format!("`{}`", n.key_text()),
        YKind::Seq(_) => "a list".into(),
        YKind::Map(_) => "a mapping".into(),
    }
}

/// Problems for the keys of `map` that are not in `known`, each with a "did you mean".
pub(crate) fn unknown_keys(map: &YNode, known: &[&str], what: &str) -> Vec<String> {
    let YKind::Map(entries) = &map.kind else {
        return Vec::new();
    };
    entries
        .iter()
        .map(|(k, _)| k.key_text())
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| {
            let hint = crate::diagnostic::did_you_mean(&k, known.iter().copied())
                .unwrap_or_else(|| format!("known keys: {}", known.join(", ")));
            format!("unknown key `{k}` in {what}; {hint}")
        })
        .collect()
}

/// The duplicate-key findings of [`yaml::parse_tree`] (which keeps the first of two keys and
/// reports the second) sorted by where they are, so that neither copy silently wins.
#[derive(Debug, Default)]
pub(crate) struct Duplicates {
    /// Names given twice as entries of the mapping.
    pub names: Vec<String>,
    /// Per entry of the mapping (same order): keys given twice inside it.
    pub inside: Vec<Vec<String>>,
    /// Anything else the parser reported, as sentences.
    pub other: Vec<String>,
}

impl Duplicates {
    /// Sorts `diags` by the entries of `map` (a mapping in `src`).
    pub(crate) fn sort(src: &SourceFile, diags: &[Diagnostic], map: &YNode) -> Duplicates {
        let entries: &[(YNode, YNode)] = match &map.kind {
            YKind::Map(e) => e,
            _ => &[],
        };
        let mut out = Duplicates {
            inside: vec![Vec::new(); entries.len()],
            ..Duplicates::default()
        };
        for d in diags {
            let at = d.span.start;
            let inside = entries
                .iter()
                .position(|(_, v)| v.span.start <= at && at < v.span.end);
            let in_map = map.span.start <= at && at < map.span.end.max(map.span.start + 1);
            if d.rule != Rule::DuplicateKey {
                out.other.push(d.message.clone());
            } else if let Some(i) = inside {
                out.inside[i].push(d.message.clone());
            } else if in_map {
                let key = src
                    .text
                    .get(d.span.start..d.span.end)
                    .unwrap_or("")
                    .trim()
                    .trim_matches(|c| c == '"' || c == '\'')
                    .to_string();
                if entries.iter().any(|(k, _)| k.key_text() == key) {
                    if !out.names.contains(&key) {
                        out.names.push(key);
                    }
                } else {
                    out.other.push(d.message.clone());
                }
            } else {
                out.other.push(d.message.clone());
            }
        }
        out
    }
}
