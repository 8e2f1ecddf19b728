//! Pure run transitions: entering stages, firing events, ends and exhausted loops.
//! No I/O: the caller loads the run, applies a step and stores the result with its events.

use serde_json::{Value, json};

use super::Failure;
use super::events::{Events, RunEvent};
use super::library::Compiled;
use super::model::{Run, RunEnd, RunStatus};
use crate::engine::FailureCode;
use crate::workflow::BuiltinEvent;

/// How many automatic hops (`exhausted` chains) one step may take before it is a loop.
const MAX_HOPS: usize = 32;

/// The variables a `when` guard sees. `checks` are facts maestro recorded itself (the
/// `verify` runs of this visit), so a guard can rest on them rather than on the output's
/// claims.
#[must_use]
pub(crate) fn guard_context(run: &Run, stage: &str, output: &Value) -> Value {
    json!({
        "output": output,
        "checks": run.checks,
        "previous": {"output": run.previous_output, "checks": run.previous_checks},
        "selection": run.selection,
        "run": {
            "id": run.id,
            "task": run.task,
            "visits": run.visits,
            "consults_used": run.consults_used,
        },
        "stage": {"name": stage, "visit": run.visits.get(stage).copied().unwrap_or(0)},
    })
}

/// Events that a submit may name explicitly (the rest are fired by the engine itself).
#[must_use]
pub(crate) fn submittable_events(wf: &Compiled, stage: &str) -> Vec<String> {
    let Some(s) = wf.workflow().stage(stage) else {
        return Vec::new();
    };
    let mut events = vec![s.default_event().as_str().to_string()];
    for e in &s.next {
        let ev = e.event(s);
        let engine_only = BuiltinEvent::parse(ev).is_some_and(BuiltinEvent::engine_only);
        if !engine_only && !events.iter().any(|have| have == ev) {
            events.push(ev.to_string());
        }
    }
    events
}

/// Enters `target` (a stage or an end), following `exhausted` edges when a loop bound is hit.
///
/// # Errors
/// When an exhausted stage has nowhere to go, or hops never settle.
pub(crate) fn enter(
    wf: &Compiled,
    run: &mut Run,
    target: &str,
    events: &mut Events,
) -> Result<(), Failure> {
    let mut target = target.to_string();
    for _ in 0..MAX_HOPS {
        let workflow = wf.workflow();
        if workflow.is_end(&target) {
            finish(run, RunEnd::Reached(target), None, events);
            return Ok(());
        }
        let Some(stage) = workflow.stage(&target) else {
            return Err(Failure::new(
                FailureCode::UnknownStage,
                format!("the workflow has no stage or end `{target}`"),
                "the workflow changed under the run; restore the stage or start a new run",
            ));
        };
        let visits = run.visits.get(&target).copied().unwrap_or(0);
        // Finished visits only: the one that led here was counted when its output was accepted.
        let worked = run.stage_secs.get(&target).copied().unwrap_or(0);
        let over_wall = stage.wall_secs().filter(|&w| visits > 0 && worked >= w);
        let over_visits = stage.max_visits().filter(|&m| visits >= m);
        if over_visits.is_some() || over_wall.is_some() {
            let why = if let Some(wall) = over_wall {
                events.push(RunEvent::StageOvertime {
                    stage: target.clone(),
                    worked_secs: worked,
                    wall_secs: wall,
                });
                format!(
                    "stage `{target}` used its wall of {} (worked {})",
                    crate::syntax::keys::format_duration(wall),
                    crate::syntax::keys::format_duration(worked)
                )
            } else {
                let max = over_visits.unwrap_or_default();
                events.push(RunEvent::StageExhausted {
                    stage: target.clone(),
                    visits,
                    max_visits: max,
                });
                format!("stage `{target}` reached max-visits {max}")
            };
            let exit = stage
                .next
                .iter()
                .enumerate()
                .filter(|(_, e)| e.listens_for(stage, BuiltinEvent::Exhausted))
                .find(|(i, e)| {
                    // Guards on an exhausted edge see the stage's last output, if any.
                    let out = run.outputs.get(&target).cloned().unwrap_or(json!({}));
                    guard_holds(wf, &target, *i, e, run, &out)
                })
                .map(|(_, e)| e);
            match exit {
                Some(edge) => {
                    target.clone_from(&edge.to.value);
                    continue;
                }
                None => {
                    finish(
                        run,
                        RunEnd::Exhausted,
                        Some(format!("{why} and has no `next ... on=\"exhausted\"`")),
                        events,
                    );
                    return Ok(());
                }
            }
        }
        run.visits.insert(target.clone(), visits + 1);
        run.stage = Some(target.clone());
        run.status = RunStatus::Active;
        run.consults_in_visit = 0;
        // What this visit's guards compare with: the checks recorded before it, and this
        // stage's output from its previous visit.
        let done = std::mem::take(&mut run.checks);
        run.previous_checks.extend(done);
        run.previous_output = run.outputs.get(&target).cloned();
        run.selection = None;
        run.stage_entered_at = crate::store::now_ms();
        events.push(RunEvent::StageEntered {
            stage: target.clone(),
            visit: visits + 1,
        });
        return Ok(());
    }
    Err(Failure::new(
        FailureCode::TransitionLoop,
        format!("following `exhausted` edges from `{target}` never reached a stage that can run"),
        "give the stages on this path room in `max-visits` or an `exhausted` edge to an end",
    ))
}

/// Whether edge number `index` of `stage` may be taken. Guards come compiled from the machine;
/// one that fails to evaluate (say, comparing text with a number) counts as false.
fn guard_holds(
    wf: &Compiled,
    stage: &str,
    index: usize,
    edge: &crate::workflow::Edge,
    run: &Run,
    output: &Value,
) -> bool {
    if edge.when.is_none() {
        return true;
    }
    let machine = wf.machine();
    let guard = machine.node(stage).and_then(|n| {
        machine
            .graph
            .edges(n)
            .find(|e| e.weight().edge == index)
            .and_then(|e| e.weight().guard.clone())
    });
    guard.is_some_and(|g| g.eval(&guard_context(run, stage, output)).unwrap_or(false))
}

/// Fires `event` from the run's current stage: the first edge (file order) whose `on` matches
/// and whose `when` holds wins.
///
/// # Errors
/// `no_transition` when nothing matches (the run stays where it is).
pub(crate) fn fire(
    wf: &Compiled,
    run: &mut Run,
    event: &str,
    output: &Value,
    events: &mut Events,
) -> Result<(), Failure> {
    let stage_name = run.stage.clone().unwrap_or_default();
    let Some(stage) = wf.workflow().stage(&stage_name) else {
        return Err(Failure::stage_gone(&stage_name));
    };
    let mut tried = Vec::new();
    for (i, edge) in stage.next.iter().enumerate() {
        if edge.event(stage) != event {
            continue;
        }
        if guard_holds(wf, &stage_name, i, edge, run, output) {
            events.push(RunEvent::Transition {
                from: stage_name.clone(),
                event: event.to_string(),
                to: edge.to.value.clone(),
            });
            let to = edge.to.value.clone();
            return enter(wf, run, &to, events);
        }
        tried.push(format!(
            "`{}` when `{}`",
            edge.to.value,
            edge.when.as_ref().map_or("", |w| w.value.as_str())
        ));
    }
    let detail = if tried.is_empty() {
        format!("stage `{stage_name}` has no `next` for event `{event}`")
    } else {
        format!(
            "no `next` of stage `{stage_name}` for event `{event}` has a true guard (tried {})",
            tried.join(", ")
        )
    };
    Err(Failure::new(
        FailureCode::NoTransition,
        detail,
        "check the output fields the guards read, or name another event; the run stays in this stage",
    ))
}

/// Ends the run.
pub(crate) fn finish(run: &mut Run, end: RunEnd, note: Option<String>, events: &mut Events) {
    run.status = RunStatus::Finished;
    run.stage = None;
    run.end = Some(end.clone());
    run.finished_at = Some(crate::store::now_ms());
    run.pending_approval = None;
    run.checks.clear();
    events.push(RunEvent::RunFinished {
        end,
        note: note.clone(),
    });
    run.note = note;
}
