//! `upgrade`: a person moves a run to the current version of its workflow, after seeing what
//! changed. Runs never move by themselves.
//!
//! The preview is a structural diff of the two versions (`tree`: every field of the typed
//! workflow and the hash of every file it read), each difference judged by one rule table
//! (`rules`) and, separately, the gates a new transition lets runs go around (`reach`). It is
//! "wording only" only when every difference is in human-facing text.

mod line;
mod reach;
mod rules;
mod tree;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::super::events::RunEvent;
use super::super::library::{Compiled, Snapshot};
use super::super::model::RunStatus;
use super::super::views::RunSummary;
use super::super::{Engine, Failure};
use crate::engine::FailureCode;

/// What moving a run to the current version would change.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct UpgradePreview {
    pub run_id: String,
    pub workflow: String,
    /// The version the run is pinned to.
    pub from: String,
    /// The current version of the workflow file.
    pub to: String,
    /// One line per difference, as `maestro upgrade` prints it: `!` loosens control, `?`
    /// changes control in a way to review, `+` tightens; the ones that loosen come first.
    pub changes: Vec<String>,
    /// Every difference, structured, in the order of `changes`.
    pub diff: Vec<Change>,
    /// Whether any difference loosens the person's control over the run.
    pub loosens_control: bool,
    /// Whether nothing but human-facing text, comments or layout differs.
    pub wording_only: bool,
}

/// What a difference does to the person's control over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Effect {
    /// Human-facing text only (titles, summaries, question wording, languages).
    Wording,
    /// Written differently, the same in effect.
    Neutral,
    /// More control: a gate, a check or a lower limit.
    Tightens,
    /// Changes what the run does in a way no rule can rank: read it before moving.
    Review,
    /// Less control: a gate removed or auto-approved, edits allowed, a limit raised or removed.
    Loosens,
}

impl Effect {
    /// The mark in front of a printed change.
    #[must_use]
    pub(crate) const fn mark(self) -> char {
        match self {
            Effect::Loosens => '!',
            Effect::Review => '?',
            Effect::Tightens => '+',
            Effect::Neutral => '~',
            Effect::Wording => ' ',
        }
    }

    #[must_use]
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Effect::Loosens => "loosens control",
            Effect::Review => "changes control; review",
            Effect::Tightens => "tightens control",
            Effect::Neutral => "same in effect",
            Effect::Wording => "wording",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One difference between the pinned and the current version.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Change {
    /// Where: `stages[analyze].consult.from-visit`, `assets[roles/analyst]` (a file's
    /// SHA-256), `reach[done]` (the gates every path to `done` passes).
    pub path: String,
    pub kind: ChangeKind,
    /// The value in the pinned version (absent when added).
    pub before: Option<Value>,
    /// The value in the current version (absent when removed).
    pub after: Option<Value>,
    pub effect: Effect,
    /// Why the change has this effect.
    pub why: String,
    /// What changed, for a person.
    pub line: String,
}

impl Change {
    /// The change as one printed line: mark, what changed, effect and why.
    #[must_use]
    pub(crate) fn summary(&self) -> String {
        match self.effect {
            Effect::Wording => format!("  {} [wording]", self.line),
            e => format!("{} {} [{}: {}]", e.mark(), self.line, e.label(), self.why),
        }
    }
}

/// A run moved to a new version.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Upgrade {
    pub preview: UpgradePreview,
    pub run: RunSummary,
}

impl Engine {
    /// What `upgrade` would change, without changing anything.
    ///
    /// # Errors
    /// An unknown or finished run, a current file that does not validate, or a current
    /// version without the stage the run is in.
    pub(crate) fn upgrade_preview(&self, run_id: &str) -> Result<UpgradePreview, Failure> {
        self.plan_upgrade(run_id).map(|(preview, _)| preview)
    }

    /// The preview and the current version it was computed against.
    fn plan_upgrade(&self, run_id: &str) -> Result<(UpgradePreview, Arc<Compiled>), Failure> {
        let (run, from) = self.read_run(run_id)?;
        if run.status == RunStatus::Finished {
            return Err(Failure::run_finished(&run));
        }
        let to = self.library.get(&run.workflow)?.compiled;
        if let Some(stage) = &run.stage
            && to.workflow().stage(stage).is_none()
        {
            return Err(Failure::new(
                FailureCode::StageGone,
                format!(
                    "the current `{}` has no stage `{stage}`, where run {run_id} is",
                    run.workflow
                ),
                "restore the stage in the workflow file, or finish this run on its own version",
            ));
        }
        let diff = if from.version() == to.version() {
            Vec::new()
        } else {
            differences(&from, &to)
        };
        let wording_only =
            from.version() != to.version() && diff.iter().all(|c| c.effect == Effect::Wording);
        let mut changes: Vec<String> = diff.iter().map(Change::summary).collect();
        if wording_only {
            changes.push(if diff.is_empty() {
                "wording only (comments or layout): nothing that controls the run differs".into()
            } else {
                "wording only: nothing that controls the run differs".into()
            });
        }
        let preview = UpgradePreview {
            run_id: run.id.clone(),
            workflow: run.workflow.clone(),
            from: from.version().to_string(),
            to: to.version().to_string(),
            changes,
            loosens_control: diff.iter().any(|c| c.effect == Effect::Loosens),
            wording_only,
            diff,
        };
        Ok((preview, to))
    }

    /// Moves a run to the current version, if it is still the one the person saw (`to`).
    ///
    /// # Errors
    /// As [`Engine::upgrade_preview`], or `conflict` when the file changed since the preview.
    pub(crate) fn upgrade(&self, run_id: &str, to: &str) -> Result<Upgrade, Failure> {
        let (preview, target) = self.plan_upgrade(run_id)?;
        if preview.to != to {
            return Err(super::conflict(&format!("workflow `{}`", preview.workflow)));
        }
        if preview.from == preview.to {
            return Err(Failure::new(
                FailureCode::UpToDate,
                format!(
                    "run {run_id} already uses the current version {}",
                    Snapshot::short(to)
                ),
                "nothing to do",
            ));
        }
        let ((), run, _) = self.mutate(run_id, |tx, _, run, events| {
            if run.workflow_version.as_deref() != Some(preview.from.as_str()) {
                return Err(super::conflict(&format!("run {run_id}")));
            }
            self.save_version(tx, &target)?;
            run.workflow_version = Some(to.to_string());
            events.push(RunEvent::WorkflowUpgraded {
                from: preview.from.clone(),
                to: to.to_string(),
                changes: preview.changes.clone(),
            });
            Ok(())
        })?;
        Ok(Upgrade {
            preview,
            run: RunSummary::of(&run),
        })
    }
}

/// Every difference between two versions, judged; the ones that loosen control first.
fn differences(a: &Compiled, b: &Compiled) -> Vec<Change> {
    let (before, after) = match (tree::of(a), tree::of(b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => {
            return vec![Change {
                path: String::new(),
                kind: ChangeKind::Changed,
                before: None,
                after: None,
                effect: Effect::Review,
                why: format!("the versions could not be compared ({e})"),
                line: "the workflow changed in a way maestro cannot list".into(),
            }];
        }
    };
    let sides = rules::Sides {
        before: &before,
        after: &after,
    };
    let mut out: Vec<Change> = tree::diff(&before, &after)
        .into_iter()
        .map(|d| {
            let verdict = rules::judge(&sides, &d.path, d.before.as_ref(), d.after.as_ref());
            Change {
                path: tree::path_text(&d.path),
                kind: match (&d.before, &d.after) {
                    (None, _) => ChangeKind::Added,
                    (_, None) => ChangeKind::Removed,
                    _ => ChangeKind::Changed,
                },
                line: line::describe(&d.path, d.before.as_ref(), d.after.as_ref()),
                before: d.before.as_ref().map(tree::Node::to_json),
                after: d.after.as_ref().map(tree::Node::to_json),
                effect: verdict.effect,
                why: verdict.why,
            }
        })
        .collect();
    for skip in reach::skipped(a.workflow(), b.workflow()) {
        let names = skip
            .gates
            .iter()
            .map(|g| format!("`{g}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(Change {
            path: format!("reach[{}]", skip.place),
            kind: ChangeKind::Changed,
            before: Some(Value::from(skip.before.into_iter().collect::<Vec<_>>())),
            after: Some(Value::from(skip.after.into_iter().collect::<Vec<_>>())),
            effect: Effect::Loosens,
            why: format!("a transition now goes around the gate of {names}"),
            line: format!(
                "`{}` can now be reached without a decision at stage {names}",
                skip.place
            ),
        });
    }
    // Stable: within one effect, path order.
    out.sort_by_key(|c| std::cmp::Reverse(c.effect));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::Library;
    use crate::engine::library::SnapshotFile;
    use crate::home::{Home, Kind};

    /// A version compiled from `text` and `files` (`(kind, name, text)`), all in memory.
    fn version(text: &str, files: &[(Kind, &str, &str)]) -> Arc<Compiled> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(text);
        for (_, name, body) in files {
            h.update(name);
            h.update(body);
        }
        let snapshot = Snapshot {
            version: tree::hex(&h.finalize()),
            name: "t".into(),
            display: "t.kdl".into(),
            text: text.into(),
            files: files
                .iter()
                .map(|(kind, name, text)| SnapshotFile {
                    kind: *kind,
                    name: (*name).into(),
                    text: (*text).into(),
                })
                .collect(),
        };
        Library::new(Home::pinned(BTreeMap::new()))
            .pinned(&snapshot)
            .unwrap_or_else(|f| panic!("{}: {}\n{text}", f.code, f.message))
    }

    /// The audit's workflow: a read-only analysis that may consult from visit 3, behind a
    /// person's gate, then `improve` with 30 minutes of working time.
    const BASE: &str = r#"workflow "t" {
    version 1
    start "analyze"
    budget consults=6 wall="1h"
    policy preset="default"
    stage "analyze" {
        title "Analysis"
        edits #false
        max-visits 3
        wall "30m"
        consult max=2 from-visit=3 context-chars=20000
        context files=3
        red-flags max-chars=5000 min-chars=2 hedging=#true
        gate {
            by "human"
            question "complete" priority="critical" {
                text "Is it complete?"
                options "Yes" "No"
            }
        }
        next "improve" when="output.ok"
    }
    stage "improve" {
        wall "30m"
        next "done"
    }
    end "done"
}"#;

    fn preview(a: &str, b: &str) -> (Vec<Change>, bool) {
        let (x, y) = (version(a, &[]), version(b, &[]));
        assert_ne!(x.version(), y.version(), "the test edit changed nothing");
        let diff = differences(&x, &y);
        let wording = diff.iter().all(|c| c.effect == Effect::Wording);
        (diff, wording)
    }

    fn edit(from: &str, to: &str) -> String {
        assert!(BASE.contains(from), "{from}");
        BASE.replacen(from, to, 1)
    }

    #[test]
    fn each_loosening_is_found_at_its_path() {
        let cases = [
            ("edits #false", "edits #true", "stages[analyze].edits"),
            ("edits #false\n", "", "stages[analyze].edits"),
            ("from-visit=3 ", "", "stages[analyze].consult.from-visit"),
            (
                "from-visit=3",
                "from-visit=2",
                "stages[analyze].consult.from-visit",
            ),
            (
                "wall \"30m\"\n        next \"done\"",
                "wall \"3h\"\n        next \"done\"",
                "stages[improve].wall-secs",
            ),
            ("max-visits 3", "max-visits 9", "stages[analyze].max-visits"),
            ("max=2", "max=5", "stages[analyze].consult.max"),
            ("consults=6 ", "", "budget.consults"),
            ("wall=\"1h\"", "wall=\"2h\"", "budget.wall-secs"),
            (
                "context-chars=20000",
                "context-chars=90000",
                "stages[analyze].consult.context-chars",
            ),
            ("files=3", "files=30", "stages[analyze].context.files"),
            (
                "max-chars=5000",
                "max-chars=50000",
                "stages[analyze].red-flags.max-chars",
            ),
            (" hedging=#true", "", "stages[analyze].red-flags.hedging"),
            (
                "min-chars=2",
                "min-chars=1",
                "stages[analyze].red-flags.min-chars",
            ),
            ("by \"human\"", "by \"any\"", "stages[analyze].gate.by"),
            (
                "by \"human\"",
                "by \"human\"\n            timeout \"1s\" on-timeout=\"approve\"",
                "stages[analyze].gate.timeout-secs",
            ),
            (
                "priority=\"critical\"",
                "priority=\"high\"",
                "stages[analyze].gate.questions[complete].priority",
            ),
            (
                " when=\"output.ok\"",
                "",
                "stages[analyze].next[improve].when",
            ),
            (
                "preset=\"default\"",
                "preset=\"aggressive\"",
                "policy.preset",
            ),
            (
                "context-chars=20000",
                "context-chars=20000 { ensemble #true; }",
                "stages[analyze].consult.ensemble",
            ),
        ];
        for (from, to, path) in cases {
            let (diff, wording) = preview(BASE, &edit(from, to));
            let found = diff.iter().find(|c| c.path == path);
            assert!(
                found.is_some_and(|c| c.effect == Effect::Loosens),
                "`{from}` → `{to}`: {path} not marked as loosening in {diff:#?}"
            );
            assert!(!wording, "`{from}` → `{to}` called wording only");
        }
    }

    #[test]
    fn a_removed_gate_or_question_loosens_as_one_change() {
        let gate = BASE
            .find("        gate {")
            .zip(BASE.find("        next \"improve\""))
            .unwrap();
        let no_gate = format!("{}{}", &BASE[..gate.0], &BASE[gate.1..]);
        let (diff, _) = preview(BASE, &no_gate);
        let c = diff
            .iter()
            .find(|c| c.path == "stages[analyze].gate")
            .unwrap_or_else(|| panic!("{diff:#?}"));
        assert_eq!((c.kind, c.effect), (ChangeKind::Removed, Effect::Loosens));
        assert!(c.line.contains("gate removed"), "{}", c.line);

        let q = BASE
            .find("            question")
            .zip(BASE.find("        }\n        next"))
            .unwrap();
        let no_question = format!("{}{}", &BASE[..q.0], &BASE[q.1..]);
        let (diff, _) = preview(BASE, &no_question);
        assert!(
            diff.iter()
                .any(|c| c.path == "stages[analyze].gate.questions" && c.effect == Effect::Loosens),
            "{diff:#?}"
        );
    }

    #[test]
    fn a_transition_around_a_gate_loosens_even_when_no_gate_changed() {
        let before = r#"workflow "t" {
    version 1
    start "work"
    stage "work" { next "review"; }
    stage "review" {
        gate { by "human"; }
        next "done"
    }
    end "done"
}"#;
        let after = before.replace(
            "stage \"work\" { next \"review\"; }",
            "stage \"work\" { next \"done\" when=\"output.quick\"; next \"review\"; }",
        );
        let (diff, _) = preview(before, &after);
        let skip = diff
            .iter()
            .find(|c| c.path == "reach[done]")
            .unwrap_or_else(|| panic!("{diff:#?}"));
        assert_eq!(skip.effect, Effect::Loosens);
        assert!(skip.line.contains("`review`"), "{}", skip.line);
        assert!(
            diff.iter()
                .any(|c| c.path == "stages[work].next[done]" && c.effect == Effect::Review),
            "{diff:#?}"
        );
        // Edges are tried in file order: putting the unguarded one first changes which wins.
        let guarded = before.replace(
            "stage \"work\" { next \"review\"; }",
            "stage \"work\" { next \"review\" when=\"output.risky\"; next \"done\"; }",
        );
        let reordered = guarded.replace(
            "next \"review\" when=\"output.risky\"; next \"done\";",
            "next \"done\"; next \"review\" when=\"output.risky\";",
        );
        let (diff, wording) = preview(&guarded, &reordered);
        assert!(!wording);
        assert_eq!(
            diff.iter()
                .map(|c| (c.path.as_str(), c.effect))
                .collect::<Vec<_>>(),
            [("stages[work].next.order", Effect::Review)]
        );
        // Leaving the gated stage on `exhausted` takes no decision either.
        let exhausted = before.replace(
            "        next \"done\"\n    }",
            "        max-visits 2\n        next \"done\"\n        next \"out\" on=\"exhausted\"\n    }\n    end \"out\"",
        );
        let (diff, _) = preview(before, &exhausted);
        assert!(
            diff.iter().all(|c| !c.path.starts_with("reach[")),
            "a new place is not a skipped gate: {diff:#?}"
        );
    }

    #[test]
    fn a_comment_or_a_title_is_wording_only() {
        let commented = BASE.replace("    stage \"improve\"", "    // why\n    stage \"improve\"");
        let (diff, wording) = preview(BASE, &commented);
        assert!(diff.is_empty(), "{diff:#?}");
        assert!(wording);

        let (diff, wording) = preview(
            BASE,
            &edit("title \"Analysis\"", "title \"Look\" ko=\"보기\""),
        );
        assert!(wording, "{diff:#?}");
        assert!(
            diff.iter()
                .all(|c| c.path.starts_with("stages[analyze].title.")),
            "{diff:#?}"
        );
        let renamed = diff
            .iter()
            .find(|c| c.kind == ChangeKind::Changed)
            .unwrap_or_else(|| panic!("{diff:#?}"));
        assert_eq!(
            renamed.summary(),
            "  stage `analyze`: title `Analysis` → title `Look` [wording]"
        );

        let (diff, wording) = preview(BASE, &edit("Is it complete?", "Is anything missing?"));
        assert!(wording, "{diff:#?}");
        assert_eq!(diff.len(), 1, "{diff:#?}");
        // The answers offered are not wording: dropping "No" pre-answers a critical question.
        let (diff, wording) = preview(BASE, &edit("options \"Yes\" \"No\"", "options \"Yes\""));
        assert!(!wording);
        assert_eq!(diff[0].effect, Effect::Review, "{diff:#?}");
    }

    #[test]
    fn tightening_is_not_loosening_and_an_alias_is_the_same_limit() {
        let (diff, wording) = preview(
            BASE,
            &edit(
                "wall \"30m\"\n        next \"done\"",
                "edits #false\n        wall \"10m\"\n        next \"done\"",
            ),
        );
        assert!(!wording);
        assert!(
            diff.iter().all(|c| c.effect == Effect::Tightens),
            "{diff:#?}"
        );
        // The same 20,000 characters, written in the newer spelling.
        let (diff, _) = preview(
            BASE,
            &edit("context-chars=20000", "").replace("files=3", "files=3 chars=20000"),
        );
        assert!(
            diff.iter().all(|c| c.effect == Effect::Neutral),
            "{diff:#?}"
        );
    }

    #[test]
    fn a_changed_role_file_is_shown_by_its_hash_and_never_as_wording() {
        let text = edit("edits #false", "edits #false\n        role \"analyst\"");
        let x = version(&text, &[(Kind::Role, "analyst", "Look only.")]);
        let y = version(&text, &[(Kind::Role, "analyst", "Fix anything you like.")]);
        let diff = differences(&x, &y);
        assert_eq!(diff.len(), 1, "{diff:#?}");
        assert_eq!(diff[0].path, "assets[roles/analyst]");
        assert_eq!(diff[0].effect, Effect::Review);
        assert!(
            diff[0]
                .line
                .starts_with("file `roles/analyst` changed (sha256 "),
            "{}",
            diff[0].line
        );
    }

    #[test]
    fn loosening_changes_come_first_and_each_summary_says_so() {
        let (diff, _) = preview(
            BASE,
            &edit("title \"Analysis\"", "title \"Look\"").replace("edits #false", "edits #true"),
        );
        assert_eq!(diff[0].effect, Effect::Loosens);
        assert!(diff[0].summary().starts_with("! "), "{}", diff[0].summary());
        assert!(diff[0].summary().contains("loosens control"));
        assert_eq!(diff.last().map(|c| c.effect), Some(Effect::Wording));
    }

    /// Every setting a real workflow writes has a rule of its own: the fallback ("review")
    /// is for settings added to the model later, not for ones that exist today.
    #[test]
    fn every_setting_in_use_has_a_rule() {
        let vote = edit(
            "context files=3",
            "context files=3\n        vote target=0.99 p=0.9 steps=20 k=3 max-samples=12",
        );
        let mut trees = vec![
            tree::of(&version(BASE, &[])).unwrap(),
            tree::of(&version(&vote, &[])).unwrap(),
        ];
        let library = Library::new(Home::builtin());
        for name in ["default", "analyze", "consult", "review"] {
            let current = library
                .get(name)
                .unwrap_or_else(|f| panic!("{name}: {}", f.message));
            trees.push(tree::of(&current.compiled).unwrap());
        }
        let empty = tree::Node::Map(BTreeMap::new());
        let mut missing = std::collections::BTreeSet::new();
        for t in &trees {
            let sides = rules::Sides {
                before: t,
                after: &empty,
            };
            for d in tree::diff(t, &empty) {
                let mut stack = vec![(d.path, d.before.unwrap())];
                while let Some((path, node)) = stack.pop() {
                    match node {
                        tree::Node::Map(m) => {
                            for (seg, child) in m {
                                let mut p = path.clone();
                                p.push(seg);
                                stack.push((p, child));
                            }
                        }
                        leaf @ tree::Node::Leaf(_) => {
                            if rules::judge(&sides, &path, Some(&leaf), None).why == rules::NO_RULE
                            {
                                missing.insert(tree::shape(&path));
                            }
                        }
                    }
                }
            }
        }
        assert!(missing.is_empty(), "settings without a rule: {missing:?}");
    }

    #[test]
    fn the_preview_has_a_schema_naming_every_effect() {
        let schema = serde_json::to_value(schemars::schema_for!(UpgradePreview)).unwrap();
        for field in ["changes", "diff", "loosens_control", "wording_only"] {
            assert!(
                schema["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|f| f == field)),
                "{field} missing from {schema}"
            );
        }
        let text = schema.to_string();
        for effect in ["wording", "neutral", "tightens", "review", "loosens"] {
            assert!(text.contains(&format!("\"{effect}\"")), "{effect}: {text}");
        }
    }
}
