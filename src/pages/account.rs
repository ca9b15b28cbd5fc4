//! `/account`: the person's own account: where they are logged in, the applications they
//! let in, their recent activity, a copy of their data, and deleting the account. Its
//! actions are plain HTML forms posted to the server (post, then redirect), like the
//! console's, so the page needs no WebAssembly. Rendered once its data is there
//! (`SsrMode::Async`); a browser without a session is sent to the scan login first
//! (`server::session::send_to_login`).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::get_account,
    components::{
        place::{place_cell, places_credit},
        sessions_table::{sessions_table, SessionsWords},
    },
    i18n::{use_locale, AccountStrings},
    pages::admin::forms::ActionForm,
    protocol::{Account, ACCOUNT_DATA_PATH, ACCOUNT_FORM_PATH},
};

#[component]
pub fn AccountPage() -> impl IntoView {
    let t = use_locale().account();
    let account = Resource::new(|| (), |_| get_account());
    let error = leptos_router::hooks::use_query_map().with_untracked(|q| q.get("error"));
    view! {
        <Title text=t.title/>
        <section class="card account">
            <h1>{t.heading}</h1>
            {error.map(|code| said(t, &code))}
            <Suspense>
                {move || Suspend::new(async move {
                    match account.await {
                        Ok(account) => sections(t, account).into_any(),
                        Err(err) => view! {
                            <p class="error" role="alert">{t.error_failed}" ("{err.msg}")"</p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// What became of the last action (`?error=`), in words.
fn said(t: &'static AccountStrings, code: &str) -> impl IntoView {
    let words = match code {
        "step_up" => t.error_step_up,
        "not_found" => t.error_not_found,
        "rate_limited" => t.error_rate_limited,
        "malformed" => t.error_malformed,
        _ => t.error_failed,
    };
    view! { <p class="error" role="alert" data-testid="account-error">{words}</p> }
}

/// A button posting `action` with `fields` to the account's forms.
fn button(
    action: &'static str,
    fields: Vec<(&'static str, String)>,
    label: &'static str,
    testid: &str,
) -> impl IntoView {
    view! {
        <ActionForm
            action
            fields
            label
            testid=testid.to_owned()
            back="/account".to_owned()
            to=ACCOUNT_FORM_PATH
        />
    }
}

fn sections(t: &'static AccountStrings, a: Account) -> impl IntoView {
    let others = a.sessions.iter().any(|s| !s.current);
    // The fresh scan: the phone says it is to delete the account (`Purpose::DeleteAccount`).
    let again = "/login?again=1&next=%2Faccount%3Fdelete%3D1";
    let words = SessionsWords {
        browser: t.browser,
        place: t.place,
        created: t.created,
        last_seen: t.last_seen,
        action: t.end_session,
        this_session: t.this_session,
    };
    view! {
        <h2>{t.sessions}</h2>
        {sessions_table(words, a.sessions, "account-sessions", |s| {
            (!s.current).then(|| button("end_session", vec![("session", s.id.clone())], t.end_session, "end-session"))
        })}
        {others.then(|| button("end_other_sessions", vec![], t.end_others, "end-others"))}

        <h2>{t.applications}</h2>
        {if a.applications.is_empty() {
            view! { <p>{t.no_applications}</p> }.into_any()
        } else {
            view! {
                <table class="admin-table" data-testid="account-applications">
                    <thead><tr>
                        <th scope="col">{t.application}</th>
                        <th scope="col">{t.until}</th>
                        <th scope="col"><span class="visually-hidden">{t.revoke}</span></th>
                    </tr></thead>
                    <tbody>
                        {a.applications.into_iter().map(|g| {
                            let testid = format!("revoke-{}", g.client_id);
                            view! {
                                <tr>
                                    <td>{g.name}</td>
                                    <td>{g.until}</td>
                                    <td>{button("revoke_application", vec![("client_id", g.client_id)], t.revoke, &testid)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}

        <h2>{t.recent}</h2>
        {if a.recent.is_empty() {
            view! { <p>{t.none}</p> }.into_any()
        } else {
            view! {
                <table class="admin-table" data-testid="account-recent">
                    <thead><tr>
                        <th scope="col">{t.time}</th>
                        <th scope="col">{t.event}</th>
                        <th scope="col">{t.application}</th>
                        <th scope="col">{t.browser}</th>
                        <th scope="col">{t.place}</th>
                        <th scope="col">{t.result}</th>
                    </tr></thead>
                    <tbody>
                        {a.recent.into_iter().map(|e| view! {
                            <tr>
                                <td>{e.at}</td>
                                <td>{e.event}</td>
                                <td>{e.client_id}</td>
                                <td>{e.user_agent}</td>
                                {place_cell(e.place, e.ip)}
                                <td>{e.result}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}

        {places_credit(a.places_credit)}

        <h2>{t.my_data}</h2>
        <p>{t.data_intro}</p>
        <p><a class="button" href=ACCOUNT_DATA_PATH download data-testid="download-data">{t.download}</a></p>

        <h2>{t.delete_heading}</h2>
        <p>{t.delete_intro}</p>
        {if a.fresh {
            view! {
                <form method="post" action=ACCOUNT_FORM_PATH>
                    <input type="hidden" name="action" value="delete_account"/>
                    <p>
                        <label>
                            <input type="checkbox" name="understood" required data-testid="delete-understood"/>
                            " "{t.understood}
                        </label>
                    </p>
                    <button type="submit" class="danger" data-testid="delete-account">{t.delete_button}</button>
                </form>
            }.into_any()
        } else {
            view! {
                <p>{t.delete_fresh}</p>
                <p><a class="button" href=again data-testid="delete-scan-again">{t.scan_again}</a></p>
            }.into_any()
        }}
    }
}
