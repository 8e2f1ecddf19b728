//! The patch applier against real `git diff` output: maestro's result must equal git's byte
//! for byte, refusals must write nothing, and restore must bring the exact tree back. Then the
//! side doors of issue 9 through the real `maestro serve`: control files, links into `.git/`,
//! a link planted at the temporary file's name, and secrets in error messages.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use maestro::testing::workspace::{ChangeKind, PatchError};
use maestro::testing::workspace::{apply, restore};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::json;

use crate::mcp::{Project, call, err_text, ok};

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
    let kinds: Vec<(&str, ChangeKind)> = report
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.kind))
        .collect();
    assert!(
        kinds.contains(&("src/new.rs", ChangeKind::Created))
            && kinds.contains(&("old.txt", ChangeKind::Deleted))
    );
    assert!(
        kinds.contains(&("docs_moved.txt", ChangeKind::Renamed))
            && kinds.contains(&("src/main.rs", ChangeKind::Modified))
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

#[test]
fn change_kinds_are_snake_case_and_unknown_kinds_are_refused() {
    assert_eq!(
        serde_json::to_value(ChangeKind::Renamed).unwrap(),
        json!("renamed")
    );
    let e = serde_json::from_value::<ChangeKind>(json!("moved")).unwrap_err();
    assert!(e.to_string().contains("unknown variant"), "{e}");
}

/// Everything below `dir`, links as `-> target`, except the state file maestro keeps there.
fn snapshot(dir: &Path) -> Tree {
    let mut out = Tree::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel.starts_with(".maestro/state.db") {
                continue;
            }
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                let target = std::fs::read_link(e.path()).unwrap();
                out.insert(rel, format!("-> {}", target.display()).into_bytes());
            } else if ft.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                stack.push(e.path());
            } else {
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

fn creating(path: &str, line: &str) -> String {
    format!("--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+{line}\n")
}

async fn serve(p: &Project) -> RunningService<RoleClient, ()> {
    ().serve(TokioChildProcess::new(p.command()).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_files_cannot_be_written_over_mcp_by_any_name_or_link() {
    let p = Project::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("keep.txt"), "outside\n").unwrap();
    std::fs::write(p.path().join(".git/config"), "[core]\n\tbare = false\n").unwrap();
    std::os::unix::fs::symlink(".git", p.path().join("gitlink")).unwrap();
    std::fs::create_dir_all(p.path().join("docs")).unwrap();
    std::os::unix::fs::symlink("../.git", p.path().join("docs/deep")).unwrap();
    std::fs::write(p.path().join("ok.txt"), "fine\n").unwrap();
    let client = serve(&p).await;
    // The server may create its state file; everything else must stay as it is.
    ok(&call(&client, "context", json!({"files": ["ok.txt"]})).await);
    let before = snapshot(p.path());
    let outside_before = snapshot(outside.path());

    let hook = "#!/bin/sh\ntouch /tmp/pwned";
    for (diff, why) in [
        (creating(".maestro/conf/verify.yaml", "checks: {x: {run: [sh, -c, id]}}"), "control file"),
        (creating(".maestro/conf/providers.yaml", "providers: {}"), "control file"),
        (creating(".maestro/workflows/x.kdl", "workflow \"x\""), "control file"),
        (creating(".Maestro/conf/verify.yaml", "checks: {}"), "control file"),
        (creating(".claude/settings.json", "{}"), "control file"),
        (creating(".mcp.json", "{}"), "control file"),
        (creating("tools/.MCP.json", "{}"), "control file"),
        (creating(".GIT/config", "[core]"), "control file"),
        (creating(".git/hooks/pre-commit", hook), "control file"),
        (creating("gitlink/hooks/pre-commit", hook), "leads to `.git/hooks/pre-commit`"),
        (creating("docs/deep/hooks/post-checkout", hook), "leads to `.git/hooks/post-checkout`"),
        (
            "--- a/gitlink/config\n+++ b/gitlink/config\n@@ -1,2 +1,3 @@\n [core]\n \tbare = false\n+\tfsmonitor = touch /tmp/pwned\n".to_string(),
            "leads to `.git/config`",
        ),
        // One good file and one control file: nothing is written, not even the good one.
        (
            format!(
                "--- a/ok.txt\n+++ b/ok.txt\n@@ -1 +1 @@\n-fine\n+changed\n{}",
                creating(".claude/settings.local.json", "{}")
            ),
            "control file",
        ),
    ] {
        for dry_run in [true, false] {
            let e = err_text(&call(&client, "patch", json!({"diff": diff, "dry_run": dry_run})).await);
            assert!(e.contains("patch_refused") && e.contains(why), "{diff}\n→ {e}");
        }
    }
    // A rename onto a control file, and out of one.
    for (from, to) in [("ok.txt", ".mcp.json"), (".git/config", "stolen.txt")] {
        let diff = format!(
            "diff --git a/{from} b/{to}\nsimilarity index 100%\nrename from {from}\nrename to {to}\n"
        );
        let e = err_text(&call(&client, "patch", json!({"diff": diff})).await);
        assert!(
            e.contains("patch_refused") && e.contains("control file"),
            "{e}"
        );
    }
    client.cancel().await.unwrap();
    assert_eq!(
        snapshot(p.path()),
        before,
        "a refused patch changed the workspace"
    );
    assert_eq!(snapshot(outside.path()), outside_before);
    for absent in [
        ".maestro/conf",
        ".maestro/workflows",
        ".maestro/backups",
        ".claude",
        ".mcp.json",
        ".GIT",
        ".git/hooks",
        "stolen.txt",
    ] {
        assert!(!p.path().join(absent).exists(), "{absent} exists");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_planted_at_the_temporary_name_does_not_redirect_the_write() {
    let p = Project::new();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("file");
    std::fs::write(&victim, "outside, untouched\n").unwrap();
    std::fs::write(p.path().join("b.txt"), "one\ntwo\n").unwrap();
    // The name the old writer used for b.txt's temporary file, and a few guesses more.
    for name in [
        ".b.txt.maestro-tmp",
        ".b.txt.tmp",
        "b.txt.tmp",
        ".b.txt.swp",
    ] {
        std::os::unix::fs::symlink(&victim, p.path().join(name)).unwrap();
    }
    let client = serve(&p).await;
    let diff = "--- a/b.txt\n+++ b/b.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+TWO\n";
    let r = ok(&call(&client, "patch", json!({"diff": diff})).await);
    let backup = r["report"]["backup_id"].as_str().unwrap().to_string();
    assert_eq!(r["report"]["files"][0]["kind"], "modified");
    assert_eq!(
        std::fs::read_to_string(p.path().join("b.txt")).unwrap(),
        "one\nTWO\n"
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "outside, untouched\n"
    );
    let r = ok(&call(&client, "restore", json!({"backup_id": backup})).await);
    assert_eq!(r["report"]["restored"], json!(["b.txt"]));
    client.cancel().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(p.path().join("b.txt")).unwrap(),
        "one\ntwo\n"
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "outside, untouched\n"
    );
    assert_eq!(
        std::fs::read_link(p.path().join(".b.txt.maestro-tmp")).unwrap(),
        victim,
        "the planted link was replaced or followed"
    );
    // No temporary file was left behind.
    let left: Vec<String> = std::fs::read_dir(p.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("maestro-tmp") && n != ".b.txt.maestro-tmp")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_patch_never_echoes_a_secret() {
    let p = Project::new();
    let settings = "DEBUG = False\nDB_PASSWORD = \"hunter2-real-pw\"\nOPENAI_KEY = \"sk-proj-realKEY0123456789abcdefghijkl\"\nDATABASE_URL = \"postgres://app:pg-real-pw@db/app\"\n";
    std::fs::write(p.path().join("settings.py"), settings).unwrap();
    std::fs::write(p.path().join(".env"), "API_TOKEN=env-real-token\n").unwrap();
    std::fs::write(
        p.path().join("id_rsa"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt\n",
    )
    .unwrap();
    let client = serve(&p).await;
    // The server may create its state file; everything else must stay as it is.
    ok(&call(&client, "context", json!({"files": ["settings.py"]})).await);
    let before = snapshot(p.path());
    // A hunk whose context does not match: the error shows the file's lines, masked.
    let guess = "--- a/settings.py\n+++ b/settings.py\n@@ -1,4 +1,4 @@\n DEBUG = False\n-DB_PASSWORD = \"guess\"\n+DB_PASSWORD = \"other\"\n OPENAI_KEY = \"x\"\n DATABASE_URL = \"y\"\n";
    let e = err_text(&call(&client, "patch", json!({"diff": guess})).await);
    assert!(e.contains("patch_refused") && e.contains("found:"), "{e}");
    assert!(
        e.contains("DB_PASSWORD = \"[masked:assigned-secret]\""),
        "{e}"
    );
    assert!(
        e.contains("[masked:openai-key]") && e.contains("[masked:url-password]"),
        "{e}"
    );
    for secret in ["hunter2-real-pw", "realKEY0123", "pg-real-pw"] {
        assert!(!e.contains(secret), "{secret} echoed: {e}");
    }
    // Secret files are refused before they are read: no "found:" for a guess at their lines.
    for (path, line) in [(".env", "API_TOKEN=guess"), ("id_rsa", "guess")] {
        let diff = format!("--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-{line}\n+x\n");
        let e = err_text(&call(&client, "patch", json!({"diff": diff})).await);
        assert!(
            e.contains("patch_refused") && e.contains("secret file"),
            "{e}"
        );
        assert!(
            !e.contains("found") && !e.contains("env-real-token") && !e.contains("b3Blbn"),
            "{e}"
        );
    }
    let e = err_text(
        &call(
            &client,
            "patch",
            json!({"diff": creating("prod/.env.local", "X=1")}),
        )
        .await,
    );
    assert!(e.contains("secret file"), "{e}");
    client.cancel().await.unwrap();
    assert_eq!(snapshot(p.path()), before);
}

#[test]
fn restore_judges_every_path_again_and_refuses_links_in_its_own_folder() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("a.txt"), "a\n").unwrap();
    let r = apply(
        ws.path(),
        "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n",
        false,
    )
    .unwrap();
    let id = r.backup_id.unwrap();
    let dir = ws.path().join(".maestro/backups").join(&id);
    // A manifest edited to put a file into `.git/` (or anywhere else a tool may not write).
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    std::fs::create_dir_all(dir.join("files/.git/hooks")).unwrap();
    std::fs::write(dir.join("files/.git/hooks/pre-commit"), "#!/bin/sh\n").unwrap();
    std::fs::write(
        dir.join("manifest.json"),
        manifest.replace("\"path\": \"a.txt\"", "\"path\": \".git/hooks/pre-commit\""),
    )
    .unwrap();
    let e = restore(ws.path(), &id, None).unwrap_err();
    assert!(e.to_string().contains("control file"), "{e}");
    assert!(!ws.path().join(".git").exists());
    // An unknown change kind in a manifest is refused, not read as something else.
    std::fs::write(
        dir.join("manifest.json"),
        manifest.replace("\"kind\": \"modified\"", "\"kind\": \"moved\""),
    )
    .unwrap();
    let e = restore(ws.path(), &id, None).unwrap_err();
    assert!(e.to_string().contains("damaged"), "{e}");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("a.txt")).unwrap(),
        "b\n"
    );

    // `.maestro/backups` planted as a link to a folder outside: no backup is written there,
    // and so no patch is applied.
    let ws = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("a.txt"), "a\n").unwrap();
    std::fs::create_dir(ws.path().join(".maestro")).unwrap();
    std::os::unix::fs::symlink(outside.path(), ws.path().join(".maestro/backups")).unwrap();
    let e = apply(
        ws.path(),
        "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n",
        false,
    )
    .unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("a.txt")).unwrap(),
        "a\n"
    );
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
}
