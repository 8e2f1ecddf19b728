//! The one list of failure codes: each code's stable spelling, its class (what a door does with
//! it: an HTTP status, whether to retry), what it means and what to do about it.
//!
//! A [`super::Failure`] carries one of these, a message about the case at hand and help for it.
//! Codes are part of maestro's contract (MCP tool errors, `--format json`, the run trail's
//! `output_refused` events): never rename one. `docs/failure-codes.md` is rendered from this
//! list ([`FailureCode::docs`]) and a test keeps the two equal.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What kind of trouble a code reports, so every door treats it the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureClass {
    /// Something the request names does not exist (HTTP 404).
    NotFound,
    /// The request is wrong, or not allowed in the run's present state; change it and ask
    /// again (HTTP 409).
    Refused,
    /// A provider or another outside part failed; retrying later may work (HTTP 503).
    Unavailable,
    /// maestro itself or its state file is at fault (HTTP 500).
    Internal,
}

macro_rules! failure_codes {
    ($( $variant:ident = $code:literal, $class:ident, $meaning:literal, $todo:literal; )*) => {
        /// A failure's stable code. See `docs/failure-codes.md`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum FailureCode { $( $variant, )* }

        impl FailureCode {
            /// Every code, in documentation order.
            pub(crate) const ALL: &'static [FailureCode] = &[ $( FailureCode::$variant, )* ];

            /// The stable snake_case spelling.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $( FailureCode::$variant => $code, )* }
            }

            #[must_use]
            pub(crate) const fn class(self) -> FailureClass {
                match self { $( FailureCode::$variant => FailureClass::$class, )* }
            }

            /// What the code means, in one sentence.
            #[must_use]
            pub(crate) const fn meaning(self) -> &'static str {
                match self { $( FailureCode::$variant => $meaning, )* }
            }

            /// What to do about it in general; each failure's own help is more specific.
            #[must_use]
            pub(crate) const fn todo(self) -> &'static str {
                match self { $( FailureCode::$variant => $todo, )* }
            }
        }
    };
}

failure_codes! {
    // The run and its approvals.
    EmptyTask = "empty_task", Refused, "`start` was given an empty task.", "Describe what the run should achieve.";
    UnknownRun = "unknown_run", NotFound, "No run has this id.", "List the runs (`maestro runs`, the `status` tool) and use one of their ids.";
    WhichRun = "which_run", Refused, "The session has several unfinished runs and the call did not say which it belongs to.", "Pass `run_id`.";
    RunFinished = "run_finished", Refused, "The run has reached an end; nothing more can happen in it.", "Start a new run.";
    ApprovalPending = "approval_pending", Refused, "The run waits for a decision on an approval.", "Wait for the person's decision, then read the run's state again.";
    UnknownApproval = "unknown_approval", NotFound, "No approval has this id.", "Read the run's state for its pending approval.";
    AlreadyDecided = "already_decided", Refused, "The approval was decided before.", "Read the run's state again; it has moved on.";
    HumanGate = "human_gate", Refused, "The approval is for a person to decide, not a tool.", "Ask the person to decide on the approval page, with `maestro approve`, or in the form.";
    UnknownQuestion = "unknown_question", NotFound, "An answer names a question the approval does not have.", "Answer only the approval's questions, by their ids.";
    AnswersRequired = "answers_required", Refused, "A critical question of the approval has no answer.", "Answer every critical question, then decide.";
    RevisionNeedsWords = "revision_needs_words", Refused, "A `revise` decision came without saying what to change.", "Say what should change; the words go to the model with the stage's next brief.";
    Conflict = "conflict", Refused, "The run changed while the request was applied.", "Read its state again and retry.";
    Held = "held", Refused, "A gate or a read-only stage holds this change.", "Wait for the person's decision, or do the change in a stage that allows it.";
    // Stages, output and transitions.
    UnknownStage = "unknown_stage", NotFound, "The workflow has no stage of this name.", "Name one of the workflow's stages.";
    UnknownEvent = "unknown_event", NotFound, "The stage has no transition for this event.", "Use one of the events its `next` lists.";
    OutputInvalid = "output_invalid", Refused, "The stage's output does not match its schema.", "Fix the fields the message names and submit again.";
    RedFlag = "red_flag", Refused, "The output trips one of the stage's red flags.", "Rewrite the flagged part and submit again.";
    NoTransition = "no_transition", Refused, "No transition's guard matched the output.", "Check the output fields the guards read, or name another event.";
    TransitionLoop = "transition_loop", Internal, "Following `exhausted` edges never reached a stage that can run.", "Give the workflow an end or a stage with visits left on that path.";
    // Workflows, versions and the library.
    UnknownWorkflow = "unknown_workflow", NotFound, "No workflow of this name is installed.", "Use one of the workflows the help lists (`maestro workflows`).";
    InvalidWorkflow = "invalid_workflow", Refused, "The workflow file does not validate.", "Run `maestro validate` and fix what it reports.";
    UnreadableWorkflow = "unreadable_workflow", Internal, "The workflow file cannot be read.", "Check the file's permissions.";
    UnsupportedLang = "unsupported_lang", Refused, "The workflow has no text in the asked language.", "Use a language the workflow's `lang` lists.";
    UnknownVersion = "unknown_version", Internal, "The state file has no record of the run's workflow version.", "The state file is damaged: start a new run.";
    VersionUnreadable = "version_unreadable", Internal, "A workflow version the run is pinned to no longer parses.", "Upgrade the run to the current version, or start a new run.";
    StageGone = "stage_gone", Refused, "The run stands in a stage that the workflow no longer has.", "Restore the stage in the workflow file, or start a new run.";
    UpToDate = "up_to_date", Refused, "The run already uses the current workflow version.", "Nothing to upgrade.";
    BadName = "bad_name", Refused, "A name breaks the naming rule.", "Use lowercase letters, digits, `-` and `_`, starting with a letter.";
    UnknownRole = "unknown_role", NotFound, "No role template has this name.", "Use one of the roles the help lists.";
    RoleRenderFailed = "role_render_failed", Refused, "A role template does not render.", "Run `maestro validate` and fix the template.";
    UnknownSchema = "unknown_schema", NotFound, "No output schema has this name.", "Use one of the schemas the help lists.";
    BadSchema = "bad_schema", Refused, "An output schema is not valid JSON Schema.", "Run `maestro validate` and fix the schema.";
    // Consults, threads and budgets.
    NoProvider = "no_provider", Unavailable, "No provider is configured and enabled.", "Run `maestro doctor`, then install a provider CLI or add a provider to `conf/providers.yaml`.";
    UnknownProvider = "unknown_provider", NotFound, "No provider of this name is configured.", "Use one of the providers `maestro doctor` lists.";
    ProviderConfig = "provider_config", Refused, "A provider's configuration entry is not usable.", "Fix its entry in `conf/providers.yaml`; `maestro doctor` says what is wrong.";
    ProviderFailed = "provider_failed", Unavailable, "Every provider asked failed to answer.", "Read each provider's reason; retry later or ask another provider.";
    BudgetExhausted = "budget_exhausted", Refused, "The run's or the stage's consult budget is spent.", "Go on without consulting, or ask the person to raise the budget in the workflow file.";
    ConsultNotYet = "consult_not_yet", Refused, "The stage allows consults only from a later visit.", "Work on this visit without consulting.";
    EnsembleNotAllowed = "ensemble_not_allowed", Refused, "The stage does not fan a question out to several providers.", "Ask one provider.";
    UnknownThread = "unknown_thread", NotFound, "No consult thread has this id.", "Omit `thread_id` to start a new thread.";
    ThreadRun = "thread_run", Refused, "The thread belongs to another run.", "Omit `thread_id`, or pass the run the thread belongs to.";
    ThreadClosed = "thread_closed", Refused, "The thread's run has finished.", "Omit `thread_id` to start a new thread.";
    ThreadProvider = "thread_provider", Refused, "The thread is a conversation with another provider.", "Ask the thread's provider, or start a new thread.";
    UnknownConsult = "unknown_consult", NotFound, "No consult has this id.", "Use an id from the run's consults.";
    NoState = "no_state", Refused, "A run id was given but no state file is open.", "Run inside the project that holds the run.";
    Cancelled = "cancelled", Refused, "The person interrupted the call.", "Ask again if it is still wanted.";
    // Checks of answers, voting, calibration and selection.
    MissingRun = "missing_run", Refused, "`stage` was given without `run_id`.", "Pass the run id together with the stage.";
    StageAndStep = "stage_and_step", Refused, "Both `stage` and `step` were given; each brings its own rules.", "Drop one of them.";
    TooManyAnswers = "too_many_answers", Refused, "More answers were given than the check compares.", "Give fewer answers.";
    UnknownStep = "unknown_step", NotFound, "No micro-step has this name.", "Use one of the micro-steps the help lists.";
    MissingInput = "missing_input", Refused, "A calibration lacks an input it needs.", "Give the inputs the message names.";
    MissingP = "missing_p", Refused, "A calibration has neither `p` nor a way to estimate it.", "Give `p`, or `step_prompt` with `oracle_check`.";
    MissingOracle = "missing_oracle", Refused, "Estimating p needs an oracle check.", "Give `oracle_check` with `expected` or `schema`.";
    TooManySamples = "too_many_samples", Refused, "A calibration asked for more samples than one call draws.", "Ask for fewer samples.";
    CalibrationError = "calibration_error", Refused, "The calibration's numbers cannot give an answer.", "Check p, target and steps.";
    NoCandidates = "no_candidates", Refused, "There is nothing to select from.", "Pass at least one candidate.";
    DuplicateCandidate = "duplicate_candidate", Refused, "Two candidates share an id.", "Give every candidate its own id.";
    UnknownCandidate = "unknown_candidate", NotFound, "A result names something that is not a candidate.", "Name only the candidates given.";
    BadCriteria = "bad_criteria", Refused, "The judging criteria are too many or too long.", "Give fewer, shorter criteria.";
    MissingJudge = "missing_judge", Refused, "Mode `judge` was asked without a judge provider.", "Name a provider as `judge_provider`.";
    JudgeFailed = "judge_failed", Unavailable, "The judge did not give a usable verdict.", "Ask another judge, or select by test results.";
    // The workspace: checks, patches, evidence.
    NoChecks = "no_checks", Refused, "`verify` was asked to run no check.", "Name at least one configured check.";
    UnknownCheck = "unknown_check", NotFound, "No check of this name is configured.", "Name a check from `.maestro/conf/verify.yaml`.";
    PatchRefused = "patch_refused", Refused, "The patch cannot be applied as given.", "Read the reason, fix the patch and send it again; nothing was changed.";
    RestoreRefused = "restore_refused", Refused, "The backup cannot be restored as asked.", "Read the reason; nothing was changed.";
    UnknownLink = "unknown_link", NotFound, "A note links to an evidence entry that does not exist.", "Link only to evidence ids of the run.";
    // maestro itself.
    StateError = "state_error", Internal, "The state file cannot be read or written.", "Read the message: the help says whether to restore, upgrade or check permissions.";
    PageError = "page_error", Internal, "The approval page could not be drawn.", "Report it as a bug in maestro; the run is unchanged.";
    Internal = "internal", Internal, "An operation failed inside maestro.", "Report it as a bug in maestro; nothing was changed.";
}

impl FailureCode {
    /// The code spelled `s`, if any.
    #[must_use]
    pub(crate) fn parse(s: &str) -> Option<FailureCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// `docs/failure-codes.md`: every code with its meaning and what to do, in order.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn docs() -> String {
        let mut s = String::from(
            "# Failure codes\n\n\
             <!-- Rendered from src/engine/failure_codes.rs by a test; edit the list there. -->\n\n\
             Every refusal maestro returns carries one of these codes, a message about the case at \
             hand and help that says what to do. The MCP tools return it as the error text \
             (`message (code)` and `What to do:`), the CLI prints it, and the approval page shows \
             it. Codes are stable: programs may match on them.\n\n\
             | code | class | meaning | what to do |\n|---|---|---|---|\n",
        );
        for c in Self::ALL {
            let class = match c.class() {
                FailureClass::NotFound => "not found",
                FailureClass::Refused => "refused",
                FailureClass::Unavailable => "unavailable",
                FailureClass::Internal => "internal",
            };
            s.push_str(&format!(
                "| `{}` | {class} | {} | {} |\n",
                c.as_str(),
                c.meaning(),
                c.todo()
            ));
        }
        s
    }
}

impl std::fmt::Display for FailureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FailureCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FailureCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FailureCode::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown failure code `{s}`")))
    }
}

impl schemars::JsonSchema for FailureCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FailureCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<&str> = Self::ALL.iter().map(|c| c.as_str()).collect();
        schemars::json_schema!({ "type": "string", "enum": codes })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_read_back() {
        let mut seen = HashSet::new();
        for c in FailureCode::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "`{s}` twice");
            assert!(
                s.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "`{s}` is not snake_case"
            );
            assert_eq!(FailureCode::parse(s), Some(*c));
            assert!(c.meaning().ends_with('.') && c.todo().ends_with('.'), "{s}");
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(serde_json::from_str::<FailureCode>(&json).unwrap(), *c);
        }
        assert!(serde_json::from_str::<FailureCode>("\"no_such_code\"").is_err());
    }

    #[test]
    fn the_docs_list_every_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/failure-codes.md");
        let want = FailureCode::docs();
        if std::env::var_os("MAESTRO_BLESS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/failure-codes.md is out of date; run `MAESTRO_BLESS=1 cargo test --lib failure_codes`"
        );
    }
}
