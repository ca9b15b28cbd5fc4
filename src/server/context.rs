//! What a request can reach: the server's state ([`AppState`], built by `startup.rs`),
//! and what a server function needs from the request it runs in (its headers, its
//! client).

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, FromRef},
    http::HeaderMap,
};
use leptos::prelude::*;

use super::{
    client::ClientKey,
    error::AppError,
    limits::Limits,
    qr_images::QrImages,
    registry::Registry,
    socket::PendingSockets,
    store::Store,
    wechat::{simulator::Simulator, WeChatClient},
    Config,
};

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
    pub registry: Arc<Registry>,
    pub qr_images: QrImages,
    /// Decodes uploaded avatars, a few at a time.
    pub avatar_decoder: Arc<super::avatar::Decoder>,
    /// The OpenID provider's JWKS as this instance serves it (with the provider only).
    pub oidc_keys: Option<Arc<super::oidc::keys::PublishedKeys>>,
    /// The OpenID clients' secret checks, a few at a time.
    pub secret_checks: Arc<super::oidc::token::SecretChecks>,
    /// Appends the audit trail's entries, in batches.
    pub audit: super::audit::AuditWriter,
    /// Sends back-channel logout tokens to the OpenID clients.
    pub logout_sender: Arc<super::oidc::backchannel::LogoutSender>,
    /// Open-in-WeChat links made, and WeChat's refusals (see `open_link.rs`).
    pub open_links: Arc<super::open_link::OpenLinks>,
    /// Demo mode's own WeChat simulator.
    pub simulator: Option<Simulator>,
    /// The token WeChat signs its message push with; `None`: `/wechat/push` is off.
    pub push_token: Option<secrecy::SecretString>,
    /// The WeChat message after each login.
    pub login_notices: super::login_notice::LoginNotices,
    pub store: Store,
    pub limits: Arc<Limits>,
    pub pending_sockets: Arc<PendingSockets>,
    /// Origins allowed to post and to open sockets.
    pub allowed_origins: Arc<Vec<String>>,
    /// The public origin is https: cookies get `Secure` and the `__Host-` prefix.
    pub secure_cookies: bool,
    /// The origin people's browsers use: the configured one, or the address served.
    pub public_origin: String,
    /// Sessions as forward authentication reads them.
    pub session_cache: super::session_cache::SessionCache,
    /// Turns true when the server is shutting down: login sockets close with 1012.
    pub shutting_down: tokio::sync::watch::Receiver<bool>,
    /// Login sockets open now (a shutdown waits for them to close).
    pub open_sockets: Arc<std::sync::atomic::AtomicUsize>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn new(inner: AppStateInner) -> Self {
        Self(Arc::new(inner))
    }

    /// Makes the server state available to server functions and components.
    pub fn provide(&self) {
        provide_context(self.clone());
    }
}

/// The server's state, provided to every server function.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::Internal("no AppState in context".into()))
}

/// The client of a request: its address (behind trusted proxies, the one they saw) and
/// the key its limits count by.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub ip: IpAddr,
    pub key: ClientKey,
}

impl Client {
    pub fn resolve(state: &AppState, headers: &HeaderMap, peer: IpAddr) -> Self {
        let ip = state.config.trusted_proxies.resolve(peer, headers);
        Self {
            ip,
            key: ClientKey::new(ip, state.config.ipv6_prefix),
        }
    }
}

/// The request's headers and its client.
pub async fn request(state: &AppState) -> Result<(HeaderMap, Client), AppError> {
    let (headers, ConnectInfo(peer)) =
        leptos_axum::extract::<(HeaderMap, ConnectInfo<SocketAddr>)>()
            .await
            .map_err(|e| AppError::Internal(format!("request parts: {e}")))?;
    let client = Client::resolve(state, &headers, peer.ip());
    Ok((headers, client))
}
