//! The patch applier against real `git diff` output: maestro's result must equal git's byte
//! for byte, refusals must write nothing, and restore must bring the exact tree back.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use maestro::workspace::backup::{apply, restore};
use maestro::workspace::patch::PatchError;

type Tree = BTreeMap<String, Vec<u8>>;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "core.autocrlf=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn write_tree(dir: &Path, tree: &Tree) {
    for (p, b) in tree {
        let full = dir.join(p);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, b).unwrap();
    }
}

/// Every file below `dir` except `.git/` and `.maestro/`.
fn read_tree(dir: &Path) -> Tree {
    let mut out = Tree::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".git" || name == ".maestro" {
                continue;
            }
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                let rel = e
                    .path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

fn tree(files: &[(&str, &str)]) -> Tree {
    files
        .iter()
        .map(|(p, c)| ((*p).to_string(), c.as_bytes().to_vec()))
        .collect()
}

/// Makes `before`, lets `change` edit it in a git repo, and returns git's diff and the result.
fn git_diff(before: &Tree, change: impl FnOnce(&Path)) -> (String, Tree) {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), before);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "before"]);
    change(dir.path());
    git(dir.path(), &["add", "-A"]);
    let diff = git(dir.path(), &["diff", "--cached", "-M"]);
    (diff, read_tree(dir.path()))
}

fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}

#[test]
fn maestro_applies_what_git_diff_wrote_byte_for_byte_and_restores() {
    let before = tree(&[
        ("src/main.rs", &numbered(60)),
        ("README.md", "hello\nworld\n"),
        ("old.txt", "going away\n"),
        ("moved.txt", &numbered(20)),
        ("renamed_edit.txt", &numbered(20)),
        ("crlf.txt", "one\r\ntwo\r\nthree\r\n"),
        ("no_eol.txt", "a\nb"),
        ("gets_eol.txt", "x\ny"),
        ("loses_eol.txt", "p\nq\n"),
    ]);
    let (diff, after) = git_diff(&before, |d| {
        let main = numbered(60)
            .replace("line 3\n", "line three\n")
            .replace("line 30\n", "line 30\nan added line\n")
            .replace("line 58\n", "");
        std::fs::write(d.join("src/main.rs"), main).unwrap();
        std::fs::write(d.join("src/new.rs"), "pub fn new() {}\n").unwrap();
        std::fs::remove_file(d.join("old.txt")).unwrap();
        std::fs::rename(d.join("moved.txt"), d.join("docs_moved.txt")).unwrap();
        std::fs::rename(d.join("renamed_edit.txt"), d.join("renamed_edited.txt")).unwrap();
        std::fs::write(
            d.join("renamed_edited.txt"),
            numbered(20).replace("line 10\n", "line ten\n"),
        )
        .unwrap();
        std::fs::write(d.join("crlf.txt"), "one\r\nTWO\r\nthree\r\n").unwrap();
        std::fs::write(d.join("no_eol.txt"), "a\nB").unwrap();
        std::fs::write(d.join("gets_eol.txt"), "x\ny\n").unwrap();
        std::fs::write(d.join("loses_eol.txt"), "p\nq").unwrap();
    });
    assert!(diff.contains("rename from moved.txt"), "{diff}");
    assert!(diff.contains("\\ No newline at end of file"));
    let ws = tempfile::tempdir().unwrap();
    write_tree(ws.path(), &before);

    // A dry run checks everything and writes nothing.
    let dry = apply(ws.path(), &diff, true).unwrap();
    assert!(dry.dry_run && dry.backup_id.is_none());
    assert_eq!(dry.files.len(), 9);
    assert_eq!(read_tree(ws.path()), before);
    assert!(!ws.path().join(".maestro").exists());

    let report = apply(ws.path(), &diff, false).unwrap();
    assert_eq!(
        read_tree(ws.path()),
        after,
        "maestro's result differs from git's"
    );
    let kinds: Vec<(&str, &str)> = report
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.kind.as_str()))
        .collect();
    assert!(kinds.contains(&("src/new.rs", "created")) && kinds.contains(&("old.txt", "deleted")));
    assert!(
        kinds.contains(&("docs_moved.txt", "renamed"))
            && kinds.contains(&("src/main.rs", "modified"))
    );

    let back = restore(ws.path(), report.backup_id.as_deref().unwrap(), None).unwrap();
    assert_eq!(
        read_tree(ws.path()),
        before,
        "restore did not bring the tree back"
    );
    assert!(back.removed.contains(&"src/new.rs".to_string()));
}

#[test]
fn hunks_that_drifted_a_little_still_apply_like_git_apply() {
    let before = tree(&[("f.txt", &numbered(50))]);
    let (diff, _) = git_diff(&before, |d| {
        std::fs::write(
            d.join("f.txt"),
            numbered(50).replace("line 40\n", "line forty\n"),
        )
        .unwrap();
    });
    // The workspace has moved on: five lines were added at the top since the diff was made.
    let drifted = tree(&[("f.txt", &format!("{}{}", "new\n".repeat(5), numbered(50)))]);
    let ws = tempfile::tempdir().unwrap();
    write_tree(ws.path(), &drifted);
    let by_git = tempfile::tempdir().unwrap();
    write_tree(by_git.path(), &drifted);
    std::fs::write(by_git.path().join("p.diff"), &diff).unwrap();
    git(by_git.path(), &["apply", "p.diff"]);
    std::fs::remove_file(by_git.path().join("p.diff")).unwrap();
    apply(ws.path(), &diff, false).unwrap();
    assert_eq!(read_tree(ws.path()), read_tree(by_git.path()));
}

#[test]
fn a_hunk_that_does_not_match_writes_nothing_and_says_where() {
    let before = tree(&[("a.txt", &numbered(10)), ("b.txt", &numbered(10))]);
    let (diff, _) = git_diff(&before, |d| {
        std::fs::write(d.join("a.txt"), numbered(10).replace("line 2\n", "two\n")).unwrap();
        std::fs::write(d.join("b.txt"), numbered(10).replace("line 5\n", "five\n")).unwrap();
    });
    let ws = tempfile::tempdir().unwrap();
    let mut changed = before.clone();
    changed.insert(
        "b.txt".into(),
        numbered(10).replace("line 5\n", "LINE FIVE\n").into_bytes(),
    );
    write_tree(ws.path(), &changed);
    let err = apply(ws.path(), &diff, false).unwrap_err();
    match &err {
        PatchError::Mismatch { path, hunk, detail } => {
            assert_eq!((path.as_str(), *hunk), ("b.txt", 1));
            assert!(
                detail.contains("|line 5") && detail.contains("|LINE FIVE"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    // a.txt would have applied, but nothing is written unless everything applies.
    assert_eq!(read_tree(ws.path()), changed);
    assert!(!ws.path().join(".maestro").exists());
}

#[test]
fn escapes_are_refused_and_write_nothing() {
    let outside = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(ws.path().join(".git")).unwrap();
    std::fs::write(ws.path().join(".git/config"), "[core]\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), ws.path().join("link")).unwrap();
    std::fs::write(ws.path().join("ok.txt"), "fine\n").unwrap();
    let snapshot = read_tree(ws.path());
    let new_file = |p: &str| format!("--- /dev/null\n+++ b/{p}\n@@ -0,0 +1 @@\n+evil\n");
    for (diff, why) in [
        (new_file("../escape.txt"), "`..`"),
        (
            "--- /dev/null\n+++ /etc/evil\n@@ -0,0 +1 @@\n+evil\n".to_string(),
            "absolute",
        ),
        (new_file(".git/hooks/pre-commit"), ".git/"),
        (new_file("link/evil.txt"), "outside the workspace"),
        (
            format!(
                "--- a/ok.txt\n+++ b/ok.txt\n@@ -1 +1 @@\n-fine\n+changed\n{}",
                new_file("../x")
            ),
            "`..`",
        ),
    ] {
        let err = apply(ws.path(), &diff, false).unwrap_err();
        assert!(matches!(err, PatchError::Path { .. }), "{diff}: {err:?}");
        assert!(err.to_string().contains(why), "{err}");
        assert_eq!(read_tree(ws.path()), snapshot, "{diff} wrote something");
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    }
    std::os::unix::fs::symlink(
        outside.path().join("target.txt"),
        ws.path().join("alias.txt"),
    )
    .unwrap();
    std::fs::write(outside.path().join("target.txt"), "x\n").unwrap();
    let err = apply(
        ws.path(),
        "--- a/alias.txt\n+++ b/alias.txt\n@@ -1 +1 @@\n-x\n+y\n",
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(
        std::fs::read_to_string(outside.path().join("target.txt")).unwrap(),
        "x\n"
    );
    // Backup ids are checked before anything is read.
    for bad in ["../../etc", "bk-../../x", "bk-ABCDEFGHIJ", ""] {
        assert!(restore(ws.path(), bad, None).is_err(), "{bad}");
    }
}
