//! Builds the axum router and binds the listener. `main` and the integration tests
//! both start the server through [`Application`], so tests exercise the real app.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    extract::{DefaultBodyLimit, FromRef, Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tower_http::{
    limit::RequestBodyLimitLayer, set_header::SetResponseHeaderLayer, trace::TraceLayer,
};

use super::{
    code_images::CodeImages,
    config::Mode,
    connections::{self, OpenConnections, Server},
    error, guard,
    limits::Limits,
    registry::{memory::MemoryRegistry, redis::RedisRegistry, RegistryConfig, SceneRegistry},
    session,
    socket::{self, PendingSockets},
    store::{SessionPolicy, Store},
    wechat::{
        shared_token::SharedTokens,
        simulator::{Simulator, SimulatorConfig, DEMO_APPID, DEMO_SECRET},
        TokenApi, WeChatClient, WeChatError, WeChatSettings,
    },
    Config,
};
use crate::app::{shell, App};

/// A shutdown finishes within this (systemd's `TimeoutStopSec` is above it).
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Every Redis call answers within this, or fails (503) rather than hang.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// What every handler can reach. It is cloned for every request, several times (each
/// middleware with state, each server function's context), so it is one `Arc`: a clone of
/// the fields themselves was 4% of a login's server CPU in a profile.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct AppStateInner {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub wechat: Arc<WeChatClient>,
    /// Every scene's state, events and expiry.
    pub registry: Arc<dyn SceneRegistry>,
    pub code_images: CodeImages,
    /// Open-in-WeChat links made, and WeChat's refusals (see `open_link.rs`).
    pub open_links: Arc<super::open_link::OpenLinks>,
    /// Demo mode's own WeChat simulator.
    pub simulator: Option<Simulator>,
    pub store: Store,
    pub session_policy: SessionPolicy,
    pub limits: Arc<Limits>,
    pub pending_sockets: Arc<PendingSockets>,
    /// Origins allowed to post and to open sockets.
    pub allowed_origins: Arc<Vec<String>>,
    /// The public origin is https: cookies get `Secure` and the `__Host-` prefix.
    pub secure_cookies: bool,
    /// Turns true when the server is shutting down: login sockets close with 1012.
    pub shutting_down: tokio::sync::watch::Receiver<bool>,
    /// Login sockets open now (a shutdown waits for them to close).
    pub open_sockets: Arc<std::sync::atomic::AtomicUsize>,
    /// The OpenID provider, if enabled.
    pub oidc: Option<Arc<super::oidc::Provider>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("WeChat client: {0}")]
    WeChat(#[from] WeChatError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("OpenID provider: {0}")]
    Oidc(String),
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// Makes the server state available to server functions and components.
    fn provide(&self) {
        provide_context(self.clone());
    }
}

pub struct Application {
    shutdown: tokio::sync::watch::Sender<bool>,
    /// `GET /metrics`, on its own listener.
    metrics: Option<(TcpListener, metrics_exporter_prometheus::PrometheusHandle)>,
    server: Server,
    local_addr: SocketAddr,
    router: Router,
    state: AppState,
}

impl Application {
    /// Binds `config.leptos.site_addr` (port 0 picks a free port) and builds the router.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let addr = config.leptos.site_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;
        // The server's own address as seen from this machine (0.0.0.0 is not one).
        let own = if local.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], local.port()))
        } else {
            local
        };
        let public_origin = config
            .public_origin
            .clone()
            .unwrap_or_else(|| format!("http://{own}"));
        let mut allowed_origins = vec![public_origin.clone()];
        if config.public_origin.is_none() && own.ip().is_loopback() {
            // Unconfigured, on this machine: the same server by its other name.
            allowed_origins.push(format!("http://localhost:{}", own.port()));
        }
        allowed_origins.extend(config.allowed_origins.iter().cloned());

        let (settings, simulator) = match &config.mode {
            Mode::Demo { .. } => {
                let simulator = Simulator::new(SimulatorConfig {
                    token_ttl: config.sim_token_ttl,
                    codes_per_minute: config.sim_codes_per_minute,
                    image: config.sim_image,
                    ..SimulatorConfig::demo(public_origin.clone(), vec![config.mp_page.clone()])
                });
                let settings = WeChatSettings {
                    base: format!("http://{own}/__wechat"),
                    appid: DEMO_APPID.to_owned(),
                    secret: DEMO_SECRET.into(),
                    token_api: config.wechat_token_api,
                    timeout: config.wechat_timeout,
                };
                (settings, Some(simulator))
            }
            Mode::WeChat { appid, secret } => {
                let settings = WeChatSettings {
                    base: config.wechat_api_base.clone(),
                    appid: appid.clone(),
                    secret: secret.clone(),
                    token_api: config.wechat_token_api,
                    timeout: config.wechat_timeout,
                };
                (settings, None)
            }
        };
        if config.wechat_token_api == TokenApi::Classic {
            tracing::warn!("cgi-bin/token: each process invalidates the others' tokens; prefer stable_token with several processes");
        }
        let secure_cookies = public_origin.starts_with("https://");
        let store = Store::connect(config.database_url.expose_secret()).await?;
        let oidc = config.oidc.clone().map(Arc::new);
        if oidc.is_some() {
            super::oidc::keys::ensure_active(&store)
                .await
                .map_err(|e| StartupError::Oidc(e.to_string()))?;
        }
        let (descriptors, descriptors_hard) = connections::raise_descriptor_limit();
        let mut connection_settings = connections::Settings::new(
            &config.connections,
            descriptors,
            config.trusted_proxies.clone(),
            config.ipv6_prefix,
        );
        if simulator.is_some() {
            // The WeChat client reaches the built-in simulator over loopback from
            // 127.0.0.1: a burst of codes must not use up that address's connections.
            connection_settings.uncapped.push(own.ip());
        }
        log_startup(
            &config,
            local,
            &public_origin,
            &connection_settings,
            (descriptors, descriptors_hard),
        );
        let registry_config = RegistryConfig {
            ttl: config.scene_ttl,
            socket_grace: config.limits.socket_grace,
            max_scenes: config.limits.max_scenes,
            max_scenes_per_client: config.limits.max_scenes_per_ip,
            max_sockets_per_scene: config.limits.max_sockets_per_scene,
        };
        let (registry, limits, shared_tokens): (Arc<dyn SceneRegistry>, Limits, _) =
            match &config.redis_url {
                None => (
                    Arc::new(MemoryRegistry::new(registry_config)),
                    Limits::in_memory(&config.limits),
                    None,
                ),
                Some(url) => {
                    let (client, conn) =
                        super::registry::redis::connect(url.expose_secret(), REDIS_TIMEOUT).await?;
                    let prefix = &config.redis_prefix;
                    (
                        Arc::new(RedisRegistry::new(
                            client,
                            conn.clone(),
                            prefix,
                            registry_config,
                        )),
                        Limits::in_redis(&config.limits, conn.clone(), prefix),
                        Some(SharedTokens::new(conn, prefix, &settings.appid)),
                    )
                }
            };
        let metrics = match config.metrics_addr {
            None => None,
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?;
                super::metrics::install().map(|handle| (listener, handle))
            }
        };
        let (shutdown, shutting_down) = tokio::sync::watch::channel(false);
        let state = AppState(Arc::new(AppStateInner {
            shutting_down,
            open_sockets: Arc::default(),
            leptos_options: config.leptos.clone(),
            wechat: Arc::new(WeChatClient::new(settings, shared_tokens)?),
            registry,
            code_images: CodeImages::new(config.code_cache_bytes, config.scene_ttl),
            open_links: Arc::new(super::open_link::OpenLinks::new(config.scene_ttl)),
            simulator: simulator.clone(),
            limits: Arc::new(limits),
            pending_sockets: Arc::new(PendingSockets::new(
                config.connections.max_pending_sockets_per_client,
            )),
            allowed_origins: Arc::new(allowed_origins),
            store,
            session_policy: SessionPolicy {
                ttl: config.session_ttl,
                idle: config.session_idle,
            },
            secure_cookies,
            oidc,
            config: Arc::new(config),
        }));
        Ok(Self {
            shutdown,
            metrics,
            server: Server::new(listener, connection_settings),
            local_addr: local,
            router: router(state.clone(), simulator),
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The database (for tests and `scanlogin rotate-oidc-key`).
    pub fn store(&self) -> Store {
        self.state.store.clone()
    }

    /// Open connections, upgraded sockets included (for tests).
    pub fn open_connections(&self) -> OpenConnections {
        self.server.open_connections()
    }

    /// Serves until `shutdown` resolves; then stops accepting, closes every login socket
    /// with 1012 (service restart: its page reconnects, to another instance if there are
    /// several), lets requests in flight finish, and closes the database, all within
    /// [`SHUTDOWN_DEADLINE`].
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let sweeper = tokio::spawn(sweep(self.state));
        let notify = self.shutdown;
        if let Some((listener, handle)) = self.metrics {
            let mut stopping = notify.subscribe();
            tokio::spawn(super::metrics::serve(listener, handle, async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            }));
        }
        let announced = async move {
            shutdown.await;
            let _ = notify.send(true);
        };
        let served = self.server.run(self.router, announced).await;
        sweeper.abort();
        let deadline = tokio::time::Instant::now() + SHUTDOWN_DEADLINE;
        while state
            .open_sockets
            .load(std::sync::atomic::Ordering::Acquire)
            > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = tokio::time::timeout_at(deadline, state.store.close()).await;
        tracing::info!("stopped");
        served
    }
}

fn router(state: AppState, simulator: Option<Simulator>) -> Router {
    register_server_functions();
    let routes = generate_route_list(App);
    let context = {
        let state = state.clone();
        move || state.provide()
    };
    let mut router = Router::<AppState>::new();
    if let Some(simulator) = simulator {
        // Demo mode only: with real credentials neither the simulator nor its
        // control surface exists.
        router = router.nest("/__wechat", simulator.router());
    }
    // Also mounts every registered server function at its own path and method.
    let mut router = router
        .route("/websocket", get(socket::handler))
        .route("/healthz", get(super::health::healthz))
        .route("/readyz", get(super::health::readyz))
        .merge(match state.oidc.clone() {
            Some(provider) => super::oidc::router(provider),
            None => Router::new(),
        })
        .leptos_routes_with_context(&state, routes, context, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // Innermost first: each layer wraps the ones above it.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            login_redirect,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::keep_simulator_control_local,
        ))
        .layer(RequestBodyLimitLayer::new(
            state.config.limits.max_body_bytes,
        ))
        // Avatars: an upload has a body limit of its own (see `avatar.rs`), so it joins
        // after the API's limit, and the images are served from here.
        .merge(
            Router::new()
                .route(super::avatar::UPLOAD_PATH, post(super::avatar::upload))
                .layer(DefaultBodyLimit::max(super::avatar::MAX_UPLOAD_BYTES))
                .layer(RequestBodyLimitLayer::new(super::avatar::MAX_UPLOAD_BYTES))
                .route("/avatars/{id}", get(super::avatar::serve)),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::check_origin,
        ))
        .layer(middleware::from_fn(error::envelopes))
        .layer(middleware::from_fn(super::metrics::request_latency))
        .layer(middleware::from_fn(guard::no_store));
    for (name, value) in guard::security_headers() {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    router
        .layer(
            // Paths only: query strings can hold tokens and secrets (the simulator's
            // `access_token=`), and they must not reach the logs.
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<axum::body::Body>| {
                let request_id = req
                    .headers()
                    .get(super::request_id::HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("http", method = %req.method(), path = ?req.uri().path(), request_id)
            })
            .on_failure(error::log_failure),
        )
        // Outermost: every request has its id before anything logs, and so does its answer.
        .layer(tower_http::request_id::PropagateRequestIdLayer::new(
            super::request_id::HEADER,
        ))
        .layer(tower_http::request_id::SetRequestIdLayer::new(
            super::request_id::HEADER,
            super::request_id::MakeId,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::request_id::drop_untrusted,
        ))
        .with_state(state)
}

/// glibc's allocator keeps the memory of a burst (thousands of logins opening at once,
/// each with request buffers and, in demo mode, a QR image being drawn) after it is freed,
/// in the middle of its heaps where it cannot shrink them. `malloc_trim` hands those free
/// pages back, so a server's memory follows its waiting logins, not its worst second.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory that is free; it has no other effect.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// One line that says what this server is: mode, addresses, database and every limit in
/// force; in demo mode, a warning that anyone who can reach it can log in as anyone.
fn log_startup(
    config: &Config,
    listen: SocketAddr,
    public_origin: &str,
    connections: &connections::Settings,
    (descriptors, descriptors_hard): (u64, u64),
) {
    let l = &config.limits;
    tracing::info!(
        mode = config.mode_name(),
        listen = %listen,
        public_origin,
        database = %config.database_for_logs(),
        redis = %config.redis_for_logs(),
        metrics = %super::metrics::describe(config.metrics_addr),
        trusted_proxies = %config.trusted_proxies,
        ipv6_prefix = config.ipv6_prefix,
        scene_ttl_secs = config.scene_ttl.as_secs(),
        auto_refreshes = config.auto_refreshes,
        codes_per_min = l.codes_per_min,
        scans_per_min = l.scans_per_min,
        sessions_per_min = l.sessions_per_min,
        code_budget_per_min = l.code_budget_per_min,
        max_scenes = l.max_scenes,
        max_scenes_per_ip = l.max_scenes_per_ip,
        socket_grace_secs = l.socket_grace.as_secs(),
        max_sockets_per_scene = l.max_sockets_per_scene,
        max_body_bytes = l.max_body_bytes,
        ws_hello_timeout_secs = l.ws_hello_timeout.as_secs(),
        ws_max_message_bytes = l.ws_max_message_bytes,
        header_timeout_secs = connections.header_timeout.as_secs(),
        idle_timeout_secs = connections.idle_timeout.as_secs(),
        max_connections = connections.max_connections,
        max_connections_per_peer = connections.max_connections_per_peer,
        max_pending_sockets_per_client = config.connections.max_pending_sockets_per_client,
        descriptors_soft = descriptors,
        descriptors_hard,
        "scanlogin starting"
    );
    if config.is_demo() {
        tracing::warn!(
            "DEMO MODE: the built-in WeChat simulator stands in for WeChat, and anyone who \
             can reach this server can log in as any user. Never expose it; set \
             SCANLOGIN_WECHAT_APPID and SCANLOGIN_WECHAT_SECRET for real logins"
        );
    }
}

/// Server functions register themselves through `inventory`, but a linker may drop
/// those registrations when nothing else refers to them (an API only the phone calls,
/// say), so every one is registered by name as well.
fn register_server_functions() {
    use leptos::server_fn::axum::register_explicit;
    register_explicit::<crate::api::code::GetWxacode>();
    register_explicit::<crate::api::mp::MpScan>();
    register_explicit::<crate::api::mp::MpConfirm>();
    register_explicit::<crate::api::mp::MpCancel>();
    register_explicit::<crate::api::session::CreateSession>();
    register_explicit::<crate::api::session::GetMe>();
    register_explicit::<crate::api::session::Logout>();
    register_explicit::<crate::api::demo::DemoLoginCode>();
    register_explicit::<crate::api::scene::SceneStatus>();
    register_explicit::<crate::api::scene::OpenLink>();
}

/// `GET /login` when already logged in: straight on, to its `next=` (an authorization
/// request of the OpenID provider) or to `/`; unless `again=1` (an OpenID client's
/// `prompt=login` asks for a new scan).
async fn login_redirect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let again = req.uri().query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(n, v)| n == "again" && v == "1")
    });
    if req.uri().path() == "/login" && req.method() == axum::http::Method::GET && !again {
        if let Ok(Some(_)) = session::current_user(&state, req.headers()).await {
            let to = login_next(req.uri().query()).unwrap_or_else(|| "/".to_owned());
            return Redirect::to(&to).into_response();
        }
    }
    next.run(req).await
}

/// The login page's `next=`, if it is one the login may go on to.
pub fn login_next(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == "next")
        .and_then(|(_, next)| super::oidc::continuation(&next).map(str::to_owned))
}

/// Housekeeping that no concept owns by itself: every 5 s, report open sockets, drop code
/// images whose time is up and give freed memory back to the system; every minute, forget idle rate-limit keys; hourly,
/// delete expired sessions. (Scenes expire in their registry.)
async fn sweep(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        super::metrics::sockets_open(
            state
                .open_sockets
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        state.code_images.drop_expired().await;
        release_free_memory();
        ticks += 1;
        if ticks.is_multiple_of(12) {
            state.limits.shrink();
        }
        if ticks.is_multiple_of(720) {
            if let Err(err) = super::oidc::grants::purge_expired(&state.store).await {
                tracing::warn!(%err, "purging expired OpenID codes and tokens failed");
            }
            if let Err(err) = state.store.purge_expired_sessions().await {
                tracing::warn!(%err, "purging expired sessions failed");
            }
            if let Err(err) = state
                .store
                .purge_unused_avatars(super::avatar::UNUSED_KEPT_FOR)
                .await
            {
                tracing::warn!(%err, "purging unused avatars failed");
            }
        }
    }
}
