//! The quality tools: `vote`, `red_flag`, `calibrate`, `select`, `coordinate`, `metrics`.

use std::sync::Arc;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use serde_json::{Value, json};

use super::params::{
    CalibrateParams, CoordinateParams, MetricsParams, QualityResult, RedFlagParams, SelectParams,
    VoteParams,
};
use super::{Server, refusal};
use crate::providers::{ProviderSet, Request};
use crate::quality::redflag::RuleSet;
use crate::quality::{calibrate, coordinate, redflag, select, steps, vote};

fn out(summary: String, result: impl serde::Serialize) -> Result<Json<QualityResult>, String> {
    Ok(Json(QualityResult {
        summary,
        result: serde_json::to_value(result).map_err(|e| e.to_string())?,
    }))
}

impl Server {
    /// Providers to sample: the given ones, the run's stage preferences, or every enabled one.
    fn sample_providers(
        &self,
        given: &[String],
        run_id: Option<&str>,
        set: &ProviderSet,
    ) -> Result<Vec<String>, String> {
        let names = if !given.is_empty() {
            given.to_vec()
        } else {
            run_id
                .and_then(|id| self.engine().brief(id).ok())
                .map(|b| b.prefer)
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| set.enabled())
        };
        if let Some(bad) = names.iter().find(|n| set.get(n).is_none()) {
            return Err(format!(
                "no provider `{bad}` (unknown_provider)\nWhat to do: use some of: {}",
                set.names().join(", ")
            ));
        }
        if names.is_empty() {
            return Err("no provider is configured and enabled (no_provider)\nWhat to do: run `maestro doctor`".into());
        }
        Ok(names)
    }

    /// One sample: charged to the run first (refused when the budget is spent).
    fn sampler(
        &self,
        set: Arc<ProviderSet>,
        names: Arc<Vec<String>>,
        prompt: Arc<String>,
        run_id: Option<String>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> impl Fn(
        usize,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<String, String>> + Send>,
    > {
        let engine = self.engine.clone();
        move |i| {
            let (set, names, prompt, run_id, cancel, engine) = (
                set.clone(),
                names.clone(),
                prompt.clone(),
                run_id.clone(),
                cancel.clone(),
                engine.clone(),
            );
            Box::pin(async move {
                if let Some(id) = &run_id {
                    let charged = engine
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .charge_consults(id, 1, "vote sample");
                    charged.map_err(|f| f.message)?;
                }
                let req = Request {
                    provider: names[i % names.len()].clone(),
                    prompt: (*prompt).clone(),
                    ..Request::default()
                };
                set.consult(&req, &cancel)
                    .await
                    .map(|a| a.text)
                    .map_err(|e| e.to_string())
            })
        }
    }
}

#[tool_router(router = quality_router, vis = "pub(crate)")]
impl Server {
    /// First-to-ahead-by-k voting (MAKER): samples the question until one answer leads every
    /// other by k; malformed or over-long answers are discarded, never repaired.
    #[tool(annotations(
        title = "Vote",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn vote(
        &self,
        Parameters(p): Parameters<VoteParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<QualityResult>, String> {
        let step = match &p.step {
            Some(name) => Some(steps::get(name).ok_or_else(|| {
                format!(
                    "no micro-step `{name}` (unknown_step)\nWhat to do: use one of: {}",
                    steps::names().join(", ")
                )
            })?),
            None => None,
        };
        let set = Arc::new(ProviderSet::load(&self.engine().library.home));
        let names = Arc::new(self.sample_providers(&p.providers, p.run_id.as_deref(), &set)?);
        let (stage_k, stage_max, max_agents) = match &p.run_id {
            Some(id) => {
                let engine = self.engine();
                let b = engine.brief(id).map_err(|f| refusal(&f))?;
                let vote = engine.library.get(&b.workflow).ok().and_then(|c| {
                    c.compiled
                        .workflow()
                        .stage(&b.stage)
                        .and_then(|s| s.settings.vote.clone())
                });
                let (_, max_agents) = engine.policy(id).map_err(|f| refusal(&f))?;
                (
                    vote.as_ref().and_then(|v| v.k),
                    vote.as_ref().and_then(|v| v.max_samples),
                    max_agents,
                )
            }
            None => (None, None, 3),
        };
        let k =
            p.k.or(step.as_ref().map(|s| s.default_k))
                .or(stage_k)
                .unwrap_or(3);
        let mut rules = step
            .as_ref()
            .map_or_else(RuleSet::maker, steps::MicroStep::rule_set);
        if let Some(schema) = &p.schema {
            rules.schema = Some(schema.clone());
        }
        let format = if p.format.as_deref() == Some("json") || rules.schema.is_some() {
            vote::Format::Json
        } else {
            vote::Format::Text
        };
        let cfg = vote::VoteConfig {
            k,
            max_samples: p.max_samples.or(stage_max).unwrap_or(k * 4 + 4),
            batch: max_agents,
            format,
            rules,
        };
        let sampler = self.sampler(
            set,
            names,
            Arc::new(p.question),
            p.run_id.clone(),
            ctx.ct.clone(),
        );
        let r = vote::vote(sampler, &cfg).await;
        let _ = self.engine().record(
            p.run_id.as_deref(),
            "vote",
            &json!({
            "k": r.k, "samples": r.samples, "votes": r.votes, "discarded": r.discarded,
            "unavailable": r.unavailable, "converged": r.converged, "stop_reason": r.stop_reason}),
        );
        if p.run_id.is_some() {
            let _ = self.engine().note(&crate::engine::work::Note {
                run_id: p.run_id.clone(),
                kind: "consensus".into(),
                content: format!(
                    "vote {}: {}",
                    r.stop_reason,
                    r.winner
                        .clone()
                        .unwrap_or_default()
                        .chars()
                        .take(500)
                        .collect::<String>()
                ),
                source: Some(format!("vote k={}", r.k)),
                links: Vec::new(),
                data: json!({"samples": r.samples, "margin": r.margin}),
            });
        }
        let summary = match (&r.winner, r.converged) {
            (Some(_), true) => format!(
                "converged: the winner leads by {} after {} samples ({} discarded)",
                r.margin, r.samples, r.discarded
            ),
            (Some(_), false) => format!(
                "no answer led by {k} within {} samples; plurality leader by {} ({})",
                r.samples, r.margin, r.stop_reason
            ),
            (None, _) => format!(
                "no valid answer ({}): {} unavailable, {} discarded",
                r.stop_reason, r.unavailable, r.discarded
            ),
        };
        out(summary, r)
    }

    /// Check one answer against red-flag rules and say why it would be discarded.
    #[tool(annotations(
        title = "Red-flag check",
        read_only_hint = true,
        open_world_hint = false
    ))]
    async fn red_flag(
        &self,
        Parameters(p): Parameters<RedFlagParams>,
    ) -> Result<Json<QualityResult>, String> {
        let mut rules = match (&p.stage, &p.run_id) {
            (Some(stage), Some(run)) => {
                let engine = self.engine();
                let b = engine.brief(run).map_err(|f| refusal(&f))?;
                let c = engine.library.get(&b.workflow).map_err(|f| refusal(&f))?;
                let s = c
                    .compiled
                    .workflow()
                    .stage(stage)
                    .ok_or_else(|| format!("the workflow has no stage `{stage}`"))?;
                RuleSet::from_workflow(&s.settings.red_flags, None)
            }
            _ => RuleSet::default(),
        };
        if let Some(f) = &p.format {
            rules.format = Some(f.clone());
        }
        let rules = rules.with_rules(&p.rules)?;
        let flags = redflag::check(&p.content, &rules);
        let _ = self.engine().record(
            p.run_id.as_deref(),
            "red_flag_check",
            &json!({"flags": flags.len()}),
        );
        let summary = if flags.is_empty() {
            "passes every rule".to_string()
        } else {
            format!(
                "discard: {}",
                flags
                    .iter()
                    .map(|f| f.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        out(summary, json!({"valid": flags.is_empty(), "flags": flags}))
    }

    /// MAKER's k_min, success probabilities and expected samples and cost for a target success
    /// rate; estimates p by sampling with an oracle when p is not given.
    #[tool(annotations(
        title = "Calibrate voting",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn calibrate(
        &self,
        Parameters(p): Parameters<CalibrateParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<QualityResult>, String> {
        let (p_value, v, estimate) = match (p.p, &p.step_prompt) {
            (Some(pv), _) => (pv, 1.0, None),
            (None, Some(prompt)) => {
                let oracle = p.oracle_check.clone().ok_or(
                    "estimating p needs `oracle_check`: {\"expected\": \"…\"} or {\"schema\": {…}}",
                )?;
                let set = ProviderSet::load(&self.engine().library.home);
                let provider = match &p.provider {
                    Some(x) => x.clone(),
                    None => set
                        .enabled()
                        .first()
                        .cloned()
                        .ok_or("no provider is enabled")?,
                };
                let rules = p
                    .step
                    .as_deref()
                    .and_then(steps::get)
                    .map_or_else(RuleSet::maker, |s| s.rule_set());
                let mut judged = Vec::new();
                for _ in 0..p.samples.unwrap_or(10) {
                    let req = Request {
                        provider: provider.clone(),
                        prompt: prompt.clone(),
                        ..Request::default()
                    };
                    let Ok(a) = set.consult(&req, &ctx.ct).await else {
                        judged.push(None);
                        continue;
                    };
                    if !redflag::check(&a.text, &rules).is_empty() {
                        judged.push(None);
                        continue;
                    }
                    judged.push(Some(oracle_accepts(&oracle, &a.text)));
                }
                let e = calibrate::estimate(&judged);
                (e.p, e.v, Some(e))
            }
            (None, None) => {
                return Err("give `p`, or `step_prompt` with `oracle_check` to estimate it".into());
            }
        };
        let c = calibrate::calibrate(p_value, p.target, p.steps, v, p.cost_per_sample).map_err(
            |e| {
                let measured = estimate
                    .as_ref()
                    .map(|e| {
                        format!(
                            "; measured: {} of {} valid samples correct ({} drawn)",
                            e.correct, e.valid, e.samples
                        )
                    })
                    .unwrap_or_default();
                format!("{e}{measured} (calibration_error)")
            },
        )?;
        out(
            format!(
                "k_min = {} for p = {:.4} over {} steps (p_full = {:.4}, ~{:.2} samples per step)",
                c.k_min, c.p, c.steps, c.p_full, c.expected_samples_per_step
            ),
            json!({"calibration": c, "estimate": estimate}),
        )
    }

    /// Pick the best candidate: red flags first, then tests, lint, a judge and provider trust.
    #[tool(annotations(
        title = "Select a candidate",
        read_only_hint = true,
        open_world_hint = true
    ))]
    async fn select(
        &self,
        Parameters(p): Parameters<SelectParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<QualityResult>, String> {
        let mode = match p.mode.as_deref() {
            None => select::Mode::TestsFirst,
            Some(m) => select::Mode::parse(m).ok_or(format!(
                "unknown mode `{m}`; use tests_first, hybrid or judge"
            ))?,
        };
        if p.candidates.is_empty() {
            return Err("no candidates to select from".into());
        }
        let ids: Vec<String> = p.candidates.iter().map(|c| c.id.clone()).collect();
        for id in p.test_results.keys().chain(p.lint_results.keys()) {
            if !ids.contains(id) {
                return Err(format!(
                    "a result names `{id}`, which is not a candidate ({})",
                    ids.join(", ")
                ));
            }
        }
        let mut signals = select::Signals {
            tests: p.test_results.clone(),
            lint: p.lint_results.clone(),
            judge: Default::default(),
        };
        if mode == select::Mode::Judge || p.judge_provider.is_some() {
            let provider = p
                .judge_provider
                .clone()
                .ok_or("mode `judge` needs `judge_provider`")?;
            let set = ProviderSet::load(&self.engine().library.home);
            let mut prompt = String::from(
                "Judge these candidates. Answer with JSON: {\"candidates_evaluated\": [{\"id\", \"weighted_score\" (0..1)}], \"selected\": id, \"selection_reason\": text}.\n\n",
            );
            for c in &p.candidates {
                prompt.push_str(&format!(
                    "--- candidate {} ({}) ---\n{}\n\n",
                    c.id,
                    c.provider.as_deref().unwrap_or("?"),
                    c.content.chars().take(4000).collect::<String>()
                ));
            }
            let req = Request {
                provider,
                prompt,
                ..Request::default()
            };
            let a = set
                .consult(&req, &ctx.ct)
                .await
                .map_err(|e| format!("the judge failed: {e}"))?;
            signals.judge = select::parse_judge(&a.text, &ids).map_err(|e| format!("{e} (judge_failed)\nWhat to do: ask another judge, or use tests_first with test results"))?;
        }
        let r = select::select(&p.candidates, mode, &signals, &RuleSet::default());
        let _ = self.engine().record(p.run_id.as_deref(), "selection", &json!({"winner": r.winner, "test_signal": r.test_signal, "requires_review": r.requires_review}));
        let summary = match &r.winner {
            Some(w) => format!("selected {w}: {}", r.rationale),
            None => r.rationale.clone(),
        };
        out(summary, r)
    }

    /// Task features and the recommended topology (one agent or several), with the rule of
    /// Kim et al. that decided it, calibrated by the outcomes recorded for past stages.
    #[tool(annotations(title = "Coordinate", read_only_hint = true, open_world_hint = false))]
    async fn coordinate(
        &self,
        Parameters(p): Parameters<CoordinateParams>,
    ) -> Result<Json<QualityResult>, String> {
        let engine = self.engine();
        let (threshold, max_agents) = p
            .run_id
            .as_deref()
            .and_then(|id| engine.policy(id).ok())
            .unwrap_or((crate::workflow::DEFAULT_CAPABILITY_THRESHOLD, 3));
        let outcomes = engine.outcomes().map_err(|f| refusal(&f))?;
        let f = coordinate::features(
            &p.task,
            p.code_context.as_deref().unwrap_or(""),
            p.error_logs.as_deref().unwrap_or(""),
        );
        let r = coordinate::recommend(
            &f,
            p.stage.as_deref(),
            p.baseline_confidence,
            threshold,
            &outcomes,
            max_agents,
        );
        let d = coordinate::degradation(&r.topology, &outcomes, &[]);
        out(
            format!("{} ({}): {}", r.topology, r.rule, r.reason),
            json!({"recommendation": r, "degradation": d, "outcomes_recorded": outcomes.len()}),
        )
    }

    /// Paper-aligned metrics for a run or all runs: consults per stage, coordination overhead,
    /// red-flag rate, vote samples, share of selections backed by tests.
    #[tool(annotations(title = "Metrics", read_only_hint = true, open_world_hint = false))]
    async fn metrics(
        &self,
        Parameters(p): Parameters<MetricsParams>,
    ) -> Result<Json<QualityResult>, String> {
        let m = self
            .engine()
            .metrics(p.run_id.as_deref())
            .map_err(|f| refusal(&f))?;
        out(
            format!(
                "{} run(s), {} consult(s), overhead {:.0}%, {} vote(s)",
                m.runs, m.consults, m.coordination_overhead_percent, m.votes
            ),
            m,
        )
    }
}

/// Whether an oracle accepts a sample: an exact expected answer, or a schema.
fn oracle_accepts(oracle: &Value, answer: &str) -> bool {
    if let Some(expected) = oracle.get("expected") {
        let want = expected
            .as_str()
            .map_or_else(|| expected.to_string(), str::to_string);
        return vote::canonical(answer, vote::Format::Text)
            == vote::canonical(&want, vote::Format::Text)
            || (redflag::extract_json(answer).is_some()
                && vote::canonical(answer, vote::Format::Json)
                    == vote::canonical(&want, vote::Format::Json));
    }
    if let Some(schema) = oracle.get("schema") {
        return redflag::check(
            answer,
            &RuleSet {
                schema: Some(schema.clone()),
                max_chars: None,
                min_chars: None,
                ..RuleSet::default()
            },
        )
        .is_empty();
    }
    false
}
