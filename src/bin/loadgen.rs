//! `loadgen`: a load generator for scanlogin, through the real endpoints, from many
//! loopback source addresses (127.x.y.z), so that per-client limits see many clients.
//!
//! It opens `--pending` logins (code issued, socket open, hello said) and holds them, then
//! completes logins at `--rate` per second for `--seconds` (code, socket, scan, confirm,
//! ticket exchange), recording confirm → `confirmed` latency in an HDR histogram, and
//! samples the server's RSS and CPU from `/proc/<pid>` (`--server-pid`, repeatable). It
//! prints one JSON line and stops by itself. The phone's requests go to `--phone-target`
//! (another instance, for the scale-out figures), the browser's to `--target`.
//!
//! One process holds at most `--pending` + a few hundred descriptors: spread larger loads
//! over processes (`--first-source` keeps their addresses apart).

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{tungstenite::Message, WebSocketStream};

#[derive(Debug, Clone)]
struct Args {
    target: SocketAddr,
    phone_target: SocketAddr,
    pending: usize,
    rate: u32,
    seconds: u64,
    first_source: u32,
    server_pids: Vec<u32>,
    concurrency: usize,
    settle_secs: u64,
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen --target HOST:PORT [--phone-target HOST:PORT] [--pending N] \
         [--rate PER_SEC] [--seconds S] [--first-source N] [--server-pid PID]... [--concurrency N] \
         [--settle-secs S]"
    );
    std::process::exit(2)
}

fn parsed<T: std::str::FromStr>(value: &str) -> T {
    value.parse().unwrap_or_else(|_| usage())
}

fn parse_args() -> Args {
    let mut args = Args {
        target: "127.0.0.1:3000".parse().unwrap(),
        phone_target: "127.0.0.1:3000".parse().unwrap(),
        pending: 100,
        rate: 10,
        seconds: 5,
        first_source: 0,
        server_pids: Vec::new(),
        concurrency: 256,
        settle_secs: 20,
    };
    let mut phone_set = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--target" => args.target = parsed(&value),
            "--phone-target" => {
                args.phone_target = parsed(&value);
                phone_set = true;
            }
            "--pending" => args.pending = parsed(&value),
            "--rate" => args.rate = parsed(&value),
            "--seconds" => args.seconds = parsed(&value),
            "--first-source" => args.first_source = parsed(&value),
            "--server-pid" => args.server_pids.push(parsed(&value)),
            "--concurrency" => args.concurrency = parsed(&value),
            "--settle-secs" => args.settle_secs = parsed(&value),
            _ => usage(),
        }
    }
    if !phone_set {
        args.phone_target = args.target;
    }
    args
}

/// The `n`th loopback source address: 127.1.0.1, 127.1.0.2, ... (never 127.0.0.1).
fn source(n: u32) -> Ipv4Addr {
    let n = n + 1;
    Ipv4Addr::new(127, 1 + (n >> 16) as u8, (n >> 8) as u8, (n & 0xff) as u8)
}

async fn connect(target: SocketAddr, from: Ipv4Addr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    let stream = socket.connect(target).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn random_id() -> String {
    scanlogin::protocol::id_from_random_bytes(|| scanlogin::server::random::bytes::<1>()[0])
}

/// One HTTP/1.1 POST on a new connection from `from`; returns status and JSON body.
async fn post(
    target: SocketAddr,
    from: Ipv4Addr,
    path: &str,
    body: Value,
) -> Result<(u16, Value), String> {
    let stream = connect(target, from).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let request = hyper::Request::post(path)
        .header("host", target.to_string())
        .header("content-type", "application/json")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36",
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, json))
}

type Socket = WebSocketStream<TcpStream>;

/// A page: its code, its socket, its hello.
async fn open_page(target: SocketAddr, from: Ipv4Addr) -> Result<(String, String, Socket), String> {
    let (scene, key) = (random_id(), random_id());
    let (status, body) = post(
        target,
        from,
        "/miniapp/getwxacodeunlimit",
        json!({"scene": scene, "key": key}),
    )
    .await?;
    if status != 200 {
        return Err(format!("code: {status} {body}"));
    }
    let stream = connect(target, from).await.map_err(|e| e.to_string())?;
    let url = format!("ws://{target}/websocket?clientid={scene}");
    let (mut socket, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .map_err(|e| e.to_string())?;
    socket
        .send(Message::Text(
            json!({"type": "hello", "key": key}).to_string().into(),
        ))
        .await
        .map_err(|e| e.to_string())?;
    Ok((scene, key, socket))
}

async fn next_event(socket: &mut Socket, within: Duration) -> Result<Value, String> {
    loop {
        match tokio::time::timeout(within, socket.next()).await {
            Err(_) => return Err("no event in time".into()),
            Ok(None) | Ok(Some(Err(_))) => return Err("socket closed".into()),
            Ok(Some(Ok(Message::Text(text)))) => {
                return serde_json::from_str(&text).map_err(|e| e.to_string())
            }
            Ok(Some(Ok(Message::Close(frame)))) => return Err(format!("closed: {frame:?}")),
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// A whole login; returns confirm → `confirmed` in microseconds.
async fn login(args: &Args, from: Ipv4Addr, n: u64) -> Result<u64, String> {
    let (scene, key, mut socket) = open_page(args.target, from).await?;
    let phone = args.phone_target;
    // The phone is a client of its own too (any 127.x address is this machine).
    let (status, minted) = post(
        phone,
        from,
        "/api/demo/login_code",
        json!({"openid": format!("load-{n}")}),
    )
    .await?;
    let code = minted
        .as_str()
        .ok_or(format!("login code: {status} {minted}"))?;
    let (status, scanned) = post(
        phone,
        from,
        "/api/mp/scan",
        json!({"scene": scene, "code": code}),
    )
    .await?;
    if status != 200 {
        return Err(format!("scan: {status} {scanned}"));
    }
    let token = scanned["data"]["scan_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    next_event(&mut socket, Duration::from_secs(10)).await?; // scanned
    let started = Instant::now();
    let (status, body) = post(
        phone,
        from,
        "/api/mp/confirm",
        json!({"scene": scene, "scan_token": token, "profile": {"nickname": "load", "avatar_url": ""}}),
    )
    .await?;
    if status != 200 {
        return Err(format!("confirm: {status} {body}"));
    }
    let event = next_event(&mut socket, Duration::from_secs(10)).await?;
    let latency = started.elapsed().as_micros() as u64;
    let ticket = event["ticket"].as_str().ok_or("no ticket")?;
    let (status, body) = post(
        args.target,
        from,
        "/api/session",
        json!({"scene": scene, "ticket": ticket, "key": key}),
    )
    .await?;
    if status != 200 {
        return Err(format!("session: {status} {body}"));
    }
    Ok(latency)
}

/// RSS (KiB) and CPU time (clock ticks) of a process.
fn sample(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let cpu = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((rss, cpu))
}

fn samples(pids: &[u32]) -> Vec<(u64, u64)> {
    pids.iter().filter_map(|p| sample(*p)).collect()
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let before = samples(&args.server_pids);

    // Pending logins, each from its own address.
    let opened = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
    let mut tasks = Vec::with_capacity(args.pending);
    for i in 0..args.pending {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let from = source(args.first_source + i as u32);
        let target = args.target;
        tasks.push(tokio::spawn(async move {
            let page = open_page(target, from).await;
            drop(permit);
            page
        }));
    }
    let mut pending = Vec::with_capacity(args.pending);
    let mut open_errors = 0u64;
    let mut first_error = None;
    for task in tasks {
        match task.await.unwrap() {
            Ok(page) => pending.push(page),
            Err(err) => {
                open_errors += 1;
                first_error.get_or_insert(err);
            }
        }
    }
    let open_secs = opened.elapsed().as_secs_f64();
    // Let the server settle before measuring what the pages hold: code images live 15 s
    // after their fetch, and the sweeper gives freed memory back every 5 s.
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let held = samples(&args.server_pids);

    // Logins completing at a steady rate beside them.
    let histogram = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    ));
    let errors = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let login_error = Arc::new(Mutex::new(None::<String>));
    let total = u64::from(args.rate) * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let started = Instant::now();
    let mut logins = Vec::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for n in 0..total {
        tick.tick().await;
        let args = args.clone();
        let (histogram, errors, done, login_error) = (
            histogram.clone(),
            errors.clone(),
            done.clone(),
            login_error.clone(),
        );
        let from = source(args.first_source + args.pending as u32 + n as u32);
        logins.push(tokio::spawn(async move {
            match tokio::time::timeout(Duration::from_secs(30), login(&args, from, n)).await {
                Ok(Ok(latency)) => {
                    let _ = histogram.lock().unwrap().record(latency);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Err(err)) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    login_error.lock().unwrap().get_or_insert(err);
                }
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for login in logins {
        let _ = login.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = samples(&args.server_pids);
    let h = histogram.lock().unwrap();
    let rss_before: u64 = before.iter().map(|s| s.0).sum();
    let rss_held: u64 = held.iter().map(|s| s.0).sum();
    let cpu_ticks: u64 =
        after.iter().map(|s| s.1).sum::<u64>() - held.iter().map(|s| s.1).sum::<u64>();
    let per_login_kib = if pending.is_empty() {
        0.0
    } else {
        rss_held.saturating_sub(rss_before) as f64 / pending.len() as f64
    };
    let report = json!({
        "pending": pending.len(),
        "pending_errors": open_errors,
        "first_pending_error": first_error,
        "open_seconds": open_secs,
        "server_rss_kib_before": rss_before,
        "server_rss_kib_held": rss_held,
        "rss_kib_per_pending_login": per_login_kib,
        "logins_completed": done.load(Ordering::Relaxed),
        "login_errors": errors.load(Ordering::Relaxed),
        "first_login_error": login_error.lock().unwrap().clone(),
        "logins_per_second": done.load(Ordering::Relaxed) as f64 / elapsed,
        "server_cpu_seconds": cpu_ticks as f64 / 100.0,
        "push_latency_ms": {
            "p50": h.value_at_quantile(0.50) as f64 / 1000.0,
            "p99": h.value_at_quantile(0.99) as f64 / 1000.0,
            "max": h.max() as f64 / 1000.0,
        },
    });
    println!("{report}");
    drop(pending);
}
