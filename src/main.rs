//! The scanlogin server binary: reads its configuration from the environment and serves.
//!
//! `scanlogin` serves the app; `scanlogin --print-config` checks the configuration and
//! prints it as it would serve (secrets hidden); `scanlogin simulator` serves the WeChat
//! simulator on its own, for several instances in real-WeChat mode that share one (tests, local demos);
//! `scanlogin hash-secret` hashes an OpenID client's secret (read from standard input) for
//! `secret_hash`; `scanlogin rotate-oidc-key` gives the OpenID provider a new signing key;
//! `scanlogin invite --admin` prints the link that makes its user the first administrator.

/// With `--features dhat-heap`: every allocation is tracked, and `dhat-heap.json` is
/// written at exit (what was live at the heap's peak, by call stack).
#[cfg(feature = "dhat-heap")]
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use scanlogin::server::telemetry;

    #[cfg(feature = "dhat-heap")]
    let _profiler = dhat::Profiler::new_heap();

    telemetry::init();
    match std::env::args().nth(1).as_deref() {
        None => serve().await,
        Some("simulator") => simulator().await,
        Some("--print-config") => print_config(),
        Some("hash-secret") => hash_secret(),
        Some("rotate-oidc-key") => rotate_oidc_key().await,
        Some("invite") => invite().await,
        Some(other) => {
            eprintln!(
                "scanlogin: unknown command {other:?}; use `scanlogin`, `scanlogin --print-config`, `scanlogin simulator`, `scanlogin hash-secret`, `scanlogin rotate-oidc-key` or `scanlogin invite`"
            );
            std::process::ExitCode::from(2)
        }
    }
}

#[cfg(feature = "ssr")]
async fn serve() -> std::process::ExitCode {
    use scanlogin::server::{telemetry, Application, Config};

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
    // On the runtime's workers, not on this thread: `main`'s own future is polled by the
    // thread that started the runtime, so its accept loop would wake that thread for
    // every connection and hand each one over to a worker (three per login).
    match tokio::spawn(app.run_until_stopped(telemetry::shutdown_signal())).await {
        Ok(Ok(())) => std::process::ExitCode::SUCCESS,
        Ok(Err(err)) => {
            eprintln!("scanlogin: server error: {err}");
            std::process::ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("scanlogin: server stopped: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Reads a client secret from standard input (one line) and prints its argon2 hash.
#[cfg(feature = "ssr")]
fn hash_secret() -> std::process::ExitCode {
    let mut secret = String::new();
    if std::io::stdin().read_line(&mut secret).is_err() || secret.trim().is_empty() {
        eprintln!("scanlogin hash-secret: give the secret on standard input");
        return std::process::ExitCode::from(2);
    }
    match scanlogin::server::oidc::clients::hash_secret(secret.trim_end_matches(['\r', '\n'])) {
        Ok(hash) => {
            println!("{hash}");
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("scanlogin hash-secret: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A new signing key for the OpenID provider, in the configured database; the old one
/// stays published while the ID tokens it signed live.
#[cfg(feature = "ssr")]
async fn rotate_oidc_key() -> std::process::ExitCode {
    use secrecy::ExposeSecret;
    let config = match scanlogin::server::Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("scanlogin: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    let rotated = async {
        let store = scanlogin::server::store::Store::connect(config.database_url.expose_secret())
            .await
            .map_err(|e| e.to_string())?;
        scanlogin::server::oidc::keys::rotate(&store)
            .await
            .map_err(|e| e.to_string())
    };
    match rotated.await {
        Ok(kid) => {
            println!("new signing key: {kid}");
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("scanlogin rotate-oidc-key: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `scanlogin invite [--admin] [--uses N] [--days N]`: prints an invitation's link (one
/// use, valid 7 days, by default). `--admin` makes whoever uses it an administrator: how
/// a new deployment gets its first one.
#[cfg(feature = "ssr")]
async fn invite() -> std::process::ExitCode {
    use secrecy::ExposeSecret;
    let usage = "usage: scanlogin invite [--admin] [--uses N] [--days N]";
    let (mut admin, mut uses, mut days) = (false, 1, 7);
    let mut args = std::env::args().skip(2);
    while let Some(arg) = args.next() {
        let mut number = || args.next().and_then(|n| n.parse::<i64>().ok());
        match arg.as_str() {
            "--admin" => admin = true,
            "--uses" => match number() {
                Some(n) => uses = n,
                None => {
                    eprintln!("scanlogin invite: --uses needs a number; {usage}");
                    return std::process::ExitCode::from(2);
                }
            },
            "--days" => match number() {
                Some(n) => days = n,
                None => {
                    eprintln!("scanlogin invite: --days needs a number; {usage}");
                    return std::process::ExitCode::from(2);
                }
            },
            other => {
                eprintln!("scanlogin invite: unknown argument {other:?}; {usage}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let config = match scanlogin::server::Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("scanlogin: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    let made = async {
        let store = scanlogin::server::store::Store::connect(config.database_url.expose_secret())
            .await
            .map_err(|e| e.to_string())?;
        scanlogin::server::admin::invite_from_command_line(&config, &store, admin, uses, days)
            .await
            .map_err(|e| e.to_string())
    };
    match made.await {
        Ok(url) => {
            println!("{url}");
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("scanlogin invite: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Prints the effective configuration (defaults filled in, secrets masked), or every
/// problem with it.
#[cfg(feature = "ssr")]
fn print_config() -> std::process::ExitCode {
    match scanlogin::server::Config::from_env() {
        Ok(config) => {
            println!("{config:#?}");
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("scanlogin: {err}");
            std::process::ExitCode::from(2)
        }
    }
}

#[cfg(feature = "ssr")]
async fn simulator() -> std::process::ExitCode {
    use scanlogin::server::{config::SimulatorSettings, telemetry, wechat::simulator::Simulator};

    let settings = match SimulatorSettings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("scanlogin simulator: cannot start: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "scanlogin simulator: cannot listen on {}: {err}",
                settings.listen
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let public_origin = settings.simulator.public_origin.clone();
    let simulator = Simulator::new(settings.simulator);
    tracing::info!(
        listen = %settings.listen,
        public_origin,
        "WeChat simulator listening (appid wxdemo00scanlogin0): point SCANLOGIN_WECHAT_API_BASE here"
    );
    // On the workers, as the app's server (see `serve`).
    match tokio::spawn(simulator.serve(listener, telemetry::shutdown_signal())).await {
        Ok(Ok(())) => std::process::ExitCode::SUCCESS,
        Ok(Err(err)) => {
            eprintln!("scanlogin simulator: {err}");
            std::process::ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("scanlogin simulator: stopped: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser build is a library (see `hydrate` in lib.rs); this binary needs `ssr`.
}
