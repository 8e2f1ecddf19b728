//! Source files and byte spans; the only place that turns a byte offset into a line and column.
//!
//! Every finding points into a [`SourceFile`] by a byte [`Span`]. Lines are 1-based; columns are
//! 1-based and count characters, which is what editors and GitHub annotations expect.

use std::sync::Arc;

/// A half-open byte range `start..end` into one source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    #[must_use]
    pub const fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    #[must_use]
    pub const fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// One loaded text: a workflow, a role template, a schema or a config file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name shown to people: a path, `<stdin>`, or `builtin:workflows/default.kdl`.
    pub name: String,
    pub text: Arc<str>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    #[must_use]
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// Builds a source from raw bytes; invalid UTF-8 is replaced so it can still be shown.
    /// Returns the byte offset of the first invalid sequence, if any.
    #[must_use]
    pub fn from_bytes(name: impl Into<String>, bytes: &[u8]) -> (Self, Option<usize>) {
        match std::str::from_utf8(bytes) {
            Ok(text) => (Self::new(name, text), None),
            Err(err) => {
                let lossy = String::from_utf8_lossy(bytes).into_owned();
                (Self::new(name, lossy), Some(err.valid_up_to()))
            }
        }
    }

    /// 1-based line and 1-based character column of a byte offset (clamped to the text).
    #[must_use]
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.floor_char_boundary(offset.min(self.text.len()));
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self.text[start..offset].chars().count() + 1;
        (line + 1, col)
    }

    /// Byte offset of the start of a 1-based line (clamped).
    #[must_use]
    pub fn line_start(&self, line: usize) -> usize {
        let idx = line.saturating_sub(1).min(self.line_starts.len() - 1);
        self.line_starts[idx]
    }

    /// The byte offset of the `n`th character; YAML markers count characters, not bytes.
    #[must_use]
    pub fn char_to_byte(&self, n: usize) -> usize {
        self.text
            .char_indices()
            .nth(n)
            .map_or(self.text.len(), |(i, _)| i)
    }

    fn floor_char_boundary(&self, mut offset: usize) -> usize {
        while offset > 0 && !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

/// Converts character indices to byte offsets in one pass-friendly table (for YAML markers).
#[derive(Debug)]
pub struct CharIndex {
    /// `bytes[i]` is the byte offset of character `i`; one extra entry for the end.
    bytes: Vec<usize>,
}

impl CharIndex {
    #[must_use]
    pub fn new(text: &str) -> Self {
        let mut bytes: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        bytes.push(text.len());
        Self { bytes }
    }

    #[must_use]
    pub fn byte(&self, char_index: usize) -> usize {
        self.bytes
            .get(char_index)
            .copied()
            .unwrap_or_else(|| *self.bytes.last().unwrap_or(&0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let src = SourceFile::new("t", "ab\n한글x\n");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(3), (2, 1));
        // "x" follows two 3-byte characters
        assert_eq!(src.line_col(9), (2, 3));
        assert_eq!(src.line_col(100), (3, 1));
    }

    #[test]
    fn char_index_maps_to_bytes() {
        let idx = CharIndex::new("é=1");
        assert_eq!(idx.byte(0), 0);
        assert_eq!(idx.byte(1), 2);
        assert_eq!(idx.byte(3), 4);
        assert_eq!(idx.byte(99), 4);
    }

    #[test]
    fn invalid_utf8_is_reported_with_offset() {
        let (src, bad) = SourceFile::from_bytes("t", b"ok\xffno");
        assert_eq!(bad, Some(2));
        assert!(src.text.contains('\u{fffd}'));
    }
}
