//! The one pass over a text that decides which patterns run: every keyword of every pattern
//! (maestro's own and the rule set's), found ASCII-case-insensitively by one Aho–Corasick
//! automaton → for each pattern, whether one of its keywords is in the text.
//!
//! A pattern with none of its keywords present cannot match, so it is neither compiled nor
//! run. Overlapping matches are all reported (`xoxb` inside `xoxb-…` wakes both `xox` and
//! `xoxb`), so no pattern sleeps through a keyword that a longer one covered.
//!
//! A short text (most strings the store masks: ids, names, paths, one-line facts) is not worth
//! building the automaton for: the first `mask` of a short-lived process (the hook, which masks
//! a refusal's few fields) would pay ~1 ms to build it for a 60-byte string. Up to
//! [`SHORT_TEXT`] bytes each position is looked up by its two bytes (lower-cased) in a flat
//! table of the keywords' first two bytes instead, with the same answer; the automaton is built
//! at the first longer text.
//!
//! Weighed and not chosen: a DFA (three times the build cost, paid by the first `mask` of every
//! process, the hook's included, for a scan 3–4× faster on texts far larger than a prompt); a
//! regex alternation of the keywords (slower to build and to scan).

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Texts up to this many bytes are scanned keyword by keyword (see the module comment).
const SHORT_TEXT: usize = 512;

pub(crate) struct Keywords {
    /// Lower case, each once.
    words: Vec<String>,
    /// The short-text index: for two bytes `a b` (folded by [`pair`] into 4,096 places, 8 KiB
    /// that stay in the cache), 1 + the place in `starts` of the words that may begin with
    /// them; 0 for none. A one-byte word is filed under `a 0`.
    pairs: Vec<u16>,
    starts: Vec<Vec<usize>>,
    /// Whether any word is one byte long (then each position is also looked up alone).
    singles: bool,
    /// Built at the first text longer than [`SHORT_TEXT`].
    ac: OnceLock<AhoCorasick>,
    /// For each keyword (by pattern index in `ac`), the groups it wakes.
    wakes: Vec<Vec<usize>>,
    groups: usize,
}

impl Keywords {
    /// One group of keywords per pattern, in the patterns' order.
    pub(crate) fn new<G, K>(groups: impl IntoIterator<Item = G>) -> Self
    where
        G: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let mut words: Vec<String> = Vec::new();
        let mut wakes: Vec<Vec<usize>> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let mut n = 0;
        for (g, keywords) in groups.into_iter().enumerate() {
            n = g + 1;
            for k in keywords {
                let k = k.as_ref().to_ascii_lowercase();
                let at = *index.entry(k.clone()).or_insert_with(|| {
                    words.push(k);
                    wakes.push(Vec::new());
                    wakes.len() - 1
                });
                wakes[at].push(g);
            }
        }
        let mut pairs = vec![0u16; 1 << 12];
        let mut starts: Vec<Vec<usize>> = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let b = w.as_bytes();
            if let Some(&first) = b.first() {
                let slot = &mut pairs[pair(first, b.get(1).copied().unwrap_or(0))];
                if *slot == 0 {
                    starts.push(Vec::new());
                    *slot = u16::try_from(starts.len()).expect("fewer than 65,535 keyword starts");
                }
                starts[usize::from(*slot) - 1].push(i);
            }
        }
        let singles = words.iter().any(|w| w.len() == 1);
        Self {
            words,
            pairs,
            starts,
            singles,
            ac: OnceLock::new(),
            wakes,
            groups: n,
        }
    }

    fn automaton(&self) -> &AhoCorasick {
        self.ac.get_or_init(|| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&self.words)
                .expect("a few hundred short keywords build")
        })
    }

    /// For each group, whether one of its keywords is in `text`; `None` when no keyword is.
    pub(crate) fn scan(&self, text: &str) -> Option<Vec<bool>> {
        let mut woken: Option<Vec<bool>> = None;
        let mut wake = |word: usize| {
            let w = woken.get_or_insert_with(|| vec![false; self.groups]);
            for &g in &self.wakes[word] {
                w[g] = true;
            }
        };
        if text.len() <= SHORT_TEXT {
            let b = text.as_bytes();
            for at in 0..b.len() {
                let first = b[at].to_ascii_lowercase();
                let next = b.get(at + 1).map_or(0, u8::to_ascii_lowercase);
                let keys = [pair(first, next), pair(first, 0)];
                let keys = if next == 0 || !self.singles {
                    &keys[..1]
                } else {
                    &keys[..]
                };
                for &key in keys {
                    let slot = usize::from(self.pairs[key]);
                    if slot == 0 {
                        continue;
                    }
                    for &i in &self.starts[slot - 1] {
                        let w = self.words[i].as_bytes();
                        if b.len() - at >= w.len() && b[at..at + w.len()].eq_ignore_ascii_case(w) {
                            wake(i);
                        }
                    }
                }
            }
        } else {
            for m in self.automaton().find_overlapping_iter(text) {
                wake(m.pattern().as_usize());
            }
        }
        woken
    }
}

/// The short-text index's place for two bytes: their low six bits each, which keeps letters,
/// digits and most punctuation apart (words that share a place are told apart by comparing
/// them whole).
fn pair(a: u8, b: u8) -> usize {
    usize::from(a & 0x3f) << 6 | usize::from(b & 0x3f)
}

#[cfg(test)]
mod tests {
    use super::Keywords;

    #[test]
    fn every_group_with_a_keyword_present_wakes_and_no_other() {
        let k = Keywords::new([vec!["xox"], vec!["xoxb", "npm_"], vec!["ey"], vec![]]);
        // Short texts go keyword by keyword; the same text padded past the limit goes through
        // the automaton: both must say the same.
        let pad = " ".repeat(super::SHORT_TEXT);
        for (text, want) in [
            ("nothing here", None),
            ("XOXB-1", Some(vec![true, true, false, false])),
            ("they", Some(vec![false, false, true, false])),
            ("NPM_x and xOx", Some(vec![true, true, false, false])),
        ] {
            assert_eq!(k.scan(text), want, "{text}");
            assert_eq!(k.scan(&format!("{pad}{text}{pad}")), want, "{text}, long");
        }
        assert!(k.ac.get().is_some(), "a long text builds the automaton");
    }
}
