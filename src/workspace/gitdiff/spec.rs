//! Which diff to pack: `staged`, `unstaged` or `base:<ref>`, parsed once, with refs that git
//! could read as an option, a range or a file inside a commit refused.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which changes to pack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DiffSpec {
    /// What `git commit` would record: the index against `HEAD` (`git diff --cached`).
    Staged,
    /// The working tree against the index (`git diff`): edits not yet staged.
    Unstaged,
    /// Everything since the current branch left the ref, uncommitted edits included
    /// (`git diff --merge-base <ref>`).
    Base(String),
}

/// A diff that cannot be asked for; the message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadDiffSpec(pub String);

impl FromStr for DiffSpec {
    type Err = BadDiffSpec;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "staged" => Ok(Self::Staged),
            "unstaged" => Ok(Self::Unstaged),
            _ => match s.strip_prefix("base:") {
                Some(r) => check_ref(r)
                    .map(|()| Self::Base(r.to_string()))
                    .map_err(|why| BadDiffSpec(format!("`{s}` is not a usable diff: {why}"))),
                None => Err(BadDiffSpec(format!(
                    "`{s}` is not a diff: use `staged` (what `git commit` would record), \
                     `unstaged` (edits not yet staged) or `base:<ref>` (everything since a \
                     branch, tag or commit, e.g. `base:main`)"
                ))),
            },
        }
    }
}

impl fmt::Display for DiffSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Staged => f.write_str("staged"),
            Self::Unstaged => f.write_str("unstaged"),
            Self::Base(r) => write!(f, "base:{r}"),
        }
    }
}

impl TryFrom<String> for DiffSpec {
    type Error = BadDiffSpec;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DiffSpec> for String {
    fn from(d: DiffSpec) -> Self {
        d.to_string()
    }
}

// A plain string in tool schemas: the parser's message explains a wrong value better than a
// pattern a client would check.
impl schemars::JsonSchema for DiffSpec {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DiffSpec".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

/// The longest ref accepted; real branch names are far shorter.
pub(crate) const MAX_REF_CHARS: usize = 200;

/// Whether `r` may be handed to git as the base of a diff: roughly git's `check-ref-format`,
/// plus the revision suffixes people use (`HEAD~2`, `main^`, `@{u}`), and nothing git would
/// read as an option, a range (`a..b`) or a file inside a commit (`HEAD:.env`).
///
/// # Errors
/// What is wrong with the ref, in words.
pub(crate) fn check_ref(r: &str) -> Result<(), String> {
    if r.is_empty() {
        return Err("name a branch, tag or commit after `base:`, e.g. `base:main`".into());
    }
    if r.chars().count() > MAX_REF_CHARS {
        return Err(format!("a ref has at most {MAX_REF_CHARS} characters"));
    }
    if r.starts_with('-') {
        return Err("a ref may not start with `-` (git would read it as an option)".into());
    }
    if r.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a ref may not contain spaces or control characters".into());
    }
    if r.contains("..") {
        return Err("give one ref (the base), not a range: `..` is not allowed".into());
    }
    if r.contains(':') {
        return Err("a ref may not contain `:` (it would name a file inside a commit)".into());
    }
    if let Some(c) = r
        .chars()
        .find(|c| !(c.is_alphanumeric() || "/._-~^@{}+".contains(*c)))
    {
        return Err(format!(
            "`{c}` is not allowed in a ref; use letters, digits and `/ . _ - ~ ^ @ {{ }} +`"
        ));
    }
    if r.starts_with('/')
        || r.ends_with('/')
        || r.ends_with('.')
        || r.ends_with(".lock")
        || r.contains("//")
        || r.split('/').any(|part| part.starts_with('.'))
    {
        return Err(
            "not a ref git accepts: no leading or trailing `/`, no `//`, no part starting with \
             `.`, no trailing `.` or `.lock`"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        for s in [
            "staged",
            "unstaged",
            "base:main",
            "base:HEAD~2",
            "base:origin/main",
            "base:v1.2",
            "base:0123abcd",
            "base:HEAD^",
            "base:@{u}",
        ] {
            let d: DiffSpec = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(d.to_string(), s);
        }
        assert_eq!(
            "base:main".parse::<DiffSpec>(),
            Ok(DiffSpec::Base("main".into()))
        );
        let d: DiffSpec = serde_json::from_str("\"staged\"").unwrap();
        assert_eq!(d, DiffSpec::Staged);
        assert_eq!(
            serde_json::to_string(&DiffSpec::Base("main".into())).unwrap(),
            "\"base:main\""
        );
    }

    #[test]
    fn unknown_values_and_unsafe_refs_are_refused_with_a_reason() {
        let err = |s: &str| s.parse::<DiffSpec>().unwrap_err().0;
        assert!(err("cached").contains("use `staged`"), "{}", err("cached"));
        assert!(err("Staged").contains("is not a diff"));
        for (bad, says) in [
            ("base:", "after `base:`"),
            ("base:--output=/tmp/x", "start with `-`"),
            ("base:main feature", "spaces"),
            ("base:main\u{7}", "control"),
            ("base:main..feature", "range"),
            ("base:HEAD:.env", "inside a commit"),
            ("base:ma*in", "`*` is not allowed"),
            ("base:a\\b", "is not allowed"),
            ("base:/main", "leading"),
            ("base:main/", "trailing"),
            ("base:refs/.hidden", "starting with `.`"),
            ("base:main.lock", ".lock"),
        ] {
            let e = err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
        let long = format!("base:{}", "a".repeat(MAX_REF_CHARS + 1));
        assert!(err(&long).contains("at most 200"));
        assert!(serde_json::from_str::<DiffSpec>("\"base:-x\"").is_err());
    }
}
