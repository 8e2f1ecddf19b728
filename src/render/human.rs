//! `--format human`: miette's graphical report, the source line underlined.
//!
//! miette's own `SourceCode` for text scans from the first byte to every span it shows, and the
//! report used to copy the whole file per finding: a megabyte of input with many findings took
//! minutes. [`Window`] answers from the line table instead and never shows more than a few
//! kilobytes around a span, however long its line.

use std::fmt;
use std::sync::Arc;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::SourceFile;

/// The most bytes of source shown around one span.
const MAX_WINDOW: usize = 4096;
/// On a line longer than that, how much is shown on each side of the span.
const LONG_LINE_MARGIN: usize = 120;
/// Underlines longer than this are cut to it (the span's own start is what matters).
const MAX_UNDERLINE: usize = 240;

/// A source file as miette sees it: the same windows miette's text source would give (the
/// span's lines plus context lines), found by binary search, and cut short on long lines.
struct Window(Arc<SourceFile>);

impl Window {
    fn floor(&self, mut i: usize) -> usize {
        let text = &self.0.text;
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    }

    fn ceil(&self, mut i: usize) -> usize {
        let text = &self.0.text;
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i += 1;
        }
        i
    }

    /// The byte offset of the start of a 0-based line, or the end of the text.
    fn line_offset(&self, line: usize) -> usize {
        if line >= self.lines() {
            self.0.text.len()
        } else {
            self.0.line_start(line + 1)
        }
    }

    fn lines(&self) -> usize {
        self.0.line_col(self.0.text.len()).0
    }

    /// 0-based line and character column.
    fn place(&self, offset: usize) -> (usize, usize) {
        let (line, col) = self.0.line_col(offset);
        (line - 1, col - 1)
    }

    /// Newlines in the text before `end` (what miette reports as a window's line count).
    fn newlines_before(&self, end: usize) -> usize {
        if end == 0 {
            0
        } else {
            self.place(end - 1).0 + usize::from(self.0.text.as_bytes()[end - 1] == b'\n')
        }
    }
}

impl SourceCode for Window {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let text = &self.0.text;
        let (start, len) = (span.offset(), span.len());
        if start + len > text.len() {
            return Err(MietteError::OutOfBounds);
        }
        // miette's text source, line for line: with no context the data is the span itself
        // (an empty span, none at all; one at offset 0, its first byte); with context, the
        // lines around it. Columns count bytes, as miette's do.
        let byte_column = |at: usize| at - self.line_offset(self.place(at).0);
        let (mut data_start, mut line, mut column) = if before == 0 {
            (start, self.place(start).0, byte_column(start))
        } else {
            let l = self.place(start).0.saturating_sub(before);
            (self.line_offset(l), l, 0)
        };
        let mut data_end = if after == 0 {
            ((start + len).saturating_sub(1) + 1).min(text.len())
        } else {
            // Newlines from `from` on end the span's line, then `after` more lines.
            let from = (start + len).max(1).min(text.len());
            self.line_offset(self.place(from).0 + after + 1)
        };
        if data_end - data_start > MAX_WINDOW {
            // A very long line (or span): show the start of the span with a margin around it,
            // and never more than MAX_WINDOW bytes.
            data_start = data_start.max(self.floor(start.saturating_sub(LONG_LINE_MARGIN)));
            let end = (start + len.max(1) + LONG_LINE_MARGIN).min(data_start + MAX_WINDOW);
            data_end = self.floor(end.min(data_end).min(text.len()));
            (line, column) = (self.place(data_start).0, byte_column(data_start));
        }
        data_end = self.ceil(data_end.max(data_start));
        Ok(Box::new(MietteSpanContents::new_named(
            self.0.name.clone(),
            &text.as_bytes()[data_start..data_end],
            (data_start, data_end - data_start).into(),
            line,
            column,
            self.newlines_before(data_end),
        )))
    }
}

struct Report<'a> {
    d: &'a Diagnostic,
    source: Option<Window>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.d.rule.id()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.d
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let text = &self.source.as_ref()?.0.text;
        let len = text.len();
        let clamp = move |s: crate::source::Span| {
            let start = s.start.min(len);
            // A span over a whole large node is underlined from its start, for a few hundred
            // bytes: enough to see where it is.
            let mut end = s.end.min(len).max(start);
            if end - start > MAX_UNDERLINE {
                end = start + MAX_UNDERLINE;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
            }
            SourceSpan::new(start.into(), end - start)
        };
        let primary = LabeledSpan::new_primary_with_span(self.d.label.clone(), clamp(self.d.span));
        // A related place far along the same long line would stretch the snippet over the
        // whole line; such a place is left out (the message still says what it is).
        let src = &self.source.as_ref()?.0;
        let here = self.d.span.start;
        let near = move |at: usize| {
            src.line_col(at).0 != src.line_col(here).0 || at.abs_diff(here) <= MAX_WINDOW / 2
        };
        let related = self
            .d
            .labels
            .iter()
            .filter(move |l| near(l.span.start))
            .map(move |l| LabeledSpan::new_with_span(Some(l.text.clone()), clamp(l.span)));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

fn render(diags: &[Diagnostic], handler: &GraphicalReportHandler) -> String {
    let mut out = String::new();
    for d in diags {
        let source = d
            .source
            .as_ref()
            .filter(|s| !s.text.is_empty())
            .map(|s| Window(Arc::clone(s)));
        let report = Report { d, source };
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&format!("{}: {}\n", d.rule.id(), d.message));
        }
        if d.source.as_ref().is_some_and(|s| s.text.is_empty()) {
            let loc = d.location();
            out.push_str(&format!("  at {}\n", loc.file));
        }
        out.push('\n');
    }
    out
}

/// Renders with colour when `color` is set (a terminal).
#[must_use]
pub(crate) fn human(diags: &[Diagnostic], color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    render(
        diags,
        &GraphicalReportHandler::new_themed(theme).with_width(100),
    )
}

/// Renders without colour at a fixed width: stable text for snapshots and logs.
#[must_use]
pub fn human_plain(diags: &[Diagnostic]) -> String {
    render(
        diags,
        &GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Span;

    /// The windows must be the ones miette's own text source gives, or snippets would change.
    #[test]
    fn windows_match_miettes_text_source() {
        let text = "workflow \"w\" {\n    version 1\n\n    start \"a\"\n    stage \"a\" {\n        next \"b\"\n    }\n}\n";
        let window = Window(Arc::new(SourceFile::new("t", text)));
        for start in 0..text.len() {
            for len in [0, 1, 3, 12, 40] {
                if start + len > text.len() {
                    continue;
                }
                for (before, after) in [(0, 0), (1, 1), (2, 2)] {
                    let span = SourceSpan::new(start.into(), len);
                    let ours = window.read_span(&span, before, after).unwrap();
                    let theirs = text.read_span(&span, before, after).unwrap();
                    let what = format!("{start}+{len} ({before}, {after})");
                    assert_eq!(ours.data(), theirs.data(), "{what}");
                    assert_eq!(ours.span(), theirs.span(), "{what}");
                    assert_eq!(ours.line(), theirs.line(), "{what}");
                    assert_eq!(ours.column(), theirs.column(), "{what}");
                    assert_eq!(ours.line_count(), theirs.line_count(), "{what}");
                }
            }
        }
    }

    #[test]
    fn a_finding_on_a_megabyte_line_shows_a_few_hundred_bytes() {
        let text = format!("workflow \"{}\" {{ }}\n", "x".repeat(1_000_000));
        let src = Arc::new(SourceFile::new("t.kdl", text));
        let d = Diagnostic::new(
            crate::diagnostic::Rule::BadName,
            &src,
            Span::new(9, 1_000_011),
            "bad",
        );
        let out = human_plain(&[d]);
        assert!(out.len() < 4 * MAX_WINDOW, "{} bytes", out.len());
        assert!(out.contains("t.kdl:1:10"), "{out}");
    }
}
