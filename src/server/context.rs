//! What a server function needs from the request it runs in.

use std::net::{IpAddr, SocketAddr};

use axum::{extract::ConnectInfo, http::HeaderMap};
use leptos::prelude::use_context;

use super::{client::ClientKey, error::AppError, startup::AppState};

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
