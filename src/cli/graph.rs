//! `maestro graph`.

use super::args::{GraphArgs, GraphFormat};
use super::{EXIT_FATAL, EXIT_FINDINGS, EXIT_OK, print_err, print_out};
use crate::compile::{SvgMarks, to_dot, to_mermaid, to_svg};
use crate::diagnostic::Severity;
use crate::home::{Home, Kind};
use crate::lint::Linter;
use crate::render;
use crate::syntax::ast::Format;

pub(super) fn run(args: &GraphArgs, home: Home) -> i32 {
    let looks_like_path =
        args.workflow.contains('/') || Format::from_path(&args.workflow).is_some();
    let (name, bytes) = if looks_like_path {
        match std::fs::read(&args.workflow) {
            Ok(b) => (args.workflow.clone(), b),
            Err(err) => {
                print_err(&format!("error: cannot read {}: {err}\n", args.workflow));
                return EXIT_FATAL;
            }
        }
    } else {
        match home.find(Kind::Workflow, &args.workflow) {
            Ok(Some(asset)) => (asset.display, asset.bytes),
            Ok(None) => {
                let known = home.names(Kind::Workflow).join(", ");
                print_err(&format!(
                    "error: no workflow named `{}` (known: {known})\n",
                    args.workflow
                ));
                return EXIT_FATAL;
            }
            Err(err) => {
                print_err(&format!("error: {err}\n"));
                return EXIT_FATAL;
            }
        }
    };
    let format = Format::from_path(&name).unwrap_or(Format::Kdl);
    let mut linter = Linter::new(home);
    let loaded = linter.workflow_bytes(&name, &bytes, format);
    let errors: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .cloned()
        .collect();
    let (Some(wf), Some(machine)) = (&loaded.workflow, &loaded.machine) else {
        print_err(&render::human_plain(&errors));
        return EXIT_FINDINGS;
    };
    if !errors.is_empty() {
        print_err(&render::human_plain(&errors));
        print_err("the graph below is drawn from a workflow with errors\n");
    }
    let lang = args
        .lang
        .clone()
        .unwrap_or_else(|| wf.default_lang().to_string());
    let out = match args.format {
        GraphFormat::Mermaid => to_mermaid(wf, machine, &lang),
        GraphFormat::Dot => to_dot(wf, machine, &lang),
        GraphFormat::Svg => to_svg(wf, machine, &lang, &SvgMarks::default()),
    };
    print_out(&out);
    if errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    }
}
