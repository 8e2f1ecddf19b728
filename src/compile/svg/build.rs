//! Workflow and machine → the drawing's nodes in drawing order (marker, stages, the column's
//! end, the row's ends) and one edge per (from, to) pair in file order, with its route, its
//! wrapped label lines and its lane rank. No coordinates yet.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use super::text::wrap;
use super::{Drawing, Edge, Kind, Node, Route, Style};
use crate::compile::diagram::stage_lines;
use crate::compile::machine::Machine;
use crate::workflow::Workflow;

impl Drawing {
    pub(super) fn build(wf: &Workflow, m: &Machine, lang: &str) -> Self {
        let (nodes, at) = nodes(wf, m, lang);
        let mut edges = edges(m, &nodes, &at);
        rank_lanes(&nodes, &mut edges);
        Self {
            nodes,
            edges,
            left_col: 0.0,
            right_col: 0.0,
        }
    }
}

/// The nodes, and where each state of the machine is among them.
fn nodes(wf: &Workflow, m: &Machine, lang: &str) -> (Vec<Node>, HashMap<NodeIndex, usize>) {
    let mut nodes: Vec<Node> = Vec::new();
    let mut at: HashMap<NodeIndex, usize> = HashMap::new();
    if m.start.is_some() {
        push(
            &mut nodes,
            String::new(),
            Kind::Marker,
            Vec::new(),
            false,
            true,
        );
    }
    for (i, si) in m.stages() {
        let stage = &wf.stages[si];
        let titled = stage
            .title
            .as_ref()
            .and_then(|t| t.get(lang, wf.default_lang()))
            .is_some();
        let lines = stage_lines(wf, si, lang)
            .into_iter()
            .enumerate()
            .map(|(k, l)| match k {
                0 => (l, Style::Name),
                1 if titled => (l, Style::Title),
                _ => (l, Style::Small),
            })
            .collect();
        let gated = stage.settings.gate.is_some();
        let k = push(
            &mut nodes,
            m.graph[i].name.clone(),
            Kind::Stage,
            lines,
            gated,
            true,
        );
        at.insert(i, k);
    }
    // The end under the column is the one the last stage reaches first (edge ids follow file
    // order), so that edge is a straight arrow; without one, the first end.
    let ends: Vec<NodeIndex> = m.graph.node_indices().filter(|&i| m.is_end(i)).collect();
    let col_end = m
        .stages()
        .last()
        .and_then(|(s, _)| {
            m.graph
                .edges(s)
                .filter(|e| m.is_end(e.target()))
                .min_by_key(petgraph::visit::EdgeRef::id)
                .map(|e| e.target())
        })
        .or_else(|| ends.first().copied());
    for &e in col_end
        .iter()
        .chain(ends.iter().filter(|&&e| Some(e) != col_end))
    {
        let name = m.graph[e].name.clone();
        let lines = vec![(name.clone(), Style::Name)];
        let k = push(
            &mut nodes,
            name,
            Kind::End,
            lines,
            false,
            Some(e) == col_end,
        );
        at.insert(e, k);
    }
    (nodes, at)
}

/// Adds a node (in the column when `col`) and returns its index.
fn push(
    nodes: &mut Vec<Node>,
    name: String,
    kind: Kind,
    lines: Vec<(String, Style)>,
    gated: bool,
    col: bool,
) -> usize {
    let k = nodes.len();
    nodes.push(Node {
        name,
        kind,
        lines,
        gated,
        col: col.then_some(k),
        x: 0.0,
        y: 0.0,
        w: 0.0,
        h: 0.0,
        rx: 0.0,
    });
    k
}

/// One edge per (from, to) pair, the start arrow first, each with the label of every
/// transition it stands for.
fn edges(m: &Machine, nodes: &[Node], at: &HashMap<NodeIndex, usize>) -> Vec<Edge> {
    let mut edges: Vec<Edge> = Vec::new();
    let mut pair: HashMap<(usize, usize), usize> = HashMap::new();
    let mut raw: Vec<_> = m.graph.edge_references().collect();
    raw.sort_by_key(petgraph::visit::EdgeRef::id);
    let start = m.start.map(|s| (0, at[&s], None));
    let transitions = raw.iter().map(|e| {
        let t = e.weight();
        let g = t.guard.as_ref().map(|g| g.source.as_str());
        let full = g.map_or_else(|| t.event.clone(), |g| format!("{} · {g}", t.event));
        (
            at[&e.source()],
            at[&e.target()],
            Some((wrap(&t.event, g), full)),
        )
    });
    for (from, to, label) in start.into_iter().chain(transitions) {
        let k = *pair.entry((from, to)).or_insert_with(|| {
            let route = match (nodes[from].col, nodes[to].col) {
                _ if from == to => Route::Loop,
                (Some(a), Some(b)) if b == a + 1 => Route::Straight,
                (Some(a), Some(b)) if b < a => Route::Back,
                _ => Route::Skip,
            };
            edges.push(Edge {
                from,
                to,
                lines: Vec::new(),
                full: Vec::new(),
                route,
                rank: 0,
                out_port: 0.0,
                in_port: 0.0,
                lane_x: 0.0,
                label_top: None,
            });
            edges.len() - 1
        });
        if let Some((lines, full)) = label {
            edges[k].lines.extend(lines);
            edges[k].full.push(full);
        }
    }
    edges
}

/// Lane ranks: shorter spans nearer the boxes. On the right, edges into the row's ends go
/// outermost, grouped by end, so each of those ends can stand right under its lanes.
fn rank_lanes(nodes: &[Node], edges: &mut [Edge]) {
    let span = |e: &Edge| {
        let pos = |i: usize| nodes[i].col.unwrap_or(nodes.len());
        pos(e.from).abs_diff(pos(e.to))
    };
    let row_group = |e: &Edge| if nodes[e.to].col.is_some() { 0 } else { e.to };
    for route in [Route::Back, Route::Skip] {
        let mut lanes: Vec<usize> = (0..edges.len())
            .filter(|&e| edges[e].route == route)
            .collect();
        lanes.sort_by_key(|&e| (row_group(&edges[e]), span(&edges[e]), e));
        for (k, e) in lanes.into_iter().enumerate() {
            edges[e].rank = k;
        }
    }
}
