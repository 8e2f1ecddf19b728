//! The drawing of real workflows: well-formed, complete, inert, deterministic.

use petgraph::visit::EdgeRef;

use super::{SvgMarks, to_svg};
use crate::loader::{Loaded, load_bytes};
use crate::syntax::ast::Format;

fn load(name: &str, text: &str) -> Loaded {
    let loaded = load_bytes(name, text.as_bytes(), Format::Kdl);
    assert!(loaded.machine.is_some(), "{:?}", loaded.diagnostics);
    loaded
}

fn draw(loaded: &Loaded, marks: &SvgMarks) -> String {
    let (wf, m) = (
        loaded.workflow.as_ref().unwrap(),
        loaded.machine.as_ref().unwrap(),
    );
    to_svg(wf, m, "en", marks)
}

fn default_wf() -> Loaded {
    load(
        "default.kdl",
        include_str!("../../../workflows/default.kdl"),
    )
}

/// A small well-formedness check: tags balance, attributes are quoted, and every `&` and
/// `<` in text is markup. Returns the start tags in order.
fn well_formed(svg: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = svg;
    while let Some(lt) = rest.find('<') {
        check_text(&rest[..lt]);
        let gt = rest[lt..].find('>').expect("an unclosed tag") + lt;
        let tag = &rest[lt + 1..gt];
        assert!(!tag.contains('<'), "`<` inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched close");
        } else {
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body
                .split_whitespace()
                .next()
                .expect("a tag name")
                .to_string();
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{name}"
            );
            // After the name: `key="value"` pairs only, values free of `<` and raw `&`.
            let mut attrs = body[name.len()..].trim();
            while !attrs.is_empty() {
                let eq = attrs.find("=\"").expect("key=\"value\"");
                assert!(!attrs[..eq].contains(char::is_whitespace), "{tag}");
                let end = attrs[eq + 2..].find('"').expect("a closing quote") + eq + 2;
                check_text(&attrs[eq + 2..end]);
                attrs = attrs[end + 1..].trim_start();
            }
            seen.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        rest = &rest[gt + 1..];
        if stack.is_empty() {
            assert!(rest.trim().is_empty(), "text after the root: {rest}");
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    seen
}

fn check_text(text: &str) {
    for (i, _) in text.match_indices('&') {
        let ent = &text[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                .iter()
                .any(|e| ent.starts_with(e)),
            "raw `&` in {text}"
        );
    }
    assert!(!text.contains('>'), "raw `>` in {text}");
}

#[test]
fn the_default_workflow_is_well_formed_svg_with_every_stage_and_edge_once() {
    let loaded = default_wf();
    let m = loaded.machine.as_ref().unwrap();
    let svg = draw(&loaded, &SvgMarks::default());
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\""));
    assert!(svg.contains(" viewBox=\""));
    let tags = well_formed(&svg);
    assert_eq!(tags[0], "svg");
    for bad in ["script", "image", "foreignObject", "use", "style", "a"] {
        assert!(!tags.iter().any(|t| t == bad), "<{bad}> in the drawing");
    }
    assert!(!svg.contains("href") && !svg.contains("http://www.w3.org/1999"));
    for state in m.graph.node_weights() {
        let kind = if m.is_end(m.index[&state.name]) {
            "end"
        } else {
            "stage"
        };
        assert_eq!(
            svg.matches(&format!("data-state=\"{}\"", state.name))
                .count(),
            1,
            "{}",
            state.name
        );
        assert!(svg.contains(&format!("<g class=\"node {kind}")), "{kind}");
    }
    // One drawn edge per (from, to) pair, and in it one label line per transition: every
    // edge of the machine appears exactly once.
    let mut pairs: Vec<(String, String)> = m
        .graph
        .edge_references()
        .map(|e| {
            (
                m.graph[e.source()].name.clone(),
                m.graph[e.target()].name.clone(),
            )
        })
        .collect();
    pairs.sort();
    let mut drawn_lines = 0;
    for (from, to) in {
        let mut p = pairs.clone();
        p.dedup();
        p
    } {
        let head = format!("<g class=\"edge\" data-from=\"{from}\" data-to=\"{to}\">");
        assert_eq!(svg.matches(&head).count(), 1, "{head}");
        let group = svg
            .split(&head)
            .nth(1)
            .unwrap()
            .split("</g>")
            .next()
            .unwrap();
        let title = group
            .split("<title>")
            .nth(1)
            .unwrap()
            .split("</title>")
            .next()
            .unwrap();
        let lines = title.lines().count() - 1;
        assert_eq!(
            lines,
            pairs.iter().filter(|p| p.0 == from && p.1 == to).count(),
            "{head}"
        );
        drawn_lines += lines;
    }
    assert_eq!(drawn_lines, m.graph.edge_count());
    assert_eq!(
        svg.matches("<g class=\"edge").count(),
        pairs.len() - dups(&pairs) + 1,
        "plus the start arrow"
    );
    // Drawn twice is still drawn the same: the layout is deterministic.
    assert_eq!(svg, draw(&loaded, &SvgMarks::default()));
}

fn dups(pairs: &[(String, String)]) -> usize {
    pairs.windows(2).filter(|w| w[0] == w[1]).count()
}

#[test]
fn hostile_workflow_text_comes_out_inert() {
    let text = r#"workflow "evil" {
version 1
start "a"
stage "a" {
    title "<script>alert('x')</script> & \"quoted\" \u{1}"
    next "b" when="output.x == '<img src=x onerror=alert(1)>' and output.y == \"&amp;\""
    next "a" on="revise"
}
stage "b" {
    title "ok"
    next "done"
}
end "done"
}
"#;
    let loaded = load("evil.kdl", text);
    let marks = SvgMarks {
        current: Some("b".into()),
        visited: vec!["a".into()],
        taken: vec![("a".into(), "b".into())],
        waiting: Some("b".into()),
    };
    let svg = draw(&loaded, &marks);
    well_formed(&svg);
    assert!(!svg.contains("<script") && !svg.contains("<img"), "{svg}");
    assert!(
        svg.contains(
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot; \u{FFFD}"
        ),
        "{svg}"
    );
    // The guard wraps over lines: all of it is shown, and it is whole in the tooltip too.
    let shown = shown(&svg, "a", "b");
    assert_eq!(
        shown,
        "done · output.x == &#39;&lt;img src=x onerror=alert(1)&gt;&#39; and output.y == &quot;&amp;amp;&quot;"
    );
    assert!(
        svg.contains("output.y == &quot;&amp;amp;&quot;</title>"),
        "{svg}"
    );
}

/// The label lines drawn for the edge `from` → `to`, joined by spaces (the last `<text>` of its
/// group: a straight edge's label is drawn twice, on a white halo first).
fn shown(svg: &str, from: &str, to: &str) -> String {
    let head = format!("data-from=\"{from}\" data-to=\"{to}\">");
    let group = svg
        .split(&head)
        .nth(1)
        .and_then(|g| g.split("</g>").next())
        .unwrap_or_else(|| panic!("no edge {from} → {to}"));
    let text = group.rsplit("<text").next().unwrap_or_default();
    text.split("<tspan")
        .skip(1)
        .filter_map(|t| {
            t.split_once('>')
                .and_then(|(_, rest)| rest.split_once("</tspan>"))
        })
        .map(|(line, _)| line)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn long_labels_wrap_within_a_width_and_a_number_of_lines() {
    use super::text::{text_w, wrap};
    let guard =
        "checks.test.passed and output.next_action == 'resolved' and output.confidence >= 0.8";
    let lines = wrap("approved", Some(guard));
    assert!(lines.len() > 1, "{lines:?}");
    assert!(
        !lines[0].cont && lines[1..].iter().all(|l| l.cont),
        "{lines:?}"
    );
    let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(text.join(" "), format!("approved · {guard}"));
    for l in &lines {
        assert!(text_w(&l.text, 10.5, false) <= 245.0, "{l:?}");
    }
    // A short label stays one line; a word longer than a line is broken; a huge guard stops.
    assert_eq!(wrap("exhausted", None).len(), 1);
    let word = "x".repeat(100);
    let broken = wrap("done", Some(&word));
    assert_eq!(
        broken.iter().map(|l| l.text.as_str()).collect::<String>(),
        format!("done ·{word}")
    );
    let huge = wrap("done", Some(&"word ".repeat(200_000)));
    assert_eq!(huge.len(), 8);
    assert!(huge[7].text.ends_with('…'), "{:?}", huge[7]);
    // Wide characters count a full em each.
    let wide = wrap("done", Some(&"한글 ".repeat(40)));
    for l in &wide {
        assert!(text_w(&l.text, 10.5, false) <= 245.0, "{l:?}");
    }
}

#[test]
fn marks_become_classes_and_colours() {
    let loaded = default_wf();
    let marks = SvgMarks {
        current: Some("implement".into()),
        visited: vec!["analyze".into(), "hypothesize".into(), "implement".into()],
        taken: vec![
            ("analyze".into(), "analyze".into()),
            ("analyze".into(), "hypothesize".into()),
            ("hypothesize".into(), "implement".into()),
        ],
        waiting: Some("implement".into()),
    };
    let svg = draw(&loaded, &marks);
    well_formed(&svg);
    assert!(
        svg.contains(
            "<g class=\"node stage gate current visited waiting\" data-state=\"implement\">"
        ),
        "{svg}"
    );
    assert!(svg.contains("<g class=\"node stage gate visited\" data-state=\"analyze\">"));
    assert!(svg.contains("<g class=\"node stage gate\" data-state=\"debug\">"));
    assert!(svg.contains("<g class=\"node end\" data-state=\"complete\">"));
    for (from, to) in &marks.taken {
        assert!(
            svg.contains(&format!(
                "<g class=\"edge taken\" data-from=\"{from}\" data-to=\"{to}\">"
            )),
            "{from} → {to}"
        );
    }
    assert_eq!(
        svg.matches("<g class=\"edge taken\"").count(),
        4,
        "the three taken and the start arrow"
    );
    assert!(svg.contains("<g class=\"edge\" data-from=\"implement\" data-to=\"debug\">"));
    assert_eq!(svg.matches("waiting for a person</text>").count(), 1);
    assert_eq!(
        svg.matches("stroke=\"#ea580c\" stroke-width=\"2\" stroke-dasharray")
            .count(),
        1
    );
    // Unmarked, nothing is lit.
    let plain = draw(&loaded, &SvgMarks::default());
    for c in ["current", "visited", "waiting", "taken"] {
        assert!(
            !plain.contains(&format!(" {c}\"")) && !plain.contains(&format!(" {c} ")),
            "{c}"
        );
    }
    if let Some(path) = std::env::var_os("MAESTRO_SVG_OUT") {
        // For looking at it: `MAESTRO_SVG_OUT=/tmp/svg-default.svg cargo test --lib svg`.
        std::fs::write(path, &svg).unwrap();
    }
}

#[test]
fn odd_shapes_draw_too() {
    // The start is not the first stage, a stage skips to another stage and goes back two,
    // an end is reached by no one, and the run has finished in an end.
    let text = r#"workflow "odd" {
version 1
start "b"
stage "a" {
    next "c"
    next "gone" on="exhausted"
}
stage "b" {
    next "a"
    next "d" when="output.long_guard_name_that_goes_on == 'and on and on and on'"
}
stage "c" {
    next "a" on="revise"
    next "d"
}
stage "d" {
    next "b" on="retry"
    next "done"
}
end "done"
end "gone"
end "never"
}
"#;
    let loaded = load("odd.kdl", text);
    let marks = SvgMarks {
        current: Some("done".into()),
        visited: vec!["b".into(), "d".into(), "done".into(), "nowhere".into()],
        taken: vec![
            ("b".into(), "d".into()),
            ("d".into(), "b".into()),
            ("d".into(), "done".into()),
        ],
        waiting: None,
    };
    let svg = draw(&loaded, &marks);
    well_formed(&svg);
    for s in ["a", "b", "c", "d", "done", "gone", "never"] {
        assert_eq!(
            svg.matches(&format!("data-state=\"{s}\"")).count(),
            1,
            "{s}"
        );
    }
    assert!(svg.contains("<g class=\"node end current visited\" data-state=\"done\">"));
    assert!(
        svg.contains("<g class=\"edge taken\" data-from=\"\" data-to=\"b\">"),
        "the start arrow"
    );
    assert!(svg.contains("<g class=\"edge taken\" data-from=\"d\" data-to=\"b\">"));
    assert_eq!(svg.matches("<g class=\"edge").count(), 9);
    if let Some(path) = std::env::var_os("MAESTRO_SVG_OUT") {
        std::fs::write(format!("{}.odd.svg", path.to_string_lossy()), &svg).unwrap();
    }

    // Nothing to draw is still a picture.
    let empty = load("empty.kdl", "workflow \"empty\" {\n    version 1\n}\n");
    let svg = draw(&empty, &SvgMarks::default());
    well_formed(&svg);
    assert!(svg.contains("width=\"32\" height=\"32\""), "{svg}");
}
