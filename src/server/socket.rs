//! `GET /websocket?clientid=<scene>`: the login page's socket.
//!
//! A plain axum route rather than Leptos's server-function WebSocket protocol: that
//! protocol cannot set tungstenite's buffer sizes (128 KiB read buffer per socket by
//! default), nor send a close code. Here each socket reads in 256-byte chunks (a hello is
//! about 60 bytes), writes at once,
//! and reads messages of at most `SCANLOGIN_WS_MAX_MESSAGE_BYTES` (1 KiB).
//!
//! The socket must first prove the scene's browser key (`{"type":"hello","key":K}`)
//! within `SCANLOGIN_WS_HELLO_TIMEOUT_SECS` (5 s); otherwise, or with a wrong key, it
//! is closed with 4401 and receives nothing. Then it gets the scene's current state at
//! once and every change after, and the server closes it after a final event. An unknown
//! scene gets the same 4401 as a wrong key, after the hello, so a page can tell "get a
//! fresh code" (4401) from "server unreachable" (no socket at all).
//!
//! Sockets that have not said hello yet cost a descriptor and prove nothing: each client
//! may hold at most `SCANLOGIN_MAX_PENDING_SOCKETS_PER_CLIENT` (16) of them; past that the
//! upgrade is refused with 429.

use std::{net::SocketAddr, sync::Arc};

use super::registry::Registry;

use axum::{
    extract::{
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
        ConnectInfo, Query, State,
    },
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    client::{ClientKey, HeldPerClient, Ipv6Networks},
    context::AppState,
    context::Client,
    error::{error_response, AppError},
    guard,
};
use crate::protocol::{ClientMessage, PushEvent, SceneId, CLOSE_UNAUTHORIZED};

/// Close code: the scene has as many sockets as it may.
const CLOSE_TOO_MANY: u16 = 4429;
/// Close code (RFC 6455 "try again later"): the registry could not be reached.
const CLOSE_TRY_AGAIN: u16 = 1013;
/// Close code (RFC 6455 "service restart"): the server is shutting down; reconnect.
const CLOSE_RESTART: u16 = 1012;

/// A socket counted among the open ones until it ends.
struct Open(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Open {
    fn new(count: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Self(count.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

#[derive(Deserialize)]
pub struct SocketQuery {
    clientid: Option<String>,
}

/// Sockets per client (and per wider IPv6 network) that have not said hello yet.
#[derive(Debug)]
pub struct PendingSockets(HeldPerClient);

/// One socket's place among its client's pending sockets, given back after the hello.
pub struct Pending {
    sockets: Arc<PendingSockets>,
    client: ClientKey,
}

impl PendingSockets {
    pub fn new(max_per_client: usize, networks: Ipv6Networks) -> Self {
        Self(HeldPerClient::new(max_per_client, networks))
    }

    fn admit(self: &Arc<Self>, client: ClientKey) -> Result<Pending, AppError> {
        if !self.0.take(client) {
            return Err(AppError::TooManyPendingSockets);
        }
        Ok(Pending {
            sockets: self.clone(),
            client,
        })
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.sockets.0.give_back(self.client);
    }
}

/// Where the login socket is served.
pub const PATH: &str = "/websocket";

/// `GET /websocket?clientid=<scene>`: a plain axum handler, since a server function
/// cannot upgrade a connection.
pub async fn handler(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    Query(query): Query<SocketQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !guard::origin_allowed(&state, &headers) {
        return error_response(PATH, StatusCode::FORBIDDEN, "cross-origin socket refused");
    }
    let Some(scene) = query.clientid.and_then(|s| s.parse::<SceneId>().ok()) else {
        return error_response(PATH, StatusCode::BAD_REQUEST, SceneId::RULE);
    };
    let client = Client::resolve(&state, &headers, peer.ip());
    let pending = match state.pending_sockets.admit(client.key) {
        Ok(pending) => pending,
        Err(err) => return err.into_response(),
    };
    // Counted from here, not from when the socket's task starts: a shutdown waits for the
    // open sockets, and one upgraded in between would otherwise be counted nowhere and cut
    // off without its 1012.
    let open = Open::new(&state.open_sockets);
    // A hello is about 50 bytes: the limit (default 1 KiB) leaves room and no more.
    let max_message = state.config.limits.ws_max_message_bytes;
    // Most sockets wait minutes for one event: small buffers are most of what a waiting
    // login costs (tungstenite reads 128 KiB at a time by default). Writes go out at once.
    ws.read_buffer_size(256)
        .write_buffer_size(0)
        .max_write_buffer_size(16 * 1024)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| {
            let context = Context {
                registry: state.registry.clone(),
                shutting_down: state.shutting_down.clone(),
                hello_timeout: state.config.limits.ws_hello_timeout,
            };
            serve(socket, context, scene, pending, open)
        })
}

/// Sends a close frame. Boxed where it is awaited: it runs once per socket, and inline it
/// would make every waiting socket's task as large as its largest step.
async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// The first text message, within `timeout`.
async fn first_text(socket: &mut WebSocket, timeout: std::time::Duration) -> Option<String> {
    let read = async {
        while let Some(Ok(message)) = socket.recv().await {
            match message {
                Message::Text(text) => return Some(text.to_string()),
                Message::Ping(_) | Message::Pong(_) => continue,
                _ => return None,
            }
        }
        None
    };
    tokio::time::timeout(timeout, read).await.ok().flatten()
}

/// What a socket's task keeps: a waiting login holds this for minutes, so only what it
/// needs (not the whole `AppState`).
struct Context {
    registry: Arc<Registry>,
    shutting_down: tokio::sync::watch::Receiver<bool>,
    hello_timeout: std::time::Duration,
}

/// How a socket ends.
enum End {
    Close(u16, &'static str),
    Gone,
}

/// Serves one login socket; it counts among the open ones (`_open`) until this returns.
async fn serve(
    mut socket: WebSocket,
    context: Context,
    scene: SceneId,
    pending: Pending,
    _open: Open,
) {
    let end = watch_scene(&mut socket, context, scene, pending).await;
    if let End::Close(code, reason) = end {
        Box::pin(close(&mut socket, code, reason)).await;
    }
}

async fn watch_scene(
    socket: &mut WebSocket,
    context: Context,
    scene: SceneId,
    pending: Pending,
) -> End {
    let mut shutting_down = context.shutting_down;
    if *shutting_down.borrow_and_update() {
        return End::Close(CLOSE_RESTART, "service restart");
    }
    // A shutdown does not wait for a hello that is slow to come (or to be read, on a
    // loaded server): the page hears 1012 at once, not 4401 once the hello times out.
    let hello = tokio::select! {
        hello = Box::pin(first_text(socket, context.hello_timeout)) => hello,
        _ = shutting_down.changed() => return End::Close(CLOSE_RESTART, "service restart"),
    };
    drop(pending);
    let Some(Ok(ClientMessage::Hello { key })) =
        hello.map(|text| serde_json::from_str::<ClientMessage>(&text))
    else {
        return End::Close(CLOSE_UNAUTHORIZED, "hello expected");
    };
    let mut events = match context.registry.subscribe(&scene, &key).await {
        Ok(subscription) => subscription.events,
        // An unknown scene and a wrong key get the same answer.
        Err(AppError::SceneNotFound) => return End::Close(CLOSE_UNAUTHORIZED, "unauthorized"),
        // A few at once is a browser reconnecting; more is not.
        Err(AppError::TooManySockets) => {
            return End::Close(CLOSE_TOO_MANY, "too many sockets on this scene")
        }
        // The store is away for a moment: the page reconnects with backoff.
        Err(_) => return End::Close(CLOSE_TRY_AGAIN, "try again later"),
    };
    drop(context.registry);

    let mut latest = events.borrow_and_update().clone();
    loop {
        if let Some(event) = latest.take() {
            let text = serde_json::to_string(&event).expect("events serialize");
            if Box::pin(socket.send(Message::Text(text.into())))
                .await
                .is_err()
            {
                return End::Gone;
            }
            if event.is_final() {
                return End::Close(1000, final_reason(&event));
            }
        }
        tokio::select! {
            _ = shutting_down.changed() => return End::Close(CLOSE_RESTART, "service restart"),
            changed = events.changed() => {
                if changed.is_err() {
                    // The scene is gone (forgotten after it ended).
                    return End::Close(1000, "scene ended");
                }
                latest = events.borrow_and_update().clone();
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return End::Gone,
                Some(Ok(_)) => {}
            },
        }
    }
}

fn final_reason(event: &PushEvent) -> &'static str {
    match event {
        PushEvent::Confirmed { .. } => "confirmed",
        PushEvent::Cancelled => "cancelled",
        PushEvent::Refused { .. } => "refused",
        PushEvent::Expired => "expired",
        PushEvent::Scanned => "",
    }
}
