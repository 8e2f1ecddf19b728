//! Text → typed workflow and compiled machine, with the findings of every stage on the way
//! (syntax, shape, names, guards). The asset, graph and policy rules run after, in `lint`.

use std::sync::Arc;

use crate::compile::{self, Machine};
use crate::diagnostic::{Diagnostic, Rule};
use crate::source::{SourceFile, Span};
use crate::syntax::ast::{Format, Node};
use crate::syntax::{kdl, keys, shape, yaml};
use crate::workflow::{self, Workflow};

/// A workflow file after loading. `workflow` and `machine` are present whenever the file had a
/// usable `workflow` node, even if it has findings, so later rules can still run.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub source: Arc<SourceFile>,
    pub format: Format,
    pub workflow: Option<Workflow>,
    pub(crate) machine: Option<Machine>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads a workflow from raw bytes (non-UTF-8 input is a `syntax` finding, never a panic).
#[must_use]
pub fn load_bytes(name: &str, bytes: &[u8], format: Format) -> Loaded {
    let (source, bad_utf8) = SourceFile::from_bytes(name, bytes);
    let source = Arc::new(source);
    if let Some(at) = bad_utf8 {
        let diag = Diagnostic::new(
            Rule::Syntax,
            &source,
            Span::new(at, at + 1),
            "the file is not valid UTF-8",
        )
        .with_help("save the file as UTF-8");
        return Loaded {
            source,
            format,
            workflow: None,
            machine: None,
            diagnostics: vec![diag],
        };
    }
    load(source, format)
}

/// The typed workflow of a file that compiled before (a pinned version), without the shape
/// check and the machine: for readers that only need stage settings (`maestro hook`, on every
/// tool call). `None` when it does not parse.
#[must_use]
pub(crate) fn workflow_only(name: &str, text: &str, format: Format) -> Option<Workflow> {
    let source = Arc::new(SourceFile::new(name, text));
    let mut diags = Vec::new();
    parse_root(&source, format, &mut diags).map(|root| workflow::lower(&root, &source, format))
}

fn parse_root(
    source: &Arc<SourceFile>,
    format: Format,
    diags: &mut Vec<Diagnostic>,
) -> Option<Node> {
    match format {
        Format::Kdl => kdl::parse(source, diags).and_then(|nodes| kdl_root(nodes, source, diags)),
        Format::Yaml => yaml::parse(source, diags),
    }
}

/// Loads a workflow from a source file.
#[must_use]
pub(crate) fn load(source: Arc<SourceFile>, format: Format) -> Loaded {
    let mut diags = Vec::new();
    let root = parse_root(&source, format, &mut diags);
    let Some(root) = root else {
        return Loaded {
            source,
            format,
            workflow: None,
            machine: None,
            diagnostics: diags,
        };
    };
    shape::check(&root, &keys::WORKFLOW, &source, &mut diags);
    let wf = workflow::lower(&root, &source, format);
    let machine = compile::compile(&wf, &mut diags);
    Loaded {
        source,
        format,
        workflow: Some(wf),
        machine: Some(machine),
        diagnostics: diags,
    }
}

/// Picks the single `workflow` node of a KDL document.
fn kdl_root(
    nodes: Vec<Node>,
    source: &Arc<SourceFile>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Node> {
    let mut root: Option<Node> = None;
    for node in nodes {
        if node.name.value != "workflow" {
            diags.push(
                Diagnostic::new(
                    Rule::UnknownKey,
                    source,
                    node.name.span,
                    format!("unknown top-level node `{}`", node.name.value),
                )
                .with_help(
                    if node.name.value == "stage" || node.name.value == "end" {
                        format!(
                            "put `{}` inside `workflow \"name\" {{ ... }}`",
                            node.name.value
                        )
                    } else {
                        "a workflow file holds one `workflow \"name\" { ... }` node".to_string()
                    },
                ),
            );
        } else if let Some(first) = &root {
            diags.push(
                Diagnostic::new(
                    Rule::DuplicateKey,
                    source,
                    node.name.span,
                    "a second `workflow` in one file",
                )
                .with_related(first.name.span, "the first one")
                .with_help("put each workflow in its own file"),
            );
        } else {
            root = Some(node);
        }
    }
    if root.is_none() {
        diags.push(
            Diagnostic::new(
                Rule::MissingKey,
                source,
                Span::new(0, 0),
                "the file has no `workflow` node",
            )
            .with_help("start with `workflow \"name\" { version 1; start \"first-stage\"; ... }`"),
        );
    }
    root
}
