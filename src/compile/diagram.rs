//! The machine as a picture: Mermaid (for Markdown and MCP resources) and Graphviz DOT.
//! Gated stages and ends are marked; edges carry their event and guard.

use std::fmt::Write;

use petgraph::visit::EdgeRef;

use super::machine::{Machine, StateKind};
use crate::workflow::Workflow;

pub(super) fn stage_lines(wf: &Workflow, i: usize, lang: &str) -> Vec<String> {
    let stage = &wf.stages[i];
    let mut lines = vec![stage.name.value.clone()];
    if let Some(title) = stage
        .title
        .as_ref()
        .and_then(|t| t.get(lang, wf.default_lang()))
    {
        lines.push(title.to_string());
    }
    if let Some(gate) = &stage.settings.gate {
        lines.push(format!("gate: {}", gate.by.as_str()));
    }
    if !stage.edits() {
        lines.push("read-only".to_string());
    }
    if let Some(m) = stage.max_visits() {
        lines.push(format!("max {m} visits"));
    }
    if let Some(w) = stage.wall_secs() {
        lines.push(format!(
            "works {} at most",
            crate::syntax::keys::format_duration(w)
        ));
    }
    let c = &stage.settings.consult;
    if let Some(max) = &c.max {
        let mut line = match max.value {
            0 => "no consults".to_string(),
            n => format!("consult {n}/visit"),
        };
        if max.value > 0 {
            if stage.consult_from_visit() > 1 {
                let _ = write!(line, " from visit {}", stage.consult_from_visit());
            }
            if c.ensemble() {
                line.push_str(", ensemble");
            }
            if !c.prefer.is_empty() {
                let names: Vec<&str> = c.prefer.iter().map(|p| p.value.as_str()).collect();
                let _ = write!(line, " ({})", names.join(", "));
            }
        }
        lines.push(line);
    }
    lines
}

fn edge_label(event: &str, guard: Option<&str>) -> String {
    match guard {
        Some(g) => format!("{event} · {g}"),
        None => event.to_string(),
    }
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
}

fn mermaid_id(name: &str) -> String {
    // Mermaid ids may not contain `-`; prefix avoids clashing with keywords like `end`.
    format!("s_{}", name.replace('-', "_h_"))
}

/// Renders a Mermaid flowchart.
#[must_use]
pub(crate) fn to_mermaid(wf: &Workflow, m: &Machine, lang: &str) -> String {
    let mut out = String::from("flowchart TD\n");
    let _ = writeln!(
        out,
        "    classDef gate fill:#fff3cd,stroke:#b8860b,stroke-width:2px"
    );
    let _ = writeln!(out, "    classDef terminal fill:#e8f4ea,stroke:#2e7d32");
    let _ = writeln!(
        out,
        "    start_(( )) --> {}",
        m.start
            .map_or_else(|| "missing_start".into(), |s| mermaid_id(&m.graph[s].name))
    );
    for i in m.graph.node_indices() {
        let state = &m.graph[i];
        let id = mermaid_id(&state.name);
        match state.kind {
            StateKind::Stage(si) => {
                let label = mermaid_escape(&stage_lines(wf, si, lang).join("<br/>"));
                let _ = writeln!(out, "    {id}[\"{label}\"]");
                if wf.stages[si].settings.gate.is_some() {
                    let _ = writeln!(out, "    class {id} gate");
                }
            }
            StateKind::End(_) => {
                let _ = writeln!(out, "    {id}(((\"{}\")))", mermaid_escape(&state.name));
                let _ = writeln!(out, "    class {id} terminal");
            }
        }
    }
    for e in m.graph.edge_references() {
        let t = e.weight();
        let label = mermaid_escape(&edge_label(
            &t.event,
            t.guard.as_ref().map(|g| g.source.as_str()),
        ));
        let _ = writeln!(
            out,
            "    {} -->|\"{label}\"| {}",
            mermaid_id(&m.graph[e.source()].name),
            mermaid_id(&m.graph[e.target()].name)
        );
    }
    out
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Renders a Graphviz digraph.
#[must_use]
pub(crate) fn to_dot(wf: &Workflow, m: &Machine, lang: &str) -> String {
    let mut out = format!("digraph \"{}\" {{\n", dot_escape(&wf.name.value));
    out.push_str("    rankdir=TB;\n    node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    out.push_str("    edge [fontname=\"Helvetica\", fontsize=10];\n");
    out.push_str("    \"__start\" [shape=point, width=0.15];\n");
    if let Some(s) = m.start {
        let _ = writeln!(
            out,
            "    \"__start\" -> \"{}\";",
            dot_escape(&m.graph[s].name)
        );
    }
    for i in m.graph.node_indices() {
        let state = &m.graph[i];
        let name = dot_escape(&state.name);
        match state.kind {
            StateKind::Stage(si) => {
                let label = stage_lines(wf, si, lang)
                    .iter()
                    .map(|l| dot_escape(l))
                    .collect::<Vec<_>>()
                    .join("\\n");
                let style = if wf.stages[si].settings.gate.is_some() {
                    ", style=\"rounded,bold\", color=\"darkgoldenrod\""
                } else {
                    ""
                };
                let _ = writeln!(out, "    \"{name}\" [label=\"{label}\"{style}];");
            }
            StateKind::End(_) => {
                let _ = writeln!(out, "    \"{name}\" [shape=doublecircle];");
            }
        }
    }
    for e in m.graph.edge_references() {
        let t = e.weight();
        let label = match &t.guard {
            Some(g) => format!("{}\\n[{}]", dot_escape(&t.event), dot_escape(&g.source)),
            None => dot_escape(&t.event),
        };
        let _ = writeln!(
            out,
            "    \"{}\" -> \"{}\" [label=\"{label}\"];",
            dot_escape(&m.graph[e.source()].name),
            dot_escape(&m.graph[e.target()].name)
        );
    }
    out.push_str("}\n");
    out
}
