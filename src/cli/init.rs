//! `maestro init`: writes the built-in defaults into `./.maestro/` for editing.

use std::path::Path;

use super::args::InitArgs;
use super::{EXIT_FATAL, EXIT_OK, print_err, print_out};
use crate::init::{InitReport, init};

pub(super) fn run(args: &InitArgs) -> i32 {
    let cwd = std::env::current_dir().unwrap_or_else(|_| Path::new(".").to_path_buf());
    match init(&cwd.join(".maestro"), args.force) {
        Ok(InitReport {
            written,
            kept,
            unchanged,
        }) => {
            let mut out = String::new();
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
