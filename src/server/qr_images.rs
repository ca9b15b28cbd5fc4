//! The QR images (mini-program codes), one per scene: fetched from WeChat once, and kept
//! as bytes (not base64) while the scene lives, in a cache bounded in bytes
//! (`SCANLOGIN_CODE_CACHE_BYTES`). Concurrent asks for one scene make one WeChat call and
//! share its image; a page that asks again for its scene (ours does not, but any client
//! may, as often as its rate allows) is served the kept image, so asking again costs
//! WeChat nothing.
//!
//! The bound is small on purpose (4 MiB by default, about 160 of WeChat's 25 KiB JPEGs):
//! an image kept for every waiting login would cost each of them 10 to 30 KiB, several
//! times what the rest of a waiting login holds (docs/benchmarks.md). The cache admits and
//! keeps by frequency (moka's TinyLFU): the images asked for again stay, the many asked
//! for once make way. An image dropped and asked for again is fetched again, and that
//! call is charged to the app-wide budget like any other (`qr_image.rs`). With several
//! instances each keeps its own: a repeat on another instance costs one more WeChat call,
//! charged the same way.

use std::{sync::Arc, time::Duration};

use moka::future::Cache;

use super::wechat::{WeChatError, WxaCode};
use crate::protocol::SceneId;

#[derive(Clone)]
pub struct QrImages {
    cache: Cache<SceneId, WxaCode>,
    max_bytes: u64,
}

impl std::fmt::Debug for QrImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrImages")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

/// What an image costs the cache: its bytes, its key and the entry around them.
fn weight(id: &SceneId, code: &WxaCode) -> u32 {
    u32::try_from(code.bytes.len() + id.as_str().len() + 64).unwrap_or(u32::MAX)
}

impl QrImages {
    pub fn new(max_bytes: u64, scene_ttl: Duration) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|id: &SceneId, code: &WxaCode| weight(id, code))
                .time_to_live(scene_ttl)
                .build(),
            max_bytes,
        }
    }

    /// The scene's image, if it is kept.
    pub async fn kept(&self, scene: &SceneId) -> Option<WxaCode> {
        self.cache.get(scene).await
    }

    /// The scene's image: kept, or fetched by `fetch` (once, however many ask at once).
    pub async fn get_or_fetch<F>(&self, scene: &SceneId, fetch: F) -> Result<WxaCode, WeChatError>
    where
        F: std::future::Future<Output = Result<WxaCode, WeChatError>>,
    {
        let image = self
            .cache
            .try_get_with(scene.clone(), fetch)
            .await
            .map_err(|err: Arc<WeChatError>| (*err).clone())?;
        if u64::from(weight(scene, &image)) > self.max_bytes {
            // Larger than the whole cache: never kept (the cache would only drop it later).
            self.cache.invalidate(scene).await;
        }
        Ok(image)
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
