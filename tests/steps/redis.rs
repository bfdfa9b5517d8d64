//! A fresh Redis database per scenario for the suites that run on Redis.
//!
//! The server is `KEEL_TEST_REDIS` (default `127.0.0.1:6379`). Scenarios take
//! databases 1–13 in turn (the runtime's unit tests use 14 and 15), each
//! emptied before use.

use std::sync::atomic::{AtomicUsize, Ordering};

pub fn host() -> String {
    std::env::var("KEEL_TEST_REDIS").unwrap_or_else(|_| "127.0.0.1:6379".into())
}

/// The URL of an emptied database.
pub fn fresh_database_url() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let url = format!("redis://{}/{}", host(), 1 + NEXT.fetch_add(1, Ordering::Relaxed) % 13);
    let mut conn = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .unwrap_or_else(|e| panic!("Redis at {url} is not reachable: {e}"));
    redis::cmd("FLUSHDB").exec(&mut conn).expect("FLUSHDB");
    url
}
