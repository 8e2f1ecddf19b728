//! Graph rules over the compiled machine: `unreachable-stage`, `dead-end`, `no-end`,
//! `trapped-stage`, `unbounded-loop`, `no-default-edge`. Reachability runs both ways with
//! petgraph; loops are strongly connected components. Every walk here is iterative: a workflow
//! may have tens of thousands of stages in a chain.

use std::collections::{HashMap, HashSet};

use petgraph::Direction;
use petgraph::algo::kosaraju_scc;
use petgraph::graph::NodeIndex;
use petgraph::visit::{Bfs, EdgeRef, Reversed};

use super::cascade::Unset;
use crate::compile::{Machine, StateKind};
use crate::diagnostic::{Diagnostic, Rule};
use crate::workflow::Workflow;

pub(super) fn check(wf: &Workflow, m: &Machine, unset: &Unset, diags: &mut Vec<Diagnostic>) {
    let src = &wf.source;
    let stage_of = |i: NodeIndex| match m.graph[i].kind {
        StateKind::Stage(s) => Some(&wf.stages[s]),
        StateKind::End(_) => None,
    };

    for stage in &wf.stages {
        if stage.next.is_empty() && stage.invalid_next == 0 && !unset.explains(Rule::DeadEnd, stage)
        {
            diags.push(
                Diagnostic::new(
                    Rule::DeadEnd,
                    src,
                    stage.name.span,
                    format!(
                        "stage `{}` has no `next`: a run that gets here can never leave",
                        stage.name.value
                    ),
                )
                .with_help("add `next \"<stage or end>\"`"),
            );
        }
    }

    // Forward reachability from start.
    let mut from_start: HashSet<NodeIndex> = HashSet::new();
    if let Some(start) = m.start {
        let mut bfs = Bfs::new(&m.graph, start);
        while let Some(n) = bfs.next(&m.graph) {
            from_start.insert(n);
        }
        for (i, s) in m.stages() {
            if !from_start.contains(&i) {
                let stage = &wf.stages[s];
                diags.push(
                    Diagnostic::new(
                        Rule::UnreachableStage,
                        src,
                        stage.name.span,
                        format!("no path from `start` reaches stage `{}`", stage.name.value),
                    )
                    .with_help("add a `next` that leads here, or remove the stage"),
                );
            }
        }
    }

    // Backward reachability from every end.
    let mut to_end: HashSet<NodeIndex> = HashSet::new();
    let reversed = Reversed(&m.graph);
    for end in m.graph.node_indices().filter(|&i| m.is_end(i)) {
        let mut bfs = Bfs::new(reversed, end);
        while let Some(n) = bfs.next(reversed) {
            to_end.insert(n);
        }
    }
    // An edge to an unknown stage was dropped from the graph, so "no way to an end" would only
    // echo that finding; the unknown name is the thing to fix.
    // The same holds for a `next` whose target is not a name at all (a shape finding), and
    // for a `next` misspelled or of the wrong shape (`cascade.rs`).
    let edges_dropped = diags.iter().any(|d| d.rule == Rule::UnknownStage)
        || wf.stages.iter().any(|s| {
            s.invalid_next > 0
                || unset.explains(Rule::NoEnd, s)
                || unset.explains(Rule::TrappedStage, s)
        });
    let no_end = !edges_dropped && m.start.is_some_and(|s| !to_end.contains(&s));
    if no_end {
        let span = wf.start.as_ref().map_or(wf.name.span, |s| s.span);
        let help = if wf.ends.is_empty() {
            "declare an end with `end \"complete\"` and lead a stage to it"
        } else {
            "lead some stage to an end with `next \"<end>\"`"
        };
        diags.push(
            Diagnostic::new(
                Rule::NoEnd,
                src,
                span,
                "no end is reachable from `start`: no run can ever finish",
            )
            .with_help(help),
        );
    }

    // A stage is trapped when it sits in a sink component with no way to an end. Report only
    // those traps (not every stage upstream of one), and leave traps reachable from start to
    // `no-end` when that already fired. Dead ends have their own rule.
    // Kosaraju's algorithm runs on petgraph's iterative DFS; its `tarjan_scc` recurses once
    // per stage along a path, and a long chain of stages overflowed a 2 MiB stack.
    let sccs = kosaraju_scc(&m.graph);
    for comp in &sccs {
        let set: HashSet<NodeIndex> = comp.iter().copied().collect();
        let is_sink = comp.iter().all(|&n| {
            m.graph
                .edges_directed(n, Direction::Outgoing)
                .all(|e| set.contains(&e.target()))
        });
        for &n in comp {
            let Some(stage) = stage_of(n) else { continue };
            if edges_dropped
                || to_end.contains(&n)
                || stage.next.is_empty()
                || !is_sink
                || (no_end && from_start.contains(&n))
            {
                continue;
            }
            diags.push(
                Diagnostic::new(
                    Rule::TrappedStage,
                    src,
                    stage.name.span,
                    format!("no end is reachable from stage `{}`", stage.name.value),
                )
                .with_help("give it (or a stage it leads to) a `next` to an end"),
            );
        }
        // Loops: a component with a cycle in which no stage has `max-visits`.
        let cyclic = comp.len() > 1
            || m.graph
                .edges_directed(comp[0], Direction::Outgoing)
                .any(|e| e.target() == comp[0]);
        if !cyclic {
            continue;
        }
        let mut members: Vec<_> = comp.iter().filter_map(|&n| stage_of(n)).collect();
        members.sort_by_key(|s| s.span.start);
        // A bound that is written but failed (`max-vists 3`) has its own finding already.
        if members
            .iter()
            .any(|s| s.max_visits().is_some() || unset.explains(Rule::UnboundedLoop, s))
        {
            continue;
        }
        if let Some(first) = members.first() {
            let names: Vec<&str> = members.iter().map(|s| s.name.value.as_str()).collect();
            diags.push(
                Diagnostic::new(
                    Rule::UnboundedLoop,
                    src,
                    first.name.span,
                    format!(
                        "the loop {} has no bound: no stage in it sets `max-visits`",
                        names.join(" → ")
                    ),
                )
                .with_help(format!(
                    "add `max-visits 5` to `{}` and an `on=\"exhausted\"` edge",
                    first.name.value
                )),
            );
        }
    }

    // Default edges: for each event a stage listens to, some edge should have no `when`.
    for stage in &wf.stages {
        // Per event, in order of first use: whether some edge has no `when`, and the last edge.
        let mut groups: Vec<(&str, bool, &crate::workflow::Edge)> = Vec::new();
        let mut slot: HashMap<&str, usize> = HashMap::new();
        for e in &stage.next {
            let ev = e.event(stage);
            match slot.get(ev) {
                Some(&i) => {
                    groups[i].1 |= e.when.is_none();
                    groups[i].2 = e;
                }
                None => {
                    slot.insert(ev, groups.len());
                    groups.push((ev, e.when.is_none(), e));
                }
            }
        }
        for (ev, has_default, last) in groups {
            if !has_default {
                diags.push(
                        Diagnostic::new(
                            Rule::NoDefaultEdge,
                            src,
                            last.span,
                            format!("every `{ev}` edge of stage `{}` has a `when`: an output can match none of them", stage.name.value),
                        )
                        .with_help(format!("add a last `next \"<stage>\" on=\"{ev}\"` without `when` as the fallback")),
                    );
            }
        }
    }
}
