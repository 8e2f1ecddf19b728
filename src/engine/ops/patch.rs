//! `patch` and `restore`: diffs applied inside the workspace after a backup, and taken back.
//! What may be written is decided by `workspace/confine.rs`; this records what happened.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::super::guard::{ToolCall, ToolKind};
use super::super::work::{EvidenceData, EvidenceKind, Note};
use super::super::{Engine, Failure};
use crate::engine::FailureCode;
use crate::store::{Row, Table, Versioned};
use crate::workspace::backup::{self, PatchReport, RestoreReport};

fn workspace_failure(e: &impl std::fmt::Display, code: FailureCode) -> Failure {
    Failure::new(
        code,
        e.to_string(),
        "nothing was written; fix the diff or the path and try again (dry_run checks without writing)",
    )
}

impl Engine {
    /// Applies (or dry-runs) a diff in the workspace, backed up and recorded. `session` is
    /// the Claude Code session calling (the hold rule of `guard.rs` applies as to Claude
    /// Code's own Write).
    ///
    /// # Errors
    /// An unknown run (checked before anything is written), a hold (a gate waits, or a
    /// read-only stage), or a refused diff.
    pub(crate) fn patch(
        &self,
        diff: &str,
        dry_run: bool,
        run_id: Option<&str>,
        session: Option<&str>,
    ) -> Result<PatchReport, Failure> {
        self.require_run(run_id)?;
        if !dry_run {
            let paths: Vec<PathBuf> = crate::workspace::diff::parse(diff)
                .map(|files| {
                    files
                        .iter()
                        .filter_map(|f| f.new_path.as_ref().or(f.old_path.as_ref()))
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default();
            self.hold_own(&ToolCall {
                session,
                tool: "patch",
                kind: ToolKind::Edits,
                paths: &paths,
                run: run_id,
            })?;
        }
        let report = backup::apply(&self.root, diff, dry_run)
            .map_err(|e| workspace_failure(&e, FailureCode::PatchRefused))?;
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
                kind: EvidenceKind::Patch,
                content: format!("applied a patch to {} (backup {id})", files.join(", ")),
                source: Some("maestro patch".into()),
                links: Vec::new(),
                data: EvidenceData::Patch {
                    backup_id: id.clone(),
                    files: report.files.clone(),
                },
            })?;
        }
        Ok(report)
    }

    /// Restores a backup made by `patch`, under the same hold rule (the backup's run binds
    /// it as if it were named).
    ///
    /// # Errors
    /// An invalid or unknown backup id, or a hold.
    pub(crate) fn restore(
        &self,
        backup_id: &str,
        files: Option<&[String]>,
        session: Option<&str>,
    ) -> Result<RestoreReport, Failure> {
        let row: Option<Versioned<Value>> =
            self.store.read(|tx| tx.get(Table::Backups, backup_id))?;
        let run_id = row
            .as_ref()
            .and_then(|r| r.value["run_id"].as_str().map(str::to_string));
        let paths: Vec<PathBuf> = row
            .as_ref()
            .and_then(|r| r.value["files"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|f| f["path"].as_str().map(PathBuf::from))
            .collect();
        self.hold_own(&ToolCall {
            session,
            tool: "restore",
            kind: ToolKind::Edits,
            paths: &paths,
            run: run_id.as_deref(),
        })?;
        let report = backup::restore(&self.root, backup_id, files)
            .map_err(|e| workspace_failure(&e, FailureCode::RestoreRefused))?;
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
            kind: EvidenceKind::Rollback,
            content: format!(
                "restored backup {backup_id}: {} put back, {} removed",
                report.restored.len(),
                report.removed.len()
            ),
            source: Some("maestro restore".into()),
            links: Vec::new(),
            data: EvidenceData::Restore(report.clone()),
        })?;
        Ok(report)
    }
}
