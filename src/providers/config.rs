//! `conf/providers.yaml` → provider settings, with the seed's environment overrides
//! (`MAESTRO_<NAME>_CMD`, `_MODEL`, `_TIMEOUT`, `_ENABLED`) applied on top.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::parse::Parser;
use crate::source::SourceFile;
use crate::syntax::ast::Value;
use crate::syntax::conf::{Duplicates, shown, unknown_keys};
use crate::syntax::yaml::{self, YKind, YNode};

/// How a provider is reached.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A command-line client run as a subprocess.
    Cli {
        /// argv with `{{ model }}` placeholders; the prompt goes to stdin.
        command: Vec<String>,
        parser: Parser,
        /// argv for a follow-up that continues the CLI's own session (`{{ session }}` is its
        /// id): set, a thread's next turn sends only the new question. Unset, maestro
        /// replays the thread's earlier turns in the prompt.
        resume: Option<Vec<String>>,
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

impl ProviderConfig {
    /// Whether a follow-up can continue the CLI's own session (a `resume` command is set).
    #[must_use]
    pub(crate) fn resumes(&self) -> bool {
        matches!(
            &self.kind,
            Kind::Cli {
                resume: Some(_),
                ..
            }
        )
    }
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

/// A duration: whole seconds, or `90s`, `10m`, `1h`, `1d`.
fn duration(n: &YNode) -> Option<Duration> {
    match &n.kind {
        YKind::Scalar(Value::Int(i)) => u64::try_from(*i).ok().map(Duration::from_secs),
        YKind::Scalar(Value::String(s)) => {
            crate::syntax::keys::parse_duration(s).map(Duration::from_secs)
        }
        _ => None,
    }
}

/// Keys of one provider entry, for either kind.
const ENTRY_KEYS: &[&str] = &[
    "kind",
    "command",
    "parser",
    "base-url",
    "api-key-env",
    "model",
    "timeout",
    "idle-timeout",
    "retries",
    "backoff",
    "env",
    "cwd",
    "enabled",
    "install",
    "login",
    "resume",
];

/// More retries than this would only hide a broken provider (and the backoff doubles each time).
const MAX_RETRIES: u32 = 10;

/// Provider names are looked up by name from tools and workflows: `[a-z0-9_-]`, 1–64 chars.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
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
    problems.extend(
        unknown_keys(&tree, &["providers"], "the file")
            .into_iter()
            .map(|p| format!("{name}: {p}")),
    );
    let Some(
        map @ YNode {
            kind: YKind::Map(entries),
            ..
        },
    ) = tree.get("providers")
    else {
        problems.push(format!(
            "{name}: no `providers:` mapping (one entry per provider name)"
        ));
        return (Vec::new(), problems);
    };
    let dups = Duplicates::sort(&src, &diags, map);
    problems.extend(dups.other.iter().map(|m| format!("{name}: {m}")));
    let mut out = Vec::new();
    for (i, (key, node)) in entries.iter().enumerate() {
        let pname = key.key_text();
        let mut why: Vec<String> = dups.inside[i].clone();
        if dups.names.contains(&pname) {
            why.push(
                "the name is given twice; neither entry is used until one is removed or renamed"
                    .into(),
            );
        }
        if !valid_name(&pname) {
            why.push("the name must be lowercase letters, digits, `-` and `_` (at most 64)".into());
        }
        match entry(&pname, node) {
            Ok(p) if why.is_empty() => out.push(p),
            Ok(_) => {}
            Err(more) => why.extend(more),
        }
        problems.extend(why.into_iter().map(|w| format!("provider `{pname}`: {w}")));
    }
    (out, problems)
}

/// Reads one entry, or says everything that is wrong with it.
fn entry(name: &str, n: &YNode) -> Result<ProviderConfig, Vec<String>> {
    if !matches!(n.kind, YKind::Map(_)) {
        return Err(vec![format!(
            "must be a mapping of settings (`model`, `command`, ...), not {}",
            shown(n)
        )]);
    }
    if n.get("api-key").is_some() || n.get("api_key").is_some() {
        return Err(vec![
            "a key is written in the file; remove it and name the environment variable that holds it with `api-key-env`"
                .into(),
        ]);
    }
    let mut why = unknown_keys(n, ENTRY_KEYS, "the entry");
    // A string setting: absent is `None`; anything but a scalar is a problem.
    let string = |key: &str, why: &mut Vec<String>| -> Option<String> {
        let v = n.get(key)?;
        let t = match &v.kind {
            YKind::Scalar(Value::Null) => None,
            _ => text(v),
        };
        if t.is_none() {
            why.push(format!("`{key}` must be text, not {}", shown(v)));
        }
        t
    };
    let kind_name = string("kind", &mut why).unwrap_or_else(|| "cli".into());
    let model = string("model", &mut why);
    if n.get("model").is_none() {
        why.push("`model` is missing".into());
    }
    let only = |keys: &[&str], kind: &str, why: &mut Vec<String>| {
        for k in keys {
            if n.get(k).is_some() {
                why.push(format!("`{k}` applies to `kind: {kind}` only"));
            }
        }
    };
    let kind = match kind_name.as_str() {
        "cli" => {
            only(&["base-url", "api-key-env"], "openai", &mut why);
            let resume = match n.get("resume") {
                None => None,
                Some(r) => {
                    match list(r).filter(|c| c.iter().any(|a| a.contains("{{ session }}"))) {
                        Some(argv) => Some(argv),
                        None => {
                            why.push(
                            "`resume` must be a list (argv) containing `{{ session }}`, the session id to continue".into(),
                        );
                            None
                        }
                    }
                }
            };
            let command = n.get("command").and_then(list).filter(|c| !c.is_empty());
            if command.is_none() {
                why.push("`command` must be a non-empty list (argv; no shell)".into());
            }
            let parser_name = string("parser", &mut why).unwrap_or_else(|| "text".into());
            let parser = Parser::from_name(&parser_name);
            if parser.is_none() {
                why.push(format!(
                    "unknown parser `{parser_name}`; use one of {}",
                    Parser::NAMES
                ));
            }
            command.zip(parser).map(|(command, parser)| Kind::Cli {
                command,
                parser,
                resume,
            })
        }
        "openai" => {
            only(&["command", "parser", "resume"], "cli", &mut why);
            let base_url = string("base-url", &mut why);
            if n.get("base-url").is_none() {
                why.push("`base-url` is missing".into());
            }
            let api_key_env = string("api-key-env", &mut why);
            base_url.map(|b| Kind::OpenAi {
                base_url: b.trim_end_matches('/').to_string(),
                api_key_env,
            })
        }
        other => {
            why.push(format!("unknown kind `{other}`; use `cli` or `openai`"));
            None
        }
    };
    let (env_pass, env_set) = env(n.get("env"), &mut why);
    let timeout = setting(n, "timeout", duration, &mut why, DURATION)
        .unwrap_or(Some(Duration::from_secs(600)));
    let idle_timeout = setting(n, "idle-timeout", duration, &mut why, DURATION).flatten();
    for (key, d) in [("timeout", timeout), ("idle-timeout", idle_timeout)] {
        if d == Some(Duration::ZERO) {
            why.push(format!("`{key}` must be longer than 0 s"));
        }
    }
    let retries = setting(n, "retries", retries, &mut why, RETRIES)
        .unwrap_or(Some(1))
        .unwrap_or(1);
    let backoff = setting(n, "backoff", duration_or_ms, &mut why, BACKOFF)
        .unwrap_or(Some(Duration::from_secs(2)))
        .unwrap_or_default();
    let enabled = match n.get("enabled") {
        None => true,
        Some(YNode {
            kind: YKind::Scalar(Value::Bool(b)),
            ..
        }) => *b,
        Some(v) => {
            // maestro reads YAML 1.2: `no`, `off`, `yes` are words, and would be "enabled".
            let hint = match &v.kind {
                YKind::Scalar(Value::String(s)) if matches!(s.as_str(), "true" | "false") => {
                    "; remove the quotes"
                }
                YKind::Scalar(Value::String(s))
                    if matches!(
                        s.to_lowercase().as_str(),
                        "yes" | "no" | "on" | "off" | "y" | "n"
                    ) =>
                {
                    "; in maestro's YAML that word is text, not a boolean"
                }
                _ => "",
            };
            why.push(format!(
                "`enabled` must be `true` or `false` (a YAML boolean), not {}{hint}",
                shown(v)
            ));
            false
        }
    };
    let cwd = string("cwd", &mut why);
    let install = string("install", &mut why);
    let login = string("login", &mut why);
    match (kind, model) {
        (Some(kind), Some(model)) if why.is_empty() => Ok(ProviderConfig {
            name: name.to_string(),
            kind,
            model,
            timeout: timeout.unwrap_or(Duration::from_secs(600)),
            idle_timeout,
            retries,
            backoff,
            env_pass,
            env_set,
            cwd,
            enabled,
            install,
            login,
        }),
        _ => Err(why),
    }
}

const DURATION: &str = "a duration like `90s`, `10m`, `1h` or a whole number of seconds";
const RETRIES: &str = "a whole number from 0 to 10";
const BACKOFF: &str = "a duration like `500ms`, `2s` or a whole number of seconds";

/// A setting read with `read`: `None` when absent, `Some(None)` when malformed (and the
/// problem noted), `Some(Some(v))` when good.
#[allow(clippy::option_option)] // absent, broken and good are three different things here
fn setting<T>(
    n: &YNode,
    key: &str,
    read: fn(&YNode) -> Option<T>,
    why: &mut Vec<String>,
    expected: &str,
) -> Option<Option<T>> {
    let v = n.get(key)?;
    let got = read(v);
    if got.is_none() {
        why.push(format!("`{key}` must be {expected}, not {}", shown(v)));
    }
    Some(got)
}

fn retries(n: &YNode) -> Option<u32> {
    match &n.kind {
        YKind::Scalar(Value::Int(i)) => u32::try_from(*i).ok().filter(|r| *r <= MAX_RETRIES),
        _ => None,
    }
}

/// `env: { pass: [NAMES], set: { NAME: value } }`; `pass` defaults to HOME and PATH.
fn env(e: Option<&YNode>, why: &mut Vec<String>) -> (Vec<String>, BTreeMap<String, String>) {
    let default_pass = || vec!["HOME".into(), "PATH".into()];
    let Some(e) = e else {
        return (default_pass(), BTreeMap::new());
    };
    if !matches!(e.kind, YKind::Map(_)) {
        why.push(format!(
            "`env` must be a mapping with `pass` and/or `set`, not {}",
            shown(e)
        ));
        return (default_pass(), BTreeMap::new());
    }
    why.extend(unknown_keys(e, &["pass", "set"], "`env`"));
    let pass = match e.get("pass") {
        None => default_pass(),
        Some(p) => list(p).unwrap_or_else(|| {
            why.push(format!(
                "`env.pass` must be a list of variable names, not {}",
                shown(p)
            ));
            Vec::new()
        }),
    };
    let mut set = BTreeMap::new();
    match e.get("set") {
        None => {}
        Some(YNode {
            kind: YKind::Map(sets),
            ..
        }) => {
            for (k, v) in sets {
                match text(v) {
                    Some(t) => {
                        set.insert(k.key_text(), t);
                    }
                    None => why.push(format!(
                        "`env.set.{}` must be text, not {}",
                        k.key_text(),
                        shown(v)
                    )),
                }
            }
        }
        Some(other) => why.push(format!(
            "`env.set` must be a mapping of NAME: value, not {}",
            shown(other)
        )),
    }
    (pass, set)
}

/// `backoff` may be `500ms` as well as a duration in seconds.
fn duration_or_ms(n: &YNode) -> Option<Duration> {
    if let YKind::Scalar(Value::String(s)) = &n.kind
        && let Some(ms) = s.strip_suffix("ms")
    {
        return (!ms.is_empty() && ms.chars().all(|c| c.is_ascii_digit()))
            .then(|| ms.parse().ok().map(Duration::from_millis))
            .flatten();
    }
    duration(n)
}

/// Applies `MAESTRO_<NAME>_CMD`, `_MODEL`, `_TIMEOUT` (seconds) and `_ENABLED` from `env`.
pub(crate) fn apply_env(p: &mut ProviderConfig, env: &dyn Fn(&str) -> Option<String>) {
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
            matches!(&codex.kind, Kind::Cli { parser: Parser::CodexJsonl, command, .. } if command.contains(&"read-only".to_string()))
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

    fn one(entry: &str) -> (Vec<ProviderConfig>, Vec<String>) {
        parse(
            "p.yaml",
            &format!("providers:\n  x:\n    command: [x]\n    model: m\n{entry}"),
        )
    }

    #[test]
    fn unknown_keys_are_problems_with_a_suggestion() {
        let (ps, problems) = one("    modle: m2\n    env:\n      pas: [HOME]\n      set: {A: b}\n");
        assert!(ps.is_empty(), "a broken entry is skipped");
        assert!(
            problems.iter().any(|p| p.starts_with("provider `x`:")
                && p.contains("`modle`")
                && p.contains("did you mean `model`?")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("`pas`") && p.contains("did you mean `pass`?")),
            "{problems:?}"
        );
        // A key of the other kind is not silently ignored either.
        let (ps, problems) = one("    base-url: http://x\n");
        assert!(ps.is_empty());
        assert!(
            problems
                .iter()
                .any(|p| p.contains("`base-url` applies to `kind: openai` only")),
            "{problems:?}"
        );
        // Other entries still load.
        let (ps, problems) = parse(
            "p.yaml",
            "providers:\n  bad:\n    command: [x]\n    model: m\n    retires: 2\n  good:\n    command: [y]\n    model: m\n",
        );
        assert_eq!(
            ps.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["good"]
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("did you mean `retries`?"),
            "{problems:?}"
        );
    }

    #[test]
    fn enabled_must_be_a_yaml_boolean() {
        let (ps, problems) = one("    enabled: false\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert!(!ps[0].enabled);
        let (ps, problems) = one("    enabled: true\n");
        assert!(problems.is_empty() && ps[0].enabled, "{problems:?}");
        for (value, shown) in [
            ("no", "the text `no`; in maestro's YAML that word is text"),
            ("off", "the text `off`; in maestro's YAML that word is text"),
            ("\"false\"", "the text `false`; remove the quotes"),
            ("0", "`0`"),
            ("yes", "the text `yes`"),
        ] {
            let (ps, problems) = one(&format!("    enabled: {value}\n"));
            assert!(
                ps.is_empty(),
                "`enabled: {value}` must not load the provider"
            );
            assert_eq!(problems.len(), 1, "{value}: {problems:?}");
            assert!(
                problems[0].contains("`enabled` must be `true` or `false`")
                    && problems[0].contains(shown),
                "{value}: {problems:?}"
            );
        }
    }

    #[test]
    fn malformed_numbers_and_durations_are_problems_not_defaults() {
        for (line, key) in [
            ("retries: lots", "`retries`"),
            ("retries: -1", "`retries`"),
            ("retries: 99", "`retries`"),
            ("retries: 1.5", "`retries`"),
            ("timeout: 10 minutes", "`timeout`"),
            ("timeout: 0", "`timeout`"),
            ("timeout: []", "`timeout`"),
            ("idle-timeout: soon", "`idle-timeout`"),
            ("idle-timeout: 0s", "`idle-timeout`"),
            ("backoff: fast", "`backoff`"),
            ("backoff: ms", "`backoff`"),
            ("backoff: -5ms", "`backoff`"),
            ("env: [HOME]", "`env`"),
            ("env: {pass: HOME}", "`env.pass`"),
            ("env: {set: {A: [1]}}", "`env.set.A`"),
            ("cwd: [a]", "`cwd`"),
        ] {
            let (ps, problems) = one(&format!("    {line}\n"));
            assert!(ps.is_empty(), "`{line}` must not load the provider");
            assert!(
                problems.len() == 1 && problems[0].contains(key),
                "{line}: {problems:?}"
            );
        }
        let (ps, problems) =
            one("    retries: 3\n    timeout: 90s\n    idle-timeout: 30\n    backoff: 500ms\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            (
                ps[0].retries,
                ps[0].timeout,
                ps[0].idle_timeout,
                ps[0].backoff
            ),
            (
                3,
                Duration::from_secs(90),
                Some(Duration::from_secs(30)),
                Duration::from_millis(500)
            )
        );
    }

    #[test]
    fn a_provider_defined_twice_is_a_problem_and_neither_loads() {
        let (ps, problems) = parse(
            "p.yaml",
            "providers:\n  x:\n    command: [first]\n    model: m\n  y:\n    command: [y]\n    model: m\n    model: n\n  x:\n    command: [second]\n    model: m\n  Bad.Name:\n    command: [z]\n    model: m\n",
        );
        assert!(ps.is_empty(), "{ps:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("provider `x`:") && p.contains("given twice")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("provider `y`:") && p.contains("`model` is given twice")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("provider `Bad.Name`:") && p.contains("lowercase")),
            "{problems:?}"
        );
        let (_, problems) = parse("p.yaml", "provider:\n  x: {}\n");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("did you mean `providers`?")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_enabled_override_takes_the_usual_words() {
        let (mut ps, _) = one("");
        for (word, on) in [
            ("0", false),
            ("false", false),
            ("No", false),
            (" off ", false),
            ("1", true),
            ("yes", true),
        ] {
            let env = |k: &str| (k == "MAESTRO_X_ENABLED").then(|| word.to_string());
            apply_env(&mut ps[0], &env);
            assert_eq!(ps[0].enabled, on, "MAESTRO_X_ENABLED={word:?}");
        }
    }
}
