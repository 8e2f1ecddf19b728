//! The machine as a standalone SVG picture: the approval page's run view and
//! `maestro graph --format svg`.
//!
//! The layout is ours and deterministic (no Graphviz, no script): stages stand in one column in
//! file order, under a start marker; one end stands under the last stage and the others in a row
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
pub struct SvgMarks {
    /// The stage or end the run is in now.
    pub current: Option<String>,
    /// Stages and ends the run has been in (any visit).
    pub visited: Vec<String>,
    /// Transitions the run has taken, as (from, to) state names.
    pub taken: Vec<(String, String)>,
    /// The stage whose gate waits for a person (drawn as waiting).
    pub waiting: Option<String>,
}

const FONT: &str = "font-family=\"sans-serif\"";
const BIG: f64 = 12.0;
const SMALL: f64 = 10.5;
const LANE: f64 = 14.0;
const PORT: f64 = 10.0;
const GUARD_CHARS: usize = 40;
const MARGIN: f64 = 16.0;
const INK: &str = "#4b5563";
const TAKEN: &str = "#1d4ed8";
const HALO: &str =
    " class=\"halo\" stroke=\"#ffffff\" stroke-width=\"4\" stroke-linejoin=\"round\"";

/// Width of `s` in pixels at `size`: wide (CJK, Hangul) characters take a full em.
fn text_w(s: &str, size: f64, bold: bool) -> f64 {
    let w: f64 = s
        .chars()
        .map(|c| if is_wide(c) { size } else { size * 0.58 })
        .sum();
    if bold { w * 1.07 } else { w }
}

fn is_wide(c: char) -> bool {
    matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x1F300..=0x1FAFF | 0x20000..=0x3FFFD)
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

/// One-line label text: whitespace runs folded, long guards cut with an ellipsis.
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

/// Numbers in the output: one decimal, no trailing `.0`, so the text stays small and stable.
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Marker,
    Stage(usize),
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
    /// Port heights on each side, filled in once the lanes are ranked.
    left: Vec<f64>,
    right: Vec<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    Straight,
    Loop,
    /// Back edge, lane `k` counted outward from the boxes.
    Left(usize),
    /// Skip edge, lane `k` counted outward.
    Right(usize),
}

struct Edge {
    from: usize,
    to: usize,
    lines: Vec<String>,
    full: Vec<String>,
    route: Route,
    /// Rank among the lanes on its side (0 = nearest the boxes).
    rank: usize,
    out_port: f64,
    in_port: f64,
    lane_x: f64,
}

/// Draws the machine as a standalone SVG 1.1 document.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn to_svg(wf: &Workflow, m: &Machine, lang: &str, marks: &SvgMarks) -> String {
    // --- Nodes: the column (marker, stages, one end), then the other ends in a row.
    let mut nodes: Vec<Node> = Vec::new();
    let mut at: HashMap<NodeIndex, usize> = HashMap::new();
    let node = |name: String, kind: Kind, lines: Vec<(String, Style)>, gated: bool| Node {
        name,
        kind,
        lines,
        gated,
        col: None,
        x: 0.0,
        y: 0.0,
        w: 0.0,
        h: 0.0,
        rx: 0.0,
        left: Vec::new(),
        right: Vec::new(),
    };
    if m.start.is_some() {
        let mut mk = node(String::new(), Kind::Marker, Vec::new(), false);
        mk.col = Some(0);
        nodes.push(mk);
    }
    for (i, si) in m.stages() {
        let stage = &wf.stages[si];
        let has_title = stage
            .title
            .as_ref()
            .and_then(|t| t.get(lang, wf.default_lang()))
            .is_some();
        let lines = stage_lines(wf, si, lang)
            .into_iter()
            .enumerate()
            .map(|(k, l)| {
                let style = match k {
                    0 => Style::Name,
                    1 if has_title => Style::Title,
                    _ => Style::Small,
                };
                (l, style)
            })
            .collect();
        let mut nd = node(
            m.graph[i].name.clone(),
            Kind::Stage(si),
            lines,
            stage.settings.gate.is_some(),
        );
        nd.col = Some(nodes.len());
        at.insert(i, nodes.len());
        nodes.push(nd);
    }
    let ends: Vec<NodeIndex> = m.graph.node_indices().filter(|&i| m.is_end(i)).collect();
    // The end under the column is the one the last stage reaches first, so that edge is straight.
    let last_stage = m.stages().last().map(|(i, _)| i);
    // The end under the column is the one the last stage reaches first (edge ids follow file
    // order), so that edge is a straight arrow; without one, the first end.
    let col_end = last_stage
        .and_then(|s| {
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
        let mut nd = node(name.clone(), Kind::End, vec![(name, Style::Name)], false);
        if Some(e) == col_end {
            nd.col = Some(nodes.len());
        }
        at.insert(e, nodes.len());
        nodes.push(nd);
    }

    // --- Edges, one per (from, to) pair in file order, each given a route.
    let mut edges: Vec<Edge> = Vec::new();
    let mut pair: HashMap<(usize, usize), usize> = HashMap::new();
    let mut raw: Vec<_> = m.graph.edge_references().collect();
    raw.sort_by_key(|e| e.id());
    let marker = m.start.map(|s| (0, at[&s]));
    for (from, to, line) in marker
        .map(|(f, t)| (f, t, None))
        .into_iter()
        .chain(raw.iter().map(|e| {
            let t = e.weight();
            let g = t.guard.as_ref().map(|g| g.source.as_str());
            let full = match g {
                Some(g) => format!("{} · {g}", t.event),
                None => t.event.clone(),
            };
            (
                at[&e.source()],
                at[&e.target()],
                Some((short(&t.event, g), full)),
            )
        }))
    {
        let k = *pair.entry((from, to)).or_insert_with(|| {
            let route = match (nodes[from].col, nodes[to].col) {
                _ if from == to => Route::Loop,
                (Some(a), Some(b)) if b == a + 1 => Route::Straight,
                (Some(a), Some(b)) if b < a => Route::Left(0),
                _ => Route::Right(0),
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
            });
            edges.len() - 1
        });
        if let Some((s, f)) = line {
            edges[k].lines.push(s);
            edges[k].full.push(f);
        }
    }

    // --- Lane ranks: shorter spans nearer the boxes; on the right, edges into the bottom row
    // go outermost, grouped by end, so each row end can stand right under its own lanes.
    let pos = |i: usize| nodes[i].col.unwrap_or(nodes.len()) as i64;
    let row_rank = |i: usize| if nodes[i].col.is_some() { 0 } else { i };
    let mut lefts: Vec<usize> = (0..edges.len())
        .filter(|&e| matches!(edges[e].route, Route::Left(_)))
        .collect();
    lefts.sort_by_key(|&e| ((pos(edges[e].from) - pos(edges[e].to)).abs(), e));
    let mut rights: Vec<usize> = (0..edges.len())
        .filter(|&e| matches!(edges[e].route, Route::Right(_)))
        .collect();
    rights.sort_by_key(|&e| {
        (
            row_rank(edges[e].to),
            (pos(edges[e].to) - pos(edges[e].from)).abs(),
            e,
        )
    });
    for (k, &e) in lefts.iter().enumerate() {
        edges[e].route = Route::Left(k);
        edges[e].rank = k;
    }
    for (k, &e) in rights.iter().enumerate() {
        edges[e].route = Route::Right(k);
        edges[e].rank = k;
    }

    // --- Ports. Ordered so that lanes leaving and entering one side do not cross each other:
    // on the right, entries (from above) over exits (going down), entries inner-first and exits
    // outer-first; on the left the mirror, with a self-loop on top.
    let mut left_side: Vec<Vec<(usize, bool)>> = vec![Vec::new(); nodes.len()];
    let mut right_side: Vec<Vec<(usize, bool)>> = vec![Vec::new(); nodes.len()];
    for (e, ed) in edges.iter().enumerate() {
        match ed.route {
            Route::Loop => {
                left_side[ed.from].push((e, true));
                left_side[ed.from].push((e, false));
            }
            Route::Left(_) => {
                left_side[ed.from].push((e, true));
                left_side[ed.to].push((e, false));
            }
            Route::Right(_) => {
                right_side[ed.from].push((e, true));
                if nodes[ed.to].col.is_some() {
                    right_side[ed.to].push((e, false));
                }
            }
            Route::Straight => {}
        }
    }
    let is_loop = |e: usize| edges[e].route == Route::Loop;
    for side in &mut left_side {
        // Loop out, loop in, exits inner→outer, entries outer→inner.
        side.sort_by_key(|&(e, out)| match (is_loop(e), out) {
            (true, out) => (0, i64::from(!out)),
            (false, true) => (1, edges[e].rank as i64),
            (false, false) => (2, -(edges[e].rank as i64)),
        });
    }
    for side in &mut right_side {
        side.sort_by_key(|&(e, out)| {
            if out {
                (1, -(edges[e].rank as i64))
            } else {
                (0, edges[e].rank as i64)
            }
        });
    }

    // --- Box sizes: text, then tall enough for the ports on either side.
    for (i, nd) in nodes.iter_mut().enumerate() {
        let ports = left_side[i].len().max(right_side[i].len()) as f64;
        match nd.kind {
            Kind::Marker => {
                nd.w = 14.0;
                nd.h = 14.0;
                nd.rx = 7.0;
            }
            Kind::Stage(_) => {
                let tw = nd
                    .lines
                    .iter()
                    .map(|(l, s)| line_w(l, *s))
                    .fold(0.0, f64::max);
                let th: f64 = nd.lines.iter().map(|(_, s)| line_h(*s)).sum();
                nd.rx = 8.0;
                nd.w = (tw + 24.0).max(120.0);
                nd.h = (th + 14.0).max((ports + 1.0) * PORT + 2.0 * nd.rx);
            }
            Kind::End => {
                nd.w = (line_w(&nd.name, Style::Name) + 36.0).max(90.0);
                nd.h = 30.0_f64.max((ports + 1.0) * PORT + 16.0);
                nd.rx = 15.0;
            }
        }
    }

    // --- Vertical placement: each gap is tall enough for the straight label in it.
    let col: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].col.is_some())
        .collect();
    let straight: HashMap<usize, usize> = edges
        .iter()
        .filter(|e| e.route == Route::Straight)
        .map(|e| (e.from, e.lines.len()))
        .collect();
    let mut y = 0.0;
    for (k, &i) in col.iter().enumerate() {
        nodes[i].y = y;
        let gap = straight.get(&i).copied().unwrap_or(0) as f64;
        // Ends share the row of the column's end.
        if k + 1 < col.len() {
            y += nodes[i].h
                + (gap * 13.0 + 16.0).max(if nodes[i].kind == Kind::Marker {
                    22.0
                } else {
                    36.0
                });
        }
    }
    let row_y = col_end.map_or(y + 50.0, |e| nodes[at[&e]].y);
    for nd in nodes.iter_mut().filter(|nd| nd.col.is_none()) {
        nd.y = row_y;
    }

    // --- Horizontal placement around x = 0.
    let half = col.iter().map(|&i| nodes[i].w / 2.0).fold(0.0, f64::max);
    for &i in &col {
        nodes[i].x = -nodes[i].w / 2.0;
    }
    let has_loop = edges.iter().any(|e| e.route == Route::Loop);
    let left_base = -half - if has_loop { 36.0 } else { 18.0 };
    let mut cursor = half + 20.0;
    let inner: Vec<usize> = rights
        .iter()
        .copied()
        .filter(|&e| nodes[edges[e].to].col.is_some())
        .collect();
    for e in inner {
        edges[e].lane_x = cursor;
        cursor += LANE;
    }
    // Each row end spans its lanes (with room for its rounded ends), lanes centred in it.
    cursor += 10.0;
    let row: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].col.is_none())
        .collect();
    let mut into: HashMap<usize, Vec<usize>> = HashMap::new();
    for &e in &rights {
        into.entry(edges[e].to).or_default().push(e);
    }
    for i in row {
        let mine = into.remove(&i).unwrap_or_default();
        let span = (mine.len().saturating_sub(1)) as f64 * LANE;
        nodes[i].w = nodes[i].w.max(span + 2.0 * nodes[i].rx + 16.0);
        nodes[i].x = cursor;
        let first = cursor + (nodes[i].w - span) / 2.0;
        for (k, &e) in mine.iter().enumerate() {
            edges[e].lane_x = first + k as f64 * LANE;
        }
        cursor += nodes[i].w + 16.0;
    }
    for &e in &lefts {
        edges[e].lane_x = left_base - edges[e].rank as f64 * LANE;
    }
    // Port heights: bunched about the middle of each side (a self-loop stays small), spread
    // over the straight part of the side when there are many.
    for (i, nd) in nodes.iter_mut().enumerate() {
        let straight = (nd.h - 2.0 * nd.rx).max(0.0);
        let mid = nd.y + nd.h / 2.0;
        let spread = |k: usize| -> Vec<f64> {
            let step = (straight / k as f64).min(14.0);
            (0..k)
                .map(|j| mid + (j as f64 - (k as f64 - 1.0) / 2.0) * step)
                .collect()
        };
        nd.left = spread(left_side[i].len());
        nd.right = spread(right_side[i].len());
    }
    for (i, side) in left_side.iter().enumerate() {
        for (j, &(e, out)) in side.iter().enumerate() {
            set_port(&mut edges[e], out, nodes[i].left[j]);
        }
    }
    for (i, side) in right_side.iter().enumerate() {
        for (j, &(e, out)) in side.iter().enumerate() {
            set_port(&mut edges[e], out, nodes[i].right[j]);
        }
    }

    // --- Marks.
    let current = marks.current.as_deref();
    let waiting = marks.waiting.as_deref();
    let visited = |name: &str| marks.visited.iter().any(|v| v == name);
    let taken = |e: &Edge| {
        let (f, t) = (&nodes[e.from], &nodes[e.to]);
        f.kind != Kind::Marker && marks.taken.iter().any(|(a, b)| *a == f.name && *b == t.name)
            // The start arrow counts as taken once the run has been anywhere.
            || f.kind == Kind::Marker && (current.is_some() || !marks.visited.is_empty())
    };

    // --- Drawing. Lane edges first, straight edges over them (their labels sit in the gaps the
    // lanes pass through, on a white backing), nodes last.
    let mut body = String::new();
    let mut bbox = BBox::new();
    for nd in &nodes {
        bbox.add(nd.x, nd.y, nd.w, nd.h);
    }
    let mut order: Vec<usize> = (0..edges.len()).collect();
    order.sort_by_key(|&e| (edges[e].route == Route::Straight, e));
    // Labels in each side column are placed top-down in the order of their ports, each as
    // close to its port as the labels above it allow.
    let mut placed: HashMap<usize, f64> = HashMap::new();
    let mut bottom = [f64::MIN, f64::MIN];
    for side in [0, 1] {
        let mut want: Vec<(f64, usize)> = edges
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.lines.is_empty())
            .filter(|(_, e)| match e.route {
                Route::Left(_) | Route::Loop => side == 0,
                Route::Right(_) => side == 1,
                Route::Straight => false,
            })
            .map(|(k, e)| (e.out_port, k))
            .collect();
        want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (port, e) in want {
            let top = (port - 7.0).max(bottom[side] + 4.0);
            bottom[side] = top + edges[e].lines.len() as f64 * 13.0;
            placed.insert(e, top);
        }
    }
    let left_col = edges
        .iter()
        .filter(|e| matches!(e.route, Route::Left(_)))
        .map(|e| e.lane_x)
        .fold(left_base + 6.0, f64::min)
        - 26.0;
    // The right labels stand just beyond the lanes, or beyond the ends' row too when they
    // reach down to it.
    let reach_row = bottom[1] > row_y - 6.0;
    let right_col = edges
        .iter()
        .filter(|e| matches!(e.route, Route::Right(_)))
        .map(|e| e.lane_x)
        .chain(
            nodes
                .iter()
                .filter(|n| reach_row && n.col.is_none())
                .map(|n| n.x + n.w),
        )
        .fold(half, f64::max)
        + 26.0;
    for (&e, &top) in &placed {
        let ed = &edges[e];
        let w = ed
            .lines
            .iter()
            .map(|l| text_w(l, SMALL, false))
            .fold(0.0, f64::max);
        let h = ed.lines.len() as f64 * 13.0;
        if matches!(ed.route, Route::Right(_)) {
            bbox.add(right_col, top, w, h);
        } else {
            bbox.add(left_col - w, top, w, h);
        }
    }
    for e in order {
        let ed = &edges[e];
        let (f, t) = (&nodes[ed.from], &nodes[ed.to]);
        let tk = taken(ed);
        let (stroke, width, arrow) = if tk {
            (TAKEN, 2.5, "maestro-arrow-taken")
        } else {
            (INK, 1.3, "maestro-arrow")
        };
        let _ = write!(
            body,
            "<g class=\"edge{}\" data-from=\"{}\" data-to=\"{}\">",
            if tk { " taken" } else { "" },
            esc(if f.kind == Kind::Marker { "" } else { &f.name }),
            esc(&t.name)
        );
        if !ed.full.is_empty() {
            let _ = write!(
                body,
                "<title>{} → {}\n{}</title>",
                esc(&f.name),
                esc(&t.name),
                esc(&ed.full.join("\n"))
            );
        }
        let cx = |nd: &Node| nd.x + nd.w / 2.0;
        let r = 8.0;
        let d = match ed.route {
            Route::Straight => format!("M{} {}V{}", n(cx(f)), n(f.y + f.h), n(t.y - 1.0)),
            Route::Loop => {
                let x = f.x;
                format!(
                    "M{} {}C{} {} {} {} {} {}",
                    n(x),
                    n(ed.out_port),
                    n(x - 30.0),
                    n(ed.out_port - 6.0),
                    n(x - 30.0),
                    n(ed.in_port + 6.0),
                    n(x - 1.0),
                    n(ed.in_port)
                )
            }
            Route::Left(_) => {
                let (x0, x1, lx) = (f.x, t.x - 1.0, ed.lane_x);
                let (y0, y1) = (ed.out_port, ed.in_port);
                format!(
                    "M{} {}H{}Q{} {} {} {}V{}Q{} {} {} {}H{}",
                    n(x0),
                    n(y0),
                    n(lx + r),
                    n(lx),
                    n(y0),
                    n(lx),
                    n(y0 - r),
                    n(y1 + r),
                    n(lx),
                    n(y1),
                    n(lx + r),
                    n(y1),
                    n(x1)
                )
            }
            Route::Right(_) => {
                let (x0, lx, y0) = (f.x + f.w, ed.lane_x, ed.out_port);
                let fx = if f.kind == Kind::Marker {
                    cx(f) + 7.0
                } else {
                    x0
                };
                let mut d = format!(
                    "M{} {}H{}Q{} {} {} {}",
                    n(fx),
                    n(y0),
                    n(lx - r),
                    n(lx),
                    n(y0),
                    n(lx),
                    n(y0 + r)
                );
                if t.col.is_some() {
                    let y1 = ed.in_port;
                    let _ = write!(
                        d,
                        "V{}Q{} {} {} {}H{}",
                        n(y1 - r),
                        n(lx),
                        n(y1),
                        n(lx - r),
                        n(y1),
                        n(t.x + t.w + 1.0)
                    );
                } else {
                    let _ = write!(d, "V{}", n(t.y - 1.0));
                }
                d
            }
        };
        let _ = write!(
            body,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\" marker-end=\"url(#{arrow})\"/>"
        );
        let label_ink = if tk { TAKEN } else { "#1f2937" };
        match ed.route {
            Route::Straight if !ed.lines.is_empty() => {
                let x = cx(f) + 8.0;
                let top = f.y + f.h + 8.0;
                let w = ed
                    .lines
                    .iter()
                    .map(|l| text_w(l, SMALL, false))
                    .fold(0.0, f64::max);
                let h = ed.lines.len() as f64 * 13.0;
                bbox.add(x, top, w + 4.0, h);
                // A white halo under the text keeps it legible where lanes pass behind it.
                label(&mut body, x, top, "start", &ed.lines, "#ffffff", HALO);
                label(&mut body, x, top, "start", &ed.lines, label_ink, "");
            }
            // The start arrow has no label.
            Route::Straight => {}
            _ if !placed.contains_key(&e) => {}
            _ => {
                let top = placed[&e];
                let left = matches!(ed.route, Route::Left(_) | Route::Loop);
                let (from_x, to_x) = match ed.route {
                    Route::Loop => (f.x - 23.0, left_col + 3.0),
                    Route::Left(_) => (ed.lane_x, left_col + 3.0),
                    _ => (ed.lane_x, right_col - 3.0),
                };
                let _ = write!(
                    body,
                    "<path d=\"M{} {}L{} {}\" fill=\"none\" stroke=\"#9ca3af\" stroke-width=\"0.8\" stroke-dasharray=\"1.5 2.5\"/>",
                    n(from_x),
                    n(if ed.route == Route::Loop {
                        (ed.out_port + ed.in_port) / 2.0
                    } else {
                        ed.out_port
                    }),
                    n(to_x),
                    n(top + 7.0)
                );
                let x = if left { left_col } else { right_col };
                label(
                    &mut body,
                    x,
                    top,
                    if left { "end" } else { "start" },
                    &ed.lines,
                    label_ink,
                    "",
                );
            }
        }
        body.push_str("</g>\n");
    }
    for nd in &nodes {
        draw_node(
            &mut body,
            nd,
            current,
            waiting,
            visited(&nd.name),
            &mut bbox,
        );
    }

    if bbox.x0 > bbox.x1 {
        // Nothing to draw (a workflow without stages or ends): an empty picture.
        bbox = BBox {
            x0: 0.0,
            y0: 0.0,
            x1: 0.0,
            y1: 0.0,
        };
    }
    let (x0, y0) = (bbox.x0 - MARGIN, bbox.y0 - MARGIN);
    let (w, h) = (
        bbox.x1 - bbox.x0 + 2.0 * MARGIN,
        bbox.y1 - bbox.y0 + 2.0 * MARGIN,
    );
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{}\" height=\"{}\" viewBox=\"{} {} {} {}\" class=\"maestro-machine\">\n",
        n(w.ceil()),
        n(h.ceil()),
        n(x0),
        n(y0),
        n(w.ceil()),
        n(h.ceil())
    );
    let _ = writeln!(out, "<title>workflow {}</title>", esc(&wf.name.value));
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
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        n(x0),
        n(y0),
        n(w.ceil()),
        n(h.ceil())
    );
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

fn set_port(e: &mut Edge, out: bool, y: f64) {
    if out {
        e.out_port = y;
    } else {
        e.in_port = y;
    }
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
        let _ = write!(
            out,
            "<tspan x=\"{}\" dy=\"{}\">{}</tspan>",
            n(x),
            if k == 0 { 0 } else { 13 },
            esc(l)
        );
    }
    out.push_str("</text>");
}

struct BBox {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl BBox {
    fn new() -> Self {
        Self {
            x0: f64::MAX,
            y0: f64::MAX,
            x1: f64::MIN,
            y1: f64::MIN,
        }
    }
    fn add(&mut self, x: f64, y: f64, w: f64, h: f64) {
        self.x0 = self.x0.min(x);
        self.y0 = self.y0.min(y);
        self.x1 = self.x1.max(x + w);
        self.y1 = self.y1.max(y + h);
    }
}

fn draw_node(
    out: &mut String,
    nd: &Node,
    current: Option<&str>,
    waiting: Option<&str>,
    visited: bool,
    bbox: &mut BBox,
) {
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
    let is_current = current == Some(nd.name.as_str());
    let is_waiting = waiting == Some(nd.name.as_str());
    let end = nd.kind == Kind::End;
    let mut class = String::from(if end { "node end" } else { "node stage" });
    for (on, c) in [
        (nd.gated, " gate"),
        (is_current, " current"),
        (visited, " visited"),
        (is_waiting, " waiting"),
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
    if is_waiting {
        tip.push("waiting for a person");
    }
    let _ = write!(out, "<title>{}</title>", esc(&tip.join("\n")));
    let (fill, stroke, sw) = match (end, nd.gated) {
        (true, _) => ("#e8f4ea", "#2e7d32", 1.5),
        (false, true) => ("#fffaf0", "#b8860b", 2.2),
        (false, false) => ("#ffffff", "#6b7280", 1.2),
    };
    let fill = if is_current {
        "#1d4ed8"
    } else if visited {
        "#dbeafe"
    } else {
        fill
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
    if is_waiting {
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
        let (size, weight, ink) = match (s, is_current) {
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
    if is_waiting {
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
