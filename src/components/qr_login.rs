//! The QR login component: makes a scene and a browser key, gets the scene's code, opens
//! the scene's socket, and turns the pushed events into a session.
//!
//! Its state is on `[data-testid="qr-login"]`: `data-state` (`loading`, `waiting`,
//! `scanned`, `confirmed`, `cancelled`, `expired`, `error`), `data-scene`, and
//! `data-auto-refresh`: whether an ended code is replaced by itself (`on`), waits for the
//! tab to be visible again (`hidden`), or waits for the person (`exhausted`);
//! `data-connection` (`ok`, `unreachable`) and `data-transport` (`socket`, or `poll` where
//! sockets fail but plain HTTP works: long polling `/api/scene/status`).
//!
//! Each state has its words and next step in an `aria-live` region; on a phone the
//! component offers "Open in WeChat" (a link WeChat made for the scene), and in WeChat's
//! own browser it shows the code larger with the long-press hint.
//!
//! Every new code costs one of WeChat's (a quota for the whole site), so the component
//! gets one by itself only while the page is visible, and at most
//! `SCANLOGIN_AUTO_REFRESHES` times in a row with nobody touching it; then it asks. A tab
//! that comes back into view gets a fresh code at once.
//! Everything that touches the browser (crypto, sockets, timers) runs only after
//! hydration, in the `browser` module.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::i18n::{Locale, Strings};

/// Where the page is shown, as the server tells from the user agent
/// (`server::code::device_of`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Device {
    /// A code on this screen is scanned with a phone.
    #[default]
    Computer,
    /// The phone itself: it cannot scan its own screen, so the page offers "Open in
    /// WeChat", a link WeChat made for this scene.
    Phone,
    /// WeChat's own browser, where links do not open mini programs but a long press on
    /// the code does: the code is shown larger, with that hint.
    WeChat,
}

/// What the component shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Loading,
    Waiting,
    Scanned,
    Confirmed,
    Cancelled,
    Expired,
    Error,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Loading => "loading",
            Phase::Waiting => "waiting",
            Phase::Scanned => "scanned",
            Phase::Confirmed => "confirmed",
            Phase::Cancelled => "cancelled",
            Phase::Expired => "expired",
            Phase::Error => "error",
        }
    }

    /// Nothing more will happen to this scene.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Phase::Confirmed | Phase::Cancelled | Phase::Expired | Phase::Error
        )
    }

    fn message(self, t: &Strings) -> &'static str {
        match self {
            Phase::Loading => t.state_loading,
            Phase::Waiting => t.state_waiting,
            Phase::Scanned => t.state_scanned,
            Phase::Confirmed => t.state_confirmed,
            Phase::Cancelled => t.state_cancelled,
            Phase::Expired => t.state_expired,
            Phase::Error => t.state_error,
        }
    }

    /// What the person can do next, in this state.
    fn next_step(self, t: &Strings) -> &'static str {
        match self {
            Phase::Waiting => t.next_waiting,
            Phase::Scanned => t.next_scanned,
            Phase::Cancelled => t.next_cancelled,
            Phase::Expired => t.next_expired,
            Phase::Loading | Phase::Confirmed | Phase::Error => "",
        }
    }
}

/// "Open in WeChat" on a phone: the link for this scene, once WeChat made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenLinkState {
    None,
    Ready(String),
    /// WeChat would not make one (its quota, or a mini program not allowed links): the
    /// page says so and keeps the code.
    Refused,
}

/// How the component hears its scene: a socket, or long polling where sockets fail
/// but plain HTTP works (a proxy that blocks WebSockets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Socket,
    Poll,
}

/// The component's signals; `Copy`, so closures and tasks share them freely.
#[derive(Clone, Copy)]
pub struct Flow {
    pub phase: RwSignal<Phase>,
    pub scene: RwSignal<String>,
    pub image: RwSignal<String>,
    /// Why the last call failed, in the page's words (empty: it did not).
    pub detail: RwSignal<&'static str>,
    /// When the code expires, and now (ms since the epoch), for the countdown.
    pub expires_at: RwSignal<f64>,
    pub now: RwSignal<f64>,
    /// `on`, `hidden` or `exhausted` (see the module's documentation).
    pub auto_refresh: RwSignal<&'static str>,
    /// The server has not answered for a while (`data-connection="unreachable"`); the
    /// component keeps trying, backing off.
    pub unreachable: RwSignal<bool>,
    pub transport: RwSignal<Transport>,
    pub open_link: RwSignal<OpenLinkState>,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    device: Device,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    t: &'static Strings,
    /// Where to go once logged in.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    next: StoredValue<String>,
    /// The next wait before asking for a code again after the server did not answer.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    retry_ms: StoredValue<u32>,
    /// Codes got by themselves since the person last did something, and how many may be.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    auto_used: StoredValue<u32>,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    auto_max: StoredValue<u32>,
    /// Bumped for every new scene: work for an older scene stops.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    generation: StoredValue<u64>,
    /// The current scene and its key, for a catch-up when the page is seen again.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    watched: StoredValue<Option<(crate::protocol::SceneId, crate::protocol::BrowserKey)>>,
}

impl Flow {
    fn new(device: Device, t: &'static Strings, next: String) -> Self {
        Self {
            phase: RwSignal::new(Phase::Loading),
            scene: RwSignal::new(String::new()),
            image: RwSignal::new(String::new()),
            detail: RwSignal::new(""),
            expires_at: RwSignal::new(0.0),
            now: RwSignal::new(0.0),
            auto_refresh: RwSignal::new("on"),
            unreachable: RwSignal::new(false),
            transport: RwSignal::new(Transport::Socket),
            open_link: RwSignal::new(OpenLinkState::None),
            device,
            t,
            next: StoredValue::new(next),
            retry_ms: StoredValue::new(0),
            auto_used: StoredValue::new(0),
            auto_max: StoredValue::new(crate::protocol::DEFAULT_AUTO_REFRESHES),
            generation: StoredValue::new(0),
            watched: StoredValue::new(None),
        }
    }

    fn seconds_left(&self) -> u64 {
        ((self.expires_at.get() - self.now.get()) / 1000.0)
            .max(0.0)
            .ceil() as u64
    }
}

/// An island: the only part of the login page that runs in the browser. `locale`,
/// `device` and `next` (where to go once logged in, checked by the server) come from the
/// server's render.
#[island]
pub fn QrLogin(locale: Locale, device: Device, next: String) -> impl IntoView {
    let t: &'static Strings = locale.strings();
    let flow = Flow::new(device, t, next);
    // Effects run only in the browser, once hydrated.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        browser::start(flow);
    });

    let refresh = move |_| {
        #[cfg(feature = "hydrate")]
        browser::refresh_by_hand(flow);
    };
    // The server was away: ask about the same scene now (the phone may be confirming it).
    let retry = move |_| {
        #[cfg(feature = "hydrate")]
        browser::retry_now(flow);
    };
    let phase = move || flow.phase.get();
    let countdown = move || match phase() {
        Phase::Waiting | Phase::Scanned => (t.expires_in)(flow.seconds_left()),
        _ => String::new(),
    };
    // The live region's words: the state, then what to do (or what went wrong).
    let next_step = move || {
        let detail = flow.detail.get();
        if !detail.is_empty() {
            detail
        } else if flow.auto_refresh.get() == "exhausted" {
            t.next_exhausted
        } else {
            phase().next_step(t)
        }
    };
    let can_refresh = move || phase().is_final() && phase() != Phase::Confirmed;

    view! {
        <div
            class="qr-login"
            class:in-wechat=device == Device::WeChat
            data-testid="qr-login"
            data-state=move || phase().name()
            data-scene=move || flow.scene.get()
            data-auto-refresh=move || flow.auto_refresh.get()
            data-connection=move || if flow.unreachable.get() { "unreachable" } else { "ok" }
            data-transport=move || match flow.transport.get() {
                Transport::Socket => "socket",
                Transport::Poll => "poll",
            }
        >
            <div class="qr-frame" class:faded=move || phase() != Phase::Waiting>
                <Show
                    when=move || !flow.image.get().is_empty()
                    fallback=|| view! { <div class="qr-empty" aria-hidden="true">"…"</div> }
                >
                    <img
                        data-testid="qr-image"
                        src=move || flow.image.get()
                        alt=t.code_alt
                        width="200"
                        height="200"
                    />
                </Show>
            </div>
            <div class="qr-status" role="status" aria-live="polite" aria-atomic="true">
                <p class="qr-message" data-testid="qr-message">{move || phase().message(t)}</p>
                <p class="qr-detail" data-testid="qr-detail">{next_step}</p>
                <Show when=move || flow.unreachable.get() && phase() != Phase::Error>
                    <p class="qr-unreachable" data-testid="qr-unreachable">{t.unreachable}</p>
                </Show>
            </div>
            <p class="qr-countdown" data-testid="qr-countdown">{countdown}</p>
            <Show when=move || flow.unreachable.get() && matches!(phase(), Phase::Waiting | Phase::Scanned)>
                <button class="secondary" data-testid="qr-retry" on:click=retry>
                    {t.retry_now}
                </button>
            </Show>
            <Show when=can_refresh>
                <button class="qr-refresh" data-testid="qr-refresh" on:click=refresh>
                    {t.new_code}
                </button>
            </Show>
            {(device == Device::WeChat)
                .then(|| view! { <p class="qr-wechat-hint" data-testid="qr-wechat-hint">{t.in_wechat_hint}</p> })}
            <Show when=move || device == Device::Phone && matches!(phase(), Phase::Waiting | Phase::Scanned)>
                {move || match flow.open_link.get() {
                    OpenLinkState::None => ().into_any(),
                    OpenLinkState::Ready(url) => view! {
                        <p class="qr-phone-hint">{t.open_in_wechat_hint}</p>
                        <a
                            class="button"
                            data-testid="qr-open-wechat"
                            href=url
                            target="_blank"
                            rel="noopener"
                        >
                            {t.open_in_wechat}
                        </a>
                    }
                    .into_any(),
                    OpenLinkState::Refused => view! {
                        <p class="qr-link-refused" data-testid="qr-link-refused">{t.link_refused}</p>
                    }
                    .into_any(),
                }}
            </Show>
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    //! The component's browser side.

    use futures::{SinkExt, StreamExt};
    use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
    use gloo_timers::future::TimeoutFuture;
    use leptos::{prelude::*, task::spawn_local};
    use wasm_bindgen::{closure::Closure, JsCast};

    use super::{Device, Flow, OpenLinkState, Phase, Transport};
    use crate::{
        api::{create_session, get_wxacode, open_link, scene_status, ApiError},
        protocol::{BrowserKey, ClientMessage, KnownState, PushEvent, SceneId, CLOSE_UNAUTHORIZED},
    };

    /// After `expired`, a new code appears by itself this soon.
    const EXPIRED_REFRESH_MS: u32 = 1500;
    /// After `cancelled`, likewise (the button does it at once).
    const CANCELLED_REFRESH_MS: u32 = 3000;
    const BACKOFF_START_MS: u32 = 500;
    const BACKOFF_MAX_MS: u32 = 10_000;
    /// Asking for a code again when the server did not answer: 1 s, doubling, to 30 s.
    const RETRY_START_MS: u32 = 1_000;
    const RETRY_MAX_MS: u32 = 30_000;
    /// A socket that stayed open this long was a connection, not a failed attempt.
    const CONNECTED_MS: f64 = 5_000.0;
    /// Failed attempts in a row before the page says the server cannot be reached.
    const FAILURES_BEFORE_UNREACHABLE: u32 = 3;
    /// Sockets that failed in a row while plain HTTP answered, before the page long-polls.
    const SOCKET_FAILURES_BEFORE_POLLING: u32 = 2;

    fn now_ms() -> f64 {
        js_sys::Date::now()
    }

    /// Random bytes from `crypto.getRandomValues`, as many as asked for.
    fn random_bytes() -> impl FnMut() -> u8 {
        let crypto = window().crypto().expect("browsers have crypto");
        let mut pool = [0u8; 64];
        let mut used = pool.len();
        move || {
            if used == pool.len() {
                crypto
                    .get_random_values_with_u8_array(&mut pool)
                    .expect("getRandomValues works on 64 bytes");
                used = 0;
            }
            used += 1;
            pool[used - 1]
        }
    }

    fn is_hidden() -> bool {
        document().hidden()
    }

    /// A failed call in the page's words.
    fn words_for(flow: Flow, err: &ApiError) -> &'static str {
        let t = flow.t;
        match err.code {
            0 => t.unreachable,
            429 => t.error_limited,
            503 => t.error_busy,
            502 | 504 => t.error_wechat,
            _ => t.error_other,
        }
    }

    /// The person asked for a new code: the count of codes got by themselves starts over.
    pub fn refresh_by_hand(flow: Flow) {
        flow.auto_used.set_value(0);
        new_scene(flow);
    }

    /// "Try again now" while the server was away: the same scene's status at once.
    pub fn retry_now(flow: Flow) {
        if let Some((scene, key)) = flow.watched.get_value() {
            let generation = current(flow);
            spawn_local(async move {
                if catch_up(flow, generation, &scene, &key, false)
                    .await
                    .is_ok()
                {
                    flow.unreachable.set(false);
                }
            });
        }
    }

    /// A code ended by itself: replace it if the page is seen and the allowance lasts.
    fn refresh_by_itself(flow: Flow) {
        if is_hidden() {
            flow.auto_refresh.set("hidden");
            return;
        }
        if flow.auto_used.get_value() >= flow.auto_max.get_value() {
            flow.auto_refresh.set("exhausted");
            return;
        }
        flow.auto_used.update_value(|n| *n += 1);
        new_scene(flow);
    }

    /// Back in view: a code that ended while nobody looked is replaced at once, and a
    /// waiting one catches up at once (a phone's browser back from WeChat, whose socket
    /// may have been asleep while the person confirmed).
    fn on_visible(flow: Flow) {
        match flow.phase.get_untracked() {
            Phase::Expired | Phase::Cancelled | Phase::Error
                if flow.auto_refresh.get_untracked() != "on" =>
            {
                refresh_by_hand(flow)
            }
            Phase::Waiting | Phase::Scanned => {
                if let Some((scene, key)) = flow.watched.get_value() {
                    let generation = current(flow);
                    spawn_local(async move {
                        let _ = catch_up(flow, generation, &scene, &key, false).await;
                    });
                }
            }
            _ => {}
        }
    }

    pub fn start(flow: Flow) {
        let listener = Closure::<dyn FnMut()>::new(move || {
            if !is_hidden() {
                on_visible(flow);
            }
        });
        let _ = document().add_event_listener_with_callback(
            "visibilitychange",
            listener.as_ref().unchecked_ref(),
        );
        // The page lives as long as the component: the listener stays.
        listener.forget();
        // The countdown's clock; it also notices a code that expired while the socket
        // was away.
        flow.now.set(now_ms());
        let _ = set_interval_with_handle(
            move || {
                let now = now_ms();
                flow.now.set(now);
                let phase = flow.phase.get_untracked();
                let overdue = now > flow.expires_at.get_untracked() + 3000.0;
                if matches!(phase, Phase::Waiting | Phase::Scanned) && overdue {
                    on_expired(flow, current(flow));
                }
            },
            std::time::Duration::from_secs(1),
        );
        new_scene(flow);
    }

    fn current(flow: Flow) -> u64 {
        flow.generation.get_value()
    }

    fn is_current(flow: Flow, generation: u64) -> bool {
        flow.generation.get_value() == generation
    }

    /// A new scene and key, its code, and its socket. Work for the previous scene stops.
    pub fn new_scene(flow: Flow) {
        flow.generation.update_value(|g| *g += 1);
        let generation = current(flow);
        let scene = SceneId::from_random_bytes(random_bytes());
        let key = BrowserKey::from_random_bytes(random_bytes());
        flow.watched.set_value(Some((scene.clone(), key.clone())));
        flow.scene.set(scene.to_string());
        flow.image.set(String::new());
        flow.auto_refresh.set("on");
        flow.open_link.set(OpenLinkState::None);
        // A retry after a failure keeps saying what failed until an answer comes (the
        // live region is not re-read for every attempt).
        if flow.phase.get_untracked() != Phase::Error {
            flow.detail.set("");
            flow.phase.set(Phase::Loading);
        }
        spawn_local(async move {
            let answer = get_wxacode(scene.clone(), key.clone()).await;
            if !is_current(flow, generation) {
                return;
            }
            match answer {
                Ok(code) => {
                    flow.detail.set("");
                    flow.unreachable.set(false);
                    flow.retry_ms.set_value(0);
                    let now = now_ms();
                    flow.image.set(code.data);
                    flow.auto_max.set_value(code.auto_refreshes);
                    flow.now.set(now);
                    flow.expires_at.set(now + code.expires_in as f64 * 1000.0);
                    flow.phase.set(Phase::Waiting);
                    if flow.device == Device::Phone {
                        ask_for_link(flow, generation, scene.clone(), key.clone());
                    }
                    watch(flow, generation, scene, key).await;
                }
                Err(err) => {
                    flow.detail.set(words_for(flow, &err));
                    flow.phase.set(Phase::Error);
                    // No answer, or the server (or its store) is away: ask again by
                    // itself, backing off, rather than leave a dead page.
                    if err.code == 0 || err.code == 502 || err.code == 503 {
                        flow.unreachable.set(err.code == 0);
                        let wait = flow
                            .retry_ms
                            .get_value()
                            .clamp(RETRY_START_MS, RETRY_MAX_MS);
                        flow.retry_ms.set_value((wait * 2).min(RETRY_MAX_MS));
                        spawn_local(async move {
                            TimeoutFuture::new(wait).await;
                            if !is_current(flow, generation) {
                                return;
                            }
                            // A hidden tab asks again when it is seen (each code costs one
                            // of WeChat's).
                            if is_hidden() {
                                flow.auto_refresh.set("hidden");
                            } else {
                                new_scene(flow);
                            }
                        });
                    }
                }
            }
        });
    }

    /// On a phone: a link WeChat made for this scene, or the word that it would not.
    fn ask_for_link(flow: Flow, generation: u64, scene: SceneId, key: BrowserKey) {
        spawn_local(async move {
            let answer = open_link(scene, key).await;
            if is_current(flow, generation) {
                flow.open_link.set(match answer {
                    Ok(link) => OpenLinkState::Ready(link.url),
                    Err(_) => OpenLinkState::Refused,
                });
            }
        });
    }

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

    /// Asks the scene's status over plain HTTP (waiting for news with `wait`) and acts
    /// on it as on a pushed event. `Err` when the server did not answer.
    async fn catch_up(
        flow: Flow,
        generation: u64,
        scene: &SceneId,
        key: &BrowserKey,
        wait: bool,
    ) -> Result<(), ApiError> {
        let answer = scene_status(scene.clone(), key.clone(), known(flow), wait).await;
        if !is_current(flow, generation) {
            return Ok(());
        }
        match answer {
            Ok(status) => {
                if let Some(event) = status.event {
                    if !known(flow).is(Some(&event)) {
                        on_event(flow, generation, event, scene, key);
                    }
                }
                Ok(())
            }
            // The server does not know the scene (any more): as a socket's 4401.
            Err(err) if err.code == 404 => {
                on_expired(flow, generation);
                Ok(())
            }
            // No answer, or refused for now (429, 503): the caller backs off.
            Err(err) => Err(err),
        }
    }

    /// Keeps a socket open on the scene until it ends, reconnecting with backoff; a
    /// new socket gets the scene's current state first, so nothing is missed. Where
    /// sockets keep failing but plain HTTP answers, it long-polls instead.
    async fn watch(flow: Flow, generation: u64, scene: SceneId, key: BrowserKey) {
        if flow.transport.get_untracked() == Transport::Poll {
            return poll(flow, generation, scene, key).await;
        }
        let hello = serde_json::to_string(&ClientMessage::Hello { key: key.clone() })
            .expect("hello serializes");
        let mut backoff = BACKOFF_START_MS;
        let mut failures = 0u32;
        let mut socket_failures = 0u32;
        loop {
            if !is_current(flow, generation) || flow.phase.get_untracked().is_final() {
                return;
            }
            let opened_at = now_ms();
            let mut heard = false;
            if let Ok(socket) = WebSocket::open(&socket_url(&scene)) {
                let (mut sink, mut stream) = socket.split();
                // gloo's send waits for the socket to open, and never wakes when it
                // closes first without an error (a refused upgrade can do that), nor
                // while a proxy holds the upgrade unanswered: the first thing the stream
                // says, or CONNECTED_MS, ends the wait too.
                let sent = {
                    let hello = sink.send(Message::Text(hello.clone()));
                    let first = stream.next();
                    let timeout = TimeoutFuture::new(CONNECTED_MS as u32);
                    futures::pin_mut!(hello, first);
                    match futures::future::select(hello, futures::future::select(first, timeout))
                        .await
                    {
                        futures::future::Either::Left((sent, _)) => sent.is_ok(),
                        futures::future::Either::Right(_) => false,
                    }
                };
                if sent {
                    while let Some(message) = stream.next().await {
                        if !is_current(flow, generation) {
                            return;
                        }
                        match message {
                            Ok(Message::Text(text)) => {
                                if let Ok(event) = serde_json::from_str::<PushEvent>(&text) {
                                    heard = true;
                                    flow.unreachable.set(false);
                                    on_event(flow, generation, event, &scene, &key);
                                }
                            }
                            Ok(Message::Bytes(_)) => {}
                            Err(WebSocketError::ConnectionClose(close))
                                if close.code == CLOSE_UNAUTHORIZED =>
                            {
                                // The server does not know this scene (any more): it ended
                                // while the socket was away, or the server lost it in a
                                // restart. A fresh code, as on expiry.
                                on_expired(flow, generation);
                                return;
                            }
                            Err(_) => break,
                        }
                    }
                }
            }
            if !is_current(flow, generation) || flow.phase.get_untracked().is_final() {
                return;
            }
            if heard || now_ms() - opened_at >= CONNECTED_MS {
                failures = 0;
                socket_failures = 0;
                backoff = BACKOFF_START_MS;
            }
            // Whatever happened while the socket was away, at once, over plain HTTP;
            // and whether the server answers at all.
            match catch_up(flow, generation, &scene, &key, false).await {
                Ok(()) => {
                    flow.unreachable.set(false);
                    failures = 0;
                    if !heard && now_ms() - opened_at < CONNECTED_MS {
                        socket_failures += 1;
                    }
                    if socket_failures >= SOCKET_FAILURES_BEFORE_POLLING {
                        flow.transport.set(Transport::Poll);
                        return poll(flow, generation, scene, key).await;
                    }
                }
                Err(_) => {
                    failures += 1;
                    flow.unreachable
                        .set(failures >= FAILURES_BEFORE_UNREACHABLE);
                }
            }
            if !is_current(flow, generation) || flow.phase.get_untracked().is_final() {
                return;
            }
            TimeoutFuture::new(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX_MS);
        }
    }

    /// Long polling: each request waits on the server for news newer than what the page
    /// shows, then the next one starts; the same catch-up as a socket's.
    async fn poll(flow: Flow, generation: u64, scene: SceneId, key: BrowserKey) {
        let mut backoff = BACKOFF_START_MS;
        let mut failures = 0u32;
        loop {
            if !is_current(flow, generation) || flow.phase.get_untracked().is_final() {
                return;
            }
            match catch_up(flow, generation, &scene, &key, true).await {
                Ok(()) => {
                    failures = 0;
                    backoff = BACKOFF_START_MS;
                    flow.unreachable.set(false);
                }
                Err(_) => {
                    failures += 1;
                    flow.unreachable
                        .set(failures >= FAILURES_BEFORE_UNREACHABLE);
                    TimeoutFuture::new(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX_MS);
                }
            }
        }
    }

    fn on_event(flow: Flow, generation: u64, event: PushEvent, scene: &SceneId, key: &BrowserKey) {
        if !is_current(flow, generation) || flow.phase.get_untracked().is_final() {
            return;
        }
        match event {
            PushEvent::Scanned => flow.phase.set(Phase::Scanned),
            PushEvent::Confirmed { ticket } => {
                flow.phase.set(Phase::Confirmed);
                let (scene, key) = (scene.clone(), key.clone());
                spawn_local(async move {
                    match create_session(scene, ticket, key).await {
                        Ok(_) => {
                            let _ = window().location().set_href(&flow.next.get_value());
                        }
                        Err(_) => {
                            flow.detail.set(flow.t.error_session);
                            flow.phase.set(Phase::Error);
                        }
                    }
                });
            }
            PushEvent::Cancelled => {
                flow.phase.set(Phase::Cancelled);
                refresh_later(flow, generation, CANCELLED_REFRESH_MS);
            }
            PushEvent::Expired => on_expired(flow, generation),
        }
    }

    /// The code can no longer be used: say so, and get a fresh one by itself.
    fn on_expired(flow: Flow, generation: u64) {
        if !is_current(flow, generation) || flow.phase.get_untracked().is_final() {
            return;
        }
        flow.phase.set(Phase::Expired);
        refresh_later(flow, generation, EXPIRED_REFRESH_MS);
    }

    /// A new code after `ms`, unless something else made one already.
    fn refresh_later(flow: Flow, generation: u64, ms: u32) {
        spawn_local(async move {
            TimeoutFuture::new(ms).await;
            if is_current(flow, generation) {
                refresh_by_itself(flow);
            }
        });
    }
}
