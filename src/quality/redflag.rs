//! The one red-flag engine (MAKER Alg. 3): an answer that trips a rule is discarded, never
//! repaired. Used by stage submits, consults, votes and selection alike.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

/// MAKER's length limit for vote samples, in output tokens.
pub const MAKER_MAX_TOKENS: u64 = 750;

/// Which checks apply, with their thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    pub max_chars: Option<u64>,
    pub min_chars: Option<u64>,
    /// Approximate tokens: characters / 4, rounded up.
    pub max_tokens: Option<u64>,
    pub hedging: bool,
    /// `json`, `diff` or `text`.
    pub format: Option<String>,
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
    pub fn from_workflow(rf: &crate::workflow::RedFlags, schema: Option<Value>) -> Self {
        let d = Self::default();
        Self {
            max_chars: rf.max_chars.or(d.max_chars),
            min_chars: rf.min_chars.or(d.min_chars),
            max_tokens: rf.max_tokens,
            hedging: rf.hedging.unwrap_or(d.hedging),
            format: rf.format.clone(),
            schema,
            dangerous_commands: rf.dangerous_commands.unwrap_or(d.dangerous_commands),
            dangerous_code: rf.dangerous_code.unwrap_or(d.dangerous_code),
            forbidden_files: rf.forbidden_files.unwrap_or(d.forbidden_files),
            max_files: rf.max_files,
        }
    }

    /// Turns named rules on (the `rules` argument of the `red_flag` tool).
    ///
    /// # Errors
    /// An unknown rule name, with the known ones.
    pub fn with_rules(mut self, names: &[String]) -> Result<Self, String> {
        for n in names {
            match n.as_str() {
                "hedging" => self.hedging = true,
                "dangerous_code" => self.dangerous_code = true,
                "dangerous_command" | "dangerous_commands" => self.dangerous_commands = true,
                "forbidden_files" => self.forbidden_files = true,
                "invalid_diff" => self.format = Some("diff".into()),
                "invalid_json" => self.format = Some("json".into()),
                "multi_file" => self.max_files = Some(1),
                "too_long" | "too_short" | "missing_fields" => {}
                other => {
                    return Err(format!(
                        "unknown rule `{other}`; known: hedging, dangerous_code, dangerous_command, forbidden_files, invalid_diff, invalid_json, multi_file, too_long, too_short, missing_fields"
                    ));
                }
            }
        }
        Ok(self)
    }
}

/// One tripped rule.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Flag {
    /// too_long, too_short, too_many_tokens, hedging, invalid_json, schema, invalid_diff,
    /// dangerous_command, dangerous_code, forbidden_file, too_many_files.
    pub rule: String,
    pub message: String,
}

fn flag(rule: &str, message: String) -> Flag {
    Flag {
        rule: rule.into(),
        message,
    }
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
pub fn extract_json(content: &str) -> Option<Value> {
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
pub fn check(content: &str, rules: &RuleSet) -> Vec<Flag> {
    let mut flags = Vec::new();
    let chars = content.chars().count() as u64;
    if let Some(max) = rules.max_chars.filter(|&m| chars > m) {
        flags.push(flag(
            "too_long",
            format!("{chars} characters, more than {max}"),
        ));
    }
    if let Some(min) = rules.min_chars.filter(|&m| chars < m) {
        flags.push(flag(
            "too_short",
            format!("{chars} characters, fewer than {min}"),
        ));
    }
    let tokens = chars.div_ceil(4);
    if let Some(max) = rules.max_tokens.filter(|&m| tokens > m) {
        flags.push(flag(
            "too_many_tokens",
            format!("about {tokens} tokens, more than {max}"),
        ));
    }
    if rules.hedging
        && let Some(m) = HEDGING.find(content)
    {
        flags.push(flag("hedging", format!("hedges: \"{}\"", m.as_str())));
    }
    let wants_json = rules.format.as_deref() == Some("json") || rules.schema.is_some();
    if wants_json {
        match extract_json(content) {
            None => flags.push(flag("invalid_json", "the answer is not valid JSON".into())),
            Some(v) => {
                if let Some(schema) = &rules.schema {
                    match jsonschema::validator_for(schema) {
                        Ok(validator) => {
                            let errors: Vec<String> = validator
                                .iter_errors(&v)
                                .map(|e| format!("{} at `{}`", e, e.instance_path()))
                                .take(5)
                                .collect();
                            if !errors.is_empty() {
                                flags.push(flag("schema", errors.join("; ")));
                            }
                        }
                        Err(e) => {
                            flags.push(flag("schema", format!("the schema itself is invalid: {e}")))
                        }
                    }
                }
            }
        }
    }
    if rules.format.as_deref() == Some("diff") && !looks_like_diff(content) {
        flags.push(flag(
            "invalid_diff",
            "the answer is not a unified diff".into(),
        ));
    }
    if rules.dangerous_commands
        && let Some(m) = DANGEROUS_COMMANDS.find(content)
    {
        flags.push(flag(
            "dangerous_command",
            format!("contains `{}`", m.as_str()),
        ));
    }
    if rules.dangerous_code
        && let Some(m) = DANGEROUS_CODE.find(content)
    {
        flags.push(flag("dangerous_code", format!("contains `{}`", m.as_str())));
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
        flags.push(flag("forbidden_file", format!("the diff changes `{f}`")));
    }
    if let Some(max) = rules.max_files.filter(|&m| files.len() as u64 > m) {
        flags.push(flag(
            "too_many_files",
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
        assert_eq!(check("x", &r)[0].rule, "too_short");
        assert_eq!(check("01234567890", &r)[0].rule, "too_long");
        let maker = RuleSet::maker();
        assert!(
            check(&"word ".repeat(700), &maker)
                .iter()
                .any(|f| f.rule == "too_many_tokens")
        );
        let h = RuleSet {
            hedging: true,
            ..RuleSet::default()
        };
        assert_eq!(check("Maybe the cache is stale.", &h)[0].rule, "hedging");
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
        assert_eq!(check("{\"a\": {}}", &r)[0].rule, "schema");
        assert_eq!(check("not json", &r)[0].rule, "invalid_json");
        let d = RuleSet {
            format: Some("diff".into()),
            max_files: Some(1),
            ..RuleSet::default()
        };
        let one = "--- a/x.rs\n+++ b/x.rs\n@@ -1 +1 @@\n-a\n+b\n";
        assert!(check(one, &d).is_empty());
        assert_eq!(check("just words", &d)[0].rule, "invalid_diff");
        let two = format!("{one}--- a/y.rs\n+++ b/y.rs\n@@ -1 +1 @@\n-a\n+b\n");
        assert!(check(&two, &d).iter().any(|f| f.rule == "too_many_files"));
        let env = "--- a/.env\n+++ b/.env\n@@ -1 +1 @@\n-A=1\n+A=2\n";
        assert_eq!(check(env, &RuleSet::default())[0].rule, "forbidden_file");
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
            assert_eq!(check(bad, &r)[0].rule, "dangerous_command", "{bad}");
        }
        for bad in [
            "eval(user_input)",
            "os.system(cmd)",
            "subprocess.run(c, shell=True)",
            "pickle.loads(blob)",
        ] {
            assert_eq!(check(bad, &r)[0].rule, "dangerous_code", "{bad}");
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
