//! Forward authentication as a reverse proxy uses it: `/auth/verify` about each request
//! to a protected host (200 with the person's headers, 401 to the login with `rd`, 403),
//! the login's way back to `rd` and nowhere else, the shared cookie, and logout.

use serde_json::json;

use crate::{
    admin::{act, first_admin},
    common::{
        flow::{confirmed_ticket, cookie_pair, id, logged_in},
        spawn_app_with, TestApp,
    },
};

const RULES: &str = r#"
[[rule]]
host = "app.example.com"
allow = "anyone"

[[rule]]
host = "docs.example.com"
groups = ["staff"]
"#;

/// A file of `RULES`.
pub fn rules_file() -> String {
    let rules = std::env::temp_dir().join(format!("scanlogin-rules-{}.toml", id()));
    std::fs::write(&rules, RULES).unwrap();
    rules.display().to_string()
}

/// An app with `RULES`, trusting 127.0.0.1 as its proxy, and `extra` settings.
async fn protecting(extra: &[(&str, &str)]) -> TestApp {
    let rules = rules_file();
    let mut vars = vec![
        ("SCANLOGIN_DEMO", "1"),
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
        ("SCANLOGIN_FORWARD_AUTH_RULES", rules.as_str()),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// What the proxy asks about `GET host uri`, with the browser's `cookie`.
pub async fn verify(
    app: &TestApp,
    host: &str,
    uri: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .get(app.url("/auth/verify"))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", uri)
        .header("x-forwarded-method", "GET");
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    req.send().await.unwrap()
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_person_passes_with_their_headers_and_is_sent_to_log_in_without_a_session() {
    let app = protecting(&[]).await;
    let anonymous = verify(&app, "app.example.com", "/reports?q=1", None).await;
    assert_eq!(anonymous.status(), 401);
    let rd = "https%3A%2F%2Fapp.example.com%2Freports%3Fq%3D1";
    assert_eq!(
        header(&anonymous, "location"),
        format!("http://{}/login?rd={rd}", app.addr)
    );

    // A path is taken whole, commas and all; nginx sites may send the URL instead.
    let commas = verify(&app, "app.example.com", "/a,b?c=1,2", None).await;
    assert!(
        header(&commas, "location")
            .ends_with("rd=https%3A%2F%2Fapp.example.com%2Fa%2Cb%3Fc%3D1%2C2"),
        "{}",
        header(&commas, "location")
    );
    let original_url = app
        .http
        .get(app.url("/auth/verify"))
        .header("x-forwarded-host", "app.example.com")
        .header("x-original-url", "https://app.example.com/x?y=1")
        .send()
        .await
        .unwrap();
    assert!(
        header(&original_url, "location").ends_with("rd=https%3A%2F%2Fapp.example.com%2Fx%3Fy%3D1")
    );

    // For proxies that pass the answer on as it is (Traefik): a redirect.
    let redirected = app
        .http
        .get(app.url("/auth/verify?redirect=1"))
        .header("x-forwarded-host", "app.example.com")
        .header("x-forwarded-uri", "/reports?q=1")
        .send()
        .await
        .unwrap();
    assert_eq!(redirected.status(), 302);
    assert_eq!(
        header(&redirected, "location"),
        header(&anonymous, "location")
    );

    let cookie = logged_in(&app, "o-fa-alice", "爱丽丝").await;
    let passed = verify(&app, "app.example.com", "/reports?q=1", Some(&cookie)).await;
    assert_eq!(passed.status(), 200);
    let user = app.user_id("o-fa-alice").await.unwrap();
    assert_eq!(header(&passed, "x-scanlogin-user"), user.to_string());
    assert_eq!(header(&passed, "x-scanlogin-name"), "爱丽丝");
    assert_eq!(header(&passed, "x-scanlogin-groups"), "");

    // docs is for the staff group: a 403 page that names the person, in their language.
    let refused = app
        .http
        .get(app.url("/auth/verify"))
        .header("x-forwarded-host", "docs.example.com")
        .header("cookie", &cookie)
        .header("accept-language", "zh-CN")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("无权访问") && page.contains("爱丽丝"),
        "{page}"
    );

    // A host no rule names: refused, logged in or not.
    for cookie in [None, Some(cookie.as_str())] {
        let unnamed = verify(&app, "intranet.example.com", "/", cookie).await;
        assert_eq!(unnamed.status(), 403);
    }
}

#[tokio::test]
async fn joining_a_group_lets_a_person_in_at_once_and_leaving_it_shuts_them_out() {
    let app = protecting(&[]).await;
    let (admin, _) = first_admin(&app, "o-fa-admin").await;
    let cookie = logged_in(&app, "o-fa-bob", "Bob").await;
    let bob = app.user_id("o-fa-bob").await.unwrap();
    assert_eq!(
        verify(&app, "docs.example.com", "/", Some(&cookie))
            .await
            .status(),
        403
    );
    let made = act(
        &app,
        &admin,
        json!({"action": "create_group", "name": "staff"}),
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let group = app.store.groups().await.unwrap()[0].id;
    // Each answer a moment after one that was cached: the console's change reached it.
    for (member, expected) in [(true, 200), (false, 403)] {
        let action =
            json!({"action": "set_member", "group_id": group, "user_id": bob, "member": member});
        assert_eq!(act(&app, &admin, action).await.status, 200);
        let answer = verify(&app, "docs.example.com", "/", Some(&cookie)).await;
        assert_eq!(answer.status(), expected, "member: {member}");
        if expected == 200 {
            assert_eq!(header(&answer, "x-scanlogin-groups"), "staff");
        }
    }
}

#[tokio::test]
async fn only_a_trusted_proxy_is_believed() {
    // 127.0.0.1 is no proxy of this server's: what it says of a request means nothing.
    let app = protecting(&[("SCANLOGIN_TRUSTED_PROXIES", "10.0.0.1")]).await;
    let cookie = logged_in(&app, "o-fa-carol", "Carol").await;
    let answer = verify(&app, "app.example.com", "/", Some(&cookie)).await;
    assert_eq!(answer.status(), 403);
    assert_eq!(header(&answer, "x-scanlogin-user"), "");
}

#[tokio::test]
async fn the_login_returns_only_to_a_protected_host() {
    let app = protecting(&[]).await;
    let back = "https://app.example.com/reports?q=1";
    let login = app
        .get_with_cookie(&format!("/login?rd={}", enc(back)), None)
        .await;
    assert_eq!(login.status, 303, "{}", login.body);
    let to_login = app
        .http
        .get(app.url(&format!("/login?rd={}", enc(back))))
        .send()
        .await
        .unwrap();
    let next = format!("/auth/continue?rd={}", enc(back));
    assert_eq!(
        header(&to_login, "location"),
        format!("/login?next={}", enc(&next))
    );
    let cookie = logged_in(&app, "o-fa-dan", "Dan").await;
    let continued = app
        .http
        .get(app.url(&format!("/auth/continue?rd={}", enc(back))))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(continued.status(), 303);
    assert_eq!(header(&continued, "location"), back);
    // Without a session, the way back is the login again.
    let anonymous = app
        .get_with_cookie(&format!("/auth/continue?rd={}", enc(back)), None)
        .await;
    assert_eq!(anonymous.status, 303);

    for evil in [
        "https://evil.example.net/",
        "https://app.example.com.evil.example.net/",
        "https://app.example.com@evil.example.net/",
        "//evil.example.net/",
        "javascript:alert(1)",
        "/relative",
    ] {
        for path in ["/login", "/auth/continue"] {
            let refused = app
                .http
                .get(app.url(&format!("{path}?rd={}", enc(evil))))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 400, "{path} {evil}");
            assert!(refused.headers().get("location").is_none(), "{path} {evil}");
        }
    }
}

#[tokio::test]
async fn logout_ends_the_session_for_every_protected_host_at_once() {
    let app = protecting(&[]).await;
    let cookie = logged_in(&app, "o-fa-erin", "Erin").await;
    assert_eq!(
        verify(&app, "app.example.com", "/", Some(&cookie))
            .await
            .status(),
        200
    );
    let back = "https://app.example.com/";
    let page = app
        .get_with_cookie(&format!("/logout?rd={}", enc(back)), Some(&cookie))
        .await;
    assert_eq!(page.status, 200);
    // A link alone logs nobody out: the page asks.
    assert_eq!(
        verify(&app, "app.example.com", "/", Some(&cookie))
            .await
            .status(),
        200
    );
    let (status, location, set_cookie) = app
        .post_form("/logout", Some(&cookie), &[("rd", back)])
        .await;
    assert_eq!((status, location.as_str()), (303, back));
    assert!(set_cookie.unwrap().contains("Max-Age=0"));
    // Cached a moment ago, refused now: the logout reached the cache.
    assert_eq!(
        verify(&app, "app.example.com", "/", Some(&cookie))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn with_a_cookie_domain_the_session_cookie_reaches_every_protected_host() {
    let app = protecting(&[
        ("SCANLOGIN_PUBLIC_ORIGIN", "https://login.example.com"),
        ("SCANLOGIN_COOKIE_DOMAIN", ".example.com"),
    ])
    .await;
    let (scene, key, ticket) = confirmed_ticket(&app, "o-fa-fay", "Fay").await;
    let session = app.session(&scene, &ticket, &key).await;
    let set_cookie = session.set_cookie.unwrap();
    assert!(
        set_cookie.starts_with("__Secure-scanlogin_session="),
        "{set_cookie}"
    );
    for attribute in [
        "Domain=example.com",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
    }
    let cookie = cookie_pair(&set_cookie);
    for (host, expected) in [("app.example.com", 200), ("docs.example.com", 403)] {
        let status = verify(&app, host, "/", Some(&cookie)).await.status();
        assert_eq!(status, expected, "{host}");
    }
    // A session made before the domain was set is in a `__Host-` cookie, which never
    // reaches the protected hosts: the way back to one gives it the shared cookie.
    let old = cookie.replace("__Secure-", "__Host-");
    let back = "https://app.example.com/";
    let continued = app
        .http
        .get(app.url(&format!("/auth/continue?rd={}", enc(back))))
        .header("cookie", &old)
        .send()
        .await
        .unwrap();
    assert_eq!(continued.status(), 303);
    let shared = header(&continued, "set-cookie");
    assert!(shared.starts_with(&cookie), "{shared}");
    assert!(shared.contains("Domain=example.com"), "{shared}");
    assert_eq!(
        verify(&app, "app.example.com", "/", None).await.status(),
        401
    );
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
