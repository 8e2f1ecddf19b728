//! `maestro hook`: Claude Code runs it as a command hook (the plugin's `hooks/hooks.json`, or
//! the hooks `maestro init --claude` writes). It reads the hook's JSON on stdin and answers on
//! stdout; the contract is in `crate::hook`, the rules in `engine::guard`.

use std::io::Read;
use std::path::PathBuf;

use super::{EXIT_OK, print_err, print_out};
use crate::home::HomeOptions;
use crate::hook::{Output, answer, may_guard};

/// Claude Code's input for a Write carries the whole file; beyond this it is not read.
const MAX_INPUT: u64 = 64 * 1024 * 1024;

pub(super) fn run(home_flag: Option<PathBuf>) -> i32 {
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().take(MAX_INPUT).read_to_end(&mut raw) {
        print_err(&format!("maestro hook: could not read stdin: {e}\n"));
    }
    let home = HomeOptions::from_env(home_flag);
    let project = std::env::var_os("CLAUDE_PROJECT_DIR").map(PathBuf::from);
    // A panic inside must not wave a guarded call through: Claude Code treats any exit code
    // but 2 as a non-blocking error and runs the tool.
    let out = match std::panic::catch_unwind(|| answer(&raw, &home, project)) {
        Ok(out) => out,
        Err(_) => may_guard(&raw).then(|| {
            Output::deny(
                "maestro hook failed inside (a bug in maestro; its message is on stderr), so it \
                 holds this call: a guard that fails must not let a call through. Report it, or \
                 turn maestro's hooks off (see the maestro README)."
                    .into(),
            )
        }),
    };
    if let Some(out) = out {
        print_out(&out.to_line());
    }
    EXIT_OK
}
