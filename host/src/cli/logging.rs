//! Structured logs (tracing): readable lines by default, JSON on request.
//! `RUST_LOG` overrides the configured level.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Install the global subscriber, writing to stderr.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // A log line that cannot be written (stderr redirected to a file on a
    // full disk) is dropped: by default the subscriber would report that
    // with `eprintln!`, which panics, in whichever thread logged (the
    // journal writer's, say).
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).log_internal_errors(false);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
}
