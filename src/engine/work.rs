//! The evidence chain's types: why each step was taken, linked to what it rests on.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Kinds of evidence entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EvidenceKind {
    Observation,
    Hypothesis,
    Decision,
    Verification,
    RedFlag,
    Consensus,
    Patch,
    Rollback,
}

impl EvidenceKind {
    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Observation => "observation",
            EvidenceKind::Hypothesis => "hypothesis",
            EvidenceKind::Decision => "decision",
            EvidenceKind::Verification => "verification",
            EvidenceKind::RedFlag => "red_flag",
            EvidenceKind::Consensus => "consensus",
            EvidenceKind::Patch => "patch",
            EvidenceKind::Rollback => "rollback",
        }
    }
}

/// One entry of the evidence chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct Evidence {
    pub id: String,
    pub run_id: Option<String>,
    pub stage: Option<String>,
    pub kind: EvidenceKind,
    pub content: String,
    /// Who or what produced it (a provider, a check, a person).
    pub source: Option<String>,
    /// Ids of the entries this one rests on.
    pub links: Vec<String>,
    pub at: i64,
    #[schemars(with = "Value")]
    pub data: Value,
}

/// A filter over the chain.
#[derive(Debug, Clone, Default)]
pub(crate) struct EvidenceQuery {
    pub run_id: Option<String>,
    pub kind: Option<EvidenceKind>,
    pub stage: Option<String>,
    pub limit: Option<usize>,
}

/// A new entry.
#[derive(Debug, Clone)]
pub(crate) struct Note {
    pub run_id: Option<String>,
    pub kind: EvidenceKind,
    pub content: String,
    pub source: Option<String>,
    pub links: Vec<String>,
    pub data: Value,
}
