//! Access tokens, as WeChat issues them: `cgi-bin/token` (each call replaces the previous
//! token) and `cgi-bin/stable_token` (the same token until it expires, unless forced,
//! at most every 30 s).

use std::{collections::HashMap, time::Duration};

use axum::{
    body::Bytes,
    extract::{Query, State},
};
use serde::Deserialize;
use tokio::time::Instant;

use super::{lock, Simulator, WeChatJson};
use crate::server::{random, wechat::errcode::*};

/// A forced stable-token refresh at most every 30 s.
const FORCE_REFRESH_SPACING: Duration = Duration::from_secs(30);
pub(super) const TOKEN_PREFIX: &str = "SIM_";
pub(super) const TOKEN_LEN: usize = 96;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    Classic,
    Stable,
}

#[derive(Debug)]
pub(super) struct IssuedToken {
    expires_at: Instant,
    revoked: bool,
}

#[derive(Debug, Default)]
pub(super) struct TokenBook {
    issued: HashMap<String, IssuedToken>,
    classic: Option<String>,
    stable: Option<String>,
    forced_at: Option<Instant>,
}

impl TokenBook {
    fn slot(&mut self, slot: Slot) -> &mut Option<String> {
        match slot {
            Slot::Classic => &mut self.classic,
            Slot::Stable => &mut self.stable,
        }
    }

    /// The token in `slot` stops working (WeChat's answer to another client's refresh).
    pub(super) fn revoke(&mut self, slot: Slot) {
        if let Some(old) = self.slot(slot).take() {
            if let Some(t) = self.issued.get_mut(&old) {
                t.revoked = true;
            }
        }
    }

    pub(super) fn issue(
        &mut self,
        slot: Slot,
        ttl: Duration,
        revoke_previous: bool,
    ) -> (String, Duration) {
        let now = Instant::now();
        self.issued
            .retain(|_, t| t.expires_at + Duration::from_secs(3600) > now);
        if revoke_previous {
            self.revoke(slot);
        }
        let token = format!("{TOKEN_PREFIX}{}", random::alphanumeric(TOKEN_LEN));
        self.issued.insert(
            token.clone(),
            IssuedToken {
                expires_at: now + ttl,
                revoked: false,
            },
        );
        *self.slot(slot) = Some(token.clone());
        (token, ttl)
    }

    pub(super) fn check(&self, token: &str) -> Result<(), i64> {
        match self.issued.get(token) {
            None if token.starts_with(TOKEN_PREFIX)
                && token.len() == TOKEN_PREFIX.len() + TOKEN_LEN =>
            {
                Err(INVALID_CREDENTIAL)
            }
            None => Err(INVALID_ACCESS_TOKEN),
            Some(t) if t.revoked => Err(INVALID_CREDENTIAL),
            Some(t) if Instant::now() >= t.expires_at => Err(ACCESS_TOKEN_EXPIRED),
            Some(_) => Ok(()),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ClassicTokenQuery {
    grant_type: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
}

pub(super) async fn classic_token(
    State(sim): State<Simulator>,
    Query(q): Query<ClassicTokenQuery>,
) -> WeChatJson {
    if q.grant_type.as_deref() != Some("client_credential") {
        return sim.error(40002, "invalid grant_type");
    }
    if let Err(e) = sim.check_credentials(q.appid.as_deref(), q.secret.as_deref()) {
        return e;
    }
    let (token, ttl) = lock(&sim.0.tokens).issue(Slot::Classic, sim.0.config.token_ttl, true);
    WeChatJson::ok(serde_json::json!({ "access_token": token, "expires_in": ttl.as_secs() }))
}

#[derive(Deserialize)]
pub(super) struct StableTokenBody {
    grant_type: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
    #[serde(default)]
    force_refresh: bool,
}

pub(super) async fn stable_token(State(sim): State<Simulator>, body: Bytes) -> WeChatJson {
    let Ok(body) = serde_json::from_slice::<StableTokenBody>(&body) else {
        return sim.error(47001, "data format error");
    };
    if body.grant_type.as_deref() != Some("client_credential") {
        return sim.error(40002, "invalid grant_type");
    }
    if let Err(e) = sim.check_credentials(body.appid.as_deref(), body.secret.as_deref()) {
        return e;
    }
    let ttl = sim.0.config.token_ttl;
    let mut book = lock(&sim.0.tokens);
    let now = Instant::now();
    let (token, expires_in) = if body.force_refresh {
        if book
            .forced_at
            .is_some_and(|at| now.duration_since(at) < FORCE_REFRESH_SPACING)
        {
            drop(book);
            return sim.error(
                MINUTE_QUOTA_LIMIT,
                "api minute-quota reach limit, force_refresh too frequently",
            );
        }
        book.forced_at = Some(now);
        book.issue(Slot::Stable, ttl, true)
    } else {
        // Normal mode hands out the same token while it lives, and a new one during its
        // last 1/24 of life (WeChat: the last 5 of 120 minutes), the old one still valid.
        let renewal_window = ttl / 24;
        let current = book.stable.clone().and_then(|t| {
            let issued = book.issued.get(&t)?;
            let left = issued.expires_at.checked_duration_since(now)?;
            (!issued.revoked && left > renewal_window).then_some((t, left))
        });
        match current {
            Some(current) => current,
            None => book.issue(Slot::Stable, ttl, false),
        }
    };
    WeChatJson::ok(serde_json::json!({ "access_token": token, "expires_in": expires_in.as_secs() }))
}
