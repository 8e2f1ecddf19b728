//! The laid-out drawing → the SVG document: lane edges first, straight edges over them (their
//! labels sit in the gaps the lanes pass through, on a white halo), nodes last, each in a
//! `<g>` with classes the page styles and a `<title>` tooltip holding its text in full. Every
//! piece of workflow text goes through `esc`.

use std::fmt::Write;

use super::text::{BIG, SMALL, esc, line_h, n, text_w};
use super::{Drawing, Edge, Kind, LINE, LabelLine, Node, Route, Style, SvgMarks};

const FONT: &str = "font-family=\"sans-serif\"";
const MARGIN: f64 = 16.0;
const INK: &str = "#4b5563";
const TAKEN: &str = "#1d4ed8";
const HALO: &str =
    " class=\"halo\" stroke=\"#ffffff\" stroke-width=\"4\" stroke-linejoin=\"round\"";

impl Drawing {
    /// The document: lane edges first, straight edges over them (their labels sit in the gaps
    /// the lanes pass through, on a white halo), nodes last.
    pub(super) fn render(&self, title: &str, marks: &SvgMarks) -> String {
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
        let d = self.path(e);
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
        self.draw_label(out, e, ink, bbox);
        out.push_str("</g>\n");
    }

    /// The edge's line, as SVG path data.
    fn path(&self, e: &Edge) -> String {
        let (f, t) = (&self.nodes[e.from], &self.nodes[e.to]);
        let cx = f.x + f.w / 2.0;
        match e.route {
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
        }
    }

    /// The edge's label: in the gap under a straight edge, else in a side column with a dotted
    /// leader from the edge to it.
    fn draw_label(&self, out: &mut String, e: &Edge, ink: &str, bbox: &mut BBox) {
        let f = &self.nodes[e.from];
        let lw = label_w(&e.lines);
        let lh = e.lines.len() as f64 * LINE;
        if e.route == Route::Straight && !e.lines.is_empty() {
            let (x, top) = (f.x + f.w / 2.0 + 8.0, f.y + f.h + 8.0);
            bbox.add(x, top, lw + 4.0, lh);
            // A white halo under the text keeps it legible where lanes pass behind it.
            label(out, x, top, Anchor::Start, &e.lines, "#ffffff", HALO);
            label(out, x, top, Anchor::Start, &e.lines, ink, "");
        } else if let Some(top) = e.label_top {
            // A dotted leader from where the edge turns (or the loop's tip) to its label.
            let (from, to) = match e.route {
                Route::Loop => (
                    (f.x - 23.0, f64::midpoint(e.out_port, e.in_port)),
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
                label(out, self.right_col, top, Anchor::Start, &e.lines, ink, "");
            } else {
                bbox.add(self.left_col - lw, top, lw, lh);
                label(out, self.left_col, top, Anchor::End, &e.lines, ink, "");
            }
        }
    }
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

/// A stage or an end (or the start marker), with its classes and tooltip.
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
    node_box(out, nd, current, visited, waiting);
    node_text(out, nd, current);
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

/// A node's box: its border says gate or end, its fill where the run is or has been; a dashed
/// ring around it while it waits for a person.
fn node_box(out: &mut String, nd: &Node, current: bool, visited: bool, waiting: bool) {
    let end = nd.kind == Kind::End;
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
}

/// A node's lines of text, centred in its box.
fn node_text(out: &mut String, nd: &Node, current: bool) {
    let cx = nd.x + nd.w / 2.0;
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
}

/// Which end of a label stands at its x: the left column's labels end at it.
#[derive(Clone, Copy)]
enum Anchor {
    Start,
    End,
}

impl Anchor {
    const fn as_str(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::End => "end",
        }
    }
}

/// How far a wrapped line of a guard stands in from its label's first line.
const INDENT: f64 = 12.0;

/// The width of a label, its indented lines included.
fn label_w(lines: &[LabelLine]) -> f64 {
    lines
        .iter()
        .map(|l| text_w(&l.text, SMALL, false) + if l.cont { INDENT } else { 0.0 })
        .fold(0.0, f64::max)
}

/// A label, one line after another, the first line's top at `top`; a guard's wrapped lines
/// stand in by [`INDENT`] (towards the edge in the left column, whose labels end at `x`).
fn label(
    out: &mut String,
    x: f64,
    top: f64,
    anchor: Anchor,
    lines: &[LabelLine],
    ink: &str,
    extra: &str,
) {
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" {FONT} font-size=\"{SMALL}\" text-anchor=\"{}\" fill=\"{ink}\"{extra}>",
        n(x),
        n(top + 10.0),
        anchor.as_str()
    );
    for (k, l) in lines.iter().enumerate() {
        let dy = if k == 0 { 0.0 } else { LINE };
        let indent = match (l.cont, anchor) {
            (false, _) => 0.0,
            (true, Anchor::Start) => INDENT,
            (true, Anchor::End) => -INDENT,
        };
        let _ = write!(
            out,
            "<tspan x=\"{}\" dy=\"{}\">{}</tspan>",
            n(x + indent),
            n(dy),
            esc(&l.text)
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
