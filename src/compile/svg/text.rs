//! Text in the drawing: its width in pixels (there is no font to measure with, so a generous
//! estimate), one transition's label wrapped into lines, XML escaping, and numbers written
//! short and stable.

use super::{LabelLine, Style};

pub(super) const BIG: f64 = 12.0;
pub(super) const SMALL: f64 = 10.5;

/// Width of `s` in pixels at `size`, about 7 px a character at 12 px (generous, so text fits
/// in common sans-serif fonts); wide (CJK, Hangul) characters take a full em.
pub(super) fn text_w(s: &str, size: f64, bold: bool) -> f64 {
    let w: f64 = s
        .chars()
        .map(|c| if is_wide(c) { size } else { size * 0.58 })
        .sum();
    if bold { w * 1.07 } else { w }
}

fn is_wide(c: char) -> bool {
    matches!(
        c as u32,
        0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1FAFF
            | 0x20000..=0x3FFFD
    )
}

pub(super) fn line_w(s: &str, style: Style) -> f64 {
    match style {
        Style::Name => text_w(s, BIG, true),
        Style::Title => text_w(s, BIG, false),
        Style::Small => text_w(s, SMALL, false),
    }
}

pub(super) fn line_h(style: Style) -> f64 {
    if style == Style::Small { 14.0 } else { 16.0 }
}

/// Escapes text and attribute values; characters XML 1.0 forbids become U+FFFD.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The most lines one transition's label takes. A longer guard is cut there with `…`; the
/// edge's tooltip keeps it whole. Eight lines hold about 300 characters: every guard a person
/// writes, while a hostile megabyte cannot stretch the drawing.
const MAX_LABEL_LINES: usize = 8;

/// The width a label line may take: about 40 characters.
const LABEL_W: f64 = 245.0;

/// One transition's label: its event and guard, whitespace runs folded, wrapped at spaces into
/// lines of at most [`LABEL_W`] (a word wider than that is broken), the guard's further lines
/// marked as continuations.
pub(super) fn wrap(event: &str, guard: Option<&str>) -> Vec<LabelLine> {
    let words = event
        .split_whitespace()
        .chain(guard.map(|_| "·"))
        .chain(guard.into_iter().flat_map(str::split_whitespace));
    let fits = |s: &str| text_w(s, SMALL, false) <= LABEL_W;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut cut = false;
    'words: for word in words {
        let joined = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if fits(&joined) {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A word wider than a line on its own is broken where it reaches the edge.
        for c in word.chars() {
            line.push(c);
            if !fits(&line) {
                line.pop();
                lines.push(std::mem::replace(&mut line, c.to_string()));
            }
            if lines.len() >= MAX_LABEL_LINES {
                cut = true;
                break 'words;
            }
        }
    }
    if !cut && !line.is_empty() {
        lines.push(line);
    }
    if cut || lines.len() > MAX_LABEL_LINES {
        lines.truncate(MAX_LABEL_LINES);
        if let Some(last) = lines.last_mut() {
            while !fits(&format!("{last}…")) && last.pop().is_some() {}
            last.push('…');
        }
    }
    lines
        .into_iter()
        .enumerate()
        .map(|(k, text)| LabelLine { text, cont: k > 0 })
        .collect()
}

/// Numbers in the output: one decimal at most, so the text stays small and stable.
pub(super) fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == 0.0 {
        "0".to_string()
    } else if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}
