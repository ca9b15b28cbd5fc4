//! `/login`: the mini-program code to scan. A logged-in visitor is sent to `/` by the
//! server before this renders.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{components::qr_login::QrLogin, i18n::use_locale, user_agent::Device};

#[component]
pub fn LoginPage() -> impl IntoView {
    let locale = use_locale();
    let t = locale.strings();
    let device = request_device();
    let next = request_next();
    view! {
        <Title text=t.login_title/>
        <section class="card login">
            <h1>{t.login_heading}</h1>
            <QrLogin locale device next/>
            {(device == Device::Computer).then(|| view! { <p class="hint">{t.login_hint}</p> })}
            <noscript>
                <p class="error">{t.no_script}</p>
            </noscript>
            <NoWebAssembly message=t.no_wasm/>
        </section>
    }
}

/// Where the login goes on to: an OpenID client's authorization request (`next=`,
/// checked on the server), or home.
fn request_next() -> String {
    #[cfg(feature = "ssr")]
    if let Some(parts) = use_context::<axum::http::request::Parts>() {
        if let Some(next) = crate::protocol::LoginNext::from_query(parts.uri.query()) {
            return next.into();
        }
    }
    "/".to_owned()
}

/// The device of the request being rendered (a computer outside a request).
fn request_device() -> Device {
    #[cfg(feature = "ssr")]
    if let Some(parts) = use_context::<axum::http::request::Parts>() {
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return crate::user_agent::device_of(user_agent);
    }
    Device::Computer
}

/// A browser without WebAssembly cannot hydrate the component: it would show
/// "Getting a code…" forever. A line of script (with the page's CSP nonce) shows this
/// message instead.
#[component]
fn NoWebAssembly(message: &'static str) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    view! {
        <p class="error" id="no-wasm" data-testid="no-wasm" hidden>{message}</p>
        <script
            nonce=nonce
            inner_html="if (typeof WebAssembly !== 'object') document.getElementById('no-wasm').hidden = false;"
        ></script>
    }
}
