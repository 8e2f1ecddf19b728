//! `maestro verify`: the project's checks from a terminal, through the same engine call as the
//! MCP `verify` tool (only configured checks run; held while a gate waits; recorded for a run
//! when one is named).

use std::fmt::Write as _;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::args::VerifyArgs;
use super::runs::to_json;
use super::{EXIT_FINDINGS, EXIT_OK, fail, print_err, print_out};
use crate::engine::Engine;
use crate::engine::ops::verify::Verified;
use crate::workspace::verify::CheckStatus;

/// Lines of a failing check's output shown (its tail, where the summary is).
const TAIL_LINES: usize = 20;

pub(super) fn run(args: &VerifyArgs, engine: Engine) -> i32 {
    let engine = Arc::new(engine);
    let names = if args.checks.is_empty() {
        let (checks, problems) = engine.checks();
        if checks.is_empty() {
            for p in &problems {
                print_err(&format!("error: {p}\n"));
            }
            if problems.is_empty() {
                print_err("error: conf/verify.yaml names no check\n");
            }
            return EXIT_FINDINGS;
        }
        checks.into_iter().map(|c| c.name).collect()
    } else {
        args.checks.clone()
    };
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    // Claude Code gives the commands its Bash tool runs its session, as for `maestro consult`.
    let session = std::env::var("CLAUDE_CODE_SESSION_ID")
        .ok()
        .filter(|s| !s.is_empty());
    let cancel = CancellationToken::new();
    let result = runtime.block_on(async {
        tokio::select! {
            r = engine.verify(names, args.run_id.clone(), session, &cancel) => r,
            _ = tokio::signal::ctrl_c() => {
                cancel.cancel();
                Err(crate::engine::Failure::new(
                    crate::engine::FailureCode::Cancelled,
                    "interrupted",
                    "",
                ))
            }
        }
    });
    match result {
        Ok(v) => {
            if args.json {
                print_out(&format!("{}\n", to_json(&v)));
            } else {
                print_out(&text(&v));
            }
            if v.passed { EXIT_OK } else { EXIT_FINDINGS }
        }
        Err(f) => fail(&f),
    }
}

/// One line per check; the tail of a failing one's output, the reason of one that could not
/// run, and what to do then.
fn text(v: &Verified) -> String {
    let mut out = String::new();
    for r in &v.results {
        let counts = crate::workspace::verify::Counts::suffix(r.counts);
        let state = match r.status {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed if r.timed_out => "TIMED OUT",
            CheckStatus::Failed => "FAILED",
            CheckStatus::CannotRun => "CANNOT RUN",
        };
        let _ = writeln!(
            out,
            "{:<8} {:<11} {}{counts}",
            r.name,
            state,
            r.command.join(" ")
        );
        if r.source.outside_project {
            let _ = writeln!(
                out,
                "         configured outside the project, in {}",
                r.source.file
            );
        }
        match r.status {
            CheckStatus::Passed => {}
            CheckStatus::Failed => {
                let lines: Vec<&str> = r.output.lines().collect();
                for line in &lines[lines.len().saturating_sub(TAIL_LINES)..] {
                    let _ = writeln!(out, "         | {line}");
                }
            }
            CheckStatus::CannotRun => {
                let _ = writeln!(out, "         - {}", r.reason.as_deref().unwrap_or(""));
            }
        }
    }
    if let Some(next) = crate::engine::ops::verify::next_step(&v.results) {
        let _ = writeln!(out, "{next}");
    }
    out
}
