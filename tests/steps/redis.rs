//! A fresh Redis database per scenario for the suites that run on Redis.
//!
//! The server is `KEEL_TEST_REDIS` (default `127.0.0.1:6379`). Redis numbers
//! its databases, so a run cannot name its own: it leases [`LEASED`] of
//! databases 1–12 instead (the runtime's unit tests use 13–15), by setting
//! `keel-test-lease:<n>` in database 0 to its run id and process id. A
//! lease whose process is gone is taken over, so a killed run blocks no one;
//! two runs at once use different databases and never empty each other's.
//! A scenario takes a leased database no other scenario is using, emptied.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Databases a run holds: as many as the scenarios it runs at once, and one
/// more for a scenario starting while another one's world is dropped.
const LEASED: usize = 3;
const FIRST: u8 = 1;
const LAST: u8 = 12;

pub fn host() -> String {
    std::env::var("KEEL_TEST_REDIS").unwrap_or_else(|_| "127.0.0.1:6379".into())
}

fn connection(db: u8) -> redis::Connection {
    let url = format!("redis://{}/{db}", host());
    redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .unwrap_or_else(|e| panic!("Redis at {url} is not reachable: {e}"))
}

/// Whether the lease holder `owner` (`run pid`) is a live process here.
fn alive(owner: &str) -> bool {
    owner.split_once(' ').is_some_and(|(_, pid)| std::path::Path::new("/proc").join(pid).exists())
}

/// This run's databases, leased on first use (waiting up to a minute for
/// other runs to finish when every database is taken).
fn leased() -> &'static [u8] {
    static DATABASES: OnceLock<Vec<u8>> = OnceLock::new();
    DATABASES.get_or_init(|| {
        let mut conn = connection(0);
        let me = format!("{} {}", super::run_id(), std::process::id());
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut mine = Vec::new();
        loop {
            for db in FIRST..=LAST {
                if mine.len() == LEASED || mine.contains(&db) {
                    continue;
                }
                let key = format!("keel-test-lease:{db}");
                let taken: bool = redis::cmd("SET")
                    .arg(&key)
                    .arg(&me)
                    .arg("NX")
                    .query::<Option<String>>(&mut conn)
                    .expect("SET NX")
                    .is_some();
                let holder: Option<String> =
                    if taken { None } else { redis::cmd("GET").arg(&key).query(&mut conn).expect("GET") };
                // A dead run's lease is taken over (WATCH makes it one winner).
                let stale = holder.as_deref().is_some_and(|owner| !alive(owner));
                if taken || (stale && take_over(&mut conn, &key, holder.as_deref().unwrap_or_default(), &me)) {
                    mine.push(db);
                }
            }
            if mine.len() == LEASED {
                return mine;
            }
            assert!(Instant::now() < deadline, "every Redis test database (1–12) is leased by another live run");
            std::thread::sleep(Duration::from_millis(500));
        }
    })
}

/// Replace the lease `key` held by `old` with `new`, unless someone else did.
fn take_over(conn: &mut redis::Connection, key: &str, old: &str, new: &str) -> bool {
    redis::cmd("WATCH").arg(key).exec(conn).expect("WATCH");
    let current: Option<String> = redis::cmd("GET").arg(key).query(conn).expect("GET");
    if current.as_deref() != Some(old) {
        redis::cmd("UNWATCH").exec(conn).expect("UNWATCH");
        return false;
    }
    let replaced: Option<()> = redis::pipe().atomic().set(key, new).ignore().query(conn).expect("MULTI/EXEC");
    replaced.is_some()
}

/// Databases of this run's that no scenario uses now.
static FREE: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// A database a scenario uses; free again when the scenario's world (and
/// with it the server using the database) is dropped.
#[derive(Debug)]
pub struct Database(u8);

impl Drop for Database {
    fn drop(&mut self) {
        FREE.lock().unwrap_or_else(|p| p.into_inner()).push(self.0);
    }
}

/// An emptied database of this run's that no other scenario is using, and
/// its URL.
pub fn fresh_database() -> (String, Database) {
    static FILLED: std::sync::Once = std::sync::Once::new();
    FILLED.call_once(|| FREE.lock().unwrap().extend(leased()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let db = loop {
        if let Some(db) = FREE.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            break db;
        }
        assert!(Instant::now() < deadline, "no Redis test database became free within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    redis::cmd("FLUSHDB").exec(&mut connection(db)).expect("FLUSHDB");
    (format!("redis://{}/{db}", host()), Database(db))
}
