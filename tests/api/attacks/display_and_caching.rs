//! The rest of the deployment review: pages and answers with user data are never cached,
//! nicknames cannot spoof a display, and avatars are only what the pages can show.

use serde_json::json;

use crate::common::{
    flow::{confirmed_ticket, cookie_pair, id},
    spawn_app,
};

#[tokio::test]
async fn pages_and_answers_with_user_data_are_not_stored() {
    let app = spawn_app().await;
    let (scene, key, ticket) = confirmed_ticket(&app, "o-cache", "Cache").await;
    let session = app.session(&scene, &ticket, &key).await;
    let cookie = cookie_pair(session.set_cookie.as_deref().unwrap());
    for path in ["/", "/login", "/api/me"] {
        let res = app
            .http
            .get(app.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
    }
    let code = app
        .http
        .post(app.url("/miniapp/getwxacodeunlimit"))
        .json(&json!({"scene": id(), "key": id()}))
        .send()
        .await
        .unwrap();
    assert_eq!(code.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn nicknames_cannot_spoof_and_avatars_are_what_the_page_can_show() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let token = app.scan_as(&scene, "o-spoof").await;
    // A phone's temporary file, and a URL of the person's choice, which every page and
    // relying party that shows them would fetch (tracking them, or probing from inside).
    for avatar_url in ["http://tmp/wxfile.jpg", "https://tracker.example/a.png"] {
        let refused = app
            .post_json(
                "/api/mp/confirm",
                json!({"scene": scene, "scan_token": token,
                       "profile": {"nickname": "x", "avatar_url": avatar_url}}),
            )
            .await;
        assert_eq!(refused.status, 400, "{avatar_url}: {}", refused.body);
    }
    let confirmed = app
        .post_json(
            "/api/mp/confirm",
            json!({"scene": scene, "scan_token": token,
                   "profile": {"nickname": "\u{202E}nimda\u{200B}", "avatar_url": "https://thirdwx.qlogo.cn/mmopen/vi_32/a/132"}}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let mut socket = app.hello(&scene, &key).await;
    let ticket = loop {
        match crate::common::flow::next(&mut socket, std::time::Duration::from_secs(5)).await {
            crate::common::flow::Heard::Event(e) if e["type"] == "confirmed" => {
                break e["ticket"].as_str().unwrap().to_owned()
            }
            crate::common::flow::Heard::Event(_) => continue,
            other => panic!("{other:?}"),
        }
    };
    let session = app.session(&scene, &ticket, &key).await;
    assert_eq!(session.body["user"]["nickname"], "nimda");
    assert_eq!(
        session.body["user"]["avatar_url"],
        "https://thirdwx.qlogo.cn/mmopen/vi_32/a/132"
    );
}
