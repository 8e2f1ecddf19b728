//! OpenAI-compatible chat completions over HTTP (Ollama, vLLM, llama.cpp, OpenRouter).

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{Attempt, ErrorKind, ProviderConfig, Request, error, parse::Parsed};

/// Makes ring the process's TLS provider, once. reqwest is built without a provider of its
/// own (aws-lc's C build dominated `cargo install`), so anything in this process that builds an
/// HTTPS-capable client calls this first; tests that use reqwest do too.
pub fn install_tls() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err only when a provider is already installed, which is what we want anyway.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

pub(super) async fn chat(
    p: &ProviderConfig,
    base_url: &str,
    key_env: Option<&str>,
    model: &str,
    req: &Request,
    cancel: &CancellationToken,
) -> Result<Parsed, Attempt> {
    let timeout = req.timeout.unwrap_or(p.timeout);
    install_tls();
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| Attempt::Final(error(p, ErrorKind::Failed, e.to_string())))?;
    let mut call = client
        .post(format!("{base_url}/chat/completions"))
        .json(&json!({
            "model": model,
            "messages": [{"role": "user", "content": crate::workspace::mask::mask(&req.prompt)}],
        }));
    if let Some(var) = key_env {
        match std::env::var(var) {
            Ok(key) if !key.is_empty() => call = call.bearer_auth(key),
            _ => {
                return Err(Attempt::Final(error(
                    p,
                    ErrorKind::NotLoggedIn,
                    format!("the environment variable {var} (the API key) is not set"),
                )));
            }
        }
    }
    let response = tokio::select! {
        r = call.send() => r,
        () = cancel.cancelled() => return Err(Attempt::Final(error(p, ErrorKind::Cancelled, "the call was cancelled".into()))),
    };
    let response = response.map_err(|e| {
        if e.is_timeout() {
            Attempt::Final(error(
                p,
                ErrorKind::Timeout,
                format!("no answer within {} s", timeout.as_secs()),
            ))
        } else {
            Attempt::Retry(
                error(
                    p,
                    ErrorKind::Failed,
                    format!("cannot reach {base_url}: {e}"),
                ),
                None,
            )
        }
    })?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.text().await.map_err(|e| {
        Attempt::Retry(
            error(p, ErrorKind::Failed, format!("the response broke off: {e}")),
            None,
        )
    })?;
    let server_message = |body: &str| {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| body.chars().take(300).collect())
    };
    match status.as_u16() {
        200..=299 => {}
        401 | 403 => {
            return Err(Attempt::Final(error(
                p,
                ErrorKind::NotLoggedIn,
                server_message(&body),
            )));
        }
        404 => {
            return Err(Attempt::Final(error(
                p,
                ErrorKind::UnknownModel,
                server_message(&body),
            )));
        }
        429 => {
            return Err(Attempt::Retry(
                error(
                    p,
                    ErrorKind::RateLimited,
                    format!("429 Too Many Requests: {}", server_message(&body)),
                ),
                retry_after,
            ));
        }
        s if s >= 500 => {
            return Err(Attempt::Retry(
                error(
                    p,
                    ErrorKind::Failed,
                    format!("server error {s}: {}", server_message(&body)),
                ),
                retry_after,
            ));
        }
        s => {
            return Err(Attempt::Final(error(
                p,
                ErrorKind::Failed,
                format!("HTTP {s}: {}", server_message(&body)),
            )));
        }
    }
    let v: Value = serde_json::from_str(&body).map_err(|e| {
        Attempt::Final(error(
            p,
            ErrorKind::Malformed,
            format!("the answer is not JSON: {e}"),
        ))
    })?;
    let Some(text) = v["choices"][0]["message"]["content"].as_str() else {
        return Err(Attempt::Final(error(
            p,
            ErrorKind::Malformed,
            "the answer has no choices[0].message.content".into(),
        )));
    };
    Ok(Parsed {
        text: text.to_string(),
        tokens_in: v["usage"]["prompt_tokens"].as_u64(),
        tokens_out: v["usage"]["completion_tokens"].as_u64(),
        cost_usd: v["usage"]["cost"].as_f64(),
        session: None,
    })
}

#[cfg(test)]
mod tls_tests {
    /// Without an installed provider reqwest panics when it builds a client; this would fail
    /// here rather than at a user's consult.
    #[test]
    fn an_https_client_builds_with_the_one_crypto_provider() {
        super::install_tls();
        let client = reqwest::Client::builder().https_only(true).build();
        assert!(client.is_ok(), "{client:?}");
    }
}
