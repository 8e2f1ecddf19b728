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
    pub data: EvidenceData,
}

/// What an entry carries besides its text, by what made it. Stored as the plain object of its
/// fields (untagged), the shape entries had before it was typed; entries are read back as
/// JSON, so older ones still show.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum EvidenceData {
    /// A note the model wrote: its text says it all (stored as `null`).
    Nothing,
    /// A consult's answer, kept whole as a turn of its thread.
    Answer {
        consult_id: String,
        thread_id: String,
        turn: u32,
        #[serde(flatten)]
        usage: Usage,
    },
    /// An answer that is not a consult of its own (a judge's verdict).
    Usage(Usage),
    /// A consult that did not answer, and what to do about it.
    FailedConsult {
        failed: bool,
        kind: crate::providers::ErrorKind,
        help: String,
    },
    /// A vote's samples and the margin it ended with.
    Vote { samples: u32, margin: u32 },
    /// A patch applied, and the backup that undoes it.
    Patch {
        backup_id: String,
        files: Vec<crate::workspace::patch::FileChange>,
    },
    /// A backup put back.
    Restore(crate::workspace::backup::RestoreReport),
    /// A person's decision and their answers.
    Decision {
        approval_id: String,
        answers: std::collections::BTreeMap<String, String>,
    },
    /// A check maestro ran.
    Check {
        name: String,
        passed: bool,
        status: crate::workspace::verify::CheckStatus,
        reason: Option<String>,
        counts: Option<crate::workspace::verify::Counts>,
        exit_code: Option<i32>,
        configured_in: crate::workspace::verify::CheckSource,
    },
}

/// Tokens and cost a provider reported for one answer.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Usage {
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    pub cost_usd: Option<f64>,
}

impl Usage {
    #[must_use]
    pub(crate) fn of(a: &crate::providers::Answer) -> Usage {
        Usage {
            tokens_in: a.tokens_in,
            tokens_out: a.tokens_out,
            cost_usd: a.cost_usd,
        }
    }
}

impl EvidenceData {
    /// As stored: the JSON object of its fields.
    #[must_use]
    pub(crate) fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod data_tests {
    use serde_json::json;

    use super::*;

    /// Entries written before the data was typed are read back as JSON: the typed data must
    /// keep the shapes they had.
    #[test]
    fn typed_evidence_data_is_stored_in_the_shapes_entries_always_had() {
        let usage = Usage {
            tokens_in: Some(10),
            tokens_out: Some(5),
            cost_usd: None,
        };
        let cases = [
            (EvidenceData::Nothing, json!(null)),
            (
                EvidenceData::Answer {
                    consult_id: "co-1".into(),
                    thread_id: "th-1".into(),
                    turn: 2,
                    usage,
                },
                json!({"consult_id": "co-1", "thread_id": "th-1", "turn": 2,
                       "tokens_in": 10, "tokens_out": 5, "cost_usd": null}),
            ),
            (
                EvidenceData::Usage(usage),
                json!({"tokens_in": 10, "tokens_out": 5, "cost_usd": null}),
            ),
            (
                EvidenceData::FailedConsult {
                    failed: true,
                    kind: crate::providers::ErrorKind::RateLimited,
                    help: "wait".into(),
                },
                json!({"failed": true, "kind": "rate_limited", "help": "wait"}),
            ),
            (
                EvidenceData::Vote {
                    samples: 7,
                    margin: 3,
                },
                json!({"samples": 7, "margin": 3}),
            ),
            (
                EvidenceData::Decision {
                    approval_id: "apr-1".into(),
                    answers: [("q1".to_string(), "yes".to_string())].into(),
                },
                json!({"approval_id": "apr-1", "answers": {"q1": "yes"}}),
            ),
        ];
        for (data, want) in cases {
            assert_eq!(data.to_value(), want, "{data:?}");
        }
    }
}
