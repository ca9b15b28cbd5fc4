//! Operations: health and readiness, request ids, restarts that drop no one, and the
//! configuration explaining itself. The restart test runs the real binary.

use std::{
    net::{Ipv4Addr, SocketAddr},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{
    config_with, eventually, eventually_within,
    flow::{id, say_hello},
    services::{free_port, PostgresServer, RedisServer},
    spawn_app, spawn_app_with, spawn_app_with_config,
};
use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn health_and_readiness_answer_json_without_secrets() {
    let app = spawn_app().await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["redis"], "not configured");
    assert!(body["checks"]["wechat"].is_string());
}

/// `GET /readyz`: its status and body.
async fn readiness(app: &crate::common::TestApp) -> (u16, serde_json::Value) {
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn readiness_turns_red_without_redis_and_green_again() {
    let mut redis = RedisServer::start();
    let mut config = config_with(&[]);
    config.redis = Some(scanlogin::server::config::RedisConfig {
        url: redis.url().into(),
        prefix: "scanlogin:".into(),
    });
    let app = spawn_app_with_config(config).await;
    assert_eq!(readiness(&app).await.0, 200);
    redis.pause();
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["redis"], "failing");
    assert_eq!(body["checks"]["database"], "ok");
    redis.resume();
    redis.restart_empty();
    eventually_within(
        "ready again once Redis is back",
        Duration::from_secs(20),
        || async { readiness(&app).await.0 == 200 },
    )
    .await;
}

#[tokio::test]
async fn readiness_turns_red_without_the_database_and_green_again() {
    let postgres = PostgresServer::start();
    let mut config = config_with(&[]);
    config.database_url = postgres.database().await.into();
    let app = spawn_app_with_config(config).await;
    assert_eq!(readiness(&app).await.0, 200);
    postgres.stop();
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["database"], "failing");
    postgres.start_again();
    eventually_within(
        "ready again once the database is back",
        Duration::from_secs(20),
        || async { readiness(&app).await.0 == 200 },
    )
    .await;
}

/// PostgreSQL forks a process for each connection, which then loads its catalogs: the
/// pool opens all 16 before the app serves, not at the first burst of logins, when the
/// machine is busiest (docs/benchmarks.md, "Two instances on Redis and PostgreSQL").
#[tokio::test]
async fn the_postgresql_pool_is_open_before_the_first_login() {
    use sqlx::Connection;
    let postgres = PostgresServer::start();
    let database = postgres.database().await;
    let mut config = config_with(&[]);
    config.database_url = database.clone().into();
    let _app = spawn_app_with_config(config).await;
    let mut watcher = sqlx::PgConnection::connect(&database).await.unwrap();
    let (open,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND backend_type = 'client backend'
           AND pid <> pg_backend_pid()",
    )
    .fetch_one(&mut watcher)
    .await
    .unwrap();
    assert_eq!(open, 16, "the app's connections open once it serves");
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_only_a_trusted_proxy_chooses_it() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "forged-by-the-client")
        .send()
        .await
        .unwrap();
    let echoed = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(echoed, "forged-by-the-client");
    assert_eq!(echoed.len(), 32, "{echoed}");
    let behind_proxy = spawn_app_with(&[
        ("SCANLOGIN_DEMO", "1"),
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let res = behind_proxy
        .http
        .get(behind_proxy.url("/healthz"))
        .header("x-request-id", "nginx-0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "nginx-0123456789abcdef");
}

#[test]
fn print_config_shows_the_effective_settings_with_secrets_masked() {
    let out = Command::new(env!("CARGO_BIN_EXE_scanlogin"))
        .arg("--print-config")
        .env_clear()
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("SCANLOGIN_WECHAT_APPID", "wx0123456789abcdef")
        .env("SCANLOGIN_WECHAT_SECRET", "do-not-print-me")
        .env(
            "SCANLOGIN_DATABASE_URL",
            "postgres://app:hunter2@db/scanlogin",
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("wx0123456789abcdef"), "{printed}");
    assert!(
        printed.contains("max_connections_per_peer: 256"),
        "{printed}"
    );
    assert!(!printed.contains("do-not-print-me"), "{printed}");
    assert!(!printed.contains("hunter2"), "{printed}");
}

type ClientSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A socket from `127.0.30.x`, introduced with a scene's key.
async fn waiting_socket(addr: SocketAddr, from: Ipv4Addr) -> ClientSocket {
    let (mut ws, key) = socket_for_a_code(addr, from).await;
    say_hello(&mut ws, &key).await;
    ws
}

/// A socket from `127.0.30.x` for a scene it has a code for, and the scene's key; no
/// hello said yet.
async fn socket_for_a_code(addr: SocketAddr, from: Ipv4Addr) -> (ClientSocket, String) {
    let (scene, key) = (id(), id());
    // reqwest is built without a TLS provider of its own (the app installs ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::V4(from))
        .build()
        .unwrap();
    let res = http
        .post(format!("http://{addr}/miniapp/getwxacodeunlimit"))
        .json(&serde_json::json!({"scene": scene, "key": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let url = format!("ws://{addr}/websocket?clientid={scene}");
    let (ws, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    (ws, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_every_waiting_socket_with_1012_and_exits_within_the_deadline() {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_scanlogin"))
        .env_clear()
        .env("LEPTOS_SITE_ADDR", addr.to_string())
        .env("SCANLOGIN_DATABASE_URL", "sqlite::memory:")
        // 500 codes at once: more than the app-wide budget's burst (a tenth of 4,000).
        .env("SCANLOGIN_CODE_BUDGET_PER_MIN", "100000")
        // 500 clients at once in a debug test binary beside the other tests: on 2 cores a
        // client can take longer than the default 10 s to send its request head after
        // connecting, and the server rightly closes it. Deadlines are not this test's subject.
        .env("SCANLOGIN_HEADER_TIMEOUT_SECS", "120")
        // A page whose hello has not come yet hears 1012 at once, not once this is over.
        .env("SCANLOGIN_WS_HELLO_TIMEOUT_SECS", "60")
        // Nor may a scene whose socket is slow to come be dropped meanwhile (it would hear
        // 4401): seen once with a build running beside the suite.
        .env("SCANLOGIN_SOCKET_GRACE_SECS", "600")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    eventually("the server starts", || async {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    })
    .await;
    // 500 waiting pages, 10 from each of 50 addresses (under every per-client limit).
    let mut sockets = futures::future::join_all(
        (0..500).map(|i| waiting_socket(addr, Ipv4Addr::new(127, 0, 30, 1 + (i % 50) as u8))),
    )
    .await;
    // And one that has not said hello.
    let (silent, _) = socket_for_a_code(addr, Ipv4Addr::new(127, 0, 30, 51)).await;
    sockets.push(silent);
    // No wait for the server to read the hellos: a socket hears 1012 whether the signal
    // comes before its hello is read (the socket's task watches for a shutdown before,
    // while and after it waits for the hello) or after.

    let stopped_at = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let codes = futures::future::join_all(sockets.into_iter().map(|mut ws| async move {
        loop {
            match tokio::time::timeout(Duration::from_secs(15), ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => continue,
                _ => return None,
            }
        }
    }))
    .await;
    assert!(
        codes.iter().all(|c| *c == Some(1012)),
        "every socket hears 1012: {:?}",
        codes
            .iter()
            .filter(|c| **c != Some(1012))
            .take(5)
            .collect::<Vec<_>>()
    );
    let mut exit = None;
    eventually("the server exits", || {
        exit = exit.or_else(|| server.try_wait().unwrap());
        std::future::ready(exit.is_some())
    })
    .await;
    assert!(
        stopped_at.elapsed() < Duration::from_secs(12),
        "exits within the 10 s deadline"
    );
    assert!(exit.unwrap().success(), "{exit:?}");
}

/// A machine without a CA bundle (a `FROM scratch` image): demo mode, whose WeChat is the
/// simulator over http, needs none and starts; a real deployment's https WeChat says
/// where it looked.
#[test]
fn without_ca_certificates_demo_mode_starts_and_real_mode_says_where_it_looked() {
    use std::io::{BufRead, BufReader};
    let nowhere = [
        ("SSL_CERT_FILE", "/nonexistent/ca.pem"),
        ("SSL_CERT_DIR", "/nonexistent/certs"),
    ];
    let binary = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_scanlogin"));
        cmd.env_clear()
            .envs(nowhere)
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("SCANLOGIN_DATABASE_URL", "sqlite::memory:")
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        cmd
    };
    let mut demo = binary().spawn().expect("the binary runs");
    let lines = BufReader::new(demo.stderr.take().unwrap()).lines();
    let listening = lines
        .map_while(Result::ok)
        .any(|line| line.contains("scanlogin listening"));
    let _ = demo.kill();
    let _ = demo.wait();
    assert!(listening, "demo mode starts without CA certificates");

    let real = binary()
        .env("SCANLOGIN_WECHAT_APPID", "wx0123456789abcdef")
        .env("SCANLOGIN_WECHAT_SECRET", "not-shown-anywhere")
        .output()
        .expect("the binary runs");
    let said = String::from_utf8_lossy(&real.stderr);
    assert!(!real.status.success(), "{said}");
    assert!(
        said.contains("cannot load this machine's CA certificates")
            && said.contains("SSL_CERT_FILE=/nonexistent/ca.pem"),
        "{said}"
    );
}
