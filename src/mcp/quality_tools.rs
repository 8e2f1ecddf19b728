//! The quality tools: `vote`, `red_flag`, `calibrate`, `select`, `coordinate`, `metrics`.
//! Each is one library call (`consult::*`): the budget, the providers and the records are the
//! library's business, the same for every door.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};

use super::params::{MetricsParams, Reported};
use super::{Server, refusal};
use crate::consult::calibrate::{CalibrateAsk, Calibrated};
use crate::consult::checks::{CoordinateAsk, Coordinated, RedFlagAsk, RedFlagged};
use crate::consult::select::SelectAsk;
use crate::consult::vote::VoteAsk;
use crate::engine::metrics::Metrics;
use crate::quality::select::Selection;
use crate::quality::vote::{StopReason, VoteResult};

fn reported<T>(summary: String, result: T) -> Json<Reported<T>> {
    Json(Reported { summary, result })
}

#[tool_router(router = quality_router, vis = "pub(crate)")]
impl Server {
    /// MAKER voting: sample until one answer leads by k.
    #[tool(annotations(
        title = "Vote",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn vote(
        &self,
        Parameters(ask): Parameters<VoteAsk>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Reported<VoteResult>>, String> {
        let set = self.provider_set().await?;
        let r =
            crate::consult::vote::run(Some(&self.engine), set, ask, self.session.clone(), &ctx.ct)
                .await
                .map_err(|f| refusal(&f))?;
        let summary = match (&r.winner, r.converged, r.stop_reason) {
            (Some(_), true, _) => format!(
                "converged: the winner leads by {} after {} samples ({} discarded)",
                r.margin, r.samples, r.discarded
            ),
            (_, _, StopReason::Budget) => format!(
                "stopped by the budget after {} samples: {}",
                r.samples,
                r.budget_refusal.as_deref().unwrap_or("")
            ),
            (Some(_), false, _) => format!(
                "no answer led by {} within {} samples; plurality leader by {} ({})",
                r.k, r.samples, r.margin, r.stop_reason
            ),
            (None, _, _) => format!(
                "no valid answer ({}): {} unavailable, {} discarded",
                r.stop_reason, r.unavailable, r.discarded
            ),
        };
        Ok(reported(summary, r))
    }

    /// Why red-flag rules would discard an answer.
    #[tool(annotations(
        title = "Red-flag check",
        read_only_hint = true,
        open_world_hint = false
    ))]
    async fn red_flag(
        &self,
        Parameters(ask): Parameters<RedFlagAsk>,
    ) -> Result<Json<Reported<RedFlagged>>, String> {
        let r = self
            .call(move |e| crate::consult::checks::red_flag(e, &ask))
            .await?;
        let summary = if r.valid {
            "passes every rule".to_string()
        } else {
            format!(
                "discard: {}",
                r.flags
                    .iter()
                    .map(|f| f.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        Ok(reported(summary, r))
    }

    /// MAKER's k_min and cost for a target success rate; no p/target/steps: lists micro-steps.
    #[tool(annotations(
        title = "Calibrate voting",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn calibrate(
        &self,
        Parameters(ask): Parameters<CalibrateAsk>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Reported<Calibrated>>, String> {
        let set = self.provider_set().await?;
        let r = crate::consult::calibrate::run(
            Some(&self.engine),
            set,
            ask,
            self.session.clone(),
            &ctx.ct,
        )
        .await
        .map_err(|f| refusal(&f))?;
        let summary = match &r.calibration {
            Some(c) => format!(
                "k_min = {} for p = {:.4} over {} steps (p_full = {:.4}, ~{:.2} samples per step){}",
                c.k_min,
                c.p,
                c.steps,
                c.p_full,
                c.expected_samples_per_step,
                r.stopped
                    .as_ref()
                    .map(|s| format!("; sampling stopped early: {s}"))
                    .unwrap_or_default()
            ),
            None => format!(
                "{} micro-step(s): {}",
                r.micro_steps.len(),
                r.micro_steps
                    .iter()
                    .map(|s| format!("{} ({}, k={})", s.name, s.stage, s.default_k))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Ok(reported(summary, r))
    }

    /// Pick the best candidate: red flags, tests, lint, judge, trust.
    #[tool(annotations(
        title = "Select a candidate",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn select(
        &self,
        Parameters(ask): Parameters<SelectAsk>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Reported<Selection>>, String> {
        let set = self.provider_set().await?;
        let r = crate::consult::select::run(
            Some(&self.engine),
            set,
            ask,
            self.session.clone(),
            &ctx.ct,
        )
        .await
        .map_err(|f| refusal(&f))?;
        let mut summary = match &r.winner {
            Some(w) => format!("selected {w}: {}", r.rationale),
            None => r.rationale.clone(),
        };
        if let Some(cut) = r.judge.as_ref().and_then(|j| j.cut.as_ref()) {
            summary.push_str(&format!(" (judge: {cut})"));
        }
        Ok(reported(summary, r))
    }

    /// One agent or several, by Kim et al.'s rules, past outcomes and answers' overlap.
    #[tool(annotations(title = "Coordinate", read_only_hint = true, open_world_hint = false))]
    async fn coordinate(
        &self,
        Parameters(ask): Parameters<CoordinateAsk>,
    ) -> Result<Json<Reported<Coordinated>>, String> {
        let r = self
            .call(move |e| crate::consult::checks::coordinate(e, &ask))
            .await?;
        let rec = &r.recommendation;
        let mut summary = format!(
            "{} ({}): {}",
            rec.topology.as_str(),
            rec.rule.as_str(),
            rec.reason
        );
        if let Some(adv) = &r.recommended {
            summary.push_str(&format!(
                "; the rules recommend {} ({}): {}",
                adv.topology.as_str(),
                adv.rule.as_str(),
                adv.reason
            ));
        }
        if r.degradation.degrade {
            let triggers: Vec<&str> = r.degradation.triggers.iter().map(|t| t.as_str()).collect();
            summary.push_str(&format!(
                "; degrade ({}): {}",
                triggers.join(", "),
                r.degradation.reason
            ));
        }
        Ok(reported(summary, r))
    }

    /// Consults, overhead, red-flag rate, votes, test-backed selections.
    #[tool(annotations(title = "Metrics", read_only_hint = true, open_world_hint = false))]
    async fn metrics(
        &self,
        Parameters(p): Parameters<MetricsParams>,
    ) -> Result<Json<Reported<Metrics>>, String> {
        let m = self.call(move |e| e.metrics(p.run_id.as_deref())).await?;
        let missed: Vec<String> = m
            .targets
            .iter()
            .filter(|t| !t.met)
            .map(|t| format!("{} {:.2} (target {})", t.name, t.value, t.target))
            .collect();
        let targets = if missed.is_empty() {
            String::new()
        } else {
            format!("; off target: {}", missed.join(", "))
        };
        Ok(reported(
            format!(
                "{} run(s), {} consult(s), overhead {:.0}%, {} vote(s){targets}",
                m.runs, m.consults, m.coordination_overhead_percent, m.votes
            ),
            m,
        ))
    }
}
