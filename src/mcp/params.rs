//! Tool arguments and results as the model sees them. These DTOs are separate from the
//! engine's types so a refactor never changes a tool's schema; `///` text here is shipped to
//! the model, so it says what to pass and why.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{ApprovalView, Brief, BudgetView, RunSummary, RunView};

/// Material to pack into every stage's brief.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextParams {
    /// Workspace paths (or globs) that matter for the task.
    #[serde(default)]
    pub files: Vec<String>,
    /// Things known to be true (observations, versions, reproduction results).
    #[serde(default)]
    pub facts: Vec<String>,
    /// Error messages or log excerpts.
    #[serde(default)]
    pub errors: Vec<String>,
    /// Rules the work must respect (APIs that must not change, style, deadlines).
    #[serde(default)]
    pub constraints: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartParams {
    /// What the run should achieve, in the user's words.
    pub task: String,
    /// Workflow name (default `default`: analyze → hypothesize → implement → debug → improve).
    pub workflow: Option<String>,
    pub context: Option<ContextParams>,
    /// Language for titles and questions shown to the person (`en`, `ko`).
    pub lang: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusParams {
    /// A run id; omit it to list the active runs.
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunParams {
    /// The run id returned by `start`.
    pub run_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitParams {
    /// The run id returned by `start`.
    pub run_id: String,
    /// The stage's result: a JSON object matching `output_schema` from the brief.
    #[schemars(with = "BTreeMap<String, Value>")]
    pub output: Value,
    /// A custom event named by one of the stage's `next` edges; omit for the default.
    pub event: Option<String>,
}

/// approve: the run moves on; revise: the stage is done again with the feedback; reject: the
/// run ends (or follows the workflow's `rejected` edge).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Revise,
    Reject,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideParams {
    /// The pending approval's id (from `submit` or `status`).
    pub approval_id: String,
    pub decision: Decision,
    /// Words for the next attempt (what to change, what was good).
    pub feedback: Option<String>,
    /// Answers to the gate's questions, by question id.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
}

/// A JSON object; the output schemas stay shallow so the tool list is cheap to load.
type Object = serde_json::Map<String, Value>;

/// A new run.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StartResult {
    pub summary: String,
    pub run_id: String,
    /// run_id, workflow, task, status, stage, visit, end, pending_approval.
    #[schemars(with = "Object")]
    pub run: RunSummary,
    /// The first stage's brief (role, skill, output_schema, context, feedback, budget, events,
    /// questions): do its work, then `submit`.
    #[schemars(with = "Option<Object>")]
    pub brief: Option<Brief>,
}

/// One run in full, or the active runs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusResult {
    pub summary: String,
    /// The run in full: stage, visit, budget, approval, history, workflow problems.
    #[schemars(with = "Option<Object>")]
    pub run: Option<RunView>,
    #[schemars(with = "Vec<Object>")]
    pub runs: Vec<RunSummary>,
    /// Approvals waiting for a decision: report, questions, who decides.
    #[schemars(with = "Vec<Object>")]
    pub pending_approvals: Vec<ApprovalView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BriefResult {
    pub summary: String,
    /// role, skill, output_schema, context, feedback, budget, events, gate, questions.
    #[schemars(with = "Object")]
    pub brief: Brief,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SubmitResult {
    pub summary: String,
    pub outcome: crate::engine::SubmitOutcome,
    #[schemars(with = "Object")]
    pub run: RunSummary,
    /// The approval opened by a gated stage (approval_id, by, report, questions).
    #[schemars(with = "Option<Object>")]
    pub approval: Option<ApprovalView>,
    /// The next stage's brief when the run moved on.
    #[schemars(with = "Option<Object>")]
    pub brief: Option<Brief>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DecideResult {
    pub summary: String,
    #[schemars(with = "Object")]
    pub approval: ApprovalView,
    #[schemars(with = "Object")]
    pub run: RunSummary,
    #[schemars(with = "Option<Object>")]
    pub brief: Option<Brief>,
}

/// Budget figures, re-exported for tools that charge consults.
pub type Budget = BudgetView;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultParams {
    /// The question, with the context the adviser needs (it cannot read your files).
    pub prompt: String,
    /// Provider name (see `providers`); default: the run's stage preference, else the first.
    pub provider: Option<String>,
    pub model: Option<String>,
    /// A role template to frame the question (e.g. `judge`).
    pub role: Option<String>,
    /// Material the adviser needs: code excerpts, logs, facts (secrets are masked).
    pub context: Option<String>,
    /// Charge this run's budget (refused when it is spent).
    pub run_id: Option<String>,
    pub timeout_s: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnsembleParams {
    pub prompt: String,
    /// Providers to ask; default: the run's stage preferences, else all enabled.
    #[serde(default)]
    pub providers: Vec<String>,
    /// At most this many providers.
    pub n: Option<usize>,
    pub role: Option<String>,
    pub run_id: Option<String>,
    /// Your own confidence (0..1) without help; at or above the capability threshold (0.45)
    /// only one provider is asked.
    pub baseline_confidence: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoParams {}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConsultResult {
    pub summary: String,
    #[serde(flatten)]
    pub consulted: crate::consult::Consulted,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EnsembleResult {
    pub summary: String,
    #[serde(flatten)]
    pub ensembled: crate::consult::Ensembled,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProvidersResult {
    pub summary: String,
    /// name, kind, enabled, installed, path, version, model, problems, install.
    #[schemars(with = "Vec<Object>")]
    pub providers: Vec<crate::providers::Status>,
    pub config_problems: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackParams {
    /// Workspace paths or globs (`src/**/*.rs`); `.gitignore` is honoured, secrets refused.
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub facts: Vec<String>,
    /// Logs or messages; long ones are summarised keeping tracebacks and the tail.
    #[serde(default)]
    pub errors: Vec<String>,
    #[serde(default)]
    pub constraints: Vec<String>,
    pub stage: Option<String>,
    /// Character budget (default 40,000).
    pub max_chars: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyParams {
    /// Names of checks from the project's conf/verify.yaml (e.g. `test`, `lint`).
    pub checks: Vec<String>,
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchParams {
    /// A unified diff (git-style or plain) with paths relative to the workspace.
    pub diff: String,
    /// Check every hunk and report, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreParams {
    /// The backup id a `patch` returned.
    pub backup_id: String,
    /// Only these files (default: all the patch touched).
    pub files: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteParams {
    pub run_id: Option<String>,
    pub kind: crate::engine::work::EvidenceKind,
    pub content: String,
    pub source: Option<String>,
    /// Ids of earlier entries this one rests on.
    #[serde(default)]
    pub links: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceParams {
    pub run_id: Option<String>,
    pub kind: Option<crate::engine::work::EvidenceKind>,
    pub stage: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PackResult {
    pub summary: String,
    #[schemars(with = "Object")]
    pub packed: crate::workspace::context::Packed,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VerifyResult {
    pub summary: String,
    pub passed: bool,
    /// name, command, passed, exit_code, timed_out, counts, duration_ms, output (tail).
    #[schemars(with = "Vec<Object>")]
    pub results: Vec<crate::workspace::verify::CheckResult>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PatchResult {
    pub summary: String,
    /// dry_run, backup_id, files (path, kind, hunks, added, removed).
    #[schemars(with = "Object")]
    pub report: crate::workspace::backup::PatchReport,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RestoreResult {
    pub summary: String,
    #[schemars(with = "Object")]
    pub report: crate::workspace::backup::RestoreReport,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EvidenceResult {
    pub summary: String,
    /// id, run_id, stage, kind, content, source, links, at.
    #[schemars(with = "Vec<Object>")]
    pub entries: Vec<crate::engine::work::Evidence>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteParams {
    /// The question every sample answers (keep it to one small step).
    pub question: String,
    /// Vote margin; default: the micro-step's, the stage's `vote`, or 3.
    pub k: Option<u32>,
    /// Providers asked in turn (round-robin); default: the run's stage preferences, else all.
    #[serde(default)]
    pub providers: Vec<String>,
    pub max_samples: Option<u32>,
    pub format: Option<crate::quality::vote::Format>,
    /// A JSON Schema every answer must satisfy (implies json).
    #[schemars(with = "Option<BTreeMap<String, Value>>")]
    pub schema: Option<Value>,
    /// A micro-step name (s1_spec_extract … r2_perf): its schema, red flags and k.
    pub step: Option<String>,
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedFlagParams {
    pub content: String,
    /// `text`, `json` or `diff`.
    pub format: Option<String>,
    /// Extra rules: hedging, dangerous_code, dangerous_command, forbidden_files, invalid_diff,
    /// invalid_json, multi_file.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Use this stage's `red-flags` (needs run_id).
    pub stage: Option<String>,
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalibrateParams {
    /// Per-step success probability, if known.
    pub p: Option<f64>,
    /// Or estimate p by sampling this prompt …
    pub step_prompt: Option<String>,
    /// … judged by this oracle: `{"expected": "<answer>"}` or `{"schema": {…}}`.
    pub oracle_check: Option<crate::consult::calibrate::Oracle>,
    /// … this many times (default 10, at most 50), from this provider.
    pub samples: Option<u32>,
    pub provider: Option<String>,
    /// Target success rate of the whole task, strictly between 0 and 1.
    pub target: f64,
    /// Number of steps in the task.
    pub steps: f64,
    /// A micro-step name whose red flags apply to samples.
    pub step: Option<String>,
    /// Cost of one sample, for the expected total.
    pub cost_per_sample: Option<f64>,
    /// Charge samples to this run's budget.
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectParams {
    /// The candidates: id, content, provider.
    #[schemars(with = "Vec<BTreeMap<String, Value>>")]
    pub candidates: Vec<crate::quality::select::Candidate>,
    pub mode: Option<crate::quality::select::Mode>,
    /// Candidate id → tests passed.
    #[serde(default)]
    pub test_results: BTreeMap<String, bool>,
    /// Candidate id → lint score 0..1.
    #[serde(default)]
    pub lint_results: BTreeMap<String, f64>,
    /// Provider that judges (mode `judge`, or extra signal for `hybrid`).
    pub judge_provider: Option<String>,
    /// Charge the judge to this run's budget.
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoordinateParams {
    pub task: String,
    pub code_context: Option<String>,
    pub error_logs: Option<String>,
    pub stage: Option<String>,
    pub run_id: Option<String>,
    /// Your confidence (0..1) of doing it alone.
    pub baseline_confidence: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsParams {
    pub run_id: Option<String>,
}

/// A quality tool's result: a summary and the typed details.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Reported<T: JsonSchema> {
    pub summary: String,
    pub result: T,
}
