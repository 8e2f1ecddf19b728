//! `maestro graph --format svg`: the drawing the approval page shows, from the real binary.

use crate::support::{Test, repo};
use maestro::Format;

/// Stage and end names of a shipped workflow, read by the library rather than from the SVG.
fn states(path: &str) -> (Vec<String>, Vec<String>) {
    let bytes = std::fs::read(repo().join(path)).unwrap();
    let format = Format::from_path(path).unwrap();
    let loaded = maestro::load_bytes(path, &bytes, format);
    let wf = loaded.workflow.expect("a workflow");
    let stages = wf.stages.iter().map(|s| s.name.value.clone()).collect();
    let ends = wf.ends.iter().map(|e| e.value.clone()).collect();
    (stages, ends)
}

fn check(svg: &str, path: &str) {
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    assert!(!svg.contains("<script") && !svg.contains("href="), "{svg}");
    let (stages, ends) = states(path);
    assert!(!stages.is_empty());
    for (names, class) in [(&stages, "node stage"), (&ends, "node end")] {
        for name in names {
            let node = svg
                .split("<g class=\"")
                .filter(|g| g.starts_with(class))
                .filter(|g| g.contains(&format!("data-state=\"{name}\">")))
                .count();
            assert_eq!(node, 1, "`{name}` is drawn once as a {class} in {path}");
        }
    }
    // Unmarked: no state is current, visited or waiting, and no edge is taken.
    for mark in [" current", " visited", " waiting", " taken"] {
        assert!(
            !svg.contains(&format!("class=\"node stage{mark}")),
            "{mark}"
        );
        assert!(!svg.contains(&format!("class=\"edge{mark}")), "{mark}");
    }
}

#[test]
fn graph_draws_the_default_workflow_as_svg() {
    let out = Test::new()
        .args(&["graph", "default", "--format", "svg"])
        .expect(0);
    check(&out.stdout, "workflows/default.kdl");
    // Gated stages wear the gold border; the guard of analyze's way forward is on its edge.
    assert_eq!(
        out.stdout.matches("<g class=\"node stage gate\"").count(),
        5
    );
    assert!(
        out.stdout
            .contains("approved · output.confidence &gt;= 0.6")
    );
    assert!(
        out.stdout
            .contains("data-from=\"debug\" data-to=\"escalated\"")
    );
    let ko = Test::new()
        .args(&["graph", "default", "--format", "svg", "--lang", "ko"])
        .expect(0)
        .stdout;
    assert!(ko.contains(">예제 분석</text>"), "{ko}");
}

#[test]
fn graph_draws_a_workflow_file_as_svg() {
    let out = Test::new()
        .args(&["graph", "workflows/review.yaml", "--format", "svg"])
        .expect(0);
    check(&out.stdout, "workflows/review.yaml");
    assert!(
        out.stdout
            .contains("<g class=\"edge\" data-from=\"review\" data-to=\"review\">")
    );
}
