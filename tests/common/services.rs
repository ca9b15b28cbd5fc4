//! Real Redis and PostgreSQL servers for tests, from Debian's packages (the Makefile
//! installs them), on free loopback ports, stopped when their guard is dropped.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
};

/// A free loopback port (free when asked; servers bind it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_port(port: u16) {
    super::eventually_blocking(&format!("a server listens on port {port}"), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// A `redis-server` of this test's own, without persistence.
pub struct RedisServer {
    port: u16,
    child: Child,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (make test installs Debian's redis-server)");
        wait_for_port(port);
        Self { port, child }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops the process (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) {
        signal(self.child.id(), "-STOP");
    }

    pub fn resume(&self) {
        signal(self.child.id(), "-CONT");
    }

    /// Kills the server and starts an empty one on the same port.
    pub fn restart_empty(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let port = self.port;
        // The replacement takes this one's place; the old process is gone already.
        super::eventually_blocking("the old redis-server is gone", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        });
        *self = Self::start_on(port);
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // A paused server must wake to die; a dead one (restarted) needs nothing.
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PostgreSQL cluster of this test's own: `initdb` and `pg_ctl` into a temporary
/// directory, run as Debian's `postgres` user when the tests run as root (initdb refuses
/// root).
pub struct PostgresServer {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

fn postgres_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (make test installs Debian's postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("an initdb under /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn as_postgres(program: PathBuf) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

impl PostgresServer {
    pub fn start() -> Self {
        let bin = postgres_bin();
        let dir = std::env::temp_dir().join(format!(
            "scanlogin-pg-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown to postgres");
        }
        let data = dir.join("data");
        // initdb now and then fails when many servers start at once (the suite runs tests
        // in parallel, each with its own PostgreSQL): try again, and say why if it keeps on.
        let mut failure = String::new();
        let initialised = (0..3).any(|_| {
            let _ = std::fs::remove_dir_all(&data);
            let out = as_postgres(bin.join("initdb"))
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(&data)
                .output()
                .expect("initdb runs");
            failure = String::from_utf8_lossy(&out.stderr).into_owned();
            out.status.success()
        });
        assert!(initialised, "initdb: {failure}");
        let port = free_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            dir.display()
        );
        let started = as_postgres(bin.join("pg_ctl"))
            .args(["-w", "-D"])
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(dir.join("log"))
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl runs");
        assert!(started.success(), "pg_ctl start");
        Self { port, dir, bin }
    }

    fn pg_ctl(&self, args: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let ok = as_postgres(self.bin.join("pg_ctl"))
            .args(["-w", "-D"])
            .arg(self.dir.join("data"))
            .args(["-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .args(args)
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl runs")
            .success();
        assert!(ok, "pg_ctl {args:?}");
    }

    /// Stops the server (its data stays).
    pub fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "stop"]);
    }

    /// Starts it again after [`stop`](Self::stop).
    pub fn start_again(&self) {
        self.pg_ctl(&["start"]);
    }

    /// The URL of a new, empty database on this server.
    pub async fn database(&self) -> String {
        use sqlx::Connection;
        let name = format!(
            "t{}",
            scanlogin::protocol::id_from_random_bytes(|| {
                scanlogin::server::random::bytes::<1>()[0]
            })
            .to_lowercase()
        );
        let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = as_postgres(self.bin.join("pg_ctl"))
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A database on the suite's shared PostgreSQL server (`TEST_POSTGRES_URL`, started by
/// `tests/with-postgres.sh`), for the whole suite's run against Redis and PostgreSQL.
pub async fn shared_postgres_database() -> String {
    use sqlx::Connection;
    let admin = std::env::var("TEST_POSTGRES_URL")
        .expect("TEST_BACKEND=redis-postgres runs under tests/with-postgres.sh");
    let name = format!(
        "t{}",
        scanlogin::protocol::id_from_random_bytes(|| scanlogin::server::random::bytes::<1>()[0])
            .to_lowercase()
    );
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

/// A database two instances share: PostgreSQL's with the Redis + PostgreSQL backend, else
/// an SQLite file of the test's own, deleted when dropped.
pub struct SharedDatabase {
    pub url: String,
}

impl SharedDatabase {
    pub async fn new() -> Self {
        let url = if super::backend_is_redis_postgres() {
            shared_postgres_database().await
        } else {
            let file =
                std::env::temp_dir().join(format!("scanlogin-shared-{}.db", super::flow::id()));
            format!("sqlite://{}", file.display())
        };
        Self { url }
    }
}

impl Drop for SharedDatabase {
    fn drop(&mut self) {
        if let Some(file) = self.url.strip_prefix("sqlite://") {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{file}{suffix}"));
            }
        }
    }
}

/// What the instances of one deployment share: one database, and with the Redis backend
/// one Redis.
pub struct SharedStores {
    database: SharedDatabase,
    redis: Option<(RedisServer, String)>,
}

impl SharedStores {
    pub async fn new() -> Self {
        let redis = super::backend_is_redis_postgres().then(|| {
            let server = RedisServer::start();
            let url = server.url();
            (server, url)
        });
        Self {
            database: SharedDatabase::new().await,
            redis,
        }
    }

    /// The variables that point an instance at them.
    pub fn vars(&self) -> Vec<(&str, &str)> {
        let mut vars = vec![("SCANLOGIN_DATABASE_URL", self.database.url.as_str())];
        if let Some((_, url)) = &self.redis {
            vars.push(("SCANLOGIN_REDIS_URL", url.as_str()));
        }
        vars
    }
}
