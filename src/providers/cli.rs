//! One call to a provider's command-line client: the argv (the prompt goes on stdin, never
//! into it), the supervised process, and its output read by the provider's parser.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::parse;
use super::parse::{FailKind, Parser};
use super::{Attempt, ErrorKind, OUTPUT_CAP, ProviderConfig, Request, error};
use crate::process::{self, Ended, Spec};

/// A CLI session id as the CLIs print them (UUIDs and similar): letters, digits, `-`, `_`,
/// not starting with `-`.
#[must_use]
pub(crate) fn valid_session(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The program's path on PATH (or as given, when it contains a slash): the one lookup
/// `verify` uses too ([`process::find_program`]).
#[must_use]
pub(crate) fn which(program: &str) -> Option<String> {
    process::find_program(program, std::path::Path::new("."))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

pub(super) async fn version_of(program: &str) -> Option<String> {
    let spec = Spec {
        argv: vec![program.to_string(), "--version".into()],
        stdin: Vec::new(),
        cwd: None,
        env_pass: vec!["HOME".into(), "PATH".into()],
        env_set: Vec::new(),
        timeout: Duration::from_secs(10),
        idle_timeout: None,
        output_cap: 64 * 1024,
    };
    let out = process::run(&spec, &CancellationToken::new()).await.ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

pub(super) async fn call(
    p: &ProviderConfig,
    command: &[String],
    parser: Parser,
    model: &str,
    req: &Request,
    cancel: &CancellationToken,
) -> Result<parse::Parsed, Attempt> {
    let argv = argv(command, model);
    let spec = Spec {
        argv,
        stdin: crate::workspace::mask::mask(&req.prompt)
            .into_owned()
            .into_bytes(),
        cwd: p.cwd.as_ref().map(Into::into),
        env_pass: p.env_pass.clone(),
        env_set: p
            .env_set
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        timeout: req.timeout.unwrap_or(p.timeout),
        idle_timeout: p.idle_timeout,
        output_cap: OUTPUT_CAP,
    };
    let out = process::run(&spec, cancel).await.map_err(|e| match e {
        process::SpawnError::NotFound(prog) => Attempt::Final(error(
            p,
            ErrorKind::NotInstalled,
            format!("`{prog}` is not installed (not found on PATH)"),
        )),
        other => Attempt::Final(error(p, ErrorKind::Failed, other.to_string())),
    })?;
    let secs = |d: Duration| d.as_secs_f64();
    match out.ended {
        Ended::TimedOut => {
            return Err(Attempt::Final(error(
                p,
                ErrorKind::Timeout,
                format!(
                    "no answer within {:.0} s; the process group was killed",
                    secs(spec.timeout)
                ),
            )));
        }
        Ended::Idle => {
            return Err(Attempt::Final(error(
                p,
                ErrorKind::Idle,
                format!(
                    "no output for {:.0} s; the process group was killed",
                    secs(spec.idle_timeout.unwrap_or_default())
                ),
            )));
        }
        Ended::Cancelled => {
            return Err(Attempt::Final(error(
                p,
                ErrorKind::Cancelled,
                "the call was cancelled".into(),
            )));
        }
        Ended::Signaled(sig) => {
            return Err(Attempt::Retry(
                error(
                    p,
                    ErrorKind::Failed,
                    format!("`{}` was killed by signal {sig}", command[0]),
                ),
                None,
            ));
        }
        Ended::Exited(_) => {}
    }
    let exit = match out.ended {
        Ended::Exited(c) => Some(c),
        _ => None,
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.stdout_truncated {
        return Err(Attempt::Final(error(
            p,
            ErrorKind::Malformed,
            format!("the output passed {} MiB and was cut", OUTPUT_CAP >> 20),
        )));
    }
    parse::parse(parser, &stdout, &stderr, exit).map_err(|f| {
        let msg = crate::workspace::mask::mask(&f.message).into_owned();
        let e = error(p, f.kind.into(), msg);
        match f.kind {
            // Transient: worth another attempt.
            FailKind::RateLimit | FailKind::Failed => Attempt::Retry(e, None),
            FailKind::Auth | FailKind::UnknownModel | FailKind::Malformed => Attempt::Final(e),
        }
    })
}

/// The argv with `{{ model }}` filled in. Pure: no shell, no prompt.
#[must_use]
pub fn argv(command: &[String], model: &str) -> Vec<String> {
    command
        .iter()
        .map(|a| a.replace("{{ model }}", model).replace("{{model}}", model))
        .collect()
}
