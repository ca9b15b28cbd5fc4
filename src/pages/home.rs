//! `/`: the signed-in user's page.

use leptos::prelude::*;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <section class="card">
            <h1>"scanlogin"</h1>
            <p>"Log in to this site by scanning a WeChat mini-program code."</p>
            <a class="button" href="/login">"Log in"</a>
        </section>
    }
}
