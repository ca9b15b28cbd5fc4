//! Following a Redis pub/sub channel for as long as its follower lives: subscribing, and
//! again with backoff whenever the subscription drops. Messages published while it was
//! down are lost, so the follower is told after each subscription to catch up on what it
//! may have missed. The scene registry's events and the session cache's forgettings both
//! follow a channel this way.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use futures::StreamExt;

/// What follows a channel.
#[async_trait::async_trait]
pub trait Follower: Send + Sync + 'static {
    /// Subscribed (again): whatever was published before is unknown.
    async fn caught_up(&self);
    /// A message on the channel.
    fn heard(&self, payload: &str);
}

/// Follows `channel` until `follower` is dropped. `what` names it in the log.
pub async fn follow<F: Follower>(
    follower: Weak<F>,
    client: redis::Client,
    channel: String,
    what: &'static str,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        }
        .await;
        match connected {
            Ok(pubsub) => {
                let Some(f) = follower.upgrade() else { return };
                f.caught_up().await;
                drop(f);
                backoff = Duration::from_millis(100);
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    let Some(f) = follower.upgrade() else { return };
                    if let Ok(payload) = message.get_payload::<String>() {
                        f.heard(&payload);
                    }
                }
                tracing::warn!("Redis {what} subscription lost; reconnecting");
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot subscribe to Redis {what}; retrying");
            }
        }
        if follower.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Starts following `channel` on a task of its own.
pub fn spawn<F: Follower>(
    follower: &Arc<F>,
    client: redis::Client,
    channel: String,
    what: &'static str,
) {
    tokio::spawn(follow(Arc::downgrade(follower), client, channel, what));
}
