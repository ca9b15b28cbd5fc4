//! The push hub: for each scene, the latest event, watched by that scene's sockets.
//!
//! A `watch` channel keeps only the newest value, which is all a login page needs:
//! events only move forward (scanned, then confirmed or cancelled or expired), and a
//! socket that connects late, or reconnects, gets the current state at once.

use dashmap::DashMap;
use tokio::sync::watch;

use crate::protocol::PushEvent;

#[derive(Debug, Default)]
pub struct Hub {
    channels: DashMap<String, watch::Sender<Option<PushEvent>>>,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes a channel for a new scene.
    pub fn open(&self, scene: &str) {
        self.channels
            .entry(scene.to_owned())
            .or_insert_with(|| watch::channel(None).0);
    }

    /// Sends `event` to every socket of `scene`, now and to come.
    pub fn publish(&self, scene: &str, event: PushEvent) {
        if let Some(tx) = self.channels.get(scene) {
            tx.send_replace(Some(event));
        }
    }

    pub fn subscribe(&self, scene: &str) -> Option<watch::Receiver<Option<PushEvent>>> {
        self.channels.get(scene).map(|tx| tx.subscribe())
    }

    /// Sockets watching `scene` now.
    pub fn sockets(&self, scene: &str) -> usize {
        self.channels.get(scene).map_or(0, |tx| tx.receiver_count())
    }

    /// Drops the scene's channel; its sockets see the channel close and end.
    pub fn close(&self, scene: &str) {
        self.channels.remove(scene);
    }

    pub fn len(&self) -> usize {
        self.channels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn late_subscribers_get_the_latest_event() {
        let hub = Hub::new();
        hub.open("s");
        hub.publish("s", PushEvent::Scanned);
        let mut rx = hub.subscribe("s").unwrap();
        assert_eq!(*rx.borrow_and_update(), Some(PushEvent::Scanned));
        hub.publish("s", PushEvent::Cancelled);
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), Some(PushEvent::Cancelled));
        assert_eq!(hub.sockets("s"), 1);
        hub.close("s");
        assert!(rx.changed().await.is_err(), "closed");
        assert!(hub.subscribe("s").is_none());
    }

    #[test]
    fn publishing_to_an_unknown_scene_does_nothing() {
        let hub = Hub::new();
        hub.publish("nope", PushEvent::Scanned);
        assert!(hub.is_empty());
    }
}
