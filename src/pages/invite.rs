//! `/invite/<token>`: an invitation's link. The scan login, whose login uses the
//! invitation (its token goes with the code request; the server checks it, and says at
//! once if it is used up, revoked or expired).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{components::qr_login::QrLogin, i18n::use_locale, user_agent::Device};

#[component]
pub fn InvitePage() -> impl IntoView {
    let locale = use_locale();
    let t = locale.strings();
    let token = use_params_map().with_untracked(|p| p.get("token").unwrap_or_default());
    view! {
        <Title text=t.invite_title/>
        <section class="card login">
            <h1>{t.invite_heading}</h1>
            <p class="hint">{t.invite_hint}</p>
            <QrLogin locale device=Device::Computer next="/".to_owned() invitation=token/>
            <noscript>
                <p class="error">{t.no_script}</p>
            </noscript>
        </section>
    }
}
