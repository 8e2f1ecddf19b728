//! The terminal adapter: parse arguments, call the library, print, and return an exit code.
//! Exit codes: 0 fine, 1 findings (errors, or warnings with --deny-warnings), 2 usage, 3 fatal.

mod args;
mod decide;
mod graph;
mod hook;
mod init;
mod providers;
mod runs;
mod validate;
mod verify;
mod web;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

pub(crate) use args::Cli;
use args::Command;

use crate::home::{Home, HomeOptions};

pub(crate) const EXIT_OK: i32 = 0;
pub(crate) const EXIT_FINDINGS: i32 = 1;
pub(crate) const EXIT_USAGE: i32 = 2;
pub(crate) const EXIT_FATAL: i32 = 3;

/// Runs the command line and returns the process exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            };
        }
    };
    // The server says more by default (its stderr is the MCP log Claude Code keeps); the
    // other commands print what they have to say themselves. The hook runs before every tool
    // call and its stderr is a message to Claude Code, so it logs only when asked to.
    match cli.command {
        Command::Serve(_) => crate::log::init("warn,maestro=info"),
        Command::Hook if std::env::var_os(crate::log::ENV).is_none() => {}
        _ => crate::log::init("warn"),
    }
    // Resolved only by the commands that use it: the hook (before every guarded tool call)
    // finds its home from the project Claude Code names, not from this process's directory.
    let home = || Home::resolve(&HomeOptions::from_env(cli.home.clone()));
    match cli.command {
        Command::Validate(a) => validate::run(&a, home()),
        Command::Graph(a) => graph::run(&a, home()),
        Command::Init(a) => init::run(&a),
        Command::Hook => hook::run(cli.home.clone()),
        Command::McpConfig => {
            print_out(&format!("{}\n", init::mcp_config_json()));
            EXIT_OK
        }
        Command::Serve(a) => match open_engine(home()) {
            Ok(engine) => match a.http {
                Some(addr) => web::serve_http(engine, addr, &a),
                None => serve(engine),
            },
            Err(code) => code,
        },
        Command::Ui(a) => match open_engine(home()) {
            Ok(engine) => web::ui(engine, &a),
            Err(code) => code,
        },
        Command::Consult(a) => providers::consult(&a, home()),
        Command::Threads(a) => with_engine(home(), |e| providers::threads(&a, e)),
        Command::Doctor(a) => providers::doctor(&a, &home()),
        Command::Verify(a) => match open_engine(home()) {
            Ok(engine) => verify::run(&a, engine),
            Err(code) => code,
        },
        Command::Runs(a) => with_engine(home(), |e| runs::runs(&a, e)),
        Command::Log(a) => with_engine(home(), |e| runs::log(&a, e)),
        Command::Approvals(a) => with_engine(home(), |e| decide::approvals(&a, e)),
        Command::Approve(a) => with_engine(home(), |e| {
            decide::decide(&a, crate::engine::DecisionKind::Approve, e)
        }),
        Command::Revise(a) => with_engine(home(), |e| {
            decide::decide(&a, crate::engine::DecisionKind::Revise, e)
        }),
        Command::Reject(a) => with_engine(home(), |e| {
            decide::decide(&a, crate::engine::DecisionKind::Reject, e)
        }),
        Command::Upgrade(a) => with_engine(home(), |e| runs::upgrade(&a, e)),
        Command::Rules(a) => rules(&a),
    }
}

/// `maestro rules`: the registry, or one rule's documentation.
fn rules(args: &args::RulesArgs) -> i32 {
    use crate::diagnostic::Rule;
    if let Some(id) = &args.explain {
        if let Some(code) = crate::engine::FailureCode::parse(id) {
            print_out(&format!(
                "failure code `{code}`\n\n{}\n\nWhat to do: {}\n\nThe list of codes: docs/failure-codes.md\n",
                code.meaning(),
                code.todo()
            ));
            return EXIT_OK;
        }
        return match Rule::from_id(id) {
            Some(rule) => {
                print_out(rule.doc());
                EXIT_OK
            }
            None => {
                let known: Vec<&str> = Rule::ALL
                    .iter()
                    .map(|r| r.id())
                    .chain(crate::engine::FailureCode::ALL.iter().map(|c| c.as_str()))
                    .collect();
                let hint = crate::diagnostic::did_you_mean(id, known.iter().copied())
                    .map(|h| format!("{h}\n"))
                    .unwrap_or_default();
                print_err(&format!(
                    "error: there is no rule or failure code `{id}`\n{hint}help: `maestro rules` lists the rules; docs/failure-codes.md the failure codes\n"
                ));
                EXIT_USAGE
            }
        };
    }
    let mut out = String::new();
    for r in Rule::ALL {
        out.push_str(&format!(
            "{:<22} {:<8} {}\n",
            r.id(),
            r.severity().as_str(),
            r.summary()
        ));
    }
    print_out(&out);
    EXIT_OK
}

/// The one runtime of the CLI: the servers, `consult`, `doctor` and `verify` run on it.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            print_err(&format!("error: cannot start the async runtime: {e}\n"));
            EXIT_FATAL
        })
}

/// `maestro serve`: the MCP server over stdio on a small runtime; errors go to stderr
/// (stdout is the protocol channel).
fn serve(engine: crate::engine::Engine) -> i32 {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(crate::mcp::serve_stdio(std::sync::Arc::new(engine))) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            print_err(&format!("maestro serve: {e}\n"));
            EXIT_FINDINGS
        }
    }
}

pub(crate) fn open_engine(home: Home) -> Result<crate::engine::Engine, i32> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
    let state = crate::engine::state_path(&cwd);
    crate::engine::Engine::open(home, &state).map_err(|f| fail(&f))
}

fn with_engine(home: Home, f: impl FnOnce(&crate::engine::Engine) -> i32) -> i32 {
    match open_engine(home) {
        Ok(engine) => f(&engine),
        Err(code) => code,
    }
}

/// Prints a refused operation and returns exit code 1.
pub(crate) fn fail(f: &crate::engine::Failure) -> i32 {
    f.log();
    print_err(&format!("error: {f}\n"));
    EXIT_FINDINGS
}

/// Writes to stdout, ignoring a closed pipe (`maestro rules | head`).
pub(crate) fn print_out(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

pub(crate) fn print_err(s: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(s.as_bytes());
}
