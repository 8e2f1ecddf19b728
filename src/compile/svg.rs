//! The machine as a standalone SVG picture: the approval page's run view and
//! `maestro graph --format svg`.
//!
//! The layout is ours and deterministic (no Graphviz, no script): stages stand in one column in
//! file order under a start marker; one end stands under the last stage and the others in a row
//! beside it. An edge to the node just below is a straight arrow. Every other edge runs in its
//! own vertical lane: back edges on the left, skips on the right, shorter spans nearer the boxes,
//! so lanes never overlap and rarely cross. Lane labels stand in a column beyond the lanes at
//! the height where their edge leaves its box, tied to it by a dotted leader, so no label lies
//! on a box or on another label. Edges between the same two states are drawn as one line with
//! one label line per transition (marks name `(from, to)` pairs, so this is also what a run can
//! light up). All workflow text is escaped: the file is untrusted.

use std::collections::HashMap;
use std::fmt::Write;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use super::diagram::stage_lines;
use super::machine::Machine;
use crate::workflow::Workflow;

/// What the page marks on the drawing: where the run is and the way it came.
#[derive(Debug, Clone, Default)]
pub(crate) struct SvgMarks {
    /// The stage or end the run is in now.
    pub current: Option<String>,
    /// Stages and ends the run has been in (any visit).
    pub visited: Vec<String>,
    /// Transitions the run has taken, as (from, to) state names.
    pub taken: Vec<(String, String)>,
    /// The stage whose gate waits for a person (drawn as waiting).
    pub waiting: Option<String>,
}

/// Draws the machine as a standalone SVG 1.1 document.
#[must_use]
pub(crate) fn to_svg(wf: &Workflow, m: &Machine, lang: &str, marks: &SvgMarks) -> String {
    let mut d = Drawing::build(wf, m, lang);
    d.layout();
    d.render(&wf.name.value, marks)
}

const FONT: &str = "font-family=\"sans-serif\"";
const BIG: f64 = 12.0;
const SMALL: f64 = 10.5;
/// Height of one label line (one transition).
const LINE: f64 = 13.0;
/// Distance between neighbouring lanes, and at most between neighbouring ports.
const LANE: f64 = 14.0;
const GUARD_CHARS: usize = 40;
const MARGIN: f64 = 16.0;
const INK: &str = "#4b5563";
const TAKEN: &str = "#1d4ed8";
const HALO: &str =
    " class=\"halo\" stroke=\"#ffffff\" stroke-width=\"4\" stroke-linejoin=\"round\"";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Marker,
    Stage,
    End,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Name,
    Title,
    Small,
}

struct Node {
    name: String,
    kind: Kind,
    lines: Vec<(String, Style)>,
    gated: bool,
    /// Place in the column, or `None` for an end in the bottom row.
    col: Option<usize>,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    rx: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    /// To the node right below.
    Straight,
    Loop,
    /// Up, in a lane on the left.
    Back,
    /// Down past other nodes, in a lane on the right.
    Skip,
}

struct Edge {
    from: usize,
    to: usize,
    /// One short line per transition, and the same in full for the tooltip.
    lines: Vec<String>,
    full: Vec<String>,
    route: Route,
    /// Rank among the lanes on its side (0 = nearest the boxes).
    rank: usize,
    out_port: f64,
    in_port: f64,
    lane_x: f64,
    /// Top of its label in the side column.
    label_top: Option<f64>,
}

struct Drawing {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    /// x of the left and right label columns (left labels end there, right ones start there).
    left_col: f64,
    right_col: f64,
}

impl Drawing {
    /// Nodes in drawing order (marker, stages, the column's end, the row's ends), and one edge
    /// per (from, to) pair in file order with its route and lane rank.
    fn build(wf: &Workflow, m: &Machine, lang: &str) -> Self {
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
        // The end under the column is the one the last stage reaches first (edge ids follow
        // file order), so that edge is a straight arrow; without one, the first end.
        let ends: Vec<NodeIndex> = m.graph.node_indices().filter(|&i| m.is_end(i)).collect();
        let col_end = m
            .stages()
            .last()
            .and_then(|(s, _)| {
                m.graph
                    .edges(s)
                    .filter(|e| m.is_end(e.target()))
                    .min_by_key(|e| e.id())
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

        let mut edges: Vec<Edge> = Vec::new();
        let mut pair: HashMap<(usize, usize), usize> = HashMap::new();
        let mut raw: Vec<_> = m.graph.edge_references().collect();
        raw.sort_by_key(|e| e.id());
        let start = m.start.map(|s| (0, at[&s], None));
        let transitions = raw.iter().map(|e| {
            let t = e.weight();
            let g = t.guard.as_ref().map(|g| g.source.as_str());
            let full = g.map_or_else(|| t.event.clone(), |g| format!("{} · {g}", t.event));
            (
                at[&e.source()],
                at[&e.target()],
                Some((short(&t.event, g), full)),
            )
        });
        for (from, to, line) in start.into_iter().chain(transitions) {
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
            if let Some((s, f)) = line {
                edges[k].lines.push(s);
                edges[k].full.push(f);
            }
        }

        // Lane ranks: shorter spans nearer the boxes. On the right, edges into the row's ends
        // go outermost, grouped by end, so each of those ends can stand right under its lanes.
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
        Self {
            nodes,
            edges,
            left_col: 0.0,
            right_col: 0.0,
        }
    }

    /// Sizes, places and routes everything, in coordinates centred on the column.
    fn layout(&mut self) {
        let (nodes, edges) = (&mut self.nodes, &mut self.edges);
        // Ports, ordered so that lanes leaving and entering one side do not cross each other:
        // on the right, entries (from above) over exits (going down), entries inner-first and
        // exits outer-first; on the left the mirror, with a self-loop on top.
        let mut left: Vec<Vec<(usize, bool)>> = vec![Vec::new(); nodes.len()];
        let mut right: Vec<Vec<(usize, bool)>> = vec![Vec::new(); nodes.len()];
        for (e, ed) in edges.iter().enumerate() {
            match ed.route {
                Route::Loop => left[ed.from].extend([(e, true), (e, false)]),
                Route::Back => {
                    left[ed.from].push((e, true));
                    left[ed.to].push((e, false));
                }
                Route::Skip => {
                    right[ed.from].push((e, true));
                    // An end in the row is entered from above, not through a port.
                    if nodes[ed.to].col.is_some() {
                        right[ed.to].push((e, false));
                    }
                }
                Route::Straight => {}
            }
        }
        let rank = |e: usize| edges[e].rank as i64;
        for side in &mut left {
            side.sort_by_key(|&(e, out)| match (edges[e].route == Route::Loop, out) {
                (true, out) => (0, i64::from(!out)),
                (false, true) => (1, rank(e)),
                (false, false) => (2, -rank(e)),
            });
        }
        for side in &mut right {
            side.sort_by_key(|&(e, out)| if out { (1, -rank(e)) } else { (0, rank(e)) });
        }

        // Box sizes: the text, and tall enough for the ports on either side.
        for (i, nd) in nodes.iter_mut().enumerate() {
            let ports = left[i].len().max(right[i].len()) as f64;
            let tw = nd
                .lines
                .iter()
                .map(|(l, s)| line_w(l, *s))
                .fold(0.0, f64::max);
            let th: f64 = nd.lines.iter().map(|(_, s)| line_h(*s)).sum();
            (nd.w, nd.h, nd.rx) = match nd.kind {
                Kind::Marker => (14.0, 14.0, 7.0),
                Kind::Stage => (
                    (tw + 24.0).max(120.0),
                    (th + 14.0).max((ports + 1.0) * 10.0 + 16.0),
                    8.0,
                ),
                Kind::End => (
                    (tw + 36.0).max(90.0),
                    30.0_f64.max((ports + 1.0) * 10.0 + 16.0),
                    15.0,
                ),
            };
        }

        // Down the column: each gap is tall enough for the straight edge's label in it.
        let straight: HashMap<usize, usize> = edges
            .iter()
            .filter(|e| e.route == Route::Straight)
            .map(|e| (e.from, e.lines.len()))
            .collect();
        let col: Vec<usize> = (0..nodes.len())
            .filter(|&i| nodes[i].col.is_some())
            .collect();
        let (mut y, mut row_y) = (0.0, 0.0);
        for &i in &col {
            nodes[i].y = y;
            row_y = y;
            let least = if nodes[i].kind == Kind::Marker {
                22.0
            } else {
                36.0
            };
            let lines = straight.get(&i).copied().unwrap_or(0) as f64;
            y += nodes[i].h + (lines * LINE + 16.0).max(least);
        }
        // The other ends share the row of the column's last node, its end.

        // Across: the column centred on x = 0; lanes into the column's nodes, then for each end
        // in the row its lanes, the end spanning them (with room for its rounded sides).
        let half = col.iter().map(|&i| nodes[i].w / 2.0).fold(0.0, f64::max);
        for &i in &col {
            nodes[i].x = -nodes[i].w / 2.0;
        }
        let mut skips: Vec<usize> = (0..edges.len())
            .filter(|&e| edges[e].route == Route::Skip)
            .collect();
        skips.sort_by_key(|&e| edges[e].rank);
        let mut cursor = half + 20.0;
        let mut into_row: HashMap<usize, Vec<usize>> = HashMap::new();
        for e in skips {
            if nodes[edges[e].to].col.is_some() {
                edges[e].lane_x = cursor;
                cursor += LANE;
            } else {
                into_row.entry(edges[e].to).or_default().push(e);
            }
        }
        cursor += 10.0;
        for (i, nd) in nodes
            .iter_mut()
            .enumerate()
            .filter(|(_, nd)| nd.col.is_none())
        {
            let mine = into_row.remove(&i).unwrap_or_default();
            let span = mine.len().saturating_sub(1) as f64 * LANE;
            nd.w = nd.w.max(span + 2.0 * nd.rx + 16.0);
            (nd.x, nd.y) = (cursor, row_y);
            for (k, &e) in mine.iter().enumerate() {
                edges[e].lane_x = cursor + (nd.w - span) / 2.0 + k as f64 * LANE;
            }
            cursor += nd.w + 16.0;
        }
        // Back lanes start past the self-loops.
        let has_loop = edges.iter().any(|e| e.route == Route::Loop);
        let left_base = -half - if has_loop { 36.0 } else { 18.0 };
        for e in edges.iter_mut().filter(|e| e.route == Route::Back) {
            e.lane_x = left_base - e.rank as f64 * LANE;
        }

        // Port heights: bunched about the middle of each side (a self-loop stays small), spread
        // over its straight part when there are many.
        for (i, nd) in nodes.iter().enumerate() {
            for side in [&left[i], &right[i]] {
                let k = side.len() as f64;
                let step = ((nd.h - 2.0 * nd.rx).max(0.0) / k).min(LANE);
                for (j, &(e, out)) in side.iter().enumerate() {
                    let y = nd.y + nd.h / 2.0 + (j as f64 - (k - 1.0) / 2.0) * step;
                    if out {
                        edges[e].out_port = y;
                    } else {
                        edges[e].in_port = y;
                    }
                }
            }
        }

        // Side labels: placed top-down in the order of their ports, each as close to its port
        // as the labels above allow.
        let mut bottom = [f64::MIN, f64::MIN];
        let mut want: Vec<(usize, f64, usize)> = edges
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.lines.is_empty() && e.route != Route::Straight)
            .map(|(k, e)| (usize::from(e.route == Route::Skip), e.out_port, k))
            .collect();
        want.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)));
        for (side, port, e) in want {
            let top = (port - 7.0).max(bottom[side] + 4.0);
            bottom[side] = top + edges[e].lines.len() as f64 * LINE;
            edges[e].label_top = Some(top);
        }
        self.left_col = edges
            .iter()
            .filter(|e| e.route == Route::Back)
            .map(|e| e.lane_x)
            .fold(left_base + 6.0, f64::min)
            - 26.0;
        // The right labels stand just beyond the lanes, or beyond the row's ends too when
        // they reach down to them.
        let reach_row = bottom[1] > row_y - 6.0;
        self.right_col = edges
            .iter()
            .filter(|e| e.route == Route::Skip)
            .map(|e| e.lane_x)
            .chain(
                nodes
                    .iter()
                    .filter(|n| reach_row && n.col.is_none())
                    .map(|n| n.x + n.w),
            )
            .fold(half, f64::max)
            + 26.0;
    }

    /// The document: lane edges first, straight edges over them (their labels sit in the gaps
    /// the lanes pass through, on a white halo), nodes last.
    fn render(&self, title: &str, marks: &SvgMarks) -> String {
        let mut body = String::new();
        let mut bbox = BBox::default();
        let mut order: Vec<&Edge> = self.edges.iter().collect();
        order.sort_by_key(|e| e.route == Route::Straight);
        for e in order {
            self.draw_edge(&mut body, e, marks, &mut bbox);
        }
        for nd in &self.nodes {
            draw_node(&mut body, nd, marks, &mut bbox);
        }
        let (x0, y0) = (bbox.x0 - MARGIN, bbox.y0 - MARGIN);
        let w = (bbox.x1 - bbox.x0 + 2.0 * MARGIN).ceil();
        let h = (bbox.y1 - bbox.y0 + 2.0 * MARGIN).ceil();
        let (x0, y0, w, h) = (n(x0), n(y0), n(w), n(h));
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{w}\" height=\"{h}\" viewBox=\"{x0} {y0} {w} {h}\" class=\"maestro-machine\">\n"
        );
        let _ = writeln!(out, "<title>workflow {}</title>", esc(title));
        out.push_str("<defs>");
        for (id, fill) in [("maestro-arrow", INK), ("maestro-arrow-taken", TAKEN)] {
            let _ = write!(
                out,
                "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"{fill}\"/></marker>"
            );
        }
        out.push_str("</defs>\n");
        let _ = writeln!(
            out,
            "<rect x=\"{x0}\" y=\"{y0}\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>"
        );
        out.push_str(&body);
        out.push_str("</svg>\n");
        out
    }

    fn draw_edge(&self, out: &mut String, e: &Edge, marks: &SvgMarks, bbox: &mut BBox) {
        let (f, t) = (&self.nodes[e.from], &self.nodes[e.to]);
        let taken = if f.kind == Kind::Marker {
            // The start arrow is taken once the run has been anywhere.
            marks.current.is_some() || !marks.visited.is_empty()
        } else {
            marks
                .taken
                .iter()
                .any(|(a, b)| *a == f.name && *b == t.name)
        };
        let _ = write!(
            out,
            "<g class=\"edge{}\" data-from=\"{}\" data-to=\"{}\">",
            if taken { " taken" } else { "" },
            esc(&f.name),
            esc(&t.name)
        );
        if !e.full.is_empty() {
            let _ = write!(
                out,
                "<title>{} → {}\n{}</title>",
                esc(&f.name),
                esc(&t.name),
                esc(&e.full.join("\n"))
            );
        }
        let cx = f.x + f.w / 2.0;
        let d = match e.route {
            Route::Straight => format!("M{} {}V{}", n(cx), n(f.y + f.h), n(t.y - 1.0)),
            Route::Loop => {
                let (x, y0, y1) = (f.x, e.out_port, e.in_port);
                let (bx, ya, yb) = (n(x - 30.0), n(y0 - 6.0), n(y1 + 6.0));
                format!(
                    "M{} {}C{bx} {ya} {bx} {yb} {} {}",
                    n(x),
                    n(y0),
                    n(x - 1.0),
                    n(y1)
                )
            }
            Route::Back => lane(f.x, e.out_port, e.lane_x, e.in_port, Some(t.x - 1.0)),
            Route::Skip => {
                let x0 = if f.kind == Kind::Marker {
                    cx + 7.0
                } else {
                    f.x + f.w
                };
                // Into a column node's side, or straight down onto the top of an end in the row.
                match t.col {
                    Some(_) => lane(x0, e.out_port, e.lane_x, e.in_port, Some(t.x + t.w + 1.0)),
                    None => lane(x0, e.out_port, e.lane_x, t.y - 1.0, None),
                }
            }
        };
        let (stroke, width, arrow) = if taken {
            (TAKEN, 2.5, "maestro-arrow-taken")
        } else {
            (INK, 1.3, "maestro-arrow")
        };
        let _ = write!(
            out,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\" marker-end=\"url(#{arrow})\"/>"
        );
        let ink = if taken { TAKEN } else { "#1f2937" };
        let lw = e
            .lines
            .iter()
            .map(|l| text_w(l, SMALL, false))
            .fold(0.0, f64::max);
        let lh = e.lines.len() as f64 * LINE;
        if e.route == Route::Straight && !e.lines.is_empty() {
            let (x, top) = (cx + 8.0, f.y + f.h + 8.0);
            bbox.add(x, top, lw + 4.0, lh);
            // A white halo under the text keeps it legible where lanes pass behind it.
            label(out, x, top, "start", &e.lines, "#ffffff", HALO);
            label(out, x, top, "start", &e.lines, ink, "");
        } else if let Some(top) = e.label_top {
            // A dotted leader from where the edge turns (or the loop's tip) to its label.
            let (from, to) = match e.route {
                Route::Loop => (
                    (f.x - 23.0, (e.out_port + e.in_port) / 2.0),
                    self.left_col + 3.0,
                ),
                Route::Back => ((e.lane_x, e.out_port), self.left_col + 3.0),
                _ => ((e.lane_x, e.out_port), self.right_col - 3.0),
            };
            let _ = write!(
                out,
                "<path d=\"M{} {}L{} {}\" fill=\"none\" stroke=\"#9ca3af\" stroke-width=\"0.8\" stroke-dasharray=\"1.5 2.5\"/>",
                n(from.0),
                n(from.1),
                n(to),
                n(top + 7.0)
            );
            if e.route == Route::Skip {
                bbox.add(self.right_col, top, lw, lh);
                label(out, self.right_col, top, "start", &e.lines, ink, "");
            } else {
                bbox.add(self.left_col - lw, top, lw, lh);
                label(out, self.left_col, top, "end", &e.lines, ink, "");
            }
        }
        out.push_str("</g>\n");
    }
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

/// An orthogonal path with rounded corners: out of a box side at (`x0`, `y0`), along the lane at
/// `lx` to `y1`, then back into a box side at `x1` (or ending at `y1` when `x1` is `None`).
fn lane(x0: f64, y0: f64, lx: f64, y1: f64, x1: Option<f64>) -> String {
    let r = 8.0_f64.min((y1 - y0).abs() / 2.0);
    let (sx, sy) = ((lx - x0).signum(), (y1 - y0).signum());
    let mut d = format!(
        "M{} {}H{}Q{} {} {} {}V",
        n(x0),
        n(y0),
        n(lx - sx * r),
        n(lx),
        n(y0),
        n(lx),
        n(y0 + sy * r)
    );
    match x1 {
        Some(x1) => {
            let _ = write!(
                d,
                "{}Q{} {} {} {}H{}",
                n(y1 - sy * r),
                n(lx),
                n(y1),
                n(lx - sx * r),
                n(y1),
                n(x1)
            );
        }
        None => d.push_str(&n(y1)),
    }
    d
}

fn draw_node(out: &mut String, nd: &Node, marks: &SvgMarks, bbox: &mut BBox) {
    bbox.add(nd.x, nd.y, nd.w, nd.h);
    let cx = nd.x + nd.w / 2.0;
    if nd.kind == Kind::Marker {
        let _ = writeln!(
            out,
            "<circle class=\"start\" cx=\"{}\" cy=\"{}\" r=\"7\" fill=\"{INK}\"/>",
            n(cx),
            n(nd.y + 7.0)
        );
        return;
    }
    let current = marks.current.as_deref() == Some(nd.name.as_str());
    let waiting = marks.waiting.as_deref() == Some(nd.name.as_str());
    let visited = marks.visited.contains(&nd.name);
    let end = nd.kind == Kind::End;
    let mut class = String::from(if end { "node end" } else { "node stage" });
    for (on, c) in [
        (nd.gated, " gate"),
        (current, " current"),
        (visited, " visited"),
        (waiting, " waiting"),
    ] {
        if on {
            class.push_str(c);
        }
    }
    let _ = write!(
        out,
        "<g class=\"{class}\" data-state=\"{}\">",
        esc(&nd.name)
    );
    let mut tip: Vec<&str> = nd.lines.iter().map(|(l, _)| l.as_str()).collect();
    if waiting {
        tip.push("waiting for a person");
    }
    let _ = write!(out, "<title>{}</title>", esc(&tip.join("\n")));
    let (fill, stroke, sw) = match (end, nd.gated) {
        (true, _) => ("#e8f4ea", "#2e7d32", 1.5),
        (false, true) => ("#fffaf0", "#b8860b", 2.2),
        (false, false) => ("#ffffff", "#6b7280", 1.2),
    };
    let fill = match (current, visited) {
        (true, _) => "#1d4ed8",
        (false, true) => "#dbeafe",
        (false, false) => fill,
    };
    let rect = |out: &mut String, inset: f64, fill: &str, stroke: &str, sw: f64, extra: &str| {
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{sw}\"{extra}/>",
            n(nd.x + inset),
            n(nd.y + inset),
            n(nd.w - 2.0 * inset),
            n(nd.h - 2.0 * inset),
            n((nd.rx - inset).max(2.0))
        );
    };
    rect(out, 0.0, fill, stroke, sw, "");
    if end {
        // The double border of an end.
        rect(out, 3.5, "none", stroke, 1.0, "");
    }
    if waiting {
        rect(
            out,
            -4.5,
            "none",
            "#ea580c",
            2.0,
            " stroke-dasharray=\"6 4\"",
        );
    }
    let th: f64 = nd.lines.iter().map(|(_, s)| line_h(*s)).sum();
    let mut y = nd.y + (nd.h - th) / 2.0;
    for (l, s) in &nd.lines {
        let (size, weight, ink) = match (s, current) {
            (Style::Name, true) => (BIG, " font-weight=\"bold\"", "#ffffff"),
            (Style::Name, false) => (BIG, " font-weight=\"bold\"", "#111827"),
            (Style::Title, true) => (BIG, "", "#ffffff"),
            (Style::Title, false) => (BIG, "", "#1f2937"),
            (Style::Small, true) => (SMALL, "", "#dbeafe"),
            (Style::Small, false) => (SMALL, "", "#4b5563"),
        };
        y += line_h(*s);
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" {FONT} font-size=\"{size}\"{weight} text-anchor=\"middle\" fill=\"{ink}\">{}</text>",
            n(cx),
            n(y - 4.0),
            esc(l)
        );
    }
    if waiting {
        // Below the box, left of the arrow leaving it: that side of the gap holds no label.
        let (x, y) = (cx - 10.0, nd.y + nd.h + 18.0);
        bbox.add(x - 130.0, y - 10.0, 130.0, 12.0);
        let _ = write!(
            out,
            "<text class=\"waiting-caption\" x=\"{}\" y=\"{}\" {FONT} font-size=\"{SMALL}\" font-style=\"italic\" text-anchor=\"end\" fill=\"#c2410c\">waiting for a person</text>",
            n(x),
            n(y)
        );
    }
    out.push_str("</g>\n");
}

/// Label lines, one per transition, the first line's top at `top`.
fn label(
    out: &mut String,
    x: f64,
    top: f64,
    anchor: &str,
    lines: &[String],
    ink: &str,
    extra: &str,
) {
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" {FONT} font-size=\"{SMALL}\" text-anchor=\"{anchor}\" fill=\"{ink}\"{extra}>",
        n(x),
        n(top + 10.0)
    );
    for (k, l) in lines.iter().enumerate() {
        let dy = if k == 0 { 0.0 } else { LINE };
        let _ = write!(
            out,
            "<tspan x=\"{}\" dy=\"{}\">{}</tspan>",
            n(x),
            n(dy),
            esc(l)
        );
    }
    out.push_str("</text>");
}

/// The extent of what was drawn; empty, it is the origin.
#[derive(Default)]
struct BBox {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    some: bool,
}

impl BBox {
    fn add(&mut self, x: f64, y: f64, w: f64, h: f64) {
        if !self.some {
            (self.x0, self.y0, self.x1, self.y1, self.some) = (x, y, x, y, true);
        }
        self.x0 = self.x0.min(x);
        self.y0 = self.y0.min(y);
        self.x1 = self.x1.max(x + w);
        self.y1 = self.y1.max(y + h);
    }
}

/// Width of `s` in pixels at `size`, about 7 px a character at 12 px (generous, so text fits
/// in common sans-serif fonts); wide (CJK, Hangul) characters take a full em.
fn text_w(s: &str, size: f64, bold: bool) -> f64 {
    let w: f64 = s
        .chars()
        .map(|c| if is_wide(c) { size } else { size * 0.58 })
        .sum();
    if bold { w * 1.07 } else { w }
}

fn is_wide(c: char) -> bool {
    matches!(
        c as u32,
        0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1FAFF
            | 0x20000..=0x3FFFD
    )
}

fn line_w(s: &str, style: Style) -> f64 {
    match style {
        Style::Name => text_w(s, BIG, true),
        Style::Title => text_w(s, BIG, false),
        Style::Small => text_w(s, SMALL, false),
    }
}

fn line_h(style: Style) -> f64 {
    if style == Style::Small { 14.0 } else { 16.0 }
}

/// Escapes text and attribute values; characters XML 1.0 forbids become U+FFFD.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// One label line: whitespace runs folded, a long guard cut with an ellipsis.
fn short(event: &str, guard: Option<&str>) -> String {
    let fold = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    match guard {
        None => fold(event),
        Some(g) => {
            let g = fold(g);
            let g = if g.chars().count() > GUARD_CHARS {
                let cut: String = g.chars().take(GUARD_CHARS - 1).collect();
                format!("{}…", cut.trim_end())
            } else {
                g
            };
            format!("{} · {g}", fold(event))
        }
    }
}

/// Numbers in the output: one decimal at most, so the text stays small and stable.
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == 0.0 {
        "0".to_string()
    } else if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

#[cfg(test)]
mod tests {
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
        load("default.kdl", include_str!("../../workflows/default.kdl"))
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
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"")
        );
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
        use petgraph::visit::EdgeRef;
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
        // The guard is cut to a short label, and kept whole in the edge's tooltip.
        assert!(
            svg.contains("done · output.x == &#39;&lt;img src=x onerror=alert(1…"),
            "{svg}"
        );
        assert!(
            svg.contains("output.y == &quot;&amp;amp;&quot;</title>"),
            "{svg}"
        );
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
}
