//! Degraded mode: a run that keeps straining falls back, for the rest of its life, to less
//! context, more patience with each provider and one provider per question (the seed's
//! fallback, with its numbers: [`coordinate::DEGRADED`]).
//!
//! The run-level triggers are counted here and only here ([`strained`]): `submit` reports an
//! output it refused, `charge` a consult it charged. When a count reaches its limit the run is
//! put in degraded mode and one `degraded` event is recorded, in the same transaction. From
//! then on the run carries the mode: its briefs and consults pack less ([`limits`]), every
//! provider ticket it pays for waits longer (`Engine::pay`), an ensemble asks one provider,
//! and the brief says so ([`Strain::view`]).

use serde::{Deserialize, Serialize};

use super::events::{Events, RunEvent};
use super::library::Compiled;
use super::model::Run;
use super::{Engine, Failure};
use crate::quality::coordinate::{
    self, DEGRADED, DegradedMode, MAX_FORMAT_ERRORS, MAX_OVERHEAD_VIOLATIONS, RunStrain, Trigger,
};
use crate::workspace::context::{DEFAULT_MAX_CHARS, Limits};

/// What a run counts toward degraded mode, and whether it is in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Strain {
    #[serde(flatten)]
    pub counts: RunStrain,
    /// The triggers that put the run in degraded mode; once set, it stays to the run's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<Vec<Trigger>>,
}

/// What just happened to a run that may strain it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Strained {
    /// `submit` refused an output (schema or red flags).
    RefusedOutput,
    /// `charge` charged consults; the visit had used `before` until then.
    Charged { before: u32 },
}

/// Degraded mode as a brief shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct DegradedView {
    pub triggers: Vec<Trigger>,
    #[serde(flatten)]
    pub mode: DegradedMode,
    /// What it means for the work, in the run's language.
    pub note: String,
}

impl Strain {
    /// Nothing counted yet: the run's state file need not mention it.
    #[must_use]
    pub(crate) fn is_calm(&self) -> bool {
        *self == Strain::default()
    }

    /// The mode the run works in, when it is degraded.
    #[must_use]
    pub(crate) fn mode(&self) -> Option<DegradedMode> {
        self.degraded.as_ref().map(|_| DEGRADED)
    }

    /// What a brief says about degraded mode, in `lang`; `None` for a run that is not in it.
    #[must_use]
    pub(crate) fn view(&self, lang: &str) -> Option<DegradedView> {
        let triggers = self.degraded.clone()?;
        // The limit that was reached, not the count now: the reason stays what it was.
        let why: Vec<String> = triggers
            .iter()
            .map(|t| match (t, lang) {
                (Trigger::FormatErrors, "ko") => format!("거부된 출력 {MAX_FORMAT_ERRORS}회"),
                (Trigger::FormatErrors, _) => format!("{MAX_FORMAT_ERRORS} refused outputs"),
                (_, "ko") => format!("조정 비용 상한을 넘은 방문 {MAX_OVERHEAD_VIOLATIONS}회"),
                (_, _) => {
                    format!("{MAX_OVERHEAD_VIOLATIONS} visits over the coordination cost cap")
                }
            })
            .collect();
        let m = DEGRADED;
        let (context, timeout) = ((m.context_factor * 100.0).round(), m.timeout_factor);
        let note = if lang == "ko" {
            format!(
                "저하 모드({}): 이 실행이 끝날 때까지 맥락은 {context}%로 줄고, 제공자 시간 제한은 {timeout}배로 늘며, 질문마다 제공자 하나에게만 묻습니다(앙상블 없음). 한 번에 한 가지를 작게 하세요.",
                why.join(", ")
            )
        } else {
            format!(
                "Degraded mode ({}): for the rest of this run context is cut to {context}%, provider timeouts are {timeout}×, and each question goes to one provider (no ensembles). Work in small, single steps.",
                why.join(", ")
            )
        };
        Some(DegradedView {
            triggers,
            mode: m,
            note,
        })
    }
}

/// Counts what happened to `run` and, when a run-level trigger fires for the first time, puts
/// the run in degraded mode and records it. The one place the run-level triggers are decided.
pub(super) fn strained(wf: &Compiled, run: &mut Run, what: Strained, events: &mut Events) {
    match what {
        Strained::RefusedOutput => run.strain.counts.refused_answers += 1,
        Strained::Charged { before } => {
            // Counted once per visit: on the charge that takes it over the cap.
            let cap = wf.workflow().policy.preset.limits().max_overhead;
            if !coordinate::over_cap(before, cap)
                && coordinate::over_cap(run.consults_in_visit, cap)
            {
                run.strain.counts.overhead_violations += 1;
            }
        }
    }
    if run.strain.degraded.is_some() {
        return;
    }
    let triggers = run.strain.counts.triggers();
    if triggers.is_empty() {
        return;
    }
    run.strain.degraded = Some(triggers.clone());
    events.push(RunEvent::Degraded {
        stage: run.stage.clone(),
        triggers,
        refused_answers: run.strain.counts.refused_answers,
        overhead_violations: run.strain.counts.overhead_violations,
        context_factor: DEGRADED.context_factor,
        timeout_factor: DEGRADED.timeout_factor,
    });
}

/// A stage's context limits as `run` may use them: in degraded mode, the characters cut by
/// the mode's factor (from the packing default when the stage sets none).
#[must_use]
pub(super) fn limits(run: &Run, mut l: Limits) -> Limits {
    if let Some(m) = run.strain.mode() {
        l.chars = Some(m.chars(l.chars.unwrap_or(DEFAULT_MAX_CHARS)));
    }
    l
}

impl Engine {
    /// What a run counts toward degraded mode (for `coordinate`'s run-level triggers).
    ///
    /// # Errors
    /// An unknown run.
    pub(crate) fn strain(&self, run_id: &str) -> Result<RunStrain, Failure> {
        let (run, _) = self.read_run(run_id)?;
        Ok(run.strain.counts)
    }
}
