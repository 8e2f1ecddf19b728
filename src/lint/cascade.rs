//! Findings that follow from other findings: (workflow, the findings of loading it) → for each
//! stage, the settings it was given but did not get.
//!
//! A typo (`max-vists 3`), a bad value (`max-visits 0`) or a syntax error inside a stage leaves
//! a setting unset. A rule that reads that setting would then report what its absence seems to
//! cause — an unbounded loop, with help to add the bound that is written right there. That
//! finding follows from the first and is left out: the first one is the thing to fix, and
//! fixing it fixes both. So every rule that reads a stage setting is listed in [`READS`] with
//! the settings it reads, and asks [`Unset::explains`] before it speaks.
//!
//! A finding belongs to the stage whose span holds it. One in the workflow outside every stage
//! (in `defaults`) counts for every stage; the rules ask only about stages that have no value
//! of their own, so a stage that sets the key itself is unaffected. The keys in [`READS`] exist
//! only in stages and `defaults`, so a finding elsewhere cannot be taken for one of them.

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{Diagnostic, Rule};
use crate::workflow::{Stage, Workflow};

/// Each rule that reads a stage setting, with the settings it reads: the one place that says
/// which findings may follow from a failed setting.
pub(super) const READS: &[(Rule, &[&str])] = &[
    (Rule::UnboundedLoop, &["max-visits"]),
    (Rule::DeadEnd, &["next"]),
    (Rule::TrappedStage, &["next"]),
    (Rule::NoEnd, &["next"]),
    (Rule::RiskyTopology, &["topology"]),
];

/// What each stage failed to set, found from the loader's findings.
#[derive(Default)]
pub(super) struct Unset {
    /// By the start of the stage's span.
    stages: HashMap<usize, Failed>,
    /// Keys that failed outside every stage: in `defaults`.
    defaults: HashSet<&'static str>,
}

#[derive(Default)]
struct Failed {
    keys: HashSet<&'static str>,
    /// A syntax error inside the stage: any of its settings may be lost.
    all: bool,
}

impl Unset {
    #[must_use]
    pub(super) fn new(wf: &Workflow, diags: &[Diagnostic]) -> Self {
        let mut unset = Unset::default();
        // Stages are in file order, so their spans are sorted and do not overlap.
        let starts: Vec<usize> = wf.stages.iter().map(|s| s.span.start).collect();
        let in_file = |d: &&Diagnostic| d.source.as_ref().is_some_and(|s| s.name == wf.source.name);
        for d in diags.iter().filter(in_file) {
            let key = match (d.rule, d.unset) {
                (Rule::Syntax, _) => None,
                (_, Some(key)) => Some(key),
                (_, None) => continue,
            };
            let at = d.span.start;
            let stage = starts
                .partition_point(|&s| s <= at)
                .checked_sub(1)
                .map(|i| &wf.stages[i])
                .filter(|s| at < s.span.end);
            match (stage, key) {
                (Some(s), Some(key)) => {
                    unset
                        .stages
                        .entry(s.span.start)
                        .or_default()
                        .keys
                        .insert(key);
                }
                (Some(s), None) => unset.stages.entry(s.span.start).or_default().all = true,
                (None, Some(key)) => {
                    unset.defaults.insert(key);
                }
                // A syntax error outside every stage loses no stage setting we could name.
                (None, None) => {}
            }
        }
        unset
    }

    /// Whether a finding of `rule` about `stage` would follow from a setting that failed: one
    /// that [`READS`] lists for the rule, written in the stage (or in `defaults`) with a finding
    /// that already says why it has no value.
    #[must_use]
    pub(super) fn explains(&self, rule: Rule, stage: &Stage) -> bool {
        let own = self.stages.get(&stage.span.start);
        READS
            .iter()
            .filter(|(r, _)| *r == rule)
            .flat_map(|(_, keys)| keys.iter())
            .any(|key| {
                self.defaults.contains(key) || own.is_some_and(|f| f.all || f.keys.contains(key))
            })
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::Rule;
    use crate::home::Home;
    use crate::lint::Linter;
    use crate::syntax::ast::Format;

    /// The rules found in `text`, in the order they are reported.
    fn rules(text: &str, format: Format) -> Vec<Rule> {
        let mut linter = Linter::new(Home::builtin());
        let loaded = linter.workflow_bytes("t", text.as_bytes(), format);
        loaded.diagnostics.iter().map(|d| d.rule).collect()
    }

    const LOOP: &str = "workflow \"w\" {\n  version 1\n  start \"work\"\n  end \"done\"\n  end \"gave-up\"\n  stage \"work\" {\n    SETTING\n    next \"check\"\n  }\n  stage \"check\" {\n    next \"work\" on=\"failed\"\n    next \"done\"\n    next \"gave-up\" on=\"exhausted\"\n  }\n}\n";

    fn with(setting: &str) -> Vec<Rule> {
        rules(&LOOP.replace("SETTING", setting), Format::Kdl)
    }

    #[test]
    fn a_bound_that_failed_is_not_reported_missing() {
        assert_eq!(with("max-visits 3"), []);
        assert_eq!(with("max-vists 3"), [Rule::UnknownKey]);
        assert_eq!(with("max-visits 0"), [Rule::BadValue]);
        assert_eq!(with("max-visits \"three\""), [Rule::BadValue]);
        assert_eq!(with("max-visits"), [Rule::MissingKey]);
        assert_eq!(with("max-visits 3x"), [Rule::Syntax]);
        // A typo that means another setting leaves the loop as unbounded as it was.
        assert_eq!(with("rol \"x\""), [Rule::UnboundedLoop, Rule::UnknownKey]);
        // A bound that failed in `defaults` counts for every stage.
        let text = LOOP
            .replace("SETTING", "")
            .replace("  start", "  defaults { max-visits \"3\" }\n  start");
        assert_eq!(rules(&text, Format::Kdl), [Rule::BadValue]);
    }

    #[test]
    fn a_next_that_failed_is_not_a_dead_end() {
        let text = "workflow \"w\" {\n  version 1\n  start \"a\"\n  end \"done\"\n  stage \"a\" {\n    nxt \"done\"\n  }\n}\n";
        assert_eq!(rules(text, Format::Kdl), [Rule::UnknownKey]);
        let yaml =
            "workflow: w\nversion: 1\nstart: a\nends: [done]\nstages:\n  a:\n    nxt: [done]\n";
        assert_eq!(rules(yaml, Format::Yaml), [Rule::UnknownKey]);
        let yaml = "workflow: w\nversion: 1\nstart: a\nends: [done]\nstages:\n  a:\n    next: {to: done}\n";
        assert_eq!(rules(yaml, Format::Yaml), [Rule::BadValue]);
    }

    #[test]
    fn a_topology_that_failed_is_not_taken_for_sas() {
        let text = "workflow \"w\" {\n  version 1\n  start \"a\"\n  end \"done\"\n  stage \"a\" {\n    topolgy \"centralized\"\n    consult { ensemble #true }\n    next \"done\"\n  }\n}\n";
        assert_eq!(rules(text, Format::Kdl), [Rule::UnknownKey]);
        // Unset, the stage is `sas`: the warning stands.
        let unset = text.replace("    topolgy \"centralized\"\n", "");
        assert_eq!(rules(&unset, Format::Kdl), [Rule::RiskyTopology]);
    }
}
