//! The phone sees the application: a login that began at an application's authorization
//! request names that application on the phone ("Grafana wants you to log in"), and a
//! client with `require_consent_per_login` takes only a session whose scan named it, once.

use super::*;
use crate::common::flow::{id, pushed_ticket};

const GRAFANA: &str = "name = \"Grafana\"\nlogo_uri = \"https://grafana.example/logo.svg\"\n";

fn authorize_request(client_id: &str, redirect_uri: &str) -> String {
    let mut url = url::Url::parse("http://x/oauth/authorize").unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid");
    format!("/oauth/authorize?{}", url.query().unwrap())
}

/// A scan login from a login page whose `next` is `next`: what the phone was told, and the
/// browser's session cookie.
async fn scan_login_from(app: &TestApp, next: Option<&str>, openid: &str) -> (Value, String) {
    let (scene, key) = (id(), id());
    let mut asked = serde_json::json!({"scene": scene, "key": key});
    if let Some(next) = next {
        asked["next"] = next.into();
    }
    let code = app.post_json("/miniapp/getwxacodeunlimit", asked).await;
    assert_eq!(code.status, 200, "{}", code.body);
    let mut socket = app.hello(&scene, &key).await;
    let login_code = app.wx_login(openid).await;
    let scanned = app.scan(&scene, &login_code).await;
    assert_eq!(scanned.status, 200, "{}", scanned.body);
    let token = scanned.body["data"]["scan_token"].as_str().unwrap();
    assert_eq!(app.confirm(&scene, token, "Ann").await.status, 200);
    let ticket = pushed_ticket(&mut socket).await;
    let session = app.session(&scene, &ticket, &key).await;
    assert_eq!(session.status, 200, "{}", session.body);
    let cookie = cookie_pair(session.set_cookie.as_deref().unwrap());
    (scanned.body["data"].clone(), cookie)
}

#[tokio::test]
async fn the_phone_names_the_application_a_login_is_for() {
    let (app, _file) = provider_app_with(GRAFANA, &[]).await;
    let next = authorize_request("web", WEB_CB);
    let (told, _) = scan_login_from(&app, Some(&next), "o-app-named").await;
    assert_eq!(
        told["application"],
        serde_json::json!({
            "client_id": "web",
            "name": "Grafana",
            "logo_uri": "https://grafana.example/logo.svg",
        })
    );
    // A client without a name is called by its id.
    let (told, _) =
        scan_login_from(&app, Some(&authorize_request("spa", SPA_CB)), "o-app-id").await;
    assert_eq!(told["application"]["name"], "spa");
    // scanlogin's own login, and a next naming no client of ours, name none.
    for next in [None, Some(authorize_request("nobody", WEB_CB).as_str())] {
        let (told, _) = scan_login_from(&app, next, "o-app-none").await;
        assert!(told.get("application").is_none(), "{told}");
    }
    // A next that is not an authorization request is refused, not ignored.
    let refused = app
        .post_json(
            "/miniapp/getwxacodeunlimit",
            serde_json::json!({"scene": id(), "key": id(), "next": "https://evil.example/"}),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
}

#[tokio::test]
async fn a_client_requiring_consent_per_login_gets_a_scan_naming_it_every_time() {
    let (app, _file) = provider_app_with("require_consent_per_login = true\n", &[]).await;
    let request = authorize_request("web", WEB_CB);
    // Logged in to scanlogin itself: the web app still asks for a scan naming it.
    let (_, cookie) = scan_login_from(&app, None, "o-app-consent").await;
    let res = get(&app, &app.url(&request), Some(&cookie)).await;
    assert_eq!(res.status(), 303);
    let login = location(&res);
    assert!(
        login.starts_with("/login?next=") && login.contains("again=1"),
        "{login}"
    );

    // The scan from that page names it; its session takes the web app once.
    let next = query_param(&format!("http://x{login}"), "next").unwrap();
    let (told, cookie) = scan_login_from(&app, Some(&next), "o-app-consent").await;
    assert_eq!(told["application"]["client_id"], "web");
    let res = get(&app, &app.url(&next), Some(&cookie)).await;
    assert!(location(&res).starts_with(WEB_CB), "{}", location(&res));
    let res = get(&app, &app.url(&request), Some(&cookie)).await;
    assert!(
        location(&res).starts_with("/login?"),
        "the next login to it is a new scan again: {}",
        location(&res)
    );
    // Another client takes the session as it is.
    let code = code_for(&app, &cookie, "spa", SPA_CB, Some(&challenge_of(VERIFIER))).await;
    assert!(!code.is_empty());
}
