//! `--format github`: workflow commands that GitHub Actions turns into annotations.

use crate::diagnostic::{Diagnostic, Severity};

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_prop(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[must_use]
pub(crate) fn github(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let loc = d.location();
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message = format!("{message} (help: {help})");
        }
        out.push_str(&format!(
            "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            escape_prop(&loc.file),
            loc.line,
            loc.column,
            loc.end_line,
            loc.end_column,
            escape_prop(d.rule.id()),
            escape_data(&message)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_per_the_workflow_command_rules() {
        assert_eq!(escape_data("a%b\nc"), "a%25b%0Ac");
        assert_eq!(escape_prop("a:b,c"), "a%3Ab%2Cc");
    }
}
