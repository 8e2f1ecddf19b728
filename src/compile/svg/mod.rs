//! The machine as a standalone SVG picture: the approval page's run view and
//! `maestro graph --format svg`. Workflow and machine (and what a run marks) → SVG text.
//!
//! The layout is ours and deterministic (no Graphviz, no script): stages stand in one column in
//! file order under a start marker; one end stands under the last stage and the others in a row
//! beside it. An edge to the node just below is a straight arrow. Every other edge runs in its
//! own vertical lane: back edges on the left, skips on the right, shorter spans nearer the boxes,
//! so lanes never overlap and rarely cross. Lane labels stand in a column beyond the lanes at
//! the height where their edge leaves its box, tied to it by a dotted leader, so no label lies
//! on a box or on another label. Edges between the same two states are drawn as one line with
//! one label per transition (marks name `(from, to)` pairs, so this is also what a run can
//! light up); a long guard wraps over several lines, and the layout makes room for them. All
//! workflow text is escaped: the file is untrusted.
//!
//! Three steps, one file each: `build.rs` (the nodes and edges, routed and ranked),
//! `layout.rs` (sizes and coordinates), `render.rs` (the document); `text.rs` measures,
//! wraps and escapes text.

mod build;
mod layout;
mod render;
#[cfg(test)]
mod tests;
mod text;

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

/// Height of one label line.
const LINE: f64 = 13.0;
/// Distance between neighbouring lanes, and at most between neighbouring ports.
const LANE: f64 = 14.0;

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

/// One drawn line of an edge's label.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LabelLine {
    text: String,
    /// A guard wrapped on from the line before: drawn indented, so each transition's label
    /// reads as one.
    cont: bool,
}

struct Edge {
    from: usize,
    to: usize,
    /// Each transition's label, wrapped, one after the other; and each in full on one line for
    /// the tooltip.
    lines: Vec<LabelLine>,
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
