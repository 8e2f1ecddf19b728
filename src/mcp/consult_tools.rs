//! The consult tools: `consult`, `ensemble`, `providers`. Budgets are charged through the
//! engine before any provider runs; progress notifications keep the client from timing out.

use std::time::{Duration, Instant};

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RequestContext};
use rmcp::{Json, RoleServer, tool, tool_router};
use tokio_util::sync::CancellationToken;

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
    fn provider_set(&self) -> ProviderSet {
        ProviderSet::load(&self.engine().library.home)
    }

    /// The prompt framed by a role template, when one is named.
    fn framed(&self, role: Option<&str>, prompt: &str) -> Result<String, String> {
        let Some(role) = role else {
            return Ok(prompt.to_string());
        };
        let engine = self.engine();
        let asset = engine
            .library
            .home
            .find(crate::home::Kind::Role, role)
            .ok()
            .flatten()
            .ok_or_else(|| {
                format!(
                    "no role `{role}` (unknown_role)\nWhat to do: use one of: {}",
                    engine
                        .library
                        .home
                        .names(crate::home::Kind::Role)
                        .join(", ")
                )
            })?;
        let template = String::from_utf8_lossy(&asset.bytes).into_owned();
        let ctx = serde_json::json!({
            "task": prompt, "workflow": {"name": "consult", "summary": ""},
            "stage": {"name": "consult", "title": role, "visit": 1, "max_visits": null, "topology": "sas"},
            "run": {"id": "", "consults_used": 0, "consults_left": null},
            "outputs": {}, "feedback": [], "context": "", "facts": [], "errors": [],
            "constraints": [], "files": [], "schema": "", "lang": "en",
        });
        let role_text = crate::template::environment()
            .render_str(&template, &ctx)
            .map_err(|e| format!("role `{role}` does not render: {e}"))?;
        Ok(format!("{role_text}\n\n{prompt}"))
    }
}

#[tool_router(router = consult_router, vis = "pub(crate)")]
impl Server {
    /// Ask one other model (codex, gemini, claude or a configured server) for advice, as text.
    /// With `run_id` the consult is charged to the run's budget first.
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
        let mut prompt = self.framed(p.role.as_deref(), &p.prompt)?;
        if let Some(context) = p.context.filter(|c| !c.trim().is_empty()) {
            prompt.push_str("\n\n## Context\n");
            prompt.push_str(&context);
        }
        let set = self.provider_set();
        let ask = Ask {
            prompt,
            provider: p.provider,
            model: p.model,
            run_id: p.run_id,
            timeout_s: p.timeout_s,
        };
        // The engine is locked to plan and charge, and to record usage; never across the call.
        let (req, charged) = {
            let engine = self.engine();
            crate::consult::plan_consult(Some(&engine), &set, &ask).map_err(|f| refusal(&f))?
        };
        let _beat = Heartbeat::start(
            ctx.peer.clone(),
            ctx.meta.get_progress_token(),
            format!("consulting {}", req.provider),
        );
        let cancel: CancellationToken = ctx.ct.clone();
        let answer = set.consult(&req, &cancel).await.map_err(|e| {
            format!(
                "{} ({}): {}\nWhat to do: {}",
                e.provider, e.kind, e.message, e.help
            )
        })?;
        crate::consult::screen(Some(&self.engine()), ask.run_id.as_deref(), &answer)
            .map_err(|f| refusal(&f))?;
        crate::consult::record_usage(Some(&self.engine()), ask.run_id.as_deref(), &[&answer]);
        let done = crate::consult::Consulted {
            answer,
            budget: None,
        };
        Ok(Json(ConsultResult {
            summary: format!(
                "{} ({}) answered in {:.1} s{}",
                done.answer.provider,
                done.answer.model,
                done.answer.elapsed_ms as f64 / 1000.0,
                charged
                    .as_ref()
                    .and_then(|b| b.consults_left_run)
                    .map(|l| format!("; {l} consult(s) left in the run"))
                    .unwrap_or_default()
            ),
            answer: done.answer,
            budget: charged,
        }))
    }

    /// Ask several models in parallel. Skipped down to one provider (with the reason) when your
    /// baseline confidence is at or above the capability threshold, or the budget cannot pay.
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
        let prompt = self.framed(p.role.as_deref(), &p.prompt)?;
        let set = self.provider_set();
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
        // Planning and charging need the engine; the calls themselves run unlocked.
        let plan = {
            let engine = self.engine();
            crate::consult::plan_ensemble(Some(&engine), &set, &ask).map_err(|f| refusal(&f))?
        };
        let out = crate::consult::run_ensemble(&set, &plan, &ask.prompt, &ctx.ct, &on_done).await;
        crate::consult::record_usage(
            Some(&self.engine()),
            ask.run_id.as_deref(),
            &out.answers.iter().collect::<Vec<_>>(),
        );
        if out.answers.is_empty() {
            return Err(format!(
                "every provider failed (provider_failed): {}\nWhat to do: {}",
                out.failures
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                "run `maestro doctor`, or ask fewer or other providers"
            ));
        }
        Ok(Json(EnsembleResult {
            summary: format!(
                "{} answer(s), {} failure(s){}",
                out.answers.len(),
                out.failures.len(),
                plan.reduced
                    .as_ref()
                    .map(|r| format!("; {r}"))
                    .unwrap_or_default()
            ),
            answers: out.answers,
            failures: out.failures,
            reduced: plan.reduced,
            budget: plan.budget,
        }))
    }

    /// The configured providers: installed or not, version, default model, problems.
    #[tool(annotations(title = "Providers", read_only_hint = true, open_world_hint = false))]
    async fn providers(
        &self,
        Parameters(_): Parameters<NoParams>,
    ) -> Result<Json<ProvidersResult>, String> {
        let set = self.provider_set();
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
            config_problems: set.problems,
        }))
    }
}
