//! The eleven micro-step types (MAKER's maximal decomposition applied to the five stages):
//! each a JSON Schema, a red-flag rule set and a default k, usable by name in `vote` and
//! `calibrate`. Schemas are ours; the names, fields and k values follow the seed.

use serde::Serialize;
use serde_json::{Value, json};

use super::redflag::RuleSet;

/// A named micro-step.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct MicroStep {
    pub name: &'static str,
    pub stage: &'static str,
    pub default_k: u32,
    /// What one answer must look like.
    pub schema: Value,
    /// The red-flag rules that apply (besides length).
    pub rules: Vec<&'static str>,
}

impl MicroStep {
    /// The red-flag rule set for this step's answers (MAKER's 750-token limit included).
    #[must_use]
    pub(crate) fn rule_set(&self) -> RuleSet {
        let mut r = RuleSet {
            schema: Some(self.schema.clone()),
            format: Some(super::redflag::AnswerFormat::Json),
            ..RuleSet::maker()
        };
        for rule in &self.rules {
            match *rule {
                "hedging" => r.hedging = true,
                "dangerous_code" => r.dangerous_code = true,
                "dangerous_command" => r.dangerous_commands = true,
                "multi_file" => r.max_files = Some(1),
                _ => {}
            }
        }
        r
    }
}

fn obj(required: &[&str], props: Value) -> Value {
    let mut schema = json!({"type": "object", "required": required});
    schema["properties"] = props;
    schema
}

fn s() -> Value {
    json!({"type": "string", "minLength": 1})
}

/// Every micro-step, in stage order.
#[must_use]
pub(crate) fn all() -> Vec<MicroStep> {
    let diff = json!({"type": "string", "pattern": "(?m)^(---|\\+\\+\\+|@@)"});
    vec![
        MicroStep {
            name: "s1_spec_extract",
            stage: "analyze",
            default_k: 2,
            rules: vec![],
            schema: obj(
                &["input_spec", "output_spec", "source_file"],
                json!({"input_spec": s(), "output_spec": s(), "source_file": s()}),
            ),
        },
        MicroStep {
            name: "s2_edge_case",
            stage: "analyze",
            default_k: 2,
            rules: vec![],
            schema: obj(
                &["edge_case_input", "expected_behavior", "rationale"],
                json!({"edge_case_input": s(), "expected_behavior": s(), "rationale": s()}),
            ),
        },
        MicroStep {
            name: "s3_mre",
            stage: "analyze",
            default_k: 3,
            rules: vec!["dangerous_code"],
            schema: obj(
                &["mre_code", "steps_to_reproduce", "expected_vs_actual"],
                json!({"mre_code": s(), "steps_to_reproduce": {"type": "array", "items": s(), "minItems": 1}, "expected_vs_actual": s()}),
            ),
        },
        MicroStep {
            name: "h1_root_cause",
            stage: "hypothesize",
            default_k: 3,
            rules: vec!["hedging"],
            schema: obj(
                &[
                    "hypothesis",
                    "suspected_file",
                    "suspected_location",
                    "confidence",
                ],
                json!({"hypothesis": s(), "suspected_file": s(), "suspected_location": s(), "confidence": {"type": "number", "minimum": 0, "maximum": 1}}),
            ),
        },
        MicroStep {
            name: "h2_verification",
            stage: "hypothesize",
            default_k: 2,
            rules: vec!["dangerous_command"],
            schema: obj(
                &[
                    "experiment_type",
                    "command",
                    "expected_if_true",
                    "expected_if_false",
                ],
                json!({"experiment_type": {"enum": ["test", "log", "probe", "inspect"]}, "command": s(), "expected_if_true": s(), "expected_if_false": s()}),
            ),
        },
        MicroStep {
            name: "c1_minimal_patch",
            stage: "implement",
            default_k: 3,
            rules: vec!["multi_file"],
            schema: obj(
                &["target_file", "patch_diff", "change_summary"],
                json!({"target_file": s(), "patch_diff": diff, "change_summary": s()}),
            ),
        },
        MicroStep {
            name: "c2_compile_check",
            stage: "implement",
            default_k: 2,
            rules: vec![],
            schema: obj(
                &["passes_compile", "passes_typecheck", "fix_patch"],
                json!({"passes_compile": {"type": "boolean"}, "passes_typecheck": {"type": "boolean"}, "fix_patch": {"type": ["string", "null"]}}),
            ),
        },
        MicroStep {
            name: "d1_failure_label",
            stage: "debug",
            default_k: 2,
            rules: vec![],
            schema: obj(
                &["failure_type", "error_message", "stack_trace_summary"],
                json!({"failure_type": {"enum": ["assertion_failure", "null_pointer", "type_error", "timeout", "crash", "logic_error", "unknown"]}, "error_message": s(), "stack_trace_summary": {"type": "string"}}),
            ),
        },
        MicroStep {
            name: "d2_next_experiment",
            stage: "debug",
            default_k: 3,
            rules: vec!["dangerous_command"],
            schema: obj(
                &["experiment_command", "expected_insight", "abort_condition"],
                json!({"experiment_command": s(), "expected_insight": s(), "abort_condition": s()}),
            ),
        },
        MicroStep {
            name: "r1_refactor",
            stage: "improve",
            default_k: 2,
            rules: vec!["multi_file"],
            schema: obj(
                &[
                    "refactor_type",
                    "target_file",
                    "patch_diff",
                    "safety_checks",
                ],
                json!({"refactor_type": s(), "target_file": s(), "patch_diff": diff, "safety_checks": {"type": "array", "items": s()}}),
            ),
        },
        MicroStep {
            name: "r2_perf",
            stage: "improve",
            default_k: 2,
            rules: vec![],
            schema: obj(
                &[
                    "improvement_type",
                    "target_file",
                    "patch_diff",
                    "measurement_command",
                ],
                json!({"improvement_type": s(), "target_file": s(), "patch_diff": diff, "measurement_command": s()}),
            ),
        },
    ]
}

/// A micro-step by name.
#[must_use]
pub(crate) fn get(name: &str) -> Option<MicroStep> {
    all().into_iter().find(|s| s.name == name)
}

/// The names, for messages.
#[must_use]
pub(crate) fn names() -> Vec<&'static str> {
    all().iter().map(|s| s.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::redflag::check;

    #[test]
    fn eleven_steps_with_valid_schemas_and_nested_answers_pass() {
        assert_eq!(all().len(), 11);
        for step in all() {
            assert!(
                crate::schema::compile(&step.schema).is_ok(),
                "{}",
                step.name
            );
        }
        let s3 = get("s3_mre").unwrap();
        let answer = r#"{"mre_code": "assert f([]) == 0", "steps_to_reproduce": ["run it"], "expected_vs_actual": "0 vs crash"}"#;
        assert!(check(answer, &s3.rule_set()).is_empty());
        assert!(!check(r#"{"mre_code": "x"}"#, &s3.rule_set()).is_empty());
        let h1 = get("h1_root_cause").unwrap();
        let hedged = r#"{"hypothesis": "maybe the cache", "suspected_file": "a.rs", "suspected_location": "l1", "confidence": 0.5}"#;
        assert!(
            check(hedged, &h1.rule_set())
                .iter()
                .any(|f| f.rule == crate::quality::redflag::FlagRule::Hedging)
        );
        assert!(get("nope").is_none());
    }
}
