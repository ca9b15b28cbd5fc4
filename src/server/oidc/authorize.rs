//! `GET|POST /oauth/authorize`: checks the request; without a session sends the browser
//! to the scan login (`/login?next=...`), which comes back here; with one, redirects to
//! the client with a code.
//!
//! Until the client and its redirect URI are known good, every error stays on our own
//! page; after that, errors go back to the client with its `state` (RFC 6749 §4.1.2.1).

use axum::{
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};

use super::{bounded, form_params, grants, single_params, Provider, ProviderOf};
use crate::server::{
    audit::{self, Entry, Event, Origin},
    context::{AppState, Client},
    error::AppError,
    session,
};

/// The peer of a request.
type Peer = ConnectInfo<std::net::SocketAddr>;

/// A failure of ours while the person is in the browser: counted and logged as the error
/// table says, and a page saying so (no redirect: the client learns nothing useful).
fn error_page_for(err: AppError) -> Response {
    let treatment = err.record();
    let mut page = error_page("The login service could not answer just now: try again shortly.");
    *page.status_mut() = treatment.status;
    page
}

/// An error shown on our own page: the redirect URI cannot be trusted, so nothing is
/// sent to it (RFC 6749 §4.1.2.1). `problem` is one of our fixed sentences, never text
/// from the request.
fn error_page(problem: &'static str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><meta charset=\"utf-8\"><title>Login request refused</title>\
         <main style=\"font-family:system-ui;max-width:32rem;margin:3rem auto\">\
         <h1>This login request cannot be used</h1><p>{problem}</p>\
         <p lang=\"zh-CN\">登录请求无效，请回到原来的网站重新登录。</p></main></html>"
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

/// An error sent back to the client's redirect URI, with its `state`.
fn error_redirect(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> Response {
    answer_client(
        redirect_uri,
        &[("error", error), ("error_description", description)],
        state,
        issuer,
    )
}

/// Sends the browser back to the client's redirect URI with `pairs`, its `state` and our
/// `iss` (RFC 9207) added to the URI's own query.
fn answer_client(
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    state: Option<&str>,
    issuer: &str,
) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => return error_page("The application's redirect address is not a URL."),
    };
    {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(pairs);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    Redirect::to(url.as_str()).into_response()
}

/// A PKCE S256 challenge: 43 characters of base64url (RFC 7636 §4.2).
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /oauth/authorize`.
pub(super) async fn authorize_get(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let origin = Origin::of(&headers, Client::resolve(&state, &headers, peer.ip()));
    authorize(&state, &p, &headers, &origin, query.unwrap_or_default()).await
}

/// `POST /oauth/authorize`: the same request as a form (OpenID Connect Core §3.1.2.1:
/// GET and POST must both be supported).
pub(super) async fn authorize_post(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(query) = form_params(&headers, &body) else {
        return error_page("The login request must be a form (application/x-www-form-urlencoded).");
    };
    let origin = Origin::of(&headers, Client::resolve(&state, &headers, peer.ip()));
    authorize(&state, &p, &headers, &origin, query).await
}

/// An authorization request's client, redirect URI and `state`, once they are known good
/// (until then, errors stay on our page: the `Err` says why).
struct Checked<'a> {
    client: &'a super::clients::Client,
    redirect_uri: &'a String,
    client_state: Option<&'a str>,
}

fn check_client<'a>(
    p: &'a Provider,
    params: &'a std::collections::HashMap<String, String>,
) -> Result<Checked<'a>, &'static str> {
    let param = |name: &str| params.get(name).filter(|v| !v.is_empty());
    let client = param("client_id")
        .and_then(|id| p.clients.get(id))
        .ok_or("The application (client_id) is not registered here.")?;
    let redirect_uri = param("redirect_uri")
        .filter(|uri| client.allows_redirect(uri))
        .ok_or("The redirect address (redirect_uri) is not one registered for this application.")?;
    let client_state =
        bounded(params.get("state")).map_err(|_| "The state parameter is malformed.")?;
    Ok(Checked {
        client,
        redirect_uri,
        client_state,
    })
}

/// `GET /oauth/authorize/refused`: the same request as `/oauth/authorize`, for a login
/// the access rules refused (the login page links here, "back to the application"): the
/// client is told `access_denied`. Whoever sends a browser here can tell a registered
/// redirect URI no more than a request with a bad parameter would.
pub(super) async fn refused_get(ProviderOf(p): ProviderOf, RawQuery(query): RawQuery) -> Response {
    let Ok(params) = single_params(query.as_deref().unwrap_or_default()) else {
        return error_page("A parameter is given more than once.");
    };
    match check_client(&p, &params) {
        Ok(checked) => error_redirect(
            checked.redirect_uri,
            "access_denied",
            "the person may not use this application",
            checked.client_state,
            &p.issuer,
        ),
        Err(problem) => error_page(problem),
    }
}

async fn authorize(
    state: &AppState,
    p: &Provider,
    headers: &HeaderMap,
    origin: &Origin,
    query: String,
) -> Response {
    let params = match single_params(&query) {
        Ok(params) => params,
        Err(_) => return error_page("A parameter is given more than once."),
    };
    let param = |name: &str| params.get(name).filter(|v| !v.is_empty());
    // Until the client and its redirect URI are known good, errors stay on our page.
    let Checked {
        client,
        redirect_uri,
        client_state,
    } = match check_client(p, &params) {
        Ok(checked) => checked,
        Err(problem) => return error_page(problem),
    };
    let refuse = |error: &str, description: &str| {
        error_redirect(redirect_uri, error, description, client_state, &p.issuer)
    };
    if param("response_type").map(String::as_str) != Some("code") {
        return refuse(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    let scope = param("scope").map(String::as_str).unwrap_or("");
    let scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if !scopes.contains(&"openid") {
        return refuse("invalid_scope", "scope must include openid");
    }
    // Scopes this client may not have (`email`, say) are left out, not refused (RFC 6749
    // §3.3): the token answer's `scope` says what was granted.
    let scopes: Vec<&str> = scopes
        .into_iter()
        .filter(|s| client.scopes.contains(*s))
        .collect();
    let Ok(nonce) = bounded(params.get("nonce")) else {
        return refuse("invalid_request", "nonce is malformed");
    };
    let challenge = param("code_challenge");
    match (
        challenge,
        param("code_challenge_method").map(String::as_str),
    ) {
        (None, None) if !client.is_public() => {}
        (None, _) => {
            return refuse(
                "invalid_request",
                "PKCE is required: code_challenge with code_challenge_method=S256",
            )
        }
        (Some(c), Some("S256")) if is_s256_challenge(c) => {}
        (Some(_), Some("S256")) => {
            return refuse("invalid_request", "code_challenge is not an S256 challenge")
        }
        (Some(_), _) => return refuse("invalid_request", "code_challenge_method must be S256"),
    }
    // Request objects are not supported: refused, never ignored (OpenID Connect Core §6).
    if params.contains_key("request") {
        return refuse("request_not_supported", "request objects are not supported");
    }
    if params.contains_key("request_uri") {
        return refuse(
            "request_uri_not_supported",
            "request objects by reference are not supported",
        );
    }
    let prompt: Vec<&str> = param("prompt")
        .map(|p| p.split(' ').filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    if prompt.contains(&"none") && prompt.len() > 1 {
        return refuse(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        );
    }
    let token = session::token_from(state, headers);
    let session = match &token {
        Some(token) => match state.store.session(token, state.config.sessions).await {
            Ok(found) => found.map(|live| (live.user, live.auth_time)),
            Err(err) => return error_page_for(err),
        },
        None => None,
    };
    // `prompt=login`, `consent` and `select_account`: a new scan even with a session (the
    // login page then shows the code instead of going straight on: `again=1`). The scan
    // is where the person consents (the phone names who asks) and chooses the WeChat
    // account they log in with.
    // `max_age`: a login older than that counts as none (OpenID Connect Core §3.1.2.1).
    let max_age: Option<i64> = param("max_age").and_then(|m| m.parse().ok());
    let now = crate::server::store::unix_now();
    let mut again = prompt.iter().any(|p| ASK_AGAIN.contains(p))
        || session
            .as_ref()
            .is_some_and(|(_, auth_time)| max_age.is_some_and(|max| now - auth_time > max));
    // A client that wants the phone to name it at every login takes only a session whose
    // scan was confirmed for it, once, and soon (the browser comes straight back here).
    if let (Some(token), Some(_), false) = (&token, &session, again) {
        if client.require_consent_per_login {
            let not_before = now - CONFIRMATION_LIFE_SECS;
            let taken = state
                .store
                .take_session_confirmation(token, &client.id, not_before);
            match taken.await {
                Ok(confirmed) => again = !confirmed,
                Err(err) => return error_page_for(err),
            }
        }
    }
    let Some((user, auth_time)) = session.filter(|_| !again) else {
        if prompt.contains(&"none") {
            return refuse("login_required", "the person is not logged in");
        }
        // The scan login, then back here with the same request (minus the prompts this
        // very login honours).
        let back = format!("/oauth/authorize?{}", without_prompts_honoured(&query));
        let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
        let again = if again { "&again=1" } else { "" };
        // `ui_locales`: the login page in the first of them we have (the language switch's
        // `lang`).
        let lang = param("ui_locales")
            .and_then(|tags| crate::server::locale::from_ui_locales(tags))
            .map(|locale| format!("&lang={}", locale.tag()))
            .unwrap_or_default();
        return Redirect::to(&format!("/login?next={next}{again}{lang}")).into_response();
    };
    // The client's group rule, for a person already logged in (a scan for it is refused
    // on the phone).
    match crate::server::access::may_use_client(state, user.id, &client.id).await {
        Ok(true) => {}
        Ok(false) => {
            let entry = Entry::new(Event::AccessDenied, origin)
                .user(user.id)
                .client(&client.id)
                .refused(crate::protocol::Refusal::NotAllowed.as_str());
            audit::record(state, entry).await;
            return refuse("access_denied", "the person may not use this application");
        }
        Err(err) => return error_page_for(err),
    }
    let sid = token.as_deref().map(session::sid_of);
    let grant = grants::Grant {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        user_id: user.id,
        scope: scopes.join(" "),
        nonce: nonce.map(str::to_owned),
        code_challenge: challenge.cloned(),
        auth_time,
        sid,
    };
    let issued = async {
        let code = grants::issue_authorization_code(&state.store, &grant, p.code_ttl).await?;
        // The client is told by back-channel logout when this login session ends.
        if let Some(sid) = &grant.sid {
            let ends = auth_time + state.config.sessions.ttl.as_secs() as i64;
            state
                .store
                .record_session_client(sid, &client.id, user.id, ends)
                .await?;
        }
        Ok::<_, AppError>(code)
    };
    let code = match issued.await {
        Ok(code) => code,
        Err(err) => return error_page_for(err),
    };
    tracing::info!(client_id = %client.id, user_id = user.id, "authorization code issued");
    let entry = Entry::new(Event::CodeIssued, origin)
        .user(user.id)
        .client(&client.id);
    audit::record(state, entry).await;
    answer_client(redirect_uri, &[("code", &code)], client_state, &p.issuer)
}

/// How long after its scan a session's confirmation for a client is taken.
const CONFIRMATION_LIFE_SECS: i64 = 300;

/// The prompts that ask for a new scan.
const ASK_AGAIN: [&str; 3] = ["login", "consent", "select_account"];

/// The query without the prompts that ask for a new scan (the one about to happen is it).
fn without_prompts_honoured(query: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if name == "prompt" {
            let kept: Vec<&str> = value
                .split(' ')
                .filter(|p| !ASK_AGAIN.contains(p) && !p.is_empty())
                .collect();
            if !kept.is_empty() {
                out.append_pair("prompt", &kept.join(" "));
            }
        } else {
            out.append_pair(&name, &value);
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_the_scan_honours_are_dropped_from_the_continuation() {
        assert_eq!(
            without_prompts_honoured("a=1&prompt=login+consent+other&b=2"),
            "a=1&prompt=other&b=2"
        );
        assert_eq!(without_prompts_honoured("prompt=select_account"), "");
    }
}
