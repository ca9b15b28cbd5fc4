//! `/login`: the mini-program code to scan. A logged-in visitor is sent to `/` by the
//! server before this renders.

use leptos::prelude::*;

use crate::components::qr_login::QrLogin;

#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <section class="card login">
            <h1>"Log in with WeChat"</h1>
            <QrLogin/>
            <p class="hint">"Open WeChat, tap + then Scan, and confirm on your phone."</p>
        </section>
    }
}
