//! 10,000 malformed requests from a property-based generator: wrong methods, unknown
//! paths, broken and mistyped JSON, wrong content types, bad ids. None may get a 5xx,
//! and every error on the API's paths is JSON.

use std::sync::Arc;

use proptest::prelude::*;

use crate::common::{spawn_app_with, TestApp};

const PATHS: &[&str] = &[
    "/miniapp/getwxacodeunlimit",
    "/api/mp/scan",
    "/api/mp/confirm",
    "/api/mp/cancel",
    "/api/session",
    "/api/me",
    "/api/logout",
    "/api/nope",
    "/miniapp/nope",
    "/websocket",
    "/websocket?clientid=x",
];

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "[A-Za-z0-9]{32}".prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("scene".to_owned()),
                    Just("key".to_owned()),
                    Just("code".to_owned()),
                    Just("scan_token".to_owned()),
                    Just("ticket".to_owned()),
                    Just("profile".to_owned()),
                    Just("nickname".to_owned()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..200),
        "\\{.{0,60}".prop_map(String::into_bytes),
    ]
}

#[derive(Debug, Clone)]
struct Attempt {
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
}

fn attempt() -> impl Strategy<Value = Attempt> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
        prop_oneof![
            prop::sample::select(PATHS.to_vec()).prop_map(str::to_owned),
            "/api/[a-z/]{0,12}",
            "/miniapp/[a-z]{0,12}",
        ],
        prop::sample::select(vec![
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "",
        ]),
        body(),
    )
        .prop_map(|(method, path, content_type, body)| Attempt {
            method,
            path,
            content_type,
            body,
        })
}

async fn send(app: &TestApp, a: &Attempt) -> (u16, String, String) {
    let mut req = app
        .http
        .request(a.method.parse().unwrap(), app.url(&a.path))
        .body(a.body.clone());
    if !a.content_type.is_empty() {
        req = req.header("content-type", a.content_type);
    }
    let res = req.send().await.expect("the server answers");
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    (status, content_type, res.text().await.unwrap_or_default())
}

#[test]
fn ten_thousand_malformed_requests_get_4xx_json_and_never_5xx() {
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
    );
    // Limits high enough that the generator tests the parsers, not the rate limiter.
    let app = runtime.block_on(spawn_app_with(&[
        ("SCANLOGIN_RATE_CODES_PER_MIN", "1000000"),
        ("SCANLOGIN_RATE_SCANS_PER_MIN", "1000000"),
        ("SCANLOGIN_RATE_SESSIONS_PER_MIN", "1000000"),
        ("SCANLOGIN_MAX_SCENES_PER_IP", "1000000"),
    ]));
    let config = ProptestConfig {
        // The parsers are the same on every backend: the second run (Redis + PostgreSQL)
        // checks 1,000 requests against them, the first all 10,000.
        cases: if crate::common::backend_is_redis_postgres() {
            1_000
        } else {
            10_000
        },
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(a in attempt())| {
        let (status, content_type, body) = runtime.block_on(send(&app, &a));
        prop_assert!(status < 500, "{a:?} → {status} {body}");
        let api = a.path.starts_with("/api/") || a.path.starts_with("/miniapp/");
        if api && status >= 400 {
            prop_assert!(content_type.starts_with("application/json"), "{a:?} → {status} {content_type} {body}");
            let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            prop_assert!(json["code"].is_u64() && json["msg"].is_string(), "{a:?} → {body}");
        }
    });
}
