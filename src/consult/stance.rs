//! Consensus with stances: each ensemble member can argue `for`, `against` or from a
//! `neutral` position, with its own focus (the `stance` role frames it), and ends its answer
//! with a verdict and its key points, so the result can set the positions side by side.

use serde::{Deserialize, Serialize};

/// The position a member is asked to take.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Stance {
    For,
    Against,
    #[default]
    Neutral,
}

impl Stance {
    /// The name serde writes.
    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Stance::For => "for",
            Stance::Against => "against",
            Stance::Neutral => "neutral",
        }
    }
}

/// One member of an ensemble with a stance.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub provider: Option<String>,
    pub stance: Stance,
    pub focus: Option<String>,
}

/// A member's verdict on the question, read from its `VERDICT:` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verdict {
    Agree,
    Disagree,
    Mixed,
}

/// The verdict and key points at the end of an answer written under the `stance` role.
/// Both are optional: a member that ignored the format still has its whole answer.
#[must_use]
pub(crate) fn position(text: &str) -> (Option<Verdict>, Vec<String>) {
    let mut verdict = None;
    let mut points = Vec::new();
    let mut in_points = false;
    for line in text.lines() {
        let t = line.trim().trim_start_matches(['*', '#', ' ']).trim();
        let upper = t.to_ascii_uppercase();
        // The template's own line (`agree | disagree | mixed`) is not a verdict.
        if let Some(rest) = upper.strip_prefix("VERDICT:").filter(|r| !r.contains('|')) {
            let w = rest
                .trim()
                .trim_matches(['*', '`', '.', ' '])
                .to_ascii_lowercase();
            verdict = match w.split_whitespace().next() {
                Some("agree") => Some(Verdict::Agree),
                Some("disagree") => Some(Verdict::Disagree),
                Some("mixed") => Some(Verdict::Mixed),
                _ => verdict,
            };
            in_points = false;
        } else if upper.starts_with("POINTS:") {
            in_points = true;
            points.clear();
        } else if in_points {
            if let Some(p) = t.strip_prefix("- ").or_else(|| t.strip_prefix("• ")) {
                points.push(p.trim().to_string());
            } else if !t.is_empty() && !line.starts_with([' ', '\t']) {
                in_points = false;
            }
        }
    }
    (verdict, points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_and_points_are_read_from_the_end_of_an_answer() {
        let text = "Long argument.\n\n**VERDICT:** Disagree.\nPOINTS:\n- the lock is held across await\n- tests do not cover it\n";
        let (v, p) = position(text);
        assert_eq!(v, Some(Verdict::Disagree));
        assert_eq!(
            p,
            ["the lock is held across await", "tests do not cover it"]
        );
        assert_eq!(position("no format at all"), (None, Vec::new()));
        assert_eq!(position("VERDICT: mixed").0, Some(Verdict::Mixed));
        assert_eq!(position("VERDICT: agree | disagree | mixed").0, None);
        for s in [Stance::For, Stance::Against, Stance::Neutral] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
