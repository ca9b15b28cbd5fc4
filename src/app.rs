//! The HTML shell and the routes shared by the server renderer and the browser.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

use crate::{
    components::language_switch::LanguageSwitch,
    i18n::use_locale,
    pages::{
        account::AccountPage,
        admin::{
            audit::AdminAuditPage, groups::AdminGroupsPage, invitations::AdminInvitationsPage,
            user::AdminUserPage, users::AdminUsersPage,
        },
        home::HomePage,
        invite::InvitePage,
        login::LoginPage,
        phone::{PhoneMessagesPage, PhonePage},
    },
};

/// The document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // Every page gets a Content-Security-Policy that allows only scripts carrying this
    // response's nonce (Leptos puts it on its hydration scripts).
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(csp) = axum::http::HeaderValue::from_str(&crate::server::guard::page_csp(&nonce))
        {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, csp);
        }
    }
    // The language, chosen once per render, before anything is written.
    #[cfg(feature = "ssr")]
    if let Some(parts) = use_context::<axum::http::request::Parts>() {
        let (locale, cookie) = crate::server::locale::negotiate(&parts);
        if let (Some(cookie), Some(response)) =
            (cookie, use_context::<leptos_axum::ResponseOptions>())
        {
            response.append_header(axum::http::header::SET_COOKIE, cookie);
        }
        provide_context(crate::i18n::PageLanguage {
            locale,
            links: crate::server::locale::switch_links(&parts),
        });
    }
    let lang = use_locale().tag();
    view! {
        <!DOCTYPE html>
        <html lang=lang>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let t = use_locale().strings();

    view! {
        <Stylesheet id="leptos" href="/pkg/scanlogin.css"/>
        <Title text=t.site_name/>
        <Router>
            <LanguageSwitch/>
            <main>
                <Routes fallback=move || view! { <p class="not-found">{t.not_found}</p> }>
                    <Route path=path!("/") view=HomePage/>
                    <Route path=path!("/login") view=LoginPage/>
                    <Route path=path!("/phone") view=PhonePage/>
                    <Route path=path!("/phone/messages") view=PhoneMessagesPage ssr=SsrMode::Async/>
                    <Route path=path!("/invite/:token") view=InvitePage/>
                    // The console renders once its data is there, so that a refusal is
                    // the page's status.
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view=AdminUsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users/:id") view=AdminUserPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/groups") view=AdminGroupsPage ssr=SsrMode::Async/>
                    <Route
                        path=path!("/admin/invitations")
                        view=AdminInvitationsPage
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/admin/audit") view=AdminAuditPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
