//! What a server function needs from the request it runs in.

use std::net::{IpAddr, SocketAddr};

use axum::{extract::ConnectInfo, http::HeaderMap};
use leptos::prelude::use_context;

use super::{error::AppError, startup::AppState};

/// The server's state, provided to every server function.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::Internal("no AppState in context".into()))
}

/// The request's headers and the client's IP address.
pub async fn request() -> Result<(HeaderMap, IpAddr), AppError> {
    let (headers, ConnectInfo(peer)) =
        leptos_axum::extract::<(HeaderMap, ConnectInfo<SocketAddr>)>()
            .await
            .map_err(|e| AppError::Internal(format!("request parts: {e}")))?;
    Ok((headers, peer.ip()))
}
