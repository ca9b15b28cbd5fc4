//! `wx.login` codes and `sns/jscode2session`: a code is minted for an openid (by a test,
//! or by demo mode's phone page), lives five minutes and is used once.

use std::time::Duration;

use axum::extract::{Query, State};
use base64::Engine as _;
use serde::Deserialize;
use tokio::time::Instant;

use super::{lock, Simulator, WeChatJson};
use crate::server::{random, wechat::errcode::*};

/// `wx.login` codes live five minutes.
const LOGIN_CODE_TTL: Duration = Duration::from_secs(300);
/// How often minting sweeps out login codes past twice their life.
const LOGIN_CODE_SWEEP: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(super) struct LoginCode {
    openid: String,
    unionid: Option<String>,
    issued_at: Instant,
    used: bool,
}

impl Simulator {
    /// Mints a `wx.login` code for `openid`, as if that person's phone had called
    /// `wx.login`; `age` makes it that old already.
    pub fn mint_login_code(&self, openid: &str, unionid: Option<&str>, age: Duration) -> String {
        let now = Instant::now();
        let mut swept = lock(&self.0.login_codes_swept);
        if now.duration_since(*swept) >= LOGIN_CODE_SWEEP {
            *swept = now;
            self.0
                .login_codes
                .retain(|_, c| now.duration_since(c.issued_at) < LOGIN_CODE_TTL * 2);
        }
        drop(swept);
        let code = random::alphanumeric(32);
        self.0.login_codes.insert(
            code.clone(),
            LoginCode {
                openid: openid.to_owned(),
                unionid: unionid.map(str::to_owned),
                issued_at: now.checked_sub(age).unwrap_or(now),
                used: false,
            },
        );
        code
    }
}

#[derive(Deserialize)]
pub(super) struct Code2SessionQuery {
    appid: Option<String>,
    secret: Option<String>,
    js_code: Option<String>,
    grant_type: Option<String>,
}

pub(super) async fn jscode2session(
    State(sim): State<Simulator>,
    Query(q): Query<Code2SessionQuery>,
) -> WeChatJson {
    code_to_session(&sim, q).text_plain()
}

pub(super) fn code_to_session(sim: &Simulator, q: Code2SessionQuery) -> WeChatJson {
    if let Err(e) = sim.check_credentials(q.appid.as_deref(), q.secret.as_deref()) {
        return e;
    }
    if q.grant_type.as_deref() != Some("authorization_code") {
        return sim.error(40002, "invalid grant_type");
    }
    let Some(js_code) = q.js_code.filter(|c| !c.is_empty()) else {
        return sim.error(41008, "missing code");
    };
    let found = match sim.0.login_codes.get_mut(&js_code) {
        None => Err(INVALID_CODE),
        Some(c) if c.issued_at.elapsed() >= LOGIN_CODE_TTL => Err(INVALID_CODE),
        Some(c) if c.used => Err(CODE_BEEN_USED),
        Some(mut c) => {
            c.used = true;
            Ok((c.openid.clone(), c.unionid.clone()))
        }
    };
    match found {
        Err(INVALID_CODE) => sim.error(INVALID_CODE, "invalid code"),
        Err(code) => sim.error(code, "code been used"),
        Ok((openid, unionid)) => {
            let session_key =
                base64::engine::general_purpose::STANDARD.encode(random::bytes::<16>());
            let mut body = serde_json::json!({ "session_key": session_key, "openid": openid });
            if let Some(unionid) = unionid {
                body["unionid"] = unionid.into();
            }
            WeChatJson::ok(body)
        }
    }
}
