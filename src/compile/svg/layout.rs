//! The built drawing → every size and coordinate, centred on the column: box sizes, the
//! column's heights, the lanes and the row's ends across, port heights, and the side labels.
//! Every label's height is its number of lines, wrapped lines included, so a long guard gets
//! the room it needs in the gap or the side column.

use std::collections::HashMap;

use super::text::{line_h, line_w};
use super::{Drawing, Edge, Kind, LANE, LINE, Node, Route};

/// For each node, the ports on one side: (edge, whether it leaves there), top to bottom.
type Ports = Vec<Vec<(usize, bool)>>;

impl Drawing {
    pub(super) fn layout(&mut self) {
        let (left, right) = ports(&self.nodes, &self.edges);
        size_boxes(&mut self.nodes, &left, &right);
        let (half, row_y) = place_column(&mut self.nodes, &self.edges);
        let left_base = place_across(&mut self.nodes, &mut self.edges, half);
        port_heights(&self.nodes, &mut self.edges, &left, &right);
        let right_bottom = place_labels(&mut self.edges);
        self.left_col = self
            .edges
            .iter()
            .filter(|e| e.route == Route::Back)
            .map(|e| e.lane_x)
            .fold(left_base + 6.0, f64::min)
            - 26.0;
        // The right labels stand just beyond the lanes, or beyond the row's ends too when they
        // reach down to them.
        let reach_row = right_bottom > row_y - 6.0;
        self.right_col = self
            .edges
            .iter()
            .filter(|e| e.route == Route::Skip)
            .map(|e| e.lane_x)
            .chain(
                self.nodes
                    .iter()
                    .filter(|n| reach_row && n.col.is_none())
                    .map(|n| n.x + n.w),
            )
            .fold(half, f64::max)
            + 26.0;
    }
}

/// Ports, ordered so that lanes leaving and entering one side do not cross each other: on the
/// right, entries (from above) over exits (going down), entries inner-first and exits
/// outer-first; on the left the mirror, with a self-loop on top.
fn ports(nodes: &[Node], edges: &[Edge]) -> (Ports, Ports) {
    let mut left: Ports = vec![Vec::new(); nodes.len()];
    let mut right: Ports = vec![Vec::new(); nodes.len()];
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
    (left, right)
}

/// Box sizes: the text, and tall enough for the ports on either side.
fn size_boxes(nodes: &mut [Node], left: &Ports, right: &Ports) {
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
}

/// Down the column, centred on x = 0: each gap tall enough for the straight edge's label in
/// it. Returns the column's half width and the y of its last node (the row of ends).
fn place_column(nodes: &mut [Node], edges: &[Edge]) -> (f64, f64) {
    let straight: HashMap<usize, usize> = edges
        .iter()
        .filter(|e| e.route == Route::Straight)
        .map(|e| (e.from, e.lines.len()))
        .collect();
    let (mut y, mut row_y) = (0.0, 0.0);
    let mut half: f64 = 0.0;
    for (i, nd) in nodes
        .iter_mut()
        .enumerate()
        .filter(|(_, nd)| nd.col.is_some())
    {
        nd.y = y;
        nd.x = -nd.w / 2.0;
        half = half.max(nd.w / 2.0);
        row_y = y;
        let least = if nd.kind == Kind::Marker { 22.0 } else { 36.0 };
        let lines = straight.get(&i).copied().unwrap_or(0) as f64;
        y += nd.h + (lines * LINE + 16.0).max(least);
    }
    // The other ends share the row of the column's last node, its end.
    for nd in nodes.iter_mut().filter(|nd| nd.col.is_none()) {
        nd.y = row_y;
    }
    (half, row_y)
}

/// Across: lanes into the column's nodes, then for each end in the row its lanes, the end
/// spanning them (with room for its rounded sides); back lanes on the left. Returns where the
/// back lanes start.
fn place_across(nodes: &mut [Node], edges: &mut [Edge], half: f64) -> f64 {
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
        nd.x = cursor;
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
    left_base
}

/// Port heights: bunched about the middle of each side (a self-loop stays small), spread over
/// its straight part when there are many.
fn port_heights(nodes: &[Node], edges: &mut [Edge], left: &Ports, right: &Ports) {
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
}

/// Side labels: placed top-down in the order of their ports, each as close to its port as the
/// labels above allow. Returns the bottom of the right column's labels.
fn place_labels(edges: &mut [Edge]) -> f64 {
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
    bottom[1]
}
