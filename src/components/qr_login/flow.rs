//! A scene's life in the browser: a new scene and key, its QR image, hearing its events
//! (`transport.rs`), the ticket turned into a session, and a new QR image when one ends,
//! as the retry policy (`policy.rs`) allows.

use gloo_timers::future::TimeoutFuture;
use leptos::{prelude::*, task::spawn_local};
use wasm_bindgen::{closure::Closure, JsCast};

use super::{
    policy::{AutoRefresh, CANCELLED_REFRESH_MS, EXPIRED_REFRESH_MS, OVERDUE_MS},
    transport, Current, Flow, OpenLinkState, Phase,
};
use crate::{
    api::{create_session, get_wxacode, open_link, ApiError},
    protocol::{BrowserKey, PushEvent, SceneId},
    user_agent::Device,
};

impl Flow {
    /// The generation of the scene shown now.
    pub(super) fn generation(self) -> u64 {
        self.generation.get_value()
    }

    /// Work for scene `generation` goes on: it is still the one shown, and still open.
    pub(super) fn is_live(self, generation: u64) -> bool {
        self.generation.get_value() == generation && !self.phase.get_untracked().is_final()
    }

    /// Records how a call went, and shows whether the server can be reached.
    pub(super) fn reach<T>(self, f: impl FnOnce(&mut super::Reachability) -> T) -> T {
        let (out, unreachable) = self
            .reachability
            .try_update_value(|r| {
                let out = f(r);
                (out, r.is_unreachable())
            })
            .expect("the component's state lives as long as the page");
        self.unreachable.set(unreachable);
        out
    }
}

pub(super) fn now_ms() -> f64 {
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
    if let Some(refusal) = err.data.as_ref().and_then(|d| d.refusal) {
        return t.refusal(refusal);
    }
    match err.status {
        0 => t.unreachable,
        429 => t.error_limited,
        503 => t.error_busy,
        502 | 504 => t.error_wechat,
        _ => t.error_other,
    }
}

/// The person asked for a new QR image: the count of those got by themselves starts over.
pub fn refresh_by_hand(flow: Flow) {
    flow.allowance.update_value(|a| a.reset());
    new_scene(flow);
}

/// "Try again now" while the server was away: the same scene's status at once.
pub fn retry_now(flow: Flow) {
    if let Some(current) = flow.current.get_untracked() {
        let generation = flow.generation();
        spawn_local(async move {
            let _ = transport::catch_up(flow, generation, &current, false).await;
        });
    }
}

/// A QR image ended by itself: replace it if the page is seen and the allowance lasts.
fn refresh_by_itself(flow: Flow) {
    let decision = flow
        .allowance
        .try_update_value(|a| a.decide(is_hidden()))
        .unwrap_or(AutoRefresh::Exhausted);
    flow.auto_refresh.set(decision);
    if decision == AutoRefresh::On {
        new_scene(flow);
    }
}

/// Back in view: a QR image that ended while nobody looked is replaced at once, and a
/// waiting one catches up at once (a phone's browser back from WeChat, whose socket may
/// have been asleep while the person confirmed).
fn on_visible(flow: Flow) {
    match flow.phase.get_untracked() {
        Phase::Expired | Phase::Cancelled | Phase::Error
            if flow.auto_refresh.get_untracked() != AutoRefresh::On =>
        {
            refresh_by_hand(flow)
        }
        Phase::Waiting | Phase::Scanned => retry_now(flow),
        _ => {}
    }
}

pub fn start(flow: Flow) {
    let listener = Closure::<dyn FnMut()>::new(move || {
        if !is_hidden() {
            on_visible(flow);
        }
    });
    let _ = document()
        .add_event_listener_with_callback("visibilitychange", listener.as_ref().unchecked_ref());
    // The page lives as long as the component: the listener stays.
    listener.forget();
    // The countdown's clock; it also notices a QR image that expired while the socket
    // was away.
    flow.now.set(now_ms());
    let _ = set_interval_with_handle(
        move || {
            let now = now_ms();
            flow.now.set(now);
            let phase = flow.phase.get_untracked();
            let overdue = now > flow.expires_at.get_untracked() + OVERDUE_MS;
            if matches!(phase, Phase::Waiting | Phase::Scanned) && overdue {
                on_expired(flow, flow.generation());
            }
        },
        std::time::Duration::from_secs(1),
    );
    new_scene(flow);
}

/// A new scene and key, its QR image, and its socket. Work for the previous scene stops.
pub fn new_scene(flow: Flow) {
    flow.generation.update_value(|g| *g += 1);
    let generation = flow.generation();
    let current = Current {
        scene: SceneId::from_random_bytes(random_bytes()),
        key: BrowserKey::from_random_bytes(random_bytes()),
    };
    flow.current.set(Some(current.clone()));
    flow.image.set(String::new());
    flow.auto_refresh.set(AutoRefresh::On);
    flow.open_link.set(OpenLinkState::None);
    // A retry after a failure keeps saying what failed until an answer comes (the live
    // region is not re-read for every attempt).
    if flow.phase.get_untracked() != Phase::Error {
        flow.detail.set("");
        flow.phase.set(Phase::Loading);
    }
    spawn_local(async move {
        // The application's authorization request the login goes on to, if any: the
        // phone names that application.
        let next = flow.next.get_value().parse().ok();
        let invitation = flow.invitation.get_value().and_then(|t| t.parse().ok());
        let answer =
            get_wxacode(current.scene.clone(), current.key.clone(), next, invitation).await;
        if flow.generation() != generation {
            return;
        }
        match answer {
            Ok(code) => {
                flow.detail.set("");
                flow.reach(|r| r.answered());
                flow.qr_image_backoff.update_value(|b| b.reset());
                let now = now_ms();
                flow.image.set(code.data);
                flow.allowance
                    .update_value(|a| a.set_max(code.auto_refreshes));
                flow.now.set(now);
                flow.expires_at.set(now + code.expires_in as f64 * 1000.0);
                flow.phase.set(Phase::Waiting);
                if flow.device == Device::Phone {
                    ask_for_link(flow, generation, current.clone());
                }
                transport::watch(flow, generation, current).await;
            }
            Err(err) => {
                flow.detail.set(words_for(flow, &err));
                flow.phase.set(Phase::Error);
                // No answer, or the server (or its store) is away: ask again by itself,
                // backing off, rather than leave a dead page.
                if err.status == 0 || err.status == 502 || err.status == 503 {
                    if err.status == 0 {
                        flow.reach(|r| r.failed_for_good());
                    } else {
                        flow.reach(|r| r.answered());
                    }
                    let wait = flow
                        .qr_image_backoff
                        .try_update_value(|b| b.next_wait())
                        .unwrap_or(0);
                    spawn_local(async move {
                        TimeoutFuture::new(wait).await;
                        if flow.generation() != generation {
                            return;
                        }
                        // A hidden tab asks again when it is seen (each QR image costs
                        // one of WeChat's).
                        if is_hidden() {
                            flow.auto_refresh.set(AutoRefresh::Hidden);
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
fn ask_for_link(flow: Flow, generation: u64, current: Current) {
    spawn_local(async move {
        let answer = open_link(current.scene, current.key).await;
        if flow.generation() == generation {
            flow.open_link.set(match answer {
                Ok(link) => OpenLinkState::Ready(link.url),
                Err(_) => OpenLinkState::Refused,
            });
        }
    });
}

/// An event of scene `generation`, pushed or caught up.
pub(super) fn on_event(flow: Flow, generation: u64, event: PushEvent, current: &Current) {
    if !flow.is_live(generation) {
        return;
    }
    match event {
        PushEvent::Scanned => flow.phase.set(Phase::Scanned),
        PushEvent::Confirmed { ticket } => {
            flow.phase.set(Phase::Confirmed);
            let Current { scene, key } = current.clone();
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
        PushEvent::Refused { reason } => {
            flow.detail.set(flow.t.refusal(reason));
            flow.phase.set(Phase::Refused);
        }
        PushEvent::Expired => on_expired(flow, generation),
    }
}

/// The QR image can no longer be used: say so, and get a fresh one by itself.
pub(super) fn on_expired(flow: Flow, generation: u64) {
    if !flow.is_live(generation) {
        return;
    }
    flow.phase.set(Phase::Expired);
    refresh_later(flow, generation, EXPIRED_REFRESH_MS);
}

/// A new QR image after `ms`, unless something else made one already.
fn refresh_later(flow: Flow, generation: u64, ms: u32) {
    spawn_local(async move {
        TimeoutFuture::new(ms).await;
        if flow.generation() == generation {
            refresh_by_itself(flow);
        }
    });
}
