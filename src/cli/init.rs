//! `maestro init`: writes the built-in defaults into `./.maestro/` for editing.

use std::path::Path;

use super::args::InitArgs;
use super::{EXIT_FATAL, EXIT_OK, print_err, print_out};
use crate::init::{InitReport, init};

pub(super) fn run(args: &InitArgs) -> i32 {
    let cwd = std::env::current_dir().unwrap_or_else(|_| Path::new(".").to_path_buf());
    if args.claude {
        let user_settings =
            crate::workspace::confine::claude_user_dir().map(|d| d.join("settings.json"));
        match crate::init::init_claude(&cwd, !args.no_hooks, args.force, user_settings.as_deref()) {
            Ok(setup) => {
                let mut out = String::new();
                for f in setup.written {
                    out.push_str(&format!("wrote  {f}\n"));
                }
                for w in setup.warnings {
                    print_err(&format!(
                        "warning: {w} (kept because of --force: maestro's hooks do not hold \
                         Claude Code until it is removed)\n"
                    ));
                }
                if !args.no_hooks {
                    out.push_str(
                        "hooks  Claude Code's tools that can change something are held while a \
                         run waits for you (only reads pass), and its file writes in read-only \
                         stages (remove the `maestro hook` entries from .claude/settings.json to \
                         turn this off)\n",
                    );
                }
                print_out(&out);
                if !on_path("maestro") {
                    print_err(
                        "note: `maestro` is not on PATH, and Claude Code starts it (and its \
                         hooks) by that name: add the folder that holds it (for `cargo install`, \
                         ~/.cargo/bin) to PATH\n",
                    );
                }
            }
            Err(err) => {
                print_err(&format!("error: {err}\n"));
                return EXIT_FATAL;
            }
        }
    }
    match init(&cwd, args.force) {
        Ok(InitReport {
            written,
            kept,
            unchanged,
        }) => {
            let mut out = String::new();
            match crate::init::propose_checks(&cwd) {
                Ok(Some(p)) => out.push_str(&proposed(&p)),
                Ok(None) => {}
                Err(e) => print_err(&format!("warning: {e}\n")),
            }
            for f in &written {
                out.push_str(&format!("wrote  .maestro/{f}\n"));
            }
            for f in &kept {
                out.push_str(&format!(
                    "kept   .maestro/{f} (you edited it; --force overwrites)\n"
                ));
            }
            out.push_str(&format!(
                "{} written, {} kept, {} already current. Edit .maestro/, then run `maestro validate`.\n",
                written.len(),
                kept.len(),
                unchanged
            ));
            print_out(&out);
            EXIT_OK
        }
        Err(err) => {
            print_err(&format!("error: {err}\n"));
            EXIT_FATAL
        }
    }
}

/// The checks `init` proposed, each one's command, what is not installed and what was left out.
fn proposed(p: &crate::init::ProposedChecks) -> String {
    let mut out = format!(
        "wrote  {} (checks for this project type; edit to taste)\n",
        p.file
    );
    for (name, argv) in &p.proposal.checks {
        out.push_str(&format!("         {name:<6} {}\n", argv.join(" ")));
    }
    for m in &p.proposal.missing {
        out.push_str(&format!("missing  {m}\n"));
    }
    for l in &p.proposal.left_out {
        out.push_str(&format!("skipped  {l}\n"));
    }
    if !p.proposal.missing.is_empty() {
        out.push_str(
            "         a check whose program is missing reports `cannot run` until it is installed; \
             `maestro doctor` checks them all\n",
        );
    }
    out
}

/// Whether an executable named `name` is in a folder on PATH.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            let file = dir.join(name);
            file.is_file() || file.with_extension("exe").is_file()
        })
    })
}

/// The `mcpServers` JSON for `.mcp.json` or `~/.claude.json`.
pub(super) fn mcp_config_json() -> String {
    let v = serde_json::json!({"mcpServers": {"maestro": crate::init::server_entry()}});
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
