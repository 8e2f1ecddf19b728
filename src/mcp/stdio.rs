//! Standard input for the MCP server, with one repair.
//!
//! A request nested deeper than serde_json's recursion limit (128 levels) is valid JSON that
//! rmcp cannot read, and rmcp drops lines it cannot read without a word (as the other MCP SDKs
//! do, to avoid error storms): the client would wait for an answer forever. This reader finds
//! such lines before rmcp sees them and replaces each with a small request for the method
//! [`TOO_DEEP`], carrying the same id, which the server answers with an error at once.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// The method a too-deep request is replaced with.
pub(crate) const TOO_DEEP: &str = "maestro/request-too-deep";

/// Nesting at which a line is replaced (serde_json refuses beyond 128).
const MAX_DEPTH: usize = 120;

/// Reads lines from `inner`, replacing requests nested too deeply.
pub(crate) struct Guarded<R> {
    inner: R,
    /// The current line, not yet complete.
    line: Vec<u8>,
    /// Bytes ready for the reader.
    ready: VecDeque<u8>,
    eof: bool,
    /// What one read from `inner` fills; kept, not put on the stack or zeroed at each poll.
    chunk: Box<[u8]>,
}

impl<R> Guarded<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            line: Vec::new(),
            ready: VecDeque::new(),
            eof: false,
            chunk: vec![0u8; 64 * 1024].into_boxed_slice(),
        }
    }
}

/// The deepest nesting of arrays and objects in `line`, outside strings.
fn depth(line: &[u8]) -> usize {
    let (mut d, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in line {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                d += 1;
                max = max.max(d);
            }
            b']' | b'}' => d = d.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The raw `id` value of a top-level JSON object (a number or a string), if it has one.
fn top_level_id(line: &[u8]) -> Option<&[u8]> {
    let (mut d, mut i) = (0usize, 0usize);
    while i < line.len() {
        match line[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < line.len() && line[i] != b'"' {
                    i += if line[i] == b'\\' { 2 } else { 1 };
                }
                let key = line.get(start..=i)?;
                i += 1;
                if d == 1 && key == b"\"id\"" {
                    while i < line.len() && line[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    if line.get(i) != Some(&b':') {
                        continue;
                    }
                    i += 1;
                    while i < line.len() && line[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    let from = i;
                    if line.get(i) == Some(&b'"') {
                        i += 1;
                        while i < line.len() && line[i] != b'"' {
                            i += if line[i] == b'\\' { 2 } else { 1 };
                        }
                        return line.get(from..=i);
                    }
                    while i < line.len() && (line[i].is_ascii_digit() || line[i] == b'-') {
                        i += 1;
                    }
                    return (i > from).then(|| &line[from..i]);
                }
                continue;
            }
            b'[' | b'{' => d += 1,
            b']' | b'}' => d = d.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The line as rmcp should see it.
fn repair(line: Vec<u8>) -> Vec<u8> {
    if depth(&line) <= MAX_DEPTH {
        return line;
    }
    match top_level_id(&line) {
        Some(id) => {
            let mut out = br#"{"jsonrpc":"2.0","id":"#.to_vec();
            out.extend_from_slice(id);
            out.extend_from_slice(format!(r#","method":"{TOO_DEEP}"}}"#).as_bytes());
            out.push(b'\n');
            out
        }
        // A notification has nobody waiting for an answer: drop it (an empty line).
        None => b"\n".to_vec(),
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Guarded<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.ready.is_empty() {
                let n = buf.remaining().min(this.ready.len());
                let chunk: Vec<u8> = this.ready.drain(..n).collect();
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut rb = ReadBuf::new(&mut this.chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let got = rb.filled();
                    if got.is_empty() {
                        this.eof = true;
                        let rest = std::mem::take(&mut this.line);
                        this.ready.extend(rest);
                        continue;
                    }
                    for &b in got {
                        this.line.push(b);
                        if b == b'\n' {
                            let line = std::mem::take(&mut this.line);
                            this.ready.extend(repair(line));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_requests_become_an_answerable_request_with_the_same_id() {
        let deep = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":17,\"method\":\"tools/call\",\"params\":{{\"x\":{}{}}}}}\n",
            "[".repeat(500),
            "]".repeat(500)
        );
        let out = String::from_utf8(repair(deep.into_bytes())).unwrap();
        assert_eq!(
            out,
            format!("{{\"jsonrpc\":\"2.0\",\"id\":17,\"method\":\"{TOO_DEEP}\"}}\n")
        );
        let s = format!(
            "{{\"params\":{{\"a\":{}\"id\"{}}},\"id\":\"x\\\"y\"}}\n",
            "[".repeat(200),
            "]".repeat(200)
        );
        let out = String::from_utf8(repair(s.into_bytes())).unwrap();
        assert!(out.contains(r#""id":"x\"y""#), "{out}");
        let shallow = b"{\"id\":1,\"s\":\"[[[[[[\"}\n".to_vec();
        assert_eq!(repair(shallow.clone()), shallow);
        let note = format!(
            "{{\"method\":\"n\",\"params\":{}}}\n",
            "{\"a\":".repeat(300)
        );
        assert_eq!(repair(note.into_bytes()), b"\n");
    }
}
