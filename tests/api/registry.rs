//! The scene registry's contract, one suite run against both backends: in memory, and
//! in Redis (a server of each test's own, with two registries on it standing for two
//! instances). The rules themselves are `Scene`'s (unit-tested beside it); this checks
//! that each backend applies them, and that every race has exactly one winner and one
//! event: many tasks on both instances attempting the same transition at once.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{future::join_all, StreamExt};
use scanlogin::{
    protocol::{BrowserInfo, BrowserKey, PushEvent, ScanToken, SceneId, Ticket, User},
    server::{
        client::ClientKey,
        error::AppError,
        registry::{Clock, NewScene, Registry, RegistryConfig},
    },
};

use crate::common::{eventually, services::RedisServer};

const TTL: Duration = Duration::from_secs(120);
/// Tasks attempting the same transition at once, split over the two instances.
const RACERS: usize = 16;
/// Races run for each kind, each on a scene of its own.
const ROUNDS: usize = 8;

fn config() -> RegistryConfig {
    RegistryConfig {
        ttl: TTL,
        socket_grace: Duration::from_secs(30),
        max_scenes: 100,
        max_scenes_per_client: 50,
        max_sockets_per_scene: 2,
    }
}

/// Two open scenes per client, three in all.
fn small_caps() -> RegistryConfig {
    RegistryConfig {
        max_scenes: 3,
        max_scenes_per_client: 2,
        ..config()
    }
}

/// Two instances on the same scenes: in memory, the one registry twice; in Redis, two
/// registries on one server, as two processes would be.
struct Instances {
    a: Arc<Registry>,
    b: Arc<Registry>,
    /// Every event published in Redis, in order (none in memory).
    published: Option<Arc<Mutex<Vec<String>>>>,
    redis: Option<(RedisServer, redis::Client)>,
}

const PREFIX: &str = "contract:";

async fn in_redis(config: RegistryConfig, b_clock: Clock) -> Instances {
    let server = RedisServer::start();
    let registry = |clock| {
        let url = server.url();
        let config = config.clone();
        async move {
            let (client, conn) =
                scanlogin::server::registry::redis::connect(&url, Duration::from_secs(2))
                    .await
                    .expect("Redis answers");
            Arc::new(Registry::in_redis(client, conn, PREFIX, config, clock))
        }
    };
    let a = registry(Clock::new()).await;
    let b = registry(b_clock).await;
    let client = redis::Client::open(server.url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(format!("{PREFIX}events")).await.unwrap();
    let published = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn({
        let published = published.clone();
        async move {
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                let payload: String = message.get_payload().unwrap();
                published.lock().unwrap().push(payload);
            }
        }
    });
    Instances {
        a,
        b,
        published: Some(published),
        redis: Some((server, client)),
    }
}

fn in_memory(config: RegistryConfig) -> Instances {
    let a = Arc::new(Registry::in_memory(config, Clock::new()));
    Instances {
        b: a.clone(),
        a,
        published: None,
        redis: None,
    }
}

impl Instances {
    /// Instance `i % 2`.
    fn nth(&self, i: usize) -> Arc<Registry> {
        if i.is_multiple_of(2) {
            self.a.clone()
        } else {
            self.b.clone()
        }
    }

    /// The final events (not `scanned`) published for `scene` so far, once everything
    /// published before this call has arrived (a marker published after it comes last:
    /// Redis keeps a channel's order). `None` in memory, whose events are not published.
    async fn final_events_published(&self, scene: &SceneId) -> Option<Vec<String>> {
        let (published, (_, client)) = (self.published.as_ref()?, self.redis.as_ref()?);
        let marker = format!("marker {}", scanlogin::server::random::alphanumeric(16));
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(format!("{PREFIX}events"))
            .arg(&marker)
            .query_async(&mut conn)
            .await
            .unwrap();
        eventually("the marker arrives", || async {
            published.lock().unwrap().contains(&marker)
        })
        .await;
        let all = published.lock().unwrap();
        Some(
            all.iter()
                .filter(|p| p.contains(scene.as_str()) && !p.contains("\"scanned\""))
                .cloned()
                .collect(),
        )
    }
}

fn id(n: usize) -> SceneId {
    format!("{n:0>32}").parse().unwrap()
}

fn key(c: &str) -> BrowserKey {
    c.repeat(32).parse().unwrap()
}

fn client(ip: &str) -> ClientKey {
    ClientKey::new(ip.parse().unwrap(), 64)
}

fn new_scene(n: usize, k: &str, ip: &str) -> NewScene {
    NewScene {
        id: id(n),
        key: key(k),
        browser: BrowserInfo {
            user_agent: "test".into(),
            family: String::new(),
            version: String::new(),
            os: String::new(),
            ip: "127.0.0.x".into(),
            place: String::new(),
            requested_at: "2026-01-01T00:00:00Z".into(),
        },
        application: None,
        invitation: None,
        purpose: Default::default(),
        client: client(ip),
    }
}

fn user(n: usize) -> User {
    User {
        id: n as i64,
        nickname: format!("user {n}"),
        avatar_url: String::new(),
    }
}

fn ticket_in(event: &Option<PushEvent>) -> Ticket {
    match event {
        Some(PushEvent::Confirmed { ticket }) => ticket.clone(),
        other => panic!("no ticket in {other:?}"),
    }
}

/// A registered scene, scanned by `alice`: its scan token.
async fn scanned(r: &Registry, n: usize) -> ScanToken {
    r.register(new_scene(n, "k", "127.0.0.1")).await.unwrap();
    r.scan(&id(n), "alice", None).await.unwrap().scan_token
}

/// Which of `results` won; panics unless exactly one did.
fn the_one_winner<T: std::fmt::Debug>(results: &[T], won: impl Fn(&T) -> bool) -> usize {
    let winners: Vec<usize> = (0..results.len()).filter(|&i| won(&results[i])).collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {results:?}");
    winners[0]
}

async fn registration_is_keyed(i: Instances) {
    let (a, b) = (&i.a, &i.b);
    assert!(
        a.register(new_scene(1, "k", "127.0.0.1"))
            .await
            .unwrap()
            .is_new
    );
    assert!(
        !b.register(new_scene(1, "k", "127.0.0.1"))
            .await
            .unwrap()
            .is_new
    );
    assert!(matches!(
        b.register(new_scene(1, "o", "127.0.0.1")).await,
        Err(AppError::SceneTaken)
    ));
}

async fn scenes_are_capped_per_client_and_in_all(i: Instances) {
    let (a, b) = (&i.a, &i.b);
    a.register(new_scene(1, "k", "127.0.0.1")).await.unwrap();
    b.register(new_scene(2, "k", "127.0.0.1")).await.unwrap();
    assert!(matches!(
        a.register(new_scene(3, "k", "127.0.0.1")).await,
        Err(AppError::TooManyScenes)
    ));
    b.register(new_scene(3, "k", "10.0.0.9")).await.unwrap();
    assert!(matches!(
        a.register(new_scene(4, "k", "10.0.0.9")).await,
        Err(AppError::Busy)
    ));
    // A forgotten scene gives its place back, and so does a finished one.
    b.forget(&id(1)).await.unwrap();
    a.register(new_scene(5, "k", "127.0.0.1")).await.unwrap();
    let token = b.scan(&id(5), "alice", None).await.unwrap().scan_token;
    a.cancel(&id(5), &token).await.unwrap();
    b.register(new_scene(6, "k", "127.0.0.1")).await.unwrap();
}

async fn a_login_is_pushed_to_every_socket_and_late_ones_catch_up(i: Instances) {
    let (a, b) = (&i.a, &i.b);
    a.register(new_scene(1, "k", "127.0.0.1")).await.unwrap();
    assert!(matches!(
        b.subscribe(&id(1), &key("x")).await,
        Err(AppError::SceneNotFound)
    ));
    assert!(matches!(
        b.subscribe(&id(2), &key("k")).await,
        Err(AppError::SceneNotFound)
    ));
    let mut early = b.subscribe(&id(1), &key("k")).await.unwrap().events;
    let token = a.scan(&id(1), "alice", None).await.unwrap().scan_token;
    early.changed().await.unwrap();
    assert_eq!(*early.borrow_and_update(), Some(PushEvent::Scanned));
    assert!(a.confirm(&id(1), &token, &user(7), false).await.unwrap());
    early.changed().await.unwrap();
    let ticket = ticket_in(&early.borrow_and_update());
    let late = a.subscribe(&id(1), &key("k")).await.unwrap().events;
    assert_eq!(ticket_in(&late.borrow()), ticket, "the same event, late");
    drop((early, late));
    let _first = a.subscribe(&id(1), &key("k")).await.unwrap();
    let _second = a.subscribe(&id(1), &key("k")).await.unwrap();
    assert!(
        matches!(
            a.subscribe(&id(1), &key("k")).await,
            Err(AppError::TooManySockets)
        ),
        "two sockets a scene on one instance"
    );
    assert!(matches!(
        b.redeem_ticket(&id(1), &key("o"), &ticket).await,
        Err(AppError::BadTicket)
    ));
    assert_eq!(
        b.redeem_ticket(&id(1), &key("k"), &ticket)
            .await
            .unwrap()
            .user,
        user(7)
    );
}

async fn each_decision_is_made_once_and_kept(i: Instances) {
    let (a, b) = (&i.a, &i.b);
    // A second WeChat user cannot scan; the same one can, and only the newest token works.
    a.register(new_scene(1, "k", "127.0.0.1")).await.unwrap();
    let first = a.scan(&id(1), "alice", None).await.unwrap().scan_token;
    assert!(matches!(
        b.scan(&id(1), "mallory", None).await,
        Err(AppError::Conflict(_))
    ));
    let token = b.scan(&id(1), "alice", None).await.unwrap().scan_token;
    assert!(matches!(
        a.scanner(&id(1), &first).await,
        Err(AppError::BadScanToken)
    ));
    assert_eq!(a.scanner(&id(1), &token).await.unwrap().0.openid, "alice");
    assert!(matches!(
        a.confirm(&id(1), &first, &user(1), false).await,
        Err(AppError::BadScanToken)
    ));
    // Confirmed: again is a success that changes nothing; cancel is refused.
    assert!(a.confirm(&id(1), &token, &user(1), false).await.unwrap());
    assert!(!b.confirm(&id(1), &token, &user(2), false).await.unwrap());
    assert!(matches!(
        b.cancel(&id(1), &token).await,
        Err(AppError::AlreadyConfirmed)
    ));
    assert!(matches!(
        a.scan(&id(1), "alice", None).await,
        Err(AppError::Conflict(_))
    ));
    // Cancelled: again is a success; confirm is refused.
    let token = scanned(b, 2).await;
    assert!(a.cancel(&id(2), &token).await.unwrap());
    assert!(!b.cancel(&id(2), &token).await.unwrap());
    assert!(matches!(
        a.confirm(&id(2), &token, &user(1), false).await,
        Err(AppError::AlreadyCancelled)
    ));
    let events = b.subscribe(&id(2), &key("k")).await.unwrap().events;
    assert_eq!(*events.borrow(), Some(PushEvent::Cancelled));
    // A finished scene cannot be asked for again.
    assert!(matches!(
        a.register(new_scene(2, "k", "127.0.0.1")).await,
        Err(AppError::SceneNotFound)
    ));
}

async fn two_people_scanning_at_once_one_wins(i: Instances) {
    for round in 0..ROUNDS {
        let scene = id(round);
        i.a.register(new_scene(round, "k", "127.0.0.1"))
            .await
            .unwrap();
        let results = join_all((0..RACERS).map(|n| {
            let (r, scene) = (i.nth(n), scene.clone());
            tokio::spawn(async move { r.scan(&scene, &format!("person {n}"), None).await })
        }))
        .await;
        let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
        let winner = the_one_winner(&results, Result::is_ok);
        for (n, result) in results.iter().enumerate() {
            if n != winner {
                assert!(matches!(result, Err(AppError::Conflict(_))), "{result:?}");
            }
        }
        let token = &results[winner].as_ref().unwrap().scan_token;
        let scanner = i.b.scanner(&scene, token).await.unwrap();
        assert_eq!(scanner.0.openid, format!("person {winner}"));
    }
}

async fn a_confirm_repeated_at_once_decides_once(i: Instances) {
    for round in 0..ROUNDS {
        let scene = id(round);
        let token = scanned(&i.a, round).await;
        let results = join_all((0..RACERS).map(|n| {
            let (r, scene, token) = (i.nth(n), scene.clone(), token.clone());
            tokio::spawn(async move { r.confirm(&scene, &token, &user(n), false).await })
        }))
        .await;
        let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
        let winner = the_one_winner(&results, |r| matches!(r, Ok(true)));
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        // The one ticket is the winner's.
        let events = i.b.subscribe(&scene, &key("k")).await.unwrap().events;
        let ticket = ticket_in(&events.borrow());
        let user_in =
            i.a.redeem_ticket(&scene, &key("k"), &ticket)
                .await
                .unwrap()
                .user;
        assert_eq!(user_in, user(winner));
        if let Some(published) = i.final_events_published(&scene).await {
            assert_eq!(published.len(), 1, "one event: {published:?}");
        }
    }
}

async fn a_ticket_redeemed_at_once_logs_in_once(i: Instances) {
    for round in 0..ROUNDS {
        let scene = id(round);
        let token = scanned(&i.a, round).await;
        let mut events = i.a.subscribe(&scene, &key("k")).await.unwrap().events;
        i.b.confirm(&scene, &token, &user(1), false).await.unwrap();
        let ticket = eventually_ticket(&mut events).await;
        let results = join_all((0..RACERS).map(|n| {
            let (r, scene, ticket) = (i.nth(n), scene.clone(), ticket.clone());
            tokio::spawn(async move { r.redeem_ticket(&scene, &key("k"), &ticket).await })
        }))
        .await;
        let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
        let winner = the_one_winner(&results, Result::is_ok);
        for (n, result) in results.iter().enumerate() {
            if n != winner {
                assert!(matches!(result, Err(AppError::BadTicket)), "{result:?}");
            }
        }
    }
}

async fn eventually_ticket(events: &mut tokio::sync::watch::Receiver<Option<PushEvent>>) -> Ticket {
    let event = events
        .wait_for(|e| matches!(e, Some(PushEvent::Confirmed { .. })))
        .await
        .unwrap()
        .clone();
    ticket_in(&event)
}

async fn a_confirm_racing_a_cancel_ends_one_way(i: Instances) {
    for round in 0..ROUNDS {
        let scene = id(round);
        let token = scanned(&i.a, round).await;
        // Half the racers confirm, half cancel, alternating instances.
        let results = join_all((0..RACERS).map(|n| {
            let (r, scene, token) = (i.nth(n / 2), scene.clone(), token.clone());
            tokio::spawn(async move {
                if n.is_multiple_of(2) {
                    ("confirm", r.confirm(&scene, &token, &user(n), false).await)
                } else {
                    ("cancel", r.cancel(&scene, &token).await)
                }
            })
        }))
        .await;
        let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
        let winner = the_one_winner(&results, |(_, r)| matches!(r, Ok(true)));
        let won = results[winner].0;
        for (what, result) in &results {
            match (won, *what, result) {
                (_, _, Ok(true)) => {}
                // The same decision again: a success that changes nothing.
                (w, x, Ok(false)) if w == x => {}
                ("confirm", "cancel", Err(AppError::AlreadyConfirmed))
                | ("cancel", "confirm", Err(AppError::AlreadyCancelled)) => {}
                other => panic!("after a {won}: {other:?}"),
            }
        }
        let events = i.b.subscribe(&scene, &key("k")).await.unwrap().events;
        match (won, &*events.borrow()) {
            ("confirm", Some(PushEvent::Confirmed { .. }))
            | ("cancel", Some(PushEvent::Cancelled)) => {}
            other => panic!("the event is the winner's: {other:?}"),
        }
        if let Some(published) = i.final_events_published(&scene).await {
            assert_eq!(published.len(), 1, "one event: {published:?}");
        }
    }
}

/// Two instances whose clocks disagree: one sees the scene still open and confirms, the
/// other sees it expired (its purge). Whichever writes first wins; the other changes
/// nothing. (In memory there is one instance, one clock, and one lock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_redis_a_confirm_racing_the_expiry_ends_one_way() {
    let i = in_redis(config(), Clock::ahead_by(TTL + Duration::from_secs(1))).await;
    let mut outcomes = Vec::new();
    for round in 0..ROUNDS * 2 {
        let scene = id(round);
        let token = scanned(&i.a, round).await;
        let (confirmed, expired) = tokio::join!(
            tokio::spawn({
                let (a, scene, token) = (i.a.clone(), scene.clone(), token.clone());
                async move { a.confirm(&scene, &token, &user(1), false).await }
            }),
            tokio::spawn({
                let (b, scene) = (i.b.clone(), scene.clone());
                async move { b.expire_if_due(&scene).await }
            }),
        );
        let events = i.a.subscribe(&scene, &key("k")).await.map(|s| s.events);
        match (confirmed.unwrap(), expired.unwrap(), events) {
            (Ok(true), Ok(false), Ok(events)) => {
                assert!(matches!(
                    *events.borrow(),
                    Some(PushEvent::Confirmed { .. })
                ));
                outcomes.push("confirmed");
            }
            (Err(AppError::SceneNotFound), Ok(true), Ok(events)) => {
                assert_eq!(*events.borrow(), Some(PushEvent::Expired));
                outcomes.push("expired");
            }
            other => panic!("one winner: {other:?}"),
        }
        let published = i.final_events_published(&scene).await.unwrap();
        assert_eq!(published.len(), 1, "one event: {published:?}");
    }
    eprintln!("confirm against expiry: {outcomes:?}");
}

/// Generates, for each contract above, a test against each backend.
macro_rules! contract {
    ($($name:ident($config:expr)),* $(,)?) => {
        mod in_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::in_memory($config)).await;
                }
            )*
        }
        mod in_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::in_redis($config, super::Clock::new()).await).await;
                }
            )*
        }
    };
}

contract!(
    registration_is_keyed(super::config()),
    scenes_are_capped_per_client_and_in_all(super::small_caps()),
    a_login_is_pushed_to_every_socket_and_late_ones_catch_up(super::config()),
    each_decision_is_made_once_and_kept(super::config()),
    two_people_scanning_at_once_one_wins(super::config()),
    a_confirm_repeated_at_once_decides_once(super::config()),
    a_ticket_redeemed_at_once_logs_in_once(super::config()),
    a_confirm_racing_a_cancel_ends_one_way(super::config()),
);
