//! "Open in WeChat": a link that opens a scene's login in the mini program, for a login
//! page shown on the phone itself, where its code cannot be scanned.
//!
//! WeChat's URL link (`https://wxaurl.cn/...`) opens from any phone browser; its scheme
//! (`weixin://dl/business/?t=...`) is the fallback. Both open the code's page with the
//! query `scene=<id>`, which the mini program reads as it reads a code's scene.
//!
//! Links are WeChat's to ration: 500,000 a day with schemes, and only verified mini
//! programs of a company may make them. So a scene gets one link, kept while the scene
//! lives; a new link counts against the codes' rate limit and the app's daily budget
//! (`SCANLOGIN_LINK_BUDGET_PER_DAY`, below WeChat's quota); and a refusal that holds for
//! every link (no permission, the day's quota) is remembered, so that each page after
//! it costs WeChat nothing: until Beijing's next midnight for the quota, an hour for a
//! permission. When WeChat refuses, the page says so and keeps its code.

use std::{sync::Mutex, time::Duration};

use super::{
    context::AppState,
    context::Client,
    error::AppError,
    limits::Bucket,
    store::unix_now,
    wechat::{errcode, MiniProgramPage, WeChatError},
};
use crate::protocol::{BrowserKey, OpenLinkAnswer, SceneId};

/// Days a link stays valid: WeChat's shortest. The scene itself ends much sooner, and
/// the mini program says so when an old link opens it.
const LINK_DAYS: u32 = 1;
/// A refused permission is asked again after this long (it may have been granted).
const PERMISSION_RETRY: Duration = Duration::from_secs(3600);

/// The links made, per scene, and a refusal that holds for every link.
pub struct OpenLinks {
    made: moka::future::Cache<SceneId, String>,
    /// Unix seconds until which WeChat is not asked.
    refused_until: Mutex<u64>,
}

impl OpenLinks {
    pub fn new(scene_ttl: Duration) -> Self {
        Self {
            made: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(scene_ttl)
                .build(),
            refused_until: Mutex::new(0),
        }
    }

    fn refused(&self) -> bool {
        *self.refused_until.lock().unwrap_or_else(|e| e.into_inner()) > unix_now() as u64
    }

    /// Remembers `err` if it refuses every link (and scheme) for a while.
    fn remember(&self, err: &WeChatError) -> bool {
        let now = unix_now() as u64;
        let until = match err.errcode() {
            Some(errcode::LINK_NOT_PERMITTED | errcode::NO_SCHEME_PERMISSION) => {
                now + PERMISSION_RETRY.as_secs()
            }
            Some(errcode::LINK_DAILY_QUOTA | errcode::QUOTA_LIMIT) => {
                super::limits::next_beijing_midnight(now)
            }
            // A hundred a second, for links and schemes together.
            Some(errcode::LINK_RATE_LIMIT) => now + 1,
            _ => return false,
        };
        *self.refused_until.lock().unwrap_or_else(|e| e.into_inner()) = until;
        tracing::warn!(%err, refused_for_secs = until - now, "WeChat makes no links for now");
        true
    }
}

pub async fn open_link(
    state: &AppState,
    client: Client,
    scene: &SceneId,
    key: &BrowserKey,
) -> Result<OpenLinkAnswer, AppError> {
    // Only the scene's own browser may ask (the same proof as its socket's).
    drop(state.registry.subscribe(scene, key).await?);
    let links = &state.open_links;
    if let Some(url) = links.made.get(scene).await {
        return Ok(OpenLinkAnswer { url });
    }
    if links.refused() {
        return Err(AppError::LinksRefused);
    }
    state.limits.check(Bucket::Codes, client.key).await?;
    // A link, or a scheme when WeChat makes no link: one of the day's budget either way.
    state.limits.spend_link().await?;
    let page = MiniProgramPage {
        path: state.config.wechat.mp_page.clone(),
        query: format!("scene={scene}"),
        env_version: state.config.wechat.env_version,
    };
    let url = match state.wechat.generate_urllink(&page, LINK_DAYS).await {
        Ok(url) => url,
        // A refusal of every link refuses the scheme too: not asked.
        Err(err) if links.remember(&err) => return Err(AppError::WeChat(err)),
        Err(link_error) => {
            tracing::warn!(%link_error, "WeChat made no URL link; trying a scheme");
            match state.wechat.generate_scheme(&page, LINK_DAYS).await {
                Ok(url) => url,
                Err(err) => {
                    links.remember(&err);
                    return Err(AppError::WeChat(err));
                }
            }
        }
    };
    links.made.insert(scene.clone(), url.clone()).await;
    Ok(OpenLinkAnswer { url })
}
