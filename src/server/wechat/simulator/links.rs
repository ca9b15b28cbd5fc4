//! Links that open the mini program (`wxa/generate_urllink`, `wxa/generatescheme`),
//! checked and counted against WeChat's daily quota.

use std::{collections::HashMap, time::Duration};

use axum::{
    body::Bytes,
    extract::{Query, State},
};
use serde::Deserialize;
use tokio::time::Instant;

use super::{check_token, lock, Simulator, WeChatJson};
use crate::server::{random, wechat::errcode::*};

/// Links and schemes made today, together (WeChat allows 500,000 a day).
const LINKS_PER_DAY: u32 = 500_000;
/// A link's query: at most 1,024 characters of this set, letters and digits besides.
const LINK_QUERY_PUNCTUATION: &str = "!#$&'()*+,/:;=?@-._~%";

/// What a link opens, as `generate_urllink` and `generatescheme` take it.
#[derive(Deserialize, Default)]
pub(super) struct LinkTarget {
    path: Option<String>,
    query: Option<String>,
    env_version: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct UrlLinkBody {
    #[serde(flatten)]
    target: LinkTarget,
    #[serde(flatten)]
    expiry: LinkExpiry,
}

#[derive(Deserialize)]
pub(super) struct SchemeBody {
    #[serde(default)]
    jump_wxa: LinkTarget,
    #[serde(flatten)]
    expiry: LinkExpiry,
}

#[derive(Deserialize)]
pub(super) struct LinkExpiry {
    expire_type: Option<u8>,
    expire_time: Option<u64>,
    expire_interval: Option<u32>,
}

pub(super) async fn generate_urllink(
    State(sim): State<Simulator>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> WeChatJson {
    // What a link opens in demo mode: the demo phone, as the simulated WeChat opening the
    // mini program's page with the link's query. WeChat's own are `https://wxaurl.cn/<ticket>`.
    let origin = sim.0.config.public_origin.trim_end_matches('/').to_owned();
    link_answer(
        &sim,
        &query,
        &body,
        |b: &UrlLinkBody| (&b.target, &b.expiry),
        |query| serde_json::json!({ "url_link": format!("{origin}/phone?{query}") }),
    )
}

pub(super) async fn generate_scheme(
    State(sim): State<Simulator>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> WeChatJson {
    link_answer(
        &sim,
        &query,
        &body,
        |b: &SchemeBody| (&b.jump_wxa, &b.expiry),
        |_| serde_json::json!({ "openlink": format!("weixin://dl/business/?t={}", random::alphanumeric(12)) }),
    )
}

/// A link API's answer: the token and the body checked as WeChat does, then `made`'s
/// fields beside `errcode: 0`.
fn link_answer<B: serde::de::DeserializeOwned>(
    sim: &Simulator,
    query: &HashMap<String, String>,
    body: &[u8],
    parts: impl Fn(&B) -> (&LinkTarget, &LinkExpiry),
    made: impl Fn(&str) -> serde_json::Value,
) -> WeChatJson {
    let checked = check_token(sim, query.get("access_token").map(String::as_str))
        .and_then(|()| {
            serde_json::from_slice::<B>(body).map_err(|_| sim.error(INVALID_ARGS, "invalid args"))
        })
        .and_then(|b| {
            let (target, expiry) = parts(&b);
            check_link(sim, target, expiry)
        });
    match checked {
        Ok(link_query) => {
            let mut answer = made(&link_query);
            answer["errcode"] = 0.into();
            answer["errmsg"] = "ok".into();
            WeChatJson::ok(answer)
        }
        Err(json) => json,
    }
}

/// Checks a link request as WeChat does and counts it; on success, the link's query.
fn check_link(
    sim: &Simulator,
    target: &LinkTarget,
    expiry: &LinkExpiry,
) -> Result<String, WeChatJson> {
    let path = target.path.as_deref().unwrap_or("");
    if !path.is_empty() && (path.contains('?') || !sim.has_page(path)) {
        return Err(sim.error(INVALID_LINK_PATH, "invalid path"));
    }
    let query = target.query.clone().unwrap_or_default();
    let query_ok = query.chars().count() <= 1024
        && query
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || LINK_QUERY_PUNCTUATION.contains(c));
    if !query_ok {
        return Err(sim.error(INVALID_LINK_QUERY, "invalid query"));
    }
    if !matches!(
        target.env_version.as_deref().unwrap_or("release"),
        "release" | "trial" | "develop"
    ) {
        return Err(sim.error(INVALID_LINK_ENV_VERSION, "invalid env_version"));
    }
    const DAY: u64 = 86_400;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let expiry_ok = match expiry.expire_type.unwrap_or(0) {
        0 => expiry
            .expire_time
            .is_some_and(|t| t >= now + 60 && t <= now + 30 * DAY),
        1 => expiry
            .expire_interval
            .is_some_and(|d| (1..=30).contains(&d)),
        _ => false,
    };
    if !expiry_ok {
        return Err(sim.error(INVALID_LINK_EXPIRY, "invalid expire time"));
    }
    {
        let mut day = lock(&sim.0.link_day);
        let today = Instant::now();
        if today.duration_since(day.0) >= Duration::from_secs(DAY) {
            *day = (today, 0);
        }
        if day.1 >= LINKS_PER_DAY {
            drop(day);
            return Err(sim.error(LINK_DAILY_QUOTA, "reach max daily quota limit"));
        }
        day.1 += 1;
    }
    Ok(query)
}
