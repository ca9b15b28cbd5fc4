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
pub async fn request(state: &AppState) -> Result<(HeaderMap, IpAddr), AppError> {
    let (headers, ConnectInfo(peer)) =
        leptos_axum::extract::<(HeaderMap, ConnectInfo<SocketAddr>)>()
            .await
            .map_err(|e| AppError::Internal(format!("request parts: {e}")))?;
    let ip = client_ip(state.config.trust_proxy, &headers, peer.ip());
    Ok((headers, ip))
}

/// The client's IP: the peer's, or, behind a trusted proxy (`SCANLOGIN_TRUST_PROXY`),
/// the last address in `X-Forwarded-For`: the one the proxy itself appended, which
/// the client cannot forge. Without the setting the header is never read.
pub fn client_ip(trust_proxy: bool, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
    if !trust_proxy {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse::<IpAddr>().ok())
        .next_back()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_read_only_behind_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.1.1.1, 2.2.2.2".parse().unwrap());
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(client_ip(false, &headers, peer), peer);
        assert_eq!(
            client_ip(true, &headers, peer),
            "2.2.2.2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(true, &HeaderMap::new(), peer), peer);
    }
}
