//! `verify`: only checks a person named in the project's `conf/verify.yaml` run, never a
//! command from a tool call. Results are evidence, and become the run's facts for this
//! visit (`checks.<name>` in guards).

use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::super::events::RunEvent;
use super::super::guard::{ToolCall, ToolKind};
use super::super::model::{CheckFact, RunStatus};
use super::super::work::{EvidenceData, EvidenceKind, Note};
use super::super::{Engine, Failure};
use crate::engine::FailureCode;
use crate::home::{Home, Kind, Origin};
use crate::workspace::signature::failure_signature;
use crate::workspace::verify::{self, Check, CheckResult, CheckStatus};

/// What `verify` did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Verified {
    /// Every check passed.
    pub passed: bool,
    pub results: Vec<CheckResult>,
}

/// Where a run stood when its checks started: results count only for that visit.
type Visit = Option<(String, u32)>;

/// The file `home` configures checks in (`conf/verify.yaml`, as shown), its checks and its
/// problems; `None` when no layer has one.
#[must_use]
pub(crate) fn configured_checks(home: &Home) -> Option<(String, Vec<Check>, Vec<String>)> {
    let a = home.find(Kind::Config, "verify").ok()??;
    let (mut checks, problems) =
        verify::parse_config(&a.display, &String::from_utf8_lossy(&a.bytes));
    // A layer other than the project's own names commands the project does not: every
    // result says where it came from.
    let outside = a.origin != Origin::Project;
    for c in &mut checks {
        c.source.outside_project = outside;
    }
    Some((a.display, checks, problems))
}

/// What the person or the model should do about checks that could not run, if any did not
/// (the end of `verify`'s summary; each result's `reason` has the details).
#[must_use]
pub(crate) fn next_step(results: &[CheckResult]) -> Option<String> {
    let names: Vec<String> = results
        .iter()
        .filter(|r| r.status == CheckStatus::CannotRun)
        .map(|r| format!("`{}`", r.name))
        .collect();
    if names.is_empty() {
        return None;
    }
    Some(format!(
        "{} could not run, so nothing was tested and a guard on `checks.<name>.passed` stays \
         false: install what the reason names (or change the check in \
         .maestro/conf/verify.yaml, which a person edits), then run `verify` again. It is \
         not a test failure: do not change the code for it. `maestro doctor` lists every \
         check that cannot run here.",
        names.join(", ")
    ))
}

impl Engine {
    /// The configured checks (`conf/verify.yaml`) and problems with the file.
    #[must_use]
    pub(crate) fn checks(&self) -> (Vec<Check>, Vec<String>) {
        configured_checks(&self.library.home).map_or_else(
            || {
                (
                    Vec::new(),
                    vec![
                        "no conf/verify.yaml: run `maestro init` in the project to propose checks"
                            .into(),
                    ],
                )
            },
            |(_, checks, problems)| (checks, problems),
        )
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
                FailureCode::NoChecks,
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
                            FailureCode::UnknownCheck,
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
                    // A check that never started has no failure to compare with the next.
                    let error = (r.status == CheckStatus::Failed)
                        .then(|| failure_signature(&r.output, r.timed_out, r.exit_code));
                    // Counted per visit: against the last record before this visit began.
                    let repeats = match (&error, run.previous_checks.get(&r.name)) {
                        (None, _) => 0,
                        (Some(e), Some(p)) if p.error.as_ref() == Some(e) => p.repeats + 1,
                        (Some(_), _) => 1,
                    };
                    let fact = CheckFact {
                        passed: r.passed,
                        status: r.status,
                        reason: r.reason.clone(),
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
        let counts = crate::workspace::verify::Counts::suffix(r.counts);
        self.note(&Note {
            run_id: run_id.map(str::to_string),
            kind: EvidenceKind::Verification,
            content: match (r.status, &r.reason) {
                (CheckStatus::CannotRun, Some(why)) => {
                    format!("check `{}` could not run: {why}", r.name)
                }
                _ => format!(
                    "check `{}` {}{counts}",
                    r.name,
                    if r.timed_out {
                        "timed out"
                    } else {
                        r.status.as_str()
                    }
                ),
            },
            source: Some(r.command.join(" ")),
            links: Vec::new(),
            data: EvidenceData::Check {
                name: r.name.clone(),
                passed: r.passed,
                status: r.status,
                reason: r.reason.clone(),
                counts: r.counts,
                exit_code: r.exit_code,
                configured_in: r.source.clone(),
            },
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    use super::super::super::test_support::{engine, start};
    use crate::workspace::verify::{self, Check, CheckSource, CheckStatus};

    /// A check whose program is not installed, run for real: it cannot run, the run's fact
    /// says so, and the stage report says "could not run" with the reason, in either language.
    #[tokio::test]
    async fn a_check_that_cannot_run_reads_so_in_the_fact_and_the_report() {
        for (lang, words, metric) in [
            (
                None,
                "check `test` could not run: `no-such-tool-xyz`",
                "1 could not run",
            ),
            (
                Some("ko"),
                "검사 `test` 실행할 수 없음: `no-such-tool-xyz`",
                "1 실행할 수 없음",
            ),
        ] {
            let (tmp, engine) = engine();
            let id = start(&engine, "default", lang);
            let check = Check {
                name: "test".into(),
                argv: vec!["no-such-tool-xyz".into()],
                timeout: Duration::from_secs(10),
                cwd: None,
                source: CheckSource {
                    file: ".maestro/conf/verify.yaml".into(),
                    outside_project: false,
                },
            };
            let r = verify::run(tmp.path(), &check, &CancellationToken::new()).await;
            assert_eq!(
                (r.status, r.passed),
                (CheckStatus::CannotRun, false),
                "{r:?}"
            );
            let at = Some(("analyze".to_string(), 1));
            engine.record_check(Some(&id), &at, &r).unwrap();
            let fact = &engine.status(&id).unwrap().checks["test"];
            assert_eq!(
                (fact.status, fact.error.as_deref()),
                (CheckStatus::CannotRun, None)
            );

            let analysis = json!({
                "observations": [{"fact": "ZeroDivisionError at shop/ratings.py:42", "source": "pytest"}],
                "constraints": [], "unknowns": [], "repro_steps": ["pytest tests/test_ratings.py"],
                "confidence": 0.8
            });
            let s = engine.submit(&id, &analysis, None).unwrap();
            let approval = s.approval.expect("analyze is gated").approval_id;
            let md = engine.report(&approval).unwrap().markdown;
            assert!(
                md.contains(words) && md.contains("was not found on PATH"),
                "{md}"
            );
            assert!(md.contains(metric), "{md}");
        }
    }

    #[test]
    fn a_fact_stored_before_status_reads_its_status_from_passed() {
        let old = |passed: bool| {
            serde_json::from_value::<super::CheckFact>(json!({
                "passed": passed, "exit_code": 0, "timed_out": false, "counts": null
            }))
            .unwrap()
        };
        assert_eq!(old(true).status, CheckStatus::Passed);
        assert_eq!(old(false).status, CheckStatus::Failed);
        let unknown = serde_json::from_value::<super::CheckFact>(json!({
            "passed": false, "status": "skipped", "exit_code": 0, "timed_out": false, "counts": null
        }));
        assert!(
            unknown.is_err(),
            "an unknown status is an error, never a default"
        );
    }
}
