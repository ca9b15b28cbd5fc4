//! The QR login component: makes a scene and a browser key, gets the scene's QR image,
//! opens the scene's socket, and turns the pushed events into a session.
//!
//! Its state is on `[data-testid="qr-login"]`: `data-state` (`loading`, `waiting`,
//! `scanned`, `confirmed`, `cancelled`, `expired`, `error`), `data-scene`, and
//! `data-auto-refresh`: whether an ended QR image is replaced by itself (`on`), waits for the
//! tab to be visible again (`hidden`), or waits for the person (`exhausted`);
//! `data-connection` (`ok`, `unreachable`) and `data-transport` (`socket`, or `poll` where
//! sockets fail but plain HTTP works: long polling `/api/scene/status`).
//!
//! Each state has its words and next step in an `aria-live` region; on a phone the
//! component offers "Open in WeChat" (a link WeChat made for the scene), and in WeChat's
//! own browser it shows the QR image larger with the long-press hint.
//!
//! Every new QR image costs one of WeChat's (a quota for the whole site), so the
//! component gets one by itself only while the page is visible, and at most
//! `SCANLOGIN_AUTO_REFRESHES` times in a row with nobody touching it; then it asks. A tab
//! that comes back into view gets a fresh one at once.
//!
//! Here is the view and the component's state ([`Flow`]); `policy.rs` is the retry
//! policy (plain types, tested on the host); everything that touches the browser
//! (crypto, sockets, timers) runs only after hydration: `flow.rs` (a scene from its QR
//! image to the session) and `transport.rs` (how the page hears its scene: a socket, or
//! long polling).

#[cfg(feature = "hydrate")]
mod flow;
pub mod policy;
#[cfg(feature = "hydrate")]
mod transport;

use leptos::prelude::*;

use self::policy::{Allowance, AutoRefresh, Backoff, Reachability};
use crate::{
    i18n::{Locale, Strings},
    protocol::{BrowserKey, SceneId},
    user_agent::Device,
};

/// What the component shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Loading,
    Waiting,
    Scanned,
    Confirmed,
    Cancelled,
    Expired,
    /// The access rules refused the person who scanned (`detail` says why).
    Refused,
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
            Phase::Refused => "refused",
            Phase::Error => "error",
        }
    }

    /// Nothing more will happen to this scene.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Phase::Confirmed | Phase::Cancelled | Phase::Expired | Phase::Refused | Phase::Error
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
            Phase::Refused => t.state_refused,
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
            Phase::Loading | Phase::Confirmed | Phase::Refused | Phase::Error => "",
        }
    }
}

/// "Open in WeChat" on a phone: the link for this scene, once WeChat made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenLinkState {
    None,
    Ready(String),
    /// WeChat would not make one (its quota, or a mini program not allowed links): the
    /// page says so and keeps the QR image.
    Refused,
}

/// How the component hears its scene: a socket, or long polling where sockets fail
/// but plain HTTP works (a proxy that blocks WebSockets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Socket,
    Poll,
}

/// The scene the page shows, and its key (which leaves the browser only in the scene's
/// own requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub scene: SceneId,
    pub key: BrowserKey,
}

/// The component's state; `Copy`, so closures and tasks share it freely.
#[derive(Clone, Copy)]
pub struct Flow {
    pub phase: RwSignal<Phase>,
    /// The scene shown: none before the first, and on the server's render.
    pub current: RwSignal<Option<Current>>,
    pub image: RwSignal<String>,
    /// Why the last call failed, in the page's words (empty: it did not).
    pub detail: RwSignal<&'static str>,
    /// When the QR image expires, and now (ms since the epoch), for the countdown.
    pub expires_at: RwSignal<f64>,
    pub now: RwSignal<f64>,
    pub auto_refresh: RwSignal<AutoRefresh>,
    /// The server has not answered for a while (`data-connection="unreachable"`); the
    /// component keeps trying, backing off. Follows `reachability`.
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
    /// The invitation token of the invitation page, if the login began there.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    invitation: StoredValue<Option<String>>,
    /// The wait before asking for a QR image again after the server did not answer.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    qr_image_backoff: StoredValue<Backoff>,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    allowance: StoredValue<Allowance>,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    reachability: StoredValue<Reachability>,
    /// Bumped for every new scene: work for an older scene stops.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    generation: StoredValue<u64>,
}

impl Flow {
    fn new(device: Device, t: &'static Strings, next: String, invitation: Option<String>) -> Self {
        Self {
            phase: RwSignal::new(Phase::Loading),
            current: RwSignal::new(None),
            image: RwSignal::new(String::new()),
            detail: RwSignal::new(""),
            expires_at: RwSignal::new(0.0),
            now: RwSignal::new(0.0),
            auto_refresh: RwSignal::new(AutoRefresh::On),
            unreachable: RwSignal::new(false),
            transport: RwSignal::new(Transport::Socket),
            open_link: RwSignal::new(OpenLinkState::None),
            device,
            t,
            next: StoredValue::new(next),
            invitation: StoredValue::new(invitation),
            qr_image_backoff: StoredValue::new(Backoff::new_qr_image()),
            allowance: StoredValue::new(Allowance::new(crate::protocol::DEFAULT_AUTO_REFRESHES)),
            reachability: StoredValue::new(Reachability::default()),
            generation: StoredValue::new(0),
        }
    }

    fn seconds_left(&self) -> u64 {
        ((self.expires_at.get() - self.now.get()) / 1000.0)
            .max(0.0)
            .ceil() as u64
    }
}

/// An island: the only part of the login page that runs in the browser. `locale`,
/// `device`, `next` (where to go once logged in, checked by the server) and `invitation`
/// (the invitation page's token) come from the server's render.
#[island]
pub fn QrLogin(
    locale: Locale,
    device: Device,
    next: String,
    #[prop(optional)] invitation: Option<String>,
) -> impl IntoView {
    let t: &'static Strings = locale.strings();
    // A login for an application that the rules refuse goes back to it, which is told
    // `access_denied` (the same request, at the refusal's endpoint).
    let back_to_application = next
        .strip_prefix("/oauth/authorize?")
        .map(|query| format!("/oauth/authorize/refused?{query}"));
    let flow = Flow::new(device, t, next, invitation);
    // Effects run only in the browser, once hydrated.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        flow::start(flow);
    });

    let refresh = move |_| {
        #[cfg(feature = "hydrate")]
        flow::refresh_by_hand(flow);
    };
    // The server was away: ask about the same scene now (the phone may be confirming it).
    let retry = move |_| {
        #[cfg(feature = "hydrate")]
        flow::retry_now(flow);
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
        } else if flow.auto_refresh.get() == AutoRefresh::Exhausted {
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
            data-scene=move || {
                flow.current.with(|c| c.as_ref().map(|c| c.scene.to_string()).unwrap_or_default())
            }
            data-auto-refresh=move || flow.auto_refresh.get().as_str()
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
            {back_to_application.map(|href| view! {
                <Show when=move || phase() == Phase::Refused>
                    <a class="button" data-testid="qr-back-to-application" href=href.clone()>
                        {t.back_to_application}
                    </a>
                </Show>
            })}
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
