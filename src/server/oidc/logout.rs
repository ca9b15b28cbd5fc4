//! `GET|POST /oauth/logout`: RP-initiated logout 1.0. An application sends the browser
//! here when the person logs out of it; their scanlogin session ends too (and every
//! client it logged in to is told by [`super::backchannel`]), so that the next visit to
//! the application asks for a scan instead of logging them in again silently.
//!
//! - With an `id_token_hint` of this very session (an ID token we signed, expired or not,
//!   whose `sid` is the browser's session's), the session ends at once.
//! - Otherwise (no hint, an ID token of an older session or of another person, or one
//!   signed by a key since retired and forgotten) a page asks the person to confirm: a
//!   page elsewhere must not be able to log anyone out by a link, nor with an old ID token
//!   found in some application's storage (RP-Initiated Logout §2). The confirmation posts
//!   to `/oauth/logout/confirm`, which the browser `Origin` check guards.
//! - A POST is answered with a redirect to the same request as a GET: posted from the
//!   application's site, it carries no session cookie (`SameSite=Lax`), a navigation does.
//! - A hint that is not ours, a `client_id` that differs from the hint's audience, or a
//!   `post_logout_redirect_uri` not registered for the client (matched exactly) is
//!   refused on our own page: nothing is sent to an address we cannot trust.
//! - Afterwards the browser goes back to `post_logout_redirect_uri` with the `state`, or
//!   sees that it logged out.
//!
//! The pages are in the language of `ui_locales`, else the person's (`locale.rs`).
//! `logout_hint` is accepted and not needed: the session is the browser's.

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{header, request::Parts, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};
use leptos::prelude::*;

use super::{bounded, clients::Client, form_params, single_params, Provider, ProviderOf};
use crate::{
    i18n::Locale,
    server::{context::AppState, error::AppError, session},
};

/// `GET /oauth/logout`.
pub(super) async fn end_session_get(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    parts: Parts,
    RawQuery(query): RawQuery,
) -> Response {
    end_session(&state, &p, &parts, &query.unwrap_or_default(), Step::Asked).await
}

/// `POST /oauth/logout`: the same request as a form, sent on as a GET (see the module's
/// documentation).
pub(super) async fn end_session_post(
    ProviderOf(_): ProviderOf,
    parts: Parts,
    body: Bytes,
) -> Response {
    match form_params(&parts.headers, &body) {
        Some(query) => Redirect::to(&format!("/oauth/logout?{query}")).into_response(),
        None => refused(locale_of(&parts, None)),
    }
}

/// `POST /oauth/logout/confirm`: the person confirmed on our page.
pub(super) async fn confirm(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    parts: Parts,
    body: Bytes,
) -> Response {
    match form_params(&parts.headers, &body) {
        Some(query) => end_session(&state, &p, &parts, &query, Step::Confirmed).await,
        None => refused(locale_of(&parts, None)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The application's request.
    Asked,
    /// The person's confirmation of a request without a hint.
    Confirmed,
}

/// What a valid `id_token_hint` tells.
struct Hint {
    client_id: String,
    user_id: i64,
    sid: Option<String>,
}

/// What an `id_token_hint` turned out to be.
enum HintCheck {
    Valid(Hint),
    /// Signed by a key no longer published (rotated out): not known to be ours or not, so
    /// taken as no hint (the person is asked).
    UnknownKey,
    /// Not an ID token of ours.
    Invalid,
}

async fn end_session(
    state: &AppState,
    p: &Provider,
    parts: &Parts,
    query: &str,
    step: Step,
) -> Response {
    let Ok(params) = single_params(query) else {
        return refused(locale_of(parts, None));
    };
    let param = |name: &str| params.get(name).filter(|v| !v.is_empty());
    let locale = locale_of(parts, param("ui_locales").map(String::as_str));
    let hint = match param("id_token_hint") {
        None => None,
        Some(token) => match verified_hint(state, p, token).await {
            Ok(HintCheck::Valid(hint)) => Some(hint),
            Ok(HintCheck::UnknownKey) => None,
            Ok(HintCheck::Invalid) => return refused(locale),
            Err(err) => return failed(err),
        },
    };
    let client_id = match (hint.as_ref(), param("client_id")) {
        (Some(hint), Some(id)) if *id != hint.client_id => return refused(locale),
        (Some(hint), _) => Some(hint.client_id.as_str()),
        (None, id) => id.map(String::as_str),
    };
    let client = match client_id.map(|id| p.clients.get(id)) {
        None => None,
        Some(Some(client)) => Some(client),
        Some(None) => return refused(locale),
    };
    let back = match param("post_logout_redirect_uri") {
        None => None,
        Some(uri) if client.is_some_and(|c| c.allows_post_logout_redirect(uri)) => Some(uri),
        Some(_) => return refused(locale),
    };
    let Ok(client_state) = bounded(params.get("state")) else {
        return refused(locale);
    };
    let token = session::token_from(state, &parts.headers);
    let current = match &token {
        Some(token) => match state.store.session(token, state.config.sessions).await {
            Ok(found) => found.map(|live| live.user),
            Err(err) => return failed(err),
        },
        None => None,
    };
    let Some(user) = current else {
        // Nobody is logged in here: nothing to end.
        return done(locale, back, client_state, None);
    };
    let sid = token.as_deref().map(session::sid_of);
    let of_this_session = hint
        .as_ref()
        .is_some_and(|h| h.user_id == user.id && h.sid.is_some() && h.sid == sid);
    if !of_this_session && step != Step::Confirmed {
        return confirmation_page(locale, client, back, client_state);
    }
    let origin = crate::server::audit::Origin::of_parts(state, parts);
    match session::logout(state, &parts.headers, &origin).await {
        Ok(cleared) => done(locale, back, client_state, Some(cleared)),
        Err(err) => failed(err),
    }
}

/// The hint's client, person and session, if it is an ID token we signed for a client of
/// ours (expired or not: OpenID Connect RP-Initiated Logout §2).
async fn verified_hint(state: &AppState, p: &Provider, token: &str) -> Result<HintCheck, AppError> {
    #[derive(serde::Deserialize)]
    struct Claims {
        sub: String,
        aud: String,
        sid: Option<String>,
    }
    let Some(keys) = &state.oidc_keys else {
        return Ok(HintCheck::Invalid);
    };
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return Ok(HintCheck::Invalid);
    };
    let jwks = keys.get(&state.store).await?;
    let Some(jwk) = header.kid.as_deref().and_then(|kid| jwks.find(kid)) else {
        return Ok(HintCheck::UnknownKey);
    };
    let Ok(key) = jsonwebtoken::DecodingKey::from_jwk(jwk) else {
        return Ok(HintCheck::Invalid);
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_issuer(&[&p.issuer]);
    validation.set_required_spec_claims(&["iss", "sub", "aud"]);
    let Ok(data) = jsonwebtoken::decode::<Claims>(token, &key, &validation) else {
        return Ok(HintCheck::Invalid);
    };
    let (Some(_), Ok(user_id)) = (
        p.clients.get(&data.claims.aud),
        data.claims.sub.parse::<i64>(),
    ) else {
        return Ok(HintCheck::Invalid);
    };
    Ok(HintCheck::Valid(Hint {
        client_id: data.claims.aud,
        user_id,
        sid: data.claims.sid,
    }))
}

/// The page's language: the first of `ui_locales` we have, else the person's.
fn locale_of(parts: &Parts, ui_locales: Option<&str>) -> Locale {
    ui_locales
        .and_then(crate::server::locale::from_ui_locales)
        .unwrap_or_else(|| crate::server::locale::negotiate(parts).0)
}

/// Logged out (or nothing to log out of): back to the application with its `state`, or
/// a page that says so.
fn done(
    locale: Locale,
    back: Option<&String>,
    client_state: Option<&str>,
    cleared: Option<HeaderValue>,
) -> Response {
    let mut response = match back.and_then(|uri| url::Url::parse(uri).ok()) {
        Some(mut url) => {
            if let Some(client_state) = client_state {
                url.query_pairs_mut().append_pair("state", client_state);
            }
            Redirect::to(url.as_str()).into_response()
        }
        None => {
            let t = locale.strings();
            page(
                locale,
                StatusCode::OK,
                view! { <h1>{t.logged_out}</h1><p><a href="/">{t.home_title}</a></p> },
                None,
            )
        }
    };
    if let Some(cleared) = cleared {
        response.headers_mut().insert(header::SET_COOKIE, cleared);
    }
    response
}

/// Asks the person whether to log out. Confirming posts the request's client, redirect
/// and state again, to be checked again.
fn confirmation_page(
    locale: Locale,
    client: Option<&Client>,
    back: Option<&String>,
    client_state: Option<&str>,
) -> Response {
    let t = locale.strings();
    let asked_by = client.map(|c| (t.logout_asked_by)(&c.id));
    let back_origin = back
        .and_then(|uri| url::Url::parse(uri).ok())
        .map(|url| url.origin().ascii_serialization());
    let body = view! {
        <h1>{t.logout_question}</h1>
        {asked_by.map(|text| view! { <p>{text}</p> })}
        <form method="post" action="/oauth/logout/confirm">
            <input type="hidden" name="ui_locales" value=locale.tag()/>
            {client.map(|c| view! { <input type="hidden" name="client_id" value=c.id.clone()/> })}
            {back.map(|uri| view! { <input type="hidden" name="post_logout_redirect_uri" value=uri.clone()/> })}
            {client_state.map(|s| view! { <input type="hidden" name="state" value=s.to_owned()/> })}
            <button type="submit">{t.log_out}</button>
            " "
            <a href="/">{t.logout_stay}</a>
        </form>
    };
    page(locale, StatusCode::OK, body, back_origin)
}

/// A request we do not act on, on our own page.
fn refused(locale: Locale) -> Response {
    let t = locale.strings();
    page(
        locale,
        StatusCode::BAD_REQUEST,
        view! { <h1>{t.logout_refused_heading}</h1><p>{t.logout_refused}</p> },
        None,
    )
}

/// A failure of ours (the database): counted and logged as the error table says.
fn failed(err: AppError) -> Response {
    let treatment = err.record();
    (
        treatment.status,
        "The login service could not answer; try again shortly.",
    )
        .into_response()
}

/// A small page of ours, no scripts; a form on it may post here, and what it posts may
/// send the browser on to `redirect_origin` (CSP's `form-action` covers the redirect).
fn page(
    locale: Locale,
    status: StatusCode,
    body: impl RenderHtml,
    redirect_origin: Option<String>,
) -> Response {
    let t = locale.strings();
    let html = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"/pkg/scanlogin.css\"></head>\
         <body><main class=\"logout\">{}</main></body></html>",
        locale.tag(),
        t.logout_title,
        body.to_html()
    );
    let csp = format!(
        "default-src 'none'; style-src 'self'; form-action 'self' {}; base-uri 'none'; \
         frame-ancestors 'none'",
        redirect_origin.unwrap_or_default()
    );
    let mut response = (status, Html(html)).into_response();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}
