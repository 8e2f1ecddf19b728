//! Findings as plain data: a rule, a severity, a place and words. Renderers live in `render/`.

use serde::Serialize;

use crate::lint::registry::Rule;
use crate::source::{SourceFile, Span};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A secondary place that helps explain a finding ("first defined here").
#[derive(Debug, Clone)]
pub struct Label {
    pub span: Span,
    pub text: String,
}

/// One finding of `maestro validate`.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub rule: Rule,
    pub severity: Severity,
    pub message: String,
    /// The file the finding is in; `None` only for findings about the home as a whole.
    pub source: Option<Arc<SourceFile>>,
    pub span: Span,
    /// What the primary span is, shown under the underline.
    pub label: Option<String>,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    #[must_use]
    pub fn new(
        rule: Rule,
        source: &Arc<SourceFile>,
        span: Span,
        message: impl Into<String>,
    ) -> Self {
        // Parsers report positions at end of input; keep every span inside the text.
        let len = source.text.len();
        let span = Span::new(
            span.start.min(len),
            span.end.min(len).max(span.start.min(len)),
        );
        Self {
            rule,
            severity: rule.severity(),
            message: message.into(),
            source: Some(Arc::clone(source)),
            span,
            label: None,
            labels: Vec::new(),
            help: None,
        }
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    #[must_use]
    pub fn with_label(mut self, text: impl Into<String>) -> Self {
        self.label = Some(text.into());
        self
    }

    #[must_use]
    pub fn with_related(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    /// The file name, 1-based line and column of the start, and of the end.
    #[must_use]
    pub fn location(&self) -> Location {
        match &self.source {
            Some(src) => {
                let (line, column) = src.line_col(self.span.start);
                let (end_line, end_column) = src.line_col(self.span.end);
                Location {
                    file: src.name.clone(),
                    line,
                    column,
                    end_line,
                    end_column,
                }
            }
            None => Location::default(),
        }
    }

    /// The plain-data form used by `--format json` and by MCP results.
    #[must_use]
    pub fn to_record(&self) -> Record {
        let loc = self.location();
        Record {
            rule: self.rule.id(),
            severity: self.severity,
            file: loc.file,
            line: loc.line,
            column: loc.column,
            end_line: loc.end_line,
            end_column: loc.end_column,
            message: self.message.clone(),
            help: self.help.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

/// A finding as JSON: the fields the contract names, in its order.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Record {
    pub rule: &'static str,
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub message: String,
    pub help: Option<String>,
}

/// Orders findings by file, then position, then rule, so output is stable.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        let ka = (
            a.source.as_ref().map(|s| s.name.clone()),
            a.span.start,
            a.rule,
        );
        let kb = (
            b.source.as_ref().map(|s| s.name.clone()),
            b.span.start,
            b.rule,
        );
        ka.cmp(&kb)
    });
}

/// "did you mean" help: the closest candidate within a small edit distance.
#[must_use]
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for cand in candidates {
        let score = strsim::jaro_winkler(word, cand);
        let close = score >= 0.8 || strsim::levenshtein(word, cand) <= 2.max(word.len() / 4);
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, cand));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_picks_the_closest() {
        let cands = ["hypothesize", "analyze", "implement"];
        assert_eq!(
            did_you_mean("hypothesis", cands).as_deref(),
            Some("did you mean `hypothesize`?")
        );
        assert_eq!(did_you_mean("zzzzzzzz", cands), None);
    }
}
