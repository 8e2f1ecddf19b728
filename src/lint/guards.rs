//! Guard rules: `undefined-variable` (in a `when`), `constant-condition`,
//! `unknown-output-field`. (`bad-expression` is found when the machine compiles.)

use std::collections::HashMap;

use serde_json::Value;

use super::Linter;
use crate::compile::{GUARD_VARIABLES, Machine, compile_guard};
use crate::diagnostic::{Diagnostic, Rule, did_you_mean};
use crate::source::Span;
use crate::syntax::ast::Spanned;
use crate::template::references;
use crate::workflow::Workflow;

pub(super) fn check(linter: &mut Linter, wf: &Workflow, _m: &Machine, diags: &mut Vec<Diagnostic>) {
    let src = &wf.source;
    for stage in &wf.stages {
        for edge in &stage.next {
            let Some(when) = &edge.when else { continue };
            let Ok(guard) = compile_guard(&when.value) else {
                continue;
            };
            let top = guard.variables(false);
            // Where each variable is read, found in one pass over the expression.
            let places = references(&when.value, false);
            for var in top
                .iter()
                .filter(|v| !GUARD_VARIABLES.contains(&v.as_str()))
            {
                diags.push(
                    Diagnostic::new(
                        Rule::UndefinedVariable,
                        src,
                        narrow(&src.text, when, &places, var),
                        format!("`{var}` is not available in a `when`"),
                    )
                    .with_help(
                        did_you_mean(var, GUARD_VARIABLES.iter().copied()).unwrap_or_else(|| {
                            "a guard may read `output`, `checks`, `previous`, `selection`, `run` and `stage`".into()
                        }),
                    ),
                );
            }
            for path in guard.variables(true) {
                let Some((top, known)) = FIXED_FIELDS
                    .iter()
                    .find(|(t, _)| path.strip_prefix(t).is_some_and(|r| r.starts_with('.')))
                else {
                    continue;
                };
                let field = path[top.len() + 1..].split('.').next().unwrap_or_default();
                if !known.contains(&field) {
                    diags.push(
                        Diagnostic::new(
                            Rule::UndefinedVariable,
                            src,
                            narrow(&src.text, when, &places, &path),
                            format!("`{top}` has no field `{field}`"),
                        )
                        .with_help(
                            did_you_mean(field, known.iter().copied())
                                .unwrap_or_else(|| format!("`{top}` has: {}", known.join(", "))),
                        ),
                    );
                }
            }
            if top.is_empty() {
                let verdict = match guard.eval(&Value::Null) {
                    Ok(true) => "always true",
                    Ok(false) => "always false",
                    Err(_) => "constant",
                };
                diags.push(
                    Diagnostic::new(
                        Rule::ConstantCondition,
                        src,
                        when.span,
                        format!("this `when` reads no variable: it is {verdict}"),
                    )
                    .with_help(if verdict == "always true" {
                        "drop the `when`: an edge without one is the default"
                    } else {
                        "compare a field of `output`, e.g. `output.confidence >= 0.6`"
                    }),
                );
            }
            let Some(output) = &stage.settings.output else {
                continue;
            };
            let super::SchemaAsset::Usable(schema) = linter.schema(&output.value) else {
                continue;
            };
            for path in guard.variables(true) {
                // `previous.output` is this stage's output of its previous visit: same schema.
                let Some(rest) = path
                    .strip_prefix("output.")
                    .or_else(|| path.strip_prefix("previous.output."))
                else {
                    continue;
                };
                if let Some(field) = unknown_field(&schema, rest) {
                    let known = known_fields(&schema, rest, &field);
                    diags.push(
                        Diagnostic::new(
                            Rule::UnknownOutputField,
                            src,
                            narrow(&src.text, when, &places, &path),
                            format!(
                                "`{path}` reads `{field}`, which schema `{}` does not define",
                                output.value
                            ),
                        )
                        .with_help(
                            did_you_mean(&field, known.iter().map(String::as_str)).unwrap_or_else(
                                || {
                                    if known.is_empty() {
                                        "the schema defines no properties here".into()
                                    } else {
                                        format!("defined: {}", known.join(", "))
                                    }
                                },
                            ),
                        ),
                    );
                }
            }
        }
    }
}

/// Guard variables whose fields are fixed by maestro, not by a schema.
const FIXED_FIELDS: &[(&str, &[&str])] = &[
    ("previous", &["output", "checks"]),
    ("selection", &["winner", "none_passed"]),
];

/// Walks `a.b.c` through `properties`; returns the first segment the schema does not define.
fn unknown_field(schema: &Value, path: &str) -> Option<String> {
    let mut node = schema;
    for seg in path.split('.') {
        let props = node.get("properties").and_then(Value::as_object)?;
        match props.get(seg) {
            Some(next) => node = next,
            None => return Some(seg.to_string()),
        }
    }
    None
}

fn known_fields(schema: &Value, path: &str, missing: &str) -> Vec<String> {
    let mut node = schema;
    for seg in path.split('.') {
        if seg == missing {
            break;
        }
        match node.get("properties").and_then(|p| p.get(seg)) {
            Some(n) => node = n,
            None => break,
        }
    }
    let mut keys: Vec<String> = node
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// Narrows a `when` span to where the guard reads `path` (not to a string or an attribute that
/// happens to spell it). The span covers the literal as written (quotes, escapes), so the place
/// found in the expression is mapped back into that text.
fn narrow(text: &str, when: &Spanned<String>, places: &HashMap<String, usize>, path: &str) -> Span {
    let span = when.span;
    let expr = when.value.as_str();
    let Some(&at) = places.get(path) else {
        return span;
    };
    let raw = text.get(span.start..span.end).unwrap_or_default();
    let found = match raw.find(expr).filter(|_| !expr.is_empty()) {
        // No escapes: the expression appears verbatim inside the literal.
        Some(offset) => Some(offset + at),
        // Escapes changed the text: take the same occurrence of `path`, counted from the start.
        None => {
            let nth = expr[..at].matches(path).count();
            raw.match_indices(path).nth(nth).map(|(i, _)| i)
        }
    };
    found.map_or(span, |i| {
        Span::new(span.start + i, span.start + i + path.len())
    })
}
