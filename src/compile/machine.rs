//! The compiled state machine.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};

use super::guard::{Guard, compile_guard};
use crate::diagnostic::{Diagnostic, Rule, did_you_mean};
use crate::workflow::Workflow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateKind {
    /// Index into `Workflow::stages`.
    Stage(usize),
    /// Index into `Workflow::ends`.
    End(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct State {
    pub name: String,
    pub kind: StateKind,
}

/// One `next`: from its stage, on `event`, if `guard` holds.
#[derive(Debug, Clone)]
pub(crate) struct Transition {
    /// Index into the source stage's `next` list (file order: first match wins).
    pub edge: usize,
    pub event: String,
    pub guard: Option<Guard>,
}

#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub graph: DiGraph<State, Transition>,
    pub index: HashMap<String, NodeIndex>,
    pub start: Option<NodeIndex>,
}

impl Machine {
    #[must_use]
    pub(crate) fn node(&self, name: &str) -> Option<NodeIndex> {
        self.index.get(name).copied()
    }

    /// Stage nodes, in file order.
    pub(crate) fn stages(&self) -> impl Iterator<Item = (NodeIndex, usize)> + '_ {
        self.graph
            .node_indices()
            .filter_map(|i| match self.graph[i].kind {
                StateKind::Stage(s) => Some((i, s)),
                StateKind::End(_) => None,
            })
    }

    #[must_use]
    pub(crate) fn is_end(&self, i: NodeIndex) -> bool {
        matches!(self.graph[i].kind, StateKind::End(_))
    }
}

/// Builds the machine; findings for duplicate names, unknown targets and bad guards.
pub(crate) fn compile(wf: &Workflow, diags: &mut Vec<Diagnostic>) -> Machine {
    let src = &wf.source;
    let mut graph = DiGraph::new();
    let mut index: HashMap<String, NodeIndex> = HashMap::new();
    let mut first_span = HashMap::new();
    let names = wf
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| (&s.name, StateKind::Stage(i)))
        .chain(
            wf.ends
                .iter()
                .enumerate()
                .map(|(i, e)| (e, StateKind::End(i))),
        );
    for (name, kind) in names {
        if let Some(&first) = first_span.get(&name.value) {
            let what = if matches!(kind, StateKind::End(_)) {
                "an end"
            } else {
                "a stage"
            };
            diags.push(
                Diagnostic::new(
                    Rule::DuplicateStage,
                    src,
                    name.span,
                    format!("`{}` is defined twice ({what} here)", name.value),
                )
                .with_related(first, "first defined here")
                .with_help("stages and ends share one namespace: rename one of them"),
            );
            continue;
        }
        first_span.insert(name.value.clone(), name.span);
        let i = graph.add_node(State {
            name: name.value.clone(),
            kind,
        });
        index.insert(name.value.clone(), i);
    }
    let mut all_names: Vec<&str> = index.keys().map(String::as_str).collect();
    all_names.sort_unstable();
    // Listed in the help only when the list is short enough to read.
    let listing = match all_names.len() {
        0 => "define it with `stage \"...\" { ... }` or `end \"...\"`".to_string(),
        1..=20 => format!("known stages and ends: {}", all_names.join(", ")),
        n => format!("{n} stages and ends are defined; check the spelling"),
    };
    // Among very many names no suggestion is made (see `did_you_mean`); skip the work.
    let suggest_from = if all_names.len() > crate::diagnostic::MAX_SUGGESTION_CANDIDATES {
        0
    } else {
        all_names.len()
    };
    let unknown = |name: &crate::syntax::ast::Spanned<String>, what: &str| {
        Diagnostic::new(
            Rule::UnknownStage,
            src,
            name.span,
            format!("{what} `{}` names no stage or end", name.value),
        )
        .with_help_opt(
            did_you_mean(&name.value, all_names.iter().copied().take(suggest_from))
                .or_else(|| Some(listing.clone())),
        )
    };
    let start = wf.start.as_ref().and_then(|s| {
        let found = index.get(&s.value).copied();
        if found.is_none() {
            diags.push(unknown(s, "`start`"));
        }
        found
    });
    let mut pending = Vec::new();
    for (si, stage) in wf.stages.iter().enumerate() {
        // A duplicate stage was not added: its edges belong to nobody.
        let Some(&from) = index.get(&stage.name.value) else {
            continue;
        };
        if graph[from].kind != StateKind::Stage(si) {
            continue;
        }
        for (ei, edge) in stage.next.iter().enumerate() {
            let guard = edge.when.as_ref().and_then(|w| match compile_guard(&w.value) {
                Ok(g) => Some(g),
                Err(err) => {
                    let detail = err.detail().map_or_else(|| err.kind().to_string(), str::to_string);
                    diags.push(
                        Diagnostic::new(Rule::BadExpression, src, w.span, format!("`when` does not parse: {detail}"))
                            .with_help("a guard is a minijinja expression, e.g. `output.confidence >= 0.6`"),
                    );
                    None
                }
            });
            match index.get(&edge.to.value) {
                Some(&to) => pending.push((
                    from,
                    to,
                    Transition {
                        edge: ei,
                        event: edge.event(stage).to_string(),
                        guard,
                    },
                )),
                None => diags.push(unknown(&edge.to, "`next`")),
            }
        }
    }
    for (from, to, t) in pending {
        graph.add_edge(from, to, t);
    }
    Machine {
        graph,
        index,
        start,
    }
}
