//! Who may use the page and the HTTP MCP endpoint: the one place every HTTP request passes.
//!
//! - **Host** must name this server (no DNS rebinding: a page on `evil.example` that resolves
//!   to 127.0.0.1 sends `Host: evil.example` and is refused).
//! - **Origin**, when a browser sends one, must be this server's own.
//! - **The access token**: the URL `maestro ui` prints carries `?token=`; the first visit trades
//!   it for an `HttpOnly`, `SameSite=Strict` cookie. Without the cookie or the token, 403.
//!   `/mcp` takes `Authorization: Bearer <token>` instead when a bearer token is set.
//! - **CSRF**: every form carries a per-server token the page embeds; a POST without it is
//!   refused (checked by the form handler with [`Access::csrf_ok`]).

use std::collections::BTreeSet;
use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode, header};

/// A random hex token of 32 bytes from the operating system's generator.
///
/// # Panics
/// Never in practice: `/dev/urandom` exists on every system maestro runs on; without it there
/// is no safe token, so the server does not start.
#[must_use]
pub(crate) fn random_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("reading /dev/urandom for an access token");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a request is checked against.
#[derive(Debug, Clone)]
pub struct Access {
    /// `host:port` authorities (lower case) this server answers to.
    hosts: BTreeSet<String>,
    /// The page's access token (URL and cookie).
    pub token: String,
    /// The token forms carry.
    pub csrf: String,
    /// `/mcp`'s bearer token, when one is set.
    pub bearer: Option<String>,
    /// The cookie's name: per port, since cookies do not tell ports apart.
    pub cookie: String,
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Host,
    Origin,
    Token,
    Csrf,
}

impl Refusal {
    #[must_use]
    #[allow(
        clippy::unused_self,
        reason = "every refusal is a 403 today; asked per refusal, beside its message"
    )]
    pub(crate) const fn status(self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    #[must_use]
    pub(crate) const fn message(self) -> &'static str {
        match self {
            Refusal::Host => {
                "maestro refuses this request: its Host header does not name this server (a guard against DNS rebinding). Open the address maestro printed."
            }
            Refusal::Origin => {
                "maestro refuses this request: it came from another site's page (its Origin is not this server)."
            }
            Refusal::Token => {
                "maestro refuses this request: the access token is missing or wrong. Open the URL `maestro ui` (or `maestro serve --http`) printed, with its ?token=."
            }
            Refusal::Csrf => {
                "maestro refuses this form: its CSRF token is missing or wrong. Reload the page and decide again; nothing was decided."
            }
        }
    }
}

/// Compares two secrets in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Access {
    /// Access for a server bound at `addr`; `extra_hosts` are further names it answers to
    /// (a tunnel's host name), each `host` or `host:port`.
    #[must_use]
    pub(crate) fn new(addr: SocketAddr, extra_hosts: &[String], bearer: Option<String>) -> Self {
        let port = addr.port();
        let mut hosts: BTreeSet<String> = [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ]
        .into();
        if !addr.ip().is_unspecified() {
            hosts.insert(authority(addr));
        }
        for h in extra_hosts {
            let h = h.to_ascii_lowercase();
            if h.contains(':') {
                hosts.insert(h);
            } else {
                // A bare name: the tunnel's public side (https 443, http 80) or this port.
                hosts.insert(h.clone());
                hosts.insert(format!("{h}:{port}"));
            }
        }
        Self {
            hosts,
            token: random_token(),
            csrf: random_token(),
            bearer,
            cookie: format!("maestro_ui_{port}"),
        }
    }

    /// The hosts, for rmcp's own check of `/mcp`.
    #[must_use]
    pub(crate) fn hosts(&self) -> Vec<String> {
        self.hosts.iter().cloned().collect()
    }

    /// The origins a browser on this server sends (`http://host:port`, and `https://` for a
    /// tunnel's name).
    #[must_use]
    pub(crate) fn origins(&self) -> Vec<String> {
        self.hosts
            .iter()
            .flat_map(|h| [format!("http://{h}"), format!("https://{h}")])
            .collect()
    }

    /// Host and Origin: every request, every route.
    ///
    /// # Errors
    /// The refusal.
    pub(crate) fn check_site(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase)
            .ok_or(Refusal::Host)?;
        if !self.hosts.contains(&host) {
            return Err(Refusal::Host);
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin
                .to_str()
                .map_err(|_| Refusal::Origin)?
                .to_ascii_lowercase();
            let ok = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .is_some_and(|h| self.hosts.contains(h));
            if !ok {
                return Err(Refusal::Origin);
            }
        }
        Ok(())
    }

    /// Whether the page's token came with the request: as `?token=` or as the cookie. Returns
    /// whether the cookie still has to be set.
    ///
    /// # Errors
    /// [`Refusal::Token`].
    pub(crate) fn check_token(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<bool, Refusal> {
        let from_query = query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter_map(|kv| kv.strip_prefix("token="))
            .any(|t| same(t, &self.token));
        if from_query {
            return Ok(true);
        }
        let prefix = format!("{}=", self.cookie);
        let from_cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix(prefix.as_str()))
            .any(|t| same(t, &self.token));
        if from_cookie {
            Ok(false)
        } else {
            Err(Refusal::Token)
        }
    }

    /// `/mcp`: the bearer token when one is set (the page's cookie is not accepted there).
    ///
    /// # Errors
    /// [`Refusal::Token`].
    pub(crate) fn check_bearer(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let Some(want) = &self.bearer else {
            return Ok(());
        };
        let got = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if same(got.trim(), want) {
            Ok(())
        } else {
            Err(Refusal::Token)
        }
    }

    #[must_use]
    pub(crate) fn csrf_ok(&self, got: Option<&str>) -> bool {
        got.is_some_and(|g| same(g, &self.csrf))
    }

    /// The cookie that carries the token after the first visit.
    #[must_use]
    pub(crate) fn set_cookie(&self) -> String {
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie, self.token
        )
    }
}

/// Where the token redirect may send a browser: `path` when it can only name a page of this
/// server, else `/`.
///
/// `//evil.example/` is a network-path reference (another host, this scheme), and browsers read
/// `\` as `/` in http(s) URLs, so `/\evil.example/` is one too; they drop tabs and newlines
/// first. An allow-list is kept instead of a list of those tricks: one leading `/`, then only
/// characters a URL path carries as they are (RFC 3986 `pchar` and `/`). Percent-escapes stay
/// escaped in a Location — `/%2F%2Fevil.example/` names a path on this host — so `%` may pass.
#[must_use]
pub(crate) fn local_path(path: &str) -> &str {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@%/".contains(&b);
    let local = path.starts_with('/') && !path.starts_with("//") && path.bytes().all(plain);
    if local { path } else { "/" }
}

/// `host:port` as a Host header names it (IPv6 in brackets).
pub(crate) fn authority(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn host_and_origin_must_name_this_server() {
        let a = Access::new("127.0.0.1:7411".parse().unwrap(), &[], None);
        assert!(
            a.check_site(&headers(&[(header::HOST, "127.0.0.1:7411")]))
                .is_ok()
        );
        assert!(
            a.check_site(&headers(&[(header::HOST, "localhost:7411")]))
                .is_ok()
        );
        assert_eq!(
            a.check_site(&headers(&[(header::HOST, "evil.example:7411")])),
            Err(Refusal::Host)
        );
        assert_eq!(a.check_site(&HeaderMap::new()), Err(Refusal::Host));
        assert_eq!(
            a.check_site(&headers(&[
                (header::HOST, "127.0.0.1:7411"),
                (header::ORIGIN, "http://evil.example")
            ])),
            Err(Refusal::Origin)
        );
        assert!(
            a.check_site(&headers(&[
                (header::HOST, "127.0.0.1:7411"),
                (header::ORIGIN, "http://localhost:7411")
            ]))
            .is_ok()
        );
        let t = Access::new(
            "127.0.0.1:7411".parse().unwrap(),
            &["m.example".into()],
            None,
        );
        assert!(
            t.check_site(&headers(&[(header::HOST, "m.example")]))
                .is_ok()
        );
    }

    #[test]
    fn the_token_redirect_keeps_only_a_path_on_this_host() {
        for local in [
            "/",
            "/runs/r-1",
            "/events",
            "/%2F%2Fevil.example/",
            "/a//b",
            "/r@x:1",
        ] {
            assert_eq!(local_path(local), local);
        }
        for away in [
            "//evil.example/",
            "///evil.example",
            "/\\evil.example/",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https://evil.example/",
            "evil.example",
            "",
            "/caf\u{e9}",
        ] {
            assert_eq!(local_path(away), "/", "{away:?}");
        }
    }

    #[test]
    fn the_token_comes_by_url_or_cookie_and_nothing_else() {
        let a = Access::new("127.0.0.1:7411".parse().unwrap(), &[], Some("b".into()));
        let q = format!("x=1&token={}", a.token);
        assert_eq!(a.check_token(&HeaderMap::new(), Some(&q)), Ok(true));
        let c = format!("other=1; {}={}", a.cookie, a.token);
        assert_eq!(
            a.check_token(&headers(&[(header::COOKIE, &c)]), None),
            Ok(false)
        );
        assert_eq!(
            a.check_token(&HeaderMap::new(), Some("token=nope")),
            Err(Refusal::Token)
        );
        assert!(
            a.check_bearer(&headers(&[(header::AUTHORIZATION, "Bearer b")]))
                .is_ok()
        );
        assert!(a.check_bearer(&HeaderMap::new()).is_err());
        assert!(!a.csrf_ok(None) && !a.csrf_ok(Some("x")) && a.csrf_ok(Some(&a.csrf.clone())));
    }
}
