//! Builds the application from its configuration and runs it until a shutdown:
//! `main` and the integration tests both start the server through [`Application`], so
//! tests exercise the real app. What it serves is `router.rs`; what runs beside it,
//! `housekeeping.rs`.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use super::{
    config::Mode,
    connections::{self, OpenConnections, Server},
    context::{AppState, AppStateInner},
    housekeeping,
    limits::Limits,
    login_notice::{LoginNotices, NoticeFields, NoticeTemplate},
    qr_images::QrImages,
    registry::{Clock, Registry},
    router::router,
    session_cache::SessionCache,
    socket::PendingSockets,
    store::Store,
    wechat::{
        shared_token::SharedTokens,
        simulator::{
            PushTarget, Simulator, SimulatorConfig, DEMO_APPID, DEMO_NOTICE_TEMPLATE_ID,
            DEMO_PUSH_TOKEN, DEMO_SECRET,
        },
        TokenApi, WeChatClient, WeChatError, WeChatSettings,
    },
    Config,
};

/// A shutdown finishes within this (systemd's `TimeoutStopSec` is above it).
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Every Redis call answers within this, or fails (503) rather than hang.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

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
        allowed_origins.extend(config.other_origins.iter().cloned());

        let wechat = &config.wechat;
        let (settings, simulator) = match &config.mode {
            Mode::Demo { .. } => {
                // Its QR images lead to this server's phone page, and it pushes
                // WeChat's events here.
                let push = PushTarget {
                    url: format!("http://{own}{}", super::message_push::PATH),
                    token: push_token(&config).unwrap_or_default(),
                };
                let simulator = Simulator::new(SimulatorConfig {
                    public_origin: public_origin.clone(),
                    push: Some(push),
                    ..config.simulator.clone()
                });
                let settings = WeChatSettings {
                    base: format!("http://{own}/__wechat"),
                    appid: DEMO_APPID.to_owned(),
                    secret: DEMO_SECRET.into(),
                    token_api: wechat.token_api,
                    timeout: wechat.timeout,
                };
                (settings, Some(simulator))
            }
            Mode::WeChat { appid, secret } => {
                let settings = WeChatSettings {
                    base: wechat.api_base.clone(),
                    appid: appid.clone(),
                    secret: secret.clone(),
                    token_api: wechat.token_api,
                    timeout: wechat.timeout,
                };
                (settings, None)
            }
        };
        if wechat.token_api == TokenApi::Classic {
            tracing::warn!("cgi-bin/token: each process invalidates the others' tokens; prefer stable_token with several processes");
        }
        let secure_cookies = public_origin.starts_with("https://");
        let store = Store::connect(config.database_url.expose_secret()).await?;
        if config.oidc.is_some() {
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
            config.ipv6_networks.clone(),
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
        let registry_config = config.registry.clone();
        let (registry, limits, shared_tokens, session_cache) = match &config.redis {
            None => (
                Registry::in_memory(registry_config, Clock::new()),
                Limits::in_memory(&config.limits, config.ipv6_networks.clone()),
                None,
                SessionCache::in_memory(),
            ),
            Some(redis) => {
                let (client, conn) =
                    super::registry::redis::connect(redis.url.expose_secret(), REDIS_TIMEOUT)
                        .await?;
                let prefix = &redis.prefix;
                (
                    Registry::in_redis(
                        client.clone(),
                        conn.clone(),
                        prefix,
                        registry_config,
                        Clock::new(),
                    ),
                    Limits::in_redis(
                        &config.limits,
                        config.ipv6_networks.clone(),
                        conn.clone(),
                        prefix,
                    ),
                    Some(SharedTokens::new(conn.clone(), prefix, &settings.appid)),
                    SessionCache::in_redis(client, conn, prefix),
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
        let wechat = Arc::new(WeChatClient::new(settings, shared_tokens)?);
        let login_notices = LoginNotices::new(
            notice_template(&config),
            config.wechat.env_version.into(),
            wechat.clone(),
        );
        let state = AppState::new(AppStateInner {
            shutting_down,
            open_sockets: Arc::default(),
            leptos_options: config.leptos.clone(),
            wechat,
            registry: Arc::new(registry),
            qr_images: QrImages::new(config.login_page.code_cache_bytes, config.registry.ttl),
            avatar_decoder: Arc::new(super::avatar::Decoder::new(config.limits.image_decodes)),
            oidc_keys: config
                .oidc
                .as_ref()
                .map(|p| Arc::new(super::oidc::keys::PublishedKeys::new(p.id_token_ttl))),
            secret_checks: Arc::new(super::oidc::token::SecretChecks::new()),
            audit: super::audit::AuditWriter::start(store.clone()),
            logout_sender: Arc::new(
                super::oidc::backchannel::LogoutSender::new(
                    config
                        .oidc
                        .as_ref()
                        .map_or(std::time::Duration::from_secs(10), |p| p.logout_retry),
                    config
                        .oidc
                        .as_ref()
                        .is_some_and(|p| p.clients.any_https_backchannel()),
                )
                .map_err(|e| StartupError::Oidc(format!("back-channel logout client: {e}")))?,
            ),
            open_links: Arc::new(super::open_link::OpenLinks::new(config.registry.ttl)),
            simulator: simulator.clone(),
            push_token: push_token(&config).map(secrecy::SecretString::from),
            login_notices,
            limits: Arc::new(limits),
            pending_sockets: Arc::new(PendingSockets::new(
                config.connections.max_pending_sockets_per_client,
                config.ipv6_networks.clone(),
            )),
            allowed_origins: Arc::new(allowed_origins),
            store,
            secure_cookies,
            public_origin: public_origin.clone(),
            session_cache,
            config: Arc::new(config),
        });
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
        let sender = tokio::spawn(super::oidc::backchannel::run(self.state.clone()));
        let sweeper = tokio::spawn(housekeeping::sweep(self.state));
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
        sender.abort();
        let deadline = tokio::time::Instant::now() + SHUTDOWN_DEADLINE;
        while state
            .open_sockets
            .load(std::sync::atomic::Ordering::Acquire)
            > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = tokio::time::timeout_at(deadline, state.audit.flush()).await;
        let _ = tokio::time::timeout_at(deadline, state.store.close()).await;
        tracing::info!("stopped");
        served
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
        ipv6_network_limits = %config.ipv6_networks,
        scene_ttl_secs = config.registry.ttl.as_secs(),
        auto_refreshes = config.login_page.auto_refreshes,
        codes_per_min = l.codes_per_min,
        scans_per_min = l.scans_per_min,
        sessions_per_min = l.sessions_per_min,
        code_budget_per_min = l.code_budget_per_min,
        link_budget_per_day = l.link_budget_per_day,
        image_decodes = l.image_decodes,
        max_scenes = config.registry.max_scenes,
        max_scenes_per_ip = config.registry.max_scenes_per_client,
        socket_grace_secs = config.registry.socket_grace.as_secs(),
        max_sockets_per_scene = config.registry.max_sockets_per_scene,
        max_body_bytes = l.max_body_bytes,
        ws_hello_timeout_secs = l.ws_hello_timeout.as_secs(),
        ws_max_message_bytes = l.ws_max_message_bytes,
        header_timeout_secs = connections.header_timeout.as_secs(),
        idle_timeout_secs = connections.idle_timeout.as_secs(),
        body_timeout_secs = connections.body_timeout.as_secs(),
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

/// The token of WeChat's message push: the configured one; in demo mode without one, the
/// simulator's.
fn push_token(config: &Config) -> Option<String> {
    match (&config.wechat.push_token, &config.mode) {
        (Some(token), _) => Some(token.expose_secret().to_owned()),
        (None, Mode::Demo { .. }) => Some(DEMO_PUSH_TOKEN.to_owned()),
        (None, Mode::WeChat { .. }) => None,
    }
}

/// The template of the message after a login: the configured one; in demo mode without
/// one, the simulator's.
fn notice_template(config: &Config) -> Option<NoticeTemplate> {
    match (&config.wechat.notice, &config.mode) {
        (Some(template), _) => Some(template.clone()),
        (None, Mode::Demo { .. }) => Some(NoticeTemplate {
            id: DEMO_NOTICE_TEMPLATE_ID.parse().ok()?,
            fields: NoticeFields::default(),
        }),
        (None, Mode::WeChat { .. }) => None,
    }
}
