//! Subscribe messages (`cgi-bin/message/subscribe/send`), with WeChat's rules: a message
//! goes only to a person who accepted one (`wx.requestSubscribeMessage`, each accept good
//! for one message), from a template the mini program has, with every field of the
//! template and each value within its type's rules. What arrived is kept per person for
//! the demo phone and the tests (`/__sim/messages`); the control surface's `/__sim/subscribe`
//! is the person tapping "allow" in WeChat's dialog.

use std::collections::{BTreeMap, HashMap};

use axum::{
    body::Bytes,
    extract::{Query, State},
};
use serde::{Deserialize, Serialize};

use super::{check_token, lock, Simulator, WeChatJson};
use crate::server::wechat::errcode::*;

/// The one template the simulated mini program has: a login notice with the time, the
/// browser and its address (the defaults of `SCANLOGIN_NOTIFY_FIELDS`).
pub const DEMO_NOTICE_TEMPLATE_ID: &str = "scanlogin-demo-login-notice";
const DEMO_NOTICE_FIELDS: &[&str] = &["time1", "thing2", "character_string3"];

/// How many messages are kept per person, newest last.
const KEPT: usize = 20;

/// A message that arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    pub template_id: String,
    pub page: String,
    /// The fields' values by name.
    pub data: BTreeMap<String, String>,
    pub miniprogram_state: String,
    pub lang: String,
    /// Unix seconds.
    pub at: i64,
}

/// Accepted messages not yet sent, and what arrived.
#[derive(Debug, Default)]
pub(super) struct Mailbox {
    /// (openid, template id) → accepts not yet used.
    accepted: HashMap<(String, String), u32>,
    arrived: HashMap<String, Vec<Delivered>>,
}

#[derive(Deserialize)]
struct SendBody {
    #[serde(default)]
    touser: String,
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    data: BTreeMap<String, FieldBody>,
    #[serde(default)]
    miniprogram_state: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

#[derive(Deserialize)]
struct FieldBody {
    value: serde_json::Value,
}

pub(super) async fn send(
    State(sim): State<Simulator>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> WeChatJson {
    match check_send(&sim, query.get("access_token").map(String::as_str), &body) {
        Ok(()) => WeChatJson::ok(
            serde_json::json!({ "errcode": 0, "errmsg": "ok", "msgid": u64::from_le_bytes(crate::server::random::bytes::<8>()) }),
        ),
        Err(err) => err,
    }
}

fn check_send(sim: &Simulator, token: Option<&str>, body: &[u8]) -> Result<(), WeChatJson> {
    check_token(sim, token)?;
    let body: SendBody =
        serde_json::from_slice(body).map_err(|_| sim.error(INVALID_ARGS, "invalid args"))?;
    if body.touser.is_empty() || body.touser.len() > 64 {
        return Err(sim.error(INVALID_OPENID, "invalid openid"));
    }
    if body.template_id != DEMO_NOTICE_TEMPLATE_ID {
        return Err(sim.error(INVALID_TEMPLATE_ID, "invalid template_id"));
    }
    let page = body.page.unwrap_or_default();
    let path = page.split('?').next().unwrap_or_default();
    if !page.is_empty() && !sim.has_page(path) {
        return Err(sim.error(INVALID_PAGE, "invalid page"));
    }
    let state = body.miniprogram_state.unwrap_or_else(|| "formal".into());
    let lang = body.lang.unwrap_or_else(|| "zh_CN".into());
    if !["developer", "trial", "formal"].contains(&state.as_str())
        || !["zh_CN", "en_US", "zh_HK", "zh_TW"].contains(&lang.as_str())
    {
        return Err(sim.error(INVALID_ARGS, "invalid args"));
    }
    let mut data = BTreeMap::new();
    for name in DEMO_NOTICE_FIELDS {
        let value = body.data.get(*name).and_then(|f| f.value.as_str());
        match value {
            Some(value) if fits(name, value) => {
                data.insert((*name).to_owned(), value.to_owned());
            }
            _ => {
                let said = format!("argument invalid! data.{name}.value invalid");
                return Err(sim.error(INVALID_MESSAGE_DATA, &said));
            }
        }
    }
    if let Some(extra) = body
        .data
        .keys()
        .find(|k| !DEMO_NOTICE_FIELDS.contains(&k.as_str()))
    {
        let said = format!("argument invalid! data.{extra} not in template");
        return Err(sim.error(INVALID_MESSAGE_DATA, &said));
    }
    let mut mailbox = lock(&sim.0.mailbox);
    let key = (body.touser.clone(), body.template_id.clone());
    match mailbox.accepted.get_mut(&key) {
        Some(left) if *left > 0 => *left -= 1,
        _ => return Err(sim.error(MESSAGE_REFUSED, "user refuse to accept the msg")),
    }
    let arrived = mailbox.arrived.entry(body.touser).or_default();
    arrived.push(Delivered {
        template_id: body.template_id,
        page,
        data,
        miniprogram_state: state,
        lang,
        at: crate::server::store::unix_now(),
    });
    if arrived.len() > KEPT {
        arrived.remove(0);
    }
    Ok(())
}

/// A value within the rules of its field's type, named by the field's name without its
/// number (`thing2` is a `thing`).
fn fits(name: &str, value: &str) -> bool {
    let kind = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let chars = value.chars().count();
    match kind {
        // Up to 20 characters of any kind.
        "thing" => (1..=20).contains(&chars),
        // Up to 32 digits, letters or symbols.
        "character_string" => {
            (1..=32).contains(&chars) && value.chars().all(|c| c.is_ascii_graphic())
        }
        // A 24-hour time, with the date before it if any: `15:01`, `2019年10月1日 15:01`.
        "time" => is_time(value),
        _ => false,
    }
}

fn is_time(value: &str) -> bool {
    let (date, clock) = match value.rsplit_once(' ') {
        Some((date, clock)) => (Some(date), clock),
        None => (None, value),
    };
    let number = |s: &str, max: u32| {
        !s.is_empty() && s.len() <= 4 && s.parse::<u32>().is_ok_and(|n| n <= max)
    };
    let clock_ok = clock
        .split_once(':')
        .is_some_and(|(h, m)| number(h, 23) && m.len() == 2 && number(m, 59));
    let date_ok = date.is_none_or(|date| {
        let parts: Vec<&str> = date.split(['年', '月', '日']).collect();
        parts.len() == 4
            && parts[3].is_empty()
            && number(parts[0], 9999)
            && number(parts[1], 12)
            && number(parts[2], 31)
    });
    clock_ok && date_ok
}

#[derive(Deserialize)]
pub(super) struct AcceptRequest {
    openid: String,
    #[serde(default = "demo_template")]
    template_id: String,
}

fn demo_template() -> String {
    DEMO_NOTICE_TEMPLATE_ID.to_owned()
}

#[derive(Deserialize)]
pub(super) struct ArrivedQuery {
    openid: String,
}

impl Simulator {
    /// The person `openid` taps "allow" in `wx.requestSubscribeMessage`'s dialog: one
    /// message of `template_id` may be sent to them.
    pub fn accept_message(&self, openid: &str, template_id: &str) {
        let key = (openid.to_owned(), template_id.to_owned());
        *lock(&self.0.mailbox).accepted.entry(key).or_default() += 1;
    }

    /// The messages that arrived for `openid`, newest first.
    pub fn arrived_messages(&self, openid: &str) -> Vec<Delivered> {
        let mailbox = lock(&self.0.mailbox);
        let mut arrived = mailbox.arrived.get(openid).cloned().unwrap_or_default();
        arrived.reverse();
        arrived
    }
}

/// `POST /__sim/subscribe {"openid","template_id"?}`: [`Simulator::accept_message`].
pub(super) async fn accept(
    State(sim): State<Simulator>,
    axum::Json(req): axum::Json<AcceptRequest>,
) -> axum::http::StatusCode {
    sim.accept_message(&req.openid, &req.template_id);
    axum::http::StatusCode::NO_CONTENT
}

/// `GET /__sim/messages?openid=`: [`Simulator::arrived_messages`].
pub(super) async fn arrived(
    State(sim): State<Simulator>,
    Query(query): Query<ArrivedQuery>,
) -> axum::Json<Vec<Delivered>> {
    axum::Json(sim.arrived_messages(&query.openid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_their_types_rules() {
        assert!(fits("thing2", "Chrome on Windows"));
        assert!(fits("thing2", "二十个字以内的汉字也可以"));
        assert!(!fits("thing2", &"x".repeat(21)));
        assert!(!fits("thing2", ""));
        assert!(fits("character_string3", "2001:db8::1"));
        assert!(!fits("character_string3", "a b"));
        assert!(!fits("character_string3", "地址"));
        assert!(fits("time1", "15:01"));
        assert!(fits("time1", "2026年12月7日 15:01"));
        assert!(!fits("time1", "2026-12-07 15:01"));
        assert!(!fits("time1", "25:01"));
        assert!(!fits("time1", "yesterday"));
        assert!(!fits("phrase4", "登录"));
    }
}
