//! The control surface under `/__sim/`: tests mint `wx.login` codes, invalidate the
//! token, inject faults and read counters; and a client of it for a standalone simulator.

use std::time::Duration;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};

use super::{lock, tokens::Slot, FaultSpec, Simulator};
use crate::server::wechat::WeChatError;

#[derive(Deserialize)]
pub(super) struct MintRequest {
    openid: String,
    #[serde(default)]
    unionid: Option<String>,
    /// Make the code this old already (to test expiry).
    #[serde(default)]
    age_secs: u64,
}

#[derive(Serialize)]
pub(super) struct MintAnswer {
    code: String,
}

pub(super) async fn mint_login_code(
    State(sim): State<Simulator>,
    Json(req): Json<MintRequest>,
) -> Response {
    if req.openid.is_empty() || req.openid.len() > 64 {
        return (StatusCode::BAD_REQUEST, "openid: 1 to 64 characters").into_response();
    }
    let code = sim.mint_login_code(
        &req.openid,
        req.unionid.as_deref(),
        Duration::from_secs(req.age_secs),
    );
    Json(MintAnswer { code }).into_response()
}

pub(super) async fn invalidate_token(State(sim): State<Simulator>) -> StatusCode {
    let mut book = lock(&sim.0.tokens);
    for slot in [Slot::Classic, Slot::Stable] {
        book.revoke(slot);
    }
    StatusCode::NO_CONTENT
}

pub(super) async fn inject_fault(
    State(sim): State<Simulator>,
    Json(spec): Json<FaultSpec>,
) -> StatusCode {
    lock(&sim.0.faults).insert(spec.path, (spec.kind, spec.count));
    StatusCode::NO_CONTENT
}

/// Mints a `wx.login` code at a standalone simulator (`scanlogin simulator` at `base`).
pub async fn mint_remote_login_code(base: &str, openid: &str) -> Result<String, WeChatError> {
    #[derive(Deserialize)]
    struct Minted {
        code: String,
    }
    // One client for every mint: building one reads the system's root certificates, a
    // quarter of an instance's CPU in a two-instance benchmark when built for each call.
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let url = format!("{}/__sim/login_code", base.trim_end_matches('/'));
    let response = HTTP
        .get_or_init(reqwest::Client::new)
        .post(url)
        .json(&serde_json::json!({ "openid": openid }))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| WeChatError::from_reqwest(e, Duration::from_secs(5)))?;
    if !response.status().is_success() {
        return Err(WeChatError::Status(response.status().as_u16()));
    }
    let minted: Minted = response
        .json()
        .await
        .map_err(|e| WeChatError::from_reqwest(e, Duration::from_secs(5)))?;
    Ok(minted.code)
}
