//! Reading each CLI's stdout (and, for gemini's fatal errors, stderr) into an answer or a
//! classified failure. Formats per `cli-providers.md`: codex `--json` JSONL, gemini `-o json`,
//! claude `--output-format json`, or plain text.

use serde_json::Value;

/// Which reader a provider's output needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parser {
    CodexJsonl,
    GeminiJson,
    ClaudeJson,
    Text,
}

impl Parser {
    #[must_use]
    pub(crate) fn from_name(s: &str) -> Option<Parser> {
        Some(match s {
            "codex-jsonl" => Parser::CodexJsonl,
            "gemini-json" => Parser::GeminiJson,
            "claude-json" => Parser::ClaudeJson,
            "text" => Parser::Text,
            _ => return None,
        })
    }

    pub(crate) const NAMES: &'static str = "codex-jsonl, gemini-json, claude-json, text";
}

/// A model's answer with what it reported about its use.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Parsed {
    pub text: String,
    pub tokens_in: Option<u64>,
    pub tokens_out: Option<u64>,
    pub cost_usd: Option<f64>,
    /// The CLI's own session (thread) id, which a native resume continues.
    pub session: Option<String>,
}

/// How a call failed, as far as the output tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailKind {
    Auth,
    RateLimit,
    UnknownModel,
    /// The provider said something went wrong.
    Failed,
    /// The output is not in the expected format.
    Malformed,
}

/// A classified failure with the provider's own words.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fail {
    pub kind: FailKind,
    pub message: String,
}

fn fail(kind: FailKind, message: impl Into<String>) -> Fail {
    Fail {
        kind,
        message: message.into(),
    }
}

/// Sorts an error message into a kind by the phrases each CLI uses.
#[must_use]
pub(crate) fn classify(message: &str) -> FailKind {
    let m = message.to_lowercase();
    if m.contains("not logged in")
        || m.contains("401")
        || m.contains("unauthorized")
        || m.contains("invalid api key")
        || m.contains("auth method")
        || m.contains("please run /login")
    {
        FailKind::Auth
    } else if m.contains("usage limit")
        || m.contains("rate limit")
        || m.contains("429")
        || m.contains("hit your")
    {
        FailKind::RateLimit
    } else if m.contains("model")
        && (m.contains("not supported")
            || m.contains("not found")
            || m.contains("may not exist")
            || m.contains("does not exist"))
    {
        FailKind::UnknownModel
    } else {
        FailKind::Failed
    }
}

/// Reads a finished call's output.
///
/// # Errors
/// A classified failure when the output reports one or cannot be read.
pub(crate) fn parse(
    parser: Parser,
    stdout: &str,
    stderr: &str,
    exit: Option<i32>,
) -> Result<Parsed, Fail> {
    match parser {
        Parser::CodexJsonl => codex(stdout, stderr),
        Parser::GeminiJson => gemini(stdout, stderr),
        Parser::ClaudeJson => claude(stdout, stderr),
        Parser::Text => {
            if exit == Some(0) && !stdout.trim().is_empty() {
                Ok(Parsed {
                    text: stdout.trim_end().to_string(),
                    ..Parsed::default()
                })
            } else {
                let msg = last_line(stderr).unwrap_or("no output");
                Err(fail(classify(msg), msg))
            }
        }
    }
}

fn last_line(s: &str) -> Option<&str> {
    s.lines().map(str::trim).rev().find(|l| !l.is_empty())
}

fn codex(stdout: &str, stderr: &str) -> Result<Parsed, Fail> {
    let mut answer: Option<String> = None;
    let mut completed = None;
    let mut failed: Option<String> = None;
    let mut last_error: Option<String> = None;
    let mut session = None;
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(ev) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        match ev["type"].as_str().unwrap_or("") {
            "item.completed" if ev["item"]["type"] == "agent_message" => {
                answer = ev["item"]["text"].as_str().map(str::to_string);
            }
            "thread.started" => session = ev["thread_id"].as_str().map(str::to_string),
            "turn.completed" => completed = Some(ev["usage"].clone()),
            "turn.failed" => {
                failed = Some(
                    ev["error"]["message"]
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| last_error.clone())
                        .unwrap_or_else(|| "turn failed".into()),
                );
            }
            "error" => last_error = ev["message"].as_str().map(str::to_string),
            _ => {}
        }
    }
    if let Some(msg) = failed {
        let msg = unwrap_json_message(&msg);
        return Err(fail(classify(&msg), msg));
    }
    match (completed, answer) {
        (Some(usage), Some(text)) => Ok(Parsed {
            text,
            tokens_in: usage["input_tokens"].as_u64(),
            tokens_out: usage["output_tokens"].as_u64(),
            cost_usd: None,
            session,
        }),
        (Some(_), None) => Err(fail(
            FailKind::Failed,
            "codex finished the turn without an answer",
        )),
        (None, _) => {
            let msg = last_error
                .or_else(|| last_line(stderr).map(str::to_string))
                .unwrap_or_else(|| "codex printed no events".into());
            Err(fail(classify(&msg), msg))
        }
    }
}

/// Codex wraps API errors as a JSON string inside `message`; show the inner message.
fn unwrap_json_message(msg: &str) -> String {
    serde_json::from_str::<Value>(msg)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| msg.to_string())
}

/// The first JSON object in text that may have noise lines before it.
fn first_object(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
    stream.next()?.ok().filter(Value::is_object)
}

fn gemini(stdout: &str, stderr: &str) -> Result<Parsed, Fail> {
    let obj = match serde_json::from_str::<Value>(stdout.trim()) {
        Ok(v) if v.is_object() => v,
        _ => match first_object(stderr) {
            Some(v) => v,
            None => {
                let msg = last_line(stderr).unwrap_or("gemini printed nothing");
                return Err(fail(classify(msg), msg));
            }
        },
    };
    if let Some(err) = obj.get("error").filter(|e| e.is_object()) {
        let msg = err["message"]
            .as_str()
            .unwrap_or("gemini reported an error")
            .to_string();
        let kind = match err["code"].as_i64() {
            Some(41) => FailKind::Auth,
            Some(429) => FailKind::RateLimit,
            _ => classify(&msg),
        };
        return Err(fail(kind, msg));
    }
    let Some(text) = obj["response"].as_str() else {
        return Err(fail(FailKind::Malformed, "gemini's JSON has no `response`"));
    };
    // Tokens: the model(s) in the `main` role, else all models added up.
    let models = obj["stats"]["models"].as_object();
    let (mut tin, mut tout, mut any) = (0u64, 0u64, false);
    if let Some(models) = models {
        let main: Vec<&Value> = models
            .values()
            .filter(|m| m["roles"]["main"].is_object())
            .collect();
        let picked: Vec<&Value> = if main.is_empty() {
            models.values().collect()
        } else {
            main
        };
        for m in picked {
            let t = if m["roles"]["main"].is_object() {
                &m["roles"]["main"]["tokens"]
            } else {
                &m["tokens"]
            };
            tin += t["prompt"].as_u64().unwrap_or(0);
            tout += t["candidates"].as_u64().unwrap_or(0);
            any = true;
        }
    }
    Ok(Parsed {
        text: text.to_string(),
        tokens_in: any.then_some(tin),
        tokens_out: any.then_some(tout),
        cost_usd: None,
        session: obj["session_id"].as_str().map(str::to_string),
    })
}

fn claude(stdout: &str, stderr: &str) -> Result<Parsed, Fail> {
    let v = match serde_json::from_str::<Value>(stdout.trim()) {
        // With --verbose the output is an array of messages; the result is the last one.
        Ok(Value::Array(items)) => items
            .into_iter()
            .rev()
            .find(|i| i["type"] == "result")
            .unwrap_or(Value::Null),
        Ok(v) => v,
        Err(_) => {
            let msg = last_line(stderr).unwrap_or("claude printed nothing");
            return Err(fail(classify(msg), msg));
        }
    };
    if v["type"] != "result" {
        return Err(fail(
            FailKind::Malformed,
            "claude's JSON has no result message",
        ));
    }
    let usage = &v["usage"];
    if v["is_error"] == true {
        let msg = v["result"]
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                v["errors"].as_array().map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            })
            .unwrap_or_else(|| format!("claude failed ({})", v["subtype"]));
        let kind = match v["api_error"].as_str() {
            Some("authentication_failed") => FailKind::Auth,
            Some("rate_limit") => FailKind::RateLimit,
            Some("model_not_found") => FailKind::UnknownModel,
            _ => classify(&msg),
        };
        return Err(fail(kind, msg));
    }
    let Some(text) = v["result"].as_str() else {
        return Err(fail(
            FailKind::Malformed,
            "claude's result has no `result` text",
        ));
    };
    Ok(Parsed {
        text: text.to_string(),
        tokens_in: usage["input_tokens"].as_u64().map(|i| {
            i + usage["cache_read_input_tokens"].as_u64().unwrap_or(0)
                + usage["cache_creation_input_tokens"].as_u64().unwrap_or(0)
        }),
        tokens_out: usage["output_tokens"].as_u64(),
        cost_usd: v["total_cost_usd"].as_f64(),
        session: v["session_id"].as_str().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODEX_OK: &str = r#"{"type":"thread.started","thread_id":"0199a3c2-5f10-7d21-9a0e-2b7c4e81d0aa"}
{"type":"turn.started"}
{"type":"error","message":"Reconnecting... 2/5 (stream disconnected before completion)"}
{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"**Inspecting the parser**"}}
{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"Reset the backoff after a success."}}
{"type":"turn.completed","usage":{"input_tokens":5120,"cached_input_tokens":3072,"output_tokens":214}}
"#;

    #[test]
    fn codex_answers_failures_and_hangs() {
        let p = parse(Parser::CodexJsonl, CODEX_OK, "", Some(0)).unwrap();
        assert_eq!(p.text, "Reset the backoff after a success.");
        assert_eq!((p.tokens_in, p.tokens_out), (Some(5120), Some(214)));
        let auth = "{\"type\":\"turn.started\"}\n{\"type\":\"error\",\"message\":\"unexpected status 401 Unauthorized: Incorrect API key provided\"}\n{\"type\":\"turn.failed\",\"error\":{\"message\":\"unexpected status 401 Unauthorized: Incorrect API key provided\"}}\n";
        assert_eq!(
            parse(Parser::CodexJsonl, auth, "", Some(1))
                .unwrap_err()
                .kind,
            FailKind::Auth
        );
        let model = r#"{"type":"turn.failed","error":{"message":"{\"type\":\"error\",\"status\":400,\"error\":{\"type\":\"invalid_request_error\",\"message\":\"The 'gpt-x' model is not supported when using Codex.\"}}"}}"#;
        let e = parse(Parser::CodexJsonl, model, "", Some(1)).unwrap_err();
        assert_eq!(e.kind, FailKind::UnknownModel);
        assert!(e.message.starts_with("The 'gpt-x' model"));
        let e = parse(
            Parser::CodexJsonl,
            "",
            "Not inside a trusted directory and --skip-git-repo-check was not specified.\n",
            Some(1),
        )
        .unwrap_err();
        assert!(e.message.contains("trusted directory"));
    }

    #[test]
    fn gemini_answers_soft_and_fatal_errors() {
        let ok = r#"{"session_id":"s","response":"Include the locale.","stats":{"models":{"gemini-2.5-pro":{"tokens":{"prompt":2400,"candidates":180},"roles":{"main":{"tokens":{"prompt":2400,"candidates":180}}}},"gemini-2.5-flash":{"tokens":{"prompt":99,"candidates":9},"roles":{"utility_router":{"tokens":{"prompt":99,"candidates":9}}}}}}}"#;
        let p = parse(Parser::GeminiJson, ok, "", Some(0)).unwrap();
        assert_eq!(
            (p.text.as_str(), p.tokens_in, p.tokens_out),
            ("Include the locale.", Some(2400), Some(180))
        );
        let soft = r#"{"session_id":"s","response":"","error":{"type":"INVALID_STREAM","message":"empty stream"}}"#;
        assert_eq!(
            parse(Parser::GeminiJson, soft, "", Some(0))
                .unwrap_err()
                .kind,
            FailKind::Failed
        );
        let stderr = "Warning: 256-color support not detected.\n{\n  \"session_id\": \"c\",\n  \"error\": {\n    \"type\": \"Error\",\n    \"message\": \"Please set an Auth method in your settings\",\n    \"code\": 41\n  }\n}\n";
        let e = parse(Parser::GeminiJson, "", stderr, Some(41)).unwrap_err();
        assert_eq!(e.kind, FailKind::Auth);
        assert!(e.message.starts_with("Please set an Auth method"));
    }

    #[test]
    fn claude_answers_and_errors() {
        let ok = r#"{"type":"result","subtype":"success","is_error":false,"result":"The clone is unnecessary.","total_cost_usd":0.0342,"usage":{"input_tokens":18,"cache_creation_input_tokens":2100,"cache_read_input_tokens":14000,"output_tokens":260}}"#;
        let p = parse(Parser::ClaudeJson, ok, "", Some(0)).unwrap();
        assert_eq!(p.text, "The clone is unnecessary.");
        assert_eq!(
            (p.tokens_in, p.tokens_out, p.cost_usd),
            (Some(16118), Some(260), Some(0.0342))
        );
        let auth = r#"{"type":"result","subtype":"success","is_error":true,"result":"Not logged in · Please run /login","usage":{}}"#;
        assert_eq!(
            parse(Parser::ClaudeJson, auth, "", Some(1))
                .unwrap_err()
                .kind,
            FailKind::Auth
        );
        let turns = r#"{"type":"result","subtype":"error_max_turns","is_error":true,"errors":["Reached maximum number of turns (3)"],"usage":{}}"#;
        assert_eq!(
            parse(Parser::ClaudeJson, turns, "", Some(1))
                .unwrap_err()
                .message,
            "Reached maximum number of turns (3)"
        );
        let e = parse(
            Parser::ClaudeJson,
            "",
            "error: unknown option '--x'\n",
            Some(1),
        )
        .unwrap_err();
        assert!(e.message.contains("unknown option"));
    }
}
