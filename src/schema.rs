//! Output schemas: parsed and checked once (meta-schema, no remote `$ref`), with findings that
//! point at the offending place in the JSON file.

use std::sync::Arc;

use serde_json::Value;

use crate::diagnostic::{Diagnostic, Rule};
use crate::source::{SourceFile, Span};

const KNOWN_DRAFTS: &[&str] = &[
    "https://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2019-09/schema",
    "http://json-schema.org/draft-07/schema",
    "http://json-schema.org/draft-06/schema",
    "http://json-schema.org/draft-04/schema",
];

/// Parses and checks a schema file. Returns the schema when it is usable.
pub(crate) fn check(source: &Arc<SourceFile>, diags: &mut Vec<Diagnostic>) -> Option<Value> {
    let text = &*source.text;
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(err) => {
            let at =
                source.line_start(err.line()) + char_col_to_byte(source, err.line(), err.column());
            diags.push(
                Diagnostic::new(
                    Rule::BadSchema,
                    source,
                    Span::new(at, (at + 1).min(text.len())),
                    format!("not valid JSON: {err}"),
                )
                .with_help("a schema file holds one JSON object"),
            );
            return None;
        }
    };
    let before = diags.len();
    if !value.is_object() && !value.is_boolean() {
        diags.push(Diagnostic::new(
            Rule::BadSchema,
            source,
            Span::new(0, text.len().min(1)),
            "a schema must be a JSON object",
        ));
        return None;
    }
    let mut refs = Vec::new();
    remote_refs(&value, "", &mut refs);
    for (pointer, target) in refs {
        diags.push(
            Diagnostic::new(
                Rule::BadSchema,
                source,
                locate(text, &pointer),
                format!("`$ref` to `{target}` leaves this file"),
            )
            .with_help("maestro never fetches schemas: use a local reference like `#/$defs/name`"),
        );
    }
    if let Some(draft) = value.get("$schema").and_then(Value::as_str) {
        let bare = draft.trim_end_matches('#');
        if !KNOWN_DRAFTS.contains(&bare) {
            diags.push(
                Diagnostic::new(
                    Rule::BadSchema,
                    source,
                    locate(text, "/$schema"),
                    format!("unknown `$schema` `{draft}`"),
                )
                .with_help("use \"https://json-schema.org/draft/2020-12/schema\""),
            );
            return None;
        }
    }
    // The meta-schema check runs beside the `$ref` findings, so a person sees every problem at
    // once; a compile error other than the meta-schema's is only news when nothing else was.
    match compile(&value) {
        Ok(_) => {}
        Err(Refusal::Invalid(violations)) => {
            for v in violations {
                diags.push(
                    Diagnostic::new(
                        Rule::BadSchema,
                        source,
                        locate(text, &v.pointer),
                        format!(
                            "not a valid JSON Schema at `{}`: {}",
                            display_pointer(&v.pointer),
                            v.reason
                        ),
                    )
                    .with_help("check the keyword against the JSON Schema 2020-12 specification"),
                );
            }
        }
        Err(Refusal::Other(err)) => {
            if diags.len() == before {
                diags.push(Diagnostic::new(
                    Rule::BadSchema,
                    source,
                    Span::new(0, 1),
                    format!("the schema does not compile: {err}"),
                ));
            }
        }
    }
    (diags.len() == before).then_some(value)
}

/// Where the schema is registered inside the validator. A URN rather than a file URL, so that a
/// relative `$ref` can never turn into a path on this machine.
const ROOT: &str = "urn:maestro:schema";

/// A compiled output schema. `boon` validates every draft from 4 to 2020-12 and is a fraction
/// of the build time of the alternatives (install time is a user-facing number).
pub struct Validator {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

/// One place where a value breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the value ("" for the whole value).
    pub pointer: String,
    /// What is wrong there, in words.
    pub reason: String,
}

/// Why a schema did not compile.
#[derive(Debug)]
pub enum Refusal {
    /// The schema breaks its meta-schema; pointers are into the schema.
    Invalid(Vec<Violation>),
    /// Anything else: an unknown draft, a reference that cannot resolve, a bad pattern.
    Other(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(violations) => {
                let first = violations.first();
                write!(
                    f,
                    "not a valid JSON Schema at `{}`: {}",
                    display_pointer(first.map_or("", |v| v.pointer.as_str())),
                    first.map_or("", |v| v.reason.as_str())
                )
            }
            Self::Other(err) => f.write_str(err),
        }
    }
}

/// Refuses every load: maestro never fetches a schema, from the network or from a file.
struct NoLoader;

impl boon::UrlLoader for NoLoader {
    fn load(&self, url: &str) -> Result<Value, Box<dyn std::error::Error>> {
        Err(format!("`{url}` is not in this file, and maestro never fetches schemas").into())
    }
}

/// Compiles a schema for validating outputs, checking it against its meta-schema first.
///
/// # Errors
/// When the schema is invalid or refers outside itself.
pub fn compile(schema: &Value) -> Result<Validator, Refusal> {
    let mut compiler = boon::Compiler::new();
    compiler.use_loader(Box::new(NoLoader));
    let mut schemas = boon::Schemas::new();
    compiler
        .add_resource(ROOT, schema.clone())
        .map_err(|e| Refusal::Other(e.to_string()))?;
    match compiler.compile(ROOT, &mut schemas) {
        Ok(index) => Ok(Validator { schemas, index }),
        Err(boon::CompileError::ValidationError { src, .. }) => {
            Err(Refusal::Invalid(violations_of(&src)))
        }
        Err(
            boon::CompileError::LoadUrlError { url, .. }
            | boon::CompileError::ParseUrlError { url, .. }
            | boon::CompileError::UnsupportedUrlScheme { url },
        ) => Err(Refusal::Other(format!(
            "`{url}` is outside this schema, and maestro never fetches schemas"
        ))),
        Err(err) => Err(Refusal::Other(err.to_string())),
    }
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Validator")
    }
}

impl Validator {
    /// Every place where `value` breaks the schema; empty when it conforms.
    #[must_use]
    pub fn violations(&self, value: &Value) -> Vec<Violation> {
        match self.schemas.validate(value, self.index) {
            Ok(()) => Vec::new(),
            Err(err) => violations_of(&err),
        }
    }
}

/// The leaves of boon's error tree, each with the pointer of the value it is about. A failed
/// `anyOf`/`oneOf` is one violation: listing why each alternative failed buries the point.
fn violations_of(err: &boon::ValidationError<'_, '_>) -> Vec<Violation> {
    let mut out = Vec::new();
    leaves(err, &mut out);
    out
}

fn leaves(err: &boon::ValidationError<'_, '_>, out: &mut Vec<Violation>) {
    use boon::ErrorKind;
    let reason = match &err.kind {
        ErrorKind::AnyOf => Some(none_matched("anyOf", err)),
        ErrorKind::OneOf(None) => Some(none_matched("oneOf", err)),
        ErrorKind::OneOf(Some((i, j))) => Some(format!(
            "matches `oneOf` alternatives {i} and {j}; exactly one must match"
        )),
        ErrorKind::Not => Some("matches the schema under `not`".to_string()),
        ErrorKind::FalseSchema => Some("no value is allowed here".to_string()),
        _ if err.causes.is_empty() => Some(err.kind.to_string()),
        _ => None,
    };
    match reason {
        Some(reason) => out.push(Violation {
            pointer: err.instance_location.to_string(),
            reason,
        }),
        None => {
            for cause in &err.causes {
                leaves(cause, out);
            }
        }
    }
}

/// "matches none of the `anyOf` alternatives (the first: value must be one of …)": the first
/// alternative's reason is usually the one a person meant.
fn none_matched(keyword: &str, err: &boon::ValidationError<'_, '_>) -> String {
    let mut first = Vec::new();
    if let Some(cause) = err.causes.first() {
        leaves(cause, &mut first);
    }
    match first.first() {
        Some(v) => format!(
            "matches none of the `{keyword}` alternatives (the first: {})",
            v.reason
        ),
        None => format!("matches none of the `{keyword}` alternatives"),
    }
}

fn display_pointer(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}

fn char_col_to_byte(source: &SourceFile, line: usize, col: usize) -> usize {
    let start = source.line_start(line);
    source.text[start..]
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(0, |(i, _)| i)
}

fn remote_refs(v: &Value, pointer: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                if (k == "$ref" || k == "$dynamicRef")
                    && child.as_str().is_some_and(|r| !r.starts_with('#'))
                {
                    out.push((p.clone(), child.as_str().unwrap_or_default().to_string()));
                }
                remote_refs(child, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                remote_refs(child, &format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The span of the value at a JSON pointer in the JSON text (the whole text if not found).
#[must_use]
pub(crate) fn locate(text: &str, pointer: &str) -> Span {
    let tokens: Vec<String> = if pointer.is_empty() {
        Vec::new()
    } else {
        pointer
            .trim_start_matches('/')
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    };
    let mut loc = Locator {
        b: text.as_bytes(),
        i: 0,
    };
    loc.find(&tokens).unwrap_or(Span::new(0, text.len().min(1)))
}

struct Locator<'a> {
    b: &'a [u8],
    i: usize,
}

impl Locator<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    /// Skips one value and returns its span.
    fn skip(&mut self) -> Option<Span> {
        self.ws();
        let start = self.i;
        match *self.b.get(self.i)? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                while self.i < self.b.len() {
                    match self.b[self.i] {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
                Some(())
            }
            _ => {
                while self.i < self.b.len()
                    && !matches!(self.b[self.i], b',' | b'}' | b']')
                    && !self.b[self.i].is_ascii_whitespace()
                {
                    self.i += 1;
                }
                Some(())
            }
        }?;
        Some(Span::new(start, self.i))
    }

    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.i += 1;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    let raw = std::str::from_utf8(&self.b[start..self.i]).ok()?;
                    return serde_json::from_str(raw).ok();
                }
                _ => self.i += 1,
            }
        }
        None
    }

    fn find(&mut self, tokens: &[String]) -> Option<Span> {
        self.ws();
        let Some((first, rest)) = tokens.split_first() else {
            return self.skip();
        };
        match *self.b.get(self.i)? {
            b'{' => {
                self.i += 1;
                loop {
                    self.ws();
                    if self.b.get(self.i) == Some(&b'}') {
                        return None;
                    }
                    let key_start = self.i;
                    let key = self.string()?;
                    let key_end = self.i;
                    self.ws();
                    self.i += 1; // ':'
                    if &key == first {
                        if rest.is_empty() {
                            // Point at the key: that is where a person reads the property.
                            return Some(Span::new(key_start, key_end));
                        }
                        return self.find(rest);
                    }
                    self.skip()?;
                    self.ws();
                    if self.b.get(self.i) == Some(&b',') {
                        self.i += 1;
                    }
                }
            }
            b'[' => {
                let want: usize = first.parse().ok()?;
                self.i += 1;
                for _ in 0..want {
                    self.skip()?;
                    self.ws();
                    if self.b.get(self.i) != Some(&b',') {
                        return None;
                    }
                    self.i += 1;
                }
                self.find(rest)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_keys_and_items() {
        let text = "{\n  \"a\": {\"b\": [1, {\"c\": 2}]},\n  \"d\": \"x\"\n}";
        let s = locate(text, "/a/b/1/c");
        assert_eq!(&text[s.start..s.end], "\"c\"");
        let s = locate(text, "/d");
        assert_eq!(&text[s.start..s.end], "\"d\"");
        assert_eq!(locate(text, "/zz"), Span::new(0, 1));
    }

    #[test]
    fn bad_schemas_are_findings() {
        let src = Arc::new(SourceFile::new(
            "s.json",
            "{\"type\": \"strin\", \"properties\": {\"a\": {\"$ref\": \"https://x/y.json\"}}}",
        ));
        let mut diags = Vec::new();
        assert!(check(&src, &mut diags).is_none());
        assert!(diags.iter().any(|d| d.message.contains("leaves this file")));
        assert!(
            diags.iter().any(|d| d.message.contains("at `/type`")),
            "{diags:?}"
        );
        assert!(diags.iter().all(|d| d.rule == Rule::BadSchema));
        let src = Arc::new(SourceFile::new("s.json", "{\"type\": \"object\",}"));
        let mut diags = Vec::new();
        assert!(check(&src, &mut diags).is_none());
        assert!(diags[0].message.contains("not valid JSON"));
    }

    #[test]
    fn violations_name_each_place_and_what_is_wrong() {
        let v = compile(&serde_json::json!({
            "type": "object",
            "required": ["a", "b"],
            "properties": {
                "a": {"type": "string"},
                "n": {"type": "integer", "minimum": 1},
                "x/y": {"enum": ["p", "q"]},
                "k": {"anyOf": [{"type": "string"}, {"type": "null"}]}
            }
        }))
        .unwrap();
        assert!(
            v.violations(&serde_json::json!({"a": "x", "b": 1}))
                .is_empty()
        );
        let found = v.violations(&serde_json::json!({"a": 3, "n": 0, "x/y": "z", "k": 1}));
        let at = |p: &str| {
            found
                .iter()
                .find(|v| v.pointer == p)
                .unwrap_or_else(|| panic!("{p} in {found:?}"))
                .reason
                .clone()
        };
        assert!(at("").contains("'b'"), "{found:?}");
        assert!(at("/a").contains("string"), "{found:?}");
        assert!(at("/n").contains(">=1"), "{found:?}");
        assert!(at("/x~1y").contains("'p'"), "{found:?}");
        assert!(
            at("/k").contains("anyOf") && at("/k").contains("want string"),
            "{found:?}"
        );
        assert_eq!(found.len(), 5, "{found:?}");
    }

    #[test]
    fn a_reference_outside_the_schema_never_loads() {
        // A relative reference must not become a file read, nor an absolute one a fetch.
        let dir = std::env::temp_dir().join(format!("maestro-schema-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let other = dir.join("other.json");
        std::fs::write(&other, "{\"type\": \"string\"}").unwrap();
        for target in [
            "other.json".to_string(),
            format!("file://{}", other.display()),
            "https://example.com/s.json".to_string(),
        ] {
            let err = compile(&serde_json::json!({"$ref": target})).err();
            assert!(
                matches!(&err, Some(Refusal::Other(m)) if m.contains("never fetches")),
                "{target}: {err:?}"
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn an_invalid_keyword_points_into_the_schema() {
        let src = Arc::new(SourceFile::new(
            "s.json",
            "{\n  \"type\": \"object\",\n  \"properties\": {\"a\": {\"type\": \"strin\"}}\n}",
        ));
        let mut diags = Vec::new();
        assert!(check(&src, &mut diags).is_none());
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(
            diags[0].message.contains("/properties/a/type"),
            "{}",
            diags[0].message
        );
        assert_eq!(
            &src.text[diags[0].span.start..diags[0].span.end],
            "\"type\""
        );
    }

    #[test]
    fn good_schema_passes() {
        let src = Arc::new(SourceFile::new(
            "s.json",
            r##"{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}, "$defs": {"x": {"type": "string"}}}"##,
        ));
        let mut diags = Vec::new();
        assert!(check(&src, &mut diags).is_some(), "{diags:?}");
    }
}
