//! The QR image endpoint, at the original design's path.

use leptos::prelude::*;

use super::ApiError;
use crate::protocol::{BrowserKey, InvitationToken, LoginNext, QrImageAnswer, SceneId};

/// `POST /miniapp/getwxacodeunlimit {"scene","key","next"?,"invitation"?}` →
/// `{"code":200,"data": "data:image/...","msg":"ok","expires_in":N}`. The first request for
/// a scene registers it to `key`; `next`, the page's OpenID authorization request if it
/// has one, names the application the phone shows; `invitation`, the token of the
/// invitation page's link, lets the login that follows use it.
#[server(prefix = "/miniapp", endpoint = "getwxacodeunlimit", input = server_fn::codec::Json)]
pub async fn get_wxacode(
    scene: SceneId,
    key: BrowserKey,
    next: Option<LoginNext>,
    #[server(default)] invitation: Option<InvitationToken>,
) -> Result<QrImageAnswer, ApiError> {
    super::run(|state| async move {
        let (headers, client) = crate::server::context::request(&state).await?;
        let scene = crate::server::qr_image::SceneAsked {
            scene,
            key,
            next,
            invitation,
        };
        crate::server::qr_image::issue_qr_image(&state, &headers, client, scene).await
    })
    .await
}
