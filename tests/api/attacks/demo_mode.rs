//! Hole 1: demo mode switching itself on. Demo mode mounts the simulator, whose control
//! surface mints a `wx.login` code for any openid: a login as anyone. These tests start
//! the real binary (as a deployment would) and the real app.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Output, Stdio},
};

use serde_json::json;

use crate::common::{eventually_blocking, spawn_app, spawn_app_with};

/// The server binary with exactly `vars` as its environment.
fn scanlogin(vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scanlogin"));
    cmd.env_clear()
        .envs(vars.iter().copied())
        .env("SCANLOGIN_DATABASE_URL", "sqlite::memory:")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs the binary, which must refuse to start: it exits by itself, non-zero.
fn refused(vars: &[(&str, &str)]) -> String {
    let mut child = scanlogin(vars).spawn().expect("the binary runs");
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually_blocking(&format!("{vars:?}: the server refuses to start"), || {
            child.try_wait().unwrap().is_some()
        })
    }));
    if waited.is_err() {
        // It started instead: stop it, then fail.
        kill(child);
        panic!("{vars:?}: the server started instead of refusing");
    }
    let Output { status, stderr, .. } = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    assert_eq!(status.code(), Some(2), "{vars:?}: {stderr}");
    stderr
}

#[test]
fn demo_mode_is_refused_where_others_can_reach_the_server() {
    let why = refused(&[("LEPTOS_SITE_ADDR", "0.0.0.0:0")]);
    assert!(
        why.contains("0.0.0.0:0") && why.contains("SCANLOGIN_DEMO=1"),
        "{why}"
    );
    assert!(why.contains("log in as any user"), "says why: {why}");
    let why = refused(&[
        ("LEPTOS_SITE_ADDR", "127.0.0.1:0"),
        ("SCANLOGIN_PUBLIC_ORIGIN", "https://login.example.com"),
    ]);
    assert!(why.contains("SCANLOGIN_PUBLIC_ORIGIN"), "{why}");
    let why = refused(&[
        ("LEPTOS_SITE_ADDR", "127.0.0.1:0"),
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
    ]);
    assert!(why.contains("behind a proxy"), "{why}");
}

#[test]
fn blank_half_or_misspelled_credentials_are_refused_at_start_up() {
    let why = refused(&[
        ("LEPTOS_SITE_ADDR", "127.0.0.1:0"),
        ("SCANLOGIN_WECHAT_APP_ID", "wx0123456789abcdef"),
        ("SCANLOGIN_WECHAT_SECRET", "not-shown-anywhere"),
    ]);
    assert!(
        why.contains("SCANLOGIN_WECHAT_APP_ID is not a scanlogin setting"),
        "{why}"
    );
    assert!(
        why.contains("SCANLOGIN_WECHAT_SECRET is set but SCANLOGIN_WECHAT_APPID is not"),
        "{why}"
    );
    assert!(
        !why.contains("not-shown-anywhere"),
        "no secret in errors: {why}"
    );
    let why = refused(&[
        ("LEPTOS_SITE_ADDR", "127.0.0.1:0"),
        ("SCANLOGIN_WECHAT_APPID", ""),
        ("SCANLOGIN_WECHAT_SECRET", "  "),
    ]);
    assert!(
        why.contains("SCANLOGIN_WECHAT_APPID is set but empty"),
        "{why}"
    );
    assert!(
        why.contains("SCANLOGIN_WECHAT_SECRET is set but empty"),
        "{why}"
    );
    let why = refused(&[
        ("LEPTOS_SITE_ADDR", "127.0.0.1:0"),
        ("SCANLOGIN_TRUST_PROXY", "true"),
    ]);
    assert!(why.contains("use SCANLOGIN_TRUSTED_PROXIES"), "{why}");
}

#[test]
fn the_server_says_what_it_is_and_warns_in_demo_mode() {
    let mut child = scanlogin(&[("LEPTOS_SITE_ADDR", "127.0.0.1:0"), ("RUST_LOG", "info")])
        .spawn()
        .expect("the binary runs");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let done = line.contains("scanlogin listening");
        seen.push(line);
        if done {
            break;
        }
    }
    kill(child);
    let all = seen.join("\n");
    let starting = seen
        .iter()
        .find(|l| l.contains("scanlogin starting"))
        .unwrap_or_else(|| panic!("{all}"));
    for field in [
        "mode=\"demo (nothing configured, loopback only)\"",
        "listen=127.0.0.1:",
        "public_origin=",
        "database=sqlite::memory:",
        "code_budget_per_min=4000",
        "max_connections=",
        "header_timeout_secs=10",
        "descriptors_hard=",
    ] {
        assert!(starting.contains(field), "{field} missing: {starting}");
    }
    assert!(
        seen.iter()
            .any(|l| l.contains("WARN") && l.contains("can log in as any user")),
        "{all}"
    );
}

#[tokio::test]
async fn the_simulator_control_surface_opens_only_when_asked_for() {
    // Asked for on purpose, it is open (a phone on the network plays the mini program);
    // in automatic demo mode the next test shows it closed to anything forwarded.
    let open = spawn_app_with(&[
        ("SCANLOGIN_DEMO", "1"),
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let status = open
        .http
        .post(open.url("/__wechat/__sim/login_code"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"openid": "o-demo"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn automatic_demo_mode_refuses_what_a_forwarder_brings() {
    // A forwarder on this machine (ssh -R, a tunnel client, socat, nginx without
    // SCANLOGIN_TRUSTED_PROXIES) connects from loopback; what gives it away is what it
    // adds or passes on. Through it, minting a login code would be a login as anyone.
    let app = spawn_app().await;
    let mint = |path: &'static str, header: Option<(&'static str, &'static str)>| {
        let mut req = app
            .http
            .post(app.url(path))
            .json(&json!({"openid": "o-victim"}));
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    // The demo phone's minting, and the simulator's control surface.
    for path in ["/api/demo/login_code", "/__wechat/__sim/login_code"] {
        for forwarded in [
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-for", "127.0.0.1"),
            ("forwarded", "for=203.0.113.9"),
            ("x-real-ip", "203.0.113.9"),
            ("host", "abc.trycloudflare.com"),
            ("host", "login.example.com:443"),
        ] {
            let (status, body) = mint(path, Some(forwarded)).await;
            assert_eq!(status, 403, "{path} {forwarded:?}: {body}");
            assert!(
                body.contains("SCANLOGIN_DEMO=1"),
                "says what opens it: {body}"
            );
        }
        assert_eq!(mint(path, Some(("host", "localhost:3000"))).await.0, 200);
        assert_eq!(
            mint(path, None).await.0,
            200,
            "{path}: made on this machine"
        );
    }
    // The page itself, too: nothing of demo mode is served through a forwarder.
    let page = app
        .http
        .get(app.url("/login"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
}

#[tokio::test]
async fn control_requests_pass_the_origin_check() {
    let app = spawn_app_with(&[]).await;
    for (path, body) in [
        (
            "/__wechat/__sim/fault",
            json!({"path": "/wxa/getwxacodeunlimit", "kind": "http500"}),
        ),
        ("/__wechat/__sim/invalidate_token", json!({})),
        ("/__wechat/__sim/login_code", json!({"openid": "o-victim"})),
    ] {
        let res = app
            .http
            .post(app.url(path))
            .header("origin", "https://evil.example")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
    // Nothing was broken: a code is still issued.
    let (scene, key) = (crate::common::flow::id(), crate::common::flow::id());
    assert_eq!(app.code(&scene, &key).await.status, 200);
}

#[tokio::test]
async fn the_demo_phone_exists_only_where_a_simulator_does() {
    let demo = spawn_app_with(&[]).await;
    let minted = demo
        .post_json("/api/demo/login_code", json!({"openid": "demo-alice"}))
        .await;
    assert_eq!(minted.status, 200, "{}", minted.body);
    let real = spawn_app_with(&[
        ("SCANLOGIN_WECHAT_APPID", "wx0123456789abcdef"),
        ("SCANLOGIN_WECHAT_SECRET", "a-real-secret"),
        ("SCANLOGIN_WECHAT_API_BASE", "http://127.0.0.1:9"),
    ])
    .await;
    let refused = real
        .post_json("/api/demo/login_code", json!({"openid": "o-victim"}))
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    let sim = real
        .http
        .get(real.url("/__wechat/__sim/counters"))
        .send()
        .await
        .unwrap();
    assert_eq!(sim.status(), 404, "no simulator with real credentials");
}
