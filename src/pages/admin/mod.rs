//! The admin console (`/admin`), rendered on the server for administrators only: each
//! page's data comes from an admin server function, which checks the role (a browser
//! without a session is sent to the scan login first, by `server::admin::send_to_login`).
//! The pages render only once their data is there (`SsrMode::Async`), so that a refusal
//! is the page's status (403), not a 200 with an error inside.

pub mod audit;
pub mod forms;
pub mod groups;
pub mod invitations;
pub mod user;
pub mod users;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::ApiError,
    i18n::{use_locale, AdminStrings},
};

/// The request's path and query, for the way back after a fresh scan.
pub fn here() -> String {
    #[cfg(feature = "ssr")]
    if let Some(parts) = use_context::<axum::http::request::Parts>() {
        return parts
            .uri
            .path_and_query()
            .map_or_else(|| "/admin".to_owned(), |p| p.as_str().to_owned());
    }
    "/admin".to_owned()
}

/// `value` for a URL's query.
pub fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The request's path (no query), where a form comes back to.
pub fn path() -> String {
    here().split('?').next().unwrap_or("/admin").to_owned()
}

/// Every console page: its title, the console's navigation, what became of the last
/// action (`?error=` from the form's answer), and its content.
#[component]
pub fn Console(heading: &'static str, children: Children) -> impl IntoView {
    let t = use_locale().admin();
    let error = leptos_router::hooks::use_query_map().with_untracked(|q| q.get("error"));
    let again = format!("/login?again=1&next={}", escape(&path()));
    let said = error.map(|code| {
        let words = match code.as_str() {
            "step_up" => {
                return view! {
                    <p class="error" role="alert" data-testid="admin-error">
                        {t.step_up}" "<a href=again data-testid="step-up">{t.step_up_link}</a>
                    </p>
                }
                .into_any()
            }
            "not_found" => t.error_not_found,
            "conflict" => t.error_conflict,
            "malformed" => t.error_malformed,
            _ => t.error_failed,
        };
        view! { <p class="error" role="alert" data-testid="admin-error">{words}</p> }.into_any()
    });
    view! {
        <Title text=t.title/>
        <section class="card admin">
            <nav aria-label=t.nav_label class="admin-nav">
                <a href="/admin">{t.users}</a>
                <a href="/admin/groups">{t.groups}</a>
                <a href="/admin/invitations">{t.invitations}</a>
                <a href="/admin/audit">{t.audit}</a>
            </nav>
            <h1>{heading}</h1>
            {said}
            {children()}
        </section>
    }
}

/// A page whose data could not be had: not an administrator, or a failure.
pub fn failure(t: &'static AdminStrings, err: &ApiError) -> AnyView {
    let text = if err.status == 403 || err.status == 401 {
        t.not_admin.to_owned()
    } else {
        format!("{}{}", t.failed, err.msg)
    };
    view! { <p class="error" role="alert" data-testid="admin-refused">{text}</p> }.into_any()
}
