//! `maestro consult` and `maestro doctor`.

use std::fmt::Write as _;
use std::io::Read;

use tokio_util::sync::CancellationToken;

use super::args::{ConsultArgs, DoctorArgs, ThreadsArgs};
use super::runs::to_json;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, fail, print_err, print_out};
use crate::consult::{Ask, consult as ask_one, unknown_flags};
use crate::engine::FailureCode;
use crate::home::Home;
use crate::providers::{Kind, ProviderSet};

pub(super) fn consult(args: &ConsultArgs, home: Home) -> i32 {
    let mut prompt = args.prompt.clone();
    if prompt == "-" {
        prompt.clear();
        if std::io::stdin().read_to_string(&mut prompt).is_err() {
            print_err("error: standard input is not UTF-8 text\n");
            return EXIT_USAGE;
        }
    }
    let set = std::sync::Arc::new(ProviderSet::load(&home));
    // With a project state the consult is kept as a thread; a run or a thread needs one.
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let has_state = crate::engine::state_path(&cwd).is_file();
    let engine = if args.run_id.is_some() || args.thread_id.is_some() || has_state {
        match super::open_engine(home) {
            Ok(e) => Some(std::sync::Arc::new(e)),
            Err(code) => return code,
        }
    } else {
        None
    };
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let ask = Ask {
        prompt,
        provider: args.provider.clone(),
        model: args.model.clone(),
        role: args.role.clone(),
        context: None,
        files: args.files.clone(),
        diff: args.diff.clone(),
        thread_id: args.thread_id.clone(),
        run_id: args.run_id.clone(),
        timeout_s: args.timeout,
        // Claude Code gives the commands its Bash tool runs its session: a `maestro consult`
        // the model runs from a shell is charged to that session's run like the tool.
        session: std::env::var("CLAUDE_CODE_SESSION_ID")
            .ok()
            .filter(|s| !s.is_empty()),
    };
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    let result = rt.block_on(async {
        tokio::select! {
            r = ask_one(engine.as_ref(), set, ask, &cancel) => r,
            _ = tokio::signal::ctrl_c() => {
                c2.cancel();
                Err(crate::engine::Failure::new(FailureCode::Cancelled, "interrupted", ""))
            }
        }
    });
    match result {
        Ok(c) => {
            if args.json {
                print_out(&format!("{}\n", to_json(&c)));
            } else {
                let a = &c.reply.answer;
                print_out(&format!("{}\n", a.text));
                let mut notes = String::new();
                for w in &c.reply.warnings {
                    let _ = writeln!(notes, "warning: {w}");
                }
                if let Some(p) = &c.packed {
                    let _ = writeln!(notes, "— with it: {p}");
                }
                if let Some(r) = &c.replay {
                    let _ = writeln!(notes, "— {}", r.line());
                }
                let _ = writeln!(
                    notes,
                    "— {} ({}) in {:.1} s{}{}",
                    a.provider,
                    a.model,
                    a.elapsed_ms as f64 / 1000.0,
                    c.reply
                        .thread_id
                        .as_ref()
                        .map(|t| format!("; follow up with --thread {t}"))
                        .unwrap_or_default(),
                    c.budget
                        .and_then(|b| b.consults_left_run)
                        .map(|l| format!("; {l} consult(s) left in the run"))
                        .unwrap_or_default()
                );
                print_err(&notes);
            }
            EXIT_OK
        }
        Err(f) => fail(&f),
    }
}

pub(super) fn threads(args: &ThreadsArgs, e: &crate::engine::Engine) -> i32 {
    match &args.thread {
        Some(id) => match e.thread(id) {
            Ok(turns) if args.json => {
                print_out(&format!("{}\n", to_json(&turns)));
                EXIT_OK
            }
            Ok(turns) => {
                let mut out = String::new();
                for t in &turns {
                    let _ = writeln!(
                        out,
                        "── turn {} · {} ({}) · {} · {}{}\n\n{}\n{}\n── answer\n\n{}\n",
                        t.turn,
                        t.provider,
                        t.model,
                        t.id,
                        super::runs::when(t.at),
                        t.run_id
                            .as_ref()
                            .map(|r| format!(" · run {r}"))
                            .unwrap_or_default(),
                        t.question.trim_end(),
                        t.packed
                            .as_ref()
                            .map(|p| format!("(with it: {p})\n"))
                            .unwrap_or_default(),
                        t.answer.trim_end()
                    );
                    for w in &t.warnings {
                        let _ = writeln!(out, "warning: {w}");
                    }
                }
                print_out(&out);
                EXIT_OK
            }
            Err(f) => fail(&f),
        },
        None => match e.threads(100) {
            Ok(list) if args.json => {
                print_out(&format!("{}\n", to_json(&list)));
                EXIT_OK
            }
            Ok(list) if list.is_empty() => {
                print_err("no consult threads yet\n");
                EXIT_OK
            }
            Ok(list) => {
                let mut out = String::new();
                for t in &list {
                    let _ = writeln!(
                        out,
                        "{}  {:<8} {:>2} turn(s)  {}  {}",
                        t.thread_id,
                        t.provider,
                        t.turns,
                        super::runs::when(t.last_at),
                        t.topic
                    );
                }
                print_out(&out);
                EXIT_OK
            }
            Err(f) => fail(&f),
        },
    }
}

pub(super) fn doctor(args: &DoctorArgs, home: &Home) -> i32 {
    let set = ProviderSet::load(home);
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let mut statuses = rt.block_on(set.status());
    // Flags the installed CLI does not list in its help (checked without spending tokens).
    for (st, p) in statuses.iter_mut().zip(&set.providers) {
        if let (Kind::Cli { command, .. }, Some(_)) = (&p.kind, &st.path) {
            let help = rt.block_on(help_text(command));
            let argv = crate::providers::argv(command, &p.model);
            let missing = unknown_flags(&argv, &help);
            if !missing.is_empty() && !help.is_empty() {
                st.problems.push(format!(
                    "the installed `{}` does not list {} in its --help; update it or edit its command in conf/providers.yaml",
                    command[0],
                    missing.join(", ")
                ));
            }
        }
    }
    let usable = statuses
        .iter()
        .filter(|s| s.enabled && s.installed && s.problems.is_empty())
        .count();
    let checks = rt.block_on(check_programs(home));
    if args.json {
        let doc = serde_json::json!({"providers": statuses, "config_problems": set.problems, "usable": usable, "checks": checks});
        print_out(&format!("{doc}\n"));
    } else {
        let mut out = String::new();
        for s in &statuses {
            let state = match (s.enabled, s.installed, s.problems.is_empty()) {
                (false, _, _) => "disabled",
                (true, false, _) => "missing",
                (true, true, true) => "ok",
                (true, true, false) => "problem",
            };
            let _ = writeln!(
                out,
                "{:<8} {:<9} {:<7} model {:<16} {}",
                s.name,
                state,
                s.kind,
                s.model,
                s.version.as_deref().unwrap_or("")
            );
            for p in &s.problems {
                let _ = writeln!(out, "         - {p}");
            }
        }
        for p in &set.problems {
            let _ = writeln!(out, "config: {p}");
        }
        let _ = writeln!(out, "{usable} of {} providers usable", statuses.len());
        out.push_str(&checks.text());
        print_out(&out);
    }
    if usable > 0 && set.problems.is_empty() && checks.all_can_run() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    }
}

/// Whether the programs of the configured checks (`conf/verify.yaml`) can start here.
#[derive(Debug, serde::Serialize)]
struct CheckPrograms {
    /// The file that configures them; `None` when there is none.
    file: Option<String>,
    checks: Vec<CheckProgram>,
    /// Problems of the file (a check with one is left out and cannot run).
    problems: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
struct CheckProgram {
    name: String,
    command: Vec<String>,
    can_run: bool,
    /// Why it cannot run, and what to do.
    problem: Option<String>,
}

impl CheckPrograms {
    fn all_can_run(&self) -> bool {
        self.problems.is_empty() && self.checks.iter().all(|c| c.can_run)
    }

    fn text(&self) -> String {
        let Some(file) = &self.file else {
            return "checks   none configured: `maestro init` proposes them in \
                    .maestro/conf/verify.yaml\n"
                .into();
        };
        let mut out = format!("checks   from {file}\n");
        for c in &self.checks {
            let _ = writeln!(
                out,
                "{:<8} {:<11} {}",
                c.name,
                if c.can_run { "ok" } else { "cannot run" },
                c.command.join(" ")
            );
            if let Some(p) = &c.problem {
                let _ = writeln!(out, "         - {p}");
            }
        }
        for p in &self.problems {
            let _ = writeln!(out, "config: {p}");
        }
        let ready = self.checks.iter().filter(|c| c.can_run).count();
        let _ = writeln!(out, "{ready} of {} checks can run", self.checks.len());
        out
    }
}

/// Asks, for each configured check, whether its program is on PATH (and, for `python -m X`,
/// whether X imports), without running the check.
async fn check_programs(home: &Home) -> CheckPrograms {
    let root = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let Some((file, checks, problems)) = crate::engine::ops::verify::configured_checks(home) else {
        return CheckPrograms {
            file: None,
            checks: Vec::new(),
            problems: Vec::new(),
        };
    };
    let mut out = Vec::new();
    for c in &checks {
        let problem = crate::workspace::verify::probe(&root, c).await;
        out.push(CheckProgram {
            name: c.name.clone(),
            command: c.argv.clone(),
            can_run: problem.is_none(),
            problem,
        });
    }
    CheckPrograms {
        file: Some(file),
        checks: out,
        problems,
    }
}

/// `--help` of the subcommand the argv uses (`codex exec --help`), else of the program.
async fn help_text(command: &[String]) -> String {
    let mut argv = vec![command[0].clone()];
    if command.get(1).is_some_and(|a| !a.starts_with('-')) {
        argv.push(command[1].clone());
    }
    argv.push("--help".into());
    let spec = crate::process::Spec {
        argv,
        stdin: Vec::new(),
        cwd: None,
        env_pass: vec!["HOME".into(), "PATH".into()],
        env_set: vec![("NO_COLOR".into(), "1".into())],
        timeout: std::time::Duration::from_secs(20),
        idle_timeout: None,
        output_cap: 1 << 20,
    };
    match crate::process::run(&spec, &CancellationToken::new()).await {
        Ok(o) => {
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
        }
        Err(_) => String::new(),
    }
}
