//! The WeChat server-API client.

use std::{future::Future, time::Duration};

use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{
    shared_token::SharedTokens,
    token::{AccessToken, FetchedToken, TokenCache},
    WeChatError,
};

/// Which WeChat API hands out access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenApi {
    /// `POST cgi-bin/stable_token`: the same token for every server that asks, so
    /// several processes can share one app without invalidating each other.
    Stable,
    /// `GET cgi-bin/token`: each call replaces the previous token.
    Classic,
}

/// How to reach WeChat.
#[derive(Clone)]
pub struct WeChatSettings {
    /// `https://api.weixin.qq.com`, or the simulator's mount in demo mode.
    pub base: String,
    pub appid: String,
    pub secret: SecretString,
    pub token_api: TokenApi,
    /// For every request.
    pub timeout: Duration,
}

impl std::fmt::Debug for WeChatSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeChatSettings")
            .field("base", &self.base)
            .field("appid", &self.appid)
            .field("secret", &"<redacted>")
            .field("token_api", &self.token_api)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Which version of the mini program a QR image or a link opens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvVersion {
    /// The published one (the only one whose pages WeChat checks).
    #[default]
    Release,
    /// The trial version testers have.
    Trial,
    /// The developer's version.
    Develop,
}

impl std::str::FromStr for EnvVersion {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "release" => Ok(Self::Release),
            "trial" => Ok(Self::Trial),
            "develop" => Ok(Self::Develop),
            _ => Err("use release, trial or develop"),
        }
    }
}

/// A request for a mini-program code (`wxa/getwxacodeunlimit`).
#[derive(Debug, Clone, Serialize)]
pub struct WxaCodeRequest {
    pub scene: String,
    pub page: String,
    pub check_path: bool,
    pub env_version: EnvVersion,
    pub width: u32,
}

/// A page of the mini program, with its query, for a link that opens it
/// (`wxa/generate_urllink`, `wxa/generatescheme`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MiniProgramPage {
    /// A published page, without a query: `pages/login/login`.
    pub path: String,
    /// Up to 1,024 characters of WeChat's set: `scene=...`.
    pub query: String,
    pub env_version: EnvVersion,
}

/// `generate_urllink`'s body: the page, expiring after `expire_interval` days (WeChat
/// allows 1 to 30).
#[derive(Serialize)]
struct UrlLinkBody<'a> {
    #[serde(flatten)]
    page: &'a MiniProgramPage,
    expire_type: u8,
    expire_interval: u32,
}

/// `generatescheme`'s body: the same page under `jump_wxa`.
#[derive(Serialize)]
struct SchemeBody<'a> {
    jump_wxa: &'a MiniProgramPage,
    is_expire: bool,
    expire_type: u8,
    expire_interval: u32,
}

#[derive(Deserialize)]
struct UrlLinkAnswer {
    url_link: String,
}

#[derive(Deserialize)]
struct SchemeAnswer {
    openlink: String,
}

/// A subscribe message (`cgi-bin/message/subscribe/send`): one the person accepted with
/// `wx.requestSubscribeMessage`, from a template of the mini program's.
#[derive(Debug, Clone, Serialize)]
pub struct SubscribeMessage {
    /// The openid it goes to.
    pub touser: String,
    pub template_id: String,
    /// The page a tap on it opens, with its query: `pages/account/account?session=...`.
    pub page: String,
    /// The template's fields: `{"time1": {"value": "15:01"}, ...}`.
    pub data: std::collections::BTreeMap<String, MessageValue>,
    /// Which version of the mini program the page opens.
    #[serde(rename = "miniprogram_state")]
    pub version: MessageVersion,
    /// `zh_CN` or `en_US`.
    pub lang: &'static str,
}

/// One field of a subscribe message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageValue {
    pub value: String,
}

/// [`EnvVersion`] in the words of `subscribe/send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageVersion {
    Formal,
    Trial,
    Developer,
}

impl From<EnvVersion> for MessageVersion {
    fn from(version: EnvVersion) -> Self {
        match version {
            EnvVersion::Release => Self::Formal,
            EnvVersion::Trial => Self::Trial,
            EnvVersion::Develop => Self::Developer,
        }
    }
}

#[derive(Deserialize)]
struct MessageSent {}

/// A mini-program code image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxaCode {
    pub bytes: Bytes,
    /// The image's real type, from its first bytes: `image/jpeg`, `image/png` or `image/gif`.
    pub mime: &'static str,
}

impl WxaCode {
    /// Copies the image out of the response: the body is a view into hyper's read buffer
    /// (8 KiB or more), which a cached view would keep alive whole.
    fn new(body: &[u8], mime: &'static str) -> Self {
        Self {
            bytes: Bytes::copy_from_slice(body),
            mime,
        }
    }
}

/// What `jscode2session` says about the person behind a `wx.login` code.
#[derive(Clone, Deserialize)]
pub struct LoginSession {
    pub openid: String,
    #[serde(default)]
    pub unionid: Option<String>,
    /// Kept on the server; never logged, never sent on.
    pub session_key: SecretString,
}

impl std::fmt::Debug for LoginSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginSession")
            .field("openid", &self.openid)
            .field("unionid", &self.unionid)
            .field("session_key", &"<redacted>")
            .finish()
    }
}

/// WeChat's error envelope; `errcode` 0 or absent means success.
#[derive(Debug, Deserialize)]
struct ApiStatus {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(Debug)]
pub struct WeChatClient {
    http: reqwest::Client,
    settings: WeChatSettings,
    /// `settings.base`, parsed once: each call only sets its path (parsing the whole URL,
    /// host and all, was a visible part of a login's CPU).
    base: url::Url,
    tokens: TokenCache,
    /// With several instances: the token they share (one request per refresh for all).
    shared: Option<SharedTokens>,
    /// How the last call went: 0 none yet, 1 WeChat answered, 2 it did not.
    reachable: std::sync::atomic::AtomicU8,
}

impl WeChatClient {
    pub fn new(
        settings: WeChatSettings,
        shared: Option<SharedTokens>,
    ) -> Result<Self, WeChatError> {
        let builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("scanlogin/", env!("CARGO_PKG_VERSION")))
            // A bounded pool, closed before servers' own idle timeouts (ours is 60 s): a
            // burst of calls leaves a few connections, not hundreds (in demo mode they
            // would count against this machine's per-address connection cap).
            .pool_max_idle_per_host(32)
            .pool_idle_timeout(std::time::Duration::from_secs(30));
        // The simulator (demo mode, the tests) is http: no certificates needed.
        let https = settings.base.starts_with("https://");
        let http = crate::server::outbound::client(builder, https)
            .map_err(|e| WeChatError::Transport(e.to_string()))?;
        let base = url::Url::parse(settings.base.trim_end_matches('/'))
            .map_err(|e| WeChatError::Transport(format!("the API base is not a URL: {e}")))?;
        Ok(Self {
            http,
            settings,
            base,
            tokens: TokenCache::new(),
            shared,
            reachable: std::sync::atomic::AtomicU8::new(0),
        })
    }

    pub fn appid(&self) -> &str {
        &self.settings.appid
    }

    fn url(&self, path: &str) -> url::Url {
        let mut url = self.base.clone();
        let full = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&full);
        url
    }

    fn failed(&self, err: reqwest::Error) -> WeChatError {
        self.note_reachable(false);
        WeChatError::from_reqwest(err, self.settings.timeout)
    }

    /// WeChat answered (any HTTP answer but a 5xx), or did not.
    fn note_reachable(&self, answered: bool) {
        self.reachable.store(
            if answered { 1 } else { 2 },
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// `unknown` (no call yet), `ok` or `failing`, from the latest call: for readiness and
    /// metrics, never a reason to stop serving.
    pub fn reachability(&self) -> &'static str {
        match self.reachable.load(std::sync::atomic::Ordering::Relaxed) {
            0 => "unknown",
            1 => "ok",
            _ => "failing",
        }
    }

    /// The current access token, fetched if there is none worth using.
    pub async fn access_token(&self) -> Result<AccessToken, WeChatError> {
        self.tokens.get(|force| self.fetch_token(force)).await
    }

    /// A token from the instances' shared store, or from WeChat.
    async fn fetch_token(&self, force_refresh: bool) -> Result<FetchedToken, WeChatError> {
        match &self.shared {
            Some(shared) => {
                shared
                    .get(force_refresh, || {
                        self.fetch_token_from_wechat(force_refresh)
                    })
                    .await
            }
            None => self.fetch_token_from_wechat(force_refresh).await,
        }
    }

    async fn fetch_token_from_wechat(
        &self,
        force_refresh: bool,
    ) -> Result<FetchedToken, WeChatError> {
        let secret = self.settings.secret.expose_secret();
        let request = match self.settings.token_api {
            TokenApi::Stable => {
                self.http
                    .post(self.url("/cgi-bin/stable_token"))
                    .json(&serde_json::json!({
                        "grant_type": "client_credential",
                        "appid": self.settings.appid,
                        "secret": secret,
                        "force_refresh": force_refresh,
                    }))
            }
            TokenApi::Classic => self.http.get(self.url("/cgi-bin/token")).query(&[
                ("grant_type", "client_credential"),
                ("appid", self.settings.appid.as_str()),
                ("secret", secret),
            ]),
        };
        let path = match self.settings.token_api {
            TokenApi::Stable => "/cgi-bin/stable_token",
            TokenApi::Classic => "/cgi-bin/token",
        };
        let answer: TokenAnswer = recorded(path, self.json_call(request).await)?;
        crate::server::metrics::token_refresh();
        tracing::info!(
            api = ?self.settings.token_api,
            force_refresh,
            expires_in = answer.expires_in,
            "fetched a WeChat access token"
        );
        Ok(FetchedToken {
            token: AccessToken::new(answer.access_token),
            expires_in: Duration::from_secs(answer.expires_in),
        })
    }

    /// Runs `call` with the access token; if WeChat rejects the token (40001, 42001,
    /// 40014), gets a new one and runs `call` once more, and no more.
    async fn with_token<T, F, Fut>(&self, call: F) -> Result<T, WeChatError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, WeChatError>>,
    {
        let token = self.access_token().await?;
        match call(token.clone()).await {
            Err(err) if err.is_token_rejected() => {
                tracing::warn!(%err, "WeChat rejected the access token; retrying once with a new one");
                if let Some(shared) = &self.shared {
                    shared.discard(&token).await?;
                }
                let token = self
                    .tokens
                    .replace_rejected(&token, |force| self.fetch_token(force))
                    .await?;
                call(token).await
            }
            other => other,
        }
    }

    /// `wxa/getwxacodeunlimit`: a mini-program code that opens `page` with `scene`.
    pub async fn get_wxacode_unlimit(&self, req: &WxaCodeRequest) -> Result<WxaCode, WeChatError> {
        self.with_token(|token| self.fetch_wxacode(token, req))
            .await
    }

    async fn fetch_wxacode(
        &self,
        token: AccessToken,
        req: &WxaCodeRequest,
    ) -> Result<WxaCode, WeChatError> {
        recorded(
            "/wxa/getwxacodeunlimit",
            self.fetch_wxacode_once(token, req).await,
        )
    }

    async fn fetch_wxacode_once(
        &self,
        token: AccessToken,
        req: &WxaCodeRequest,
    ) -> Result<WxaCode, WeChatError> {
        let response = self
            .http
            .post(self.url("/wxa/getwxacodeunlimit"))
            .query(&[("access_token", token.expose())])
            .json(req)
            .send()
            .await
            .map_err(|e| self.failed(e))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = response.bytes().await.map_err(|e| self.failed(e))?;
        self.note_reachable(!status.is_server_error());
        if !status.is_success() {
            return Err(WeChatError::Status(status.as_u16()));
        }
        decide_wxacode(&content_type, body)
    }

    /// `wxa/generate_urllink`: an `https://wxaurl.cn/...` link that opens `page` from any
    /// phone browser, valid `days` days. Only verified mini programs of a company (not
    /// an individual) may make them, 500,000 a day together with schemes.
    pub async fn generate_urllink(
        &self,
        page: &MiniProgramPage,
        days: u32,
    ) -> Result<String, WeChatError> {
        let body = UrlLinkBody {
            page,
            expire_type: 1,
            expire_interval: days,
        };
        let answer: UrlLinkAnswer = self.post_with_token("/wxa/generate_urllink", &body).await?;
        Ok(answer.url_link)
    }

    /// `wxa/generatescheme`: a `weixin://dl/business/?t=...` scheme that opens `page`
    /// (the same rules and quota as [`Self::generate_urllink`]).
    pub async fn generate_scheme(
        &self,
        page: &MiniProgramPage,
        days: u32,
    ) -> Result<String, WeChatError> {
        let body = SchemeBody {
            jump_wxa: page,
            is_expire: true,
            expire_type: 1,
            expire_interval: days,
        };
        let answer: SchemeAnswer = self.post_with_token("/wxa/generatescheme", &body).await?;
        Ok(answer.openlink)
    }

    /// `cgi-bin/message/subscribe/send`: sends `message`. WeChat refuses one the person
    /// did not accept (43101), with fields that break the template's rules (47003), or
    /// over the day's quota (45009).
    pub async fn send_subscribe_message(
        &self,
        message: &SubscribeMessage,
    ) -> Result<(), WeChatError> {
        let MessageSent {} = self
            .post_with_token("/cgi-bin/message/subscribe/send", message)
            .await?;
        Ok(())
    }

    /// POSTs `body` as JSON to an API that takes the access token in its query and
    /// answers JSON (retrying once with a new token, as every call).
    async fn post_with_token<T: DeserializeOwned>(
        &self,
        path: &'static str,
        body: &impl Serialize,
    ) -> Result<T, WeChatError> {
        self.with_token(|token| {
            let request = self
                .http
                .post(self.url(path))
                .query(&[("access_token", token.expose())])
                .json(body);
            async move { recorded(path, self.json_call(request).await) }
        })
        .await
    }

    /// `sns/jscode2session`: who is behind a `wx.login` code.
    pub async fn code_to_session(&self, login_code: &str) -> Result<LoginSession, WeChatError> {
        let request = self.http.get(self.url("/sns/jscode2session")).query(&[
            ("appid", self.settings.appid.as_str()),
            ("secret", self.settings.secret.expose_secret()),
            ("js_code", login_code),
            ("grant_type", "authorization_code"),
        ]);
        recorded("/sns/jscode2session", self.json_call(request).await)
    }

    /// Sends a request whose answer is JSON, whatever its `Content-Type` says
    /// (`jscode2session` answers `text/plain`).
    async fn json_call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, WeChatError> {
        let response = request.send().await.map_err(|e| self.failed(e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.failed(e))?;
        self.note_reachable(!status.is_server_error());
        if !status.is_success() {
            return Err(WeChatError::Status(status.as_u16()));
        }
        parse_json(&body)
    }
}

/// Counts a call in the metrics, by path and WeChat's errcode (or what kept it from one).
fn recorded<T>(path: &'static str, result: Result<T, WeChatError>) -> Result<T, WeChatError> {
    let errcode = match &result {
        Ok(_) => "0".to_owned(),
        Err(WeChatError::Api { errcode, .. }) => errcode.to_string(),
        Err(WeChatError::Timeout(_)) => "timeout".to_owned(),
        Err(WeChatError::Transport(_)) => "transport".to_owned(),
        Err(WeChatError::Status(status)) => format!("http_{status}"),
        Err(WeChatError::BadResponse(_)) => "bad_response".to_owned(),
    };
    crate::server::metrics::wechat_call(path, &errcode);
    result
}

/// Parses WeChat's JSON: an error envelope with a non-zero `errcode`, or `T`.
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, WeChatError> {
    let status: ApiStatus = serde_json::from_slice(body)
        .map_err(|e| WeChatError::BadResponse(format!("not JSON: {e}")))?;
    if status.errcode != 0 {
        return Err(WeChatError::Api {
            errcode: status.errcode,
            errmsg: status.errmsg,
        });
    }
    serde_json::from_slice(body)
        .map_err(|e| WeChatError::BadResponse(format!("missing fields: {e}")))
}

/// `getwxacodeunlimit` answers either an image or a JSON error. The `Content-Type`
/// decides, and the bytes must agree: an "image" must start like one, and a body that
/// is JSON is read as an error whatever its type says.
fn decide_wxacode(content_type: &str, body: Bytes) -> Result<WxaCode, WeChatError> {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if mime.starts_with("image/") {
        return match sniff_image(&body) {
            Some(mime) => Ok(WxaCode::new(&body, mime)),
            None => Err(WeChatError::BadResponse(format!(
                "{mime} body that is not an image ({} bytes)",
                body.len()
            ))),
        };
    }
    if mime == "application/json" || mime == "text/plain" || body.first() == Some(&b'{') {
        let status: ApiStatus = serde_json::from_slice(&body)
            .map_err(|e| WeChatError::BadResponse(format!("not JSON: {e}")))?;
        return Err(if status.errcode != 0 {
            WeChatError::Api {
                errcode: status.errcode,
                errmsg: status.errmsg,
            }
        } else {
            WeChatError::BadResponse("JSON without an error code instead of an image".into())
        });
    }
    // No usable Content-Type: trust the bytes if they are an image.
    match sniff_image(&body) {
        Some(mime) => Ok(WxaCode::new(&body, mime)),
        None => Err(WeChatError::BadResponse(format!(
            "unexpected Content-Type {content_type:?}"
        ))),
    }
}

/// The image type a body starts with.
pub fn sniff_image(body: &[u8]) -> Option<&'static str> {
    if body.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if body.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if body.starts_with(b"GIF87a") || body.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n rest";

    #[test]
    fn each_call_goes_to_its_path_under_the_base() {
        let url_under = |base: &str| {
            let client = WeChatClient::new(
                WeChatSettings {
                    base: base.to_owned(),
                    appid: "wx".to_owned(),
                    secret: "s".into(),
                    token_api: TokenApi::Stable,
                    timeout: Duration::from_secs(1),
                },
                None,
            )
            .unwrap();
            client.url("/sns/jscode2session").to_string()
        };
        for (base, url) in [
            (
                "https://api.weixin.qq.com",
                "https://api.weixin.qq.com/sns/jscode2session",
            ),
            (
                "https://api.weixin.qq.com/",
                "https://api.weixin.qq.com/sns/jscode2session",
            ),
            (
                "http://127.0.0.1:3000/__wechat",
                "http://127.0.0.1:3000/__wechat/sns/jscode2session",
            ),
            (
                "http://127.0.0.1:3000/__wechat/",
                "http://127.0.0.1:3000/__wechat/sns/jscode2session",
            ),
        ] {
            assert_eq!(url_under(base), url, "{base}");
        }
    }

    #[test]
    fn an_image_content_type_with_image_bytes_is_an_image() {
        let code = decide_wxacode("image/jpeg", Bytes::from_static(PNG)).unwrap();
        assert_eq!(code.mime, "image/png", "the bytes say PNG");
    }

    #[test]
    fn json_error_is_an_api_error_even_if_errmsg_is_not_searched() {
        let body = Bytes::from_static(br#"{"errcode":40169,"errmsg":"invalid length for scene"}"#);
        let err = decide_wxacode("application/json; encoding=utf-8", body).unwrap_err();
        assert_eq!(err.errcode(), Some(40169));
    }

    #[test]
    fn an_image_that_mentions_errmsg_is_still_an_image() {
        // The original design searched the body for "errmsg"; image bytes may contain anything.
        let mut body = PNG.to_vec();
        body.extend_from_slice(b"errmsg");
        assert!(decide_wxacode("image/png", Bytes::from(body)).is_ok());
    }

    #[test]
    fn garbage_is_a_bad_response() {
        let err = decide_wxacode("image/jpeg", Bytes::from_static(b"nope")).unwrap_err();
        assert!(matches!(err, WeChatError::BadResponse(_)), "{err:?}");
        let err = decide_wxacode("application/json", Bytes::from_static(b"<html>")).unwrap_err();
        assert!(matches!(err, WeChatError::BadResponse(_)), "{err:?}");
        let err = decide_wxacode("text/html", Bytes::from_static(b"<html>")).unwrap_err();
        assert!(matches!(err, WeChatError::BadResponse(_)), "{err:?}");
    }

    #[test]
    fn json_with_errcode_zero_is_read_as_the_answer() {
        let s: LoginSession =
            parse_json(br#"{"errcode":0,"openid":"o1","session_key":"k"}"#).unwrap();
        assert_eq!(s.openid, "o1");
        assert!(!format!("{s:?}").contains("\"k\""));
    }
}
