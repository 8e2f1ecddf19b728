//! The consult tools: `consult`, `ensemble`, `providers`. Budgets are charged through the
//! engine before any provider runs; progress notifications keep the client from timing out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RequestContext};
use rmcp::{Json, RoleServer, tool, tool_router};

use super::params::{
    ConsultParams, ConsultResult, EnsembleParams, EnsembleResult, NoParams, ProvidersResult,
};
use super::{Server, refusal};
use crate::consult::{Ask, EnsembleAsk};
use crate::providers::ProviderSet;

/// Sends `elapsed` progress every few seconds until dropped.
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    fn start(peer: Peer<RoleServer>, token: Option<ProgressToken>, what: String) -> Self {
        Self(tokio::spawn(async move {
            let Some(token) = token else { return };
            let start = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let secs = start.elapsed().as_secs_f64();
                let mut p = ProgressNotificationParam::new(token.clone(), secs);
                p.message = Some(format!("{what}: {secs:.0} s"));
                if peer.notify_progress(p).await.is_err() {
                    return;
                }
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Server {
    /// The configured providers, read on a blocking thread (it reads config files).
    pub(super) async fn provider_set(&self) -> Result<Arc<ProviderSet>, String> {
        self.call(|e| Ok(Arc::new(ProviderSet::load(&e.library.home))))
            .await
    }

    /// The prompt framed by a role template, when one is named.
    async fn framed(&self, role: Option<String>, prompt: String) -> Result<String, String> {
        self.call(move |e| crate::consult::frame(&e.library.home, role.as_deref(), &prompt))
            .await
    }
}

#[tool_router(router = consult_router, vis = "pub(crate)")]
impl Server {
    /// Ask another model for advice, charged to the run first.
    #[tool(annotations(
        title = "Consult another model",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn consult(
        &self,
        Parameters(p): Parameters<ConsultParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ConsultResult>, String> {
        let mut prompt = self.framed(p.role, p.prompt).await?;
        if let Some(context) = p.context.filter(|c| !c.trim().is_empty()) {
            prompt.push_str("\n\n## Context\n");
            prompt.push_str(&context);
        }
        let set = self.provider_set().await?;
        let ask = Ask {
            prompt,
            provider: p.provider,
            model: p.model,
            run_id: p.run_id,
            timeout_s: p.timeout_s,
        };
        let _beat = Heartbeat::start(
            ctx.peer.clone(),
            ctx.meta.get_progress_token(),
            "consulting".into(),
        );
        let done = crate::consult::consult(Some(&self.engine), set, ask, &ctx.ct)
            .await
            .map_err(|f| refusal(&f))?;
        Ok(Json(ConsultResult {
            summary: format!(
                "{} ({}) answered in {:.1} s{}",
                done.answer.provider,
                done.answer.model,
                done.answer.elapsed_ms as f64 / 1000.0,
                done.budget
                    .as_ref()
                    .and_then(|b| b.consults_left_run)
                    .map(|l| format!("; {l} consult(s) left in the run"))
                    .unwrap_or_default()
            ),
            consulted: done,
        }))
    }

    /// Ask several models in parallel.
    #[tool(annotations(
        title = "Consult several models",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn ensemble(
        &self,
        Parameters(p): Parameters<EnsembleParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<EnsembleResult>, String> {
        let prompt = self.framed(p.role, p.prompt).await?;
        let set = self.provider_set().await?;
        let ask = EnsembleAsk {
            prompt,
            providers: p.providers,
            n: p.n,
            run_id: p.run_id,
            baseline_confidence: p.baseline_confidence,
        };
        let peer = ctx.peer.clone();
        let token = ctx.meta.get_progress_token();
        let _beat = Heartbeat::start(peer.clone(), token.clone(), "ensemble".into());
        let on_done = move |name: &str, done: usize, total: usize| {
            if let Some(t) = token.clone() {
                let peer = peer.clone();
                let mut p = ProgressNotificationParam::new(t, done as f64);
                p.total = Some(total as f64);
                p.message = Some(format!("{name} finished ({done}/{total})"));
                tokio::spawn(async move {
                    let _ = peer.notify_progress(p).await;
                });
            }
        };
        let out = crate::consult::ensemble(Some(&self.engine), set, ask, &ctx.ct, &on_done)
            .await
            .map_err(|f| refusal(&f))?;
        Ok(Json(EnsembleResult {
            summary: format!(
                "{} answer(s), {} failure(s){}",
                out.answers.len(),
                out.failures.len(),
                out.reduced
                    .as_ref()
                    .map(|r| format!("; {r}"))
                    .unwrap_or_default()
            ),
            ensembled: out,
        }))
    }

    /// Configured providers: installed, version, model, problems.
    #[tool(annotations(title = "Providers", read_only_hint = true, open_world_hint = false))]
    async fn providers(
        &self,
        Parameters(_): Parameters<NoParams>,
    ) -> Result<Json<ProvidersResult>, String> {
        let set = self.provider_set().await?;
        let providers = set.status().await;
        let usable = providers
            .iter()
            .filter(|p| p.enabled && p.installed)
            .count();
        Ok(Json(ProvidersResult {
            summary: format!(
                "{usable} of {} providers installed and enabled",
                providers.len()
            ),
            providers,
            config_problems: set.problems.clone(),
        }))
    }
}
