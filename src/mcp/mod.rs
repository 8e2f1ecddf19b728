//! The MCP adapter: a thin layer over the engine, served with rmcp over stdio.
//!
//! Tool bodies are short: typed params in, one engine call, a typed object out (with a
//! `summary`). Refusals become tool results with `isError: true` and a message that says what
//! to do; malformed requests are JSON-RPC errors raised by rmcp itself. Nothing is printed on
//! stdout except the protocol.

#![allow(
    clippy::result_large_err,
    reason = "engine calls return a Failure (message and help), turned into the tool's text at once"
)]

mod catalog;
mod consult_tools;
mod elicit;
pub(crate) mod params;
mod quality_tools;
pub(crate) mod sessions;
pub(crate) mod stdio;
mod workflow_tools;
mod workspace_tools;

pub use sessions::MAX_SESSIONS;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt, tool_handler};

use crate::engine::{Engine, Failure};

/// What the server tells a client about itself; kept under 2 KB.
pub(crate) const INSTRUCTIONS: &str = include_str!("instructions.md");

/// The MCP server over one engine. The engine is shared, never locked: every call runs on
/// a blocking thread (`Engine::blocking`), so SQLite and file walks stay off the runtime.
#[derive(Clone)]
pub struct Server {
    engine: Arc<Engine>,
    tool_router: ToolRouter<Server>,
    /// The Claude Code session this server serves (stdio only: Claude Code starts one server
    /// per session and names it in `CLAUDE_CODE_SESSION_ID`). Runs started here record it.
    session: Option<String>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl Server {
    /// A server over `engine`, hiding the tools named in `MAESTRO_DISABLED_TOOLS`
    /// (comma-separated).
    #[must_use]
    pub fn new(engine: Arc<Engine>) -> Self {
        let disabled = std::env::var("MAESTRO_DISABLED_TOOLS").unwrap_or_default();
        let mut tool_router = Self::workflow_router()
            + Self::consult_router()
            + Self::workspace_router()
            + Self::quality_router();
        for name in disabled.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            tool_router.remove_route(name);
        }
        for route in tool_router.map.values_mut() {
            compact(&mut route.attr);
        }
        Self {
            engine,
            tool_router,
            session: None,
        }
    }

    /// This server serves the one Claude Code session named in its environment
    /// (`CLAUDE_CODE_SESSION_ID`), as a stdio server started by Claude Code does.
    #[must_use]
    pub(crate) fn for_session_from_env(mut self) -> Self {
        self.session = std::env::var("CLAUDE_CODE_SESSION_ID")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s.len() <= 200);
        self
    }

    /// Runs one engine call on a blocking thread; a refusal becomes the tool's error text.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, String> {
        self.engine.blocking(f).await.map_err(|f| refusal(&f))
    }

    /// As [`Server::call`], for the prompt and resource handlers (JSON-RPC errors).
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T, ErrorData> + Send + 'static,
    ) -> Result<T, ErrorData> {
        self.engine
            .blocking(move |e| Ok(f(e)))
            .await
            .unwrap_or_else(|fail| Err(ErrorData::internal_error(fail.message, None)))
    }
}

/// Every tool's schemas cost context in every session: drop the `$schema` keys and give each
/// result a one-line output schema (an object with a `summary`); the field docs live in the
/// tool descriptions and the results themselves.
fn compact(tool: &mut rmcp::model::Tool) {
    let mut input = serde_json::Value::Object((*tool.input_schema).clone());
    inline_defs(&mut input);
    slim(&mut input);
    if let serde_json::Value::Object(map) = input {
        tool.input_schema = Arc::new(map);
    }
    if let Some(out) = &tool.output_schema {
        tool.output_schema = Some(Arc::new(top_level(out)));
    }
    if let Some(a) = tool.annotations.as_mut() {
        // Only what differs from the spec's defaults (read-only false, destructive true,
        // idempotent false) is said; it means the same and costs less. `openWorldHint` is
        // left out: its default (true) only over-states reach, and the 12 KB budget of the
        // tool list buys more as words elsewhere.
        a.title = None;
        a.open_world_hint = None;
        if a.read_only_hint == Some(true) {
            a.destructive_hint = None;
            a.idempotent_hint = None;
        } else {
            a.read_only_hint = None;
        }
        if a.destructive_hint == Some(true) {
            a.destructive_hint = None;
        }
        if a.idempotent_hint == Some(false) {
            a.idempotent_hint = None;
        }
    }
}

/// Replaces every `$ref` into `$defs` with the definition itself (inputs are small and
/// acyclic), and drops `$defs`: fewer bytes, and simpler for a model to read.
fn inline_defs(schema: &mut serde_json::Value) {
    use serde_json::Value;
    fn walk(v: &mut Value, defs: &serde_json::Map<String, Value>, depth: usize) {
        match v {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(Value::as_str)
                    && let Some(def) = defs.get(r.rsplit('/').next().unwrap_or_default())
                    && depth < 8
                {
                    let mut def = def.clone();
                    // The property's own words say what it is for; the type's are not needed.
                    if let Value::Object(d) = &mut def {
                        d.remove("description");
                    }
                    walk(&mut def, defs, depth + 1);
                    map.remove("$ref");
                    if let Value::Object(d) = def {
                        for (k, x) in d {
                            map.entry(k).or_insert(x);
                        }
                    }
                }
                map.values_mut().for_each(|x| walk(x, defs, depth));
            }
            Value::Array(items) => items.iter_mut().for_each(|x| walk(x, defs, depth)),
            _ => {}
        }
    }
    let Some(Value::Object(defs)) = schema.as_object_mut().and_then(|m| m.remove("$defs")) else {
        return;
    };
    walk(schema, &defs, 0);
}

/// An output schema cut to its top level: every field with its JSON type(s), `null` kept
/// where the field may be null, so a client that validates results still can. The fields'
/// insides are documented by the results themselves.
fn top_level(
    schema: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::{Value, json};
    fn types(v: &Value, defs: &Value, out: &mut Vec<String>) {
        if let Some(r) = v.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or_default();
            return types(&defs[name], defs, out);
        }
        match v.get("type") {
            Some(Value::String(t)) => out.push(t.clone()),
            Some(Value::Array(ts)) => {
                out.extend(ts.iter().filter_map(Value::as_str).map(String::from));
            }
            _ => {}
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(alts)) = v.get(key) {
                for a in alts {
                    types(a, defs, out);
                }
            }
        }
        if v.get("enum").is_some() && v.get("type").is_none() {
            out.push("string".into());
        }
        if v.get("const").is_some_and(Value::is_null) {
            out.push("null".into());
        }
    }
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut props = serde_json::Map::new();
    if let Some(Value::Object(p)) = schema.get("properties") {
        for (name, v) in p {
            let mut ts = Vec::new();
            types(v, &defs, &mut ts);
            // A field that may be left out is left out rather than sent as null.
            if !required.contains(&name.as_str()) {
                ts.retain(|t| t != "null");
            }
            ts.sort();
            ts.dedup();
            let t = match ts.as_slice() {
                [] => json!({}),
                [one] => json!({"type": one}),
                _ => json!({"type": ts}),
            };
            props.insert(name.clone(), t);
        }
    }
    let mut out = serde_json::Map::new();
    out.insert("type".into(), json!("object"));
    out.insert("properties".into(), Value::Object(props));
    out
}

/// Removes what a model does not need to call a tool: `$schema`, integer formats and
/// minimums, empty defaults, `additionalProperties`, and `null` alternatives of optional
/// fields (absence already says it).
fn slim(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            // An optional field is `anyOf [T, null]`: absence already says it, keep T.
            if let Some(Value::Array(alts)) = map.get("anyOf") {
                let kept: Vec<Value> = alts
                    .iter()
                    .filter(|a| a.get("type") != Some(&Value::from("null")))
                    .cloned()
                    .collect();
                if kept.len() == 1 {
                    map.remove("anyOf");
                    if let Value::Object(inner) = &kept[0] {
                        for (k, x) in inner {
                            map.entry(k.clone()).or_insert_with(|| x.clone());
                        }
                    }
                }
            }
            map.remove("$schema");
            map.remove("additionalProperties");
            if map.get("format").and_then(Value::as_str).is_some_and(|f| {
                f.starts_with("uint") || f.starts_with("int") || f == "double" || f == "float"
            }) {
                map.remove("format");
                if map.get("minimum").and_then(Value::as_f64) == Some(0.0) {
                    map.remove("minimum");
                }
            }
            if map.get("default").is_some_and(|d| {
                d.as_array().is_some_and(Vec::is_empty)
                    || d.as_object().is_some_and(serde_json::Map::is_empty)
                    || d == &Value::Bool(false)
            }) {
                map.remove("default");
            }
            if let Some(Value::Array(types)) = map.get("type") {
                let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if kept.len() == 1 {
                    map.insert("type".into(), kept[0].clone());
                }
            }
            // Documented enum variants come as `oneOf` of `const`s: a plain `enum` says the
            // same in a fraction of the bytes (the tool description explains the values).
            if let Some(Value::Array(alts)) = map.get("oneOf")
                && alts.iter().all(|a| a.get("const").is_some())
            {
                let values: Vec<Value> = alts
                    .iter()
                    .filter_map(|a| a.get("const").cloned())
                    .collect();
                map.remove("oneOf");
                map.insert("type".into(), Value::from("string"));
                map.insert("enum".into(), Value::Array(values));
            }
            map.values_mut().for_each(slim);
        }
        Value::Array(items) => items.iter_mut().for_each(slim),
        _ => {}
    }
}

/// A refusal as the model reads it: what went wrong, then what to do.
pub(crate) fn refusal(f: &Failure) -> String {
    f.log();
    f.to_string()
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .build(),
        )
        .with_instructions(INSTRUCTIONS);
        let mut imp = Implementation::from_build_env();
        imp.name = "maestro".into();
        imp.version = env!("CARGO_PKG_VERSION").into();
        info.server_info = imp;
        info
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let prompts = self.read(|e| Ok(catalog::prompts(e))).await?;
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        self.read(move |e| catalog::prompt(e, &request))
            .await
            .map(Into::into)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let resources = self.read(|e| Ok(catalog::resources(e))).await?;
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            catalog::templates(),
        ))
    }

    async fn on_custom_request(
        &self,
        request: rmcp::model::CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CustomResult, ErrorData> {
        if request.method == stdio::TOO_DEEP {
            return Err(ErrorData::invalid_request(
                "the request is nested more than 120 levels deep; maestro does not read it. Send flatter arguments.",
                None,
            ));
        }
        Err(ErrorData::new(
            rmcp::model::ErrorCode::METHOD_NOT_FOUND,
            format!("maestro has no method `{}`", request.method),
            None,
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.read(move |e| catalog::read(e, &request.uri))
            .await
            .map(Into::into)
    }
}

/// Serves over stdin/stdout until the client closes stdin.
///
/// # Errors
/// The transport's failure, as words for stderr.
pub(crate) async fn serve_stdio(engine: Arc<Engine>) -> Result<(), String> {
    let server = Server::new(engine).for_session_from_env();
    let (stdin, stdout) = rmcp::transport::stdio();
    let running = server
        .serve((stdio::Guarded::new(stdin), stdout))
        .await
        .map_err(|e| format!("initialization failed: {e}"))?;
    running.waiting().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// MCP over Streamable HTTP: one [`Server`] per session, all over the same engine, so every
/// client shares one state file and one approval queue. Host and Origin are checked here too
/// (rmcp's own check: `hosts` and `origins`, which the page's guard `web::access` hands over),
/// behind that guard. At most [`MAX_SESSIONS`]
/// sessions are kept (`sessions`); the returned handle tells the HTTP layer when a new one
/// would be refused, so that it answers 503 before rmcp is asked.
pub(crate) fn http_service(
    engine: Arc<Engine>,
    hosts: Vec<String>,
    origins: Vec<String>,
) -> (
    rmcp::transport::streamable_http_server::StreamableHttpService<Server, sessions::Sessions>,
    Arc<sessions::Sessions>,
) {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation();
    // One server built, cloned per session: building one makes every tool's schemas anew,
    // and a clone shares them.
    let server = Server::new(engine);
    let sessions = Arc::new(sessions::Sessions::default());
    let service =
        StreamableHttpService::new(move || Ok(server.clone()), Arc::clone(&sessions), config);
    (service, sessions)
}
