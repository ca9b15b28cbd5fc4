//! `/login`: the mini-program code to scan. A logged-in visitor is sent to `/` by the
//! server before this renders.

use leptos::prelude::*;

use crate::components::qr_login::QrLogin;

#[component]
pub fn LoginPage() -> impl IntoView {
    // Set only in the browser (effects never run on the server): tests wait for it
    // to know that the page is hydrated.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <section class="card login" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Log in with WeChat"</h1>
            <QrLogin/>
            <p class="hint">"Open WeChat, tap + then Scan, and confirm on your phone."</p>
        </section>
    }
}
