//! `maestro validate`.

use std::io::{IsTerminal, Read};
use std::path::Path;

use super::args::{OutputFormat, ValidateArgs};
use super::{EXIT_FATAL, EXIT_FINDINGS, EXIT_OK, print_err, print_out};
use crate::diagnostic::rules::BUILTIN_PROMPTS;
use crate::diagnostic::{Diagnostic, Rule, Severity};
use crate::home::{Home, Kind, Origin};
use crate::lint::Linter;
use crate::loader::Loaded;
use crate::render;
use crate::syntax::ast::Format;

/// A workflow's findings plus `prompt-name-taken` when its name (as declared, or as listed
/// from its file name) is a built-in MCP prompt's. maestro's own workflows (built in, or
/// copied unchanged by `maestro init`) take such a name on purpose and are not reported.
fn with_prompt_name(loaded: Loaded, listed: Option<&str>, bytes: &[u8]) -> Vec<Diagnostic> {
    let mut diags = loaded.diagnostics;
    let Some(wf) = &loaded.workflow else {
        return diags;
    };
    let taken = [Some(wf.name.value.as_str()), listed]
        .into_iter()
        .flatten()
        .find(|n| BUILTIN_PROMPTS.contains(n));
    let shipped = || {
        crate::home::builtin_files()
            .iter()
            .any(|(rel, text)| rel.starts_with("workflows/") && text.as_bytes() == bytes)
    };
    if let Some(name) = taken
        && !shipped()
    {
        diags.push(
            Diagnostic::new(
                Rule::PromptNameTaken,
                &loaded.source,
                wf.name.span,
                format!(
                    "workflow `{name}` has the name of a built-in MCP prompt: its prompt is listed as `run-{name}`"
                ),
            )
            .with_label("a built-in prompt's name")
            .with_help(format!(
                "rename the workflow and its file if `/run-{name}` is not the slash command you want"
            )),
        );
        crate::diagnostic::sort(&mut diags);
    }
    diags
}

/// Each folder among `paths` replaced by its `.kdl`, `.yaml` and `.yml` files, sorted.
fn expand_dirs(paths: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        if !path.is_dir() {
            out.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path)
            .map_err(|e| format!("error: cannot read {}: {e}\n", path.display()))?;
        let mut found: Vec<std::path::PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && Format::from_path(&p.to_string_lossy()).is_some())
            .collect();
        if found.is_empty() {
            return Err(format!(
                "error: {} holds no workflow file (.kdl, .yaml or .yml)\n",
                path.display()
            ));
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

pub(super) fn run(args: &ValidateArgs, mut home: Home) -> i32 {
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut files = 0usize;
    if args.paths.is_empty() {
        let mut linter = Linter::new(home);
        for name in linter.home.names(Kind::Workflow) {
            match linter.home.find(Kind::Workflow, &name) {
                Ok(Some(asset)) => {
                    let format = Format::from_path(&asset.display).unwrap_or(Format::Kdl);
                    let loaded = linter.workflow_bytes(&asset.display, &asset.bytes, format);
                    diags.extend(with_prompt_name(loaded, Some(name.as_str()), &asset.bytes));
                    files += 1;
                }
                Ok(None) => {}
                Err(err) => {
                    print_err(&format!("error: {err}\n"));
                    return EXIT_FATAL;
                }
            }
        }
        linter.check_providers();
        diags.extend(linter.take_asset_findings());
    } else {
        // A folder stands for the workflow files in it (`maestro validate workflows/`).
        let paths = match expand_dirs(&args.paths) {
            Ok(p) => p,
            Err(msg) => {
                print_err(&msg);
                return EXIT_FATAL;
            }
        };
        // A workflow inside some home's `workflows/` folder uses that home's assets first.
        for path in &paths {
            if let Some(dir) = path
                .parent()
                .filter(|p| p.file_name().is_some_and(|n| n == "workflows"))
                .and_then(Path::parent)
            {
                home.push_front(dir.to_path_buf(), Origin::File);
            }
        }
        let mut linter = Linter::new(home);
        for path in &paths {
            let (name, bytes) = if path.as_os_str() == "-" {
                let mut buf = Vec::new();
                if let Err(err) = std::io::stdin().read_to_end(&mut buf) {
                    print_err(&format!("error: cannot read standard input: {err}\n"));
                    return EXIT_FATAL;
                }
                ("<stdin>".to_string(), buf)
            } else {
                match std::fs::read(path) {
                    Ok(b) => (path.display().to_string(), b),
                    Err(err) => {
                        print_err(&format!("error: cannot read {}: {err}\n", path.display()));
                        return EXIT_FATAL;
                    }
                }
            };
            let format = Format::from_path(&name)
                .unwrap_or_else(|| Format::sniff(&String::from_utf8_lossy(&bytes)));
            let loaded = linter.workflow_bytes(&name, &bytes, format);
            diags.extend(with_prompt_name(loaded, None, &bytes));
            files += 1;
        }
        diags.extend(linter.take_asset_findings());
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    let out = match args.format {
        OutputFormat::Human => render::human(&diags, std::io::stdout().is_terminal()),
        OutputFormat::Json => render::json(&diags),
        OutputFormat::Github => render::github(&diags),
    };
    print_out(&out);
    if args.format == OutputFormat::Human {
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        print_err(&format!(
            "{} checked: {}, {}\n",
            plural(files, "workflow"),
            plural(errors, "error"),
            plural(warnings, "warning")
        ));
    }
    if errors > 0 || (args.deny_warnings && warnings > 0) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}
