//! The scanlogin server binary: reads its configuration from the environment and serves.

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use scanlogin::server::{telemetry, Application, Config};

    telemetry::init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("scanlogin: cannot start: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("scanlogin: cannot start: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!(address = %app.local_addr(), "scanlogin listening");
    match app.run_until_stopped(telemetry::shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("scanlogin: server error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser build is a library (see `hydrate` in lib.rs); this binary needs `ssr`.
}
