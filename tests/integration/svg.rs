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

/// Checks `svg` with a real XML parser (Python's), which the test skips when Python is missing
/// outside CI.
fn assert_xml(svg: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom as m; m.parseString(sys.stdin.buffer.read())",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "python3 is needed to check the SVG as XML: {e}"
            );
            eprintln!("skipped: the XML check needs python3 ({e})");
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(svg.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "not well-formed XML: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Text as the drawing escapes it.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// What each drawn label says: its lines joined by spaces (wrapping breaks only at spaces
/// unless a single word is wider than a line).
fn labels(svg: &str) -> Vec<String> {
    svg.split("<text ")
        .skip(1)
        .filter_map(|t| t.split_once("</text>").map(|(t, _)| t))
        .map(|t| {
            t.split("<tspan")
                .skip(1)
                .filter_map(|s| {
                    s.split_once('>')
                        .and_then(|(_, r)| r.split_once("</tspan>"))
                })
                .map(|(line, _)| line)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn long_guards_are_drawn_whole_on_wrapped_lines() {
    let out = Test::new()
        .args(&["graph", "default", "--format", "svg"])
        .expect(0);
    let svg = &out.stdout;
    assert_xml(svg);
    assert!(!svg.contains('…'), "no label is cut");
    let path = "workflows/default.kdl";
    let bytes = std::fs::read(repo().join(path)).unwrap();
    let wf = maestro::load_bytes(path, &bytes, Format::Kdl)
        .workflow
        .expect("a workflow");
    let drawn = labels(svg);
    let mut long = 0;
    for stage in &wf.stages {
        for edge in &stage.next {
            let Some(when) = &edge.when else { continue };
            let guard: Vec<&str> = when.value.split_whitespace().collect();
            let label = esc(&format!("{} · {}", edge.event(stage), guard.join(" ")));
            long += usize::from(label.chars().count() > 60);
            assert!(
                drawn.iter().any(|d| d.contains(&label)),
                "`{label}` is not drawn whole; labels: {drawn:#?}"
            );
        }
    }
    assert!(long >= 3, "the default workflow has long guards to wrap");
    // Wrapped, a long guard takes several lines: the one the issue saw cut.
    assert!(
        svg.contains("<tspan x=\"")
            && drawn
                .iter()
                .any(|d| d.contains("approved · checks.test.passed and output.next_action ==")),
        "{drawn:#?}"
    );
}
