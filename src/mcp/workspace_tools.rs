//! The workspace tools: `context`, `verify`, `patch`, `restore`, `note`, `evidence`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};

use super::params::{
    EvidenceParams, EvidenceResult, NoteParams, PackParams, PackResult, PatchParams, PatchResult,
    RestoreParams, RestoreResult, VerifyParams, VerifyResult,
};
use super::{Server, refusal};
use crate::engine::work::{EvidenceQuery, Note};
use crate::workspace::context::{ContextRequest, Limits};
use crate::workspace::verify::CheckStatus;

#[tool_router(router = workspace_router, vis = "pub(crate)")]
impl Server {
    /// Pack files, facts, errors within a budget; secrets refused, masked.
    #[tool(annotations(title = "Pack context", read_only_hint = true, open_world_hint = false))]
    async fn context(
        &self,
        Parameters(p): Parameters<PackParams>,
    ) -> Result<Json<PackResult>, String> {
        let packed = self
            .call(move |e| {
                let limits = match (&p.stage, &p.run_id) {
                    (None, None) => Limits::default(),
                    (stage, run) => e.stage_limits(run.as_deref(), stage.as_deref())?,
                };
                let req = ContextRequest {
                    files: p.files,
                    facts: p.facts,
                    errors: p.errors,
                    constraints: p.constraints,
                    max_chars: p.max_chars,
                    diff: p.diff,
                    ..ContextRequest::default()
                }
                .within(&limits);
                Ok(e.context(&req))
            })
            .await?;
        Ok(Json(PackResult {
            summary: packed.summary(),
            packed,
        }))
    }

    /// Run named checks from the project's verify config.
    #[tool(annotations(
        title = "Run the project's checks",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn verify(
        &self,
        Parameters(p): Parameters<VerifyParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<VerifyResult>, String> {
        let v = self
            .engine
            .verify(p.checks, p.run_id, self.session.clone(), &ctx.ct)
            .await
            .map_err(|f| refusal(&f))?;
        Ok(Json(VerifyResult {
            summary: v
                .results
                .iter()
                .map(|r| {
                    let counts = r
                        .counts
                        .map(|c| format!(" ({} passed, {} failed)", c.passed, c.failed))
                        .unwrap_or_default();
                    let from = if r.source.outside_project {
                        format!(" [configured outside the project, in {}]", r.source.file)
                    } else {
                        String::new()
                    };
                    match r.status {
                        CheckStatus::Passed => format!("{}: passed{counts}{from}", r.name),
                        CheckStatus::Failed => format!("{}: FAILED{counts}{from}", r.name),
                        // Not a failing test: nothing ran.
                        CheckStatus::CannotRun => format!(
                            "{}: CANNOT RUN ({}){from}",
                            r.name,
                            r.reason.as_deref().unwrap_or("the program did not start")
                        ),
                    }
                })
                .chain(crate::engine::ops::verify::next_step(&v.results))
                .collect::<Vec<_>>()
                .join("; "),
            verified: v,
        }))
    }

    /// Apply a unified diff atomically, after a backup.
    #[tool(annotations(
        title = "Apply a patch",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn patch(
        &self,
        Parameters(p): Parameters<PatchParams>,
    ) -> Result<Json<PatchResult>, String> {
        let session = self.session.clone();
        let report = self
            .call(move |e| e.patch(&p.diff, p.dry_run, p.run_id.as_deref(), session.as_deref()))
            .await?;
        let files: Vec<String> = report
            .files
            .iter()
            .map(|f| format!("{} ({})", f.path, f.kind))
            .collect();
        Ok(Json(PatchResult {
            summary: match &report.backup_id {
                Some(id) => format!(
                    "applied to {}; `restore` with backup_id {id} takes it back",
                    files.join(", ")
                ),
                None => format!("dry run: every hunk applies to {}", files.join(", ")),
            },
            report,
        }))
    }

    /// Undo a patch from its backup.
    #[tool(annotations(
        title = "Restore a backup",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn restore(
        &self,
        Parameters(p): Parameters<RestoreParams>,
    ) -> Result<Json<RestoreResult>, String> {
        let session = self.session.clone();
        let report = self
            .call(move |e| e.restore(&p.backup_id, p.files.as_deref(), session.as_deref()))
            .await?;
        Ok(Json(RestoreResult {
            summary: format!(
                "restored {} file(s), removed {} created file(s)",
                report.restored.len(),
                report.removed.len()
            ),
            report,
        }))
    }

    /// Add an entry to the evidence chain.
    #[tool(annotations(
        title = "Note evidence",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = false
    ))]
    async fn note(
        &self,
        Parameters(p): Parameters<NoteParams>,
    ) -> Result<Json<EvidenceResult>, String> {
        let note = Note {
            run_id: p.run_id,
            kind: p.kind,
            content: p.content,
            source: p.source,
            links: p.links,
            data: crate::engine::work::EvidenceData::Nothing,
        };
        let e = self.call(move |e| e.note(&note)).await?;
        Ok(Json(EvidenceResult {
            summary: format!("noted {} ({})", e.id, e.kind.as_str()),
            entries: vec![e],
        }))
    }

    /// Read the evidence chain, newest first.
    #[tool(annotations(title = "Evidence", read_only_hint = true, open_world_hint = false))]
    async fn evidence(
        &self,
        Parameters(p): Parameters<EvidenceParams>,
    ) -> Result<Json<EvidenceResult>, String> {
        let q = EvidenceQuery {
            run_id: p.run_id,
            kind: p.kind,
            stage: p.stage,
            limit: p.limit,
        };
        let entries = self.call(move |e| e.evidence(&q)).await?;
        Ok(Json(EvidenceResult {
            summary: format!(
                "{} entr{}",
                entries.len(),
                if entries.len() == 1 { "y" } else { "ies" }
            ),
            entries,
        }))
    }
}
