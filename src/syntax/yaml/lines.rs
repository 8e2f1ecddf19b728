//! YAML text → what a help needs to know of it: lines with where their content and key
//! start, and the bracket still open at a place. Just enough YAML to point at a cause, read
//! once; never a second parser.

/// The file's lines, numbered from 1.
pub(super) struct Lines<'a>(Vec<&'a str>);

impl<'a> Lines<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self(
            text.split('\n')
                .map(|l| l.strip_suffix('\r').unwrap_or(l))
                .collect(),
        )
    }

    pub(super) fn get(&self, n: usize) -> Option<Line<'a>> {
        let text = self.0.get(n.checked_sub(1)?)?;
        Some(Line::new(n, text))
    }

    /// The lines above line `n` that hold something, nearest first.
    pub(super) fn above(&self, n: usize) -> impl Iterator<Item = Line<'a>> + '_ {
        (1..n).rev().filter_map(|k| self.get(k)).filter(Line::holds)
    }

    /// The line at or above `n` whose indentation holds a tab (the parser may stop a line
    /// later), else `n`.
    pub(super) fn tab_near(&self, n: usize) -> usize {
        (n.saturating_sub(1).max(1)..=n)
            .rev()
            .find(|&k| {
                self.get(k).is_some_and(|l| {
                    l.text
                        .chars()
                        .take_while(|c| c.is_whitespace())
                        .any(|c| c == '\t')
                })
            })
            .unwrap_or(n)
    }
}

/// One line, and where its content starts.
#[derive(Clone, Copy)]
pub(super) struct Line<'a> {
    pub(super) n: usize,
    pub(super) text: &'a str,
    /// Spaces before the first character.
    pub(super) indent: usize,
    /// Where the content starts after any `- ` list markers (spaces and dashes are one byte, so
    /// this is both a byte offset and a column).
    pub(super) content: usize,
}

impl<'a> Line<'a> {
    pub(super) fn new(n: usize, text: &'a str) -> Self {
        let b = text.as_bytes();
        let indent = b.iter().take_while(|&&c| c == b' ').count();
        let mut content = indent;
        while b.get(content) == Some(&b'-') && matches!(b.get(content + 1), Some(b' ') | None) {
            content += 1;
            while b.get(content) == Some(&b' ') {
                content += 1;
            }
        }
        Self {
            n,
            text,
            indent,
            content,
        }
    }

    /// Not blank and not only a comment.
    pub(super) fn holds(&self) -> bool {
        let t = self.text.trim();
        !t.is_empty() && !t.starts_with('#')
    }

    /// Starts with a `- ` list marker.
    pub(super) fn item(&self) -> bool {
        self.content > self.indent
    }

    pub(super) fn rest(&self) -> &'a str {
        &self.text[self.content..]
    }

    /// The plain key the line starts with: the text before its first `: ` (or a `:` that ends
    /// the line).
    pub(super) fn key(&self) -> Option<&'a str> {
        let rest = self.rest();
        let key = rest[..colon(rest)?].trim_end();
        let plain = !key.is_empty() && !key.starts_with(['"', '\'', '[', '{', '#', '?']);
        plain.then_some(key)
    }

    /// What follows the key's `:` on the line.
    pub(super) fn value(&self) -> Option<&'a str> {
        let rest = self.rest();
        Some(rest[colon(rest)? + 1..].trim())
    }
}

/// The byte of the first `:` followed by a space, a tab or the end of `s`.
pub(super) fn colon(s: &str) -> Option<usize> {
    s.match_indices(':')
        .map(|(i, _)| i)
        .find(|&i| matches!(s.as_bytes().get(i + 1), None | Some(b' ' | b'\t')))
}

/// The byte of the innermost `[` or `{` still open at byte `at`. Reads the text before `at`
/// once, knowing just enough YAML: comments, quoted values, block scalars (`|`, `>`) and
/// where a value may start (a `[` inside plain text opens nothing).
pub(super) fn open_bracket(text: &str, at: usize) -> Option<usize> {
    let b = text.as_bytes();
    let end = at.min(b.len());
    let mut open: Vec<usize> = Vec::new();
    // Whether a value may start here (after `: `, `- `, `[`, `{`, `,` or at a line's start).
    let mut value_start = true;
    // Inside a block scalar: the indentation of the line that started it.
    let mut block: Option<usize> = None;
    let mut line_indent = 0;
    let mut i = 0;
    while i < end {
        if i == 0 || b[i - 1] == b'\n' {
            let spaces = b[i..].iter().take_while(|&&c| c == b' ').count();
            let blank = matches!(b.get(i + spaces), None | Some(b'\n' | b'\r'));
            if let Some(indent) = block {
                if blank || spaces > indent {
                    i += b[i..]
                        .iter()
                        .position(|&c| c == b'\n')
                        .map_or(b.len(), |p| p + 1);
                    continue;
                }
                block = None;
            }
            line_indent = spaces;
            value_start = true;
        }
        let c = b[i];
        let after = b.get(i + 1).copied();
        let spaced = matches!(after, None | Some(b' ' | b'\t' | b'\n' | b'\r'));
        match c {
            b'#' if i == 0 || b[i - 1].is_ascii_whitespace() => {
                i += b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .unwrap_or(b.len() - i);
                continue;
            }
            b'"' | b'\'' if value_start => {
                // Skip the quoted value; one that does not close before `at` is another cause.
                let mut j = i + 1;
                loop {
                    match b.get(j) {
                        None => return None,
                        Some(b'\\') if c == b'"' => j += 2,
                        Some(&q) if q == c && c == b'\'' && b.get(j + 1) == Some(&b'\'') => j += 2,
                        Some(&q) if q == c => break,
                        Some(_) => j += 1,
                    }
                    if j >= end {
                        return None;
                    }
                }
                i = j + 1;
                value_start = false;
                continue;
            }
            b'[' | b'{' if value_start || !open.is_empty() => {
                open.push(i);
                value_start = true;
            }
            b']' | b'}' if !open.is_empty() => {
                open.pop();
                value_start = false;
            }
            b',' if !open.is_empty() => value_start = true,
            b':' if spaced || !open.is_empty() => value_start = true,
            b'-' if value_start && spaced => {}
            b'|' | b'>' if value_start && open.is_empty() => {
                block = Some(line_indent);
                value_start = false;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => value_start = false,
        }
        i += 1;
    }
    open.last().copied()
}
