//! An upgrade that loosens control must say so (issue 21, item 4).
//!
//! The audit's repro: a run waits in a read-only stage that may consult only from its third
//! visit; the file is then edited to allow edits, consult at once, work six times as long and
//! check answers less. `maestro upgrade` listed all of that as "wording only" and `--yes`
//! moved the run. Each change must be listed and marked as loosening control.

use serde_json::Value;

use crate::attacks::{Lab, start};

const BEFORE: &str = r#"workflow "audit" {
    version 1
    start "analyze"
    stage "analyze" {
        title "Analysis"
        edits #false
        max-visits 3
        consult max=2 from-visit=3
        context files=3 chars=20000
        red-flags max-chars=5000 hedging=#true
        gate {
            by "human"
        }
        next "improve"
    }
    stage "improve" {
        wall "30m"
        next "done"
    }
    end "done"
}
"#;

/// The loosened edit, and what `maestro upgrade` must mark for each part of it:
/// `(path in the JSON preview, words the printed line must hold)`.
const LOOSENED: &[(&str, &str, &str, &[&str])] = &[
    (
        "edits #false",
        "edits #true",
        "stages[analyze].edits",
        &["stage `analyze`", "edits"],
    ),
    (
        "max=2 from-visit=3",
        "max=2",
        "stages[analyze].consult.from-visit",
        &["stage `analyze`", "from-visit", "`3`"],
    ),
    (
        "wall \"30m\"",
        "wall \"3h\"",
        "stages[improve].wall-secs",
        &["stage `improve`", "wall `30m`", "wall `3h`"],
    ),
    (
        "files=3 chars=20000",
        "files=3 chars=200000",
        "stages[analyze].context.chars",
        &["stage `analyze`", "context chars", "`200000`"],
    ),
    (
        "max-chars=5000 hedging=#true",
        "max-chars=50000",
        "stages[analyze].red-flags.hedging",
        &["stage `analyze`", "red-flags hedging"],
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_that_loosens_control_lists_every_loosening_and_is_not_wording_only() {
    let lab = Lab::new();
    let wf = lab.workflow("audit", BEFORE);
    let client = lab.serve().await;
    let run = start(&client, "audit", "t").await;
    client.cancel().await.unwrap();

    let mut after = BEFORE.to_string();
    for (from, to, _, _) in LOOSENED {
        assert!(
            after.contains(from),
            "the test's edit `{from}` does not apply"
        );
        after = after.replacen(from, to, 1);
    }
    std::fs::write(&wf, &after).unwrap();

    // Without a terminal and without --yes: the changes are shown and nothing moves.
    let out = lab.maestro(&["upgrade", &run]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        !out.stdout.contains("wording only"),
        "a loosening upgrade was called wording only:\n{}",
        out.stdout
    );
    for (_, _, path, words) in LOOSENED {
        let line = out
            .stdout
            .lines()
            .find(|l| words.iter().all(|w| l.contains(w)))
            .unwrap_or_else(|| panic!("no line about {path} ({words:?}) in:\n{}", out.stdout));
        assert!(
            line.trim_start().starts_with('!') && line.contains("loosens control"),
            "{path} is not marked as loosening control: {line}"
        );
    }
    assert!(
        out.stdout.contains("loosen your control"),
        "no summary of the loosening changes:\n{}",
        out.stdout
    );

    // The same preview as data: each change structured and marked.
    let json = lab.maestro(&["upgrade", &run, "--json"]);
    assert_eq!(json.code, 2, "{}{}", json.stdout, json.stderr);
    let preview: Value = serde_json::from_str(json.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {}{}", json.stdout, json.stderr));
    assert_eq!(preview["loosens_control"], true, "{preview}");
    assert_eq!(preview["wording_only"], false, "{preview}");
    let diff = preview["diff"].as_array().cloned().unwrap_or_default();
    for (_, _, path, _) in LOOSENED {
        let change = diff
            .iter()
            .find(|c| c["path"] == *path)
            .unwrap_or_else(|| panic!("{path} missing from the structured diff: {preview}"));
        assert_eq!(change["effect"], "loosens", "{change}");
    }
    let version = || lab.pinned_version(&run);
    let pinned = version();
    assert_eq!(
        Some(pinned.as_str()),
        preview["from"].as_str(),
        "the preview was not of the run's own version"
    );

    // --yes still moves the run, and the audit trail keeps the marked changes.
    let moved = lab.maestro(&["upgrade", &run, "--yes"]);
    assert_eq!(moved.code, 0, "{}{}", moved.stdout, moved.stderr);
    assert!(moved.stdout.contains("loosens control"), "{}", moved.stdout);
    assert_ne!(version(), pinned, "--yes did not move the run");
    let log = lab.maestro(&["log", &run, "--jsonl"]);
    let upgraded = log
        .json_lines()
        .into_iter()
        .find(|e| e["kind"] == "workflow_upgraded")
        .unwrap_or_else(|| panic!("no workflow_upgraded event:\n{}", log.stdout));
    let recorded = upgraded.to_string();
    assert!(
        recorded.contains("loosens control") && recorded.contains("from-visit"),
        "{recorded}"
    );
}
