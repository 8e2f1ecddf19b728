//! Lint rules over a loaded workflow and the assets it uses.
//!
//! Rules are grouped by the pass that computes them (each pass needs the same analysis:
//! graph reachability, guard variables, asset lookups); the one list of rule ids is
//! `diagnostic/rules.rs`, a leaf, so the modules `lint` uses (`schema`, `template`, `syntax`)
//! name rules without importing `lint`: dependencies point one way.
//!
//! Loading itself finds the syntax, shape and naming rules (`loader.rs`). A rule that reads a
//! stage setting stays quiet where loading found that setting broken (`cascade.rs`), so one
//! mistake is reported once.

pub(crate) mod assets;
mod cascade;
mod graph;
mod guards;
mod limits;
mod policy;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::diagnostic::{Diagnostic, Rule};
use crate::home::{Home, Kind};
use crate::loader::{self, Loaded};
use crate::source::SourceFile;
use crate::syntax::ast::Format;

/// Runs every rule, checking each asset once however many workflows use it.
pub struct Linter {
    pub home: Home,
    /// Role and report templates checked so far: whether each exists.
    templates: HashMap<(Kind, String), bool>,
    schemas: HashMap<String, SchemaAsset>,
    /// Asset names per kind (by folder), listed once: a workflow with thousands of stages must
    /// not list a folder per stage.
    names: HashMap<&'static str, Arc<AssetNames>>,
    /// Read on first use; `None` inside if the config has no usable list.
    providers: OnceLock<Option<Vec<String>>>,
    /// Findings in assets (roles, schemas, config), reported once.
    asset_diags: Vec<Diagnostic>,
}

impl Linter {
    #[must_use]
    pub fn new(home: Home) -> Self {
        Self {
            home,
            templates: HashMap::new(),
            schemas: HashMap::new(),
            names: HashMap::new(),
            providers: OnceLock::new(),
            asset_diags: Vec::new(),
        }
    }

    /// As [`Linter::workflow`], from raw bytes.
    pub fn workflow_bytes(&mut self, name: &str, bytes: &[u8], format: Format) -> Loaded {
        let loaded = loader::load_bytes(name, bytes, format);
        self.check_loaded(loaded)
    }

    fn check_loaded(&mut self, mut loaded: Loaded) -> Loaded {
        if let (Some(wf), Some(m)) = (&loaded.workflow, &loaded.machine) {
            let mut diags = std::mem::take(&mut loaded.diagnostics);
            let unset = cascade::Unset::new(wf, &diags);
            graph::check(wf, m, &unset, &mut diags);
            policy::check(wf, &unset, &mut diags);
            limits::check(wf, &mut diags);
            assets::check(self, wf, &mut diags);
            guards::check(self, wf, m, &mut diags);
            loaded.diagnostics = diags;
        }
        dedup(&mut loaded.diagnostics);
        crate::diagnostic::sort(&mut loaded.diagnostics);
        crate::diagnostic::cap(&mut loaded.diagnostics);
        loaded
    }

    /// Findings in the roles, schemas and config the linted workflows use.
    pub fn take_asset_findings(&mut self) -> Vec<Diagnostic> {
        let mut d = std::mem::take(&mut self.asset_diags);
        crate::diagnostic::sort(&mut d);
        crate::diagnostic::cap(&mut d);
        d
    }

    /// The names of the assets of a kind, listed on first use.
    fn names(&mut self, kind: Kind) -> Arc<AssetNames> {
        let home = &self.home;
        Arc::clone(self.names.entry(kind.dir()).or_insert_with(|| {
            let list = home.names(kind);
            let set = list.iter().cloned().collect();
            Arc::new(AssetNames { list, set })
        }))
    }

    /// Whether an asset exists, without touching the disk again.
    fn exists(&mut self, kind: Kind, name: &str) -> bool {
        self.names(kind).set.contains(name)
    }

    /// Whether a role or report template exists; parses and checks it the first time
    /// against the variables its kind is given.
    fn template(&mut self, kind: Kind, name: &str) -> bool {
        let key = (kind, name.to_string());
        if let Some(&ok) = self.templates.get(&key) {
            return ok;
        }
        if !self.exists(kind, name) {
            self.templates.insert(key, false);
            return false;
        }
        let exists = match self.home.find(kind, name) {
            Ok(Some(asset)) => {
                let (src, bad) = SourceFile::from_bytes(asset.display, &asset.bytes);
                let src = Arc::new(src);
                if bad.is_some() {
                    self.asset_diags
                        .push(assets::not_utf8(&src, Rule::TemplateError));
                } else {
                    let context = if kind == Kind::Report {
                        crate::template::Context::Report
                    } else {
                        crate::template::Context::Role
                    };
                    crate::template::check_in(&src, context, &mut self.asset_diags);
                }
                true
            }
            Ok(None) => false,
            Err(err) => {
                self.asset_diags
                    .push(assets::unreadable(&err, Rule::TemplateError));
                true
            }
        };
        self.templates.insert(key, exists);
        exists
    }

    /// The schema of that name, parsed and checked the first time.
    fn schema(&mut self, name: &str) -> SchemaAsset {
        if let Some(v) = self.schemas.get(name) {
            return v.clone();
        }
        if !self.exists(Kind::Schema, name) {
            self.schemas.insert(name.to_string(), SchemaAsset::Missing);
            return SchemaAsset::Missing;
        }
        let result = match self.home.find(Kind::Schema, name) {
            Ok(Some(asset)) => {
                let (src, bad) = SourceFile::from_bytes(asset.display, &asset.bytes);
                let src = Arc::new(src);
                if bad.is_some() {
                    self.asset_diags
                        .push(assets::not_utf8(&src, Rule::BadSchema));
                    SchemaAsset::Unusable
                } else {
                    crate::schema::check(&src, &mut self.asset_diags)
                        .map_or(SchemaAsset::Unusable, |s| SchemaAsset::Usable(Arc::new(s)))
                }
            }
            Ok(None) => SchemaAsset::Missing,
            Err(err) => {
                self.asset_diags
                    .push(assets::unreadable(&err, Rule::BadSchema));
                SchemaAsset::Unusable
            }
        };
        self.schemas.insert(name.to_string(), result.clone());
        result
    }

    /// Provider names from the resolved `conf/providers.yaml`; `None` if it has no usable list.
    fn providers(&mut self) -> Option<Vec<String>> {
        self.providers
            .get_or_init(|| assets::load_provider_names(&self.home, &mut self.asset_diags))
            .clone()
    }
}

/// A schema a stage names, as the linter found it.
#[derive(Clone)]
enum SchemaAsset {
    Missing,
    /// Present but unreadable or not a valid schema (reported once among the asset findings).
    Unusable,
    Usable(Arc<serde_json::Value>),
}

/// The asset names of one kind: sorted for messages, hashed for lookups.
struct AssetNames {
    list: Vec<String>,
    set: std::collections::HashSet<String>,
}

/// Drops repeated findings. A value set in `defaults` is checked once per stage that inherits it,
/// but it is one problem in one place: the same rule, span and message is reported once.
fn dedup(diags: &mut Vec<Diagnostic>) {
    let keep: Vec<bool> = {
        let mut seen = std::collections::HashSet::new();
        diags
            .iter()
            .map(|d| {
                seen.insert((
                    d.rule,
                    d.source.as_ref().map(|s| &*s.name),
                    d.span.start,
                    d.span.end,
                    d.message.as_str(),
                ))
            })
            .collect()
    };
    let mut flags = keep.into_iter();
    diags.retain(|_| flags.next().unwrap_or(true));
}

impl Linter {
    /// Reads the provider config so its findings are reported even when no stage names one.
    pub(crate) fn check_providers(&mut self) {
        let _ = self.providers();
    }
}
