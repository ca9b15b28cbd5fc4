//! A request id for every request (`X-Request-Id`): in every log line of the request (its
//! span's `request_id`) and echoed in the answer, so a person's "it failed at 10:02" can be
//! found in the logs. An id a trusted proxy set (nginx's `$request_id`) is kept, so one id
//! follows the request through both; from anyone else it is replaced, so a client cannot
//! write into our logs or pose as another request.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use tower_http::request_id::{MakeRequestId, RequestId};

use super::context::AppState;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// 128 random bits, hex.
#[derive(Clone, Copy, Default)]
pub struct MakeId;

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let hex: String = super::random::bytes::<16>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        HeaderValue::from_str(&hex).ok().map(RequestId::new)
    }
}

/// Removes an `X-Request-Id` that did not come from a trusted proxy, or that is not a short
/// token (at most 64 visible characters).
pub async fn drop_untrusted(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let trusted = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| state.config.trusted_proxies.contains(peer.ip()));
    let well_formed = req
        .headers()
        .get(&HEADER)
        .is_some_and(|v| v.len() <= 64 && v.as_bytes().iter().all(|b| b.is_ascii_graphic()));
    if !(trusted && well_formed) {
        req.headers_mut().remove(&HEADER);
    }
    next.run(req).await
}
