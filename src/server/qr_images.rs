//! The QR images (mini-program codes), one per scene: fetched from WeChat once, kept as
//! bytes (not base64) only as long as they are useful, in a cache bounded in bytes
//! (`SCANLOGIN_CODE_CACHE_BYTES`). A page asks for its QR image once: concurrent asks for
//! one scene make one WeChat call and share its image, which goes as soon as it has been
//! served (the QR image endpoint forgets it; [`KEEP_FOR`] bounds it otherwise). Kept longer, images
//! would cost every waiting login 10 to 30 KiB (WeChat's JPEGs), and even once freed they
//! pin the allocator's pages among the scenes' long-lived memory (docs/benchmarks.md measured
//! 7.8 KiB per waiting login with images kept 15 s, 4.9 KiB with images dropped once
//! served). The price: a page that asks again for the same scene later costs one more
//! WeChat call; ours never does. With several instances each keeps its own: a repeat on another instance costs one
//! more WeChat call, which is rare and cheaper than shipping images through Redis.

use std::{sync::Arc, time::Duration};

use moka::future::Cache;

use super::wechat::{WeChatError, WxaCode};
use crate::protocol::SceneId;

/// How long an image is kept after it was fetched.
pub const KEEP_FOR: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub struct QrImages {
    cache: Cache<SceneId, WxaCode>,
}

impl std::fmt::Debug for QrImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrImages")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl QrImages {
    pub fn new(max_bytes: u64, scene_ttl: Duration) -> Self {
        let keep_for = KEEP_FOR.min(scene_ttl);
        Self {
            cache: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|id: &SceneId, code: &WxaCode| {
                    u32::try_from(code.bytes.len() + id.as_str().len() + 64).unwrap_or(u32::MAX)
                })
                .time_to_live(keep_for)
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

    /// Drops the images whose time is up (the cache does so lazily, on its next use; a
    /// quiet server would keep them).
    pub async fn drop_expired(&self) {
        self.cache.run_pending_tasks().await;
    }

    /// The scene's login ended: its image is of no more use.
    pub async fn forget(&self, scene: &SceneId) {
        self.cache.invalidate(scene).await;
    }
}
