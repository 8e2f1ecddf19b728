//! The MCP adapter (placeholder until the server lands).

/// Serves over stdio.
pub fn serve_stdio(_engine: crate::engine::Engine) -> i32 {
    1
}
