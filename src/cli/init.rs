//! `maestro init`: writes the built-in defaults into `./.maestro/` for editing.

use std::path::Path;

use super::args::InitArgs;
use super::{EXIT_FATAL, EXIT_OK, print_err, print_out};
use crate::init::{InitReport, init};

pub(super) fn run(args: &InitArgs) -> i32 {
    let cwd = std::env::current_dir().unwrap_or_else(|_| Path::new(".").to_path_buf());
    if args.claude {
        match crate::init::init_claude(&cwd, &server_entry()) {
            Ok(written) => {
                let mut out = String::new();
                for f in written {
                    out.push_str(&format!("wrote  {f}\n"));
                }
                print_out(&out);
            }
            Err(err) => {
                print_err(&format!("error: {err}\n"));
                return EXIT_FATAL;
            }
        }
    }
    match init(&cwd.join(".maestro"), args.force) {
        Ok(InitReport {
            written,
            kept,
            unchanged,
        }) => {
            let mut out = String::new();
            match crate::init::propose_checks(&cwd) {
                Ok(Some(f)) => out.push_str(&format!(
                    "wrote  {f} (checks for this project type; edit to taste)\n"
                )),
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

/// How Claude Code should start the server: this executable, `serve`.
fn server_entry() -> serde_json::Value {
    let command = std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .unwrap_or_else(|| "maestro".to_string());
    serde_json::json!({"type": "stdio", "command": command, "args": ["serve"], "env": {}})
}

/// The `mcpServers` JSON for `.mcp.json` or `~/.claude.json`.
pub(super) fn mcp_config_json() -> String {
    let v = serde_json::json!({"mcpServers": {"maestro": server_entry()}});
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
