//! The WeChat message a person gets after each login: when, which browser, from which
//! address; a tap opens the mini program's account page on that session, to end it if it
//! was not them. A subscribe message (`cgi-bin/message/subscribe/send`), from a one-time
//! template of the mini program's (`SCANLOGIN_NOTIFY_TEMPLATE_ID`; unset: no messages,
//! but in demo mode, which uses the simulator's).
//!
//! Sent only for a login whose phone asked the person, in the confirm's tap
//! (`wx.requestSubscribeMessage`; `"notify": true` in `/api/mp/confirm`): WeChat would
//! refuse the rest (43101), each refusal a call against the day's quota. Sent off the
//! login path: a task of its own that the login never waits for, at most [`IN_FLIGHT`] at
//! once (beyond that a notice is dropped, and counted, rather than queued without end
//! while WeChat is slow). Each outcome is counted in
//! `scanlogin_login_notices_total{result}`.

use std::{net::IpAddr, str::FromStr, sync::Arc};

use time::{OffsetDateTime, UtcOffset};

use super::wechat::{
    errcode, MessageValue, MessageVersion, SubscribeMessage, WeChatClient, WeChatError,
};

/// The mini-program page a message opens, with `?session=<sid>`.
pub const ACCOUNT_PAGE: &str = "pages/account/account";

/// Notices sent at once, at most.
const IN_FLIGHT: usize = 64;

/// The template a notice is sent with: its id and which of its fields says what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeTemplate {
    pub id: TemplateId,
    pub fields: NoticeFields,
}

/// A template id of the mini program's (WeChat's are 43 characters of `A-Za-z0-9_-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateId(String);

impl FromStr for TemplateId {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if (1..=64).contains(&s.len()) && s.chars().all(allowed) {
            Ok(Self(s.to_owned()))
        } else {
            Err("1 to 64 letters, digits, _ and -")
        }
    }
}

impl TemplateId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which field of the template holds the time, the browser and the address
/// (`SCANLOGIN_NOTIFY_FIELDS`: `time=time1,browser=thing2,place=character_string3`). A
/// field's name says its type, and each value is written to fit it: the time in a `time`
/// or `date` field, the browser in a `thing` (20 characters), the address in a `thing` or
/// a `character_string` (32 letters, digits and symbols).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeFields {
    pub time: String,
    pub browser: String,
    pub place: String,
}

impl Default for NoticeFields {
    fn default() -> Self {
        Self {
            time: "time1".into(),
            browser: "thing2".into(),
            place: "character_string3".into(),
        }
    }
}

impl FromStr for NoticeFields {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (mut time, mut browser, mut place) = (None, None, None);
        for pair in s.split(',') {
            let (what, field) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not what=field"))?;
            let (slot, kinds): (_, &[&str]) = match what.trim() {
                "time" => (&mut time, &["time", "date"]),
                "browser" => (&mut browser, &["thing"]),
                "place" => (&mut place, &["thing", "character_string"]),
                other => return Err(format!("{other:?}: use time, browser and place")),
            };
            let field = field.trim();
            if !kinds.contains(&kind_of(field)) || !field.ends_with(|c: char| c.is_ascii_digit()) {
                return Err(format!(
                    "{what}={field}: a field of type {} and its number",
                    kinds.join(" or ")
                ));
            }
            if slot.replace(field.to_owned()).is_some() {
                return Err(format!("{what} is named twice"));
            }
        }
        match (time, browser, place) {
            (Some(time), Some(browser), Some(place)) => Ok(Self {
                time,
                browser,
                place,
            }),
            _ => Err("name time, browser and place".into()),
        }
    }
}

/// A field's type: its name without the number (`thing2` is a `thing`).
fn kind_of(field: &str) -> &str {
    field.trim_end_matches(|c: char| c.is_ascii_digit())
}

/// A login to tell its person about.
#[derive(Debug, Clone)]
pub struct LoginNotice {
    /// Who logged in: the openid that scanned.
    pub openid: String,
    /// The new session's public id, for the page a tap opens.
    pub session: String,
    /// The browser, in words (`Chrome on Windows`).
    pub browser: String,
    pub ip: String,
    /// Where `ip` is, coarsely; empty when unknown (the message then says the address).
    pub place: String,
    /// When, in Unix seconds.
    pub at: i64,
}

/// Sends the notices.
#[derive(Debug)]
pub struct LoginNotices {
    template: Option<NoticeTemplate>,
    version: MessageVersion,
    wechat: Arc<WeChatClient>,
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl LoginNotices {
    /// `template`: none, no notices.
    pub fn new(
        template: Option<NoticeTemplate>,
        version: MessageVersion,
        wechat: Arc<WeChatClient>,
    ) -> Self {
        Self {
            template,
            version,
            wechat,
            in_flight: Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT)),
        }
    }

    /// The template's id; `None`: no notices are sent.
    pub fn template_id(&self) -> Option<&str> {
        self.template.as_ref().map(|t| t.id.as_str())
    }

    /// Sends `notice` in the background and returns at once.
    pub fn send(&self, notice: LoginNotice) {
        let Some(template) = self.template.as_ref() else {
            return;
        };
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            super::metrics::login_notice("dropped");
            return;
        };
        let message = message(template, self.version, notice);
        let wechat = self.wechat.clone();
        tokio::spawn(async move {
            let result = wechat.send_subscribe_message(&message).await;
            drop(permit);
            let counted = outcome(&result);
            if let Err(err) = &result {
                // 43101 is the person's choice; anything else is worth an operator's look.
                if counted == "declined" {
                    tracing::debug!(%err, "login notice not accepted");
                } else {
                    tracing::warn!(%err, "login notice not sent");
                }
            }
            super::metrics::login_notice(counted);
        });
    }
}

/// The metric's `result` for a send.
fn outcome(result: &Result<(), WeChatError>) -> &'static str {
    match result {
        Ok(()) => "sent",
        Err(err) => match err.errcode() {
            Some(errcode::MESSAGE_REFUSED) => "declined",
            Some(errcode::INVALID_MESSAGE_DATA | errcode::INVALID_TEMPLATE_ID) => "invalid",
            Some(errcode::QUOTA_LIMIT) => "quota",
            Some(code) if errcode::is_token_rejected(code) => "token",
            _ => "failed",
        },
    }
}

/// The message for `notice`, each value fitted to its field's type.
fn message(
    template: &NoticeTemplate,
    version: MessageVersion,
    notice: LoginNotice,
) -> SubscribeMessage {
    let fields = &template.fields;
    let values = [
        (&fields.time, china_time(notice.at)),
        (&fields.browser, notice.browser),
        (
            &fields.place,
            place(notice.place, &notice.ip, kind_of(&fields.place)),
        ),
    ];
    SubscribeMessage {
        touser: notice.openid,
        template_id: template.id.as_str().to_owned(),
        page: format!("{ACCOUNT_PAGE}?session={}", notice.session),
        data: values
            .into_iter()
            .map(|(field, value)| {
                let value = fitted(kind_of(field), value);
                (field.clone(), MessageValue { value })
            })
            .collect(),
        version,
        lang: "zh_CN",
    }
}

/// `value` within its type's length: a `thing` 20 characters, a `character_string` 32
/// (cut with an ellipsis where it fits the type).
fn fitted(kind: &str, value: String) -> String {
    let (max, ellipsis) = match kind {
        "thing" => (20, "…"),
        "character_string" => (32, ""),
        _ => return value,
    };
    if value.chars().count() <= max {
        return value;
    }
    let keep = max - ellipsis.chars().count();
    value.chars().take(keep).collect::<String>() + ellipsis
}

/// The time as WeChat's `time` fields take it, in China's time (UTC+8, where WeChat's
/// people are): `2026年12月7日 15:01`.
fn china_time(unix: i64) -> String {
    let china = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    let at = OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(china);
    format!(
        "{}年{}月{}日 {:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// The place, or without one the address, shown by its /64 network when it is an IPv6
/// address too long for the field (20 characters for a `thing`, 32 for a
/// `character_string`): the network is what says where a person is.
/// A `character_string` takes no spaces or Chinese: "Shenyang,Liaoning,CN".
fn place(place: String, ip: &str, kind: &str) -> String {
    let place = match kind {
        "character_string" => place.chars().filter(char::is_ascii_graphic).collect(),
        _ => place,
    };
    if !place.is_empty() {
        return place;
    }
    let max = if kind == "thing" { 20 } else { 32 };
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if ip.len() > max => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => ip.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named_with_a_type_that_fits_and_checked_at_once() {
        let fields: NoticeFields = "time=date4, browser=thing1,place=thing9".parse().unwrap();
        assert_eq!(fields.time, "date4");
        assert_eq!(fields.place, "thing9");
        for bad in [
            "time=time1,browser=thing2",
            "time=time1,browser=phrase2,place=thing3",
            "time=time1,browser=thing,place=thing3",
            "time=time1,time=time2,browser=thing2,place=thing3",
            "when=time1,browser=thing2,place=thing3",
            "time",
        ] {
            assert!(bad.parse::<NoticeFields>().is_err(), "{bad}");
        }
        assert!("template-id_1".parse::<TemplateId>().is_ok());
        assert!("a b".parse::<TemplateId>().is_err());
    }

    #[test]
    fn values_are_fitted_to_their_types() {
        assert_eq!(china_time(0), "1970年1月1日 08:00");
        assert_eq!(fitted("thing", "x".repeat(25)).chars().count(), 20);
        assert!(fitted("thing", "x".repeat(25)).ends_with('…'));
        assert_eq!(
            fitted("thing", "Chrome on Windows".into()),
            "Chrome on Windows"
        );
        let long = "2001:db8:1234:5678:9abc:def0:1234:5678";
        assert_eq!(
            place(String::new(), long, "character_string"),
            "2001:db8:1234:5678::/64"
        );
        assert_eq!(place(String::new(), "2001:db8::1", "thing"), "2001:db8::1");
        assert_eq!(
            place(String::new(), "203.0.113.9", "character_string"),
            "203.0.113.9"
        );
        let shenyang = || "Shenyang, Liaoning, CN".to_owned();
        assert_eq!(
            place(shenyang(), "1.2.3.4", "thing"),
            "Shenyang, Liaoning, CN"
        );
        assert_eq!(
            place(shenyang(), "1.2.3.4", "character_string"),
            "Shenyang,Liaoning,CN"
        );
        assert_eq!(
            place("北京".into(), "1.2.3.4", "character_string"),
            "1.2.3.4"
        );
    }
}
