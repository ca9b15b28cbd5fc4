//! The QR image endpoint: registers a scene for a browser and gets its QR image (the
//! mini-program code, wxacode) from WeChat, once per scene as long as the image is kept
//! (`qr_images.rs`). Every call to WeChat is charged to the app-wide budget, a new
//! scene's and a repeat's alike, so no client can spend WeChat's quota for everyone by
//! asking again.

use axum::http::{header, HeaderMap};
use base64::Engine as _;

use super::{
    client::network_of,
    context::AppState,
    context::Client,
    error::AppError,
    limits::Bucket,
    registry::NewScene,
    wechat::{EnvVersion, WxaCodeRequest},
};
use crate::{
    protocol::{
        BrowserInfo, BrowserKey, InvitationToken, LoginNext, QrImageAnswer, Refusal, SceneId,
    },
    user_agent::BrowserName,
};

/// The scene a page asks a code for.
pub struct SceneAsked {
    pub scene: SceneId,
    pub key: BrowserKey,
    /// The page's OpenID authorization request, if the login began at one.
    pub next: Option<LoginNext>,
    /// The invitation page's token, if the login began there.
    pub invitation: Option<InvitationToken>,
}

/// `POST /miniapp/getwxacodeunlimit`.
pub async fn issue_qr_image(
    state: &AppState,
    headers: &HeaderMap,
    client: Client,
    SceneAsked {
        scene,
        key,
        next,
        invitation,
    }: SceneAsked,
) -> Result<QrImageAnswer, AppError> {
    state.limits.check(Bucket::Codes, client.key).await?;
    // Load is shed here, where a login starts and nothing has been spent on it yet. When
    // the database is behind, a new login would only join its queue, make every login
    // under way later (past the pool's 5 s, they all fail) and cost a WeChat code; it is
    // refused at once instead, and its page asks again after `Retry-After`.
    if state.store.operations_under_way() > state.config.limits.max_store_queue {
        return Err(AppError::Shed);
    }
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = BrowserName::of(user_agent);
    let browser = BrowserInfo {
        user_agent: name.words(),
        family: name.family,
        version: name.version,
        os: name.os,
        ip: network_of(client.ip),
        place: state.config.places.of(&client.ip.to_string()),
        requested_at: rfc3339_now(),
    };
    // An invitation that cannot be used is said at once, on the invitation's page.
    let invitation = match invitation {
        Some(token) => Some(
            state
                .store
                .usable_invitation_id(token.as_str())
                .await?
                .ok_or(AppError::Refused(Refusal::InvitationInvalid))?,
        ),
        None => None,
    };
    let registration = state
        .registry
        .register(NewScene {
            id: scene.clone(),
            key,
            browser,
            application: next.as_ref().and_then(|next| application_of(state, next)),
            invitation,
            purpose: next.as_ref().map(LoginNext::purpose).unwrap_or_default(),
            client: client.key,
        })
        .await?;
    let image = match state.qr_images.kept(&scene).await {
        Some(image) => Ok(image),
        None => {
            // A WeChat call: the app-wide budget pays for it first. A new scene it cannot
            // pay for is dropped again.
            if let Err(err) = state.limits.spend_code().await {
                if registration.is_new {
                    state.registry.forget(&scene).await?;
                }
                return Err(err);
            }
            let config = &state.config;
            let request = WxaCodeRequest {
                scene: scene.as_str().to_owned(),
                page: config.wechat.mp_page.clone(),
                // WeChat checks the page only against the published version.
                check_path: config.wechat.env_version == EnvVersion::Release,
                env_version: config.wechat.env_version,
                width: config.wechat.code_width,
            };
            state
                .qr_images
                .get_or_fetch(&scene, state.wechat.get_wxacode_unlimit(&request))
                .await
        }
    };
    let image = match image {
        Ok(image) => image,
        Err(err) => {
            if registration.is_new {
                // Not counted against the client, and the page may ask again.
                state.registry.forget(&scene).await?;
            }
            return Err(AppError::WeChat(err));
        }
    };
    if registration.is_new {
        super::metrics::login_step(super::metrics::Step::CodeIssued);
    }
    let data = base64::engine::general_purpose::STANDARD.encode(&image.bytes);
    Ok(QrImageAnswer {
        code: 200,
        data: format!("data:{};base64,{data}", image.mime),
        msg: "ok".to_owned(),
        expires_in: registration.expires_in_secs,
        auto_refreshes: state.config.login_page.auto_refreshes,
    })
}

/// The registered OpenID client an authorization request names, as the phone shows it.
fn application_of(state: &AppState, next: &LoginNext) -> Option<crate::protocol::Application> {
    let provider = state.config.oidc.as_ref()?;
    let client = provider.clients.get(&next.client_id()?)?;
    Some(client.application())
}

/// `unix` (seconds since the epoch) as RFC 3339, UTC.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The current time as RFC 3339 (UTC, whole seconds).
pub fn rfc3339_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
