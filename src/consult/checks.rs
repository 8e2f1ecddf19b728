//! The checks that ask no model: `red_flag` (why an answer would be discarded) and
//! `coordinate` (one agent or several, by Kim et al.'s rules and this project's outcomes).

use serde::Serialize;
use serde_json::Value;

use crate::engine::FailureCode;
use crate::engine::{Engine, Failure, RunEvent};
use crate::home::{Home, Kind};
use crate::quality::coordinate::{self, Degradation, Recommendation, Topology};
use crate::quality::redflag::{self, AnswerFormat, ExtraRule, Flag, RuleSet};
use crate::quality::steps;

/// What to check (the `red_flag` tool's arguments; `///` lines reach the model).
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedFlagAsk {
    pub content: String,
    pub format: Option<AnswerFormat>,
    #[serde(default)]
    pub rules: Vec<ExtraRule>,
    /// Its `red-flags` (needs run_id).
    pub stage: Option<String>,
    // A micro-step (as in `vote`); undocumented to keep the tool list small.
    pub step: Option<String>,
    /// Schema name.
    pub schema: Option<String>,
    pub run_id: Option<String>,
}

/// Whether the content passes, and the rules it trips.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct RedFlagged {
    pub valid: bool,
    pub flags: Vec<Flag>,
}

fn trimmed(s: &str) -> String {
    s.chars().take(80).collect()
}

/// A schema of the library by name, parsed.
///
/// # Errors
/// A name that is not a schema of the library (the known ones are listed), or one that is
/// not JSON.
pub(crate) fn library_schema(home: &Home, name: &str) -> Result<Value, Failure> {
    let asset = home
        .find(Kind::Schema, name)
        .ok()
        .flatten()
        .ok_or_else(|| {
            Failure::new(
                FailureCode::UnknownSchema,
                format!("no schema `{}` in the library", trimmed(name)),
                format!("use one of: {}", home.names(Kind::Schema).join(", ")),
            )
        })?;
    parse_schema(name, &asset.bytes)
}

fn parse_schema(name: &str, bytes: &[u8]) -> Result<Value, Failure> {
    serde_json::from_slice(bytes).map_err(|e| {
        Failure::new(
            FailureCode::BadSchema,
            format!("schema `{}` is not JSON: {e}", trimmed(name)),
            "run `maestro validate` and fix the schema",
        )
    })
}

/// A stage's red flags, with the schema its `red-flags schema=…` names, read from the
/// run's workflow version (what the run was started with), else from the library.
fn stage_rules(e: &Engine, run: &str, stage: &str) -> Result<RuleSet, Failure> {
    let (_, wf) = e.read_run(run)?;
    let s = wf
        .workflow()
        .stage(stage)
        .ok_or_else(|| Failure::no_such_stage(wf.workflow(), stage))?;
    let rf = &s.settings.red_flags;
    let schema = match rf.schema.as_deref() {
        None => None,
        Some(name) => Some(
            match wf
                .snapshot
                .files
                .iter()
                .find(|f| f.kind == Kind::Schema && f.name == name)
            {
                Some(f) => parse_schema(name, f.text.as_bytes())?,
                None => library_schema(&e.library.home, name)?,
            },
        ),
    };
    Ok(RuleSet::from_workflow(rf, schema))
}

/// Checks one answer against red-flag rules: a stage's (`stage` + `run_id`), a micro-step's
/// (`step`), or the defaults; then `schema`, `format` and `rules` on top.
///
/// # Errors
/// An unknown run, stage, step or schema; a stage without a run; a stage and a step at once.
pub(crate) fn red_flag(e: &Engine, ask: &RedFlagAsk) -> Result<RedFlagged, Failure> {
    let mut rules = match (&ask.stage, &ask.step, &ask.run_id) {
        (Some(_), Some(_), _) => {
            return Err(Failure::new(
                FailureCode::StageAndStep,
                "give `stage` or `step`, not both: each brings its own rules",
                "drop one of them",
            ));
        }
        (Some(stage), None, Some(run)) => stage_rules(e, run, stage)?,
        (Some(_), None, None) => {
            return Err(Failure::new(
                FailureCode::MissingRun,
                "`stage` needs `run_id`: a stage's red flags come from the run's workflow",
                "pass the run id too",
            ));
        }
        (None, step, run) => {
            if let Some(run) = run {
                e.read_run(run)?;
            }
            match step {
                Some(name) => steps::get(name)
                    .ok_or_else(|| {
                        Failure::new(
                            FailureCode::UnknownStep,
                            format!("no micro-step `{}`", trimmed(name)),
                            format!("use one of: {}", steps::names().join(", ")),
                        )
                    })?
                    .rule_set(),
                None => RuleSet::default(),
            }
        }
    };
    if let Some(name) = &ask.schema {
        rules.schema = Some(library_schema(&e.library.home, name)?);
    }
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
pub(crate) struct CoordinateAsk {
    pub task: String,
    pub code_context: Option<String>,
    pub error_logs: Option<String>,
    pub stage: Option<String>,
    pub run_id: Option<String>,
    /// 0..1, doing it alone.
    pub baseline_confidence: Option<f64>,
    // Undocumented on purpose: the names say it, and the tool list is paid for in every
    // session. `answers` feed the redundancy check; a forced topology keeps the advice in
    // `recommended`.
    #[serde(default)]
    pub answers: Vec<String>,
    pub force_topology: Option<Topology>,
}

/// The most answers one redundancy check compares (pairwise: the work grows as the square).
pub(crate) const MAX_ANSWERS: usize = 20;

/// The recommended topology, with the rule that decided it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Coordinated {
    pub recommendation: Recommendation,
    /// What the rules recommend, when the caller forced another choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended: Option<Recommendation>,
    pub degradation: Degradation,
    pub outcomes_recorded: usize,
}

/// Recommends one agent or several (or takes the caller's `force_topology`, keeping the
/// advice beside it), and checks the choice for degradation against the recorded outcomes
/// and the `answers` given.
///
/// # Errors
/// An unknown run; more than [`MAX_ANSWERS`] answers.
pub(crate) fn coordinate(e: &Engine, ask: &CoordinateAsk) -> Result<Coordinated, Failure> {
    if ask.answers.len() > MAX_ANSWERS {
        return Err(Failure::new(
            FailureCode::TooManyAnswers,
            format!(
                "{} answers given; the redundancy check compares at most {MAX_ANSWERS}",
                ask.answers.len()
            ),
            "pass the answers of one round of agents",
        ));
    }
    let (policy, strain) = match ask.run_id.as_deref() {
        Some(id) => (e.policy(id)?, e.strain(id)?),
        None => (
            crate::workflow::Policy::default(),
            coordinate::RunStrain::default(),
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
        &policy,
        &outcomes,
    );
    let (recommendation, recommended) = match ask.force_topology {
        Some(t) => (
            coordinate::forced(&recommendation, t, policy.max_agents),
            Some(recommendation),
        ),
        None => (recommendation, None),
    };
    let degradation = coordinate::degradation(
        recommendation.topology,
        &outcomes,
        &ask.answers,
        policy.preset.limits().max_overhead,
        strain,
    );
    Ok(Coordinated {
        recommendation,
        recommended,
        degradation,
        outcomes_recorded: outcomes.len(),
    })
}
