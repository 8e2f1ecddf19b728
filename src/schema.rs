//! Output schemas: parsed and checked once (meta-schema, no remote `$ref`), with findings that
//! point at the offending place in the JSON file.

use std::sync::Arc;

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::lint::registry::Rule;
use crate::source::{SourceFile, Span};

const KNOWN_DRAFTS: &[&str] = &[
    "https://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2019-09/schema",
    "http://json-schema.org/draft-07/schema",
    "http://json-schema.org/draft-06/schema",
    "http://json-schema.org/draft-04/schema",
];

/// Parses and checks a schema file. Returns the schema when it is usable.
pub fn check(source: &Arc<SourceFile>, diags: &mut Vec<Diagnostic>) -> Option<Value> {
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
    remote_refs(&value, String::new(), &mut refs);
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
    match jsonschema::meta::validator_for(&value) {
        Ok(meta) => {
            for err in meta.iter_errors(&value) {
                let pointer = err.instance_path().to_string();
                diags.push(
                    Diagnostic::new(
                        Rule::BadSchema,
                        source,
                        locate(text, &pointer),
                        format!(
                            "not a valid JSON Schema at `{}`: {err}",
                            display_pointer(&pointer)
                        ),
                    )
                    .with_help("check the keyword against the JSON Schema 2020-12 specification"),
                );
            }
        }
        Err(err) => diags.push(Diagnostic::new(
            Rule::BadSchema,
            source,
            Span::new(0, 1),
            format!("cannot load the meta-schema: {err}"),
        )),
    }
    if diags.len() == before
        && let Err(err) = compile(&value)
    {
        diags.push(Diagnostic::new(
            Rule::BadSchema,
            source,
            Span::new(0, 1),
            format!("the schema does not compile: {err}"),
        ));
    }
    (diags.len() == before).then_some(value)
}

/// Compiles a schema for validating outputs. Remote references cannot resolve: the crate is
/// built without its HTTP and file resolvers.
///
/// # Errors
/// When the schema is invalid.
pub fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(schema).map_err(|e| e.to_string())
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

fn remote_refs(v: &Value, pointer: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                if (k == "$ref" || k == "$dynamicRef")
                    && child.as_str().is_some_and(|r| !r.starts_with('#'))
                {
                    out.push((p.clone(), child.as_str().unwrap_or_default().to_string()));
                }
                remote_refs(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                remote_refs(child, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The span of the value at a JSON pointer in the JSON text (the whole text if not found).
#[must_use]
pub fn locate(text: &str, pointer: &str) -> Span {
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
        assert!(diags.iter().all(|d| d.rule == Rule::BadSchema));
        let src = Arc::new(SourceFile::new("s.json", "{\"type\": \"object\",}"));
        let mut diags = Vec::new();
        assert!(check(&src, &mut diags).is_none());
        assert!(diags[0].message.contains("not valid JSON"));
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
