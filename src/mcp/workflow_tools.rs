//! The five workflow tools: `start`, `status`, `brief`, `submit`, `decide`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};

use super::params::{
    BriefResult, DecideParams, DecideResult, RunParams, StartParams, StartResult, StatusParams,
    StatusResult, SubmitParams, SubmitResult,
};
use super::{Server, elicit};
use crate::engine::{Actor, DecisionText, RunContext, StartRequest, SubmitOutcome};
use crate::workflow::GateBy;

#[tool_router(router = workflow_router, vis = "pub(crate)")]
impl Server {
    /// Start a run of a workflow for a task; returns the first brief.
    #[tool(annotations(
        title = "Start a workflow run",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn start(
        &self,
        Parameters(p): Parameters<StartParams>,
    ) -> Result<Json<StartResult>, String> {
        let ctx = p.context.unwrap_or_default();
        let req = StartRequest {
            task: p.task,
            workflow: p.workflow,
            context: RunContext {
                files: ctx.files,
                facts: ctx.facts,
                errors: ctx.errors,
                constraints: ctx.constraints,
            },
            lang: p.lang,
            session: self.session.clone(),
        };
        let started = self.call(move |e| e.start(&req)).await?;
        let summary = match &started.brief {
            Some(b) => format!(
                "Started run {} ({}). Stage `{}` — {}: do its work, then `submit` an object matching output_schema.",
                started.run.run_id, started.run.workflow, b.stage, b.title
            ),
            None => started.run.where_now(),
        };
        Ok(Json(StartResult {
            summary,
            run_id: started.run.run_id.clone(),
            run: started.run,
            brief: started.brief,
        }))
    }

    /// A run's stage, budget, approval, history; without run_id, active runs.
    #[tool(annotations(title = "Run status", read_only_hint = true, open_world_hint = false))]
    async fn status(
        &self,
        Parameters(p): Parameters<StatusParams>,
    ) -> Result<Json<StatusResult>, String> {
        let pending = self.call(|e| e.approvals(true)).await?;
        if let Some(id) = p.run_id {
            let rid = id.clone();
            let view = self.call(move |e| e.status(&rid)).await?;
            let mut summary = view.summary.where_now();
            if let Some(a) = &view.approval {
                summary.push_str(&format!(
                    "; approval {} is pending (decided by {})",
                    a.approval_id,
                    a.by.as_str()
                ));
            }
            if !view.workflow_problems.is_empty() {
                summary.push_str(&format!(
                    "; the workflow file has {} problem(s) in a newer edit, the last good version is in use",
                    view.workflow_problems.len()
                ));
            }
            let pending = pending.into_iter().filter(|a| a.run_id == id).collect();
            return Ok(Json(StatusResult {
                summary,
                run: Some(view),
                runs: Vec::new(),
                pending_approvals: pending,
            }));
        }
        let runs = self.call(|e| e.runs(true)).await?;
        Ok(Json(StatusResult {
            summary: format!(
                "{} active run(s), {} approval(s) waiting",
                runs.len(),
                pending.len()
            ),
            run: None,
            runs,
            pending_approvals: pending,
        }))
    }

    /// The current stage's brief: role, skill, output schema, context, budget.
    #[tool(annotations(title = "Stage brief", read_only_hint = true, open_world_hint = false))]
    async fn brief(
        &self,
        Parameters(p): Parameters<RunParams>,
    ) -> Result<Json<BriefResult>, String> {
        let brief = self.call(move |e| e.brief(&p.run_id)).await?;
        Ok(Json(BriefResult {
            summary: format!(
                "Stage `{}` — {} (visit {}) of run {}",
                brief.stage, brief.title, brief.visit, brief.run_id
            ),
            brief,
        }))
    }

    /// Submit the stage's output; a gated stage then waits for a decision.
    #[tool(annotations(
        title = "Submit a stage's output",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn submit(
        &self,
        Parameters(p): Parameters<SubmitParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<SubmitResult>, String> {
        let submitted = self
            .call(move |e| e.submit(&p.run_id, &p.output, p.event.as_deref()))
            .await?;
        if let Some(approval) = submitted.approval.clone() {
            // The report is the form's message: rendered only for a client that shows forms.
            let report = if elicit::offered(&ctx.peer) {
                let id = approval.approval_id.clone();
                self.call(move |e| e.report(&id)).await.ok()
            } else {
                None
            };
            let markdown = report.as_ref().map(|r| r.markdown.as_str());
            // A form's decision the engine refuses (an approval without the critical answers)
            // leaves the approval pending, and the person is asked again the usual way.
            let mut refused = String::new();
            if let Some(answer) = elicit::ask(&ctx.peer, &approval, markdown).await {
                let id = approval.approval_id.clone();
                let decided = match self
                    .call(move |e| e.decide(&id, answer.kind, &answer.text, Actor::Form))
                    .await
                {
                    Ok(d) => d,
                    Err(why) => {
                        refused = format!("The person's answer in the form was refused: {why}\n");
                        return Ok(Self::pending(submitted, approval, &refused));
                    }
                };
                return Ok(Json(SubmitResult {
                    summary: format!(
                        "The person chose {} for stage `{}`; {}.",
                        answer.kind.as_str(),
                        approval.stage,
                        decided.run.where_now()
                    ),
                    outcome: SubmitOutcome::of(decided.run.status),
                    run: decided.run,
                    approval: Some(decided.approval),
                    brief: decided.brief,
                }));
            }
            return Ok(Self::pending(submitted, approval, &refused));
        }
        Ok(Json(SubmitResult {
            summary: format!("Output accepted; {}.", submitted.run.where_now()),
            outcome: submitted.outcome,
            run: submitted.run,
            approval: None,
            brief: submitted.brief,
        }))
    }

    /// Decide an approval of a `by "any"` gate.
    #[tool(annotations(
        title = "Decide an approval",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn decide(
        &self,
        Parameters(p): Parameters<DecideParams>,
    ) -> Result<Json<DecideResult>, String> {
        let kind = p.decision;
        let text = DecisionText {
            feedback: p.feedback,
            answers: p.answers,
        };
        let d = self
            .call(move |e| e.decide(&p.approval_id, kind, &text, Actor::Model))
            .await?;
        Ok(Json(DecideResult {
            summary: format!(
                "{} {}: {}",
                kind.as_str(),
                d.approval.approval_id,
                d.run.where_now()
            ),
            approval: d.approval,
            run: d.run,
            brief: d.brief,
        }))
    }
}

impl Server {
    /// The answer of a submit whose stage now waits at its gate: how the person decides.
    fn pending(
        submitted: crate::engine::Submitted,
        approval: crate::engine::ApprovalView,
        refused: &str,
    ) -> Json<SubmitResult> {
        let how = if approval.by == GateBy::Human {
            format!(
                "Show the person the report and the questions, and ask them to decide on the approval page (`maestro ui`) or to run `maestro approve {id} --answer ID=...` (every critical question needs an answer), `maestro revise {id} --feedback \"...\"` or `maestro reject {id}`. Then call `status`.",
                id = approval.approval_id
            )
        } else {
            format!(
                "Ask the person, then call `decide` with approval_id {} (or they can use `maestro approve`).",
                approval.approval_id
            )
        };
        Json(SubmitResult {
            summary: format!(
                "Output accepted; stage `{}` waits for approval {}. {refused}{how}",
                approval.stage, approval.approval_id
            ),
            outcome: submitted.outcome,
            run: submitted.run,
            approval: Some(approval),
            brief: None,
        })
    }
}
