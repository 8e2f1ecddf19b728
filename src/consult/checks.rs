//! The checks that ask no model: `red_flag` (why an answer would be discarded) and
//! `coordinate` (one agent or several, by Kim et al.'s rules and this project's outcomes).

use serde::Serialize;

use crate::engine::{Engine, Failure, RunEvent};
use crate::quality::coordinate::{self, Degradation, Recommendation};
use crate::quality::redflag::{self, AnswerFormat, ExtraRule, Flag, RuleSet};

/// What to check (the `red_flag` tool's arguments; `///` lines reach the model).
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedFlagAsk {
    pub content: String,
    pub format: Option<AnswerFormat>,
    #[serde(default)]
    pub rules: Vec<ExtraRule>,
    /// Its `red-flags` (needs run_id).
    pub stage: Option<String>,
    pub run_id: Option<String>,
}

/// Whether the content passes, and the rules it trips.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RedFlagged {
    pub valid: bool,
    pub flags: Vec<Flag>,
}

/// Checks one answer against red-flag rules.
///
/// # Errors
/// An unknown run, stage or rule; a stage without a run.
pub fn red_flag(e: &Engine, ask: &RedFlagAsk) -> Result<RedFlagged, Failure> {
    let mut rules = match (&ask.stage, &ask.run_id) {
        (Some(stage), Some(run)) => {
            let (_, wf) = e.read_run(run)?;
            let s = wf.workflow().stage(stage).ok_or_else(|| {
                Failure::new(
                    "unknown_stage",
                    format!(
                        "the run's workflow has no stage `{}`",
                        stage.chars().take(80).collect::<String>()
                    ),
                    "name a stage of the run's workflow",
                )
            })?;
            RuleSet::from_workflow(&s.settings.red_flags, None)
        }
        (Some(_), None) => {
            return Err(Failure::new(
                "missing_run",
                "`stage` needs `run_id`: a stage's red flags come from the run's workflow",
                "pass the run id too",
            ));
        }
        (None, Some(run)) => {
            e.read_run(run)?;
            RuleSet::default()
        }
        (None, None) => RuleSet::default(),
    };
    if let Some(f) = ask.format {
        rules.format = Some(f);
    }
    let rules = rules.with_rules(&ask.rules);
    let flags = redflag::check(&ask.content, &rules);
    e.record(
        ask.run_id.as_deref(),
        &RunEvent::RedFlagCheck { flags: flags.len() },
    )?;
    Ok(RedFlagged {
        valid: flags.is_empty(),
        flags,
    })
}

/// What to coordinate (the `coordinate` tool's arguments; `///` lines reach the model).
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoordinateAsk {
    pub task: String,
    pub code_context: Option<String>,
    pub error_logs: Option<String>,
    pub stage: Option<String>,
    pub run_id: Option<String>,
    /// 0..1, doing it alone.
    pub baseline_confidence: Option<f64>,
}

/// The recommended topology, with the rule that decided it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Coordinated {
    pub recommendation: Recommendation,
    pub degradation: Degradation,
    pub outcomes_recorded: usize,
}

/// Recommends one agent or several.
///
/// # Errors
/// An unknown run.
pub fn coordinate(e: &Engine, ask: &CoordinateAsk) -> Result<Coordinated, Failure> {
    let (threshold, max_agents) = match ask.run_id.as_deref() {
        Some(id) => e.policy(id)?,
        None => (
            crate::workflow::DEFAULT_CAPABILITY_THRESHOLD,
            crate::workflow::DEFAULT_MAX_AGENTS,
        ),
    };
    let outcomes = e.outcomes()?;
    let f = coordinate::features(
        &ask.task,
        ask.code_context.as_deref().unwrap_or(""),
        ask.error_logs.as_deref().unwrap_or(""),
    );
    let recommendation = coordinate::recommend(
        &f,
        ask.stage.as_deref(),
        ask.baseline_confidence,
        threshold,
        &outcomes,
        max_agents,
    );
    let degradation = coordinate::degradation(recommendation.topology, &outcomes, &[]);
    Ok(Coordinated {
        recommendation,
        degradation,
        outcomes_recorded: outcomes.len(),
    })
}
