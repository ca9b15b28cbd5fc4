//! "Open in WeChat": a link that opens a scene's login in the mini program, for a login
//! page shown on the phone itself, where its code cannot be scanned.
//!
//! WeChat's URL link (`https://wxaurl.cn/...`) opens from any phone browser; its scheme
//! (`weixin://dl/business/?t=...`) is the fallback. Both open the code's page with the
//! query `scene=<id>`, which the mini program reads as it reads a code's scene. Each
//! costs a share of WeChat's daily 500,000, so links come out of the codes' rate limit;
//! and only verified mini programs of a company may make them: when WeChat refuses,
//! the page says so and keeps its code.

use super::{
    context::Client, error::AppError, limits::Bucket, startup::AppState, wechat::MiniProgramPage,
};
use crate::protocol::{BrowserKey, OpenLinkAnswer, SceneId};

/// Days a link stays valid: WeChat's shortest. The scene itself ends much sooner, and
/// the mini program says so when an old link opens it.
const LINK_DAYS: u32 = 1;

pub async fn open_link(
    state: &AppState,
    client: Client,
    scene: &SceneId,
    key: &BrowserKey,
) -> Result<OpenLinkAnswer, AppError> {
    state.limits.check(Bucket::Codes, client.key).await?;
    // Only the scene's own browser may ask (the same proof as its socket's).
    drop(state.registry.subscribe(scene, key).await?);
    let page = MiniProgramPage {
        path: state.config.mp_page.clone(),
        query: format!("scene={scene}"),
        env_version: state.config.mp_env_version.clone(),
    };
    let url = match state.wechat.generate_urllink(&page, LINK_DAYS).await {
        Ok(url) => url,
        Err(link_error) => {
            tracing::warn!(%link_error, "WeChat made no URL link; trying a scheme");
            state
                .wechat
                .generate_scheme(&page, LINK_DAYS)
                .await
                .map_err(|scheme_error| {
                    tracing::warn!(%scheme_error, "WeChat made no scheme either");
                    AppError::WeChat(scheme_error)
                })?
        }
    };
    Ok(OpenLinkAnswer { url })
}
