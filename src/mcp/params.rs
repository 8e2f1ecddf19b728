//! Tool arguments and results as the model sees them. `///` text on arguments is shipped to
//! the model in every session, so it is short and says only what the name does not. The
//! quality tools take the consult layer's own request types (`consult::vote::VoteAsk`, …):
//! one definition serves the tool, the library and the CLI.
//! Results are the engine's typed values under a `summary`; their schemas are cut to the top
//! level when the tool list is built (`mcp/mod.rs`), the results document themselves.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::work::{Evidence, EvidenceKind};
use crate::workspace::gitdiff::DiffSpec;

/// What a nested result field is described as. The tool list keeps only each field's JSON
/// type (`mcp/mod.rs`, `top_level`), so generating the nested types' whole schemas at start-up
/// would cost time and memory for nothing.
type Object = serde_json::Map<String, Value>;
use crate::engine::{ApprovalView, Brief, DecisionKind, RunSummary, RunView, SubmitOutcome};

/// Material to pack into every stage's brief.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContextParams {
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub facts: Vec<String>,
    #[serde(default)]
    pub errors: Vec<String>,
    #[serde(default)]
    pub constraints: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartParams {
    pub task: String,
    pub workflow: Option<String>,
    pub context: Option<ContextParams>,
    /// `en`, `ko`.
    pub lang: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusParams {
    /// Omit to list active runs.
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunParams {
    pub run_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubmitParams {
    pub run_id: String,
    /// Matches the brief's `output_schema`.
    #[schemars(with = "BTreeMap<String, Value>")]
    pub output: Value,
    /// One of the brief's `events`; omit for the default.
    pub event: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecideParams {
    pub approval_id: String,
    pub decision: DecisionKind,
    pub feedback: Option<String>,
    /// Question id → answer.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct StartResult {
    pub summary: String,
    pub run_id: String,
    #[schemars(with = "Object")]
    pub run: RunSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Object>")]
    pub brief: Option<Brief>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct StatusResult {
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Object>")]
    pub run: Option<RunView>,
    #[schemars(with = "Vec<Object>")]
    pub runs: Vec<RunSummary>,
    #[schemars(with = "Vec<Object>")]
    pub pending_approvals: Vec<ApprovalView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct BriefResult {
    pub summary: String,
    #[schemars(with = "Object")]
    pub brief: Brief,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SubmitResult {
    pub summary: String,
    pub outcome: SubmitOutcome,
    #[schemars(with = "Object")]
    pub run: RunSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Object>")]
    pub approval: Option<ApprovalView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Object>")]
    pub brief: Option<Brief>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DecideResult {
    pub summary: String,
    #[schemars(with = "Object")]
    pub approval: ApprovalView,
    #[schemars(with = "Object")]
    pub run: RunSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Object>")]
    pub brief: Option<Brief>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsultParams {
    pub prompt: String,
    /// Default: the thread's, else the stage's.
    pub provider: Option<String>,
    pub model: Option<String>,
    /// e.g. `debugger`; sees run_id's outputs.
    pub role: Option<String>,
    pub context: Option<String>,
    /// Paths or globs, read by the server.
    #[serde(default)]
    pub files: Vec<String>,
    /// `staged`, `unstaged` or `base:<ref>`.
    pub diff: Option<DiffSpec>,
    /// Follow up on an answer.
    pub thread_id: Option<String>,
    pub run_id: Option<String>,
    pub timeout_s: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnsembleParams {
    pub prompt: String,
    #[serde(default)]
    pub providers: Vec<String>,
    pub n: Option<usize>,
    pub role: Option<String>,
    pub context: Option<String>,
    #[serde(default)]
    pub files: Vec<String>,
    pub diff: Option<DiffSpec>,
    /// One member each.
    #[serde(default)]
    pub stances: Vec<crate::consult::stance::Member>,
    pub run_id: Option<String>,
    /// 0..1; high asks one provider.
    pub baseline_confidence: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct NoParams {}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ConsultResult {
    pub summary: String,
    #[serde(flatten)]
    pub consulted: crate::consult::Consulted,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct EnsembleResult {
    pub summary: String,
    #[serde(flatten)]
    pub ensembled: crate::consult::Ensembled,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ProvidersResult {
    pub summary: String,
    #[schemars(with = "Vec<Object>")]
    pub providers: Vec<crate::providers::Status>,
    pub config_problems: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PackParams {
    /// Paths or globs; secrets refused.
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub facts: Vec<String>,
    #[serde(default)]
    pub errors: Vec<String>,
    #[serde(default)]
    pub constraints: Vec<String>,
    /// `staged`, `unstaged` or `base:<ref>`.
    pub diff: Option<DiffSpec>,
    /// Its context-chars is the budget.
    pub stage: Option<String>,
    pub run_id: Option<String>,
    pub max_chars: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyParams {
    /// Names from conf/verify.yaml.
    pub checks: Vec<String>,
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchParams {
    /// Unified diff.
    pub diff: String,
    #[serde(default)]
    pub dry_run: bool,
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RestoreParams {
    pub backup_id: String,
    /// Default: all.
    pub files: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteParams {
    pub run_id: Option<String>,
    pub kind: EvidenceKind,
    pub content: String,
    pub source: Option<String>,
    #[serde(default)]
    pub links: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvidenceParams {
    pub run_id: Option<String>,
    pub kind: Option<EvidenceKind>,
    pub stage: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PackResult {
    pub summary: String,
    pub packed: crate::workspace::context::Packed,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct VerifyResult {
    pub summary: String,
    #[serde(flatten)]
    pub verified: crate::engine::ops::verify::Verified,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PatchResult {
    pub summary: String,
    #[schemars(with = "Object")]
    pub report: crate::workspace::backup::PatchReport,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RestoreResult {
    pub summary: String,
    #[schemars(with = "Object")]
    pub report: crate::workspace::backup::RestoreReport,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct EvidenceResult {
    pub summary: String,
    #[schemars(with = "Vec<Object>")]
    pub entries: Vec<Evidence>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetricsParams {
    pub run_id: Option<String>,
}

/// A quality tool's result: a summary and the typed details.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Reported<T> {
    pub summary: String,
    #[schemars(with = "Object")]
    pub result: T,
}
