//! The workspace operations with their evidence: context packing, patches and restores
//! (recorded in the state store), verification, and the evidence chain itself.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Engine, Failure};
use crate::home::Kind;
use crate::store::{Row, Table, Versioned, new_id, now_ms};
use crate::workspace::backup::{self, PatchReport, RestoreReport};
use crate::workspace::context::{ContextRequest, Packed, pack};
use crate::workspace::mask::mask;
use crate::workspace::verify::{self, Check, CheckResult};

/// Kinds of evidence entries.
pub const EVIDENCE_KINDS: &[&str] = &[
    "observation",
    "hypothesis",
    "decision",
    "verification",
    "red_flag",
    "consensus",
    "patch",
    "rollback",
];

/// One entry of the evidence chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Evidence {
    pub id: String,
    pub run_id: Option<String>,
    pub stage: Option<String>,
    pub kind: String,
    pub content: String,
    /// Who or what produced it (a provider, a check, a person).
    pub source: Option<String>,
    /// Ids of the entries this one rests on.
    pub links: Vec<String>,
    pub at: i64,
    #[schemars(with = "Value")]
    pub data: Value,
}

/// A filter over the chain.
#[derive(Debug, Clone, Default)]
pub struct EvidenceQuery {
    pub run_id: Option<String>,
    pub kind: Option<String>,
    pub stage: Option<String>,
    pub limit: Option<usize>,
}

/// A new entry.
#[derive(Debug, Clone, Default)]
pub struct Note {
    pub run_id: Option<String>,
    pub kind: String,
    pub content: String,
    pub source: Option<String>,
    pub links: Vec<String>,
    pub data: Value,
}

fn workspace_failure(e: &impl std::fmt::Display, code: &'static str) -> Failure {
    Failure::new(
        code,
        e.to_string(),
        "nothing was written; fix the diff or the path and try again (dry_run checks without writing)",
    )
}

impl Engine {
    /// Appends to the evidence chain (and the run's audit trail).
    ///
    /// # Errors
    /// An unknown kind, run or link.
    pub fn note(&self, n: &Note) -> Result<Evidence, Failure> {
        if !EVIDENCE_KINDS.contains(&n.kind.as_str()) {
            return Err(Failure::new(
                "unknown_kind",
                format!("`{}` is not an evidence kind", n.kind),
                format!("use one of: {}", EVIDENCE_KINDS.join(", ")),
            ));
        }
        self.store.write(|tx| {
            let stage = match &n.run_id {
                Some(id) => {
                    let run: Versioned<super::Run> = tx.get(Table::Runs, id)?.ok_or_else(|| {
                        Failure::new(
                            "unknown_run",
                            format!("there is no run `{id}`"),
                            "omit run_id for a note outside any run",
                        )
                    })?;
                    run.value.stage
                }
                None => None,
            };
            for link in &n.links {
                if tx.get::<Evidence>(Table::Evidence, link)?.is_none() {
                    return Err(Failure::new(
                        "unknown_link",
                        format!("there is no evidence entry `{link}`"),
                        "link to ids returned by `note` or `evidence`",
                    ));
                }
            }
            let e = Evidence {
                id: new_id("ev"),
                run_id: n.run_id.clone(),
                stage,
                kind: n.kind.clone(),
                content: mask(&n.content).into_owned(),
                source: n.source.clone(),
                links: n.links.clone(),
                at: now_ms(),
                data: n.data.clone(),
            };
            let run_key = e.run_id.clone().unwrap_or_default();
            tx.insert(
                Table::Evidence,
                &Row {
                    id: &e.id,
                    run_id: &run_key,
                    status: &e.kind,
                },
                &e,
            )?;
            tx.append(
                &run_key,
                "evidence",
                &json!({"id": e.id, "kind": e.kind, "stage": e.stage, "content": e.content,
                        "source": e.source, "links": e.links}),
            )?;
            Ok(e)
        })
    }

    /// Reads the chain, newest first.
    ///
    /// # Errors
    /// A state-file failure.
    pub fn evidence(&self, q: &EvidenceQuery) -> Result<Vec<Evidence>, Failure> {
        let rows: Vec<Versioned<Evidence>> = self
            .store
            .read(|tx| tx.list(Table::Evidence, q.kind.as_deref(), q.run_id.as_deref()))?;
        Ok(rows
            .into_iter()
            .map(|r| r.value)
            .filter(|e| q.stage.as_ref().is_none_or(|s| e.stage.as_ref() == Some(s)))
            .take(q.limit.unwrap_or(100))
            .collect())
    }

    /// Packs context from the workspace.
    #[must_use]
    pub fn context(&self, req: &ContextRequest) -> Packed {
        pack(&self.root, req)
    }

    /// Applies (or dry-runs) a diff in the workspace, backed up and recorded.
    ///
    /// # Errors
    /// A refused diff (nothing written), or an unknown run.
    pub fn patch(
        &self,
        diff: &str,
        dry_run: bool,
        run_id: Option<&str>,
    ) -> Result<PatchReport, Failure> {
        let report = backup::apply(&self.root, diff, dry_run)
            .map_err(|e| workspace_failure(&e, "patch_refused"))?;
        if let Some(id) = &report.backup_id {
            self.store.write(|tx| {
                tx.insert(
                    Table::Backups,
                    &Row {
                        id,
                        run_id: run_id.unwrap_or(""),
                        status: "applied",
                    },
                    &json!({"id": id, "files": report.files, "run_id": run_id}),
                )
                .map_err(Failure::from)
            })?;
            let files: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
            self.note(&Note {
                run_id: run_id.map(str::to_string),
                kind: "patch".into(),
                content: format!("applied a patch to {} (backup {id})", files.join(", ")),
                source: Some("maestro patch".into()),
                links: Vec::new(),
                data: json!({"backup_id": id, "files": report.files}),
            })?;
        }
        Ok(report)
    }

    /// Restores a backup made by `patch`.
    ///
    /// # Errors
    /// An invalid or unknown backup id.
    pub fn restore(
        &self,
        backup_id: &str,
        files: Option<&[String]>,
    ) -> Result<RestoreReport, Failure> {
        let report = backup::restore(&self.root, backup_id, files)
            .map_err(|e| workspace_failure(&e, "restore_refused"))?;
        let row: Option<Versioned<Value>> =
            self.store.read(|tx| tx.get(Table::Backups, backup_id))?;
        let run_id = row
            .as_ref()
            .and_then(|r| r.value["run_id"].as_str().map(str::to_string));
        if let Some(r) = row {
            self.store.write(|tx| {
                tx.update(
                    Table::Backups,
                    &Row {
                        id: backup_id,
                        run_id: run_id.as_deref().unwrap_or(""),
                        status: "restored",
                    },
                    r.version,
                    &r.value,
                )
                .map_err(Failure::from)
            })?;
        }
        self.note(&Note {
            run_id,
            kind: "rollback".into(),
            content: format!(
                "restored backup {backup_id}: {} put back, {} removed",
                report.restored.len(),
                report.removed.len()
            ),
            source: Some("maestro restore".into()),
            links: Vec::new(),
            data: serde_json::to_value(&report).unwrap_or_default(),
        })?;
        Ok(report)
    }

    /// The configured checks (`conf/verify.yaml`) and problems with the file.
    #[must_use]
    pub fn checks(&self) -> (Vec<Check>, Vec<String>) {
        match self.library.home.find(Kind::Config, "verify") {
            Ok(Some(a)) => verify::parse_config(&a.display, &String::from_utf8_lossy(&a.bytes)),
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
    /// An unconfigured name (so a tool call can never run an arbitrary command).
    pub fn plan_checks(&self, names: &[String]) -> Result<Vec<Check>, Failure> {
        let (checks, problems) = self.checks();
        if names.is_empty() {
            return Err(Failure::new(
                "no_checks",
                "name at least one check",
                format!(
                    "configured: {}",
                    checks
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
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
                        Failure::new(
                            "unknown_check",
                            format!("`{n}` is not a configured check"),
                            format!(
                                "only checks from conf/verify.yaml run: {}{}",
                                checks
                                    .iter()
                                    .map(|c| c.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                problems
                                    .first()
                                    .map(|p| format!(" ({p})"))
                                    .unwrap_or_default()
                            ),
                        )
                    })
            })
            .collect()
    }

    /// Records a check's result as evidence.
    ///
    /// # Errors
    /// An unknown run.
    pub fn record_check(&self, run_id: Option<&str>, r: &CheckResult) -> Result<(), Failure> {
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
            kind: "verification".into(),
            content: format!(
                "check `{}` {}{counts}",
                r.name,
                if r.passed { "passed" } else if r.timed_out { "timed out" } else { "failed" }
            ),
            source: Some(r.command.join(" ")),
            links: Vec::new(),
            data: json!({"name": r.name, "passed": r.passed, "counts": r.counts, "exit_code": r.exit_code}),
        })?;
        Ok(())
    }
}

impl Engine {
    /// Appends an event to a run's audit trail (or the global one with no run).
    ///
    /// # Errors
    /// A state-file failure.
    pub fn record(&self, run_id: Option<&str>, kind: &str, data: &Value) -> Result<(), Failure> {
        self.store.write(|tx| {
            tx.append(run_id.unwrap_or(""), kind, data)
                .map_err(Failure::from)
        })?;
        Ok(())
    }

    /// Stage outcomes of every run, oldest first (Rule D's calibration data).
    ///
    /// # Errors
    /// A state-file failure.
    pub fn outcomes(&self) -> Result<Vec<crate::quality::coordinate::Outcome>, Failure> {
        let events = self
            .store
            .read(|tx| tx.events(None).map_err(Failure::from))?;
        Ok(events
            .iter()
            .filter(|e| e.kind == "stage_outcome")
            .map(|e| crate::quality::coordinate::Outcome {
                topology: e.data["topology"].as_str().unwrap_or("sas").to_string(),
                success: e.data["success"] == true,
                overhead: e.data["consults"].as_f64().unwrap_or(0.0),
            })
            .collect())
    }

    /// Metrics for one run, or all runs.
    ///
    /// # Errors
    /// An unknown run.
    pub fn metrics(
        &self,
        run_id: Option<&str>,
    ) -> Result<crate::quality::metrics::Metrics, Failure> {
        let events = match run_id {
            Some(id) => self.log(id)?,
            None => self
                .store
                .read(|tx| tx.events(None).map_err(Failure::from))?,
        };
        Ok(crate::quality::metrics::compute(&events))
    }
}
