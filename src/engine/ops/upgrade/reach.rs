//! Which gates stand on every way to a stage: the fact a new transition can take away without
//! touching any gate's settings (`next "done"` added to the stage before a review).

use std::collections::{BTreeMap, BTreeSet};

use crate::workflow::{BuiltinEvent, Workflow};

/// For each stage or end reachable from the start, the gated stages every path to it leaves
/// through a decision. Leaving a gated stage on `exhausted` takes no decision; every other
/// event out of a gated stage waits for one (a custom event too: it is carried by the
/// approval).
pub(super) fn decisions_on_every_path(wf: &Workflow) -> BTreeMap<String, BTreeSet<String>> {
    let mut must: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let Some(start) = &wf.start else {
        return must;
    };
    must.insert(start.value.clone(), BTreeSet::new());
    // A must-pass analysis: a node's set only shrinks once reached, so this settles within
    // (nodes × gates) rounds.
    let mut changed = true;
    while changed {
        changed = false;
        for stage in &wf.stages {
            let Some(here) = must.get(&stage.name.value).cloned() else {
                continue;
            };
            for edge in &stage.next {
                let mut through = here.clone();
                if stage.settings.gate.is_some()
                    && !edge.listens_for(stage, BuiltinEvent::Exhausted)
                {
                    through.insert(stage.name.value.clone());
                }
                let target = edge.to.value.clone();
                let next = match must.get(&target) {
                    None => through,
                    Some(known) => known.intersection(&through).cloned().collect(),
                };
                if must.get(&target) != Some(&next) && target != start.value {
                    must.insert(target, next);
                    changed = true;
                }
            }
        }
    }
    must
}

/// A place the new version reaches without a decision every path needed before.
pub(super) struct Skipped {
    pub(super) place: String,
    /// The gates gone around, which the new version still has (a removed gate is reported as
    /// removed).
    pub(super) gates: Vec<String>,
    pub(super) before: BTreeSet<String>,
    pub(super) after: BTreeSet<String>,
}

pub(super) fn skipped(before: &Workflow, after: &Workflow) -> Vec<Skipped> {
    let (mut x, y) = (
        decisions_on_every_path(before),
        decisions_on_every_path(after),
    );
    let still_gated = |name: &str| after.stage(name).is_some_and(|s| s.settings.gate.is_some());
    y.into_iter()
        .filter_map(|(place, now)| {
            let was = x.remove(&place)?;
            let gates: Vec<String> = was
                .difference(&now)
                .filter(|g| still_gated(g))
                .cloned()
                .collect();
            (!gates.is_empty()).then_some(Skipped {
                place,
                gates,
                before: was,
                after: now,
            })
        })
        .collect()
}
