//! Prompts (one slash command per workflow) and resources (workflows with diagrams, roles,
//! skills, schemas, runs, policy).

use rmcp::ErrorData;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResult, Prompt, PromptArgument, PromptMessage,
    ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role,
};

use std::collections::HashSet;

use crate::diagnostic::rules::BUILTIN_PROMPTS;
use crate::engine::Engine;
use crate::home::Kind;

const POLICY: &str = "# Coordination policy\n\n\
- Capability threshold (Kim et al. 2025): when a single agent's baseline confidence is at least 0.45, \
adding agents tends to lower accuracy; ask one model.\n\
- Independent agents amplify errors about 17.2x; centralized coordination about 4.4x. Prefer `sas` or \
`centralized`.\n\
- MAKER voting: first-to-ahead-by-k; k_min grows with ln(steps) and shrinks as per-step accuracy p grows. \
Red-flagged answers (too long, malformed) are discarded, never repaired.\n\
- Budgets: consults per visit and per run are enforced by the engine; a spent budget refuses further \
consults with the counts left.\n";

/// What a prompt name stands for.
enum Target {
    Builtin(&'static str),
    Workflow(String),
}

/// Every prompt name and what it runs: the built-in prompts under their names
/// ([`BUILTIN_PROMPTS`]), each workflow under its own — or as `run-<name>` when a built-in
/// prompt has it (`maestro validate` warns: `prompt-name-taken`). Names never repeat: a
/// client would show one prompt and hide the other.
fn names(engine: &Engine) -> Vec<(String, Target)> {
    let mut taken: HashSet<String> = BUILTIN_PROMPTS.iter().map(|n| (*n).to_string()).collect();
    let mut out = Vec::new();
    for name in engine.library.names() {
        let mut prompt = if taken.contains(&name) {
            format!("run-{name}")
        } else {
            name.clone()
        };
        // A workflow may itself be called `run-consult`: number the later one.
        let mut n = 2;
        while taken.contains(&prompt) {
            prompt = format!("run-{name}-{n}");
            n += 1;
        }
        taken.insert(prompt.clone());
        out.push((prompt, Target::Workflow(name)));
    }
    out.extend(
        BUILTIN_PROMPTS
            .iter()
            .map(|n| ((*n).to_string(), Target::Builtin(n))),
    );
    out
}

/// A built-in prompt: what it does, its one argument, and its text for that argument.
struct Builtin {
    summary: &'static str,
    arg: &'static str,
    arg_description: &'static str,
    text: fn(&str) -> String,
}

impl Builtin {
    fn argument(&self) -> PromptArgument {
        PromptArgument::new(self.arg)
            .with_description(self.arg_description)
            .with_required(true)
    }
}

/// The built-in prompt of each name in [`BUILTIN_PROMPTS`].
fn builtin(name: &str) -> Option<Builtin> {
    match name {
        "consult" => Some(Builtin {
            summary: "Ask another model for a second opinion",
            arg: "question",
            arg_description: "What to ask",
            text: |question| {
                format!(
                    "Use the maestro `consult` tool to ask another model (codex, gemini or claude) this. \
                     Pass the files it should read as `files` (paths or globs) and the change as \
                     `diff` (`staged`, `unstaged` or `base:<ref>`) instead of pasting them; add \
                     `run_id` when a run is active. Weigh its answer against your own before \
                     acting, and follow up with its `thread_id` if something is unclear:\n\n{question}"
                )
            },
        }),
        _ => None,
    }
}

/// One prompt per workflow, plus the built-in ones.
pub(super) fn prompts(engine: &Engine) -> Vec<Prompt> {
    names(engine)
        .into_iter()
        .filter_map(|(prompt, target)| match target {
            Target::Builtin(name) => {
                let b = builtin(name)?;
                Some(Prompt::new(
                    prompt,
                    Some(b.summary),
                    Some(vec![b.argument()]),
                ))
            }
            Target::Workflow(name) => {
                let summary = engine
                    .library
                    .get(&name)
                    .ok()
                    .and_then(|c| {
                        let wf = c.compiled.workflow();
                        wf.summary
                            .as_ref()
                            .and_then(|s| s.get(wf.default_lang(), wf.default_lang()))
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| format!("Run the `{name}` workflow"));
                Some(Prompt::new(
                    prompt,
                    Some(summary),
                    Some(vec![
                        PromptArgument::new("task")
                            .with_description("What the run should achieve")
                            .with_required(true),
                    ]),
                ))
            }
        })
        .collect()
}

/// The text of one prompt.
pub(super) fn prompt(
    engine: &Engine,
    req: &GetPromptRequestParams,
) -> Result<GetPromptResult, ErrorData> {
    let arg = |k: &str| {
        req.arguments
            .as_ref()
            .and_then(|a| a.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let target = names(engine)
        .into_iter()
        .find(|(name, _)| *name == req.name)
        .map(|(_, t)| t);
    let text = match target {
        Some(Target::Builtin(name)) => {
            let b = builtin(name).ok_or_else(|| {
                ErrorData::internal_error(format!("built-in prompt `{name}` has no text"), None)
            })?;
            (b.text)(&arg(b.arg))
        }
        Some(Target::Workflow(name)) => format!(
            "Run this task through the maestro workflow `{name}`.\n\n\
             1. Call `start` with workflow `{name}` and the task below (add files, facts, errors \
             and constraints you already know as context).\n\
             2. For each stage: read the brief, do the work, `submit` an object matching its \
             output_schema; fix and resubmit if refused.\n\
             3. At each gate, wait for the person's decision (they may answer a form, or run \
             `maestro approve <id>` in a terminal); never decide a human gate yourself.\n\
             4. Continue with the next brief until the run reaches an end.\n\nTask: {task}",
            task = arg("task")
        ),
        None => {
            return Err(ErrorData::invalid_params(
                format!(
                    "no prompt `{}`; list them with prompts/list",
                    req.name.chars().take(80).collect::<String>()
                ),
                None,
            ));
        }
    };
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(
        Role::User,
        text,
    )]))
}

/// Concrete resources: every workflow, role, skill and schema, the policy, and recent runs.
pub(super) fn resources(engine: &Engine) -> Vec<Resource> {
    let home = &engine.library.home;
    let mut out = Vec::new();
    for (kind, seg, mime) in [
        (Kind::Workflow, "workflows", "text/markdown"),
        (Kind::Role, "roles", "text/plain"),
        (Kind::Skill, "skills", "text/markdown"),
        (Kind::Schema, "schemas", "application/json"),
    ] {
        for name in home.names(kind) {
            out.push(
                Resource::new(format!("maestro://{seg}/{name}"), format!("{seg}/{name}"))
                    .with_mime_type(mime),
            );
        }
    }
    out.push(Resource::new("maestro://policy", "policy").with_mime_type("text/markdown"));
    if let Ok(runs) = engine.runs(false) {
        for r in runs.iter().take(20) {
            out.push(
                Resource::new(
                    format!("maestro://runs/{}", r.run_id),
                    format!("run {}", r.run_id),
                )
                .with_description(r.task.chars().take(80).collect::<String>())
                .with_mime_type("application/json"),
            );
        }
    }
    out
}

pub(super) fn templates() -> Vec<ResourceTemplate> {
    [
        "workflows",
        "roles",
        "skills",
        "schemas",
        "runs",
        "consults",
        "threads",
    ]
    .into_iter()
    .map(|seg| {
        let key = if matches!(seg, "runs" | "consults" | "threads") {
            "id"
        } else {
            "name"
        };
        ResourceTemplate::new(format!("maestro://{seg}/{{{key}}}"), seg)
    })
    .collect()
}

/// Reads a resource by URI.
pub(super) fn read(engine: &Engine, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let not_found = || {
        ErrorData::resource_not_found(
            format!("no resource `{uri}`; list them with resources/list"),
            None,
        )
    };
    let rest = uri.strip_prefix("maestro://").ok_or_else(not_found)?;
    let text = if rest == "policy" {
        POLICY.to_string()
    } else {
        let (seg, name) = rest.split_once('/').ok_or_else(not_found)?;
        match seg {
            "runs" => {
                let view = engine.status(name).map_err(|_| not_found())?;
                let log = engine.log(name).map_err(|_| not_found())?;
                serde_json::to_string_pretty(&serde_json::json!({"run": view, "events": log}))
                    .unwrap_or_default()
            }
            // A consult's whole answer, for a tool result that had to be cut.
            "consults" => engine.turn(name).map_err(|_| not_found())?.answer,
            "threads" => {
                let turns = engine.thread(name).map_err(|_| not_found())?;
                serde_json::to_string_pretty(&turns).unwrap_or_default()
            }
            "workflows" => {
                let asset = engine
                    .library
                    .home
                    .find(Kind::Workflow, name)
                    .ok()
                    .flatten()
                    .ok_or_else(not_found)?;
                let source = String::from_utf8_lossy(&asset.bytes).into_owned();
                let diagram = engine.library.get(name).ok().map(|c| {
                    crate::compile::to_mermaid(
                        c.compiled.workflow(),
                        c.compiled.machine(),
                        c.compiled.workflow().default_lang(),
                    )
                });
                let fence = if asset.display.ends_with(".kdl") {
                    "kdl"
                } else {
                    "yaml"
                };
                format!(
                    "# Workflow `{name}`\n\n```mermaid\n{}```\n\n```{fence}\n{source}```\n",
                    diagram.unwrap_or_default()
                )
            }
            "roles" | "skills" | "schemas" => {
                let kind = match seg {
                    "roles" => Kind::Role,
                    "skills" => Kind::Skill,
                    _ => Kind::Schema,
                };
                let asset = engine
                    .library
                    .home
                    .find(kind, name)
                    .ok()
                    .flatten()
                    .ok_or_else(not_found)?;
                String::from_utf8_lossy(&asset.bytes).into_owned()
            }
            _ => return Err(not_found()),
        }
    };
    Ok(ReadResourceResult::new(vec![ResourceContents::text(
        text, uri,
    )]))
}
