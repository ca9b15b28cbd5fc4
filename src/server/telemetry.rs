//! Logging set-up and the shutdown signal.

use std::io::IsTerminal;

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Logs to stderr; `RUST_LOG` filters (default `info`); `SCANLOGIN_LOG_FORMAT=json` writes
/// one JSON object per line (with the request's span, and so its `request_id`). The value
/// is validated with the rest of the configuration; here an unknown one means text.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("SCANLOGIN_LOG_FORMAT").is_ok_and(|f| f.trim() == "json");
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .init();
    } else {
        registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    // Escape codes only for a person at a terminal, never into a journal.
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .init();
    }
}

/// Resolves on Ctrl-C or SIGTERM, so the server can finish its requests and stop.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// What `f` logs on this thread at `level` and above, for the tests of what is logged: as
/// JSON lines when `json` (as `SCANLOGIN_LOG_FORMAT=json` writes them), else as text.
#[cfg(test)]
pub(crate) fn logged_while(level: tracing::Level, json: bool, f: impl FnOnce()) -> String {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(move || writer.clone())
        .with_ansi(false);
    if json {
        tracing::subscriber::with_default(builder.json().finish(), f);
    } else {
        tracing::subscriber::with_default(builder.finish(), f);
    }
    let logged = lines.0.lock().unwrap().clone();
    String::from_utf8(logged).unwrap()
}
