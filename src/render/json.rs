//! `--format json`: one JSON object per finding, one per line.

use crate::diagnostic::Diagnostic;

#[must_use]
pub(crate) fn json(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&serde_json::to_string(&d.to_record()).unwrap_or_default());
        out.push('\n');
    }
    out
}
