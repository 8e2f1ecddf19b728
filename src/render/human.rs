//! `--format human`: miette's graphical report, the source line underlined.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use crate::diagnostic::{Diagnostic, Severity};

struct Report<'a> {
    d: &'a Diagnostic,
    source: Option<NamedSource<String>>,
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
        self.source.as_ref()?;
        let len = self.source.as_ref().map_or(0, |s| s.inner().len());
        let clamp = move |s: crate::source::Span| {
            let start = s.start.min(len);
            SourceSpan::new(start.into(), s.end.min(len).saturating_sub(start))
        };
        let primary = LabeledSpan::new_primary_with_span(self.d.label.clone(), clamp(self.d.span));
        let related = self
            .d
            .labels
            .iter()
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
            .map(|s| NamedSource::new(s.name.clone(), s.text.to_string()));
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
pub fn human(diags: &[Diagnostic], color: bool) -> String {
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
