//! `loadgen`: a load generator for scanlogin, through the real endpoints, from many
//! loopback source addresses (127.x.y.z), so that per-client limits see many clients.
//!
//! It opens `--pending` logins (code issued, socket open, hello said) and holds them, then
//! completes logins at `--rate` per second for `--seconds` (code, socket, scan, confirm,
//! ticket exchange), recording confirm → `confirmed` latency in an HDR histogram, and
//! samples the server's RSS and CPU from `/proc/<pid>` (`--server-pid`, repeatable). It
//! prints one JSON line and stops by itself. The phone's requests go to `--phone-target`
//! (another instance, for the scale-out figures), the browser's to `--target`. With
//! `--keep-pending until-eof` it keeps its pending logins after its report until its stdin
//! closes, so that two generators measuring side by side stop together. Each generator's
//! people are its own (`--first-source` is in their openids), as two instances' are.
//!
//! `wrong-secrets` floods the OpenID provider's token endpoint with `--concurrency` requests
//! at once, each from its own address with a wrong secret for `--client-id`, beside one
//! login, and reports the server's peak RSS above its RSS before.
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

/// What the servers under test speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// scanlogin: a page is a code, a socket and a hello; a login is the whole flow.
    Scanlogin,
    /// The baselines of `make bench` (the original design): a page is a bare socket at
    /// `/websocket?clientid=ID`; a "login" is `POST /push?clientid=ID` and its frame.
    Bare,
}

#[derive(Debug, Clone)]
struct Args {
    target: SocketAddr,
    phone_target: SocketAddr,
    protocol: Protocol,
    pending: usize,
    rate: u32,
    seconds: u64,
    first_source: u32,
    server_pids: Vec<u32>,
    concurrency: usize,
    settle_secs: u64,
    keep_pending_until_eof: bool,
    /// The confidential OpenID client `wrong-secrets` guesses the secret of.
    client_id: String,
    /// The sessions `verify` logs in first and then asks about.
    sessions: usize,
}

/// Sockets one holder process keeps open: well under the 20,000-descriptor limit.
const PER_PROCESS: usize = 9_500;

fn usage() -> ! {
    eprintln!(
        "usage: loadgen [hold|pages] --target HOST:PORT [--phone-target HOST:PORT] \
         [--protocol scanlogin|bare] [--pending N] [--rate PER_SEC] [--seconds S] \
         [--first-source N] [--server-pid PID]... [--concurrency N] [--settle-secs S] \
         [--keep-pending no|until-eof] [--client-id ID] [--sessions N]\n\
         \n\
         (no command)  hold --pending logins (in holder processes), then complete logins at --rate\n\
         hold          open --pending logins, print one JSON line, hold them until stdin closes\n\
         pages         GET /login over --concurrency keep-alive connections for --seconds\n\
         wrong-secrets --concurrency token requests at once with a wrong secret, beside a login\n\
         verify        log in --sessions sessions, then ask /auth/verify about them at random over\n\
                       --concurrency keep-alive connections for --seconds (forward authentication)"
    );
    std::process::exit(2)
}

fn parsed<T: std::str::FromStr>(value: &str) -> T {
    value.parse().unwrap_or_else(|_| usage())
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Args {
    let mut args = Args {
        target: SocketAddr::from(([127, 0, 0, 1], 3000)),
        phone_target: SocketAddr::from(([127, 0, 0, 1], 3000)),
        protocol: Protocol::Scanlogin,
        pending: 100,
        rate: 10,
        seconds: 5,
        first_source: 0,
        server_pids: Vec::new(),
        concurrency: 256,
        settle_secs: 20,
        keep_pending_until_eof: false,
        client_id: "rp".to_owned(),
        sessions: 1_000,
    };
    let mut phone_set = false;
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--target" => args.target = parsed(&value),
            "--phone-target" => {
                args.phone_target = parsed(&value);
                phone_set = true;
            }
            "--protocol" => {
                args.protocol = match value.as_str() {
                    "scanlogin" => Protocol::Scanlogin,
                    "bare" => Protocol::Bare,
                    _ => usage(),
                }
            }
            "--pending" => args.pending = parsed(&value),
            "--rate" => args.rate = parsed(&value),
            "--seconds" => args.seconds = parsed(&value),
            "--first-source" => args.first_source = parsed(&value),
            "--server-pid" => args.server_pids.push(parsed(&value)),
            "--concurrency" => args.concurrency = parsed(&value),
            "--settle-secs" => args.settle_secs = parsed(&value),
            "--client-id" => args.client_id = value,
            "--sessions" => args.sessions = parsed(&value),
            "--keep-pending" => {
                args.keep_pending_until_eof = match value.as_str() {
                    "until-eof" => true,
                    "no" => false,
                    _ => usage(),
                }
            }
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
    no_port_at_bind(&socket)?;
    socket.bind(SocketAddr::from((from, 0)))?;
    let stream = socket.connect(target).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Lets the kernel pick the source port at `connect`, knowing the whole 4-tuple, instead
/// of at `bind`, where it must find a port free of every socket of that address,
/// `TIME_WAIT`s included: with the tens of thousands a few runs leave behind, each bind
/// walked them, and the load generator's own CPU cut the server's rate by a third.
fn no_port_at_bind(socket: &TcpSocket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid descriptor, an option of the IP level and a value of its size.
    let done = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn random_id() -> String {
    scanlogin::protocol::id_from_random_bytes(|| scanlogin::server::random::bytes::<1>()[0])
}

/// An HTTP/1.1 connection from one client, kept alive between its requests as browsers
/// and WeChat's `wx.request` keep theirs: opened at the first request (or by [`open`]),
/// and again if the server has closed it since.
///
/// [`open`]: Connection::open
struct Connection {
    target: SocketAddr,
    from: Ipv4Addr,
    sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
    /// The `name=value` of the last cookie the server set.
    cookie: Option<String>,
}

impl Connection {
    fn new(target: SocketAddr, from: Ipv4Addr) -> Self {
        Self {
            target,
            from,
            sender: None,
            cookie: None,
        }
    }

    /// Connects now unless connected, so that a timed request measures no handshake.
    async fn open(&mut self) -> Result<(), String> {
        if self.sender.as_ref().is_some_and(|s| !s.is_closed()) {
            return Ok(());
        }
        let stream = connect(self.target, self.from)
            .await
            .map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        self.sender = Some(sender);
        Ok(())
    }

    /// One POST of `body` as JSON; returns status and JSON body.
    async fn post(&mut self, path: &str, body: Value) -> Result<(u16, Value), String> {
        self.open().await?;
        let sender = self.sender.as_mut().expect("opened above");
        sender.ready().await.map_err(|e| e.to_string())?;
        let request = hyper::Request::post(path)
            .header("host", self.target.to_string())
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
        if let Some(set) = response.headers().get("set-cookie") {
            let set = set.to_str().unwrap_or_default();
            self.cookie = Some(set.split(';').next().unwrap_or_default().to_owned());
        }
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, json))
    }
}

type Socket = WebSocketStream<TcpStream>;

/// A waiting login page: its scene, its key and its socket.
struct Page {
    scene: String,
    key: String,
    socket: Socket,
}

async fn open_socket(target: SocketAddr, from: Ipv4Addr, id: &str) -> Result<Socket, String> {
    let stream = connect(target, from).await.map_err(|e| e.to_string())?;
    let url = format!("ws://{target}/websocket?clientid={id}");
    let (socket, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .map_err(|e| e.to_string())?;
    Ok(socket)
}

/// A page: for scanlogin its code (asked on the browser's connection), its socket and its
/// hello; for a baseline a bare socket.
async fn open_page(browser: &mut Connection, protocol: Protocol) -> Result<Page, String> {
    let (target, from) = (browser.target, browser.from);
    let (scene, key) = (random_id(), random_id());
    if protocol == Protocol::Bare {
        let socket = open_socket(target, from, &scene).await?;
        return Ok(Page { scene, key, socket });
    }
    let (status, body) = browser
        .post(
            "/miniapp/getwxacodeunlimit",
            json!({"scene": scene, "key": key}),
        )
        .await?;
    if status != 200 {
        return Err(format!("code: {status} {body}"));
    }
    let mut socket = open_socket(target, from, &scene).await?;
    socket
        .send(Message::Text(
            json!({"type": "hello", "key": key}).to_string().into(),
        ))
        .await
        .map_err(|e| e.to_string())?;
    Ok(Page { scene, key, socket })
}

async fn next_frame(socket: &mut Socket, within: Duration) -> Result<String, String> {
    loop {
        match tokio::time::timeout(within, socket.next()).await {
            Err(_) => return Err("no event in time".into()),
            Ok(None) | Ok(Some(Err(_))) => return Err("socket closed".into()),
            Ok(Some(Ok(Message::Text(text)))) => return Ok(text.to_string()),
            Ok(Some(Ok(Message::Close(frame)))) => return Err(format!("closed: {frame:?}")),
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn next_event(socket: &mut Socket, within: Duration) -> Result<Value, String> {
    let text = next_frame(socket, within).await?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// A baseline's "login": a socket, then `POST /push` on a connection already open (as our
/// phone's confirm is); returns push → frame in microseconds.
async fn bare_push(target: SocketAddr, from: Ipv4Addr) -> Result<u64, String> {
    let id = random_id();
    let mut socket = open_socket(target, from, &id).await?;
    let mut trigger = Connection::new(target, from);
    trigger.open().await?;
    // The baselines store a socket only after their handshake answer is written, so a
    // push right after it can find nothing (404): try again; time the push that lands.
    for _ in 0..1000 {
        let started = Instant::now();
        let (status, _) = trigger
            .post(
                &format!("/push?clientid={id}"),
                json!({"type": "confirmed"}),
            )
            .await?;
        match status {
            200 => {
                next_frame(&mut socket, Duration::from_secs(10)).await?;
                return Ok(started.elapsed().as_micros() as u64);
            }
            404 => tokio::time::sleep(Duration::from_millis(1)).await,
            _ => return Err(format!("push: {status}")),
        }
    }
    Err("push: the socket never appeared".into())
}

/// A whole login; returns confirm → `confirmed` in microseconds. The browser keeps one
/// connection for its requests besides its socket, the phone one for its own.
/// A whole login; its latency (from the confirm to the ticket on the socket) and the
/// browser's session cookie (none for the baselines).
async fn login(args: &Args, from: Ipv4Addr, n: u64) -> Result<(u64, Option<String>), String> {
    if args.protocol == Protocol::Bare {
        return Ok((bare_push(args.target, from).await?, None));
    }
    let mut browser = Connection::new(args.target, from);
    let Page {
        scene,
        key,
        mut socket,
    } = open_page(&mut browser, Protocol::Scanlogin).await?;
    // The phone is a client of its own too (any 127.x address is this machine).
    let mut phone = Connection::new(args.phone_target, from);
    let (status, minted) = phone
        .post(
            "/api/demo/login_code",
            json!({"openid": format!("load-{}-{n}", args.first_source)}),
        )
        .await?;
    let code = minted
        .as_str()
        .ok_or(format!("login code: {status} {minted}"))?;
    let (status, scanned) = phone
        .post("/api/mp/scan", json!({"scene": scene, "code": code}))
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
    let (status, body) = phone
        .post(
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
    let (status, body) = browser
        .post(
            "/api/session",
            json!({"scene": scene, "ticket": ticket, "key": key}),
        )
        .await?;
    if status != 200 {
        return Err(format!("session: {status} {body}"));
    }
    Ok((latency, browser.cookie))
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

/// What a holder process reports once its pages are open.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Held {
    pending: usize,
    errors: u64,
    first_error: Option<String>,
    open_seconds: f64,
}

/// Opens `args.pending` pages, `args.concurrency` at a time, each from its own address.
async fn open_pages(args: &Args) -> (Vec<Page>, Held) {
    let opened = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
    let mut tasks = Vec::with_capacity(args.pending);
    for i in 0..args.pending {
        let permit = sem.clone().acquire_owned().await.expect("never closed");
        let from = source(args.first_source + i as u32);
        let (target, protocol) = (args.target, args.protocol);
        tasks.push(tokio::spawn(async move {
            let page = open_page(&mut Connection::new(target, from), protocol).await;
            drop(permit);
            page
        }));
    }
    let mut pages = Vec::with_capacity(args.pending);
    let mut held = Held::default();
    for task in tasks {
        match task.await.map_err(|e| e.to_string()).and_then(|page| page) {
            Ok(page) => pages.push(page),
            Err(err) => {
                held.errors += 1;
                held.first_error.get_or_insert(err);
            }
        }
    }
    held.pending = pages.len();
    held.open_seconds = opened.elapsed().as_secs_f64();
    (pages, held)
}

/// `loadgen hold`: opens the pages, says so on stdout, and keeps them until stdin closes
/// (its parent exits or lets go), reading their sockets so that pings are answered.
async fn hold(args: Args) {
    let (pages, held) = open_pages(&args).await;
    println!("{}", serde_json::to_string(&held).expect("plain data"));
    let mut readers = Vec::with_capacity(pages.len());
    for mut page in pages {
        readers.push(tokio::spawn(async move {
            while let Some(Ok(_)) = page.socket.next().await {}
        }));
    }
    let _ = tokio::task::spawn_blocking(|| {
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new())
    })
    .await;
}

/// Holder processes; they let go of their pages when this is dropped.
struct Holders(Vec<std::process::Child>);

impl Drop for Holders {
    fn drop(&mut self) {
        for child in &mut self.0 {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

/// Holder processes for `args.pending` pages, at most `PER_PROCESS` each, and what they
/// hold in all. (std's processes: tokio's would add features to the server's tokio.)
async fn start_holders(args: &Args) -> (Holders, Held) {
    let exe = std::env::current_exe().expect("own path");
    let mut children = Vec::new();
    let mut first = args.first_source;
    let mut left = args.pending;
    // The pages open `args.concurrency` at a time in all, however many processes hold them.
    let per_holder = args
        .concurrency
        .div_ceil(args.pending.div_ceil(PER_PROCESS).max(1));
    while left > 0 {
        let n = left.min(PER_PROCESS);
        let mut command = std::process::Command::new(&exe);
        command
            .arg("hold")
            .args(["--target", &args.target.to_string()])
            .args(["--pending", &n.to_string()])
            .args(["--first-source", &first.to_string()])
            .args(["--concurrency", &per_holder.max(1).to_string()])
            .args([
                "--protocol",
                if args.protocol == Protocol::Bare {
                    "bare"
                } else {
                    "scanlogin"
                },
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        children.push(command.spawn().expect("a holder process"));
        first += n as u32;
        left -= n;
    }
    let mut all = Held::default();
    for child in &mut children {
        let stdout = child.stdout.take().expect("piped");
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            line
        })
        .await
        .unwrap_or_default();
        let held: Held = serde_json::from_str(&line).unwrap_or_else(|_| Held {
            first_error: Some("a holder process failed".into()),
            errors: 1,
            ..Held::default()
        });
        all.pending += held.pending;
        all.errors += held.errors;
        all.open_seconds = all.open_seconds.max(held.open_seconds);
        if all.first_error.is_none() {
            all.first_error = held.first_error;
        }
    }
    (Holders(children), all)
}

/// `loadgen pages`: server-rendered `/login` pages over keep-alive connections.
async fn pages(args: Args) {
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let histogram = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
    ));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..args.concurrency {
        let (histogram, errors) = (histogram.clone(), errors.clone());
        let (target, from) = (args.target, source(args.first_source + i as u32));
        tasks.push(tokio::spawn(async move {
            let Ok(stream) = connect(target, from).await else {
                errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let Ok((mut sender, conn)) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
            else {
                errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            tokio::spawn(conn);
            while Instant::now() < deadline {
                let request = hyper::Request::get("/login")
                    .header("host", target.to_string())
                    .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.8")
                    .body(Full::new(Bytes::new()))
                    .expect("a valid request");
                let sent = Instant::now();
                let ok = match sender.send_request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        let body = response.into_body().collect().await;
                        status == 200 && body.is_ok()
                    }
                    Err(_) => false,
                };
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let _ = histogram
                    .lock()
                    .expect("not poisoned")
                    .record(sent.elapsed().as_micros() as u64);
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let h = histogram.lock().expect("not poisoned");
    let failed = errors.load(Ordering::Relaxed) > 0 || h.is_empty();
    println!(
        "{}",
        json!({
            "pages": h.len(),
            "errors": errors.load(Ordering::Relaxed),
            "pages_per_second": h.len() as f64 / elapsed,
            "latency_ms": {
                "p50": h.value_at_quantile(0.50) as f64 / 1000.0,
                "p99": h.value_at_quantile(0.99) as f64 / 1000.0,
            },
        })
    );
    if failed {
        std::process::exit(1);
    }
}

fn main() {
    let mut argv = std::env::args().skip(1).peekable();
    let command = match argv.peek().map(String::as_str) {
        Some("hold") | Some("pages") | Some("wrong-secrets") | Some("verify") => argv.next(),
        _ => None,
    };
    let args = parse_args(argv);
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    // The logins and the held pages run on one thread: the generator shares the machine
    // with the server it measures, and one thread does this work with a fifth less CPU
    // than two that wake each other (0.41 ms a login instead of 0.51, measured at
    // 1,000/s). `pages` keeps a worker per core: its 16 connections must outrun the
    // server's page rendering.
    let runtime = match command.as_deref() {
        Some("pages") => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build()
    .expect("a tokio runtime");
    runtime.block_on(async move {
        match command.as_deref() {
            Some("hold") => hold(args).await,
            Some("pages") => pages(args).await,
            Some("wrong-secrets") => wrong_secrets(args).await,
            Some("verify") => verify(args).await,
            _ => logins(args).await,
        }
    });
}

/// The default command: pending logins held, and logins completed at a rate beside them.
async fn logins(args: Args) {
    let before = samples(&args.server_pids);

    // Pending logins, each from its own address, in holder processes.
    let (holders, held_pages) = start_holders(&args).await;
    // Let the server settle before measuring what the pages hold: code images live 15 s
    // after their fetch, and the sweeper gives freed memory back every 5 s.
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let held = samples(&args.server_pids);

    // Logins completing at a steady rate beside them.
    let histogram = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
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
                Ok(Ok((latency, _))) => {
                    let _ = histogram.lock().expect("not poisoned").record(latency);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Err(err)) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    login_error.lock().expect("not poisoned").get_or_insert(err);
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
    // Every login has ended: a copy, so that no lock is held while the pages are kept.
    let h = histogram.lock().expect("not poisoned").clone();
    let rss_before: u64 = before.iter().map(|s| s.0).sum();
    let rss_held: u64 = held.iter().map(|s| s.0).sum();
    let cpu_ticks: u64 =
        after.iter().map(|s| s.1).sum::<u64>() - held.iter().map(|s| s.1).sum::<u64>();
    let per_login_kib = if held_pages.pending == 0 {
        0.0
    } else {
        rss_held.saturating_sub(rss_before) as f64 / held_pages.pending as f64
    };
    let completed = done.load(Ordering::Relaxed);
    let report = json!({
        "pending": held_pages.pending,
        "pending_errors": held_pages.errors,
        "first_pending_error": held_pages.first_error,
        "open_seconds": held_pages.open_seconds,
        "holder_processes": holders.0.len(),
        "server_rss_kib_before": rss_before,
        "server_rss_kib_held": rss_held,
        "rss_kib_per_pending_login": per_login_kib,
        "logins_completed": completed,
        "login_errors": errors.load(Ordering::Relaxed),
        "first_login_error": login_error.lock().expect("not poisoned").clone(),
        "logins_per_second": completed as f64 / elapsed,
        "server_cpu_seconds": cpu_ticks as f64 / 100.0,
        "server_cpu_cores": cpu_ticks as f64 / 100.0 / elapsed,
        "server_cpu_ms_per_login": if completed == 0 { 0.0 } else { cpu_ticks as f64 * 10.0 / completed as f64 },
        "push_latency_ms": {
            "p50": h.value_at_quantile(0.50) as f64 / 1000.0,
            "p99": h.value_at_quantile(0.99) as f64 / 1000.0,
            "max": h.max() as f64 / 1000.0,
        },
    });
    println!("{report}");
    if args.keep_pending_until_eof {
        // Another load generator may still be measuring beside these pages (two
        // instances): 19,000 sockets closing at once would be in its figures.
        let _ = tokio::task::spawn_blocking(|| {
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new())
        })
        .await;
    }
    drop(holders);
    // Correct or not, never timing: a run with errors fails (the smoke in `make test`).
    if held_pages.errors > 0 || errors.load(Ordering::Relaxed) > 0 {
        std::process::exit(1);
    }
}

/// `wrong-secrets`: `--concurrency` token requests at once, each from an address of its own
/// (so that none is refused for its address's failed authentications: each secret is
/// checked, the worst case), with a wrong secret; one login beside them. What the server's
/// memory rises by is the figure: argon2 takes 19 MiB a check, and the server checks at
/// most one per core at once, whatever waits.
async fn wrong_secrets(args: Args) {
    use base64::Engine as _;
    let before = samples(&args.server_pids);
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = {
        let (peak, pids) = (peak.clone(), args.server_pids.clone());
        tokio::spawn(async move {
            loop {
                let rss: u64 = samples(&pids).iter().map(|s| s.0).sum();
                peak.fetch_max(rss, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:not-the-secret", args.client_id));
    let started = Instant::now();
    let requests = (0..args.concurrency).map(|i| {
        let (target, from) = (args.target, source(args.first_source + i as u32));
        let authorization = format!("Basic {credentials}");
        async move {
            let stream = connect(target, from).await.map_err(|e| e.to_string())?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            let request = hyper::Request::post("/oauth/token")
                .header("host", target.to_string())
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", authorization)
                .body(Full::new(Bytes::from_static(
                    b"grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Frp.example%2Fcb",
                )))
                .map_err(|e| e.to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<u16, String>(response.status().as_u16())
        }
    });
    let flood = futures::future::join_all(requests);
    let beside = async {
        let from = source(args.first_source + args.concurrency as u32);
        let login_started = Instant::now();
        let done = login(&args, from, 0).await;
        (done, login_started.elapsed())
    };
    let (answers, (login_done, login_took)) = tokio::join!(flood, beside);
    let elapsed = started.elapsed().as_secs_f64();
    sampling.abort();
    let rss_before: u64 = before.iter().map(|s| s.0).sum();
    let rss_peak = peak.load(Ordering::Relaxed).max(rss_before);
    let refused = answers.iter().filter(|a| matches!(a, Ok(401))).count();
    let limited = answers.iter().filter(|a| matches!(a, Ok(429))).count();
    let other = answers.len() - refused - limited;
    let first_other = answers
        .iter()
        .find(|a| !matches!(a, Ok(401) | Ok(429)))
        .map(|a| format!("{a:?}"));
    println!(
        "{}",
        json!({
            "requests": answers.len(),
            "refused_401": refused,
            "limited_429": limited,
            "other": other,
            "first_other": first_other,
            "seconds": elapsed,
            "server_rss_kib_before": rss_before,
            "server_rss_kib_peak": rss_peak,
            "server_rss_mib_rise": rss_peak.saturating_sub(rss_before) as f64 / 1024.0,
            "login_beside_ok": login_done.is_ok(),
            "login_beside_error": login_done.as_ref().err(),
            "login_beside_ms": login_took.as_secs_f64() * 1000.0,
        })
    );
    if other > 0 || login_done.is_err() {
        std::process::exit(1);
    }
}

/// The host the benchmark's forward-authentication rules name (tests/bench/run.sh).
const PROTECTED_HOST: &str = "app.bench.test";

/// Forward authentication: `--sessions` logins (each from its own address, 64 at a time),
/// then `/auth/verify` asked about a random one of them, as a proxy asks about each
/// request to a protected host, over `--concurrency` keep-alive connections for
/// `--seconds`. Every answer must be a 200.
async fn verify(args: Args) {
    let mut cookies = Vec::with_capacity(args.sessions);
    let logged_in = Instant::now();
    let mut batch = Vec::new();
    for n in 0..args.sessions {
        let login_args = args.clone();
        let from = source(args.first_source + n as u32);
        batch.push(tokio::spawn(async move {
            login(&login_args, from, n as u64).await
        }));
        if batch.len() == 64 || n + 1 == args.sessions {
            for done in batch.drain(..) {
                match done.await {
                    Ok(Ok((_, Some(cookie)))) => cookies.push(cookie),
                    Ok(Err(err)) => fail(&format!("login: {err}")),
                    _ => fail("login: no session cookie"),
                }
            }
        }
    }
    let login_secs = logged_in.elapsed().as_secs_f64();
    let before = samples(&args.server_pids);
    let cookies = Arc::new(cookies);
    let histogram = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
    ));
    let refused = Arc::new(Mutex::new(None::<String>));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for i in 0..args.concurrency {
        let (cookies, histogram, refused) = (cookies.clone(), histogram.clone(), refused.clone());
        let (target, from) = (args.target, source(args.first_source + i as u32));
        tasks.push(tokio::spawn(async move {
            let mut proxy = Connection::new(target, from);
            while Instant::now() < deadline {
                let pick = scanlogin::server::random::bytes::<4>();
                let n = u32::from_le_bytes(pick) as usize % cookies.len();
                let sent = Instant::now();
                match proxy.verify(&cookies[n]).await {
                    Ok(200) => {
                        let elapsed = sent.elapsed().as_micros() as u64;
                        let _ = histogram.lock().expect("not poisoned").record(elapsed);
                    }
                    other => {
                        refused
                            .lock()
                            .expect("not poisoned")
                            .get_or_insert(format!("{other:?}"));
                        return;
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = samples(&args.server_pids);
    let h = histogram.lock().expect("not poisoned");
    let refused = refused.lock().expect("not poisoned").clone();
    let cpu_ticks: u64 = after.iter().zip(&before).map(|(a, b)| a.1 - b.1).sum();
    println!(
        "{}",
        json!({
            "sessions": cookies.len(),
            "sessions_logged_in_secs": login_secs,
            "verifications": h.len(),
            "verifications_per_second": h.len() as f64 / elapsed,
            "refused": refused,
            "server_cpu_ms_per_verification": if h.is_empty() { 0.0 } else {
                cpu_ticks as f64 * 10.0 / h.len() as f64
            },
            "latency_ms": {
                "p50": h.value_at_quantile(0.50) as f64 / 1000.0,
                "p99": h.value_at_quantile(0.99) as f64 / 1000.0,
            },
        })
    );
    if refused.is_some() || h.is_empty() {
        std::process::exit(1);
    }
}

fn fail(why: &str) -> ! {
    println!("{}", json!({ "error": why }));
    std::process::exit(1)
}

impl Connection {
    /// What a proxy asks about a request to [`PROTECTED_HOST`] carrying `cookie`; the
    /// answer's status.
    async fn verify(&mut self, cookie: &str) -> Result<u16, String> {
        self.open().await?;
        let sender = self.sender.as_mut().expect("opened above");
        sender.ready().await.map_err(|e| e.to_string())?;
        let request = hyper::Request::get("/auth/verify")
            .header("host", self.target.to_string())
            .header("cookie", cookie)
            .header("x-forwarded-host", PROTECTED_HOST)
            .header("x-forwarded-uri", "/dashboard")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-method", "GET")
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        Ok(status)
    }
}
