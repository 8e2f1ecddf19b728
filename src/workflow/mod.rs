//! The typed workflow: what a workflow file means, with the spans findings point at.
//!
//! `lower` builds it from a checked syntax tree; values that failed the shape check are simply
//! absent here, so later passes never see a wrongly typed value.

mod lower;
mod sets;

use std::sync::Arc;

pub(crate) use lower::lower;
pub(crate) use sets::{BuiltinEvent, PresetLimits};
pub(crate) use sets::{GateBy, OnTimeout, Preset, Priority, Topology};

use crate::source::{SourceFile, Span};
use crate::syntax::ast::{Format, Spanned};

/// The default language when a workflow has no `lang`.
pub(crate) const DEFAULT_LANG: &str = "en";
/// Kim et al.'s capability threshold: above it, more agents stop paying.
pub(crate) const DEFAULT_CAPABILITY_THRESHOLD: f64 = 0.45;
pub(crate) const DEFAULT_MAX_AGENTS: u32 = 3;

/// Serialised (spans, source and syntax left out) so two versions can be compared field by
/// field: `maestro upgrade` diffs these trees, so a new field is compared without anyone
/// remembering to list it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Workflow {
    #[serde(skip)]
    pub source: Arc<SourceFile>,
    /// The same workflow written in the other syntax means the same thing.
    #[serde(skip)]
    pub format: Format,
    pub name: Spanned<String>,
    pub version: Option<i128>,
    pub summary: Option<Texts>,
    pub start: Option<Spanned<String>>,
    /// Languages for human-facing text; the first is the default.
    pub langs: Vec<Spanned<String>>,
    pub budget: Budget,
    pub policy: Policy,
    pub stages: Vec<Stage>,
    pub ends: Vec<Spanned<String>>,
    /// The whole `workflow` node.
    #[serde(skip)]
    pub span: Span,
}

impl Workflow {
    #[must_use]
    pub fn default_lang(&self) -> &str {
        self.langs
            .first()
            .map_or(DEFAULT_LANG, |l| l.value.as_str())
    }

    #[must_use]
    pub(crate) fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name.value == name)
    }

    #[must_use]
    pub(crate) fn is_end(&self, name: &str) -> bool {
        self.ends.iter().any(|e| e.value == name)
    }
}

/// Human-facing text in several languages: `title "Analysis" ko="분석"`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Texts {
    /// The unnamed argument: text in the workflow's default language.
    pub default: Option<Spanned<String>>,
    pub by_lang: Vec<(String, Spanned<String>)>,
    #[serde(skip)]
    pub span: Span,
}

impl Texts {
    /// The text in `lang`, falling back to the default language's text.
    #[must_use]
    pub(crate) fn get(&self, lang: &str, default_lang: &str) -> Option<&str> {
        self.exact(lang, default_lang)
            .or_else(|| self.exact(default_lang, default_lang))
            .or_else(|| self.by_lang.first().map(|(_, t)| t.value.as_str()))
    }

    /// The text in exactly `lang`, without falling back.
    #[must_use]
    pub fn exact(&self, lang: &str, default_lang: &str) -> Option<&str> {
        if let Some((_, t)) = self.by_lang.iter().find(|(l, _)| l == lang) {
            return Some(&t.value);
        }
        (lang == default_lang)
            .then(|| self.default.as_ref().map(|t| t.value.as_str()))
            .flatten()
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Budget {
    pub consults: Option<Spanned<u32>>,
    pub wall_secs: Option<u64>,
    pub tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    #[serde(skip)]
    pub span: Option<Span>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Policy {
    pub capability_threshold: f64,
    /// `max-agents` as written, else the preset's.
    pub max_agents: u32,
    pub preset: Preset,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            capability_threshold: DEFAULT_CAPABILITY_THRESHOLD,
            max_agents: DEFAULT_MAX_AGENTS,
            preset: Preset::Default,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Stage {
    pub name: Spanned<String>,
    pub title: Option<Texts>,
    /// Flattened: the settings are written in the stage's own block.
    #[serde(flatten)]
    pub settings: Settings,
    pub next: Vec<Edge>,
    /// `next` entries with no usable target (a shape finding already says why). The graph rules
    /// stay quiet about this stage's exits rather than echo that finding.
    pub invalid_next: usize,
    #[serde(skip)]
    pub span: Span,
}

impl Stage {
    /// The event a plain acceptance fires: `approved` behind a gate, `done` without one.
    #[must_use]
    pub(crate) fn default_event(&self) -> BuiltinEvent {
        if self.settings.gate.is_some() {
            BuiltinEvent::Approved
        } else {
            BuiltinEvent::Done
        }
    }

    #[must_use]
    pub fn topology(&self) -> Topology {
        self.settings
            .topology
            .as_ref()
            .map(|t| t.value)
            .unwrap_or_default()
    }

    /// Whether the orchestrator may edit files while a run is in this stage (`edits`).
    #[must_use]
    pub(crate) fn edits(&self) -> bool {
        self.settings.edits.as_ref().is_none_or(|e| e.value)
    }

    #[must_use]
    pub fn max_visits(&self) -> Option<u32> {
        self.settings.max_visits.as_ref().map(|m| m.value)
    }

    /// The characters of context one consult (or the brief) may carry: `context chars`, else
    /// `consult context-chars`, else `None` (the packing default).
    #[must_use]
    pub fn context_chars(&self) -> Option<u32> {
        let s = &self.settings;
        s.context
            .chars
            .as_ref()
            .or(s.consult.context_chars.as_ref())
            .map(|c| c.value)
    }

    /// The first visit that may consult (1 when unset).
    #[must_use]
    pub(crate) fn consult_from_visit(&self) -> u32 {
        self.settings
            .consult
            .from_visit
            .as_ref()
            .map_or(1, |v| v.value)
    }

    #[must_use]
    pub fn wall_secs(&self) -> Option<u64> {
        self.settings.wall_secs.as_ref().map(|w| w.value)
    }
}

/// Everything a stage may set and `defaults` may supply.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Settings {
    pub role: Option<Spanned<String>>,
    pub skill: Option<Spanned<String>>,
    /// The template of the stage's report for the person; `default` when unset.
    pub report: Option<Spanned<String>>,
    pub output: Option<Spanned<String>>,
    pub topology: Option<Spanned<Topology>>,
    pub max_visits: Option<Spanned<u32>>,
    /// `wall`: the stage's working time over all its visits, in seconds.
    pub wall_secs: Option<Spanned<u64>>,
    pub consult: Consult,
    pub context: ContextLimits,
    pub red_flags: RedFlags,
    pub vote: Option<Vote>,
    pub gate: Option<Gate>,
    /// `edits`: whether the orchestrator may edit files in this stage (`true` when unset).
    pub edits: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Consult {
    /// Consults allowed per visit; ensemble members and vote samples count.
    pub max: Option<Spanned<u32>>,
    /// Characters of packed context (files, diff, facts) a consult in this stage may carry
    /// (`context-chars`).
    pub context_chars: Option<Spanned<u32>>,
    /// The first visit in which a consult is allowed (`from-visit`); earlier visits allow none.
    pub from_visit: Option<Spanned<u32>>,
    pub prefer: Vec<Spanned<String>>,
    pub ensemble: Option<Spanned<bool>>,
    #[serde(skip)]
    pub span: Option<Span>,
}

impl Consult {
    #[must_use]
    pub fn ensemble(&self) -> bool {
        self.ensemble.as_ref().is_some_and(|e| e.value)
    }
}

/// `context files=.. lines=.. error-lines=.. chars=..`: what a stage's context may hold.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ContextLimits {
    pub files: Option<u32>,
    /// Lines per file.
    pub lines: Option<u32>,
    /// Lines of error output (the newest kept).
    pub error_lines: Option<u32>,
    pub chars: Option<Spanned<u32>>,
    #[serde(skip)]
    pub span: Option<Span>,
}

/// Red-flag thresholds (MAKER): an answer that trips one is discarded, never repaired.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RedFlags {
    pub max_chars: Option<u64>,
    pub min_chars: Option<u64>,
    pub max_tokens: Option<u64>,
    pub hedging: Option<bool>,
    pub format: Option<String>,
    pub schema: Option<String>,
    pub dangerous_commands: Option<bool>,
    pub dangerous_code: Option<bool>,
    pub forbidden_files: Option<bool>,
    pub max_files: Option<u64>,
    #[serde(skip)]
    pub span: Option<Span>,
    #[serde(skip)]
    pub schema_span: Option<Span>,
}

/// Defaults for the `vote` tool in a stage: a fixed margin `k`, or one derived from a target.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Vote {
    pub k: Option<u32>,
    pub max_samples: Option<u32>,
    pub target: Option<Spanned<f64>>,
    pub p: Option<Spanned<f64>>,
    pub steps: Option<u32>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Gate {
    pub by: GateBy,
    pub timeout_secs: Option<u64>,
    pub on_timeout: Option<OnTimeout>,
    pub questions: Vec<Question>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Question {
    pub id: Spanned<String>,
    pub priority: Priority,
    pub text: Texts,
    /// Answer options: `(None, ..)` in the default language, `(Some(lang), ..)` translated.
    /// Empty: a free-text answer.
    pub options: Vec<(Option<String>, Vec<String>)>,
    #[serde(skip)]
    pub span: Span,
}

impl Question {
    /// The options in `lang`, falling back to the untranslated list.
    #[must_use]
    pub fn options_in(&self, lang: &str) -> &[String] {
        self.options
            .iter()
            .find(|(l, _)| l.as_deref() == Some(lang))
            .or_else(|| self.options.iter().find(|(l, _)| l.is_none()))
            .map_or(&[], |(_, o)| o.as_slice())
    }
}

/// `next "target" on="event" when="guard"`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Edge {
    pub to: Spanned<String>,
    pub on: Option<Spanned<String>>,
    pub when: Option<Spanned<String>>,
    #[serde(skip)]
    pub span: Span,
}

impl Edge {
    /// The event this edge listens for, given the stage's default.
    #[must_use]
    pub fn event<'a>(&'a self, stage: &'a Stage) -> &'a str {
        self.on
            .as_ref()
            .map_or(stage.default_event().as_str(), |o| o.value.as_str())
    }

    /// Whether this edge listens for the built-in event `ev`.
    #[must_use]
    pub(crate) fn listens_for(&self, stage: &Stage, ev: BuiltinEvent) -> bool {
        self.event(stage) == ev.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_serde_and_refuse_unknown_values() {
        fn round<T>(values: &[T], name: impl Fn(T) -> &'static str)
        where
            T: Copy + PartialEq + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
        {
            for &v in values {
                let json = serde_json::to_value(v).unwrap();
                assert_eq!(json, serde_json::Value::from(name(v)));
                assert_eq!(serde_json::from_value::<T>(json).unwrap(), v);
            }
            // An unknown value (or a differently cased one) is an error, never a default.
            assert!(serde_json::from_str::<T>("\"bogus\"").is_err());
            assert!(
                serde_json::from_str::<T>(&format!("\"{}\"", name(values[0]).to_uppercase()))
                    .is_err()
            );
        }
        round(
            &[
                Topology::Sas,
                Topology::Centralized,
                Topology::Independent,
                Topology::Decentralized,
                Topology::Hybrid,
            ],
            Topology::as_str,
        );
        round(&[GateBy::Human, GateBy::Any], GateBy::as_str);
        round(
            &[OnTimeout::Reject, OnTimeout::Revise, OnTimeout::Approve],
            OnTimeout::as_str,
        );
        round(
            &[
                Priority::Critical,
                Priority::High,
                Priority::Medium,
                Priority::Low,
            ],
            Priority::as_str,
        );
    }

    #[test]
    fn parse_and_as_str_agree_with_the_keys_table() {
        use crate::syntax::keys;
        for s in keys::TOPOLOGIES {
            assert_eq!(Topology::parse(s).map(Topology::as_str), Some(*s));
        }
        for s in keys::GATE_BY {
            assert_eq!(GateBy::parse(s).map(GateBy::as_str), Some(*s));
        }
        for s in keys::ON_TIMEOUT {
            assert_eq!(OnTimeout::parse(s).map(OnTimeout::as_str), Some(*s));
        }
        for s in keys::PRIORITIES {
            assert_eq!(Priority::parse(s).map(Priority::as_str), Some(*s));
        }
    }

    #[test]
    fn json_schemas_list_exactly_the_values() {
        let schema = serde_json::to_value(schemars::schema_for!(OnTimeout)).unwrap();
        let values = schema["enum"].as_array().cloned().unwrap_or_default();
        assert_eq!(values, ["reject", "revise", "approve"]);
    }

    #[test]
    fn edits_is_read_in_both_forms_inherited_from_defaults_and_true_when_unset() {
        let load = |name: &str, text: &str| {
            let format = if name.ends_with(".yaml") {
                crate::syntax::ast::Format::Yaml
            } else {
                crate::syntax::ast::Format::Kdl
            };
            let loaded = crate::loader::load_bytes(name, text.as_bytes(), format);
            assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
            loaded.workflow.unwrap()
        };
        let kdl = load(
            "w.kdl",
            r#"workflow "w" {
    version 1
    start "a"
    defaults { edits #false }
    stage "a" { next "b" }
    stage "b" { edits #true; next "done" }
    end "done"
}"#,
        );
        assert!(!kdl.stage("a").unwrap().edits());
        assert!(kdl.stage("b").unwrap().edits());
        let yaml = load(
            "w.yaml",
            "workflow: w\nversion: 1\nstart: a\nstages:\n  a:\n    edits: false\n    next: [{to: b}]\n  b:\n    next: [{to: done}]\nends: [done]\n",
        );
        assert!(!yaml.stage("a").unwrap().edits());
        assert!(
            yaml.stage("b").unwrap().edits(),
            "unset means edits are allowed"
        );
        // The shipped workflows: looking stages are read-only, working stages are not.
        for (file, stage, edits) in [
            ("default.kdl", "analyze", false),
            ("default.kdl", "hypothesize", false),
            ("default.kdl", "implement", true),
            ("default.kdl", "debug", true),
            ("default.kdl", "improve", true),
            ("analyze.kdl", "analyze", false),
            ("review.yaml", "review", false),
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("workflows")
                .join(file);
            let wf = load(file, &std::fs::read_to_string(path).unwrap());
            assert_eq!(wf.stage(stage).unwrap().edits(), edits, "{file} {stage}");
        }
    }
}
