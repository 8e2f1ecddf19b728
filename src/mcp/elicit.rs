//! Asking the person a gate's questions through MCP elicitation, when the client offers it.

use std::collections::BTreeMap;
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{ElicitRequestParams, ElicitationAction, ElicitationSchema};
use rmcp::service::ElicitationMode;
use rmcp::service::Peer;
use serde_json::{Map, Value, json};

use crate::engine::{ApprovalView, DecisionKind, DecisionText};

/// How long a person has to answer the form before the approval simply stays pending.
const FORM_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The form's own fields.
const RESERVED: [&str; 2] = ["decision", "feedback"];

/// A person's answer from the form.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub kind: DecisionKind,
    pub text: DecisionText,
}

/// The form: a decision, feedback, and one field per question.
pub(super) fn form(a: &ApprovalView) -> Value {
    let mut props = Map::new();
    props.insert(
        "decision".into(),
        json!({"type": "string", "title": "Decision",
               "enum": DecisionKind::ALL.map(DecisionKind::as_str)}),
    );
    props.insert(
        "feedback".into(),
        json!({"type": "string", "title": "Feedback for the next attempt"}),
    );
    // The linter refuses question ids `decision` and `feedback`; a question that still
    // carries one (an old workflow version) never replaces the form's own field.
    for q in a
        .questions
        .iter()
        .filter(|q| !RESERVED.contains(&q.id.as_str()))
    {
        let field = if q.options.is_empty() {
            json!({"type": "string", "title": q.text})
        } else {
            json!({"type": "string", "title": q.text, "enum": q.options})
        };
        props.insert(q.id.clone(), field);
    }
    json!({"type": "object", "properties": props, "required": ["decision"]})
}

/// Reads the form's content; `None` when it lacks a valid decision (the client checks the
/// form's `enum`, so this is a client that did not). Whether the decision may be made with
/// these words is the engine's to say, as at every door.
pub(super) fn answer(a: &ApprovalView, content: &Value) -> Option<Answer> {
    let kind: DecisionKind = content.get("decision")?.as_str()?.parse().ok()?;
    let mut answers = BTreeMap::new();
    for q in a
        .questions
        .iter()
        .filter(|q| !RESERVED.contains(&q.id.as_str()))
    {
        if let Some(v) = content
            .get(&q.id)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
        {
            answers.insert(q.id.clone(), v.to_string());
        }
    }
    let feedback = content
        .get("feedback")
        .and_then(Value::as_str)
        .filter(|f| !f.trim().is_empty())
        .map(str::to_string);
    Some(Answer {
        kind,
        text: DecisionText { feedback, answers },
    })
}

/// Whether the client shows forms (MCP form elicitation).
pub(super) fn offered(peer: &Peer<RoleServer>) -> bool {
    peer.supported_elicitation_modes()
        .contains(&ElicitationMode::Form)
}

/// Asks the person, if the client supports form elicitation. `None`: not asked, declined,
/// cancelled or timed out; the approval then stays pending.
pub(super) async fn ask(
    peer: &Peer<RoleServer>,
    a: &ApprovalView,
    report: Option<&str>,
) -> Option<Answer> {
    if !offered(peer) {
        return None;
    }
    let schema: ElicitationSchema = serde_json::from_value(form(a)).ok()?;
    // The same report the terminal and the page show; the raw output if it could not be read.
    let body = report.map_or_else(
        || serde_json::to_string_pretty(&a.report).unwrap_or_default(),
        str::to_string,
    );
    let message = format!(
        "maestro: approve stage `{}` — {} (run {})?\n\n{body}",
        a.stage, a.title, a.run_id,
    );
    let result = peer
        .create_elicitation_with_timeout(
            ElicitRequestParams::FormElicitationParams {
                meta: None,
                message,
                requested_schema: schema,
            },
            Some(FORM_TIMEOUT),
        )
        .await
        .ok()?;
    match result.action {
        ElicitationAction::Accept => answer(a, result.content.as_ref()?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::QuestionView;

    fn approval() -> ApprovalView {
        ApprovalView {
            approval_id: "apr-1".into(),
            run_id: "run-1".into(),
            workflow: "w".into(),
            stage: "a".into(),
            title: "A".into(),
            visit: 1,
            status: crate::engine::model::ApprovalStatus::Pending,
            by: crate::workflow::GateBy::Human,
            report: json!({}),
            questions: vec![QuestionView {
                id: "q1".into(),
                priority: crate::workflow::Priority::High,
                text: "Right?".into(),
                options: vec!["yes".into(), "no".into()],
            }],
            deadline: None,
            on_timeout: None,
            decision: None,
            decided_by: None,
        }
    }

    #[test]
    fn the_form_is_a_valid_elicitation_schema_and_answers_read_back() {
        let a = approval();
        let schema: ElicitationSchema = serde_json::from_value(form(&a)).unwrap();
        let v = serde_json::to_value(&schema).unwrap();
        assert_eq!(v["properties"]["q1"]["enum"], json!(["yes", "no"]));
        let got = answer(
            &a,
            &json!({"decision": "revise", "feedback": "more", "q1": "no"}),
        )
        .unwrap();
        assert_eq!(got.kind, DecisionKind::Revise);
        assert_eq!(got.text.answers["q1"], "no");
        assert_eq!(got.text.feedback.as_deref(), Some("more"));
        assert!(answer(&a, &json!({"decision": "maybe"})).is_none());
    }
}
