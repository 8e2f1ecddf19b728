//! Role templates: minijinja with strict undefined behaviour and a fixed context.

use std::sync::Arc;

use minijinja::{Environment, UndefinedBehavior};

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::lint::registry::Rule;
use crate::source::{SourceFile, Span};

/// The variables a role template may use (workflow-language.md, "Template context for roles").
pub const ROLE_VARIABLES: &[&str] = &[
    "task",
    "workflow",
    "stage",
    "run",
    "outputs",
    "feedback",
    "context",
    "facts",
    "errors",
    "constraints",
    "files",
    "schema",
    "lang",
];

/// The environment roles render in: strict, so a typo fails loudly instead of printing nothing.
#[must_use]
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env
}

/// Parses a role template and checks the variables it uses. Findings point into the role file.
pub fn check(source: &Arc<SourceFile>, diags: &mut Vec<Diagnostic>) -> bool {
    let env = environment();
    let text = &*source.text;
    let tmpl = match env.template_from_named_str(&source.name, text) {
        Ok(t) => t,
        Err(err) => {
            let span = err.range().map_or_else(
                || {
                    err.line().map_or(Span::new(0, 0), |l| {
                        Span::new(source.line_start(l), source.line_start(l))
                    })
                },
                |r| Span::new(r.start, r.end),
            );
            let detail = err
                .detail()
                .map_or_else(|| err.kind().to_string(), str::to_string);
            diags.push(
                Diagnostic::new(Rule::TemplateError, source, span, format!("the role template does not parse: {detail}"))
                    .with_help("role templates use minijinja (Jinja2) syntax: {{ var }}, {% if %}...{% endif %}"),
            );
            return false;
        }
    };
    let mut unknown: Vec<String> = tmpl
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !ROLE_VARIABLES.contains(&v.as_str()))
        .collect();
    unknown.sort();
    for var in &unknown {
        let help = did_you_mean(var, ROLE_VARIABLES.iter().copied())
            .unwrap_or_else(|| format!("available: {}", ROLE_VARIABLES.join(", ")));
        diags.push(
            Diagnostic::new(
                Rule::UndefinedVariable,
                source,
                find_variable(text, var),
                format!("`{var}` is not in a role's context"),
            )
            .with_help(help),
        );
    }
    unknown.is_empty()
}

/// The first place `var` appears as a whole word inside a `{{ }}` or `{% %}` tag.
#[must_use]
pub fn find_variable(text: &str, var: &str) -> Span {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut in_tag = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !in_tag && (text[i..].starts_with("{{") || text[i..].starts_with("{%")) {
            in_tag = true;
            i += 2;
            continue;
        }
        if in_tag && (text[i..].starts_with("}}") || text[i..].starts_with("%}")) {
            in_tag = false;
            i += 2;
            continue;
        }
        if in_tag && text[i..].starts_with(var) {
            let before = text[..i].chars().next_back();
            let after = text[i + var.len()..].chars().next();
            if !before.is_some_and(|c| is_ident(c) || c == '.') && !after.is_some_and(is_ident) {
                return Span::new(i, i + var.len());
            }
        }
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
    Span::new(0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_variables_are_found_at_their_place() {
        let text = "Hello {{ task }}\n{% if stag.visit > 1 %}again{% endif %}\n";
        let src = Arc::new(SourceFile::new("r.md.j2", text));
        let mut diags = Vec::new();
        assert!(!check(&src, &mut diags));
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].rule, Rule::UndefinedVariable);
        assert_eq!(&text[diags[0].span.start..diags[0].span.end], "stag");
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `stage`?"));
    }

    #[test]
    fn parse_errors_are_template_errors() {
        let src = Arc::new(SourceFile::new("r.md.j2", "line\n{% if task %}\nno end\n"));
        let mut diags = Vec::new();
        assert!(!check(&src, &mut diags));
        assert_eq!(diags[0].rule, Rule::TemplateError);
    }

    #[test]
    fn loop_variables_are_not_undefined() {
        let src = Arc::new(SourceFile::new(
            "r",
            "{% for f in feedback %}{{ f.text }}{% endfor %}{% set x = 1 %}{{ x }}",
        ));
        let mut diags = Vec::new();
        assert!(check(&src, &mut diags), "{diags:?}");
    }
}
