//! `oidcc-refresh-token`: a client allowed `offline_access` gets a refresh token; each
//! refresh rotates it and gives a new ID token for the same person and login; a reused
//! refresh token ends its whole family (RFC 9700 §4.14.2); it is bound to its client.

use super::*;

/// The web client, allowed refresh tokens.
const OFFLINE: &str = "scopes = [\"openid\", \"profile\", \"offline_access\"]\n";

/// The web client's first tokens for the person of `cookie`, asking for `scope`.
async fn first_tokens(app: &TestApp, cookie: &str, scope: &str) -> Value {
    let (status, tokens) = web_token_answer_for(app, cookie, scope).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

async fn refresh(app: &TestApp, refresh_token: &str, client: (&str, &str)) -> (u16, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token_post(app, &form, Some(client)).await
}

fn text<'a>(answer: &'a Value, field: &str) -> &'a str {
    answer[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {answer}"))
}

#[tokio::test]
async fn a_refresh_rotates_the_token_and_keeps_the_person_and_the_login() {
    let (app, _file) = provider_app_with(OFFLINE, &[]).await;
    let cookie = scan_login(&app, "o-refresh", "Refresh").await;
    let first = first_tokens(&app, &cookie, "openid profile offline_access").await;
    let (_, first_id) = verified_jwt(&app, text(&first, "id_token")).await;
    assert!(first_id["sid"].is_string(), "{first_id}");

    let (status, second) = refresh(&app, text(&first, "refresh_token"), ("web", WEB_SECRET)).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(
        text(&second, "refresh_token"),
        text(&first, "refresh_token")
    );
    assert_ne!(text(&second, "access_token"), text(&first, "access_token"));
    assert_eq!(text(&second, "scope"), "openid profile offline_access");
    let (_, id) = verified_jwt(&app, text(&second, "id_token")).await;
    for same in ["sub", "aud", "auth_time", "sid", "name"] {
        assert_eq!(id[same], first_id[same], "{same}");
    }
    assert!(id.get("nonce").is_none());
    assert_eq!(
        userinfo_status(&app, text(&second, "access_token")).await,
        200
    );

    // The next refresh goes on from the new token; the old one is spent.
    let (status, third) = refresh(&app, text(&second, "refresh_token"), ("web", WEB_SECRET)).await;
    assert_eq!(status, 200, "{third}");

    // A narrower scope for the access token; never a wider one.
    let narrower = [
        ("grant_type", "refresh_token"),
        ("refresh_token", text(&third, "refresh_token")),
        ("scope", "openid"),
    ];
    let (status, fourth) = token_post(&app, &narrower, Some(("web", WEB_SECRET))).await;
    assert_eq!((status, text(&fourth, "scope")), (200, "openid"));
    let wider = [
        ("grant_type", "refresh_token"),
        ("refresh_token", text(&fourth, "refresh_token")),
        ("scope", "openid email"),
    ];
    let (status, refused) = token_post(&app, &wider, Some(("web", WEB_SECRET))).await;
    assert_eq!((status, text(&refused, "error")), (400, "invalid_scope"));
    // The refused request did not spend the token: the client's retry is no reuse.
    let (status, _) = refresh(&app, text(&fourth, "refresh_token"), ("web", WEB_SECRET)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_family() {
    let (app, _file) = provider_app_with(OFFLINE, &[]).await;
    let cookie = scan_login(&app, "o-refresh-reuse", "Reuse").await;
    let first = first_tokens(&app, &cookie, "openid offline_access").await;
    let (_, second) = refresh(&app, text(&first, "refresh_token"), ("web", WEB_SECRET)).await;
    // Another login of the same person: another family, untouched.
    let other = first_tokens(&app, &cookie, "openid offline_access").await;

    let (status, refused) = refresh(&app, text(&first, "refresh_token"), ("web", WEB_SECRET)).await;
    assert_eq!((status, text(&refused, "error")), (400, "invalid_grant"));
    let (status, _) = refresh(&app, text(&second, "refresh_token"), ("web", WEB_SECRET)).await;
    assert_eq!(
        status, 400,
        "the family's newest refresh token is revoked too"
    );
    for access in [&first, &second] {
        assert_eq!(
            userinfo_status(&app, text(access, "access_token")).await,
            401
        );
    }
    assert_eq!(
        userinfo_status(&app, text(&other, "access_token")).await,
        200
    );
    let (status, _) = refresh(&app, text(&other, "refresh_token"), ("web", WEB_SECRET)).await;
    assert_eq!(status, 200, "another family is not touched");
}

#[tokio::test]
async fn refresh_tokens_go_only_to_clients_allowed_them_and_stay_theirs() {
    let (app, _file) = provider_app_with(OFFLINE, &[]).await;
    let cookie = scan_login(&app, "o-refresh-bound", "Bound").await;
    let plain = first_tokens(&app, &cookie, "openid").await;
    assert!(plain.get("refresh_token").is_none(), "not asked: {plain}");
    // The public client may not have offline_access: the scope is left out.
    let code = code_for_scope(
        &app,
        &cookie,
        "spa",
        SPA_CB,
        Some(&challenge_of(VERIFIER)),
        "openid offline_access",
    )
    .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", SPA_CB),
        ("client_id", "spa"),
        ("code_verifier", VERIFIER),
    ];
    let (status, spa) = token_post(&app, &form, None).await;
    assert_eq!((status, text(&spa, "scope")), (200, "openid"));
    assert!(spa.get("refresh_token").is_none(), "{spa}");

    // Another client cannot use the web app's refresh token, nor spend it.
    let web = first_tokens(&app, &cookie, "openid offline_access").await;
    let stolen = [
        ("grant_type", "refresh_token"),
        ("refresh_token", text(&web, "refresh_token")),
        ("client_id", "spa"),
    ];
    let (status, refused) = token_post(&app, &stolen, None).await;
    assert_eq!((status, text(&refused, "error")), (400, "invalid_grant"));
    let (status, _) = refresh(&app, text(&web, "refresh_token"), ("web", WEB_SECRET)).await;
    assert_eq!(status, 200, "the refresh token is still its client's");
    let (status, _) = refresh(&app, "made-up", ("web", WEB_SECRET)).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family_and_introspection_knows_it() {
    let (app, _file) = provider_app_with(OFFLINE, &[]).await;
    let cookie = scan_login(&app, "o-refresh-revoke", "Revoke").await;
    let tokens = first_tokens(&app, &cookie, "openid offline_access").await;
    let refresh_token = text(&tokens, "refresh_token");
    let about = [
        ("token", refresh_token),
        ("token_type_hint", "refresh_token"),
    ];
    let (status, found) =
        client_post(&app, "/oauth/introspect", &about, Some(("web", WEB_SECRET))).await;
    assert_eq!(status, 200);
    assert_eq!(found["active"], true);
    assert_eq!(found["token_type"], "refresh_token");
    assert_eq!(found["client_id"], "web");

    let (status, _) = client_post(&app, "/oauth/revoke", &about, Some(("web", WEB_SECRET))).await;
    assert_eq!(status, 200);
    let (status, _) = refresh(&app, refresh_token, ("web", WEB_SECRET)).await;
    assert_eq!(status, 400);
    assert_eq!(
        userinfo_status(&app, text(&tokens, "access_token")).await,
        401,
        "the access token of the same grant is revoked with it (RFC 7009 §2.1)"
    );
    let (_, found) =
        client_post(&app, "/oauth/introspect", &about, Some(("web", WEB_SECRET))).await;
    assert_eq!(found, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn a_refresh_or_a_revocation_on_one_instance_holds_on_the_other() {
    // Two instances of one deployment: one database, and with Redis one Redis.
    let stores = crate::common::services::SharedStores::new().await;
    let vars = stores.vars();
    let (a, _file_a) = provider_app_with(OFFLINE, &vars).await;
    let (b, _file_b) = provider_app_with(OFFLINE, &vars).await;
    let cookie = scan_login(&a, "o-refresh-two", "Two").await;
    let first = first_tokens(&a, &cookie, "openid offline_access").await;

    let (status, second) = refresh(&b, text(&first, "refresh_token"), ("web", WEB_SECRET)).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        userinfo_status(&a, text(&second, "access_token")).await,
        200
    );
    // The first refresh token was spent on b: reused on a, it ends the family on both.
    let (status, _) = refresh(&a, text(&first, "refresh_token"), ("web", WEB_SECRET)).await;
    assert_eq!(status, 400);
    let (status, _) = refresh(&b, text(&second, "refresh_token"), ("web", WEB_SECRET)).await;
    assert_eq!(status, 400);
    assert_eq!(
        userinfo_status(&b, text(&second, "access_token")).await,
        401
    );

    // Revoked on b, refused on a.
    let fresh = first_tokens(&a, &cookie, "openid offline_access").await;
    let about = [("token", text(&fresh, "refresh_token"))];
    let (status, _) = client_post(&b, "/oauth/revoke", &about, Some(("web", WEB_SECRET))).await;
    assert_eq!(status, 200);
    let (status, _) = refresh(&a, text(&fresh, "refresh_token"), ("web", WEB_SECRET)).await;
    assert_eq!(status, 400);
    assert_eq!(userinfo_status(&a, text(&fresh, "access_token")).await, 401);
}
