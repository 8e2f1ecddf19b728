//! Providers: the model CLIs (codex, gemini, claude) and OpenAI-compatible servers, consulted
//! as text-only advisers.
//!
//! config (`conf/providers.yaml` + env) → argv (pure) → `process` (supervised subprocess) or
//! `http` → `parse` (answer or classified failure). Every consult goes through
//! [`ProviderSet::consult`]; callers with a run charge the engine's budget first.

mod cli;
pub mod config;
mod error;
mod http;
pub use cli::argv;
use cli::version_of;
pub(crate) use cli::{valid_session, which};
pub(crate) use error::{Attempt, ErrorKind, ProviderError, error};
pub use http::install_tls;
pub(crate) mod parse;

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use config::Kind;
pub(crate) use config::ProviderConfig;

use crate::engine::budget::Ticket;
use crate::home::{Home, Kind as AssetKind};

/// Output kept per stream: enough for any answer, small enough that a flood cannot hurt.
pub(super) const OUTPUT_CAP: usize = 8 * 1024 * 1024;

/// The configured providers.
#[derive(Debug, Clone, Default)]
pub struct ProviderSet {
    pub providers: Vec<ProviderConfig>,
    /// Config problems, as sentences.
    pub problems: Vec<String>,
}

/// One request to one provider.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub provider: String,
    pub model: Option<String>,
    pub prompt: String,
    pub timeout: Option<Duration>,
    /// Continue this CLI session natively (providers with a `resume` command only).
    pub session: Option<String>,
}

/// A provider's answer.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub(crate) struct Answer {
    pub provider: String,
    pub model: String,
    pub text: String,
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    pub cost_usd: Option<f64>,
    pub elapsed_ms: u64,
    pub attempts: u32,
    /// The CLI's own session id (kept with the thread for a native resume).
    #[serde(skip)]
    pub session: Option<String>,
}

/// What `doctor` and the `providers` tool show for one provider.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub(crate) struct Status {
    pub name: String,
    /// `cli` or `openai`.
    pub kind: String,
    pub enabled: bool,
    pub installed: bool,
    pub path: Option<String>,
    pub version: Option<String>,
    pub model: String,
    pub problems: Vec<String>,
    pub install: Option<String>,
}

impl ProviderSet {
    /// Reads `conf/providers.yaml` from the home and applies the environment overrides.
    #[must_use]
    pub(crate) fn load(home: &Home) -> ProviderSet {
        let mut set = match home.find(AssetKind::Config, "providers") {
            Ok(Some(asset)) => {
                let text = String::from_utf8_lossy(&asset.bytes).into_owned();
                let (providers, problems) = config::parse(&asset.display, &text);
                ProviderSet {
                    providers,
                    problems,
                }
            }
            Ok(None) => ProviderSet {
                providers: Vec::new(),
                problems: vec!["no conf/providers.yaml in the home; run `maestro init`".into()],
            },
            Err(e) => ProviderSet {
                providers: Vec::new(),
                problems: vec![e.to_string()],
            },
        };
        let env = |k: &str| std::env::var(k).ok();
        for p in &mut set.providers {
            config::apply_env(p, &env);
        }
        set
    }

    #[must_use]
    pub(crate) fn names(&self) -> Vec<String> {
        self.providers.iter().map(|p| p.name.clone()).collect()
    }

    #[must_use]
    pub(crate) fn get(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// The config problems of the entry `name`, which was skipped because of them.
    #[must_use]
    pub(crate) fn problems_of(&self, name: &str) -> Vec<&str> {
        let prefix = format!("provider `{name}`: ");
        self.problems
            .iter()
            .filter_map(|p| p.strip_prefix(prefix.as_str()))
            .collect()
    }

    /// The enabled providers, in config order.
    #[must_use]
    pub(crate) fn enabled(&self) -> Vec<String> {
        self.providers
            .iter()
            .filter(|p| p.enabled)
            .map(|p| p.name.clone())
            .collect()
    }

    /// Asks one provider, retrying transient failures with backoff. The ticket is the call's
    /// payment (`Engine::pay`): no provider is reached without one.
    ///
    /// # Errors
    /// A [`ProviderError`] that quotes the provider and says what to do.
    pub(crate) async fn consult(
        &self,
        paid: Ticket,
        req: &Request,
        cancel: &CancellationToken,
    ) -> Result<Answer, ProviderError> {
        let Some(p) = self.get(&req.provider) else {
            let broken = self.problems_of(&req.provider);
            if !broken.is_empty() {
                return Err(ProviderError {
                    provider: req.provider.clone(),
                    kind: ErrorKind::Config,
                    message: format!(
                        "provider `{}` is not used: {}",
                        req.provider,
                        broken.join("; ")
                    ),
                    help:
                        "fix its entry in conf/providers.yaml (`maestro doctor` lists the problems)"
                            .into(),
                });
            }
            return Err(ProviderError {
                provider: req.provider.clone(),
                kind: ErrorKind::UnknownProvider,
                message: format!("no provider `{}` is configured", req.provider),
                help: format!(
                    "use one of: {}; or add it to conf/providers.yaml",
                    self.names().join(", ")
                ),
            });
        };
        if !p.enabled {
            return Err(ProviderError {
                provider: p.name.clone(),
                kind: ErrorKind::Disabled,
                message: format!("provider `{}` is disabled", p.name),
                help: format!(
                    "unset MAESTRO_{}_ENABLED or set `enabled: true` in conf/providers.yaml",
                    p.name.to_uppercase()
                ),
            });
        }
        // The ticket's run may allow more time than asked (degraded mode).
        let req = &Request {
            timeout: Some(paid.timeout(req.timeout.unwrap_or(p.timeout))),
            ..req.clone()
        };
        let model = req.model.clone().unwrap_or_else(|| p.model.clone());
        tracing::debug!(
            provider = %p.name,
            model = %model,
            run = paid.run_id().unwrap_or("-"),
            "consulting"
        );
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match &p.kind {
                Kind::Cli {
                    command,
                    parser,
                    resume,
                } => {
                    // A session id goes into argv: only a plain id, never something that
                    // reads as a flag.
                    let session = req.session.as_ref().filter(|s| valid_session(s));
                    let argv = match (resume, session) {
                        (Some(resume), Some(session)) => resume
                            .iter()
                            .map(|a| a.replace("{{ session }}", session))
                            .collect(),
                        _ => command.clone(),
                    };
                    cli::call(p, &argv, *parser, &model, req, cancel).await
                }
                Kind::OpenAi {
                    base_url,
                    api_key_env,
                } => http::chat(p, base_url, api_key_env.as_deref(), &model, req, cancel).await,
            };
            match result {
                Ok(parsed) => {
                    return Ok(Answer {
                        provider: p.name.clone(),
                        model,
                        text: crate::workspace::mask::mask(&parsed.text).into_owned(),
                        tokens_in: parsed.tokens_in,
                        tokens_out: parsed.tokens_out,
                        cost_usd: parsed.cost_usd,
                        elapsed_ms: u64::try_from(started.elapsed().as_millis())
                            .unwrap_or(u64::MAX),
                        attempts: attempt,
                        session: parsed.session,
                    });
                }
                Err(Attempt::Retry(e, wait)) if attempt <= p.retries && !cancel.is_cancelled() => {
                    let wait = wait.unwrap_or(p.backoff * 2u32.pow(attempt - 1));
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = cancel.cancelled() => return Err(e),
                    }
                }
                Err(Attempt::Retry(e, _) | Attempt::Final(e)) => return Err(e),
            }
        }
    }

    /// Asks several providers at once (one paid request each), at most `concurrency` at a
    /// time; results in the requests' order.
    pub(crate) async fn ensemble(
        &self,
        requests: Vec<(Ticket, Request)>,
        concurrency: usize,
        cancel: &CancellationToken,
        on_done: &(dyn Fn(&str, usize, usize) + Send + Sync),
    ) -> Vec<Result<Answer, ProviderError>> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let finished = AtomicUsize::new(0);
        let total = requests.len();
        let calls = requests.into_iter().map(|(paid, req)| {
            let gate = gate.clone();
            let finished = &finished;
            async move {
                let _permit = gate.acquire().await;
                let r = self.consult(paid, &req, cancel).await;
                on_done(
                    &req.provider,
                    finished.fetch_add(1, Ordering::SeqCst) + 1,
                    total,
                );
                r
            }
        });
        crate::join::join_all(calls).await
    }

    /// Installed or not, version and config problems, without spending tokens.
    pub(crate) async fn status(&self) -> Vec<Status> {
        let mut out = Vec::new();
        for p in &self.providers {
            let mut problems = Vec::new();
            let (kind, path, version) = match &p.kind {
                Kind::Cli { command, .. } => {
                    let path = which(&command[0]);
                    let version = match &path {
                        Some(_) => version_of(&command[0]).await,
                        None => None,
                    };
                    if path.is_none() {
                        problems.push(format!(
                            "`{}` is not on PATH{}",
                            command[0],
                            p.install
                                .as_ref()
                                .map(|i| format!("; install: {i}"))
                                .unwrap_or_default()
                        ));
                    }
                    ("cli", path, version)
                }
                Kind::OpenAi {
                    base_url,
                    api_key_env,
                } => {
                    if let Some(var) = api_key_env
                        && std::env::var_os(var).is_none()
                    {
                        problems.push(format!(
                            "environment variable {var} (the API key) is not set"
                        ));
                    }
                    ("openai", Some(base_url.clone()), None)
                }
            };
            out.push(Status {
                name: p.name.clone(),
                kind: kind.into(),
                enabled: p.enabled,
                installed: path.is_some(),
                path,
                version,
                model: p.model.clone(),
                problems,
                install: p.install.clone(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::parse::FailKind;
    use super::*;

    #[test]
    fn argv_fills_the_model_and_never_carries_the_prompt() {
        let cmd: Vec<String> = ["codex", "exec", "-m", "{{ model }}", "-"]
            .map(String::from)
            .to_vec();
        assert_eq!(argv(&cmd, "o4"), ["codex", "exec", "-m", "o4", "-"]);
    }

    #[test]
    fn only_plain_session_ids_reach_a_resume_argv() {
        assert!(valid_session("0199a3c2-5f10-7d21-9a0e-2b7c4e81d0aa"));
        assert!(valid_session("c222b781_x"));
        for bad in [
            "",
            "--dangerously-skip-permissions",
            "-x",
            "a b",
            "a;rm",
            "a/b",
            &"a".repeat(129),
        ] {
            assert!(!valid_session(bad), "{bad}");
        }
    }

    #[test]
    fn error_kinds_are_snake_case_names_and_unknown_ones_are_refused() {
        for kind in ErrorKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.to_string(), "serde and Display agree");
            assert_eq!(serde_json::from_value::<ErrorKind>(json).unwrap(), kind);
            assert_eq!(kind.as_str().parse::<ErrorKind>(), Ok(kind));
        }
        assert_eq!(ErrorKind::NotLoggedIn.to_string(), "not_logged_in");
        assert_eq!(ErrorKind::UnknownProvider.to_string(), "unknown_provider");
        assert!(serde_json::from_str::<ErrorKind>("\"rate_limit\"").is_err());
        assert!(serde_json::from_str::<ErrorKind>("\"NotLoggedIn\"").is_err());
        let e = "nope".parse::<ErrorKind>().unwrap_err();
        assert!(e.contains("`nope`") && e.contains("not_installed"), "{e}");
        // A provider error's JSON carries the name; the schema lists every kind.
        let err = ProviderError {
            provider: "p".into(),
            kind: ErrorKind::RateLimited,
            message: "m".into(),
            help: "h".into(),
        };
        assert_eq!(serde_json::to_value(&err).unwrap()["kind"], "rate_limited");
        let schema = serde_json::to_string(&schemars::schema_for!(ErrorKind)).unwrap();
        for kind in ErrorKind::ALL {
            assert!(
                schema.contains(&format!("\"{kind}\"")),
                "{kind} not in {schema}"
            );
        }
    }

    #[test]
    fn failures_read_from_the_output_keep_their_kind() {
        assert_eq!(ErrorKind::from(FailKind::Auth), ErrorKind::NotLoggedIn);
        assert_eq!(ErrorKind::from(FailKind::RateLimit), ErrorKind::RateLimited);
        assert_eq!(
            ErrorKind::from(FailKind::UnknownModel),
            ErrorKind::UnknownModel
        );
        assert_eq!(ErrorKind::from(FailKind::Failed), ErrorKind::Failed);
        assert_eq!(ErrorKind::from(FailKind::Malformed), ErrorKind::Malformed);
    }

    /// A call outside every project: no state file, so it is free.
    fn free() -> Ticket {
        let payer = crate::engine::budget::Payer::without_state(std::path::Path::new(
            "/nonexistent/.maestro/state.db",
        ))
        .unwrap();
        crate::engine::budget::free(&payer, 1).unwrap().remove(0)
    }

    #[tokio::test]
    async fn a_skipped_entry_is_reported_as_a_config_error_not_as_unknown() {
        let (providers, problems) = config::parse(
            "p.yaml",
            "providers:\n  a:\n    command: [x]\n    model: m\n    enabled: no\n",
        );
        let set = ProviderSet {
            providers,
            problems,
        };
        let ask = |name: &str| Request {
            provider: name.into(),
            prompt: "q".into(),
            ..Request::default()
        };
        let cancel = CancellationToken::new();
        let e = set.consult(free(), &ask("a"), &cancel).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("`enabled` must be"), "{e}");
        let e = set.consult(free(), &ask("b"), &cancel).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownProvider);
    }
}
