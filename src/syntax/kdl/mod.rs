//! KDL 2.0 text → spanned [`Node`]s, with every syntax error as a finding.
//!
//! maestro reads KDL itself rather than through the `kdl` crate: that parser recurses once per
//! token of a block comment, once per nested `{` (tens of kilobytes of stack each in a debug
//! build) and once per error it recovers from at the top level, so two kilobytes of hostile
//! text (`/*` and stars, or `}` or `a=` repeated) overflowed the stack and aborted the process.
//! This parser is a loop over tokens (`lex.rs`) with an explicit stack of open `{`: it runs in
//! constant stack and linear time on any input, and refuses nesting deeper than [`MAX_DEPTH`]
//! so that the recursive passes after it (shape check, lowering) stay shallow too.

mod lex;

use std::sync::Arc;

use self::lex::{Lexer, SyntaxError, Tok, Token};
use super::ast::{Entry, Node, Spanned, Value};
use crate::diagnostic::{Diagnostic, Rule};
use crate::source::{SourceFile, Span};

/// Deeper nesting of `{` than this is refused. A workflow needs four levels:
/// workflow → stage → gate → question.
pub(crate) const MAX_DEPTH: usize = 64;

/// After this many syntax errors the rest of the file is not examined: the first ones are the
/// ones to fix, and a file of garbage must not produce a million findings.
pub(crate) const MAX_ERRORS: usize = 50;

/// Parses a KDL document into top-level nodes; `None` when it has syntax errors.
pub(crate) fn parse(source: &Arc<SourceFile>, diags: &mut Vec<Diagnostic>) -> Option<Vec<Node>> {
    let mut parser = Parser::new(&source.text);
    let outcome = parser.document();
    let mut errors = std::mem::take(&mut parser.lex.errors);
    errors.truncate(MAX_ERRORS);
    let last = errors.last().map(|e| e.span);
    let clean = errors.is_empty();
    for e in errors {
        diags.push(Diagnostic::new(Rule::Syntax, source, e.span, e.message).with_help_opt(e.help));
    }
    match outcome {
        Outcome::Done(nodes) if clean => Some(nodes),
        Outcome::TooManyErrors => {
            let at = last.unwrap_or_default();
            diags.push(
                Diagnostic::new(
                    Rule::Syntax,
                    source,
                    Span::new(at.end, at.end),
                    format!("stopped after {MAX_ERRORS} syntax errors"),
                )
                .with_help("fix the errors above; the rest of the file was not read"),
            );
            None
        }
        _ => None,
    }
}

enum Outcome {
    Done(Vec<Node>),
    TooDeep,
    TooManyErrors,
}

/// A node being read.
struct Pending {
    node: Node,
    /// Commented out with `/-`: read (so errors in it are found) and dropped.
    discard: bool,
    /// A children block (not commented out) has been read.
    has_children: bool,
}

/// An open `{`: the node it belongs to and the list that node goes into.
struct Frame {
    parent: Pending,
    siblings: Vec<Node>,
    /// `/- { ... }`: the children are read and dropped.
    discard: bool,
    open: Span,
}

struct Parser<'a> {
    lex: Lexer<'a>,
    peeked: Option<Token>,
    /// Spaces were read after a value while looking for `=`; they separate it from the next.
    carried_space: bool,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            lex: Lexer::new(text),
            peeked: None,
            carried_space: false,
        }
    }

    fn bump(&mut self) -> Token {
        self.peeked.take().unwrap_or_else(|| self.lex.next_token())
    }

    fn put_back(&mut self, t: Token) {
        debug_assert!(self.peeked.is_none());
        self.peeked = Some(t);
    }

    fn peek(&mut self) -> &Tok {
        let lex = &mut self.lex;
        &self.peeked.get_or_insert_with(|| lex.next_token()).tok
    }

    fn error(&mut self, span: Span, message: impl Into<String>, help: &str) {
        self.lex.errors.push(SyntaxError {
            span,
            message: message.into(),
            help: Some(help.to_string()),
        });
    }

    /// Node-space: spaces, block comments, line continuations. True if there was any.
    fn spaces(&mut self) -> bool {
        let mut any = false;
        while *self.peek() == Tok::Space {
            self.bump();
            any = true;
        }
        any
    }

    /// Line-space: node-space plus newlines and `//` comments (allowed after `/-`).
    fn line_space(&mut self) {
        while matches!(self.peek(), Tok::Space | Tok::Newline) {
            self.bump();
        }
    }

    fn document(&mut self) -> Outcome {
        let mut stack: Vec<Frame> = Vec::new();
        let mut list: Vec<Node> = Vec::new();
        let mut current: Option<Pending> = None;
        loop {
            if self.lex.errors.len() >= MAX_ERRORS {
                return Outcome::TooManyErrors;
            }
            let Some(mut p) = current.take() else {
                // Between nodes.
                let t = self.bump();
                match t.tok {
                    Tok::Space | Tok::Newline | Tok::Bad => {}
                    Tok::Eof => {
                        for f in &stack {
                            self.error(
                                f.open,
                                "this `{` is never closed",
                                "add the matching `}` after the last child; every `{` needs its own `}`",
                            );
                        }
                        return Outcome::Done(list);
                    }
                    Tok::RBrace => match stack.pop() {
                        Some(f) => current = Some(close(f, &mut list, t.span)),
                        None => self.error(
                            t.span,
                            "unexpected `}`: there is no `{` to close",
                            "remove it, or look above for a `{` that was closed twice",
                        ),
                    },
                    Tok::Slashdash => {
                        self.line_space();
                        let next = self.bump();
                        match next.tok {
                            Tok::Value { .. } | Tok::LParen => current = self.start(next, true),
                            _ => {
                                self.error(
                                    t.span,
                                    "`/-` must be followed by the node it comments out",
                                    "remove the `/-`, or put a node after it",
                                );
                                self.put_back(next);
                            }
                        }
                    }
                    Tok::Value { .. } | Tok::LParen => current = self.start(t, false),
                    Tok::LBrace => {
                        self.error(
                            t.span,
                            "a `{` needs a node name before it",
                            "write the node's name before `{`, like `stage \"analyze\" { ... }`, and keep it on the same line",
                        );
                        let dummy = Pending {
                            node: Node::new(Spanned::new(String::new(), t.span), t.span),
                            discard: true,
                            has_children: false,
                        };
                        if !self.open(&mut stack, &mut list, dummy, t.span, true) {
                            return Outcome::TooDeep;
                        }
                    }
                    Tok::Semi => self.error(
                        t.span,
                        "a `;` ends a node, but there is no node before it",
                        "remove the `;`",
                    ),
                    Tok::RParen | Tok::Eq => {
                        let what = if t.tok == Tok::Eq { "=" } else { ")" };
                        self.error(
                            t.span,
                            format!("unexpected `{what}`: a node starts with its name"),
                            "remove it, or quote the text that holds it",
                        );
                    }
                }
                continue;
            };
            // Inside a node, after its name, a value, a property or a children block.
            let had_space = std::mem::take(&mut self.carried_space) | self.spaces();
            let t = self.bump();
            match t.tok {
                Tok::Newline | Tok::Semi => finish(p, &mut list),
                Tok::Eof | Tok::RBrace => {
                    finish(p, &mut list);
                    self.put_back(t);
                }
                Tok::LBrace => {
                    let second = p.has_children;
                    if second {
                        self.error(
                            t.span,
                            "a node has one children block",
                            "merge the two `{ ... }` blocks into one",
                        );
                    }
                    if !self.open(&mut stack, &mut list, p, t.span, second) {
                        return Outcome::TooDeep;
                    }
                }
                Tok::Slashdash => {
                    if !had_space {
                        self.error(t.span, "put a space before `/-`", "write `node /-value`");
                    }
                    self.line_space();
                    let next = self.bump();
                    match next.tok {
                        Tok::LBrace => {
                            if !self.open(&mut stack, &mut list, p, next.span, true) {
                                return Outcome::TooDeep;
                            }
                        }
                        Tok::Value { .. } | Tok::LParen => {
                            self.entry(&mut p, next, true);
                            current = Some(p);
                        }
                        _ => {
                            self.error(
                                t.span,
                                "`/-` must be followed by the value, property or `{` block it comments out",
                                "remove the `/-`, or put what it comments out right after it",
                            );
                            self.put_back(next);
                            current = Some(p);
                        }
                    }
                }
                Tok::Value { bad: true, .. } => {
                    // Already reported by the lexer; keep it so later values line up.
                    self.entry(&mut p, t, false);
                    current = Some(p);
                }
                Tok::Value { .. } | Tok::LParen => {
                    if p.has_children {
                        self.error(
                            t.span,
                            "values and properties must come before the node's `{ ... }` block",
                            "move it before the `{`, or end the node with a newline or `;` first",
                        );
                    } else if !had_space {
                        self.error(
                            t.span,
                            "put a space between a node's name and each of its values",
                            "write `name \"value\" key=\"value\"`; quote text that holds spaces or quotes",
                        );
                    }
                    self.entry(&mut p, t, false);
                    current = Some(p);
                }
                Tok::Eq => {
                    self.error(
                        t.span,
                        "`=` needs a property name before it",
                        "write `key=value` with no other value between them",
                    );
                    // Read on as if `=` were a space, so what follows is not a second error.
                    self.carried_space = true;
                    current = Some(p);
                }
                Tok::RParen => {
                    self.error(
                        t.span,
                        "unexpected `)`",
                        "a type annotation is written `(name)` right before a value",
                    );
                    current = Some(p);
                }
                Tok::Bad | Tok::Space => current = Some(p),
            }
        }
    }

    /// Opens a children block for `parent`; false (and a finding) when that nests too deep.
    fn open(
        &mut self,
        stack: &mut Vec<Frame>,
        list: &mut Vec<Node>,
        parent: Pending,
        open: Span,
        discard: bool,
    ) -> bool {
        if stack.len() >= MAX_DEPTH {
            self.error(
                open,
                format!("nesting deeper than {MAX_DEPTH} levels"),
                "a workflow needs only a few levels: workflow → stage → gate → question",
            );
            return false;
        }
        stack.push(Frame {
            parent,
            siblings: std::mem::take(list),
            discard,
            open,
        });
        true
    }

    /// A node from its first token (its name, or the `(` of a type annotation).
    fn start(&mut self, first: Token, discard: bool) -> Option<Pending> {
        let begin = first.span.start;
        let mut t = first;
        if t.tok == Tok::LParen {
            let ok = self.type_annotation(t.span);
            self.spaces();
            t = self.bump();
            if !ok && !matches!(t.tok, Tok::Value { .. }) {
                self.put_back(t);
                return None;
            }
        }
        match t.tok {
            Tok::Value { value, string, bad } => {
                let name = match value {
                    Value::String(s) if string => s,
                    other => {
                        if !bad {
                            self.error(
                                t.span,
                                format!("a node name must be a string, not {}", other.type_name()),
                                "quote it, like `\"1st\"`, or start the name with a letter",
                            );
                        }
                        String::new()
                    }
                };
                Some(Pending {
                    node: Node::new(Spanned::new(name, t.span), Span::new(begin, t.span.end)),
                    discard,
                    has_children: false,
                })
            }
            _ => {
                self.error(
                    t.span,
                    "expected a node name after the type annotation",
                    "write `(type)name`",
                );
                self.put_back(t);
                None
            }
        }
    }

    /// `(name)` before a node name or a value; maestro reads no types, but they must be
    /// well-formed.
    /// False when it is malformed (a finding says how).
    fn type_annotation(&mut self, open: Span) -> bool {
        self.spaces();
        let t = self.bump();
        match t.tok {
            Tok::Value { string: true, .. } => {}
            Tok::Value { bad: true, .. } | Tok::Bad => return self.skip_to_paren(),
            _ => {
                self.error(
                    t.span,
                    "a type annotation holds one name, like `(date)`",
                    "write the name between the parentheses, or remove them",
                );
                if t.tok == Tok::RParen {
                    return false;
                }
                self.put_back(t);
                return false;
            }
        }
        self.spaces();
        let close = self.bump();
        if close.tok != Tok::RParen {
            self.error(
                open,
                "this `(` is not closed by `)`",
                "a type annotation is written `(name)` right before a value",
            );
            self.put_back(close);
            return false;
        }
        true
    }

    /// After a reported error inside `( )`: steps over a `)` if it comes next.
    fn skip_to_paren(&mut self) -> bool {
        self.spaces();
        if *self.peek() == Tok::RParen {
            self.bump();
        }
        false
    }

    /// An argument or a property, from its first token.
    fn entry(&mut self, p: &mut Pending, first: Token, discard: bool) {
        let mut t = first;
        let mut typed = false;
        if t.tok == Tok::LParen {
            let ok = self.type_annotation(t.span);
            self.spaces();
            t = self.bump();
            typed = true;
            if !ok && !matches!(t.tok, Tok::Value { .. }) {
                self.put_back(t);
                return;
            }
        }
        let Tok::Value { value, string, .. } = t.tok else {
            self.error(
                t.span,
                "expected a value after the type annotation",
                "write `(type)value`",
            );
            self.put_back(t);
            return;
        };
        if string && !typed {
            let spaced = self.spaces();
            if *self.peek() == Tok::Eq {
                let eq = self.bump();
                self.spaces();
                let mut v = self.bump();
                if v.tok == Tok::LParen {
                    let ok = self.type_annotation(v.span);
                    self.spaces();
                    v = self.bump();
                    if !ok && !matches!(v.tok, Tok::Value { .. }) {
                        self.put_back(v);
                        return;
                    }
                }
                let Tok::Value { value: pv, .. } = v.tok else {
                    self.error(
                        eq.span,
                        "a property needs a value after `=`",
                        "write `key=value`, like `max=3` or `when=\"output.ok\"`",
                    );
                    self.put_back(v);
                    return;
                };
                let key = match value {
                    Value::String(s) => s,
                    _ => String::new(),
                };
                p.node.span.end = v.span.end;
                if !discard && !p.discard {
                    p.node.entries.push(Entry {
                        name: Some(Spanned::new(key, t.span)),
                        value: Spanned::new(pv, v.span),
                    });
                }
                return;
            }
            self.carried_space = spaced;
        }
        p.node.span.end = t.span.end;
        if !discard && !p.discard {
            p.node.entries.push(Entry {
                name: None,
                value: Spanned::new(value, t.span),
            });
        }
    }
}

/// Ends a node: it joins its list unless it was commented out.
fn finish(p: Pending, list: &mut Vec<Node>) {
    if !p.discard {
        list.push(p.node);
    }
}

/// Closes the innermost `{`: its nodes become the children of the node it belongs to, which
/// is read further (more `/- { }` blocks, then its end).
fn close(f: Frame, list: &mut Vec<Node>, brace: Span) -> Pending {
    let children = std::mem::replace(list, f.siblings);
    let mut p = f.parent;
    if !f.discard {
        p.node.children = children;
        p.has_children = true;
    }
    p.node.span.end = brace.end;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> (Arc<SourceFile>, Vec<Node>) {
        let src = Arc::new(SourceFile::new("t.kdl", text));
        let mut diags = Vec::new();
        let nodes = parse(&src, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        (src, nodes.expect("parses"))
    }

    fn errors(text: &str) -> Vec<(usize, String)> {
        let src = Arc::new(SourceFile::new("t.kdl", text));
        let mut diags = Vec::new();
        assert!(parse(&src, &mut diags).is_none(), "{text:?} parsed");
        assert!(diags.iter().all(|d| d.rule == Rule::Syntax));
        diags
            .iter()
            .map(|d| (d.span.start, d.message.clone()))
            .collect()
    }

    #[test]
    fn spans_are_bytes_and_point_at_names_and_values() {
        let text = "// 한글 comment\nstage \"debug\" max=2 {\n    next \"x\" when=\"a\"\n}\n";
        let (src, nodes) = parse_ok(text);
        let stage = &nodes[0];
        assert_eq!(&text[stage.name.span.start..stage.name.span.end], "stage");
        let whole = &text[stage.span.start..stage.span.end];
        assert!(
            whole.starts_with("stage") && whole.ends_with('}'),
            "{whole}"
        );
        let arg = stage.arg(0).unwrap();
        assert_eq!(&text[arg.span.start..arg.span.end], "\"debug\"");
        let max = stage.prop("max").unwrap();
        assert_eq!(&text[max.span.start..max.span.end], "2");
        let when = stage.children[0].prop("when").unwrap();
        assert_eq!(&text[when.span.start..when.span.end], "\"a\"");
        assert_eq!(src.line_col(when.span.start).0, 3);
    }

    #[test]
    fn the_grammar_in_full() {
        let text = r##"/- kdl-version 2
(type)node "arg" 1 key = #true /-skipped /-k=v (t)2.5 #"raw"# {
    child; other
    /- gone { deep }
} /- { dropped }
"multi word" \
    continued=#null
empty {}
"##;
        let (_, nodes) = parse_ok(text);
        let names: Vec<&str> = nodes.iter().map(|n| n.name.value.as_str()).collect();
        assert_eq!(names, ["node", "multi word", "empty"]);
        let node = &nodes[0];
        let args: Vec<&Value> = node.args().map(|v| &v.value).collect();
        assert_eq!(
            args,
            [
                &Value::String("arg".into()),
                &Value::Int(1),
                &Value::Float(2.5),
                &Value::String("raw".into())
            ]
        );
        assert_eq!(node.prop("key").map(|v| &v.value), Some(&Value::Bool(true)));
        assert!(node.prop("k").is_none());
        let kids: Vec<&str> = node
            .children
            .iter()
            .map(|n| n.name.value.as_str())
            .collect();
        assert_eq!(kids, ["child", "other"]);
        assert_eq!(
            nodes[1].prop("continued").map(|v| &v.value),
            Some(&Value::Null)
        );
    }

    #[test]
    fn errors_are_findings_with_places() {
        // Unclosed braces: one finding at each `{`.
        let text = "workflow \"w\" {\n  stage \"a\" {\n    next \"b\"\n";
        let e = errors(text);
        assert_eq!(e.iter().map(|(at, _)| *at).collect::<Vec<_>>(), [13, 27]);
        assert!(e[0].1.contains("never closed"));
        // KDL 1 booleans, at the value.
        let text = "a {\n  ensemble true\n  b x=false\n}\n";
        let e = errors(text);
        assert_eq!(e.iter().map(|(at, _)| *at).collect::<Vec<_>>(), [15, 26]);
        // One error per problem, then parsing goes on.
        assert_eq!(errors("}\na \"x\"\"y\"\nb =1\nc (t\n").len(), 4);
    }

    #[test]
    fn hostile_input_is_linear_and_shallow() {
        // Each of these overflowed the stack in the kdl crate at a few thousand repetitions.
        for bomb in [
            format!("/*{}", "*/".repeat(50_000).replace("*/", "/*")),
            "}".repeat(100_000),
            "a=".repeat(100_000),
            "a (".repeat(100_000),
            "/- ".repeat(100_000),
            "(t)".repeat(100_000),
            "a=b=".repeat(100_000),
        ] {
            let src = Arc::new(SourceFile::new("t.kdl", bomb));
            let mut diags = Vec::new();
            assert!(parse(&src, &mut diags).is_none());
            assert!(
                !diags.is_empty() && diags.len() <= MAX_ERRORS + 1,
                "{}: {}",
                &src.text[..20],
                diags.len()
            );
        }
        // Long and deeply nested comments are just comments.
        for ok in [
            format!("/*{}*/ a", "*".repeat(100_000)),
            format!("{}{} a", "/*".repeat(50_000), "*/".repeat(50_000)),
        ] {
            let src = Arc::new(SourceFile::new("t.kdl", ok));
            let mut diags = Vec::new();
            let nodes = parse(&src, &mut diags).unwrap_or_default();
            assert!(
                diags.is_empty() && nodes.len() == 1,
                "{} findings",
                diags.len()
            );
        }
    }

    /// The `kdl` crate (the reference implementation, which maestro used before) as a plain tree.
    fn reference(text: &str) -> Option<Vec<String>> {
        fn walk(nodes: &[kdl::KdlNode], depth: usize, out: &mut Vec<String>) {
            for n in nodes {
                let entries: Vec<String> = n
                    .entries()
                    .iter()
                    .map(|e| {
                        let v = match e.value() {
                            kdl::KdlValue::String(s) => Value::String(s.clone()),
                            kdl::KdlValue::Integer(i) => Value::Int(*i),
                            kdl::KdlValue::Float(f) => Value::Float(*f),
                            kdl::KdlValue::Bool(b) => Value::Bool(*b),
                            kdl::KdlValue::Null => Value::Null,
                        };
                        format!("{}={v:?}", e.name().map_or("", |k| k.value()))
                    })
                    .collect();
                out.push(format!("{depth} {} {entries:?}", n.name().value()));
                if let Some(c) = n.children() {
                    walk(c.nodes(), depth + 1, out);
                }
            }
        }
        let doc = kdl::KdlDocument::parse_v2(text).ok()?;
        let mut out = Vec::new();
        walk(doc.nodes(), 0, &mut out);
        Some(out)
    }

    fn ours(text: &str) -> Option<Vec<String>> {
        fn walk(nodes: &[Node], depth: usize, out: &mut Vec<String>) {
            for n in nodes {
                let entries: Vec<String> = n
                    .entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{}={:?}",
                            e.name.as_ref().map_or("", |k| k.value.as_str()),
                            e.value.value
                        )
                    })
                    .collect();
                out.push(format!("{depth} {} {entries:?}", n.name.value));
                walk(&n.children, depth + 1, out);
            }
        }
        let src = Arc::new(SourceFile::new("t.kdl", text));
        let nodes = parse(&src, &mut Vec::new())?;
        let mut out = Vec::new();
        walk(&nodes, 0, &mut out);
        Some(out)
    }

    /// Where both accept a document they must read the same tree; where one refuses, so must
    /// the other (on these small inputs the crate's recursion is harmless).
    #[test]
    fn agrees_with_the_kdl_crate() {
        let files = [
            include_str!("../../../workflows/default.kdl"),
            include_str!("../../../workflows/consult.kdl"),
            include_str!("../../../tests/fixtures/validate/ok/red-flags-and-topologies.kdl"),
            include_str!("../../../tests/fixtures/validate/ok/review-loop.kdl"),
            include_str!("../../../tests/fixtures/validate/pairs/multilang.kdl"),
            include_str!("../../../tests/fixtures/validate/pairs/coordination.kdl"),
        ];
        let snippets = [
            "a 1 -2 +3 1_000 0x1f 0o17 0b101 1.5 -2.5e3 1E2",
            "a #true #false #null",
            "a \"x\\ty\" \"\\u{1F600}\" \"\\\"q\\\\\"",
            "a #\"raw \"x\" \\n\"# ##\"a\"#b\"##",
            "a \"\"\"\n  one\n    two\n  \"\"\"",
            "a #\"\"\"\n  raw \\n\n  \"\"\"#",
            "a key=1 key=2 \"quoted key\"=3",
            "a k = 1",
            "(t)a (u)1 k=(v)\"x\"",
            "a; b; c",
            "a { b { c; }; }",
            "a{b}",
            "a 1{}",
            "/- a\nb",
            "a /- 1 2 /- k=v /- { x } { y }",
            "a /-{ x } { y }",
            "a \\\n  1 \\ // continued\n  2",
            "/* c /* nested */ */ a /* inline */ 1",
            "// line\na // trailing\nb",
            "a -foo .bar +.x - + .",
            "a \"\\   \n   continued\"",
            "\u{feff}a",
            "a\r\nb\rc",
            "a\u{2028}b",
            "a \"1\" \"#true\"",
            "node \"한글\" 키=\"값\"",
            // refused by both
            "a true",
            "a null",
            "a 1a",
            "a \"open",
            "a {",
            "}",
            "a \"x\"y",
            "a [1]",
            "a #yes",
            "a 1.",
            "a .5",
            "a 0x",
            "a \"\\q\"",
            "a =1",
            "a k=",
            "/* open",
            "a { } 1",
            "a (t",
            "a 170141183460469231731687303715884105728",
        ];
        // The crate recurses deeply even on valid text (one frame per comment token): give it
        // room. (`ok/deep-comments.kdl` overflows it at any reasonable stack size.)
        let worker = std::thread::Builder::new().stack_size(64 << 20);
        let reference_trees = worker
            .spawn(move || {
                files
                    .iter()
                    .copied()
                    .chain(snippets)
                    .map(|t| (t, reference(t)))
                    .collect::<Vec<_>>()
            })
            .unwrap()
            .join()
            .unwrap();
        let accepted = files.len() + 26;
        for (i, (text, expected)) in reference_trees.into_iter().enumerate() {
            assert_eq!(expected.is_some(), i < accepted, "the crate on {text:?}");
            assert_eq!(ours(text), expected, "{text:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let text = format!("a {}", "{ b ".repeat(10_000));
        let src = Arc::new(SourceFile::new("t.kdl", text));
        let mut diags = Vec::new();
        assert!(parse(&src, &mut diags).is_none());
        assert!(
            diags
                .iter()
                .any(|d| d.message.contains("nesting deeper than 64"))
        );
        // 64 levels are fine.
        let ok = format!("{}{}", "a {\n".repeat(MAX_DEPTH), "}\n".repeat(MAX_DEPTH));
        parse_ok(&ok);
        let slashdashed = format!(
            "x /-{}{}",
            "{ y ".repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        let src = Arc::new(SourceFile::new("t.kdl", slashdashed));
        assert!(
            parse(&src, &mut Vec::new()).is_none(),
            "commented-out blocks count too"
        );
    }
}
