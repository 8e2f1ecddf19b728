//! Unified diffs (plain and git-style) → file patches: headers, new/deleted/renamed files,
//! hunks, and "\ No newline at end of file". Parsing only; `patch.rs` applies them.

/// One line of a hunk. The text excludes the `\n` (a `\r` of a CRLF file stays in the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HunkLine {
    Context(String, bool),
    Remove(String, bool),
    Add(String, bool),
}

/// `@@ -old_start,old_len +new_start,new_len @@`
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hunk {
    pub old_start: usize,
    pub old_len: usize,
    pub new_start: usize,
    pub new_len: usize,
    pub lines: Vec<HunkLine>,
}

/// The changes to one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FilePatch {
    /// `None` for a new file.
    pub old_path: Option<String>,
    /// `None` for a deleted file.
    pub new_path: Option<String>,
    pub hunks: Vec<Hunk>,
    pub binary: bool,
}

impl FilePatch {
    /// The path the change is reported under.
    #[must_use]
    pub(crate) fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of the diff: {message}")]
pub(crate) struct ParseError {
    pub line: usize,
    pub message: String,
}

fn strip_prefix(p: &str) -> Option<String> {
    let p = p.trim_end_matches('\r');
    // A tab separates the path from a timestamp in plain `diff -u` output.
    let p = p.split('\t').next().unwrap_or(p).trim();
    if p == "/dev/null" {
        return None;
    }
    let p = p
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(p);
    Some(
        p.strip_prefix("a/")
            .or_else(|| p.strip_prefix("b/"))
            .unwrap_or(p)
            .to_string(),
    )
}

fn range(s: &str) -> Option<(usize, usize)> {
    let s = &s[1..];
    match s.split_once(',') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => Some((s.parse().ok()?, 1)),
    }
}

/// Parses every file patch in `text`.
///
/// # Errors
/// A hunk header that does not parse, or a hunk whose lines do not add up to its header.
pub(crate) fn parse(text: &str) -> Result<Vec<FilePatch>, ParseError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut files: Vec<FilePatch> = Vec::new();
    let mut current: Option<FilePatch> = None;
    let mut i = 0;
    let err = |line: usize, message: String| ParseError {
        line: line + 1,
        message,
    };
    while i < lines.len() {
        let line = lines[i];
        if let Some(rest) = line.strip_prefix("diff --git ") {
            if let Some(f) = current.take() {
                files.push(f);
            }
            let mut f = FilePatch::default();
            // `a/x b/x`: good enough when the names have no spaces; ---/+++ refine it.
            if let Some((a, b)) = rest.split_once(" b/") {
                f.old_path = strip_prefix(a);
                f.new_path = strip_prefix(&format!("b/{b}"));
            }
            current = Some(f);
        } else if line.starts_with("new file mode") {
            if let Some(f) = current.as_mut() {
                f.old_path = None;
            }
        } else if line.starts_with("deleted file mode") {
            if let Some(f) = current.as_mut() {
                f.new_path = None;
            }
        } else if let Some(p) = line.strip_prefix("rename from ") {
            if let Some(f) = current.as_mut() {
                f.old_path = Some(p.trim_end_matches('\r').to_string());
            }
        } else if let Some(p) = line.strip_prefix("rename to ") {
            if let Some(f) = current.as_mut() {
                f.new_path = Some(p.trim_end_matches('\r').to_string());
            }
        } else if line.starts_with("Binary files ") || line.starts_with("GIT binary patch") {
            current.get_or_insert_with(FilePatch::default).binary = true;
        } else if line.starts_with("--- ")
            && lines.get(i + 1).is_some_and(|n| n.starts_with("+++ "))
        {
            let f = match current.as_mut() {
                // A plain diff's next file, or git's headers for the current one.
                Some(f) if f.hunks.is_empty() => f,
                _ => {
                    if let Some(f) = current.take() {
                        files.push(f);
                    }
                    current.insert(FilePatch::default())
                }
            };
            f.old_path = strip_prefix(&line[4..]);
            f.new_path = strip_prefix(&lines[i + 1][4..]);
            i += 1;
        } else if line.starts_with("@@ ") {
            let f = current
                .as_mut()
                .ok_or_else(|| err(i, "a hunk before any file header".into()))?;
            let parts: Vec<&str> = line.split_whitespace().collect();
            let (Some((os, ol)), Some((ns, nl))) = (
                parts
                    .get(1)
                    .filter(|p| p.starts_with('-'))
                    .and_then(|p| range(p)),
                parts
                    .get(2)
                    .filter(|p| p.starts_with('+'))
                    .and_then(|p| range(p)),
            ) else {
                return Err(err(i, format!("not a hunk header: `{line}`")));
            };
            let mut hunk = Hunk {
                old_start: os,
                old_len: ol,
                new_start: ns,
                new_len: nl,
                lines: Vec::new(),
            };
            let (mut old_seen, mut new_seen) = (0, 0);
            while old_seen < ol || new_seen < nl {
                i += 1;
                let Some(&l) = lines.get(i) else {
                    return Err(err(i, "the diff ends inside a hunk".into()));
                };
                let (kind, body) = l.split_at(l.len().min(1));
                match kind {
                    " " | "" => {
                        hunk.lines.push(HunkLine::Context(body.to_string(), true));
                        old_seen += 1;
                        new_seen += 1;
                    }
                    "-" => {
                        hunk.lines.push(HunkLine::Remove(body.to_string(), true));
                        old_seen += 1;
                    }
                    "+" => {
                        hunk.lines.push(HunkLine::Add(body.to_string(), true));
                        new_seen += 1;
                    }
                    "\\" => mark_no_newline(&mut hunk),
                    _ => {
                        return Err(err(
                            i,
                            format!(
                                "hunk {} has fewer lines than its header says",
                                f.hunks.len() + 1
                            ),
                        ));
                    }
                }
            }
            if lines.get(i + 1).is_some_and(|n| n.starts_with('\\')) {
                i += 1;
                mark_no_newline(&mut hunk);
            }
            f.hunks.push(hunk);
        }
        i += 1;
    }
    if let Some(f) = current.take() {
        files.push(f);
    }
    files.retain(|f| f.old_path.is_some() || f.new_path.is_some());
    Ok(files)
}

/// "\ No newline at end of file" refers to the line just before it.
fn mark_no_newline(h: &mut Hunk) {
    if let Some(last) = h.lines.last_mut() {
        match last {
            HunkLine::Context(_, nl) | HunkLine::Remove(_, nl) | HunkLine::Add(_, nl) => {
                *nl = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_headers_new_deleted_renamed_and_no_newline() {
        let d = "diff --git a/src/x.rs b/src/x.rs\nindex 1..2 100644\n--- a/src/x.rs\n+++ b/src/x.rs\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n\\ No newline at end of file\ndiff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hi\ndiff --git a/old.txt b/old.txt\ndeleted file mode 100644\n--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\ndiff --git a/a.txt b/b.txt\nsimilarity index 100%\nrename from a.txt\nrename to b.txt\n";
        let files = parse(d).unwrap();
        assert_eq!(files.len(), 4);
        assert_eq!(files[0].hunks[0].lines[2], HunkLine::Add("c".into(), false));
        assert_eq!(
            (files[1].old_path.as_deref(), files[1].new_path.as_deref()),
            (None, Some("new.txt"))
        );
        assert_eq!(
            (files[2].old_path.as_deref(), files[2].new_path.as_deref()),
            (Some("old.txt"), None)
        );
        assert_eq!(
            (files[3].old_path.as_deref(), files[3].new_path.as_deref()),
            (Some("a.txt"), Some("b.txt"))
        );
        assert!(files[3].hunks.is_empty());
    }

    #[test]
    fn broken_hunks_are_errors() {
        let e = parse("--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n").unwrap_err();
        assert!(e.message.contains("ends inside a hunk"), "{e}");
        let e = parse("--- a/x\n+++ b/x\n@@ nonsense @@\n").unwrap_err();
        assert!(e.message.contains("not a hunk header"));
        let bin = parse("diff --git a/x.png b/x.png\nindex 1..2 100644\nBinary files a/x.png and b/x.png differ\n").unwrap();
        assert!(bin[0].binary);
    }
}
