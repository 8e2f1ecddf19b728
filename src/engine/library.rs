//! Workflows as the engine uses them: linted, compiled, with their assets, in versions.
//!
//! A *version* is a snapshot of everything a compile read — the workflow text and the roles,
//! skills, schemas and config it used — named by a hash of those bytes. A run is pinned to
//! the version it started with (the snapshot is kept in the state file), so editing a workflow
//! file never changes a run in flight: its gates, questions, timeouts and transitions stay
//! what the person started. New runs get the current files; `maestro upgrade` moves a run.
//!
//! The current file is recompiled when it (or an asset it uses) changes; an edit that does not
//! validate never replaces the last good version, and its findings are kept for `status`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::diagnostic::{Record, Severity};
use crate::home::{Home, Kind, valid_name};
use crate::lint::Linter;
use crate::loader::Loaded;
use crate::syntax::ast::Format;
use crate::workflow::Workflow;

use super::Failure;
use crate::engine::FailureCode;

/// A stage's assets, read once per compile.
#[derive(Debug, Clone, Default)]
pub(crate) struct StageAssets {
    pub role: Option<String>,
    pub skill: Option<String>,
    /// The skill in the workflow's other languages (`skills/<name>.<lang>.md`), when written.
    pub skill_by_lang: BTreeMap<String, String>,
    pub schema: Option<Value>,
    pub validator: Option<Arc<crate::schema::Validator>>,
    /// The template of the stage's report for the person (`default` when the stage names
    /// none), so a pinned run keeps the report it started with.
    pub report: Option<String>,
}

/// One file a compile read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SnapshotFile {
    pub kind: Kind,
    pub name: String,
    pub text: String,
}

/// Everything one workflow version was compiled from. Stored in the state file by `version`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub version: String,
    pub name: String,
    /// Where the workflow file was found when the version was taken.
    pub display: String,
    pub text: String,
    pub files: Vec<SnapshotFile>,
}

impl Snapshot {
    fn new(name: &str, display: &str, text: String, mut files: Vec<SnapshotFile>) -> Snapshot {
        files.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        files.dedup_by(|a, b| a.kind == b.kind && a.name == b.name);
        let mut h = Sha256::new();
        for part in [name.as_bytes(), text.as_bytes()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        for f in &files {
            for part in [
                f.kind.dir().as_bytes(),
                f.name.as_bytes(),
                f.text.as_bytes(),
            ] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part);
            }
        }
        let version = h.finalize().iter().fold(String::new(), |mut s, b| {
            s.push_str(&format!("{b:02x}"));
            s
        });
        Snapshot {
            version,
            name: name.to_string(),
            display: display.to_string(),
            text,
            files,
        }
    }

    /// The short form people see: the first 8 hex digits.
    #[must_use]
    pub(crate) fn short(version: &str) -> &str {
        version.get(..8).unwrap_or(version)
    }
}

/// A workflow version that passed validation, ready to run.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub loaded: Loaded,
    pub snapshot: Arc<Snapshot>,
    pub stages: HashMap<String, StageAssets>,
}

impl Compiled {
    /// The typed workflow (always present in a compiled one).
    ///
    /// # Panics
    /// Never: only loads with a workflow are compiled.
    #[must_use]
    pub(crate) fn workflow(&self) -> &Workflow {
        self.loaded
            .workflow
            .as_ref()
            .expect("compiled workflows always have a workflow")
    }

    #[must_use]
    pub(crate) fn machine(&self) -> &crate::compile::Machine {
        self.loaded
            .machine
            .as_ref()
            .expect("compiled workflows always have a machine")
    }

    #[must_use]
    pub(crate) fn assets(&self, stage: &str) -> StageAssets {
        self.stages.get(stage).cloned().unwrap_or_default()
    }

    #[must_use]
    pub(crate) fn version(&self) -> &str {
        &self.snapshot.version
    }

    /// Where the workflow was found (path or `builtin:...`).
    #[must_use]
    pub(crate) fn display(&self) -> &str {
        &self.snapshot.display
    }
}

struct Entry {
    /// The bytes of the workflow file and of every asset the last compile read.
    fingerprint: Vec<u8>,
    good: Option<Arc<Compiled>>,
    /// Findings of the newest version on disk when it failed to validate.
    problems: Vec<Record>,
}

/// The workflows of a home: the current files, compiled on demand and recompiled when they
/// change, and pinned versions, compiled once each from their snapshots.
pub(crate) struct Library {
    pub home: Home,
    current: Mutex<HashMap<String, Entry>>,
    pinned: Mutex<HashMap<String, Arc<Compiled>>>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").finish_non_exhaustive()
    }
}

/// The current good version of a workflow, and the findings of a newer edit that was refused.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub compiled: Arc<Compiled>,
    pub refused_edit: Vec<Record>,
}

/// A name that cannot be an asset name.
#[must_use]
pub(crate) fn bad_name(what: &str, name: &str) -> Failure {
    Failure::new(
        FailureCode::BadName,
        format!(
            "`{}` is not a {what} name",
            name.chars().take(80).collect::<String>()
        ),
        "names are lower-case letters, digits, `_` and `-` (at most 64), never paths",
    )
}

impl Library {
    #[must_use]
    pub(crate) fn new(home: Home) -> Self {
        Self {
            home,
            current: Mutex::new(HashMap::new()),
            pinned: Mutex::new(HashMap::new()),
        }
    }

    /// Names of the workflows in the home.
    #[must_use]
    pub(crate) fn names(&self) -> Vec<String> {
        self.home.names(Kind::Workflow)
    }

    /// The current good version of a workflow, recompiling it if its files changed.
    ///
    /// # Errors
    /// A name that is not a name, an unknown workflow, or one that never validated.
    pub(crate) fn get(&self, name: &str) -> Result<Current, Failure> {
        if !valid_name(name) {
            return Err(bad_name("workflow", name));
        }
        let asset = match self.home.find(Kind::Workflow, name) {
            Ok(Some(a)) => a,
            Ok(None) => {
                let names = self.names();
                return Err(Failure::new(
                    FailureCode::UnknownWorkflow,
                    format!("there is no workflow `{name}`"),
                    format!(
                        "use one of: {}; or add workflows/{name}.kdl to the project's .maestro/",
                        names.join(", ")
                    ),
                ));
            }
            Err(e) => {
                return Err(Failure::new(
                    FailureCode::UnreadableWorkflow,
                    e.to_string(),
                    "check the file's permissions",
                ));
            }
        };
        // The fingerprint is checked without holding the lock while compiling: compiles are
        // pure, so two threads racing on a changed file both compile and one result is kept.
        let previous = {
            let cache = self
                .current
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cache
                .get(name)
                .map(|e| (e.fingerprint.clone(), e.good.clone(), e.problems.clone()))
        };
        let previous_files = previous
            .as_ref()
            .and_then(|(_, good, _)| good.as_ref())
            .map_or(&[][..], |c| &c.snapshot.files[..]);
        let fp = self.fingerprint(&asset.bytes, previous_files);
        if let Some((old_fp, good, problems)) = &previous
            && *old_fp == fp
        {
            return match good {
                Some(good) => Ok(Current {
                    compiled: good.clone(),
                    refused_edit: problems.clone(),
                }),
                None => Err(never_valid(name, problems)),
            };
        }
        let entry = match compile(&self.home, name, &asset.display, &asset.bytes) {
            Ok(c) => Entry {
                fingerprint: self.fingerprint(&asset.bytes, &c.snapshot.files),
                good: Some(Arc::new(c)),
                problems: Vec::new(),
            },
            Err(problems) => Entry {
                fingerprint: fp,
                good: previous.and_then(|(_, good, _)| good),
                problems,
            },
        };
        let out = match &entry.good {
            Some(good) => Ok(Current {
                compiled: good.clone(),
                refused_edit: entry.problems.clone(),
            }),
            None => Err(never_valid(name, &entry.problems)),
        };
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_string(), entry);
        out
    }

    /// A compiled version from the cache, if this process compiled it already.
    #[must_use]
    pub(crate) fn cached(&self, version: &str) -> Option<Arc<Compiled>> {
        self.pinned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(version)
            .cloned()
    }

    /// Compiles a pinned version from its snapshot (once per process).
    ///
    /// # Errors
    /// A snapshot that no longer validates with this build of maestro.
    pub(crate) fn pinned(&self, snapshot: &Snapshot) -> Result<Arc<Compiled>, Failure> {
        if let Some(c) = self.cached(&snapshot.version) {
            return Ok(c);
        }
        let mut files = BTreeMap::new();
        for f in &snapshot.files {
            let ext = f.kind.extensions()[0];
            files.insert(
                format!("{}/{}{ext}", f.kind.dir(), f.name),
                f.text.clone().into_bytes(),
            );
        }
        let home = Home::pinned(files);
        let mut c = compile(
            &home,
            &snapshot.name,
            &snapshot.display,
            snapshot.text.as_bytes(),
        )
        .map_err(|problems| never_valid(&snapshot.name, &problems))?;
        // The version is the one the run was pinned to, whatever a recompile would name it.
        c.snapshot = Arc::new(snapshot.clone());
        let c = Arc::new(c);
        self.pinned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(snapshot.version.clone(), c.clone());
        Ok(c)
    }

    /// Remembers a freshly compiled current version under its own hash.
    pub(crate) fn remember(&self, c: &Arc<Compiled>) {
        self.pinned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(c.version().to_string())
            .or_insert_with(|| c.clone());
    }

    fn fingerprint(&self, workflow: &[u8], files: &[SnapshotFile]) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(workflow);
        for f in files {
            match self.home.find(f.kind, &f.name) {
                Ok(Some(a)) => {
                    h.update((a.bytes.len() as u64).to_le_bytes());
                    h.update(&a.bytes);
                }
                _ => h.update([0u8]),
            }
        }
        h.finalize().to_vec()
    }
}

/// Lints and compiles one workflow text in `home`, taking a snapshot of what it read.
fn compile(home: &Home, name: &str, display: &str, bytes: &[u8]) -> Result<Compiled, Vec<Record>> {
    let format = Format::from_path(display)
        .unwrap_or_else(|| Format::sniff(&String::from_utf8_lossy(bytes)));
    let (recording, reads) = home.recording();
    let mut linter = Linter::new(recording.clone());
    let loaded = linter.workflow_bytes(display, bytes, format);
    let mut findings: Vec<Record> = loaded
        .diagnostics
        .iter()
        .chain(linter.take_asset_findings().iter())
        .map(crate::diagnostic::Diagnostic::to_record)
        .collect();
    findings.retain(|r| r.severity == Severity::Error);
    if !findings.is_empty() || loaded.workflow.is_none() || loaded.machine.is_none() {
        return Err(findings);
    }
    let text = |kind: Kind, name: &str| {
        recording
            .find(kind, name)
            .ok()
            .flatten()
            .map(|a| String::from_utf8_lossy(&a.bytes).into_owned())
    };
    let mut stages = HashMap::new();
    if let Some(wf) = loaded.workflow.as_ref() {
        for stage in &wf.stages {
            let s = &stage.settings;
            let mut assets = StageAssets::default();
            if let Some(role) = &s.role {
                assets.role = text(Kind::Role, &role.value);
            }
            if let Some(skill) = &s.skill {
                assets.skill = text(Kind::Skill, &skill.value);
                for lang in wf.langs.iter().skip(1) {
                    if let Ok(Some(a)) =
                        recording.find_translation(Kind::Skill, &skill.value, &lang.value)
                    {
                        assets
                            .skill_by_lang
                            .insert(lang.value.clone(), String::from_utf8_lossy(&a.bytes).into());
                    }
                }
            }
            assets.report = text(
                Kind::Report,
                s.report
                    .as_ref()
                    .map_or(super::report::DEFAULT, |r| r.value.as_str()),
            );
            if let Some(out) = &s.output
                && let Some(schema) = text(Kind::Schema, &out.value)
                    .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            {
                assets.validator = crate::schema::compile(&schema).ok().map(Arc::new);
                assets.schema = Some(schema);
            }
            stages.insert(stage.name.value.clone(), assets);
        }
    }
    let files = reads
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .map(|a| SnapshotFile {
            kind: a.kind,
            name: a.name.clone(),
            text: String::from_utf8_lossy(&a.bytes).into_owned(),
        })
        .collect();
    let snapshot = Snapshot::new(name, display, loaded.source.text.to_string(), files);
    Ok(Compiled {
        loaded,
        snapshot: Arc::new(snapshot),
        stages,
    })
}

fn never_valid(name: &str, problems: &[Record]) -> Failure {
    let first = problems.first().map_or_else(String::new, |r| {
        format!(
            ": {} at {}:{}:{}: {}",
            r.rule, r.file, r.line, r.column, r.message
        )
    });
    Failure::new(
        FailureCode::InvalidWorkflow,
        format!(
            "workflow `{name}` does not validate ({} errors){first}",
            problems.len()
        ),
        "run `maestro validate` to see every finding and fix them".to_string(),
    )
    .with_details(serde_json::to_value(problems).unwrap_or(Value::Null))
}
