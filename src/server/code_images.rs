//! The mini-program code images, one per scene: fetched from WeChat once, kept as bytes
//! (not base64) for as long as their scene can be scanned, in a cache bounded in bytes
//! (`SCANLOGIN_CODE_CACHE_BYTES`). A page asks for its code once; a repeat (a reload of
//! the same scene) is served from here, and concurrent asks for one scene make one WeChat
//! call. With several instances each keeps its own: a repeat on another instance costs one
//! more WeChat call, which is rare and cheaper than shipping images through Redis.

use std::{sync::Arc, time::Duration};

use moka::future::Cache;

use super::wechat::{WeChatError, WxaCode};
use crate::protocol::SceneId;

#[derive(Clone)]
pub struct CodeImages {
    cache: Cache<SceneId, WxaCode>,
}

impl std::fmt::Debug for CodeImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeImages")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl CodeImages {
    pub fn new(max_bytes: u64, scene_ttl: Duration) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|id: &SceneId, code: &WxaCode| {
                    u32::try_from(code.bytes.len() + id.as_str().len() + 64).unwrap_or(u32::MAX)
                })
                .time_to_live(scene_ttl)
                .build(),
        }
    }

    /// The scene's image: cached, or fetched by `fetch` (once, however many ask at once).
    pub async fn get_or_fetch<F>(&self, scene: &SceneId, fetch: F) -> Result<WxaCode, WeChatError>
    where
        F: std::future::Future<Output = Result<WxaCode, WeChatError>>,
    {
        self.cache
            .try_get_with(scene.clone(), fetch)
            .await
            .map_err(|err: Arc<WeChatError>| (*err).clone())
    }

    /// The scene's login ended: its image is of no more use.
    pub async fn forget(&self, scene: &SceneId) {
        self.cache.invalidate(scene).await;
    }
}
