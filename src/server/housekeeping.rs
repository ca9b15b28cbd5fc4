//! Housekeeping that no concept owns by itself, in one task beside the server: metrics of
//! open sockets, purges of what has expired, and memory handed back to the system.
//! (Scenes expire in their registry, which owns its own purge.)

use std::time::Duration;

use super::context::AppState;

/// Every 5 s: report open sockets, drop QR images whose time is up and give freed memory
/// back to the system; every minute, forget idle rate-limit keys; hourly, delete expired
/// OpenID authorization codes, tokens and retired keys, expired sessions, unused
/// avatars and audit entries past their retention.
pub async fn sweep(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        super::metrics::sockets_open(
            state
                .open_sockets
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        state.qr_images.drop_expired().await;
        release_free_memory();
        ticks += 1;
        if ticks.is_multiple_of(12) {
            state.limits.shrink();
        }
        if ticks.is_multiple_of(720) {
            if let Err(err) = super::oidc::grants::purge_expired(&state.store).await {
                tracing::warn!(%err, "purging expired OpenID codes and tokens failed");
            }
            if let Some(provider) = &state.config.oidc {
                let ttl = provider.id_token_ttl;
                if let Err(err) = super::oidc::keys::purge_retired(&state.store, ttl).await {
                    tracing::warn!(%err, "purging retired OpenID keys failed");
                }
            }
            super::audit::purge(&state).await;
            if let Err(err) = state.store.purge_expired_sessions().await {
                tracing::warn!(%err, "purging expired sessions failed");
            }
            if let Err(err) = state
                .store
                .purge_unused_avatars(super::avatar::UNUSED_KEPT_FOR)
                .await
            {
                tracing::warn!(%err, "purging unused avatars failed");
            }
        }
    }
}
/// glibc's allocator keeps the memory of a burst (thousands of logins opening at once,
/// each with request buffers and, in demo mode, a QR image being drawn) after it is freed,
/// in the middle of its heaps where it cannot shrink them. `malloc_trim` hands those free
/// pages back, so a server's memory follows its waiting logins, not its worst second.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory that is free; it has no other effect.
    unsafe {
        libc::malloc_trim(0);
    }
}
