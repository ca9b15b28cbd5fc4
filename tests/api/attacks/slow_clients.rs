//! Hole 3: slow and idle clients holding the server. Half-sent requests, idle keep-alive
//! connections and sockets that never say hello each hold a descriptor; deadlines close
//! them and caps refuse the excess at once, while logins go on.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use crate::common::{
    eventually_within,
    flow::{confirmed_ticket, id, next, Heard, Socket},
    spawn_app_with, TestApp,
};

/// A TCP connection to the app from the loopback address `127.0.a.b`.
async fn connect_from(app: &TestApp, source: Ipv4Addr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    socket.connect(app.addr).await
}

fn source(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(
        127,
        10 + (i / 250) as u8,
        (i % 250) as u8,
        1 + (i % 7) as u8,
    )
}

/// A request head that never ends.
async fn half_open(app: &TestApp, from: Ipv4Addr) -> TcpStream {
    let mut stream = connect_from(app, from).await.expect("connects");
    stream
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

/// A login socket that never says hello.
async fn silent_socket(app: &TestApp, from: Ipv4Addr) -> Socket {
    let stream = connect_from(app, from).await.expect("connects");
    let url = format!("ws://{}/websocket?clientid={}", app.addr, id());
    let (socket, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .expect("upgrades");
    socket
}

/// Whether the server closed `stream` within `within` (reads nothing more, then EOF).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let until_closed = async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(within, until_closed).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_half_open_requests_and_silent_sockets_do_not_stop_a_login() {
    // Deadlines long enough that every slow client is still held during the login.
    let app = spawn_app_with(&[
        ("SCANLOGIN_HEADER_TIMEOUT_SECS", "120"),
        ("SCANLOGIN_WS_HELLO_TIMEOUT_SECS", "120"),
    ])
    .await;
    let started = Instant::now();
    // 2,000 of each, from 400 loopback addresses (5 a piece: under every per-address cap).
    let half_open: Vec<TcpStream> = stream::iter(0..2000)
        .map(|i| half_open(&app, source(i % 400)))
        .buffer_unordered(64)
        .collect()
        .await;
    let silent: Vec<Socket> = stream::iter(0..2000)
        .map(|i| silent_socket(&app, source(400 + i % 400)))
        .buffer_unordered(64)
        .collect()
        .await;
    let opened = started.elapsed();
    assert!(app.open_connections.count() >= 4000);

    let login_started = Instant::now();
    let (scene, key, ticket) = confirmed_ticket(&app, "o-alice", "Alice").await;
    let session = app.session(&scene, &ticket, &key).await;
    assert_eq!(session.status, 200, "{}", session.body);
    let page = app.http.get(app.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    println!(
        "BENCH slow clients: 2,000 half-open requests + 2,000 silent sockets opened in {:?}; \
         a whole login beside them took {:?}",
        opened,
        login_started.elapsed()
    );
    drop(half_open);
    drop(silent);
}

#[tokio::test]
async fn half_sent_requests_and_idle_connections_are_closed_at_their_deadlines() {
    let app = spawn_app_with(&[
        ("SCANLOGIN_HEADER_TIMEOUT_SECS", "1"),
        ("SCANLOGIN_IDLE_TIMEOUT_SECS", "3"),
    ])
    .await;
    // A head that never ends, and a connection that never sends a byte.
    let mut slow = half_open(&app, Ipv4Addr::LOCALHOST).await;
    let mut mute = connect_from(&app, Ipv4Addr::LOCALHOST).await.unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)).await,
        "half-sent head"
    );
    assert!(
        closed_within(&mut mute, Duration::from_secs(5)).await,
        "nothing sent"
    );

    // Keep-alive: idle past the header deadline is fine; past the idle timeout it ends.
    let mut kept = connect_from(&app, Ipv4Addr::LOCALHOST).await.unwrap();
    let request = b"GET /api/me HTTP/1.1\r\nHost: localhost\r\n\r\n";
    kept.write_all(request).await.unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 401"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    // A head that starts now is closed at the header deadline: by then `kept`, idle
    // since before it, has been idle longer than that deadline.
    let mut witness = half_open(&app, Ipv4Addr::LOCALHOST).await;
    assert!(
        closed_within(&mut witness, Duration::from_secs(5)).await,
        "the header deadline passes"
    );
    kept.write_all(request).await.unwrap();
    let n = kept.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 401"),
        "still open after the 1 s header deadline: {}",
        String::from_utf8_lossy(&buf[..n])
    );
    let idle_from = Instant::now();
    assert!(
        closed_within(&mut kept, Duration::from_secs(10)).await,
        "idle timeout"
    );
    assert!(
        idle_from.elapsed() >= Duration::from_secs(2),
        "not before the idle timeout"
    );
}

#[tokio::test]
async fn connection_caps_refuse_new_connections_at_once_and_logins_go_on() {
    let app = spawn_app_with(&[
        ("SCANLOGIN_MAX_CONNECTIONS", "60"),
        ("SCANLOGIN_MAX_CONNECTIONS_PER_PEER", "10"),
    ])
    .await;
    // One address fills its share: the next connection from it is closed at once.
    let from = Ipv4Addr::new(127, 0, 9, 1);
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(half_open(&app, from).await);
    }
    let mut refused = connect_from(&app, from).await.unwrap();
    assert!(
        closed_within(&mut refused, Duration::from_secs(2)).await,
        "per-address cap"
    );

    // Many addresses fill the whole server.
    for i in 0..50 {
        held.push(half_open(&app, Ipv4Addr::new(127, 0, 10, 1 + i)).await);
    }
    let mut refused = connect_from(&app, Ipv4Addr::new(127, 0, 11, 1))
        .await
        .unwrap();
    assert!(
        closed_within(&mut refused, Duration::from_secs(2)).await,
        "total cap"
    );

    // Room again: a login works beside the others.
    held.truncate(55);
    eventually_within("slots are given back", Duration::from_secs(5), || {
        std::future::ready(app.open_connections.count() <= 55)
    })
    .await;
    let (scene, key, ticket) = confirmed_ticket(&app, "o-bob", "Bob").await;
    assert_eq!(app.session(&scene, &ticket, &key).await.status, 200);
}

#[tokio::test]
async fn sockets_that_never_say_hello_are_capped_per_client() {
    let app = spawn_app_with(&[("SCANLOGIN_MAX_PENDING_SOCKETS_PER_CLIENT", "4")]).await;
    let from = Ipv4Addr::new(127, 0, 20, 1);
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(silent_socket(&app, from).await);
    }
    let stream = connect_from(&app, from).await.unwrap();
    let url = format!("ws://{}/websocket?clientid={}", app.addr, id());
    let refused =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 429),
        other => panic!("expected 429, got {other:?}"),
    }
    // Another client is not affected, and an unknown scene still hears 4401 after hello.
    let mut other = silent_socket(&app, Ipv4Addr::new(127, 0, 20, 2)).await;
    crate::common::flow::say_hello(&mut other, &id()).await;
    assert_eq!(
        next(&mut other, Duration::from_secs(5)).await,
        Heard::Closed(4401)
    );
}

/// A request whose body stops after its first byte, as `from`: the server reads the
/// body (the QR image endpoint's handler waits for all of it).
async fn stalled_body(app: &TestApp, from: Ipv4Addr) -> TcpStream {
    let mut stream = connect_from(app, from).await.expect("connects");
    stream
        .write_all(
            b"POST /miniapp/getwxacodeunlimit HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 9000\r\n\r\n{",
        )
        .await
        .unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_stalled_bodies_beside_a_login_on_a_server_capped_at_forty() {
    let body_timeout = Duration::from_secs(2);
    let app = spawn_app_with(&[
        ("SCANLOGIN_MAX_CONNECTIONS", "40"),
        ("SCANLOGIN_BODY_TIMEOUT_SECS", "2"),
    ])
    .await;
    let stalled_at = Instant::now();
    let mut stalled = Vec::new();
    for i in 0..40 {
        stalled.push(stalled_body(&app, source(i)).await);
    }
    eventually_within("every place is taken", body_timeout, || {
        std::future::ready(app.open_connections.count() == 40)
    })
    .await;
    // The stalled bodies are cut at the body deadline: health answers again by then.
    eventually_within("/healthz answers", body_timeout * 3, || async {
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .is_ok_and(|res| res.status() == 200)
    })
    .await;
    let answered = stalled_at.elapsed();
    assert!(
        answered < body_timeout + Duration::from_millis(1500),
        "health answered {answered:?} after the bodies stalled"
    );
    for (i, stream) in stalled.iter_mut().enumerate() {
        assert!(
            closed_within(stream, Duration::from_secs(1)).await,
            "stalled body {i} is closed"
        );
    }
    // A whole login beside them.
    let (scene, key, ticket) = confirmed_ticket(&app, "o-carol", "Carol").await;
    assert_eq!(app.session(&scene, &ticket, &key).await.status, 200);
}

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_at_the_minimum_rate() {
    let app = spawn_app_with(&[("SCANLOGIN_BODY_TIMEOUT_SECS", "2")]).await;
    let mut trickle = stalled_body(&app, Ipv4Addr::LOCALHOST).await;
    // A byte every 300 ms: never a 2 s wait, but far under 8 KiB/s.
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(8) {
        if trickle.write_all(b" ").await.is_err() {
            closed = true;
            break;
        }
        if closed_within(&mut trickle, Duration::from_millis(300)).await {
            closed = true;
            break;
        }
    }
    assert!(closed, "a trickling body is not held for long");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "not before the deadline: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_client_that_takes_no_answer_is_cut_at_the_body_deadline() {
    // Head and idle deadlines far off: only the body deadline may cut it.
    let app = spawn_app_with(&[
        ("SCANLOGIN_BODY_TIMEOUT_SECS", "1"),
        ("SCANLOGIN_HEADER_TIMEOUT_SECS", "60"),
        ("SCANLOGIN_IDLE_TIMEOUT_SECS", "60"),
    ])
    .await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(app.addr).await.unwrap();
    // Pages asked for in one go and never read: the server's writes fill the buffers.
    let page = b"GET /login HTTP/1.1\r\nHost: localhost\r\n\r\n";
    // More than the largest send buffer Linux grows to (4 MiB): about 5 KiB a page.
    stream.write_all(&page.repeat(1500)).await.unwrap();
    eventually_within("the connection is open", Duration::from_secs(5), || {
        std::future::ready(app.open_connections.count() == 1)
    })
    .await;
    eventually_within(
        "the connection that takes no answer is closed",
        Duration::from_secs(40),
        || std::future::ready(app.open_connections.count() == 0),
    )
    .await;
    drop(stream);
}

#[tokio::test]
async fn an_avatar_upload_is_refused_before_its_file_is_read() {
    let app = spawn_app_with(&[]).await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    app.scan_as(&scene, "o-avatar").await;
    // A 2 MB upload with someone else's scan token: the fields, then the file's first
    // bytes, and no more. The server must answer from the fields alone.
    let boundary = "scanlogin-test-boundary";
    let fields = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"scene\"\r\n\r\n{scene}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"scan_token\"\r\n\r\nnot-theirs\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n\u{ff}"
    );
    let head = format!(
        "POST /api/mp/avatar HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 2000000\r\n\r\n"
    );
    let mut stream = connect_from(&app, Ipv4Addr::LOCALHOST).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(fields.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let answered = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await;
    let n = answered.expect("answered before the file came").unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 401"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[tokio::test]
async fn cleartext_http2_is_not_spoken() {
    // HTTP/2 with prior knowledge (h2c): one connection would carry hundreds of streams,
    // each holding the server while the connection counts once. No browser speaks it
    // (they use HTTP/2 over TLS, which the proxy in front ends), so it is refused.
    let app = spawn_app_with(&[]).await;
    let mut stream = connect_from(&app, Ipv4Addr::LOCALHOST).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    // An HTTP/2 server answers with its SETTINGS frame (type 4 in the fourth byte).
    assert!(
        answer.get(3) != Some(&4),
        "an HTTP/2 SETTINGS frame: {answer:?}"
    );
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 4") || answer.starts_with(b"HTTP/1.1 5"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
