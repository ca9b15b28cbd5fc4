//! `/`: who is logged in, and a logout button.

use leptos::prelude::*;

use leptos_meta::Title;

use crate::{
    api::{get_me, logout},
    i18n::{use_locale, Strings},
};

#[component]
pub fn HomePage() -> impl IntoView {
    let user = Resource::new(|| (), |_| get_me());
    let locale = use_locale();
    let t: &'static Strings = locale.strings();
    // Where a deleted account's browser lands (`server::account::DELETED_PAGE`).
    let deleted = leptos_router::hooks::use_query_map()
        .with_untracked(|q| q.get("deleted").is_some_and(|d| d == "1"));

    view! {
        <Title text=t.home_title/>
        <section class="card home">
            <h1>{t.site_name}</h1>
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
                                            {t.logged_in_as}
                                            <strong data-testid="user-nickname">{me.user.nickname.clone()}</strong>
                                        </p>
                                        <p><a href="/account" data-testid="account-link">{locale.account().link}</a></p>
                                        <LogoutButton label=t.log_out.to_owned()/>
                                    </div>
                                }
                                    .into_any()
                            }
                            Err(_) => {
                                view! {
                                    <div>
                                        {deleted.then(|| view! {
                                            <p role="status" data-testid="account-deleted">{locale.account().deleted}</p>
                                        })}
                                        <p>{t.home_intro}</p>
                                        <a class="button" href="/login">{t.log_in}</a>
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
fn LogoutButton(label: String) -> impl IntoView {
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
            {label}
        </button>
    }
}
