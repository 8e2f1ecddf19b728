//! The one list of lint rules: stable ids, severities, one-line summaries and documentation.
//!
//! Ids are part of maestro's public contract (`--format json`, docs, CI annotations): never rename
//! one. Each rule's longer documentation is `docs/rules/<id>.md`, compiled in as [`Rule::doc`]
//! (what `maestro rules --explain ID` prints).

use super::Severity;

macro_rules! rules {
    ($( $variant:ident = $id:literal, $sev:ident, $summary:literal; )*) => {
        /// A lint rule of `maestro validate`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule { $( $variant, )* }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[ $( Rule::$variant, )* ];

            /// The stable kebab-case id.
            #[must_use]
            pub const fn id(self) -> &'static str {
                match self { $( Rule::$variant => $id, )* }
            }

            #[must_use]
            pub const fn severity(self) -> Severity {
                match self { $( Rule::$variant => Severity::$sev, )* }
            }

            /// What the rule finds, in one line.
            #[must_use]
            pub(crate) const fn summary(self) -> &'static str {
                match self { $( Rule::$variant => $summary, )* }
            }

            /// The rule's whole documentation: `docs/rules/<id>.md`, as Markdown.
            #[must_use]
            pub(crate) const fn doc(self) -> &'static str {
                match self {
                    $( Rule::$variant => include_str!(concat!(
                        env!("CARGO_MANIFEST_DIR"), "/docs/rules/", $id, ".md"
                    )), )*
                }
            }
        }
    };
}

rules! {
    Syntax = "syntax", Error, "the KDL or YAML does not parse";
    UnknownKey = "unknown-key", Error, "an unknown node, key or property";
    MissingKey = "missing-key", Error, "a required node, key or argument is absent";
    DuplicateKey = "duplicate-key", Error, "given twice where once is allowed";
    BadValue = "bad-value", Error, "a value of the wrong type or out of range";
    BadName = "bad-name", Error, "a name breaks the naming rule [a-z][a-z0-9_-]*, at most 48 characters";
    DuplicateStage = "duplicate-stage", Error, "two stages, or a stage and an end, share a name";
    UnknownStage = "unknown-stage", Error, "`start` or `next` names no stage or end";
    UnreachableStage = "unreachable-stage", Warning, "no path from `start` reaches the stage";
    DeadEnd = "dead-end", Error, "a stage with no `next` at all";
    NoEnd = "no-end", Error, "no end is reachable from `start`";
    TrappedStage = "trapped-stage", Error, "no end is reachable from this stage";
    UnboundedLoop = "unbounded-loop", Error, "a cycle in which no stage has `max-visits`";
    NoDefaultEdge = "no-default-edge", Warning, "every edge for some event has a `when`: a submit can match nothing";
    BadExpression = "bad-expression", Error, "a `when` expression does not parse";
    ConstantCondition = "constant-condition", Warning, "a `when` that is always true or always false";
    UnknownOutputField = "unknown-output-field", Warning, "`when` reads `output.x` but the stage's schema has no property `x`";
    UnknownRole = "unknown-role", Error, "the referenced role template is missing";
    UnknownSkill = "unknown-skill", Error, "the referenced skill is missing";
    UnknownSchema = "unknown-schema", Error, "the referenced output schema is missing";
    UnknownReport = "unknown-report", Error, "the referenced report template is missing";
    UnknownProvider = "unknown-provider", Error, "the referenced provider is not configured";
    TemplateError = "template-error", Error, "a role or report template does not parse";
    UndefinedVariable = "undefined-variable", Error, "a role template or a `when` uses a variable outside its documented context";
    BadSchema = "bad-schema", Error, "an output schema is not valid JSON Schema, or uses a remote `$ref`";
    BudgetConflict = "budget-conflict", Warning, "a stage's `consult max` exceeds the run's `budget consults`, or its context budget is set twice with different values";
    UnreachableLimit = "unreachable-limit", Warning, "a stage limit that never takes effect: `consult from-visit` past `max-visits`, or a stage `wall` no shorter than the run's";
    RiskyTopology = "risky-topology", Warning, "`ensemble #true` with topology `sas`, or topology `independent` (17.2x error amplification)";
    VoteDiverges = "vote-diverges", Error, "a vote with p <= 0.5, target >= 1 or target <= 0 can never be met";
    MissingTranslation = "missing-translation", Warning, "`lang` lists a language that a title or question lacks";
    PromptNameTaken = "prompt-name-taken", Warning, "a workflow is named like a built-in MCP prompt, so its prompt is listed as `run-<name>`";
}

/// The names of the MCP server's built-in prompts (`mcp/catalog.rs` writes them), the one
/// list: they keep their names, a workflow named like one is listed as `run-<name>`, and
/// `maestro validate` warns about it (`prompt-name-taken`).
pub const BUILTIN_PROMPTS: &[&str] = &["consult"];

impl Rule {
    /// Looks a rule up by its id.
    #[must_use]
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for rule in Rule::ALL {
            assert!(seen.insert(rule.id()), "duplicate id {}", rule.id());
            assert!(
                rule.id()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-')
            );
            assert_eq!(Rule::from_id(rule.id()), Some(*rule));
        }
        assert_eq!(Rule::ALL.len(), 31);
    }

    #[test]
    fn every_rule_has_its_documentation_compiled_in() {
        for rule in Rule::ALL {
            let doc = rule.doc();
            let title = doc.lines().next().unwrap_or_default();
            assert_eq!(
                title,
                format!("# {}", rule.id()),
                "docs/rules/{}.md",
                rule.id()
            );
            assert!(
                doc.contains(&format!("**Severity:** {}", rule.severity().as_str())),
                "docs/rules/{}.md states another severity",
                rule.id()
            );
            assert!(
                doc.contains("```kdl"),
                "docs/rules/{}.md has no example",
                rule.id()
            );
        }
    }
}
