//! Logging: `tracing` events to stderr, every line masked for secrets, the level from
//! `MAESTRO_LOG` (`error`, `warn`, `info`, `debug`, `trace`, or a filter such as
//! `maestro=debug`).
//!
//! stderr, because stdout is the MCP channel of `maestro serve` over stdio; Claude Code keeps a
//! server's stderr in its MCP log, so a failure inside the server leaves a trace there. A result
//! that maestro drops on purpose (a best-effort note, a cleanup) is logged rather than lost.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::workspace::mask::mask;

/// The variable that sets the log filter.
pub(crate) const ENV: &str = "MAESTRO_LOG";

/// Installs the stderr logger once per process; `default` is the filter when `MAESTRO_LOG` is
/// unset. A filter that does not parse is reported and `default` is used.
pub(crate) fn init(default: &str) {
    let filter = match std::env::var(ENV) {
        Ok(text) if !text.trim().is_empty() => match EnvFilter::try_new(&text) {
            Ok(f) => f,
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "warning: {ENV}=`{}` is not a log filter ({e}); logging at `{default}`. \
                     Use a level (error, warn, info, debug, trace) or a filter like `maestro=debug`.",
                    text.chars().take(80).collect::<String>()
                );
                EnvFilter::new(default)
            }
        },
        _ => EnvFilter::new(default),
    };
    // A second call (tests that run the CLI in-process) keeps the first logger.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MaskedStderr)
        .with_ansi(false)
        .try_init();
}

/// Hands out a [`MaskedLine`] per event.
struct MaskedStderr;

impl<'a> MakeWriter<'a> for MaskedStderr {
    type Writer = MaskedLine;

    fn make_writer(&'a self) -> Self::Writer {
        MaskedLine
    }
}

/// Writes one formatted event to stderr with secrets masked. The formatter hands over each
/// event in one `write`, so a secret is never split across two calls.
struct MaskedLine;

impl Write for MaskedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().lock().write_all(mask(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().lock().flush()
    }
}

/// Logs a failure that is not allowed to stop what the caller is doing (a best-effort record,
/// a cleanup): `what` names the attempt, the error says why it failed.
pub(crate) fn dropped<T, E: std::fmt::Display>(what: &str, result: Result<T, E>) {
    if let Err(e) = result {
        tracing::warn!("{what} failed: {e}");
    }
}
