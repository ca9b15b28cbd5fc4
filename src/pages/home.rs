//! `/`: who is logged in, and a logout button.

use leptos::prelude::*;

use crate::api::{get_me, logout};

#[component]
pub fn HomePage() -> impl IntoView {
    let user = Resource::new(|| (), |_| get_me());

    view! {
        <section class="card home">
            <h1>"scanlogin"</h1>
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || {
                    user.get()
                        .map(|answer| match answer {
                            Ok(me) => {
                                view! {
                                    <div class="user" data-testid="user">
                                        <Show when={
                                            let url = me.user.avatar_url.clone();
                                            move || !url.is_empty()
                                        }>
                                            <img class="avatar" src=me.user.avatar_url.clone() alt=""/>
                                        </Show>
                                        <p>
                                            "Logged in as "
                                            <strong data-testid="user-nickname">{me.user.nickname.clone()}</strong>
                                        </p>
                                        <LogoutButton/>
                                    </div>
                                }
                                    .into_any()
                            }
                            Err(_) => {
                                view! {
                                    <div>
                                        <p>"Log in to this site by scanning a WeChat mini-program code."</p>
                                        <a class="button" href="/login">"Log in"</a>
                                    </div>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

/// An island: the page's only part that runs in the browser. `data-hydrated` is set once
/// it does (effects never run on the server), for tests.
#[island]
fn LogoutButton() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let log_out = Action::new(|_: &()| async move {
        let done = logout().await;
        #[cfg(feature = "hydrate")]
        if done.is_ok() {
            let _ = window().location().set_href("/login");
        }
        done
    });
    view! {
        <button
            data-testid="logout"
            data-hydrated=move || hydrated.get().to_string()
            on:click=move |_| {
                log_out.dispatch(());
            }
        >
            "Log out"
        </button>
    }
}
