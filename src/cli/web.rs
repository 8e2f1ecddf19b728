//! `maestro ui` and `maestro serve --http`: the approval page, and MCP over HTTP beside it.

use std::net::SocketAddr;
use std::sync::Arc;

use super::args::{ListenArgs, ServeArgs, UiArgs};
use super::{EXIT_OK, EXIT_USAGE, print_err, print_out, runtime};
use crate::engine::Engine;
use crate::web::{Options, bind};

/// Refuses a non-loopback address without `--allow-remote`, and (for MCP) without a token.
fn check_reach(
    addr: SocketAddr,
    listen: &ListenArgs,
    token: Option<&str>,
    mcp: bool,
) -> Result<(), i32> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    if !listen.allow_remote {
        print_err(&format!(
            "error: {addr} is not a loopback address; anyone who reaches it could decide your gates\n\
             help: listen on 127.0.0.1 (and use a tunnel), or pass --allow-remote{}\n",
            if mcp { " with --token" } else { "" }
        ));
        return Err(EXIT_USAGE);
    }
    if mcp && token.is_none_or(str::is_empty) {
        print_err(
            "error: --allow-remote needs --token (or MAESTRO_HTTP_TOKEN) for /mcp\nhelp: choose a long random token and give it to your clients as a bearer token\n",
        );
        return Err(EXIT_USAGE);
    }
    Ok(())
}

fn run(engine: Engine, opts: &Options, announce: impl FnOnce(&crate::web::Bound)) -> i32 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let bound = match bind(Arc::new(engine), opts).await {
            Ok(b) => b,
            Err(e) => {
                print_err(&format!(
                    "error: {e}\nhelp: choose another address or port (port 0 picks a free one)\n"
                ));
                return EXIT_USAGE;
            }
        };
        announce(&bound);
        tokio::select! {
            never = bound.run() => match never {},
            _ = tokio::signal::ctrl_c() => EXIT_OK,
        }
    })
}

pub(super) fn ui(engine: Engine, args: &UiArgs) -> i32 {
    if let Err(code) = check_reach(args.addr, &args.listen, None, false) {
        return code;
    }
    let opts = Options {
        addr: args.addr,
        hosts: args.listen.allow_hosts.clone(),
        bearer: None,
        mcp: false,
    };
    run(engine, &opts, |b| {
        print_out(&format!(
            "maestro ui: open {}\n(the link carries this session's access token; Ctrl-C stops the page)\n",
            b.page_url()
        ));
    })
}

pub(super) fn serve_http(engine: Engine, addr: SocketAddr, args: &ServeArgs) -> i32 {
    let token = args
        .token
        .clone()
        .or_else(|| std::env::var("MAESTRO_HTTP_TOKEN").ok())
        .filter(|t| !t.is_empty());
    if let Err(code) = check_reach(addr, &args.listen, token.as_deref(), true) {
        return code;
    }
    let opts = Options {
        addr,
        hosts: args.listen.allow_hosts.clone(),
        bearer: token,
        mcp: true,
    };
    run(engine, &opts, |b| {
        // stderr: logs never go to stdout of a server.
        print_err(&format!(
            "maestro serve: MCP at http://{}/mcp{}\nmaestro serve: approval page at {}\n",
            b.authority(),
            if b.access.bearer.is_some() {
                " (bearer token required)"
            } else {
                ""
            },
            b.page_url()
        ));
    })
}
