//! `conf/providers.yaml` → provider settings, with the seed's environment overrides
//! (`MAESTRO_<NAME>_CMD`, `_MODEL`, `_TIMEOUT`, `_ENABLED`) applied on top.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::parse::Parser;
use crate::source::SourceFile;
use crate::syntax::ast::Value;
use crate::syntax::yaml::{self, YKind, YNode};

/// How a provider is reached.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A command-line client run as a subprocess.
    Cli {
        /// argv with `{{ model }}` placeholders; the prompt goes to stdin.
        command: Vec<String>,
        parser: Parser,
    },
    /// An OpenAI-compatible chat-completions server.
    OpenAi {
        base_url: String,
        /// The *name* of the environment variable that holds the key.
        api_key_env: Option<String>,
    },
}

/// One configured provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: Kind,
    pub model: String,
    pub timeout: Duration,
    pub idle_timeout: Option<Duration>,
    pub retries: u32,
    pub backoff: Duration,
    pub env_pass: Vec<String>,
    pub env_set: BTreeMap<String, String>,
    pub cwd: Option<String>,
    pub enabled: bool,
    /// How to install it, for messages.
    pub install: Option<String>,
    /// How to log in, for messages.
    pub login: Option<String>,
}

fn text(n: &YNode) -> Option<String> {
    match &n.kind {
        YKind::Scalar(Value::String(s)) => Some(s.clone()),
        YKind::Scalar(Value::Int(i)) => Some(i.to_string()),
        YKind::Scalar(Value::Float(f)) => Some(f.to_string()),
        YKind::Scalar(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

fn list(n: &YNode) -> Option<Vec<String>> {
    match &n.kind {
        YKind::Seq(items) => items.iter().map(text).collect(),
        _ => None,
    }
}

fn duration(n: &YNode) -> Option<Duration> {
    match &n.kind {
        YKind::Scalar(Value::Int(i)) => u64::try_from(*i).ok().map(Duration::from_secs),
        YKind::Scalar(Value::String(s)) => {
            crate::syntax::keys::parse_duration(s).map(Duration::from_secs)
        }
        _ => None,
    }
}

/// Parses the config text. Problems are returned as sentences; a broken entry is skipped.
#[must_use]
pub fn parse(name: &str, text_src: &str) -> (Vec<ProviderConfig>, Vec<String>) {
    let src = Arc::new(SourceFile::new(name, text_src));
    let mut diags = Vec::new();
    let mut problems = Vec::new();
    let Some(tree) = yaml::parse_tree(&src, &mut diags) else {
        problems.extend(diags.iter().map(|d| format!("{name}: {}", d.message)));
        return (Vec::new(), problems);
    };
    let Some(YKind::Map(entries)) = tree.get("providers").map(|p| &p.kind) else {
        problems.push(format!("{name}: no `providers:` mapping"));
        return (Vec::new(), problems);
    };
    let mut out = Vec::new();
    for (key, node) in entries {
        let pname = key.key_text();
        match entry(&pname, node) {
            Ok(p) => out.push(p),
            Err(why) => problems.push(format!("provider `{pname}`: {why}")),
        }
    }
    (out, problems)
}

fn entry(name: &str, n: &YNode) -> Result<ProviderConfig, String> {
    if n.get("api-key").is_some() || n.get("api_key").is_some() {
        return Err(
            "a key is written in the file; remove it and name the environment variable that holds it with `api-key-env`"
                .into(),
        );
    }
    let kind_name = n.get("kind").and_then(text).unwrap_or_else(|| "cli".into());
    let model = n.get("model").and_then(text).ok_or("`model` is missing")?;
    let kind = match kind_name.as_str() {
        "cli" => {
            let command = n
                .get("command")
                .and_then(list)
                .filter(|c| !c.is_empty())
                .ok_or("`command` must be a non-empty list (argv; no shell)")?;
            let parser_name = n
                .get("parser")
                .and_then(text)
                .unwrap_or_else(|| "text".into());
            let parser = Parser::from_name(&parser_name).ok_or_else(|| {
                format!(
                    "unknown parser `{parser_name}`; use one of {}",
                    Parser::NAMES
                )
            })?;
            Kind::Cli { command, parser }
        }
        "openai" => Kind::OpenAi {
            base_url: n
                .get("base-url")
                .and_then(text)
                .ok_or("`base-url` is missing")?
                .trim_end_matches('/')
                .to_string(),
            api_key_env: n.get("api-key-env").and_then(text),
        },
        other => return Err(format!("unknown kind `{other}`; use `cli` or `openai`")),
    };
    let env = n.get("env");
    let env_pass = env
        .and_then(|e| e.get("pass"))
        .and_then(list)
        .unwrap_or_else(|| vec!["HOME".into(), "PATH".into()]);
    let mut env_set = BTreeMap::new();
    if let Some(YKind::Map(sets)) = env.and_then(|e| e.get("set")).map(|s| &s.kind) {
        for (k, v) in sets {
            env_set.insert(k.key_text(), text(v).unwrap_or_default());
        }
    }
    Ok(ProviderConfig {
        name: name.to_string(),
        kind,
        model,
        timeout: n
            .get("timeout")
            .and_then(duration)
            .unwrap_or(Duration::from_secs(600)),
        idle_timeout: n.get("idle-timeout").and_then(duration),
        retries: n
            .get("retries")
            .and_then(text)
            .and_then(|r| r.parse().ok())
            .unwrap_or(1),
        backoff: n
            .get("backoff")
            .and_then(duration_or_ms)
            .unwrap_or(Duration::from_secs(2)),
        env_pass,
        env_set,
        cwd: n.get("cwd").and_then(text),
        enabled: n.get("enabled").and_then(text).is_none_or(|e| e != "false"),
        install: n.get("install").and_then(text),
        login: n.get("login").and_then(text),
    })
}

/// `backoff` may be `500ms` as well as a duration in seconds.
fn duration_or_ms(n: &YNode) -> Option<Duration> {
    if let Some(ms) = text(n).and_then(|t| t.strip_suffix("ms").and_then(|v| v.parse().ok())) {
        return Some(Duration::from_millis(ms));
    }
    duration(n)
}

/// Applies `MAESTRO_<NAME>_CMD`, `_MODEL`, `_TIMEOUT` (seconds) and `_ENABLED` from `env`.
pub fn apply_env(p: &mut ProviderConfig, env: &dyn Fn(&str) -> Option<String>) {
    let prefix = format!("MAESTRO_{}_", p.name.to_uppercase().replace('-', "_"));
    if let Some(cmd) = env(&format!("{prefix}CMD")).filter(|c| !c.trim().is_empty())
        && let Kind::Cli { command, .. } = &mut p.kind
    {
        // The seed's variable names the program; the flags stay ours.
        command[0] = cmd.trim().to_string();
    }
    if let Some(model) = env(&format!("{prefix}MODEL")).filter(|m| !m.trim().is_empty()) {
        p.model = model.trim().to_string();
    }
    if let Some(secs) = env(&format!("{prefix}TIMEOUT")).and_then(|t| t.trim().parse().ok()) {
        p.timeout = Duration::from_secs(secs);
    }
    if let Some(on) = env(&format!("{prefix}ENABLED")) {
        p.enabled = !matches!(
            on.trim().to_lowercase().as_str(),
            "0" | "false" | "no" | "off"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_parses_and_env_overrides_win() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/conf/providers.yaml"))
                .unwrap();
        let (mut ps, problems) = parse("providers.yaml", &text);
        assert!(problems.is_empty(), "{problems:?}");
        let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["codex", "gemini", "claude"]);
        let codex = &mut ps[0];
        assert!(
            matches!(&codex.kind, Kind::Cli { parser: Parser::CodexJsonl, command } if command.contains(&"read-only".to_string()))
        );
        let env = |k: &str| match k {
            "MAESTRO_CODEX_MODEL" => Some("o4".to_string()),
            "MAESTRO_CODEX_TIMEOUT" => Some("30".to_string()),
            "MAESTRO_CODEX_ENABLED" => Some("false".to_string()),
            "MAESTRO_CODEX_CMD" => Some("/opt/codex".to_string()),
            _ => None,
        };
        apply_env(codex, &env);
        assert_eq!(codex.model, "o4");
        assert_eq!(codex.timeout, Duration::from_secs(30));
        assert!(!codex.enabled);
        assert!(matches!(&codex.kind, Kind::Cli { command, .. } if command[0] == "/opt/codex"));
    }

    #[test]
    fn keys_in_the_file_and_bad_entries_are_refused() {
        let (ps, problems) = parse(
            "p.yaml",
            "providers:\n  leaky:\n    kind: openai\n    base-url: http://x\n    model: m\n    api-key: sk-123\n  odd:\n    command: [x]\n    model: m\n    parser: xml\n  fine:\n    kind: openai\n    base-url: http://127.0.0.1:1/v1/\n    model: m\n    api-key-env: LOCAL_KEY\n",
        );
        assert_eq!(ps.len(), 1);
        assert_eq!(
            ps[0].kind,
            Kind::OpenAi {
                base_url: "http://127.0.0.1:1/v1".into(),
                api_key_env: Some("LOCAL_KEY".into())
            }
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("leaky") && p.contains("api-key-env"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("odd") && p.contains("unknown parser"))
        );
    }
}
