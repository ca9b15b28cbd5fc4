//! `POST /oauth/token`: an authorization code for an ID token (RS256, [`super::keys`]) and
//! an access token ([`super::grants`]), and a refresh token when the client may have one
//! and asked for `offline_access`; a refresh token for new ones (a new ID token with the
//! same `sub` and `auth_time`, and the next refresh token: see [`super::grants`] for
//! rotation). Exempt from the browser `Origin` check, with CORS for the origins of public
//! clients' redirect URIs.
//!
//! What it costs, and who pays: a confidential client's secret is an argon2 hash (19 MiB,
//! t=2), so it is checked only once the request is well formed and its grant type is one
//! we take, a few at a time (at most one per core: [`SecretChecks`]), and never for an
//! address whose failed authentications are over their rate. A relying party that
//! authenticates is limited per client (`SCANLOGIN_OIDC_TOKENS_PER_CLIENT_PER_MIN`), not
//! per address: a company's Grafana logs everyone in from one address. A redemption that
//! fails (a wrong PKCE verifier or redirect URI) leaves the code as it was.

use axum::{
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Form, Json,
};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    clients::Client,
    error::OAuthError,
    grants::{self, CodeRefused, RefreshRefused},
    keys, picture, Provider, ProviderOf,
};
use crate::server::{
    audit::{self, Entry, Event, Origin},
    context::{AppState, Client as Caller},
    error::AppError,
    store::unix_now,
};

/// Argon2 checks at once, in all: one per core, so that a flood of wrong secrets waits
/// for its turn instead of taking every core and the memory of hundreds of hashes.
///
/// They run on threads of their own, one per turn, each with argon2's 19 MiB of working
/// memory kept and reused. On the blocking pool, each check allocated and freed its 19
/// MiB, and glibc, after the first such block, keeps freed blocks that large in the heap
/// of the thread that freed them: 500 wrong secrets checked two at a time left 23 threads
/// holding 19 MiB each, 439 MiB (`loadgen wrong-secrets`).
#[derive(Debug)]
pub struct SecretChecks {
    turns: tokio::sync::Semaphore,
    checkers: std::sync::mpsc::SyncSender<SecretCheck>,
}

/// A secret for a check thread, and where its answer goes.
type SecretCheck = (Client, String, tokio::sync::oneshot::Sender<bool>);

impl SecretChecks {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let (checkers, checks) = std::sync::mpsc::sync_channel::<SecretCheck>(cores);
        let checks = std::sync::Arc::new(std::sync::Mutex::new(checks));
        for n in 0..cores {
            let checks = checks.clone();
            // The threads end when the sender does (with the app's state).
            let spawned = std::thread::Builder::new()
                .name(format!("secret-check-{n}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        let next = checks.lock().map(|c| c.recv());
                        let Ok(Ok((client, secret, answer))) = next else {
                            return;
                        };
                        let _ = answer.send(client.secret_matches_in(&secret, &mut memory));
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(%err, "cannot start a secret-check thread");
            }
        }
        Self {
            turns: tokio::sync::Semaphore::new(cores),
            checkers,
        }
    }

    /// Checks `secret` when its turn comes, if `caller` may still try then (a flood of
    /// wrong secrets from one address is refused as soon as it is over its rate, however
    /// many of its requests were already waiting).
    async fn matches(
        &self,
        limits: &crate::server::limits::Limits,
        caller: &Caller,
        client: &Client,
        secret: String,
    ) -> Result<bool, AppError> {
        let _turn = self.turns.acquire().await.map_err(|_| AppError::Busy)?;
        limits.auth_failures_allow(caller.key).await?;
        // argon2 is deliberately slow: off the async workers, on a check thread (a turn
        // holder never waits for one: there are as many as turns).
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.checkers
            .try_send((client.clone(), secret, answer))
            .map_err(|_| AppError::Busy)?;
        answered
            .await
            .map_err(|_| AppError::Internal("a secret-check thread stopped".into()))
    }
}

impl Default for SecretChecks {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Deserialize)]
pub(super) struct TokenRequest {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
}

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: String,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    picture: Option<String>,
}

/// `client_secret_basic`: the id and secret from `Authorization: Basic` (each
/// form-urlencoded first, RFC 6749 §2.3.1).
pub(super) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// The client a request authenticates as, by Basic authentication or by the body (never
/// both): its id and the secret it gave.
pub(super) fn claimed_client(
    headers: &HeaderMap,
    client_id: Option<&String>,
    client_secret: Option<&String>,
) -> Result<(String, Option<String>), OAuthError> {
    let (id, secret) = match (basic_credentials(headers), client_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::bad_request(
                "invalid_request",
                "use one client authentication method",
            ))
        }
        (Some((id, secret)), None) => (id, Some(secret)),
        (None, secret) => match client_id {
            Some(id) => (id.clone(), secret.cloned()),
            None => return Err(OAuthError::invalid_client()),
        },
    };
    if client_id.is_some_and(|body_id| *body_id != id) {
        return Err(OAuthError::invalid_client());
    }
    Ok((id, secret))
}

/// Authenticates the client (see the module's documentation for what that costs whom).
pub(super) async fn authenticate<'p>(
    state: &AppState,
    p: &'p Provider,
    caller: &Caller,
    (client_id, secret): (String, Option<String>),
) -> Result<&'p Client, OAuthError> {
    state.limits.auth_failures_allow(caller.key).await?;
    let client = p.clients.get(&client_id);
    let authenticated = match (client, secret) {
        (Some(client), None) if client.is_public() => true,
        (Some(client), Some(secret)) if !client.is_public() => {
            state
                .secret_checks
                .matches(&state.limits, caller, client, secret)
                .await?
        }
        _ => false,
    };
    match client.filter(|_| authenticated) {
        Some(client) => {
            state.limits.check_oidc_client(&client.id).await?;
            Ok(client)
        }
        None => {
            state.limits.count_auth_failure(caller.key).await?;
            Err(OAuthError::invalid_client())
        }
    }
}

/// A request about one token (revocation, introspection): the token, a hint of its type,
/// and the client's credentials.
#[derive(Deserialize)]
pub(super) struct AboutToken {
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The client of a request about a token, authenticated and limited as for a token, with
/// the token it names and the hint of its type.
pub(super) async fn client_asking_about<'p>(
    state: &AppState,
    p: &'p Provider,
    peer: std::net::SocketAddr,
    headers: &HeaderMap,
    form: Result<Form<AboutToken>, axum::extract::rejection::FormRejection>,
) -> Result<(&'p Client, String, Option<String>), OAuthError> {
    let caller = Caller::resolve(state, headers, peer.ip());
    let Ok(Form(req)) = form else {
        return Err(not_a_form());
    };
    let claimed = claimed_client(headers, req.client_id.as_ref(), req.client_secret.as_ref())?;
    let Some(token) = req.token.filter(|t| !t.is_empty()) else {
        return Err(OAuthError::bad_request(
            "invalid_request",
            "token is missing",
        ));
    };
    let client = authenticate(state, p, &caller, claimed).await?;
    Ok((client, token, req.token_type_hint))
}

pub(super) async fn token(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let caller = Caller::resolve(&state, &headers, peer.ip());
    let origin = Origin::of(&headers, caller);
    match token_answer(&state, &p, &caller, &headers, &origin, form).await {
        Ok(json) => no_store(Json(json).into_response()),
        Err(err) => err.into_response(),
    }
}

/// An answer that carries tokens, or facts about them: never cached (RFC 6749 §5.1).
pub(super) fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The answer to a body that is not a form.
pub(super) fn not_a_form() -> OAuthError {
    OAuthError::bad_request(
        "invalid_request",
        "the body must be application/x-www-form-urlencoded",
    )
}

async fn token_answer(
    state: &AppState,
    p: &Provider,
    caller: &Caller,
    headers: &HeaderMap,
    origin: &Origin,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Result<serde_json::Value, OAuthError> {
    let Ok(Form(req)) = form else {
        return Err(not_a_form());
    };
    let bad = OAuthError::bad_request;
    // The request's shape first: a malformed request costs no secret check.
    let claimed = claimed_client(headers, req.client_id.as_ref(), req.client_secret.as_ref())?;
    let token_like = |value: &Option<String>| {
        value
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 128)
            .map(str::to_owned)
    };
    match req.grant_type.as_deref() {
        Some("authorization_code") => {
            let Some(code) = token_like(&req.code) else {
                return Err(bad("invalid_request", "code is missing"));
            };
            let client = authenticate(state, p, caller, claimed).await?;
            let (answer, user_id) = redeem_code(state, p, client, &code, &req).await?;
            record(state, origin, Event::TokenIssued, client, user_id).await;
            Ok(answer)
        }
        Some("refresh_token") => {
            let Some(refresh_token) = token_like(&req.refresh_token) else {
                return Err(bad("invalid_request", "refresh_token is missing"));
            };
            let client = authenticate(state, p, caller, claimed).await?;
            let (answer, user_id) =
                refresh(state, p, client, &refresh_token, req.scope.as_deref()).await?;
            record(state, origin, Event::TokenRefreshed, client, user_id).await;
            Ok(answer)
        }
        _ => Err(bad(
            "unsupported_grant_type",
            "authorization_code or refresh_token",
        )),
    }
}

/// Records tokens issued to `client` for `user_id` in the audit trail.
async fn record(state: &AppState, origin: &Origin, event: Event, client: &Client, user_id: i64) {
    let entry = Entry::new(event, origin).client(&client.id).user(user_id);
    audit::record(state, entry).await;
}

/// `grant_type=authorization_code`.
async fn redeem_code(
    state: &AppState,
    p: &Provider,
    client: &Client,
    code: &str,
    req: &TokenRequest,
) -> Result<(serde_json::Value, i64), OAuthError> {
    let bad = OAuthError::bad_request;
    // The code is checked before it is used up: only the client it was issued to, with
    // its redirect URI and PKCE verifier, takes it.
    let invalid = || {
        bad(
            "invalid_grant",
            "the code is unknown, expired, used, or another client's",
        )
    };
    let Some(grant) = grants::pending_authorization_code(&state.store, code, &client.id).await?
    else {
        // Unknown, expired or another client's; or used before, which revokes.
        return Err(
            match grants::redeem_authorization_code(&state.store, code, &client.id).await? {
                Err(CodeRefused::Reused) => bad("invalid_grant", "the code was used before"),
                _ => invalid(),
            },
        );
    };
    if req.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(bad(
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        ));
    }
    check_pkce(
        grant.code_challenge.as_deref(),
        req.code_verifier.as_deref(),
    )?;
    let grant = match grants::redeem_authorization_code(&state.store, code, &client.id).await? {
        Ok(grant) => grant,
        Err(CodeRefused::Reused) => return Err(bad("invalid_grant", "the code was used before")),
        Err(CodeRefused::Invalid) => return Err(invalid()),
    };
    let Some(user) = state.store.user(grant.user_id).await? else {
        return Err(bad("invalid_grant", "the user no longer exists"));
    };
    let family = crate::server::secret::hash(code);
    let access_token =
        grants::issue_access_token(&state.store, &family, &client.id, user.id, &grant.scope)
            .await?;
    let refresh_token = if has_scope(&grant.scope, OFFLINE_ACCESS) {
        Some(grants::issue_first_refresh_token(&state.store, code, &grant, p.refresh).await?)
    } else {
        None
    };
    let id_token = id_token(
        state,
        p,
        &user,
        IdTokenOf {
            client_id: &client.id,
            scope: &grant.scope,
            auth_time: grant.auth_time,
            nonce: grant.nonce.as_deref(),
            sid: grant.sid.as_deref(),
        },
    )
    .await?;
    tracing::info!(client_id = %client.id, user_id = user.id, "tokens issued");
    let answer = tokens_answer(access_token, id_token, refresh_token, &grant.scope);
    Ok((answer, user.id))
}

/// The scope that makes refresh tokens (OpenID Connect Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";

fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}

/// `grant_type=refresh_token`: the next refresh token, a new access token (for `scope`, a
/// part of the family's, when given; RFC 6749 §6) and a new ID token, with the same `sub`
/// and `auth_time` and no `nonce` (OpenID Connect Core §12.2).
async fn refresh(
    state: &AppState,
    p: &Provider,
    client: &Client,
    token: &str,
    scope: Option<&str>,
) -> Result<(serde_json::Value, i64), OAuthError> {
    let bad = OAuthError::bad_request;
    let asked = scope.map(str::trim).filter(|s| !s.is_empty());
    // The scope is checked before the token is spent: a refused request leaves it, so
    // that the client's retry is not taken for a reuse.
    if let Some(asked) = asked {
        if let Some((family, _)) = grants::refresh_token_details(&state.store, token).await? {
            if family.client_id == client.id
                && !asked.split(' ').all(|s| has_scope(&family.scope, s))
            {
                return Err(bad(
                    "invalid_scope",
                    "a refresh may only narrow the scope it was granted",
                ));
            }
        }
    }
    let (family, next) =
        match grants::rotate_refresh_token(&state.store, token, &client.id, p.refresh).await? {
            Ok(rotated) => rotated,
            Err(RefreshRefused::Reused) => {
                return Err(bad(
                    "invalid_grant",
                    "the refresh token was used before: every token of its login is revoked",
                ))
            }
            Err(RefreshRefused::Invalid) => {
                return Err(bad(
                    "invalid_grant",
                    "the refresh token is unknown, expired, revoked, or another client's",
                ))
            }
        };
    // Checked above against the same family (it cannot change between).
    let scope = asked.map_or_else(|| family.scope.clone(), str::to_owned);
    let Some(user) = state.store.user(family.user_id).await? else {
        state.store.revoke_refresh_family(&family.family).await?;
        return Err(bad("invalid_grant", "the user no longer exists"));
    };
    let access_token =
        grants::issue_access_token(&state.store, &family.family, &client.id, user.id, &scope)
            .await?;
    let id_token = id_token(
        state,
        p,
        &user,
        IdTokenOf {
            client_id: &client.id,
            scope: &scope,
            auth_time: family.auth_time,
            nonce: None,
            sid: family.sid.as_deref(),
        },
    )
    .await?;
    tracing::info!(client_id = %client.id, user_id = user.id, "tokens refreshed");
    Ok((
        tokens_answer(access_token, id_token, Some(next), &scope),
        user.id,
    ))
}

/// What an ID token says besides the user.
struct IdTokenOf<'a> {
    client_id: &'a str,
    scope: &'a str,
    auth_time: i64,
    nonce: Option<&'a str>,
    sid: Option<&'a str>,
}

/// An ID token for `user`, signed with the active key.
async fn id_token(
    state: &AppState,
    p: &Provider,
    user: &crate::protocol::User,
    of: IdTokenOf<'_>,
) -> Result<String, OAuthError> {
    let now = unix_now();
    let profile = has_scope(of.scope, "profile");
    let claims = IdTokenClaims {
        iss: &p.issuer,
        sub: user.id.to_string(),
        aud: of.client_id,
        exp: now + p.id_token_ttl.as_secs() as i64,
        iat: now,
        auth_time: of.auth_time,
        nonce: of.nonce,
        sid: of.sid,
        name: profile
            .then(|| user.nickname.clone())
            .filter(|n| !n.is_empty()),
        picture: profile
            .then(|| picture(&p.issuer, &user.avatar_url))
            .flatten(),
    };
    let key = keys::active(&state.store).await?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(key.kid);
    Ok(jsonwebtoken::encode(&header, &claims, &key.key)
        .map_err(|e| AppError::Internal(format!("signing an ID token: {e}")))?)
}

/// The token endpoint's answer (RFC 6749 §5.1).
fn tokens_answer(
    access_token: String,
    id_token: String,
    refresh_token: Option<String>,
    scope: &str,
) -> serde_json::Value {
    let mut answer = serde_json::json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": grants::ACCESS_TOKEN_TTL.as_secs(),
        "id_token": id_token,
        "scope": scope,
    });
    if let Some(refresh_token) = refresh_token {
        answer["refresh_token"] = refresh_token.into();
    }
    answer
}

/// The PKCE verifier against the code's S256 challenge (RFC 7636 §4.6), in constant time.
fn check_pkce(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    let bad = |description| Err(OAuthError::bad_request("invalid_grant", description));
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (Some(challenge), Some(verifier)) => {
            let well_formed = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            let same: bool =
                subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into();
            if well_formed && same {
                Ok(())
            } else {
                bad("the PKCE code_verifier does not match")
            }
        }
        (Some(_), None) => bad("the PKCE code_verifier is missing"),
        (None, Some(_)) => bad("no PKCE challenge was given for this code"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let raw = base64::engine::general_purpose::STANDARD.encode("my%20app:s%3Acret");
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {raw}").parse().unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("my app".into(), "s:cret".into()))
        );
    }
}
