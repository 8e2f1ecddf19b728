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
}

/// The client's cap on one tool result, in tokens: Claude Code's `MAX_MCP_OUTPUT_TOKENS`
/// (25,000 unless set).
fn output_cap_tokens() -> usize {
    std::env::var("MAX_MCP_OUTPUT_TOKENS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(25_000)
}

/// A cautious token estimate: three ASCII characters or one other character per token (code
/// and Korean tokenize densely), so the estimate stays above what the client counts.
fn tokens_of(c: char) -> f64 {
    if c.is_ascii() { 1.0 / 3.0 } else { 1.0 }
}

/// Cuts each answer to its share of what the client can take. A cut answer says where the
/// whole text is: the resource `maestro://consults/<id>` (and `maestro threads`).
fn fit(replies: &mut [&mut crate::consult::Reply]) {
    if replies.is_empty() {
        return;
    }
    // A fifth of the cap is left for the result's other fields and the JSON around them.
    let share = output_cap_tokens() as f64 * 0.8 / replies.len() as f64;
    for r in replies.iter_mut() {
        let text = &r.answer.text;
        let total: f64 = text.chars().map(tokens_of).sum();
        if total <= share {
            continue;
        }
        let mut used = 0.0;
        let end = text
            .char_indices()
            .find(|&(_, c)| {
                used += tokens_of(c);
                used > share - 100.0
            })
            .map_or(text.len(), |(i, _)| i);
        let whole_chars = text.chars().count();
        let mut part = text[..end].to_string();
        let shown = part.chars().count();
        part.push_str(&match &r.consult_id {
            Some(id) => format!(
                "\n\n[… {} more characters: the whole answer ({whole_chars} characters) is the resource maestro://consults/{id}]",
                whole_chars - shown
            ),
            None => format!("\n\n[… {} more characters cut]", whole_chars - shown),
        });
        r.answer.text = part;
        r.truncated = true;
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
        let set = self.provider_set().await?;
        let ask = Ask {
            prompt: p.prompt,
            provider: p.provider,
            model: p.model,
            role: p.role,
            context: p.context,
            files: p.files,
            diff: p.diff,
            thread_id: p.thread_id,
            run_id: p.run_id,
            timeout_s: p.timeout_s,
            session: self.session.clone(),
        };
        let _beat = Heartbeat::start(
            ctx.peer.clone(),
            ctx.meta.get_progress_token(),
            "consulting".into(),
        );
        let mut done = crate::consult::consult(Some(&self.engine), set, ask, &ctx.ct)
            .await
            .map_err(|f| refusal(&f))?;
        fit(&mut [&mut done.reply]);
        let a = &done.reply.answer;
        let mut notes = Vec::new();
        if let Some(p) = &done.packed {
            notes.push(p.clone());
        }
        if let Some(r) = &done.replay {
            notes.push(r.line());
        }
        if !done.reply.warnings.is_empty() {
            notes.push(format!(
                "{} red flag(s), shown as warnings",
                done.reply.warnings.len()
            ));
        }
        if done.reply.truncated {
            notes.push("the answer is cut to fit; read the rest as the resource".into());
        }
        if let Some(l) = done.budget.as_ref().and_then(|b| b.consults_left_run) {
            notes.push(format!("{l} consult(s) left in the run"));
        }
        Ok(Json(ConsultResult {
            summary: format!(
                "{} ({}) answered in {:.1} s{}",
                a.provider,
                a.model,
                a.elapsed_ms as f64 / 1000.0,
                notes.iter().map(|n| format!("; {n}")).collect::<String>()
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
        let set = self.provider_set().await?;
        let ask = EnsembleAsk {
            prompt: p.prompt,
            providers: p.providers,
            n: p.n,
            role: p.role,
            context: p.context,
            files: p.files,
            diff: p.diff,
            stances: p.stances,
            run_id: p.run_id,
            baseline_confidence: p.baseline_confidence,
            session: self.session.clone(),
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
                    // The client may have gone; the ensemble goes on.
                    crate::log::dropped("sending a progress note", peer.notify_progress(p).await);
                });
            }
        };
        let mut out = crate::consult::ensemble(Some(&self.engine), set, ask, &ctx.ct, &on_done)
            .await
            .map_err(|f| refusal(&f))?;
        fit(&mut out.answers.iter_mut().collect::<Vec<_>>());
        Ok(Json(EnsembleResult {
            summary: format!(
                "{} answer(s), {} failure(s){}{}{}",
                out.answers.len(),
                out.failures.len(),
                out.positions
                    .as_ref()
                    .map(|p| format!(
                        "; verdicts: {} agree, {} disagree, {} mixed, {} unclear",
                        p.agree.len(),
                        p.disagree.len(),
                        p.mixed.len(),
                        p.unclear.len()
                    ))
                    .unwrap_or_default(),
                out.packed
                    .as_ref()
                    .map(|p| format!("; {p}"))
                    .unwrap_or_default(),
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
