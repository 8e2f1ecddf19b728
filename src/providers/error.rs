//! How a consult fails: the kinds (a closed set, snake_case in every tool result), the error
//! a person reads with what to do, and whether an attempt is worth retrying.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ProviderConfig;
use super::parse::FailKind;

/// The kind of a consult failure.
// Short on purpose: the doc becomes the schema's description in every tool that lists failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorKind {
    NotInstalled,
    NotLoggedIn,
    RateLimited,
    UnknownModel,
    Timeout,
    Idle,
    Cancelled,
    Failed,
    Malformed,
    Disabled,
    UnknownProvider,
    Config,
}

impl ErrorKind {
    pub(crate) const ALL: [ErrorKind; 12] = [
        ErrorKind::NotInstalled,
        ErrorKind::NotLoggedIn,
        ErrorKind::RateLimited,
        ErrorKind::UnknownModel,
        ErrorKind::Timeout,
        ErrorKind::Idle,
        ErrorKind::Cancelled,
        ErrorKind::Failed,
        ErrorKind::Malformed,
        ErrorKind::Disabled,
        ErrorKind::UnknownProvider,
        ErrorKind::Config,
    ];

    /// The name serde writes, for messages and `match`es on text.
    #[must_use]
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotInstalled => "not_installed",
            ErrorKind::NotLoggedIn => "not_logged_in",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::UnknownModel => "unknown_model",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Idle => "idle",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Failed => "failed",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Disabled => "disabled",
            ErrorKind::UnknownProvider => "unknown_provider",
            ErrorKind::Config => "config",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown provider error kind `{s}`; one of: {}",
                    ErrorKind::ALL.map(ErrorKind::as_str).join(", ")
                )
            })
    }
}

/// The output tells only these apart; the rest come from how the call ended.
impl From<FailKind> for ErrorKind {
    fn from(f: FailKind) -> Self {
        match f {
            FailKind::Auth => ErrorKind::NotLoggedIn,
            FailKind::RateLimit => ErrorKind::RateLimited,
            FailKind::UnknownModel => ErrorKind::UnknownModel,
            FailKind::Failed => ErrorKind::Failed,
            FailKind::Malformed => ErrorKind::Malformed,
        }
    }
}

/// Why a consult failed, in the provider's words, and what to do about it.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ProviderError {
    pub provider: String,
    pub(crate) kind: ErrorKind,
    pub message: String,
    pub help: String,
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} — {}", self.provider, self.message, self.help)
    }
}

impl std::error::Error for ProviderError {}

/// One attempt's failure: worth retrying (after the server's requested wait, if any) or not.
pub(crate) enum Attempt {
    Retry(ProviderError, Option<Duration>),
    Final(ProviderError),
}

pub(crate) fn error(p: &ProviderConfig, kind: ErrorKind, message: String) -> ProviderError {
    let help = match kind {
        ErrorKind::NotInstalled => p.install.clone().map_or_else(
            || "install it and make sure it is on PATH (`maestro doctor` checks)".into(),
            |i| format!("install it: {i}; then `maestro doctor`"),
        ),
        ErrorKind::NotLoggedIn => p.login.clone().map_or_else(
            || "log in with the provider's own command, then try again".into(),
            |l| format!("log in: {l}"),
        ),
        ErrorKind::RateLimited => "wait, or ask another provider".into(),
        ErrorKind::UnknownModel => format!(
            "pass another `model`, or change `model` of `{}` in conf/providers.yaml (or MAESTRO_{}_MODEL)",
            p.name,
            p.name.to_uppercase()
        ),
        ErrorKind::Timeout | ErrorKind::Idle => format!(
            "ask a smaller question, or raise `timeout`/`idle-timeout` of `{}` in conf/providers.yaml",
            p.name
        ),
        ErrorKind::Cancelled => "nothing to do: the call was cancelled".into(),
        _ => "run `maestro doctor` to check the provider".into(),
    };
    ProviderError {
        provider: p.name.clone(),
        kind,
        message,
        help,
    }
}
