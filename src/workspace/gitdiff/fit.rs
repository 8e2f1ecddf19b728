//! Fitting a diff into a budget: split per file, the largest cut first (removed lines before
//! added ones), the smallest whole.

use super::MAX_DIFF_BYTES;
use crate::workspace::context::Refusal;

/// A file's diff is not cut below this many characters: fewer files, each readable.
pub(super) const MIN_FILE_CHARS: usize = 240;

/// One file's part of a diff.
pub(super) struct FileDiff {
    path: String,
    text: String,
    chars: usize,
}

/// Splits a diff at its `diff --git` lines.
pub(super) fn split(diff: &str) -> Vec<FileDiff> {
    let mut files: Vec<FileDiff> = Vec::new();
    for line in diff.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            files.push(FileDiff {
                path: header_path(rest.trim_end_matches('\n')),
                text: String::new(),
                chars: 0,
            });
        }
        if let Some(f) = files.last_mut() {
            f.text.push_str(line);
            f.chars += line.chars().count();
        }
    }
    files
}

/// The path in `a/P b/P` (renames are off, so both sides name the same file; a quoted name
/// is shown quoted).
fn header_path(rest: &str) -> String {
    let n = rest.chars().count().saturating_sub(1) / 2;
    let a: String = rest.chars().take(n).collect();
    let a = a.trim_matches('"');
    a.strip_prefix("a/").unwrap_or(a).to_string()
}

pub(super) fn longest_backtick_run(s: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// Fits the files' diffs into `room` characters: whole when they fit; otherwise the largest
/// are cut first (each file gets an equal share of what the smaller ones leave), and when even
/// that leaves a file less than [`MIN_FILE_CHARS`], the largest are left out. Returns the
/// text, the files shown and whether anything was cut.
pub(super) fn cut_to_fit(
    files: &[FileDiff],
    room: usize,
    capped: bool,
    cut: &mut Vec<Refusal>,
) -> (String, Vec<String>, bool) {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| files[i].chars);
    // Keep the most (smallest) files that can each have at least MIN_FILE_CHARS.
    let mut kept = 0;
    let mut floor = 0;
    for &i in &order {
        floor += files[i].chars.min(MIN_FILE_CHARS);
        if floor > room {
            break;
        }
        kept += 1;
    }
    let mut allot = vec![None; files.len()];
    let mut left = room;
    for (k, &i) in order.iter().take(kept).enumerate() {
        let share = left / (kept - k);
        let give = files[i].chars.min(share);
        allot[i] = Some(give);
        left -= give;
    }
    let mut body = String::new();
    let mut shown = Vec::new();
    let mut truncated = capped;
    for (f, a) in files.iter().zip(allot) {
        match a {
            Some(a) if a >= f.chars => body.push_str(&f.text),
            Some(a) => {
                truncated = true;
                let (kept_text, shown, total) = shrink(&f.text, a);
                body.push_str(&kept_text);
                cut.push(Refusal {
                    path: f.path.clone(),
                    reason: format!("diff cut to fit: {shown} of {total} lines shown"),
                });
            }
            None => {
                truncated = true;
                cut.push(Refusal {
                    path: f.path.clone(),
                    reason: format!(
                        "diff left out: no room in the budget for its {} characters",
                        f.chars
                    ),
                });
                continue;
            }
        }
        shown.push(f.path.clone());
    }
    if capped {
        cut.push(Refusal {
            path: "diff".into(),
            reason: format!(
                "the diff is larger than {} MB; files after the last one shown were left out",
                MAX_DIFF_BYTES >> 20
            ),
        });
    }
    (body, shown, truncated)
}

/// One file's diff within `budget` characters; returns the text and how many of its lines
/// are shown, of how many. Removed lines give way first (runs of them become a one-line note,
/// the longest run first), because the new code is what is under review; then the tail is cut.
fn shrink(text: &str, budget: usize) -> (String, usize, usize) {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let chars: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
    let note = |n: usize| format!("[… {n} removed line(s) not shown …]\n");
    // Runs of removed lines inside hunks: (first, end, characters).
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    let mut in_hunk = false;
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("@@") {
            in_hunk = true;
        } else if in_hunk && l.starts_with('-') {
            match runs.last_mut() {
                Some(r) if r.1 == i => {
                    r.1 = i + 1;
                    r.2 += chars[i];
                }
                _ => runs.push((i, i + 1, chars[i])),
            }
        }
    }
    let mut total: usize = chars.iter().sum();
    let mut hidden = vec![false; lines.len()];
    let mut notes: Vec<Option<usize>> = vec![None; lines.len()];
    runs.sort_by_key(|r| std::cmp::Reverse(r.2));
    for (first, end, c) in runs {
        if total <= budget {
            break;
        }
        let n = end - first;
        let saved = c.saturating_sub(note(n).chars().count());
        if saved == 0 {
            continue;
        }
        hidden[first..end].iter_mut().for_each(|h| *h = true);
        notes[first] = Some(n);
        total -= saved;
    }
    // Then keep the head within the budget, less room for the closing note.
    let room = budget.saturating_sub(60);
    let mut out = String::new();
    let (mut used, mut shown) = (0, 0);
    let mut stopped_at = None;
    for i in 0..lines.len() {
        let piece = match (hidden[i], notes[i]) {
            (true, Some(n)) => note(n),
            (true, None) => continue,
            (false, _) => lines[i].to_string(),
        };
        let c = piece.chars().count();
        // The `diff --git` line stays, whatever the budget: it names the file.
        if i > 0 && used + c > room {
            stopped_at = Some(i);
            break;
        }
        out.push_str(&piece);
        used += c;
        if !hidden[i] {
            shown += 1;
        }
    }
    if let Some(i) = stopped_at {
        let rest = (i..lines.len()).filter(|&j| !hidden[j]).count();
        out.push_str(&format!(
            "[… {rest} more line(s) of this file's diff cut to fit …]\n"
        ));
    }
    (out, shown, lines.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_diffs_are_cut_first() {
        let file = |path: &str, lines: usize| {
            let mut text = format!("diff --git a/{path} b/{path}\n");
            for i in 0..lines {
                text.push_str(&format!("+line {i} of {path}\n"));
            }
            text
        };
        let diff = [file("small.rs", 3), file("big.rs", 400), file("mid.rs", 30)].concat();
        let files = split(&diff);
        assert_eq!(
            files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["small.rs", "big.rs", "mid.rs"]
        );
        let room = files[0].chars + files[2].chars + 1000;
        let mut cut = Vec::new();
        let (body, shown, truncated) = cut_to_fit(&files, room, false, &mut cut);
        assert!(truncated);
        assert_eq!(shown, ["small.rs", "big.rs", "mid.rs"]);
        assert!(body.contains(&files[0].text) && body.contains(&files[2].text));
        assert!(body.chars().count() <= room, "{}", body.chars().count());
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].path, "big.rs");
        assert!(cut[0].reason.contains("of 401 lines shown"), "{:?}", cut[0]);
        assert!(body.contains("more line(s) of this file's diff cut to fit"));
        // Too little room for all three: the largest is left out, the others share the room.
        let mut cut = Vec::new();
        let (_, shown, _) = cut_to_fit(&files, files[0].chars + 300, false, &mut cut);
        assert_eq!(shown, ["small.rs", "mid.rs"]);
        assert!(
            cut.iter()
                .any(|c| c.path == "big.rs" && c.reason.contains("left out"))
        );
    }

    #[test]
    fn removed_lines_give_way_before_added_ones() {
        let mut text = String::from("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,100 +1,100 @@\n");
        for i in 0..100 {
            text.push_str(&format!("-old line {i}\n"));
        }
        for i in 0..100 {
            text.push_str(&format!("+new line {i}\n"));
        }
        let (out, shown, total) = shrink(&text, 1_000);
        assert!(out.chars().count() <= 1_000, "{}", out.chars().count());
        assert!(out.contains("[… 100 removed line(s) not shown …]"), "{out}");
        assert!(
            out.contains("+new line 0\n") && !out.contains("-old line"),
            "{out}"
        );
        assert!(
            out.contains("more line(s) of this file's diff cut to fit"),
            "{out}"
        );
        assert_eq!(total, 204);
        assert_eq!(
            out.lines().filter(|l| l.starts_with("+new")).count() + 4,
            shown
        );
        // Room for everything but the removed lines: the added ones all come.
        let (out, shown, _) = shrink(&text, 1_600);
        assert!(
            out.contains("+new line 99\n") && !out.contains("cut to fit"),
            "{out}"
        );
        assert_eq!(shown, 104);
    }

    #[test]
    fn quoted_and_spaced_paths_come_out_of_the_header() {
        assert_eq!(header_path("a/src/x y.rs b/src/x y.rs"), "src/x y.rs");
        assert_eq!(header_path("\"a/t\\tab\" \"b/t\\tab\""), "t\\tab");
    }
}
