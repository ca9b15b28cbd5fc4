//! WeChat's server API: the client the app uses, and the simulator that stands in
//! for WeChat in demo mode and in every test.
//!
//! The APIs used: an access token (`cgi-bin/stable_token` or `cgi-bin/token`), the
//! mini-program code (`wxa/getwxacodeunlimit`), links that open the mini program from a
//! phone's browser (`wxa/generate_urllink`, `wxa/generatescheme`), the login
//! (`sns/jscode2session`) and the message after one (`cgi-bin/message/subscribe/send`).

pub mod client;
pub mod error;
pub mod push;
pub mod shared_token;
pub mod simulator;
pub mod token;

pub use client::{
    EnvVersion, LoginSession, MessageValue, MessageVersion, MiniProgramPage, SubscribeMessage,
    TokenApi, WeChatClient, WeChatSettings, WxaCode, WxaCodeRequest,
};
pub use error::WeChatError;

/// WeChat's error codes that this crate acts on.
pub mod errcode {
    /// Links: `no permission to generate` (a mini program of an individual, or not
    /// verified). Elsewhere `invalid grant_type`.
    pub const LINK_NOT_PERMITTED: i64 = 40002;
    /// Links: `invalid path` (not a published page, or with a query).
    pub const INVALID_LINK_PATH: i64 = 40165;
    /// Links: `invalid query`.
    pub const INVALID_LINK_QUERY: i64 = 40212;
    /// Links: more than 100 a second.
    pub const LINK_RATE_LIMIT: i64 = 44990;
    /// Links: 500,000 links and schemes made today.
    pub const LINK_DAILY_QUOTA: i64 = 44993;
    /// Links: the mini program has no published version.
    pub const NO_RELEASED_VERSION: i64 = 85079;
    /// Links: the expiry is not between a minute and 30 days.
    pub const INVALID_LINK_EXPIRY: i64 = 85401;
    /// Links: `env_version` is not release, trial or develop.
    pub const INVALID_LINK_ENV_VERSION: i64 = 85402;
    /// Links: `no scheme permission` (also seen for individuals' mini programs).
    pub const NO_SCHEME_PERMISSION: i64 = 85407;
    /// `invalid credential, access_token is invalid or not latest`
    pub const INVALID_CREDENTIAL: i64 = 40001;
    /// `invalid appid`
    pub const INVALID_APPID: i64 = 40013;
    /// `invalid access_token` (malformed)
    pub const INVALID_ACCESS_TOKEN: i64 = 40014;
    /// `invalid code` (unknown or expired `wx.login` code)
    pub const INVALID_CODE: i64 = 40029;
    /// `invalid args`
    pub const INVALID_ARGS: i64 = 40097;
    /// `invalid appsecret`
    pub const INVALID_SECRET: i64 = 40125;
    /// `invalid scene` (a character outside WeChat's set)
    pub const INVALID_SCENE: i64 = 40129;
    /// `code been used`
    pub const CODE_BEEN_USED: i64 = 40163;
    /// `invalid length for scene`
    pub const INVALID_SCENE_LENGTH: i64 = 40169;
    /// `access_token missing`
    pub const ACCESS_TOKEN_MISSING: i64 = 41001;
    /// `invalid page`
    pub const INVALID_PAGE: i64 = 41030;
    /// `access_token expired`
    pub const ACCESS_TOKEN_EXPIRED: i64 = 42001;
    /// `reach max api daily quota limit` (also the code limit per minute)
    pub const QUOTA_LIMIT: i64 = 45009;
    /// Subscribe messages: `user refuse to accept the msg` (not accepted, or used up).
    pub const MESSAGE_REFUSED: i64 = 43101;
    /// Subscribe messages: a field breaks its template's rules (`argument invalid!`).
    pub const INVALID_MESSAGE_DATA: i64 = 47003;
    /// Subscribe messages: `invalid template_id`.
    pub const INVALID_TEMPLATE_ID: i64 = 40037;
    /// Subscribe messages: `invalid openid`.
    pub const INVALID_OPENID: i64 = 40003;
    /// `api minute-quota reach limit` (forced stable-token refresh too soon)
    pub const MINUTE_QUOTA_LIMIT: i64 = 45011;

    /// The codes after which a new access token is worth one retry.
    pub fn is_token_rejected(code: i64) -> bool {
        matches!(
            code,
            INVALID_CREDENTIAL | ACCESS_TOKEN_EXPIRED | INVALID_ACCESS_TOKEN
        )
    }
}
