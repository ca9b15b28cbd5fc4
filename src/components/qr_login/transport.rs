//! How the page hears its scene: a socket that proves the scene's key and then hears each
//! event, reconnecting with backoff and catching up over plain HTTP after every gap; or,
//! where sockets keep failing while plain HTTP answers (a proxy that blocks WebSockets),
//! long polling `/api/scene/status`.

use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;

use super::{
    flow::{now_ms, on_event, on_expired},
    policy::{Backoff, CONNECTED_MS},
    Current, Flow, Phase, Transport,
};
use crate::{
    api::{scene_status, ApiError},
    protocol::{ClientMessage, KnownState, PushEvent, SceneId, CLOSE_UNAUTHORIZED},
};

fn socket_url(scene: &SceneId) -> String {
    let location = window().location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_default();
    format!("{scheme}://{host}/websocket?clientid={scene}")
}

fn known(flow: Flow) -> KnownState {
    match flow.phase.get_untracked() {
        Phase::Scanned => KnownState::Scanned,
        _ => KnownState::Waiting,
    }
}

/// Asks the scene's status over plain HTTP (waiting for news with `wait`) and acts on it
/// as on a pushed event; records whether the server answered. `Err` when it did not.
pub(super) async fn catch_up(
    flow: Flow,
    generation: u64,
    current: &Current,
    wait: bool,
) -> Result<(), ApiError> {
    let answer = scene_status(
        current.scene.clone(),
        current.key.clone(),
        known(flow),
        wait,
    )
    .await;
    if flow.generation() != generation {
        return Ok(());
    }
    match answer {
        Ok(status) => {
            flow.reach(|r| r.answered());
            if let Some(event) = status.event {
                if !known(flow).is(Some(&event)) {
                    on_event(flow, generation, event, current);
                }
            }
            Ok(())
        }
        // The server does not know the scene (any more): as a socket's 4401.
        Err(err) if err.status == 404 => {
            flow.reach(|r| r.answered());
            on_expired(flow, generation);
            Ok(())
        }
        // No answer, or refused for now (429, 503): the caller backs off.
        Err(err) => {
            flow.reach(|r| r.failed());
            Err(err)
        }
    }
}

/// How one socket ended.
struct Session {
    /// It said something: a connection, not a failed attempt.
    heard: bool,
    /// The scene is gone (4401): the page has moved on to a fresh QR image.
    scene_gone: bool,
}

/// One socket on the scene, from its hello until it closes.
async fn one_socket(flow: Flow, generation: u64, current: &Current, hello: &str) -> Session {
    let mut session = Session {
        heard: false,
        scene_gone: false,
    };
    let Ok(socket) = WebSocket::open(&socket_url(&current.scene)) else {
        return session;
    };
    let (mut sink, mut stream) = socket.split();
    // gloo's send waits for the socket to open, and never wakes when it closes first
    // without an error (a refused upgrade can do that), nor while a proxy holds the
    // upgrade unanswered: the first thing the stream says, or CONNECTED_MS, ends the
    // wait too.
    let sent = {
        let hello = sink.send(Message::Text(hello.to_owned()));
        let first = stream.next();
        let timeout = TimeoutFuture::new(CONNECTED_MS);
        futures::pin_mut!(hello, first);
        match futures::future::select(hello, futures::future::select(first, timeout)).await {
            futures::future::Either::Left((sent, _)) => sent.is_ok(),
            futures::future::Either::Right(_) => false,
        }
    };
    if !sent {
        return session;
    }
    while let Some(message) = stream.next().await {
        if flow.generation() != generation {
            return session;
        }
        match message {
            Ok(Message::Text(text)) => {
                if let Ok(event) = serde_json::from_str::<PushEvent>(&text) {
                    session.heard = true;
                    flow.reach(|r| r.answered());
                    on_event(flow, generation, event, current);
                }
            }
            Ok(Message::Bytes(_)) => {}
            Err(WebSocketError::ConnectionClose(close)) if close.code == CLOSE_UNAUTHORIZED => {
                // The server does not know this scene (any more): it ended while the
                // socket was away, or the server lost it in a restart. A fresh QR image,
                // as on expiry.
                on_expired(flow, generation);
                session.scene_gone = true;
                return session;
            }
            Err(_) => break,
        }
    }
    session
}

/// Keeps a socket open on the scene until it ends, reconnecting with backoff; a new
/// socket gets the scene's current state first, so nothing is missed. Where sockets keep
/// failing but plain HTTP answers, it long-polls instead.
pub(super) async fn watch(flow: Flow, generation: u64, current: Current) {
    if flow.transport.get_untracked() == Transport::Poll {
        return poll(flow, generation, current).await;
    }
    let hello = serde_json::to_string(&ClientMessage::Hello {
        key: current.key.clone(),
    })
    .expect("hello serializes");
    let mut backoff = Backoff::reconnect();
    flow.reach(|r| r.new_scene());
    while flow.is_live(generation) {
        let opened_at = now_ms();
        let session = one_socket(flow, generation, &current, &hello).await;
        if session.scene_gone || !flow.is_live(generation) {
            return;
        }
        let connected = session.heard || now_ms() - opened_at >= f64::from(CONNECTED_MS);
        if connected {
            flow.reach(|r| r.connected());
            backoff.reset();
        }
        // Whatever happened while the socket was away, at once, over plain HTTP; and
        // whether the server answers at all.
        if catch_up(flow, generation, &current, false).await.is_ok()
            && !connected
            && flow.reach(|r| r.socket_failed())
        {
            flow.transport.set(Transport::Poll);
            return poll(flow, generation, current).await;
        }
        if !flow.is_live(generation) {
            return;
        }
        TimeoutFuture::new(backoff.next_wait()).await;
    }
}

/// Long polling: each request waits on the server for news newer than what the page
/// shows, then the next one starts; the same catch-up as a socket's.
async fn poll(flow: Flow, generation: u64, current: Current) {
    let mut backoff = Backoff::reconnect();
    while flow.is_live(generation) {
        match catch_up(flow, generation, &current, true).await {
            Ok(()) => backoff.reset(),
            Err(_) => TimeoutFuture::new(backoff.next_wait()).await,
        }
    }
}
