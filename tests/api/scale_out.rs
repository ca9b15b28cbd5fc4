//! Several instances behind a load balancer, on one Redis and one PostgreSQL, both real
//! servers started by the test; WeChat is one simulator of their own, on its own port,
//! that every instance talks to in real-WeChat mode.

use std::time::{Duration, Instant};

use crate::common::{
    config_with, eventually, eventually_within,
    flow::{cookie_pair, expect_event, id, next, pushed_ticket, say_hello, Heard, Socket},
    services::{PostgresServer, RedisServer},
    spawn_app_with_config, TestApp,
};
use scanlogin::server::wechat::simulator::{Simulator, SimulatorConfig, DEMO_APPID, DEMO_SECRET};

/// A WeChat simulator serving on its own loopback port.
struct Wechat {
    sim: Simulator,
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn wechat() -> Wechat {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sim = Simulator::new(SimulatorConfig::demo(
        "http://127.0.0.1:3000".into(),
        vec!["pages/login/login".into()],
    ));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(sim.clone().serve(listener, async move {
        let _ = rx.await;
    }));
    Wechat {
        sim,
        base,
        _stop: tx,
    }
}

impl Wechat {
    fn login_code(&self, openid: &str) -> String {
        self.sim.mint_login_code(openid, None, Duration::ZERO)
    }

    fn token_requests(&self) -> u64 {
        let calls = self.sim.counters().calls;
        calls.get("/cgi-bin/stable_token").copied().unwrap_or(0)
            + calls.get("/cgi-bin/token").copied().unwrap_or(0)
    }
}

/// An instance in real-WeChat mode (the simulator's credentials) on shared Redis and
/// PostgreSQL.
async fn instance(
    wechat: &Wechat,
    redis: &RedisServer,
    database: &str,
    extra: &[(&str, &str)],
) -> TestApp {
    let redis_url = redis.url();
    let mut vars = vec![
        ("SCANLOGIN_WECHAT_APPID", DEMO_APPID),
        ("SCANLOGIN_WECHAT_SECRET", DEMO_SECRET),
        ("SCANLOGIN_WECHAT_API_BASE", wechat.base.as_str()),
        ("SCANLOGIN_REDIS_URL", redis_url.as_str()),
        ("SCANLOGIN_DATABASE_URL", database),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with_config(config_with(&vars)).await
}

/// Two instances of this test's own, on their own Redis, PostgreSQL and simulator.
/// Bind every field when taking it apart (`_name`, not `..`): a field left out is dropped
/// at once, and with it its server.
struct TwoInstances {
    a: TestApp,
    b: TestApp,
    wechat: Wechat,
    redis: RedisServer,
    _postgres: PostgresServer,
}

async fn two_instances(extra: &[(&str, &str)]) -> TwoInstances {
    let (wechat, redis, postgres) = (
        wechat().await,
        RedisServer::start(),
        PostgresServer::start(),
    );
    let database = postgres.database().await;
    let a = instance(&wechat, &redis, &database, extra).await;
    let b = instance(&wechat, &redis, &database, extra).await;
    TwoInstances {
        a,
        b,
        wechat,
        redis,
        _postgres: postgres,
    }
}

async fn scan_on(app: &TestApp, wechat: &Wechat, scene: &str, openid: &str) -> String {
    let scanned = app.scan(scene, &wechat.login_code(openid)).await;
    assert_eq!(scanned.status, 200, "{}", scanned.body);
    scanned.body["data"]["scan_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

impl TwoInstances {
    /// A page on A whose code a phone on B has scanned, its socket past `scanned`: its
    /// scene, key, socket and scan token.
    async fn scanned_across(&self, openid: &str) -> (String, String, Socket, String) {
        let (scene, key) = (id(), id());
        assert_eq!(self.a.code(&scene, &key).await.status, 200);
        let mut socket = self.a.hello(&scene, &key).await;
        let token = scan_on(&self.b, &self.wechat, &scene, openid).await;
        expect_event(&mut socket, "scanned").await;
        (scene, key, socket, token)
    }
}

#[tokio::test]
async fn the_phone_on_one_instance_logs_in_the_browser_on_the_other() {
    let TwoInstances {
        a,
        b,
        wechat,
        redis: _redis,
        _postgres,
    } = two_instances(&[]).await;

    let (scene, key) = (id(), id());
    assert_eq!(a.code(&scene, &key).await.status, 200);
    let mut socket = a.hello(&scene, &key).await;
    // The same browser's second request lands on B: the scene is already there, its own.
    assert_eq!(b.code(&scene, &key).await.status, 200);
    assert_eq!(
        b.code(&scene, &id()).await.status,
        400,
        "another key is refused on B too"
    );

    let token = scan_on(&b, &wechat, &scene, "o-alice").await;
    expect_event(&mut socket, "scanned").await;
    assert_eq!(b.confirm(&scene, &token, "Alice").await.status, 200);
    let ticket = pushed_ticket(&mut socket).await;
    // The ticket is single-use across instances.
    let session = b.session(&scene, &ticket, &key).await;
    assert_eq!(session.status, 200, "{}", session.body);
    assert_eq!(a.session(&scene, &ticket, &key).await.status, 401);
    let cookie = cookie_pair(session.set_cookie.as_deref().unwrap());
    let me = a.get_with_cookie("/api/me", Some(&cookie)).await;
    assert_eq!(
        me.body["user"]["nickname"], "Alice",
        "the session is in PostgreSQL"
    );

    // A socket that reconnects on the other instance catches up at once.
    let (scene, key) = (id(), id());
    a.code(&scene, &key).await;
    let token = scan_on(&a, &wechat, &scene, "o-bob").await;
    let mut late = b.hello(&scene, &key).await;
    expect_event(&mut late, "scanned").await;
    a.cancel(&scene, &token).await;
    expect_event(&mut late, "cancelled").await;
}

#[tokio::test]
async fn limits_and_caps_are_shared_by_every_instance() {
    let limits = [
        ("SCANLOGIN_RATE_CODES_PER_MIN", "4"),
        ("SCANLOGIN_MAX_SCENES_PER_IP", "3"),
    ];
    let TwoInstances {
        a,
        b,
        wechat: _wechat,
        redis: _redis,
        _postgres,
    } = two_instances(&limits).await;
    assert_eq!(a.code(&id(), &id()).await.status, 200);
    assert_eq!(b.code(&id(), &id()).await.status, 200);
    assert_eq!(a.code(&id(), &id()).await.status, 200);
    assert_eq!(
        b.code(&id(), &id()).await.status,
        429,
        "three open scenes in all"
    );
    assert_eq!(
        a.code(&id(), &id()).await.status,
        429,
        "and four codes a minute in all"
    );
}

async fn thousand_codes_one_token(api: &str) {
    let generous = [
        ("SCANLOGIN_WECHAT_TOKEN_API", api),
        ("SCANLOGIN_RATE_CODES_PER_MIN", "100000"),
        ("SCANLOGIN_MAX_SCENES_PER_IP", "100000"),
        ("SCANLOGIN_CODE_BUDGET_PER_MIN", "100000"),
        ("SCANLOGIN_MAX_CONNECTIONS_PER_PEER", "5000"),
    ];
    let TwoInstances {
        a,
        b,
        wechat,
        redis: _redis,
        _postgres,
    } = two_instances(&generous).await;
    let requests = (0..1000).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        async move { app.code(&id(), &id()).await.status }
    });
    let statuses = futures::future::join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        wechat.token_requests(),
        1,
        "{api}: one token for both instances"
    );
}

#[tokio::test]
async fn a_thousand_codes_on_two_instances_on_a_cold_cache_cost_one_stable_token() {
    thousand_codes_one_token("stable_token").await;
}

#[tokio::test]
async fn a_thousand_codes_on_two_instances_on_a_cold_cache_cost_one_classic_token() {
    thousand_codes_one_token("token").await;
}

#[tokio::test]
async fn redis_paused_mid_flow_costs_no_login() {
    let two = two_instances(&[]).await;
    let (scene, key, mut socket, token) = two.scanned_across("o-carol").await;
    let TwoInstances { a, b, redis, .. } = two;

    redis.pause();
    // Meanwhile requests fail at once with a clear 503, never hang.
    let started = Instant::now();
    let refused = b.code(&id(), &id()).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered within the timeout"
    );
    // Paused until the instance has noticed (its readiness check times out on Redis).
    eventually("the instance notices Redis is gone", || async {
        b.get_with_cookie("/readyz", None).await.status == 503
    })
    .await;
    redis.resume();

    // The confirm after the pause goes through (retried while the connection returns).
    eventually_within(
        "the confirm goes through once Redis is back",
        Duration::from_secs(20),
        || async {
            let confirmed = b.confirm(&scene, &token, "Carol").await;
            assert!([200, 503].contains(&confirmed.status), "{}", confirmed.body);
            confirmed.status == 200
        },
    )
    .await;
    let ticket = pushed_ticket(&mut socket).await;
    assert_eq!(a.session(&scene, &ticket, &key).await.status, 200);
}

#[tokio::test]
async fn redis_restarted_empty_loses_scenes_in_flight_but_never_a_session() {
    // One person logged in; another waits on a code.
    let two = two_instances(&[]).await;
    let (scene, key, mut socket, token) = two.scanned_across("o-dave").await;
    let TwoInstances {
        a, b, mut redis, ..
    } = two;
    b.confirm(&scene, &token, "Dave").await;
    let ticket = pushed_ticket(&mut socket).await;
    let session = a.session(&scene, &ticket, &key).await;
    let cookie = cookie_pair(session.set_cookie.as_deref().unwrap());
    let (waiting, waiting_key) = (id(), id());
    a.code(&waiting, &waiting_key).await;
    let mut waiting_socket = a.hello(&waiting, &waiting_key).await;

    redis.restart_empty();

    // The waiting page's socket ends; coming back, it hears that its scene is gone (4401),
    // which makes the page get a fresh code.
    assert!(
        matches!(
            next(&mut waiting_socket, Duration::from_secs(15)).await,
            Heard::Closed(_)
        ),
        "the socket of a lost scene ends"
    );
    let mut again = a.socket_for(&waiting).await;
    say_hello(&mut again, &waiting_key).await;
    assert_eq!(
        next(&mut again, Duration::from_secs(5)).await,
        Heard::Closed(4401)
    );

    // New logins work again within seconds, on both instances; the session survived.
    for app in [&a, &b] {
        eventually_within("logins work again", Duration::from_secs(20), || async {
            app.code(&id(), &id()).await.status == 200
        })
        .await;
    }
    let me = b.get_with_cookie("/api/me", Some(&cookie)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["user"]["nickname"], "Dave");
}

#[tokio::test]
async fn a_confirm_published_while_a_subscription_is_down_still_reaches_the_page() {
    let two = two_instances(&[]).await;
    let (scene, key, mut socket, token) = two.scanned_across("o-erin").await;
    let TwoInstances { a, b, redis, .. } = two;

    // Cut every subscription (A's among them), and confirm before A resubscribes: the
    // event is published to nobody, and A must find it in the scene when it is back.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(killed >= 2, "both instances' subscriptions were cut");
    assert_eq!(b.confirm(&scene, &token, "Erin").await.status, 200);
    let ticket = pushed_ticket(&mut socket).await;
    assert_eq!(a.session(&scene, &ticket, &key).await.status, 200);
}

#[tokio::test]
async fn the_demo_phone_mints_its_codes_at_the_shared_simulator() {
    let TwoInstances {
        a,
        b,
        wechat: _wechat,
        redis: _redis,
        _postgres,
    } = two_instances(&[]).await;
    let (scene, key) = (id(), id());
    a.code(&scene, &key).await;
    let mut socket = a.hello(&scene, &key).await;
    let minted = b
        .post_json(
            "/api/demo/login_code",
            serde_json::json!({"openid": "demo-alice"}),
        )
        .await;
    assert_eq!(minted.status, 200, "{}", minted.body);
    let scanned = b.scan(&scene, minted.body.as_str().unwrap()).await;
    assert_eq!(scanned.status, 200, "{}", scanned.body);
    expect_event(&mut socket, "scanned").await;
}

#[tokio::test]
async fn a_logout_on_one_instance_shuts_the_protected_hosts_on_the_other_at_once() {
    use crate::forward_auth::{rules_file, verify};
    let rules = rules_file();
    let two = two_instances(&[
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
        ("SCANLOGIN_FORWARD_AUTH_RULES", rules.as_str()),
    ])
    .await;
    let (scene, key, mut socket, token) = two.scanned_across("o-forward").await;
    assert_eq!(two.b.confirm(&scene, &token, "Fwd").await.status, 200);
    let ticket = pushed_ticket(&mut socket).await;
    let session = two.a.session(&scene, &ticket, &key).await;
    let cookie = cookie_pair(session.set_cookie.as_deref().unwrap());
    // B has the session in its cache now.
    let passed = verify(&two.b, "app.example.com", "/", Some(&cookie)).await;
    assert_eq!(passed.status(), 200);
    let (status, ..) = two.a.post_form("/logout", Some(&cookie), &[]).await;
    assert_eq!(status, 303);
    // Well within the cache's minute: the logout was pushed to B through Redis.
    eventually_within(
        "B refuses the ended session",
        Duration::from_secs(5),
        || async {
            verify(&two.b, "app.example.com", "/", Some(&cookie))
                .await
                .status()
                == 401
        },
    )
    .await;
}
