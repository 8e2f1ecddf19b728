//! `maestro init`, `maestro graph`, and the docs that must stay current.

use crate::support::{Test, repo};

#[test]
fn init_creates_a_home_that_validates_and_keeps_edits() {
    let dir = tempfile::tempdir().unwrap();
    let out = Test::new()
        .current_dir(dir.path())
        .args(&["init"])
        .expect(0);
    assert!(
        out.stdout.contains("wrote  .maestro/workflows/default.kdl"),
        "{}",
        out.stdout
    );
    assert!(dir.path().join(".maestro/roles/judge.md.j2").is_file());
    let ignore = std::fs::read_to_string(dir.path().join(".maestro/.gitignore")).unwrap();
    assert!(ignore.contains("state.db") && ignore.contains("backups/"));
    let out = Test::new()
        .current_dir(dir.path())
        .args(&["validate", "--deny-warnings", "--format", "json"])
        .expect(0);
    assert_eq!(out.stdout, "");

    // A person's edit survives a second init; a broken edit is reported at its place.
    let wf = dir.path().join(".maestro/workflows/default.kdl");
    let edited = std::fs::read_to_string(&wf)
        .unwrap()
        .replace("start \"analyze\"", "start \"analyse\"");
    std::fs::write(&wf, &edited).unwrap();
    let out = Test::new()
        .current_dir(dir.path())
        .args(&["init"])
        .expect(0);
    assert!(
        out.stdout.contains("kept   .maestro/workflows/default.kdl"),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::read_to_string(&wf).unwrap(), edited);
    let out = Test::new()
        .current_dir(dir.path())
        .args(&["validate", "--format", "json"])
        .expect(1);
    let f = &out.json_lines()[0];
    assert_eq!(f["rule"], "unknown-stage");
    assert!(
        f["file"]
            .as_str()
            .unwrap()
            .ends_with(".maestro/workflows/default.kdl")
    );
    assert_eq!(f["help"], "did you mean `analyze`?");

    Test::new()
        .current_dir(dir.path())
        .args(&["init", "--force"])
        .expect(0);
    assert_ne!(std::fs::read_to_string(&wf).unwrap(), edited);
}

#[test]
fn graph_draws_the_default_workflow() {
    let out = Test::new().args(&["graph"]).expect(0);
    let m = &out.stdout;
    assert!(m.starts_with("flowchart TD\n"));
    assert!(
        m.contains("s_analyze -->|\"approved · output.confidence >= 0.6\"| s_hypothesize"),
        "{m}"
    );
    assert!(m.contains("s_debug -->|\"exhausted\"| s_escalated"), "{m}");
    assert!(m.contains("class s_analyze gate"));
    assert!(m.contains("s_complete(((\"complete\")))"));
    let dot = Test::new()
        .args(&["graph", "default", "--format", "dot"])
        .expect(0)
        .stdout;
    assert!(dot.starts_with("digraph \"default\" {"));
    assert!(
        dot.contains("\"debug\" -> \"escalated\" [label=\"exhausted\"];"),
        "{dot}"
    );
    assert!(dot.contains("\"complete\" [shape=doublecircle];"));
    let ko = Test::new()
        .args(&["graph", "--lang", "ko"])
        .expect(0)
        .stdout;
    assert!(ko.contains("예제 분석"));
}

#[test]
fn graph_of_a_missing_workflow_says_what_exists() {
    let out = Test::new().args(&["graph", "nope"]).expect(3);
    assert!(
        out.stderr.contains("no workflow named `nope`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("default"), "{}", out.stderr);
}

#[test]
fn docs_diagram_of_the_default_workflow_is_current() {
    let out = Test::new().args(&["graph", "default"]).expect(0).stdout;
    let doc = std::fs::read_to_string(repo().join("docs/default-workflow.md")).unwrap();
    let block = doc
        .split("```mermaid\n")
        .nth(1)
        .and_then(|r| r.split("```").next())
        .expect("a mermaid block");
    assert_eq!(
        block, out,
        "docs/default-workflow.md is stale: regenerate with `maestro graph default`"
    );
}

#[test]
fn readme_rule_table_lists_every_rule() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for rule in maestro::Rule::ALL {
        assert!(
            readme.contains(&format!("| `{}` |", rule.id())),
            "README lacks rule `{}`",
            rule.id()
        );
    }
}
