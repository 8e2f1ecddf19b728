//! KDL 2.0 tokens: strings (identifier, quoted, raw, multi-line), numbers, keywords,
//! punctuation, spaces and comments.
//!
//! One forward pass with no recursion: block comments nest by a counter, and every loop advances
//! by at least one character, so any input is lexed in linear time and constant stack.

use crate::source::Span;
use crate::syntax::ast::Value;

/// A problem in the text, with what to do about it.
#[derive(Debug, Clone)]
pub(super) struct SyntaxError {
    pub(super) span: Span,
    pub(super) message: String,
    pub(super) help: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// Unicode spaces, block comments and line continuations (`\` + newline): node-space.
    Space,
    /// A newline, or a `//` comment with its newline: ends a node.
    Newline,
    Semi,
    LBrace,
    RBrace,
    LParen,
    RParen,
    Eq,
    Slashdash,
    /// A string, number or keyword. `string` for the string forms, which may also be names.
    /// `bad`: the lexer already reported a problem with it; the parser stays quiet about it.
    Value {
        value: Value,
        string: bool,
        bad: bool,
    },
    /// Something that starts no token (already reported).
    Bad,
    Eof,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) span: Span,
}

pub(super) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    pub(super) errors: Vec<SyntaxError>,
}

const KEYWORD_HELP: &str = "KDL 2.0 keywords are #true, #false, #null, #inf, #-inf and #nan";

fn is_newline(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0085}' | '\u{000B}' | '\u{000C}' | '\u{2028}' | '\u{2029}'
    )
}

fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | ' ' | '\u{00A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// Code points KDL forbids anywhere in a document (the BOM only at the very start).
fn is_disallowed(c: char) -> bool {
    matches!(c,
        '\u{0000}'..='\u{0008}'
        | '\u{000E}'..='\u{001F}'
        | '\u{007F}'
        | '\u{200E}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
    )
}

fn is_ident_char(c: char) -> bool {
    !(is_space(c)
        || is_newline(c)
        || is_disallowed(c)
        || matches!(
            c,
            '\\' | '/' | '(' | ')' | '{' | '}' | '[' | ']' | ';' | '"' | '#' | '='
        ))
}

fn describe(c: char) -> String {
    if c.is_control() || is_disallowed(c) {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("`{c}`")
    }
}

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        // A byte-order mark may start the document.
        let pos = if text.starts_with('\u{FEFF}') { 3 } else { 0 };
        Self {
            text,
            pos,
            errors: Vec::new(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn error(&mut self, span: Span, message: impl Into<String>, help: Option<&str>) {
        self.errors.push(SyntaxError {
            span,
            message: message.into(),
            help: help.map(str::to_string),
        });
    }

    /// Consumes one newline (CRLF counts as one); false if there is none here.
    fn newline(&mut self) -> bool {
        match self.peek() {
            Some('\r') => {
                self.pos += 1;
                if self.peek() == Some('\n') {
                    self.pos += 1;
                }
                true
            }
            Some(c) if is_newline(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    /// Consumes a block comment starting at `/*`, however deeply nested, with a counter.
    fn block_comment(&mut self) {
        let start = self.pos;
        self.pos += 2;
        let mut depth = 1usize;
        while depth > 0 {
            let rest = self.rest();
            if rest.is_empty() {
                self.error(
                    Span::new(start, start + 2),
                    "this comment is never closed",
                    Some("end it with `*/`; comments nest, so each `/*` inside needs its own `*/`"),
                );
                return;
            }
            if rest.starts_with("*/") {
                depth -= 1;
                self.pos += 2;
            } else if rest.starts_with("/*") {
                depth += 1;
                self.pos += 2;
            } else {
                self.bump();
            }
        }
    }

    /// Unicode spaces and block comments.
    fn spaces(&mut self) {
        loop {
            match self.peek() {
                Some(c) if is_space(c) => {
                    self.bump();
                }
                Some('/') if self.peek2() == Some('*') => self.block_comment(),
                _ => return,
            }
        }
    }

    /// The rest of a `//` comment, up to and including its newline.
    fn line_comment(&mut self) {
        while let Some(c) = self.peek() {
            if is_newline(c) {
                self.newline();
                return;
            }
            self.bump();
        }
    }

    pub(super) fn next_token(&mut self) -> Token {
        let start = self.pos;
        let tok = self.token(start);
        Token {
            tok,
            span: Span::new(start, self.pos),
        }
    }

    fn token(&mut self, start: usize) -> Tok {
        let Some(c) = self.peek() else {
            return Tok::Eof;
        };
        let punct = |lx: &mut Self, tok: Tok| {
            lx.pos += 1;
            tok
        };
        match c {
            c if is_space(c) => {
                self.spaces();
                Tok::Space
            }
            c if is_newline(c) => {
                self.newline();
                Tok::Newline
            }
            '/' => match self.peek2() {
                Some('*') => {
                    self.spaces();
                    Tok::Space
                }
                Some('/') => {
                    self.line_comment();
                    Tok::Newline
                }
                Some('-') => {
                    self.pos += 2;
                    Tok::Slashdash
                }
                _ => {
                    self.pos += 1;
                    self.error(
                        Span::new(start, self.pos),
                        "unexpected `/`",
                        Some("comments start with `//` or `/*`, and `/-` comments out what follows; quote text that holds a `/`"),
                    );
                    Tok::Bad
                }
            },
            '\\' => {
                self.escline(start);
                Tok::Space
            }
            ';' => punct(self, Tok::Semi),
            '{' => punct(self, Tok::LBrace),
            '}' => punct(self, Tok::RBrace),
            '(' => punct(self, Tok::LParen),
            ')' => punct(self, Tok::RParen),
            '=' => punct(self, Tok::Eq),
            '"' => self.quoted(start),
            '#' => self.hash(start),
            '[' | ']' => {
                self.pos += 1;
                self.error(
                    Span::new(start, self.pos),
                    format!("unexpected `{c}`: KDL has no lists"),
                    Some("give several values instead, like `prefer \"codex\" \"gemini\"`"),
                );
                Tok::Bad
            }
            c if is_ident_char(c) => self.bare(start),
            c => {
                self.bump();
                self.error(
                    Span::new(start, self.pos),
                    format!("{} may not appear in a KDL document", describe(c)),
                    Some("remove it; inside a string, write it as an escape like \\u{7}"),
                );
                Tok::Bad
            }
        }
    }

    /// `\` continues a node on the next line: only spaces or a comment may follow it.
    fn escline(&mut self, start: usize) {
        self.pos += 1;
        self.spaces();
        match self.peek() {
            None => {}
            Some('/') if self.peek2() == Some('/') => self.line_comment(),
            Some(c) if is_newline(c) => {
                self.newline();
            }
            Some(_) => self.error(
                Span::new(start, start + 1),
                "`\\` continues a node on the next line, so only spaces or a comment may follow it",
                Some("end the line after `\\`, or quote the text that holds it"),
            ),
        }
    }

    /// An identifier, a number, or a bare keyword KDL 2.0 no longer accepts.
    fn bare(&mut self, start: usize) -> Tok {
        while self.peek().is_some_and(is_ident_char) {
            self.bump();
        }
        let word = &self.text[start..self.pos];
        let span = Span::new(start, self.pos);
        let unsigned = word.strip_prefix(['+', '-']).unwrap_or(word);
        if unsigned.starts_with(|c: char| c.is_ascii_digit()) {
            return match number(word) {
                Ok(value) => Tok::Value {
                    value,
                    string: false,
                    bad: false,
                },
                Err(why) => {
                    self.error(
                        span,
                        format!("`{word}` is not a number: {why}"),
                        Some("numbers look like 42, -7, 1_000, 0.5, 1e3 or 0xff; quote text that starts with a digit"),
                    );
                    Tok::Value {
                        value: Value::Null,
                        string: false,
                        bad: true,
                    }
                }
            };
        }
        if unsigned.starts_with('.') && unsigned[1..].starts_with(|c: char| c.is_ascii_digit()) {
            self.error(
                span,
                format!("`{word}` is not a number"),
                Some("write a digit before the point, like 0.5"),
            );
            return Tok::Value {
                value: Value::Null,
                string: false,
                bad: true,
            };
        }
        if let Some(kw) = ["true", "false", "null", "inf", "-inf", "nan"]
            .into_iter()
            .find(|k| *k == word)
        {
            self.error(
                span,
                format!("bare `{kw}` is not a value in KDL 2.0"),
                Some(if kw == "true" || kw == "false" || kw == "null" {
                    "maestro reads KDL 2.0: booleans are #true/#false and null is #null"
                } else {
                    "write the keyword with `#` (like #inf), or quote it as a string"
                }),
            );
            return Tok::Value {
                value: Value::String(word.to_string()),
                string: true,
                bad: true,
            };
        }
        Tok::Value {
            value: Value::String(word.to_string()),
            string: true,
            bad: false,
        }
    }

    /// `#true`-style keywords, or a raw string `#"..."#`.
    fn hash(&mut self, start: usize) -> Tok {
        let hashes = self.rest().bytes().take_while(|&b| b == b'#').count();
        if self.rest()[hashes..].starts_with('"') {
            return self.raw(start, hashes);
        }
        self.pos += 1;
        while self.peek().is_some_and(is_ident_char) {
            self.bump();
        }
        let word = &self.text[start..self.pos];
        let value = match word {
            "#true" => Value::Bool(true),
            "#false" => Value::Bool(false),
            "#null" => Value::Null,
            "#inf" => Value::Float(f64::INFINITY),
            "#-inf" => Value::Float(f64::NEG_INFINITY),
            "#nan" => Value::Float(f64::NAN),
            _ => {
                if word == "#" && self.peek() == Some('#') {
                    // `##` not followed by a quote: step over the run of hashes.
                    while self.peek() == Some('#') {
                        self.bump();
                    }
                }
                let word = &self.text[start..self.pos];
                self.error(
                    Span::new(start, self.pos),
                    format!("`{word}` is not a KDL keyword"),
                    Some(KEYWORD_HELP),
                );
                return Tok::Value {
                    value: Value::Null,
                    string: false,
                    bad: true,
                };
            }
        };
        Tok::Value {
            value,
            string: false,
            bad: false,
        }
    }

    fn string_tok(value: String, bad: bool) -> Tok {
        Tok::Value {
            value: Value::String(value),
            string: true,
            bad,
        }
    }

    /// `"..."` on one line, or `"""` + newline ... `"""`.
    fn quoted(&mut self, start: usize) -> Tok {
        if self.rest().starts_with("\"\"\"") {
            let after = self.rest()[3..].chars().next();
            if after.is_some_and(is_newline) {
                return self.multi_line(start, 0);
            }
            self.pos += 3;
            self.error(
                Span::new(start, self.pos),
                "a multi-line string starts with `\"\"\"` followed by a newline",
                Some("put the text on the lines after `\"\"\"`, and the closing `\"\"\"` on a line of its own"),
            );
            self.skip_line();
            return Self::string_tok(String::new(), true);
        }
        self.pos += 1;
        let body_start = self.pos;
        loop {
            match self.peek() {
                Some('"') => break,
                Some('\\') => {
                    self.bump();
                    if self.peek().is_some_and(|c| is_space(c) || is_newline(c)) {
                        while self.peek().is_some_and(|c| is_space(c) || is_newline(c)) {
                            self.bump();
                        }
                    } else {
                        self.bump();
                    }
                }
                None => {
                    self.error(
                        Span::new(start, start + 1),
                        "this string is never closed",
                        Some("end it with `\"`"),
                    );
                    return Self::string_tok(String::new(), true);
                }
                Some(c) if is_newline(c) => {
                    self.error(
                        Span::new(start, start + 1),
                        "this string is not closed before the end of the line",
                        Some("end it with `\"` on the same line; for text over several lines, write `\"\"\"`, a newline, the lines, and `\"\"\"` on a line of its own"),
                    );
                    return Self::string_tok(String::new(), true);
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
        let body = &self.text[body_start..self.pos];
        self.pos += 1;
        let (value, ok) = self.unescape(body, body_start, Span::new(start, self.pos));
        Self::string_tok(value, !ok)
    }

    /// Skips to the end of the line (for recovery after a malformed opening).
    fn skip_line(&mut self) {
        while self.peek().is_some_and(|c| !is_newline(c)) {
            self.bump();
        }
    }

    /// `#"..."#` (any number of hashes), or its multi-line form.
    fn raw(&mut self, start: usize, hashes: usize) -> Tok {
        let after_quotes = self.rest()[hashes..].strip_prefix("\"\"\"");
        if after_quotes.is_some_and(|r| r.chars().next().is_some_and(is_newline)) {
            return self.multi_line(start, hashes);
        }
        self.pos += hashes + 1;
        let body_start = self.pos;
        let close = format!("\"{}", "#".repeat(hashes));
        loop {
            if self.rest().starts_with(&close) {
                break;
            }
            match self.peek() {
                None => {
                    self.error(
                        Span::new(start, body_start),
                        "this raw string is never closed",
                        Some("end it with `\"` and as many `#` as it starts with"),
                    );
                    return Self::string_tok(String::new(), true);
                }
                Some(c) if is_newline(c) => {
                    self.error(
                        Span::new(start, body_start),
                        "this raw string is not closed before the end of the line",
                        Some("end it with `\"` and as many `#` as it starts with; for several lines, use `#\"\"\"`"),
                    );
                    return Self::string_tok(String::new(), true);
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
        let body = &self.text[body_start..self.pos];
        self.pos += close.len();
        let ok = self.check_allowed(body, body_start);
        Self::string_tok(body.to_string(), !ok)
    }

    /// Reports code points KDL forbids inside a string; false if there were any.
    fn check_allowed(&mut self, body: &str, offset: usize) -> bool {
        let mut ok = true;
        for (i, c) in body.char_indices() {
            if is_disallowed(c) {
                ok = false;
                self.error(
                    Span::new(offset + i, offset + i + c.len_utf8()),
                    format!("{} may not appear in a string", describe(c)),
                    Some("write it as an escape like \\u{7} in a quoted string"),
                );
            }
        }
        ok
    }

    /// `"""` (or `#"""`) + newline, lines, then `"""` alone on its line after the indentation
    /// every line shares. The indentation of the closing line is removed from each line.
    fn multi_line(&mut self, start: usize, hashes: usize) -> Tok {
        let raw = hashes > 0;
        let open_len = hashes + 3;
        let open = Span::new(start, start + open_len);
        self.pos += open_len;
        self.newline();
        let body_start = self.pos;
        let close = format!("\"\"\"{}", "#".repeat(hashes));
        // Find the closing quotes; escapes may hide a quote in the quoted form.
        loop {
            if self.rest().starts_with(&close) {
                break;
            }
            match self.peek() {
                None => {
                    self.error(
                        open,
                        "this multi-line string is never closed",
                        Some("end it with `\"\"\"` on a line of its own"),
                    );
                    return Self::string_tok(String::new(), true);
                }
                Some('\\') if !raw => {
                    self.bump();
                    self.bump();
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
        let body = &self.text[body_start..self.pos];
        self.pos += close.len();
        let whole = Span::new(start, self.pos);
        // Split into lines; the last one holds only the indentation before the closing quotes.
        let mut lines: Vec<(usize, &str)> = Vec::new();
        let mut line_start = 0;
        let mut i = 0;
        while i < body.len() {
            let c = body[i..].chars().next().unwrap_or('\n');
            if is_newline(c) {
                lines.push((line_start, &body[line_start..i]));
                i += if body[i..].starts_with("\r\n") {
                    2
                } else {
                    c.len_utf8()
                };
                line_start = i;
            } else {
                i += c.len_utf8();
            }
        }
        let prefix = &body[line_start..];
        if !prefix.chars().all(is_space) {
            self.error(
                Span::new(body_start + line_start, self.pos),
                "the closing `\"\"\"` must be on a line of its own",
                Some("move the closing quotes to the next line, indented like the text"),
            );
            return Self::string_tok(String::new(), true);
        }
        let mut out = String::new();
        let mut ok = true;
        for (n, (at, line)) in lines.iter().enumerate() {
            if n > 0 {
                out.push('\n');
            }
            if line.chars().all(is_space) {
                continue;
            }
            match line.strip_prefix(prefix) {
                Some(rest) => out.push_str(rest),
                None => {
                    ok = false;
                    self.error(
                        Span::new(body_start + at, body_start + at + line.len()),
                        "this line of a multi-line string is not indented like its closing `\"\"\"`",
                        Some("every line must start with the same spaces as the line of the closing quotes"),
                    );
                }
            }
        }
        if !ok {
            return Self::string_tok(String::new(), true);
        }
        if raw {
            let ok = self.check_allowed(&out, start);
            return Self::string_tok(out, !ok);
        }
        let (value, ok) = self.unescape(&out, start, whole);
        Self::string_tok(value, !ok)
    }

    /// Resolves escapes. `offset` is where `body` starts in the text when it is a verbatim
    /// slice (single-line strings), so an error can point at the escape itself; for processed
    /// text the error points at `whole`.
    fn unescape(&mut self, body: &str, offset: usize, whole: Span) -> (String, bool) {
        let verbatim = self.text.get(offset..offset + body.len()) == Some(body);
        let place = |i: usize, len: usize| {
            if verbatim {
                Span::new(offset + i, offset + i + len)
            } else {
                whole
            }
        };
        let mut out = String::with_capacity(body.len());
        let mut ok = true;
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                if is_disallowed(c) {
                    ok = false;
                    self.error(
                        place(i, c.len_utf8()),
                        format!("{} may not appear in a string", describe(c)),
                        Some("write it as an escape like \\u{7}"),
                    );
                }
                out.push(c);
                continue;
            }
            let Some(&(_, e)) = chars.peek() else {
                ok = false;
                self.error(
                    place(i, 1),
                    "a `\\` ends the string",
                    Some("write `\\\\` for a backslash"),
                );
                break;
            };
            if is_space(e) || is_newline(e) {
                // A whitespace escape: the backslash and all the whitespace after it vanish.
                while chars
                    .peek()
                    .is_some_and(|&(_, w)| is_space(w) || is_newline(w))
                {
                    chars.next();
                }
                continue;
            }
            chars.next();
            let simple = match e {
                '"' => Some('"'),
                '\\' => Some('\\'),
                'b' => Some('\u{8}'),
                'f' => Some('\u{C}'),
                'n' => Some('\n'),
                'r' => Some('\r'),
                't' => Some('\t'),
                's' => Some(' '),
                _ => None,
            };
            if let Some(s) = simple {
                out.push(s);
                continue;
            }
            if e == 'u' && chars.peek().is_some_and(|&(_, b)| b == '{') {
                chars.next();
                let mut hex = String::new();
                let mut closed = false;
                while let Some(&(_, h)) = chars.peek() {
                    chars.next();
                    if h == '}' {
                        closed = true;
                        break;
                    }
                    hex.push(h);
                    if hex.len() > 6 {
                        break;
                    }
                }
                let decoded = (closed && (1..=6).contains(&hex.len()))
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32);
                match decoded {
                    Some(d) => out.push(d),
                    None => {
                        ok = false;
                        self.error(
                            place(i, 2 + hex.len() + 1),
                            "a `\\u{...}` escape needs one to six hex digits naming a character",
                            Some("like \\u{e9} for é"),
                        );
                    }
                }
                continue;
            }
            ok = false;
            self.error(
                place(i, 1 + e.len_utf8()),
                format!("unknown escape `\\{e}`"),
                Some("escapes are \\n \\t \\\" \\\\ \\r \\b \\f \\s and \\u{...}; write `\\\\` for a backslash"),
            );
        }
        (out, ok)
    }
}

/// A KDL number: decimal (with `_`, a fraction, an exponent), or `0x`, `0o`, `0b` integers.
fn number(word: &str) -> Result<Value, &'static str> {
    let (negative, body) = match word.as_bytes().first() {
        Some(b'-') => (true, &word[1..]),
        Some(b'+') => (false, &word[1..]),
        _ => (false, word),
    };
    let radix = match body.get(..2) {
        Some("0x") => Some(16),
        Some("0o") => Some(8),
        Some("0b") => Some(2),
        _ => None,
    };
    if let Some(radix) = radix {
        let digits = &body[2..];
        let first_ok = digits.chars().next().is_some_and(|c| c.is_digit(radix));
        if !first_ok || !digits.chars().all(|c| c == '_' || c.is_digit(radix)) {
            return Err("it has a digit that does not fit its base");
        }
        let clean: String = digits.chars().filter(|&c| c != '_').collect();
        let magnitude = u128::from_str_radix(&clean, radix).map_err(|_| "it is too large")?;
        return signed(negative, magnitude);
    }
    // digits (. digits)? ([eE] [+-]? digits)?
    let bytes = body.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        if !bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            return false;
        }
        while bytes
            .get(*i)
            .is_some_and(|b| b.is_ascii_digit() || *b == b'_')
        {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return Err("it must start with a digit");
    }
    let mut float = false;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        float = true;
        if !digits(&mut i) {
            return Err("a digit must follow the point");
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        float = true;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return Err("the exponent needs digits");
        }
    }
    if i != bytes.len() {
        return Err("it holds characters that are not digits");
    }
    let clean: String = word.chars().filter(|&c| c != '_').collect();
    if float {
        let f: f64 = clean.parse().map_err(|_| "it is malformed")?;
        if f.is_finite() {
            Ok(Value::Float(f))
        } else {
            Err("it is too large")
        }
    } else {
        let digits: String = body.chars().filter(|&c| c != '_').collect();
        let magnitude: u128 = digits.parse().map_err(|_| "it is too large")?;
        signed(negative, magnitude)
    }
}

fn signed(negative: bool, magnitude: u128) -> Result<Value, &'static str> {
    let v = if negative {
        0i128.checked_sub_unsigned(magnitude)
    } else {
        i128::try_from(magnitude).ok()
    };
    v.map(Value::Int).ok_or("it is too large")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> (Vec<Tok>, Vec<SyntaxError>) {
        let mut lx = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token();
            if t.tok == Tok::Eof {
                break;
            }
            out.push(t.tok);
        }
        (out, lx.errors)
    }

    fn value(text: &str) -> Value {
        let (t, errors) = toks(text);
        assert!(errors.is_empty(), "{text}: {errors:?}");
        match &t[..] {
            [Tok::Value { value, .. }] => value.clone(),
            other => panic!("{text}: {other:?}"),
        }
    }

    fn string(s: &str) -> Value {
        Value::String(s.into())
    }

    #[test]
    fn numbers() {
        assert_eq!(value("42"), Value::Int(42));
        assert_eq!(value("-1_000"), Value::Int(-1000));
        assert_eq!(value("+7"), Value::Int(7));
        assert_eq!(value("0xff"), Value::Int(255));
        assert_eq!(value("-0o17"), Value::Int(-15));
        assert_eq!(value("0b101"), Value::Int(5));
        assert_eq!(value("1.5"), Value::Float(1.5));
        assert_eq!(value("1e3"), Value::Float(1000.0));
        assert_eq!(value("2.5E-1"), Value::Float(0.25));
        assert_eq!(
            value("-170141183460469231731687303715884105728"),
            Value::Int(i128::MIN)
        );
        for bad in [
            "1a",
            "1.",
            "1.e5",
            "0x",
            "0xg",
            "1e",
            "1e999",
            "170141183460469231731687303715884105728",
            ".5",
        ] {
            let (_, errors) = toks(bad);
            assert_eq!(errors.len(), 1, "{bad}");
        }
    }

    #[test]
    fn strings_in_every_form() {
        assert_eq!(value("plain-ident"), string("plain-ident"));
        assert_eq!(value("-"), string("-"));
        assert_eq!(value(".x"), string(".x"));
        assert_eq!(value("한글"), string("한글"));
        assert_eq!(value(r#""a\"b\n\u{e9}\s""#), string("a\"b\né "));
        assert_eq!(value("\"a\\   \n   b\""), string("ab"));
        assert_eq!(
            value(r##"#"raw "quotes" \n"#"##),
            string(r#"raw "quotes" \n"#)
        );
        assert_eq!(value(r###"##"a "# b"##"###), string(r##"a "# b"##));
        assert_eq!(
            value("\"\"\"\n    one\n      two\n\n    three\n    \"\"\""),
            string("one\n  two\n\nthree")
        );
        assert_eq!(value("#\"\"\"\n  a\\n\n  \"\"\"#"), string("a\\n"));
        assert_eq!(value("\"\"\"\n  \"\"\""), string(""));
    }

    #[test]
    fn keywords() {
        assert_eq!(value("#true"), Value::Bool(true));
        assert_eq!(value("#false"), Value::Bool(false));
        assert_eq!(value("#null"), Value::Null);
        assert_eq!(value("#-inf"), Value::Float(f64::NEG_INFINITY));
        for bad in ["true", "false", "null", "inf", "-inf", "nan", "#yes", "#"] {
            let (_, errors) = toks(bad);
            assert_eq!(errors.len(), 1, "{bad}");
        }
    }

    #[test]
    fn broken_strings_are_errors_at_their_start() {
        for (text, at) in [
            ("\"open\nx", 0),
            ("x \"open", 2),
            ("\"bad \\q\"", 5),
            ("#\"raw\nx", 0),
            ("\"\"\"\n  text\"\"\"", 4),
            ("\"\"\"\n  a\n b\n  \"\"\"", 8),
            ("\"\"\"no newline\"\"\"", 0),
        ] {
            let (_, errors) = toks(text);
            assert_eq!(errors.len(), 1, "{text}: {errors:?}");
            assert_eq!(errors[0].span.start, at, "{text}: {errors:?}");
        }
    }

    #[test]
    fn comments_nest_and_are_spaces() {
        let (t, errors) = toks("/* a /* b */ c */x// d\ny");
        assert!(errors.is_empty());
        assert_eq!(
            t,
            vec![
                Tok::Space,
                Tok::Value {
                    value: string("x"),
                    string: true,
                    bad: false
                },
                Tok::Newline,
                Tok::Value {
                    value: string("y"),
                    string: true,
                    bad: false
                }
            ]
        );
        let (_, errors) = toks("/* /* */");
        assert_eq!(errors.len(), 1);
        // A deep nest is only a counter.
        let deep = format!("{}{}", "/*".repeat(100_000), "*/".repeat(100_000));
        let (t, errors) = toks(&deep);
        assert!(errors.is_empty());
        assert_eq!(t, vec![Tok::Space]);
    }

    #[test]
    fn line_continuations() {
        let (t, errors) = toks("\\ // comment\n");
        assert!(errors.is_empty());
        assert_eq!(t, vec![Tok::Space]);
        let (_, errors) = toks("\\ x");
        assert_eq!(errors.len(), 1);
    }
}
