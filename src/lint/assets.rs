//! Asset rules: `unknown-role`, `unknown-skill`, `unknown-schema`, `unknown-provider`; the
//! roles and schemas a workflow uses are checked on first use (`template-error`,
//! `undefined-variable`, `bad-schema`), and the provider list is read from `conf/providers.yaml`.

use std::sync::Arc;

use super::Linter;
use crate::diagnostic::{Diagnostic, Rule, did_you_mean};
use crate::error::Error;
use crate::home::{Home, Kind};
use crate::source::{SourceFile, Span};
use crate::syntax::ast::Spanned;
use crate::syntax::keys::is_valid_name;
use crate::syntax::yaml::{self, YKind};
use crate::workflow::Workflow;

pub(super) fn check(linter: &mut Linter, wf: &Workflow, diags: &mut Vec<Diagnostic>) {
    let src = &wf.source;
    let missing = |linter: &mut Linter,
                   rule: Rule,
                   kind: Kind,
                   name: &Spanned<String>,
                   diags: &mut Vec<Diagnostic>| {
        let names = linter.names(kind);
        let help =
            did_you_mean(&name.value, names.list.iter().map(String::as_str)).unwrap_or_else(|| {
                let ext = kind.extensions()[0];
                format!(
                    "create {}/{}{ext} in .maestro/ (or your --home), or run `maestro init`",
                    kind.dir(),
                    name.value
                )
            });
        diags.push(
            Diagnostic::new(
                rule,
                src,
                name.span,
                format!("{} `{}` is not in the home", kind.noun(), name.value),
            )
            .with_help(help),
        );
    };
    // A name that breaks the naming rule already has a `bad-name` finding, and must never reach
    // the disk: `../../x` would name a file outside the home.
    let named = |n: &&Spanned<String>| is_valid_name(&n.value);
    for stage in &wf.stages {
        let s = &stage.settings;
        if let Some(role) = s.role.as_ref().filter(named)
            && !linter.template(Kind::Role, &role.value)
        {
            missing(linter, Rule::UnknownRole, Kind::Role, role, diags);
        }
        if let Some(skill) = s.skill.as_ref().filter(named)
            && !linter.exists(Kind::Skill, &skill.value)
        {
            missing(linter, Rule::UnknownSkill, Kind::Skill, skill, diags);
        }
        if let Some(report) = s.report.as_ref().filter(named)
            && !linter.template(Kind::Report, &report.value)
        {
            missing(linter, Rule::UnknownReport, Kind::Report, report, diags);
        }
        let flag_schema = s
            .red_flags
            .schema
            .as_ref()
            .zip(s.red_flags.schema_span)
            .map(|(v, sp)| Spanned::new(v.clone(), sp));
        for schema in s.output.iter().chain(flag_schema.as_ref()).filter(named) {
            if matches!(linter.schema(&schema.value), super::SchemaAsset::Missing) {
                missing(linter, Rule::UnknownSchema, Kind::Schema, schema, diags);
            }
        }
        if s.consult.prefer.is_empty() {
            continue;
        }
        let Some(known) = linter.providers() else {
            continue;
        };
        for p in &s.consult.prefer {
            if !known.contains(&p.value) {
                diags.push(
                    Diagnostic::new(
                        Rule::UnknownProvider,
                        src,
                        p.span,
                        format!("provider `{}` is not configured", p.value),
                    )
                    .with_help(
                        did_you_mean(&p.value, known.iter().map(String::as_str)).unwrap_or_else(
                            || {
                                format!(
                                    "configured providers: {}; add it to conf/providers.yaml",
                                    known.join(", ")
                                )
                            },
                        ),
                    ),
                );
            }
        }
    }
}

/// Provider names declared in `conf/providers.yaml` text (the `providers` mapping's keys).
#[must_use]
pub(crate) fn provider_names(
    source: &Arc<SourceFile>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<String>> {
    let tree = yaml::parse_tree(source, diags)?;
    let Some(providers) = tree.get("providers") else {
        diags.push(
            Diagnostic::new(
                Rule::MissingKey,
                source,
                Span::new(0, 0),
                "the provider config has no `providers` mapping",
            )
            .with_help("start the file with `providers:` and one entry per provider"),
        );
        return None;
    };
    match &providers.kind {
        YKind::Map(entries) => Some(entries.iter().map(|(k, _)| k.key_text()).collect()),
        YKind::Scalar(crate::syntax::ast::Value::Null) => Some(Vec::new()),
        _ => {
            diags.push(Diagnostic::new(
                Rule::BadValue,
                source,
                providers.span,
                "`providers` must be a mapping from name to settings",
            ));
            None
        }
    }
}

pub(super) fn load_provider_names(home: &Home, diags: &mut Vec<Diagnostic>) -> Option<Vec<String>> {
    match home.find(Kind::Config, "providers") {
        Ok(Some(asset)) => {
            let (src, bad) = SourceFile::from_bytes(asset.display, &asset.bytes);
            let src = Arc::new(src);
            if bad.is_some() {
                diags.push(not_utf8(&src, Rule::Syntax));
                return None;
            }
            provider_names(&src, diags)
        }
        Ok(None) => None,
        Err(err) => {
            diags.push(unreadable(&err, Rule::Syntax));
            None
        }
    }
}

pub(super) fn not_utf8(src: &Arc<SourceFile>, rule: Rule) -> Diagnostic {
    Diagnostic::new(rule, src, Span::new(0, 0), "the file is not valid UTF-8")
        .with_help("save the file as UTF-8")
}

pub(super) fn unreadable(err: &Error, rule: Rule) -> Diagnostic {
    let src = Arc::new(SourceFile::new(
        match err {
            Error::Io { path, .. } => path.display().to_string(),
            Error::Other(_) => String::new(),
        },
        "",
    ));
    Diagnostic::new(rule, &src, Span::new(0, 0), err.to_string())
}
