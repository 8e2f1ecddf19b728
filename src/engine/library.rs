//! Workflows as the engine uses them: linted, compiled, with their assets, and reloaded when a
//! file changes. An edit that does not validate never replaces the last good version; its
//! findings are kept so `status` can show them.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::diagnostic::{Record, Severity};
use crate::home::{Home, Kind};
use crate::lint::Linter;
use crate::loader::Loaded;
use crate::syntax::ast::Format;
use crate::workflow::Workflow;

use super::Failure;

/// A stage's assets, read once per compile.
#[derive(Debug, Clone, Default)]
pub struct StageAssets {
    pub role: Option<String>,
    pub skill: Option<String>,
    pub schema: Option<Value>,
    pub validator: Option<Arc<jsonschema::Validator>>,
}

/// A workflow that passed validation, ready to run.
#[derive(Debug)]
pub struct Compiled {
    pub loaded: Loaded,
    /// Where it was found (path or `builtin:...`).
    pub display: String,
    pub text: String,
    pub stages: HashMap<String, StageAssets>,
    fingerprint: u64,
    assets: Vec<(Kind, String)>,
}

impl Compiled {
    /// The typed workflow (always present in a compiled one).
    ///
    /// # Panics
    /// Never: only loads with a workflow are compiled.
    #[must_use]
    pub fn workflow(&self) -> &Workflow {
        self.loaded
            .workflow
            .as_ref()
            .expect("compiled workflows always have a workflow")
    }

    #[must_use]
    pub fn machine(&self) -> &crate::compile::Machine {
        self.loaded
            .machine
            .as_ref()
            .expect("compiled workflows always have a machine")
    }

    #[must_use]
    pub fn assets(&self, stage: &str) -> StageAssets {
        self.stages.get(stage).cloned().unwrap_or_default()
    }
}

struct Entry {
    fingerprint: u64,
    good: Option<Arc<Compiled>>,
    /// Findings of the newest version on disk when it failed to validate.
    problems: Vec<Record>,
}

/// The workflows of a home, compiled on demand and recompiled when their files change.
pub struct Library {
    pub home: Home,
    cache: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library").finish_non_exhaustive()
    }
}

/// A workflow ready to run, and the findings of a newer edit that was refused (if any).
#[derive(Debug, Clone)]
pub struct Current {
    pub compiled: Arc<Compiled>,
    pub refused_edit: Vec<Record>,
}

impl Library {
    #[must_use]
    pub fn new(home: Home) -> Self {
        Self {
            home,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Names of the workflows in the home.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.home.names(Kind::Workflow)
    }

    /// The current good version of a workflow, recompiling it if its files changed.
    ///
    /// # Errors
    /// An unknown workflow, or one that never validated.
    pub fn get(&self, name: &str) -> Result<Current, Failure> {
        let asset = match self.home.find(Kind::Workflow, name) {
            Ok(Some(a)) => a,
            Ok(None) => {
                let names = self.names();
                return Err(Failure::new(
                    "unknown_workflow",
                    format!("there is no workflow `{name}`"),
                    format!(
                        "use one of: {}; or add workflows/{name}.kdl to the project's .maestro/",
                        names.join(", ")
                    ),
                ));
            }
            Err(e) => {
                return Err(Failure::new(
                    "unreadable_workflow",
                    e.to_string(),
                    "check the file's permissions",
                ));
            }
        };
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let previous = cache.get(name);
        let fp = self.fingerprint(
            &asset.bytes,
            previous
                .and_then(|e| e.good.as_ref())
                .map_or(&[][..], |c| &c.assets[..]),
        );
        if let Some(entry) = previous.filter(|e| e.fingerprint == fp) {
            return match &entry.good {
                Some(good) => Ok(Current {
                    compiled: good.clone(),
                    refused_edit: entry.problems.clone(),
                }),
                None => Err(never_valid(name, &entry.problems)),
            };
        }
        let fresh = self.compile(&asset.display, &asset.bytes);
        let entry = match fresh {
            Ok(c) => {
                let fp = self.fingerprint(&asset.bytes, &c.assets);
                Entry {
                    fingerprint: fp,
                    good: Some(Arc::new(Compiled {
                        fingerprint: fp,
                        ..c
                    })),
                    problems: Vec::new(),
                }
            }
            Err(problems) => Entry {
                fingerprint: fp,
                good: previous.and_then(|e| e.good.clone()),
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
        cache.insert(name.to_string(), entry);
        out
    }

    fn fingerprint(&self, workflow: &[u8], assets: &[(Kind, String)]) -> u64 {
        let mut h = DefaultHasher::new();
        workflow.hash(&mut h);
        for (kind, name) in assets {
            match self.home.find(*kind, name) {
                Ok(Some(a)) => a.bytes.hash(&mut h),
                _ => 0u8.hash(&mut h),
            }
        }
        h.finish()
    }

    fn compile(&self, display: &str, bytes: &[u8]) -> Result<Compiled, Vec<Record>> {
        let format = Format::from_path(display)
            .unwrap_or_else(|| Format::sniff(&String::from_utf8_lossy(bytes)));
        let mut linter = Linter::new(self.home.clone());
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
        let text = loaded.source.text.to_string();
        let mut stages = HashMap::new();
        let mut used = Vec::new();
        if let Some(wf) = loaded.workflow.as_ref() {
            for stage in &wf.stages {
                let s = &stage.settings;
                let mut assets = StageAssets::default();
                if let Some(role) = &s.role {
                    assets.role = self.text(Kind::Role, &role.value);
                    used.push((Kind::Role, role.value.clone()));
                }
                if let Some(skill) = &s.skill {
                    assets.skill = self.text(Kind::Skill, &skill.value);
                    used.push((Kind::Skill, skill.value.clone()));
                }
                if let Some(out) = &s.output {
                    used.push((Kind::Schema, out.value.clone()));
                    if let Some(schema) = self
                        .text(Kind::Schema, &out.value)
                        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                    {
                        assets.validator = crate::schema::compile(&schema).ok().map(Arc::new);
                        assets.schema = Some(schema);
                    }
                }
                stages.insert(stage.name.value.clone(), assets);
            }
        }
        used.sort_by(|a, b| (a.0 as u8, &a.1).cmp(&(b.0 as u8, &b.1)));
        used.dedup();
        Ok(Compiled {
            loaded,
            display: display.to_string(),
            text,
            stages,
            fingerprint: 0,
            assets: used,
        })
    }

    fn text(&self, kind: Kind, name: &str) -> Option<String> {
        self.home
            .find(kind, name)
            .ok()
            .flatten()
            .map(|a| String::from_utf8_lossy(&a.bytes).into_owned())
    }
}

impl Compiled {
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

fn never_valid(name: &str, problems: &[Record]) -> Failure {
    let first = problems.first().map_or_else(String::new, |r| {
        format!(
            ": {} at {}:{}:{}: {}",
            r.rule, r.file, r.line, r.column, r.message
        )
    });
    Failure::new(
        "invalid_workflow",
        format!(
            "workflow `{name}` does not validate ({} errors){first}",
            problems.len()
        ),
        "run `maestro validate` to see every finding and fix them".to_string(),
    )
    .with_details(serde_json::to_value(problems).unwrap_or(Value::Null))
}
