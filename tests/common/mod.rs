//! Starts the real application on a free loopback port for a test.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod flow;
pub mod services;

#[allow(unused_imports)] // each test binary uses its own part of this module
pub use wait::{eventually, eventually_blocking, eventually_within};

mod wait;

use std::{collections::HashMap, net::SocketAddr};

use scanlogin::server::{Application, Config};

pub struct TestApp {
    pub addr: SocketAddr,
    /// The server's open connections, upgraded sockets included.
    pub open_connections: scanlogin::server::connections::OpenConnections,
    pub http: reqwest::Client,
    /// The app's database.
    pub store: scanlogin::server::store::Store,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// This app's own Redis, when the suite runs against Redis and PostgreSQL.
    redis: Option<services::RedisServer>,
}

/// Which registry and database the suite runs against: in memory and SQLite (the
/// default), or `TEST_BACKEND=redis-postgres` (the Makefile runs both).
pub fn backend_is_redis_postgres() -> bool {
    std::env::var("TEST_BACKEND").is_ok_and(|b| b == "redis-postgres")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The user the demo WeChat identity `openid` belongs to, if it has logged in.
    pub async fn user_id(&self, openid: &str) -> Option<i64> {
        let standing = self.store.standing(
            scanlogin::server::wechat::simulator::DEMO_APPID,
            openid,
            None,
        );
        standing.await.unwrap().map(|s| s.user_id)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The test configuration with `vars` as its environment.
pub fn config_with(vars: &[(&str, &str)]) -> Config {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::for_tests(vars).expect("test config")
}

/// Starts the app in demo mode with `vars` as its environment.
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    spawn_app_with_config(config_with(vars)).await
}

/// Starts the app with a configuration the test made (or changed) itself.
pub async fn spawn_app_with_config(mut config: Config) -> TestApp {
    let mut redis = None;
    if backend_is_redis_postgres() && config.redis.is_none() {
        let server = services::RedisServer::start();
        config.redis = Some(scanlogin::server::config::RedisConfig {
            url: server.url().into(),
            prefix: "scanlogin:".into(),
        });
        config.database_url = services::shared_postgres_database().await.into();
        redis = Some(server);
    }
    let app = Application::build(config).await.expect("app starts");
    let addr = app.local_addr();
    let open_connections = app.open_connections();
    let store = app.store();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        open_connections,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A request that never ends fails the test and names itself, instead of
            // holding the suite (and CI) until it is killed. Longer than any long poll.
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("http client"),
        store,
        shutdown: Some(tx),
        redis,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}
