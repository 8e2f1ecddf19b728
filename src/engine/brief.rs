//! The brief of the current stage: the rendered role, the skill, the output schema, the packed
//! context, feedback from earlier decisions, the budget left and the events that may follow.

use serde::Serialize;
use serde_json::{Value, json};

use super::Failure;
use super::budget::BudgetView;
use super::library::Compiled;
use super::model::{Feedback, QuestionView, Run};
use super::step::submittable_events;
use crate::engine::FailureCode;

/// Everything the orchestrator needs to do one stage's work.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Brief {
    pub run_id: String,
    pub workflow: String,
    pub stage: String,
    pub title: String,
    pub visit: u32,
    pub max_visits: Option<u32>,
    pub topology: crate::workflow::Topology,
    /// The stage's role template rendered for this run.
    pub role: String,
    /// The stage's method (markdown).
    pub skill: String,
    /// The JSON Schema `submit`'s `output` must satisfy.
    pub output_schema: Value,
    /// Task facts, errors, constraints and files, packed.
    pub context: String,
    /// Decisions on earlier submissions, newest last: the person's words and answers (the
    /// role does not repeat them).
    #[schemars(with = "Vec<Value>")]
    pub feedback: Vec<Feedback>,
    pub budget: BudgetView,
    /// Providers the workflow prefers for consults in this stage.
    pub prefer: Vec<String>,
    /// Whether a question may go to several providers at once (never in degraded mode).
    pub ensemble: bool,
    /// Set when the run fell back to degraded mode: less context, longer timeouts, one
    /// provider per question, for the rest of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded: Option<super::degraded::DegradedView>,
    /// Events `submit` may name; without one the default is used.
    pub events: Vec<String>,
    /// Who approves this stage's output, if it is gated.
    pub gate: Option<crate::workflow::GateBy>,
    /// The questions the person will be asked at the gate.
    pub questions: Vec<QuestionView>,
    /// Whether files may be edited in this stage; when false (`edits #false`), `maestro hook`
    /// refuses Claude Code's editing tools until the run moves on.
    pub edits: bool,
}

/// The gate's questions in `lang`.
#[must_use]
pub(crate) fn questions(wf: &Compiled, stage: &str, lang: &str) -> Vec<QuestionView> {
    let workflow = wf.workflow();
    let default = workflow.default_lang();
    workflow
        .stage(stage)
        .and_then(|s| s.settings.gate.as_ref())
        .map(|g| {
            g.questions
                .iter()
                .map(|q| QuestionView {
                    id: q.id.value.clone(),
                    priority: q.priority,
                    text: q.text.get(lang, default).unwrap_or_default().to_string(),
                    options: q.options_in(lang).to_vec(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A stage's title in `lang`, or its name.
#[must_use]
pub(crate) fn title(wf: &Compiled, stage: &str, lang: &str) -> String {
    stage_title(wf.workflow(), stage, lang)
}

/// A stage's title in `lang` (else the workflow's default language, else its name).
#[must_use]
pub(crate) fn stage_title(workflow: &crate::workflow::Workflow, stage: &str, lang: &str) -> String {
    workflow
        .stage(stage)
        .and_then(|s| s.title.as_ref())
        .and_then(|t| t.get(lang, workflow.default_lang()))
        .map_or_else(|| stage.to_string(), str::to_string)
}

/// The variables a role template sees for the run's current stage: the task, the workflow,
/// the stage and its visit, the budget, approved outputs, feedback, facts, errors and
/// constraints, the packed context and the output schema. A stage's brief and a consult
/// made for the run (`consult` with `run_id` and a `role`) render with the same variables.
#[must_use]
pub(crate) fn template_vars(wf: &Compiled, run: &Run, budget: &BudgetView, context: &str) -> Value {
    let workflow = wf.workflow();
    let stage_name = run.stage.clone().unwrap_or_default();
    let stage = workflow.stage(&stage_name);
    let lang = run.lang.as_str();
    let title = title(wf, &stage_name, lang);
    json!({
        "task": run.task,
        "workflow": {
            "name": workflow.name.value,
            "summary": workflow.summary.as_ref().and_then(|s| s.get(lang, workflow.default_lang())).unwrap_or_default(),
        },
        "stage": {
            "name": stage_name,
            "title": title,
            "visit": run.visit(),
            "max_visits": stage.and_then(super::super::workflow::Stage::max_visits),
            "topology": stage.map_or("sas", |s| s.topology().as_str()),
        },
        "run": {
            "id": run.id,
            "consults_used": run.consults_used,
            "consults_left": budget.consults_left_run,
        },
        "outputs": run.outputs,
        "feedback": run.feedback,
        "context": context,
        "facts": run.context.facts,
        "errors": run.context.errors,
        "constraints": run.context.constraints,
        "files": run.context.files,
        // The brief carries the output schema once, as `output_schema`; a role's
        // `{% if schema %}` part is for prompts that must carry one themselves (the judge).
        "schema": "",
        "lang": lang,
    })
}

/// The line in a skill file after which its worked example begins: shown on a stage's first
/// visit only, to keep later briefs lean.
pub(crate) const FIRST_VISIT_MARKER: &str = "<!-- first-visit -->";

/// A stage's skill for a brief: in the run's language when a translation exists, and without
/// the part after [`FIRST_VISIT_MARKER`] after the first visit.
#[must_use]
pub(crate) fn skill_text(assets: &super::library::StageAssets, lang: &str, visit: u32) -> String {
    let text = assets
        .skill_by_lang
        .get(lang)
        .or(assets.skill.as_ref())
        .map_or("", String::as_str);
    match text.split_once(FIRST_VISIT_MARKER) {
        Some((method, example)) if visit <= 1 => {
            format!("{}\n\n{}", method.trim_end(), example.trim())
        }
        Some((method, _)) => method.trim_end().to_string(),
        None => text.to_string(),
    }
}

/// Renders the brief of the run's current stage.
///
/// # Errors
/// When the run is not in a stage, or its role template fails to render.
pub(crate) fn render(
    wf: &Compiled,
    run: &Run,
    budget: BudgetView,
    context: String,
) -> Result<Brief, Failure> {
    let Some(stage_name) = run.stage.clone() else {
        return Err(Failure::run_finished(run));
    };
    let workflow = wf.workflow();
    let Some(stage) = workflow.stage(&stage_name) else {
        return Err(Failure::stage_gone(&stage_name));
    };
    let assets = wf.assets(&stage_name);
    let lang = run.lang.as_str();
    let title = title(wf, &stage_name, lang);
    // The packed context travels once, as the brief's `context`: the role only points at it
    // (a role rendered for a consult gets the material itself).
    let pointer = if context.trim().is_empty() {
        ""
    } else {
        "(packed in this brief's `context` field: facts, constraints, errors and files)"
    };
    let mut vars = template_vars(wf, run, &budget, pointer);
    // The person's feedback travels once too, as the brief's `feedback` field; a role
    // rendered for a consult shows it itself.
    vars["feedback"] = json!([]);
    let role = match &assets.role {
        Some(template) => crate::template::render(&stage_name, template, &vars).map_err(|e| {
            Failure::new(
                FailureCode::RoleRenderFailed,
                format!("the role of stage `{stage_name}` does not render: {e}"),
                "run `maestro validate` and fix the role template",
            )
        })?,
        None => String::new(),
    };
    let gate = stage.settings.gate.as_ref().map(|g| g.by);
    Ok(Brief {
        run_id: run.id.clone(),
        workflow: workflow.name.value.clone(),
        stage: stage_name.clone(),
        title,
        visit: run.visit(),
        max_visits: stage.max_visits(),
        topology: stage.topology(),
        role,
        skill: skill_text(&assets, lang, run.visit()),
        output_schema: assets.schema.unwrap_or_else(|| json!({"type": "object"})),
        context,
        feedback: run.feedback.clone(),
        budget,
        prefer: stage
            .settings
            .consult
            .prefer
            .iter()
            .map(|p| p.value.clone())
            .collect(),
        ensemble: stage.settings.consult.ensemble() && run.strain.degraded.is_none(),
        degraded: run.strain.view(lang),
        events: submittable_events(wf, &stage_name),
        gate,
        questions: questions(wf, &stage_name, lang),
        edits: stage.edits(),
    })
}
