//! Findings as plain data: a rule, a severity, a place and words. Renderers live in `render/`.
//!
//! A leaf module: it and `rules.rs` (the rule registry) import nothing but `source`, so every
//! part of maestro (lint, loader, CLI, MCP, engine) can name rules and findings without an
//! import cycle.

pub(crate) mod rules;

use serde::Serialize;

pub(crate) use self::rules::Rule;
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
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A secondary place that helps explain a finding ("first defined here").
#[derive(Debug, Clone)]
pub(crate) struct Label {
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
    pub(crate) labels: Vec<Label>,
    pub help: Option<String>,
    /// The setting this finding leaves without a value, when it is about one: the key (a node
    /// or property name) whose value is missing or wrong, or the known key an unknown one most
    /// likely misspells. A rule that reads the setting stays quiet where it failed
    /// (`lint/cascade.rs`), so a typo is reported once, as itself, and not again as the problem
    /// its missing value seems to cause.
    pub(crate) unset: Option<&'static str>,
}

impl Diagnostic {
    #[must_use]
    pub(crate) fn new(
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
            message: clip(message.into()),
            source: Some(Arc::clone(source)),
            span,
            label: None,
            labels: Vec::new(),
            help: None,
            unset: None,
        }
    }

    /// Marks the finding as leaving the setting `key` without a value (`None`: an unknown key
    /// close to no known one, which stands for no setting).
    #[must_use]
    pub(crate) fn leaving_unset(mut self, key: Option<&'static str>) -> Self {
        self.unset = key;
        self
    }

    #[must_use]
    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(clip(help.into()));
        self
    }

    #[must_use]
    pub(crate) fn with_help_opt(mut self, help: Option<String>) -> Self {
        if let Some(help) = help {
            self.help = Some(clip(help));
        }
        self
    }

    #[must_use]
    pub(crate) fn with_label(mut self, text: impl Into<String>) -> Self {
        self.label = Some(text.into());
        self
    }

    #[must_use]
    pub(crate) fn with_related(mut self, span: Span, text: impl Into<String>) -> Self {
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
    pub(crate) fn to_record(&self) -> Record {
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
pub(crate) struct Record {
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
pub(crate) fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        let ka = (a.source.as_ref().map(|s| &*s.name), a.span.start, a.rule);
        let kb = (b.source.as_ref().map(|s| &*s.name), b.span.start, b.rule);
        ka.cmp(&kb)
    });
}

/// The most characters of a message or help. Messages quote what the file says, and a file can
/// say a megabyte in one value.
pub(crate) const MAX_MESSAGE_CHARS: usize = 500;

fn clip(mut s: String) -> String {
    if let Some((cut, _)) = s.char_indices().nth(MAX_MESSAGE_CHARS) {
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// The most findings shown for one file. Past it, one more finding says how many were left
/// out: a megabyte of hostile input can hold 200,000 problems, and nobody reads them all (the
/// first ones are the ones to fix), while rendering them all takes seconds.
pub const MAX_FINDINGS_PER_FILE: usize = 1000;

/// Keeps the first [`MAX_FINDINGS_PER_FILE`] findings of each file (`diags` sorted by file) and
/// adds, per file that had more, one finding that counts the rest. It carries the rule of the
/// first error left out (or of the first warning), so the exit code stays what it would be.
pub(crate) fn cap(diags: &mut Vec<Diagnostic>) {
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diags.len().min(MAX_FINDINGS_PER_FILE + 1));
    let mut i = 0;
    let all = std::mem::take(diags);
    while i < all.len() {
        let name = all[i].source.as_ref().map(|s| s.name.clone());
        let mut j = i;
        while j < all.len() && all[j].source.as_ref().map(|s| &s.name) == name.as_ref() {
            j += 1;
        }
        let group = &all[i..j];
        out.extend(group.iter().take(MAX_FINDINGS_PER_FILE).cloned());
        if let Some(left_out) = group.get(MAX_FINDINGS_PER_FILE..) {
            let errors = left_out
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            let first = left_out
                .iter()
                .find(|d| d.severity == Severity::Error)
                .unwrap_or(&left_out[0]);
            let mut note = first.clone();
            note.message = format!(
                "{} more findings in this file are not shown ({errors} errors, {} warnings)",
                left_out.len(),
                left_out.len() - errors
            );
            note.label = None;
            note.labels.clear();
            note.help = Some(format!(
                "maestro shows the first {MAX_FINDINGS_PER_FILE} findings of a file; fix these and validate again"
            ));
            out.push(note);
        }
        i = j;
    }
    *diags = out;
}

/// Past this many candidates "did you mean" gives no suggestion: comparing every unknown name
/// of a huge file with every known one would be quadratic.
pub(crate) const MAX_SUGGESTION_CANDIDATES: usize = 500;

/// "did you mean" help: the closest candidate within a small edit distance.
#[must_use]
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The candidate `word` most likely misspells: the closest within a small edit distance.
#[must_use]
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates
        .into_iter()
        .take(MAX_SUGGESTION_CANDIDATES + 1)
        .collect();
    if candidates.len() > MAX_SUGGESTION_CANDIDATES || word.len() > 256 {
        return None;
    }
    let limit = 2.max(word.len() / 4);
    let chars = word.chars().count();
    let mut best: Option<(f64, &str)> = None;
    for cand in candidates {
        let score = strsim::jaro_winkler(word, cand);
        // The edit distance is at least the difference in length: skip it when that is too far.
        let close = score >= 0.8
            || (chars.abs_diff(cand.chars().count()) <= limit
                && strsim::levenshtein(word, cand) <= limit);
        if close && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, cand));
        }
    }
    best.map(|(_, c)| c)
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
        let many: Vec<String> = (0..=MAX_SUGGESTION_CANDIDATES)
            .map(|i| format!("s{i}"))
            .collect();
        assert_eq!(did_you_mean("s1x", many.iter().map(String::as_str)), None);
    }
}
