//! `/login`: where the mini-program code is shown.

use leptos::prelude::*;

use crate::api::check_server;

#[component]
pub fn LoginPage() -> impl IntoView {
    // Set only in the browser (effects never run on the server): tests wait for it
    // to know that the page is hydrated before they click.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let check = Action::new(|_: &()| check_server());
    let answer = move || match check.value().get() {
        None => String::new(),
        Some(Ok(info)) => format!("{} {} is up ({} mode)", info.name, info.version, info.mode),
        Some(Err(err)) => format!("The server did not answer: {err}"),
    };

    view! {
        <section class="card login" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Log in with WeChat"</h1>
            <div class="qr-placeholder" data-testid="qr-placeholder">
                "The mini-program code will appear here."
            </div>
            <button data-testid="server-check" on:click=move |_| { check.dispatch(()); }>
                "Check the server"
            </button>
            <p data-testid="server-answer" class="answer">{answer}</p>
        </section>
    }
}
