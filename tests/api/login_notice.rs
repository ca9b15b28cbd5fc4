//! The WeChat message after a login: sent to the person whose phone asked for it, with
//! the session's browser, address and time, opening the page that ends that session; and
//! never in the way of the login, whatever WeChat answers.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{
    eventually,
    flow::{logged_in_asking, Answer},
    spawn_app, spawn_app_with, TestApp,
};

const SEND: &str = "/cgi-bin/message/subscribe/send";

/// The messages that reached `openid`, newest first.
pub async fn arrived(app: &TestApp, openid: &str) -> Vec<Value> {
    let url = app.url(&format!("/__wechat/__sim/messages?openid={openid}"));
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The person taps "allow" in WeChat's dialog: one message may be sent to them.
async fn allow_one_message(app: &TestApp, openid: &str) {
    let allowed = app
        .simulator("subscribe", json!({ "openid": openid }))
        .await;
    assert_eq!(allowed.status, 204, "{}", allowed.body);
}

/// How many times WeChat answered `errcode`, and was asked to send.
async fn simulator_counts(app: &TestApp, errcode: i64) -> (u64, u64) {
    let res = app
        .http
        .get(app.url("/__wechat/__sim/counters"))
        .send()
        .await;
    let counters: Value = res.unwrap().json().await.unwrap();
    let errors = counters["errors"][errcode.to_string()]
        .as_u64()
        .unwrap_or(0);
    (errors, counters["calls"][SEND].as_u64().unwrap_or(0))
}

/// A mini-program account call by `openid`'s phone, with a fresh login code.
async fn mp_call(app: &TestApp, endpoint: &str, openid: &str, extra: Value) -> Answer {
    let mut body = json!({ "code": app.wx_login(openid).await });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    app.post_json(&format!("/api/mp/{endpoint}"), body).await
}

#[tokio::test]
async fn the_person_who_asked_gets_the_logins_browser_place_and_time_and_can_end_it() {
    let app = spawn_app().await;
    // A login whose phone did not ask: nothing is sent.
    logged_in_asking(&app, "o-notice", "N", false).await;
    allow_one_message(&app, "o-notice").await;
    let cookie = logged_in_asking(&app, "o-notice", "N", true).await;

    eventually("the message arrives", || async {
        !arrived(&app, "o-notice").await.is_empty()
    })
    .await;
    let messages = arrived(&app, "o-notice").await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        simulator_counts(&app, 43101).await,
        (0, 1),
        "one send, for the login that asked"
    );
    let message = &messages[0];
    let account = mp_call(&app, "account", "o-notice", json!({})).await;
    let sessions = account.body["data"]["sessions"].as_array().unwrap();
    let newest = sessions
        .iter()
        .find(|s| {
            message["page"]
                == format!(
                    "pages/account/account?session={}",
                    s["id"].as_str().unwrap()
                )
        })
        .expect("the page names one of the person's sessions");
    assert_eq!(message["data"]["thing2"], newest["browser"]);
    assert_eq!(message["data"]["character_string3"], "127.0.0.1");
    let time = message["data"]["time1"].as_str().unwrap();
    assert!(time.contains('年') && time.contains(':'), "{time}");
    assert_eq!(message["template_id"], "scanlogin-demo-login-notice");

    // "Not me": the page the message opens ends that session.
    let session = newest["id"].as_str().unwrap();
    let ended = mp_call(
        &app,
        "end_session",
        "o-notice",
        json!({ "session": session }),
    )
    .await;
    assert_eq!(ended.status, 200, "{}", ended.body);
    assert_eq!(ended.body["data"]["ended"], 1);
    assert_eq!(
        app.get_with_cookie("/api/me", Some(&cookie)).await.status,
        401
    );
    let again = mp_call(
        &app,
        "end_session",
        "o-notice",
        json!({ "session": session }),
    )
    .await;
    assert_eq!(again.status, 404, "{}", again.body);
    // Nobody else can end it, nor learn whether it exists.
    logged_in_asking(&app, "o-other", "O", false).await;
    let other = logged_in_asking(&app, "o-notice", "N", false).await;
    let account = mp_call(&app, "account", "o-notice", json!({})).await;
    let mine = account.body["data"]["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stranger = mp_call(&app, "end_session", "o-other", json!({ "session": mine })).await;
    assert_eq!(stranger.status, 404, "{}", stranger.body);
    assert_eq!(
        app.get_with_cookie("/api/me", Some(&other)).await.status,
        200
    );
}

#[tokio::test]
async fn a_login_never_waits_for_its_message_nor_fails_with_it() {
    // WeChat given longer than the stall below, so that a login waiting for its message
    // would take all of it.
    let app = spawn_app_with(&[("SCANLOGIN_WECHAT_TIMEOUT_MS", "45000")]).await;
    // Not allowed by the person: WeChat refuses (43101).
    logged_in_asking(&app, "o-declined", "D", true).await;
    eventually("the refusal is WeChat's", || async {
        simulator_counts(&app, 43101).await.0 == 1
    })
    .await;
    // Over the day's quota (45009).
    allow_one_message(&app, "o-quota").await;
    let quota = json!({"path": SEND, "kind": "errcode", "errcode": 45009});
    assert_eq!(app.simulator("fault", quota).await.status, 204);
    logged_in_asking(&app, "o-quota", "Q", true).await;
    eventually("the quota answer is met", || async {
        simulator_counts(&app, 45009).await.0 == 1
    })
    .await;
    // WeChat holding the message far longer than a login takes.
    allow_one_message(&app, "o-slow").await;
    let stall = json!({"path": SEND, "kind": "delay", "delay_ms": 30_000});
    assert_eq!(app.simulator("fault", stall).await.status, 204);
    let started = Instant::now();
    let cookie = logged_in_asking(&app, "o-slow", "S", true).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "the login took {took:?}");
    assert_eq!(
        app.get_with_cookie("/api/me", Some(&cookie)).await.status,
        200
    );
    eventually("each login's message is tried", || async {
        simulator_counts(&app, 0).await.1 == 3
    })
    .await;
}

#[tokio::test]
async fn fields_that_break_the_templates_rules_are_refused_by_wechat_and_the_login_goes_on() {
    // The address put in a field of the template's that does not exist.
    let app = spawn_app_with(&[
        (
            "SCANLOGIN_NOTIFY_TEMPLATE_ID",
            "scanlogin-demo-login-notice",
        ),
        (
            "SCANLOGIN_NOTIFY_FIELDS",
            "time=time1,browser=thing2,place=thing9",
        ),
    ])
    .await;
    allow_one_message(&app, "o-fields").await;
    logged_in_asking(&app, "o-fields", "F", true).await;
    eventually("WeChat refuses the fields", || async {
        simulator_counts(&app, 47003).await.0 == 1
    })
    .await;
    assert!(arrived(&app, "o-fields").await.is_empty());
}
