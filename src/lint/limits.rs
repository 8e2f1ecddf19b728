//! Stage limits that can never take effect (`unreachable-limit`) or that contradict each other
//! (`budget-conflict`): `consult from-visit`, a stage's `wall`, and its two spellings of the
//! context budget.

use crate::diagnostic::{Diagnostic, Rule};
use crate::syntax::keys::format_duration;
use crate::workflow::Workflow;

pub(super) fn check(wf: &Workflow, diags: &mut Vec<Diagnostic>) {
    let src = &wf.source;
    for stage in &wf.stages {
        let s = &stage.settings;
        let name = &stage.name.value;
        if let Some(from) = &s.consult.from_visit {
            if let Some(max) = s.max_visits.as_ref().filter(|m| from.value > m.value) {
                diags.push(
                    Diagnostic::new(
                        Rule::UnreachableLimit,
                        src,
                        from.span,
                        format!(
                            "stage `{name}` allows consults from visit {} but is visited at most {} times: it can never consult",
                            from.value, max.value
                        ),
                    )
                    .with_related(max.span, "the stage's `max-visits`")
                    .with_help("lower `from-visit`, or drop the `consult` node if the stage should never consult"),
                );
            } else if s.consult.max.as_ref().is_some_and(|m| m.value == 0) {
                diags.push(
                    Diagnostic::new(
                        Rule::UnreachableLimit,
                        src,
                        from.span,
                        format!("stage `{name}` allows 0 consults per visit, so `from-visit` changes nothing"),
                    )
                    .with_help("give `consult max` a value above 0, or drop `from-visit`"),
                );
            }
        }
        if let (Some(wall), Some(run_wall)) = (&s.wall_secs, wf.budget.wall_secs)
            && wall.value >= run_wall
        {
            let mut d = Diagnostic::new(
                Rule::UnreachableLimit,
                src,
                wall.span,
                format!(
                    "stage `{name}` may work for {}, but the whole run has only {}: the stage's limit is never reached",
                    format_duration(wall.value),
                    format_duration(run_wall)
                ),
            )
            .with_help("make the stage's `wall` shorter than `budget wall`, or drop it");
            if let Some(span) = wf.budget.span {
                d = d.with_related(span, "the run's budget");
            }
            diags.push(d);
        }
        if let (Some(a), Some(b)) = (&s.context.chars, &s.consult.context_chars)
            && a.value != b.value
        {
            diags.push(
                Diagnostic::new(
                    Rule::BudgetConflict,
                    src,
                    b.span,
                    format!(
                        "stage `{name}` sets its context budget twice: `context chars={}` and `consult context-chars={}`; `context chars` wins",
                        a.value, b.value
                    ),
                )
                .with_related(a.span, "`context chars`")
                .with_help("keep one: `context chars` is the newer spelling"),
            );
        }
    }
}
