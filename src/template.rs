//! Role templates: minijinja with strict undefined behaviour and a fixed context.

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::{Environment, UndefinedBehavior};

use crate::diagnostic::{Diagnostic, Rule, did_you_mean};
use crate::source::{SourceFile, Span};

/// The variables a role template may use (workflow-language.md, "Template context for roles").
pub(crate) const ROLE_VARIABLES: &[&str] = &[
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

/// The variables a report template may use (workflow-language.md, "Reports").
pub(crate) const REPORT_VARIABLES: &[&str] = &[
    "lang",
    "run",
    "stage",
    "output",
    "summary",
    "risks",
    "fields",
    "next",
    "consults",
    "checks",
    "questions",
    "metrics",
    "decision",
];

/// Which fixed context a template renders in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    Role,
    Report,
}

impl Context {
    const fn variables(self) -> &'static [&'static str] {
        match self {
            Context::Role => ROLE_VARIABLES,
            Context::Report => REPORT_VARIABLES,
        }
    }

    const fn noun(self) -> &'static str {
        match self {
            Context::Role => "role",
            Context::Report => "report",
        }
    }
}

/// The environment roles render in: strict, so a typo fails loudly instead of printing nothing.
#[must_use]
pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    // `sentence`: trimmed, with a full stop added when it ends without one, so a model's
    // summary can be followed by more words in a report.
    env.add_filter("sentence", |s: String| -> String {
        let t = s.trim();
        if t.is_empty() || t.ends_with(['.', '!', '?', '。', ':', '…']) {
            t.to_string()
        } else {
            format!("{t}.")
        }
    });
    env
}

/// Parses a role or report template and checks the variables it uses against its context.
pub(crate) fn check_in(
    source: &Arc<SourceFile>,
    context: Context,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let (vars, noun) = (context.variables(), context.noun());
    let env = environment();
    let text = &*source.text;
    let tmpl = match parse(&env, &source.name, text) {
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
                Diagnostic::new(
                    Rule::TemplateError,
                    source,
                    span,
                    format!("the {noun} template does not parse: {detail}"),
                )
                .with_help(
                    "templates use minijinja (Jinja2) syntax: {{ var }}, {% if %}...{% endif %}",
                ),
            );
            return false;
        }
    };
    // Globals of the environment (`range`, `dict`, `namespace`, `debug`) are functions the
    // template may call, not variables it expects from the context.
    let mut unknown: Vec<String> = tmpl
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !vars.contains(&v.as_str()))
        .filter(|v| !env.globals().any(|(name, _)| name == v))
        .collect();
    unknown.sort();
    let places = references(text, true);
    for var in &unknown {
        let help = did_you_mean(var, vars.iter().copied())
            .unwrap_or_else(|| format!("available: {}", vars.join(", ")));
        diags.push(
            Diagnostic::new(
                Rule::UndefinedVariable,
                source,
                places
                    .get(var.as_str())
                    .map_or(Span::new(0, 0), |&i| Span::new(i, i + var.len())),
                format!("`{var}` is not in a {noun}'s context"),
            )
            .with_help(help),
        );
    }
    unknown.is_empty()
}

/// The most operators (`.`, `|`, `+`, `and`, `not`, ...) one expression may hold.
///
/// minijinja parses a chain like `a or a or ...` or `a.b.b...` in a loop, but compiles, walks
/// and drops the resulting tree recursively, one stack frame per operator: about a thousand
/// overflow a 2 MiB stack in a debug build. A real guard or template tag holds a handful.
pub(crate) const MAX_OPERATORS: usize = 256;

/// Compiles a role template, refusing one that minijinja could not handle safely (see
/// [`MAX_OPERATORS`]). Every place that turns a role file into a template should use this.
///
/// # Errors
/// minijinja's syntax error, or the refusal as a syntax error.
pub(crate) fn parse<'s>(
    env: &'s Environment<'static>,
    name: &'s str,
    text: &'s str,
) -> Result<minijinja::Template<'s, 's>, minijinja::Error> {
    if let Some(at) = too_many_operators(text, true) {
        let line = text[..at].matches('\n').count() + 1;
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::SyntaxError,
            format!(
                "the tag on line {line} holds more than {MAX_OPERATORS} operators; split it into several `{{% set %}}` steps"
            ),
        ));
    }
    env.template_from_named_str(name, text)
}

/// Renders a role template through [`parse`], so a hostile role file is refused rather than
/// rendered (the engine's briefs and the consult layer's framing both come here).
///
/// # Errors
/// A refused or broken template, or a render failure.
pub(crate) fn render(
    name: &str,
    text: &str,
    ctx: &serde_json::Value,
) -> Result<String, minijinja::Error> {
    let env = environment();
    parse(&env, name, text)?.render(ctx)
}

/// The byte offset where `path` (a name, or a dotted path like `output.x`) is first read as a
/// variable. See [`references`].
#[cfg(test)]
#[must_use]
fn find_reference(code: &str, path: &str, template: bool) -> Option<usize> {
    references(code, template).get(path).copied()
}

/// How far a dotted path is followed: `a.b.c` is found as `a`, `a.b` and `a.b.c`.
const MAX_PATH_SEGMENTS: usize = 8;

/// Where each variable, and each dotted path on it (`output.x.y`), is first read, in one pass:
/// outside string literals and comments, not as an attribute of something else (`a.path`), not
/// as part of a longer name. With `template`, only the inside of `{{ }}` and `{% %}` tags is
/// code; otherwise all of `code` is one expression.
#[must_use]
pub(crate) fn references(code: &str, template: bool) -> HashMap<String, usize> {
    let mut found: HashMap<String, usize> = HashMap::new();
    scan(code, template, |at, rest, prev, _| {
        let starts_name = rest.starts_with(|c: char| c.is_alphabetic() || c == '_');
        if !starts_name || prev.is_some_and(|p| is_ident(p) || p == '.') {
            return;
        }
        let mut end = 0;
        for segment in 0..MAX_PATH_SEGMENTS {
            if segment > 0 {
                let after = &rest[end..];
                let follows = after
                    .strip_prefix('.')
                    .is_some_and(|r| r.starts_with(|c: char| c.is_alphabetic() || c == '_'));
                if !follows {
                    break;
                }
                end += 1;
            }
            end += rest[end..]
                .find(|c: char| !is_ident(c))
                .unwrap_or(rest.len() - end);
            found.entry(rest[..end].to_string()).or_insert(at);
        }
    });
    found
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The offset of the first expression (a tag, or all of `code` when not `template`) that holds
/// more than [`MAX_OPERATORS`] operators.
#[must_use]
pub(crate) fn too_many_operators(code: &str, template: bool) -> Option<usize> {
    const WORDS: [&str; 6] = ["and", "or", "not", "is", "in", "if"];
    let mut count = 0usize;
    let mut region = usize::MAX;
    let mut hit = None;
    scan(code, template, |_, rest, prev, start| {
        if hit.is_some() {
            return;
        }
        let Some(c) = rest.chars().next() else { return };
        let operator = matches!(c, '.' | '[' | '(' | '|' | '~' | '+' | '-' | '*' | '/' | '%')
            || (!prev.is_some_and(is_ident)
                && WORDS
                    .iter()
                    .any(|w| rest.starts_with(w) && !rest[w.len()..].starts_with(is_ident)));
        if !operator {
            return;
        }
        // Each tag is its own expression: count from its start.
        if start != region {
            region = start;
            count = 0;
        }
        count += 1;
        if count > MAX_OPERATORS {
            hit = Some(start);
        }
    });
    hit
}

/// Calls `visit(offset, rest, previous char, start of the tag)` for every character of code:
/// inside tags (when `template`), outside string literals and `{# #}` comments. One pass, no
/// recursion.
fn scan(code: &str, template: bool, mut visit: impl FnMut(usize, &str, Option<char>, usize)) {
    let mut in_code = !template;
    let mut tag = 0;
    let mut quote: Option<char> = None;
    let mut prev: Option<char> = None;
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let Some(c) = rest.chars().next() else { break };
        let step = c.len_utf8();
        if let Some(q) = quote {
            if c == '\\' {
                // Skip the escaped character, whatever it is.
                i += step + rest[step..].chars().next().map_or(0, char::len_utf8);
                continue;
            }
            if c == q {
                quote = None;
            }
            prev = Some(c);
            i += step;
            continue;
        }
        if template {
            if !in_code && rest.starts_with("{#") {
                i += rest.find("#}").map_or(rest.len(), |e| e + 2);
                prev = None;
                continue;
            }
            if !in_code && (rest.starts_with("{{") || rest.starts_with("{%")) {
                in_code = true;
                tag = i;
                prev = None;
                i += 2;
                continue;
            }
            if in_code && (rest.starts_with("}}") || rest.starts_with("%}")) {
                in_code = false;
                prev = None;
                i += 2;
                continue;
            }
        }
        if in_code {
            if c == '"' || c == '\'' {
                quote = Some(c);
            } else {
                visit(i, rest, prev, tag);
            }
        }
        prev = Some(c);
        i += step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_variables_are_found_at_their_place() {
        let text = "Hello {{ task }}\n{% if stag.visit > 1 %}again{% endif %}\n";
        let src = Arc::new(SourceFile::new("r.md.j2", text));
        let mut diags = Vec::new();
        assert!(!check_in(&src, Context::Role, &mut diags));
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].rule, Rule::UndefinedVariable);
        assert_eq!(&text[diags[0].span.start..diags[0].span.end], "stag");
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `stage`?"));
    }

    #[test]
    fn references_skip_strings_attributes_and_longer_names() {
        let t = r#"Write "{{ "notes" }}" then {{ x.notes }} {{ notes_2 }} {# notes #} {{ notes }}"#;
        let at = find_reference(t, "notes", true).unwrap();
        assert_eq!(&t[at - 3..at + 5], "{{ notes");
        assert!(at > t.find("{#").unwrap());
        // Outside tags nothing is code.
        assert_eq!(find_reference("notes {{ task }}", "notes", true), None);
        // Expressions: escapes inside strings do not end them.
        let e = r"output.runs > 1 and 'it\'s runs' != x and runs.id";
        assert_eq!(find_reference(e, "runs", false), e.rfind("runs.id"));
        assert_eq!(find_reference(e, "output.runs", false), Some(0));
        assert_eq!(find_reference("output.runsx", "output.runs", false), None);
    }

    #[test]
    fn dotted_paths_are_found_by_prefix() {
        let refs = references("x.y == 1 and output.tests.passed or 'output.z'", false);
        assert_eq!(refs.get("output"), Some(&13));
        assert_eq!(refs.get("output.tests"), Some(&13));
        assert_eq!(refs.get("output.tests.passed"), Some(&13));
        assert_eq!(refs.get("x.y"), Some(&0));
        assert_eq!(refs.get("output.z"), None);
        assert_eq!(refs.get("tests"), None);
    }

    #[test]
    fn long_operator_chains_are_refused_before_minijinja_sees_them() {
        let env = environment();
        // minijinja recurses once per operator when it compiles such a chain.
        for chain in [" or a", ".b", "|abs", " ~ a", "()"] {
            let text = format!("head {{{{ a{} }}}} tail", chain.repeat(100_000));
            let err = parse(&env, "r", &text).map(|_| ()).unwrap_err();
            assert!(err.to_string().contains("operators"), "{err}");
        }
        let fine = format!("{{{{ a{} }}}}", " ~ a".repeat(MAX_OPERATORS));
        assert!(parse(&env, "r", &fine).is_ok());
        // Each tag counts on its own.
        let many = format!("{{{{ a{} }}}}\n", " ~ a".repeat(200)).repeat(10);
        assert!(parse(&env, "r", &many).is_ok());
        // Operators inside strings do not count.
        let quoted = format!("{{{{ '{}' }}}}", "a.b|c ".repeat(1000));
        assert!(parse(&env, "r", &quoted).is_ok());
    }

    #[test]
    fn builtin_functions_are_not_undefined() {
        let src = Arc::new(SourceFile::new(
            "r",
            "{% set ns = namespace(n=0) %}{% for i in range(2) %}{{ dict(a=i) }}{% endfor %}{{ taks }}",
        ));
        let mut diags = Vec::new();
        assert!(!check_in(&src, Context::Role, &mut diags));
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].message.contains("`taks`"));
    }

    #[test]
    fn parse_errors_are_template_errors() {
        let src = Arc::new(SourceFile::new("r.md.j2", "line\n{% if task %}\nno end\n"));
        let mut diags = Vec::new();
        assert!(!check_in(&src, Context::Role, &mut diags));
        assert_eq!(diags[0].rule, Rule::TemplateError);
    }

    #[test]
    fn loop_variables_are_not_undefined() {
        let src = Arc::new(SourceFile::new(
            "r",
            "{% for f in feedback %}{{ f.text }}{% endfor %}{% set x = 1 %}{{ x }}",
        ));
        let mut diags = Vec::new();
        assert!(check_in(&src, Context::Role, &mut diags), "{diags:?}");
    }
}
