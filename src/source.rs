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
    pub(crate) const fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }
}

/// One loaded text: a workflow, a role template, a schema or a config file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name shown to people: a path, `<stdin>`, or `builtin:workflows/default.kdl`.
    pub name: String,
    pub text: Arc<str>,
    line_starts: Vec<usize>,
    /// `char_marks[k]`: characters in the first `k * CHUNK` bytes. A column is counted from the
    /// nearest mark, not from the start of its line, which may be a megabyte long.
    char_marks: Vec<usize>,
}

const CHUNK: usize = 256;

/// Characters in `bytes`: every byte that does not continue a UTF-8 sequence starts one.
fn chars_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

impl SourceFile {
    #[must_use]
    pub(crate) fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let mut char_marks = Vec::with_capacity(text.len() / CHUNK + 1);
        let mut total = 0;
        for chunk in text.as_bytes().chunks(CHUNK) {
            char_marks.push(total);
            total += chars_in(chunk);
        }
        char_marks.push(total);
        Self {
            name: name.into(),
            text,
            line_starts,
            char_marks,
        }
    }

    /// Builds a source from raw bytes; invalid UTF-8 is replaced so it can still be shown.
    /// Returns the byte offset of the first invalid sequence, if any.
    #[must_use]
    pub(crate) fn from_bytes(name: impl Into<String>, bytes: &[u8]) -> (Self, Option<usize>) {
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
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.floor_char_boundary(offset.min(self.text.len()));
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self.chars_before(offset) - self.chars_before(start) + 1;
        (line + 1, col)
    }

    /// Characters before a byte offset (at a character boundary), in at most `CHUNK` steps.
    fn chars_before(&self, offset: usize) -> usize {
        let k = offset / CHUNK;
        self.char_marks.get(k).copied().unwrap_or(0)
            + chars_in(&self.text.as_bytes()[k * CHUNK..offset])
    }

    /// Byte offset of the start of a 1-based line (clamped).
    #[must_use]
    pub(crate) fn line_start(&self, line: usize) -> usize {
        let idx = line.saturating_sub(1).min(self.line_starts.len() - 1);
        self.line_starts[idx]
    }

    fn floor_char_boundary(&self, mut offset: usize) -> usize {
        while offset > 0 && !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

/// Converts character indices to byte offsets (YAML markers count characters).
///
/// ASCII text needs no table. Otherwise the byte offset of every 64th character is kept, and
/// the rest is a short walk: a megabyte of text costs 125 KB, not 8 MB.
#[derive(Debug)]
pub(crate) struct CharIndex<'a> {
    text: &'a str,
    ascii: bool,
    /// `marks[k]`: the byte offset of character `k * 64`.
    marks: Vec<usize>,
}

impl<'a> CharIndex<'a> {
    const STEP: usize = 64;

    #[must_use]
    pub(crate) fn new(text: &'a str) -> Self {
        let ascii = text.is_ascii();
        let marks = if ascii {
            Vec::new()
        } else {
            text.char_indices()
                .step_by(Self::STEP)
                .map(|(i, _)| i)
                .collect()
        };
        Self { text, ascii, marks }
    }

    /// The byte offset of a character index; the end of the text past its last character.
    #[must_use]
    pub(crate) fn byte(&self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        let Some(&mark) = self.marks.get(char_index / Self::STEP) else {
            return self.text.len();
        };
        self.text[mark..]
            .char_indices()
            .nth(char_index % Self::STEP)
            .map_or(self.text.len(), |(i, _)| mark + i)
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
    fn columns_on_long_lines_agree_with_counting() {
        let line = "é한a".repeat(1000);
        let src = SourceFile::new("t", format!("x\n{line}\n"));
        for (i, _) in line.char_indices().step_by(97) {
            let offset = 2 + i;
            assert_eq!(src.line_col(offset), (2, line[..i].chars().count() + 1));
        }
        assert_eq!(src.line_col(2 + line.len()), (2, 3001));
    }

    #[test]
    fn char_index_maps_to_bytes() {
        let idx = CharIndex::new("é=1");
        assert_eq!(idx.byte(0), 0);
        assert_eq!(idx.byte(1), 2);
        assert_eq!(idx.byte(3), 4);
        assert_eq!(idx.byte(99), 4);
        let ascii = CharIndex::new("abc");
        assert_eq!((ascii.byte(2), ascii.byte(9)), (2, 3));
        // Past the first mark, and at a mark's edge.
        let text = "한a".repeat(100);
        let idx = CharIndex::new(&text);
        for (n, (i, _)) in text.char_indices().enumerate() {
            assert_eq!(idx.byte(n), i);
        }
        assert_eq!(idx.byte(200), text.len());
    }

    #[test]
    fn invalid_utf8_is_reported_with_offset() {
        let (src, bad) = SourceFile::from_bytes("t", b"ok\xffno");
        assert_eq!(bad, Some(2));
        assert!(src.text.contains('\u{fffd}'));
    }
}
