//! What the browser asks about its own scene besides the socket: its status over plain
//! HTTP (the socket's fallback and catch-up), and a link that opens it in WeChat on the
//! same phone. Both prove the scene's browser key.

use leptos::prelude::*;

use super::ApiError;
use crate::protocol::{BrowserKey, KnownState, OpenLinkAnswer, SceneId, SceneStatusAnswer};

/// `POST /api/scene/status {"scene","key","known","wait"}` → `{"event": ...}`: the
/// scene's latest event; with `wait`, held (up to `SCANLOGIN_POLL_WAIT_SECS`) until there
/// is one newer than `known` (long polling, where a proxy blocks WebSockets).
#[server(prefix = "/api", endpoint = "scene/status", input = server_fn::codec::Json)]
pub async fn scene_status(
    scene: SceneId,
    key: BrowserKey,
    known: KnownState,
    wait: bool,
) -> Result<SceneStatusAnswer, ApiError> {
    super::run(|state| async move {
        crate::server::scene_status::scene_status(&state, &scene, &key, known, wait).await
    })
    .await
}

/// `POST /api/scene/open_link {"scene","key"}` → `{"url"}`: a link that opens the
/// scene's login in the mini program, for a page shown on the phone itself.
#[server(prefix = "/api", endpoint = "scene/open_link", input = server_fn::codec::Json)]
pub async fn open_link(scene: SceneId, key: BrowserKey) -> Result<OpenLinkAnswer, ApiError> {
    super::run(|state| async move {
        let (_, client) = crate::server::context::request(&state).await?;
        crate::server::open_link::open_link(&state, client, &scene, &key).await
    })
    .await
}
