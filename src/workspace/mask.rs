//! One masking function for everything maestro sends to a provider, stores or logs.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// (what it is, pattern). Patterns match the secret itself, not its surroundings, except where
/// a label is needed to tell a secret from an ordinary word.
static PATTERNS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("private-key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
        ("anthropic-key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
        ("openai-key", r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}"),
        ("google-key", r"\bAIza[0-9A-Za-z_\-]{35}\b"),
        ("github-token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}\b"),
        ("gitlab-token", r"\bglpat-[A-Za-z0-9_\-]{20,}\b"),
        ("slack-token", r"\bxox[abprs]-[A-Za-z0-9\-]{10,}\b"),
        ("aws-access-key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("stripe-key", r"\b[sr]k_live_[0-9A-Za-z]{16,}\b"),
        ("huggingface-token", r"\bhf_[A-Za-z0-9]{30,}\b"),
        ("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
        ("bearer-token", r"(?i)(?:authorization:\s*bearer|bearer)\s+[A-Za-z0-9._~+/\-]{16,}=*"),
        ("aws-secret", r#"(?i)aws_secret_access_key\s*[:=]\s*["']?[A-Za-z0-9/+]{40}["']?"#),
        ("assigned-secret", r#"(?i)\b(?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token)\s*[:=]\s*["']?[^\s"']{8,}["']?"#),
    ]
    .into_iter()
    .map(|(name, p)| (name, Regex::new(p).expect("masking patterns are valid")))
    .collect()
});

/// `text` with every secret replaced by `[masked:<kind>]`.
#[must_use]
pub fn mask(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for (name, re) in PATTERNS.iter() {
        if re.is_match(&out) {
            let replaced = re
                .replace_all(&out, format!("[masked:{name}]").as_str())
                .into_owned();
            out = Cow::Owned(replaced);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realistic_keys_are_masked() {
        let cases = [
            (
                "export OPENAI_API_KEY=sk-proj-abcDEF1234567890abcdef1234567890",
                "openai-key",
            ),
            (
                "key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345",
                "anthropic-key",
            ),
            ("AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", "google-key"),
            (
                "token ghp_0123456789abcdefghijABCDEFGHIJ012345",
                "github-token",
            ),
            ("AKIAIOSFODNN7EXAMPLE", "aws-access-key"),
            (
                "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345",
                "bearer-token",
            ),
            ("password = hunter2hunter2", "assigned-secret"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
                "private-key",
            ),
        ];
        for (text, kind) in cases {
            let m = mask(text);
            assert!(m.contains(&format!("[masked:{kind}]")), "{text} → {m}");
        }
        assert!(!mask("sk-proj-abcDEF1234567890abcdef1234567890").contains("abcDEF"));
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "the task-list is ready",
            "password reset flow",
            "skip-git-repo-check",
            "AKIA is a prefix",
        ] {
            assert!(matches!(mask(text), Cow::Borrowed(_)), "{text}");
        }
    }
}
