//! The login flow's requests, as a browser and a phone make them.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::TestApp;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A random 32-character id, made as the browser makes scene ids and keys.
pub fn id() -> String {
    scanlogin::protocol::id_from_random_bytes(|| scanlogin::server::random::bytes::<1>()[0])
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub set_cookie: Option<String>,
}

impl TestApp {
    pub async fn post_json(&self, path: &str, body: Value) -> Answer {
        self.post_raw(path, "application/json", body.to_string(), None)
            .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        cookie: Option<&str>,
    ) -> Answer {
        let mut req = self
            .http
            .post(self.url(path))
            .header("content-type", content_type)
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            )
            .body(body);
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        answer(req.send().await.unwrap()).await
    }

    pub async fn get_with_cookie(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut req = self.http.get(self.url(path));
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        answer(req.send().await.unwrap()).await
    }

    /// A plain HTML form posted to `path` from our own page: its status, `Location` and
    /// `Set-Cookie`.
    pub async fn post_form(
        &self,
        path: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> (u16, String, Option<String>) {
        let mut req = self
            .http
            .post(self.url(path))
            .header("origin", format!("http://{}", self.addr))
            .form(fields);
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        let res = req.send().await.unwrap();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        (
            res.status().as_u16(),
            header("location").unwrap_or_default(),
            header("set-cookie"),
        )
    }

    /// The browser asks for a code for `scene`, registering it to `key`.
    pub async fn code(&self, scene: &str, key: &str) -> Answer {
        self.post_json(
            "/miniapp/getwxacodeunlimit",
            json!({"scene": scene, "key": key}),
        )
        .await
    }

    /// A code request for `scene` with `X-Forwarded-For: client` (the app reads it only if it
    /// trusts 127.0.0.1 as a proxy) and one fixed key.
    pub async fn code_from(&self, client: &str, scene: &str) -> reqwest::Response {
        self.http
            .post(self.url("/miniapp/getwxacodeunlimit"))
            .header("x-forwarded-for", client)
            .json(&json!({"scene": scene, "key": "K".repeat(32)}))
            .send()
            .await
            .unwrap()
    }

    /// What `wx.login` gives `openid`'s phone.
    pub async fn wx_login(&self, openid: &str) -> String {
        let a = self
            .post_json("/__wechat/__sim/login_code", json!({"openid": openid}))
            .await;
        a.body["code"].as_str().unwrap().to_owned()
    }

    pub async fn scan(&self, scene: &str, code: &str) -> Answer {
        self.post_json("/api/mp/scan", json!({"scene": scene, "code": code}))
            .await
    }

    /// `openid` scans `scene`; returns the scan token.
    pub async fn scan_as(&self, scene: &str, openid: &str) -> String {
        let code = self.wx_login(openid).await;
        let a = self.scan(scene, &code).await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body["data"]["scan_token"].as_str().unwrap().to_owned()
    }

    pub async fn confirm(&self, scene: &str, scan_token: &str, nickname: &str) -> Answer {
        self.confirm_asking(scene, scan_token, nickname, false)
            .await
    }

    /// A confirm whose phone asked the person for a message after the login, or not.
    pub async fn confirm_asking(
        &self,
        scene: &str,
        scan_token: &str,
        nickname: &str,
        notify: bool,
    ) -> Answer {
        self.post_json(
            "/api/mp/confirm",
            json!({"scene": scene, "scan_token": scan_token, "profile": {"nickname": nickname, "avatar_url": ""}, "notify": notify}),
        )
        .await
    }

    /// The WeChat simulator's control surface: POSTs `body` to `/__sim/{path}`.
    pub async fn simulator(&self, path: &str, body: Value) -> Answer {
        self.post_json(&format!("/__wechat/__sim/{path}"), body)
            .await
    }

    pub async fn cancel(&self, scene: &str, scan_token: &str) -> Answer {
        self.post_json(
            "/api/mp/cancel",
            json!({"scene": scene, "scan_token": scan_token}),
        )
        .await
    }

    pub async fn session(&self, scene: &str, ticket: &str, key: &str) -> Answer {
        self.post_json(
            "/api/session",
            json!({"scene": scene, "ticket": ticket, "key": key}),
        )
        .await
    }

    /// A socket on `scene`, not yet introduced.
    pub async fn socket(&self) -> (Socket, String) {
        let scene = id();
        let socket = self.socket_for(&scene).await;
        (socket, scene)
    }

    pub async fn socket_for(&self, scene: &str) -> Socket {
        let url = format!("ws://{}/websocket?clientid={scene}", self.addr);
        tokio_tungstenite::connect_async(url)
            .await
            .expect("socket opens")
            .0
    }

    /// A socket on `scene` that has said hello with `key`.
    pub async fn hello(&self, scene: &str, key: &str) -> Socket {
        let mut socket = self.socket_for(scene).await;
        say_hello(&mut socket, key).await;
        socket
    }
}

/// A whole login up to the ticket: a browser registers a scene and says hello, `openid`
/// scans and confirms as `nickname`. Returns the scene, its key and the pushed ticket.
pub async fn confirmed_ticket(
    app: &TestApp,
    openid: &str,
    nickname: &str,
) -> (String, String, String) {
    confirmed_ticket_asking(app, openid, nickname, false).await
}

/// [`confirmed_ticket`], the phone having asked for a message after the login, or not.
pub async fn confirmed_ticket_asking(
    app: &TestApp,
    openid: &str,
    nickname: &str,
    notify: bool,
) -> (String, String, String) {
    let (scene, key) = (id(), id());
    assert_eq!(app.code(&scene, &key).await.status, 200);
    let mut socket = app.hello(&scene, &key).await;
    let token = app.scan_as(&scene, openid).await;
    let confirmed = app.confirm_asking(&scene, &token, nickname, notify).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let ticket = pushed_ticket(&mut socket).await;
    (scene, key, ticket)
}

/// A whole login: `openid` scans and confirms as `nickname`, and the browser exchanges
/// its ticket. Returns the session cookie's `name=value`.
pub async fn logged_in(app: &TestApp, openid: &str, nickname: &str) -> String {
    logged_in_asking(app, openid, nickname, false).await
}

/// [`logged_in`], the phone having asked for a message after the login, or not.
pub async fn logged_in_asking(app: &TestApp, openid: &str, nickname: &str, notify: bool) -> String {
    let (scene, key, ticket) = confirmed_ticket_asking(app, openid, nickname, notify).await;
    let session = app.session(&scene, &ticket, &key).await;
    assert_eq!(session.status, 200, "{}", session.body);
    cookie_pair(session.set_cookie.as_deref().unwrap())
}

/// A login page's state after a scan: its scene, key and socket, and the phone's answer.
pub struct ScannedPage {
    pub scene: String,
    pub key: String,
    pub socket: Socket,
    pub scanned: Answer,
}

/// A browser's page for a code (with `invitation`, if given) and its socket; then the
/// scan of `openid`, answered but not yet confirmed.
pub async fn scan_from_page(app: &TestApp, openid: &str, invitation: Option<&str>) -> ScannedPage {
    let (scene, key) = (id(), id());
    let mut asked = json!({"scene": scene, "key": key});
    if let Some(token) = invitation {
        asked["invitation"] = Value::from(token);
    }
    let code = app.post_json("/miniapp/getwxacodeunlimit", asked).await;
    assert_eq!(code.status, 200, "{}", code.body);
    let socket = app.hello(&scene, &key).await;
    let login_code = app.wx_login(openid).await;
    let scanned = app.scan(&scene, &login_code).await;
    ScannedPage {
        scene,
        key,
        socket,
        scanned,
    }
}

/// The rest of an admitted scan's login: confirmed as `nickname`, the ticket exchanged.
/// Returns the session cookie's `name=value`.
pub async fn finish_login(app: &TestApp, page: ScannedPage, nickname: &str) -> String {
    let ScannedPage {
        scene,
        key,
        mut socket,
        scanned,
    } = page;
    assert_eq!(scanned.status, 200, "{}", scanned.body);
    let token = scanned.body["data"]["scan_token"].as_str().unwrap();
    let confirmed = app.confirm(&scene, token, nickname).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let ticket = pushed_ticket(&mut socket).await;
    let session = app.session(&scene, &ticket, &key).await;
    assert_eq!(session.status, 200, "{}", session.body);
    cookie_pair(session.set_cookie.as_deref().unwrap())
}

/// The ticket of the `confirmed` event a socket hears next. A socket hears the latest
/// state: one that subscribed after the scan hears `confirmed` alone (the hello is not
/// acknowledged), an earlier one `scanned` first.
pub async fn pushed_ticket(socket: &mut Socket) -> String {
    let mut event = expect_any_event(socket).await;
    if event["type"] == "scanned" {
        event = expect_any_event(socket).await;
    }
    assert_eq!(event["type"], "confirmed", "{event}");
    event["ticket"].as_str().expect("a ticket").to_owned()
}

pub async fn say_hello(socket: &mut Socket, key: &str) {
    let hello = json!({"type": "hello", "key": key}).to_string();
    socket.send(Message::Text(hello.into())).await.unwrap();
}

pub async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status().as_u16();
    let set_cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        body,
        set_cookie,
    }
}

/// What a socket received next.
#[derive(Debug, PartialEq)]
pub enum Heard {
    Event(Value),
    Closed(u16),
    Nothing,
}

pub async fn next(socket: &mut Socket, within: Duration) -> Heard {
    loop {
        match tokio::time::timeout(within, socket.next()).await {
            Err(_) => return Heard::Nothing,
            Ok(None) => return Heard::Closed(1006),
            Ok(Some(Err(_))) => return Heard::Closed(1006),
            Ok(Some(Ok(Message::Text(text)))) => {
                return Heard::Event(serde_json::from_str(&text).unwrap())
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Heard::Closed(frame.map_or(1005, |f| u16::from(f.code)))
            }
            Ok(Some(Ok(_))) => continue,
        }
    }
}

pub async fn expect_any_event(socket: &mut Socket) -> Value {
    match next(socket, Duration::from_secs(5)).await {
        Heard::Event(e) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

pub async fn expect_event(socket: &mut Socket, kind: &str) -> Value {
    match next(socket, Duration::from_secs(5)).await {
        Heard::Event(e) if e["type"] == kind => e,
        other => panic!("expected {kind}, got {other:?}"),
    }
}

/// The `name=value` part of a `Set-Cookie` header.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}
