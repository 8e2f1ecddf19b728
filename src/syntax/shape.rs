//! Checks a syntax tree against the known keys: `unknown-key`, `duplicate-key`, `missing-key`,
//! `bad-value` and `bad-name`. After this pass, lowering may trust every value it reads.

use std::collections::HashMap;
use std::sync::Arc;

use super::ast::{Node, Spanned, Value};
use super::keys::{self, Args, Spec, Ty};
use crate::diagnostic::{Diagnostic, Rule, closest, did_you_mean};
use crate::source::SourceFile;

/// Checks `node` and everything under it against `spec`.
pub(crate) fn check(
    node: &Node,
    spec: &'static Spec,
    source: &Arc<SourceFile>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut c = Checker { source, diags };
    c.node(node, spec);
}

/// Whether a value fits a type; `None` when it does, else the reason and the rule.
#[must_use]
pub(crate) fn value_problem(v: &Value, ty: Ty) -> Option<(Rule, String, Option<String>)> {
    let wrong = |v: &Value| {
        Some((
            Rule::BadValue,
            format!("expected {}, found {}", ty.describe(), v.type_name()),
            None,
        ))
    };
    match (ty, v) {
        (Ty::Str | Ty::Expr, Value::String(_)) | (Ty::Bool, Value::Bool(_)) => None,
        (Ty::Name, Value::String(s)) => (!keys::is_valid_name(s)).then(|| {
            (
                Rule::BadName,
                format!("`{s}` is not a valid name"),
                Some("names are lowercase: a letter, then letters, digits, `_` or `-`; at most 48 characters".into()),
            )
        }),
        (Ty::Lang, Value::String(s)) => (!keys::is_lang_code(s)).then(|| {
            (Rule::BadValue, format!("`{s}` is not a language code"), Some("use a code of two or three lowercase letters, like `en` or `ko`".into()))
        }),
        (Ty::Event, Value::String(s)) => (s.is_empty() || !s.chars().all(|c| c.is_ascii_lowercase() || c == '_')).then(|| {
            (Rule::BadValue, format!("`{s}` is not an event name"), Some("events are lowercase letters and `_`, e.g. `approved`, `done`, `exhausted`".into()))
        }),
        (Ty::Duration, Value::String(s)) => keys::parse_duration(s).is_none().then(|| {
            (Rule::BadValue, format!("`{s}` is not a duration"), Some("write an integer and a unit: \"90s\", \"15m\", \"2h\" or \"1d\"".into()))
        }),
        (Ty::Enum(opts), Value::String(s)) => (!opts.contains(&s.as_str())).then(|| {
            let help = did_you_mean(s, opts.iter().copied()).or_else(|| Some(format!("use one of: {}", opts.join(", "))));
            (Rule::BadValue, format!("`{s}` is not {}", ty.describe()), help)
        }),
        (Ty::Int { min, max }, Value::Int(i)) => (*i < min || *i > max).then(|| {
            (Rule::BadValue, format!("{i} is out of range: expected {}", ty.describe()), None)
        }),
        (Ty::Num { min, max }, Value::Int(_) | Value::Float(_)) => {
            let f = v.as_f64().unwrap_or(f64::NAN);
            (f.is_nan() || f < min || f > max).then(|| (Rule::BadValue, format!("{f} is out of range: expected {}", ty.describe()), None))
        }
        (Ty::Bool, Value::String(s)) if s == "true" || s == "false" => Some((
            Rule::BadValue,
            format!("expected a boolean, found the string \"{s}\""),
            Some(format!("write #{s} without quotes")),
        )),
        _ => wrong(v),
    }
}

struct Checker<'a> {
    source: &'a Arc<SourceFile>,
    diags: &'a mut Vec<Diagnostic>,
}

impl Checker<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Checks the value of the setting `key` (`None`: text in a language, which no rule reads).
    fn value(&mut self, v: &Spanned<Value>, ty: Ty, what: &str, key: Option<&'static str>) {
        if let Some((rule, message, help)) = value_problem(&v.value, ty) {
            self.push(
                Diagnostic::new(rule, self.source, v.span, format!("{what}: {message}"))
                    .with_help_opt(help)
                    .leaving_unset(key),
            );
        }
    }

    fn node(&mut self, node: &Node, spec: &'static Spec) {
        let name = spec.name;
        self.args(node, spec);
        // Properties. Hash maps keep a node with thousands of keys linear.
        let mut seen: HashMap<&str, &Spanned<String>> = HashMap::new();
        for (key, value) in node.props() {
            if let Some(first) = seen.get(key.value.as_str()) {
                self.push(
                    Diagnostic::new(
                        Rule::DuplicateKey,
                        self.source,
                        key.span,
                        format!("`{}` is given twice on `{name}`", key.value),
                    )
                    .with_related(first.span, "first given here")
                    .with_help("keep one; the last one would silently win"),
                );
                continue;
            }
            seen.insert(&key.value, key);
            if let Some(prop) = spec.prop(&key.value) {
                self.value(value, prop.ty, &format!("`{}`", key.value), Some(prop.name));
            } else if spec.lang_props && keys::is_lang_code(&key.value) {
                self.value(value, Ty::Str, &format!("the `{}` text", key.value), None);
            } else {
                let names = spec.props.iter().map(|p| p.name);
                let meant = closest(&key.value, names.clone());
                let help = did_you_mean(&key.value, meant).or_else(|| {
                    let all: Vec<_> = names.collect();
                    Some(if all.is_empty() {
                        if spec.lang_props {
                            format!(
                                "`{name}` takes properties named by language code, like ko=\"...\""
                            )
                        } else {
                            format!("`{name}` takes no properties")
                        }
                    } else {
                        format!("`{name}` takes: {}", all.join(", "))
                    })
                });
                self.push(
                    Diagnostic::new(
                        Rule::UnknownKey,
                        self.source,
                        key.span,
                        format!("unknown property `{}` on `{name}`", key.value),
                    )
                    .with_help_opt(help)
                    .leaving_unset(meant),
                );
            }
        }
        // Children.
        let mut seen: HashMap<&str, &Node> = HashMap::new();
        for child in &node.children {
            let cname = &child.name.value;
            let Some(cspec) = spec.child(cname) else {
                let names: Vec<&str> = spec.children.iter().map(|c| c.spec.name).collect();
                let meant = closest(cname, names.iter().copied());
                let help = did_you_mean(cname, meant).or_else(|| {
                    Some(if names.is_empty() {
                        format!("`{name}` has no children")
                    } else {
                        format!("`{name}` may hold: {}", names.join(", "))
                    })
                });
                self.push(
                    Diagnostic::new(
                        Rule::UnknownKey,
                        self.source,
                        child.name.span,
                        format!("unknown node `{cname}` in `{name}`"),
                    )
                    .with_help_opt(help)
                    .leaving_unset(meant),
                );
                continue;
            };
            if !cspec.repeat
                && let Some(first) = seen.get(cname.as_str())
            {
                self.push(
                    Diagnostic::new(
                        Rule::DuplicateKey,
                        self.source,
                        child.name.span,
                        format!("`{cname}` is given twice in `{name}`"),
                    )
                    .with_related(first.name.span, "first given here")
                    .with_help("keep one of them"),
                );
                continue;
            }
            seen.entry(cname).or_insert(child);
            self.node(child, cspec.spec);
        }
        if std::ptr::eq(spec, &raw const keys::GATE) {
            self.question_ids(node);
        }
        for c in spec.children.iter().filter(|c| c.required) {
            if !seen.contains_key(c.spec.name) {
                let example = match c.spec.name {
                    "version" => "add `version 1`".to_string(),
                    "start" => "add `start \"<first stage>\"`".to_string(),
                    "text" => "add `text \"...\"` with the question".to_string(),
                    other => format!("add `{other}`"),
                };
                self.push(
                    Diagnostic::new(
                        Rule::MissingKey,
                        self.source,
                        node.name.span,
                        format!("`{name}` is missing `{}`", c.spec.name),
                    )
                    .with_help(example),
                );
            }
        }
    }

    /// Answers are keyed by question id, and the approval form adds fields of its own: ids must
    /// be unique within a gate and may not take the form's names.
    fn question_ids(&mut self, gate: &Node) {
        let mut first: HashMap<&str, &Spanned<Value>> = HashMap::new();
        for q in gate.children_named("question") {
            let Some(id) = q.arg(0) else { continue };
            let Value::String(name) = &id.value else {
                continue;
            };
            if keys::RESERVED_QUESTION_IDS.contains(&name.as_str()) {
                self.push(
                    Diagnostic::new(
                        Rule::BadName,
                        self.source,
                        id.span,
                        format!(
                            "question id `{name}` is reserved: the approval form uses `decision` and `feedback` for its own fields"
                        ),
                    )
                    .with_help(format!(
                        "rename the question, e.g. `{name}_note`; an answer under `{name}` would overwrite the person's {name}"
                    )),
                );
            }
            match first.get(name.as_str()) {
                Some(prev) => self.push(
                    Diagnostic::new(
                        Rule::DuplicateKey,
                        self.source,
                        id.span,
                        format!("question `{name}` is asked twice in this gate"),
                    )
                    .with_related(prev.span, "first asked here")
                    .with_help("answers are keyed by question id: give each question its own id"),
                ),
                None => {
                    first.insert(name, id);
                }
            }
        }
    }

    fn args(&mut self, node: &Node, spec: &'static Spec) {
        let name = spec.name;
        let args: Vec<&Spanned<Value>> = node.args().collect();
        let (min, max, ty) = match spec.args {
            Args::None => (0, 0, None),
            Args::One(t) => (1, 1, Some(t)),
            Args::Opt(t) => (0, 1, Some(t)),
            Args::Many(t) => (1, usize::MAX, Some(t)),
        };
        let has_lang_text =
            spec.lang_props && node.props().any(|(k, _)| keys::is_lang_code(&k.value));
        let absent = args.len() < min || (spec.lang_props && args.is_empty() && !has_lang_text);
        if absent && !node.explained {
            let what = ty.map_or_else(String::new, Ty::describe);
            self.push(
                Diagnostic::new(
                    Rule::MissingKey,
                    self.source,
                    node.name.span,
                    format!("`{name}` needs a value"),
                )
                .with_help(format!("give {what}"))
                .leaving_unset(Some(name)),
            );
        }
        for (i, arg) in args.iter().enumerate() {
            match ty {
                Some(t) if i < max => self.value(arg, t, &format!("`{name}`"), Some(name)),
                _ => {
                    let help = match spec.args {
                        Args::None if !spec.props.is_empty() => {
                            let ps: Vec<_> = spec.props.iter().map(|p| p.name).collect();
                            format!("`{name}` takes properties only: {}", ps.join(", "))
                        }
                        Args::None => format!("`{name}` takes no values"),
                        _ => format!("`{name}` takes one value"),
                    };
                    self.push(
                        Diagnostic::new(
                            Rule::BadValue,
                            self.source,
                            arg.span,
                            format!("unexpected extra value on `{name}`"),
                        )
                        .with_help(help),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::diagnostic::Rule;
    use crate::loader::load;
    use crate::source::SourceFile;
    use crate::syntax::ast::Format;

    fn findings(text: &str, format: Format) -> Vec<(Rule, String)> {
        let loaded = load(Arc::new(SourceFile::new("t", text)), format);
        loaded
            .diagnostics
            .iter()
            .map(|d| (d.rule, text[d.span.start..d.span.end].to_string()))
            .collect()
    }

    #[test]
    fn question_ids_are_unique_and_not_the_forms_own_fields() {
        let kdl = "workflow \"w\" {\n version 1\n start \"a\"\n stage \"a\" {\n  gate {\n   question \"decision\" { text \"?\" }\n   question \"ok\" { text \"?\" }\n   question \"ok\" { text \"?\" }\n   question \"feedback\" { text \"?\" }\n  }\n  next \"done\"\n }\n end \"done\"\n}\n";
        let yaml = "workflow: w\nversion: 1\nstart: a\nstages:\n  a:\n    gate:\n      questions:\n        - {id: decision, text: '?'}\n        - {id: ok, text: '?'}\n        - {id: ok, text: '?'}\n        - {id: feedback, text: '?'}\n    next: [done]\nends: [done]\n";
        for (text, format, quote) in [(kdl, Format::Kdl, "\""), (yaml, Format::Yaml, "")] {
            let q = |s: &str| format!("{quote}{s}{quote}");
            assert_eq!(
                findings(text, format),
                [
                    (Rule::BadName, q("decision")),
                    (Rule::DuplicateKey, q("ok")),
                    (Rule::BadName, q("feedback")),
                ],
                "{format:?}"
            );
        }
    }

    #[test]
    fn a_mapping_where_a_value_belongs_is_one_finding() {
        let yaml = "workflow: {name: w}\nversion: 1\nstart: a\nstages:\n  a:\n    role: {name: helper}\n    next: [done]\nends: [done]\n";
        let found = findings(yaml, Format::Yaml);
        assert_eq!(
            found,
            [
                (Rule::BadValue, "{name: w}".to_string()),
                (Rule::BadValue, "{name: helper}".to_string())
            ]
        );
    }
}
