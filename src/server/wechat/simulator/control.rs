//! The control surface under `/__sim/`: tests mint `wx.login` codes, invalidate the
//! token, inject faults, read counters and have WeChat push an event to the app; and a
//! client of it for a standalone simulator.

use std::time::Duration;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};

use super::{lock, tokens::Slot, FaultSpec, Simulator};
use crate::server::wechat::push;
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

#[derive(Deserialize)]
pub(super) struct PushRequest {
    /// WeChat's event name: `user_authorization_revoke`, `user_authorization_cancellation`.
    event: String,
    openid: String,
    /// `RevokeInfo`: the ids of what was withdrawn, comma-separated.
    #[serde(default)]
    revoke_info: String,
    /// Signs with this token instead of the app's (a forged push, for tests).
    #[serde(default)]
    token: Option<String>,
}

/// `POST /__sim/push`: posts `event` to the app's message-push URL as WeChat does (its
/// JSON, signed in plain-text mode) and answers with the app's status and body.
pub(super) async fn push_event(
    State(sim): State<Simulator>,
    Json(req): Json<PushRequest>,
) -> Response {
    let Some(target) = &sim.0.config.push else {
        return (StatusCode::NOT_FOUND, "no message-push URL").into_response();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let timestamp = now.to_string();
    let nonce = u64::from_le_bytes(crate::server::random::bytes::<8>()).to_string();
    let token = req.token.as_deref().unwrap_or(&target.token);
    let signature = push::signature(token, &timestamp, &nonce);
    let body = serde_json::json!({
        "ToUserName": "gh_simulator",
        "FromUserName": "o-wechat-push",
        "CreateTime": now,
        "MsgType": "event",
        "Event": req.event,
        "OpenID": req.openid,
        "AppID": sim.0.config.appid,
        "RevokeInfo": req.revoke_info,
    });
    let sent = reqwest::Client::new()
        .post(&target.url)
        .query(&[
            ("signature", signature.as_str()),
            ("timestamp", timestamp.as_str()),
            ("nonce", nonce.as_str()),
        ])
        .json(&body)
        .send()
        .await;
    match sent {
        Ok(res) => {
            let status =
                StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, res.text().await.unwrap_or_default()).into_response()
        }
        Err(err) => (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
    }
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
