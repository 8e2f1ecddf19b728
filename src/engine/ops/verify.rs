//! `verify`: only checks a person named in the project's `conf/verify.yaml` run, never a
//! command from a tool call. Results are evidence, and become the run's facts for this
//! visit (`checks.<name>` in guards).

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::super::events::RunEvent;
use super::super::guard::{ToolCall, ToolKind};
use super::super::model::{CheckFact, RunStatus};
use super::super::work::{EvidenceKind, Note};
use super::super::{Engine, Failure};
use crate::home::{Kind, Origin};
use crate::workspace::signature::failure_signature;
use crate::workspace::verify::{self, Check, CheckResult};

/// What `verify` did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Verified {
    /// Every check passed.
    pub passed: bool,
    pub results: Vec<CheckResult>,
}

/// Where a run stood when its checks started: results count only for that visit.
type Visit = Option<(String, u32)>;

impl Engine {
    /// The configured checks (`conf/verify.yaml`) and problems with the file.
    #[must_use]
    pub(crate) fn checks(&self) -> (Vec<Check>, Vec<String>) {
        match self.library.home.find(Kind::Config, "verify") {
            Ok(Some(a)) => {
                let (mut checks, problems) =
                    verify::parse_config(&a.display, &String::from_utf8_lossy(&a.bytes));
                // A layer other than the project's own names commands the project does not:
                // every result says where it came from.
                let outside = a.origin != Origin::Project;
                for c in &mut checks {
                    c.source.outside_project = outside;
                }
                (checks, problems)
            }
            _ => (
                Vec::new(),
                vec![
                    "no conf/verify.yaml: run `maestro init` in the project to propose checks"
                        .into(),
                ],
            ),
        }
    }

    /// Picks the named checks; refuses names that are not configured.
    ///
    /// # Errors
    /// No names, or an unconfigured name (so a tool call can never run an arbitrary command).
    pub(crate) fn plan_checks(&self, names: &[String]) -> Result<Vec<Check>, Failure> {
        let (checks, problems) = self.checks();
        let configured = checks
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if names.is_empty() {
            return Err(Failure::new(
                "no_checks",
                "name at least one check",
                format!("configured: {configured}"),
            ));
        }
        names
            .iter()
            .map(|n| {
                checks
                    .iter()
                    .find(|c| &c.name == n)
                    .cloned()
                    .ok_or_else(|| {
                        // A check refused for a problem in verify.yaml: name that problem.
                        let own = format!("check `{n}`");
                        let why = problems
                            .iter()
                            .find(|p| p.contains(&own))
                            .map(|p| format!(" ({p})"))
                            .unwrap_or_default();
                        Failure::new(
                            "unknown_check",
                            format!(
                                "`{}` is not a configured check",
                                n.chars().take(80).collect::<String>()
                            ),
                            format!("only checks from conf/verify.yaml run: {configured}{why}"),
                        )
                    })
            })
            .collect()
    }

    /// Validates a verify request before anything runs: the run exists, the checks are
    /// configured. Returns the checks and where the run stands.
    fn plan_verify(
        &self,
        names: &[String],
        run_id: Option<&str>,
        session: Option<&str>,
    ) -> Result<(Vec<Check>, Visit), Failure> {
        let run = self.require_run(run_id)?;
        let checks = self.plan_checks(names)?;
        // Checks are commands: held while a gate waits, as Claude Code's own Bash is.
        self.hold_own(&ToolCall {
            session,
            tool: "verify",
            kind: ToolKind::Other,
            paths: &[],
            run: run_id,
        })?;
        let at = run
            .filter(|r| r.status != RunStatus::Finished)
            .and_then(|r| Some((r.stage.clone()?, r.visit())));
        Ok((checks, at))
    }

    /// Records a check's result: evidence, and the run's fact for the visit it started in.
    ///
    /// # Errors
    /// An unknown run.
    pub(crate) fn record_check(
        &self,
        run_id: Option<&str>,
        at: &Visit,
        r: &CheckResult,
    ) -> Result<(), Failure> {
        if let (Some(id), Some((stage, visit))) = (run_id, at) {
            self.mutate(id, |_, _, run, events| {
                // A run that moved on while the check ran keeps its new visit's facts clean.
                if run.status != RunStatus::Finished
                    && run.stage.as_deref() == Some(stage.as_str())
                    && run.visit() == *visit
                {
                    let error =
                        (!r.passed).then(|| failure_signature(&r.output, r.timed_out, r.exit_code));
                    // Counted per visit: against the last record before this visit began.
                    let repeats = match (&error, run.previous_checks.get(&r.name)) {
                        (None, _) => 0,
                        (Some(e), Some(p)) if p.error.as_ref() == Some(e) => p.repeats + 1,
                        (Some(_), _) => 1,
                    };
                    let fact = CheckFact {
                        passed: r.passed,
                        exit_code: r.exit_code,
                        timed_out: r.timed_out,
                        counts: r.counts,
                        error,
                        repeats,
                    };
                    run.checks.insert(r.name.clone(), fact.clone());
                    events.push(RunEvent::CheckRecorded {
                        stage: Some(stage.clone()),
                        visit: *visit,
                        name: r.name.clone(),
                        fact,
                    });
                }
                Ok(())
            })?;
        }
        let counts = r
            .counts
            .map(|c| {
                format!(
                    " ({} passed, {} failed, {} skipped)",
                    c.passed, c.failed, c.skipped
                )
            })
            .unwrap_or_default();
        self.note(&Note {
            run_id: run_id.map(str::to_string),
            kind: EvidenceKind::Verification,
            content: format!(
                "check `{}` {}{counts}",
                r.name,
                if r.passed {
                    "passed"
                } else if r.timed_out {
                    "timed out"
                } else {
                    "failed"
                }
            ),
            source: Some(r.command.join(" ")),
            links: Vec::new(),
            data: json!({"name": r.name, "passed": r.passed, "counts": r.counts, "exit_code": r.exit_code, "configured_in": r.source}),
        })?;
        Ok(())
    }

    /// Runs named checks (and records each), the whole `verify` operation.
    ///
    /// # Errors
    /// An unknown run or check (nothing runs then), or a state-file failure.
    pub(crate) async fn verify(
        self: &Arc<Self>,
        names: Vec<String>,
        run_id: Option<String>,
        session: Option<String>,
        cancel: &CancellationToken,
    ) -> Result<Verified, Failure> {
        let rid = run_id.clone();
        let (checks, at) = self
            .blocking(move |e| e.plan_verify(&names, rid.as_deref(), session.as_deref()))
            .await?;
        let mut results = Vec::new();
        for check in &checks {
            let r = verify::run(&self.root, check, cancel).await;
            let (rid, at, rr) = (run_id.clone(), at.clone(), r.clone());
            self.blocking(move |e| e.record_check(rid.as_deref(), &at, &rr))
                .await?;
            results.push(r);
        }
        Ok(Verified {
            passed: results.iter().all(|r| r.passed),
            results,
        })
    }
}
