//! Key-value backends behind one trait, shared by `spin:key-value` and
//! `wasi:keyvalue`. Each backend is small and chosen by the runtime config.

mod memory;
mod redis;
#[cfg(feature = "rocksdb")]
mod rocksdb;
mod sqlite;

pub use memory::MemoryStore;
pub use redis::RedisStore;
#[cfg(feature = "rocksdb")]
pub use rocksdb::RocksStore;
pub use sqlite::SqliteStore;

/// A backend failure, reported to guests as `other(message)`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KvError(pub String);

impl From<rusqlite::Error> for KvError {
    fn from(e: rusqlite::Error) -> Self {
        KvError(e.to_string())
    }
}

/// Storage of one key-value store label. Calls block; async callers run
/// them on a blocking thread.
pub trait KeyValueStore: Send + Sync + 'static {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
    fn delete(&self, key: &str) -> Result<(), KvError>;
    fn exists(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.get(key)?.is_some())
    }
    /// All keys, sorted.
    fn keys(&self) -> Result<Vec<String>, KvError>;
    /// Atomically replace the value at `key` with `new` if it is still
    /// `expected` (`None`: absent). Returns whether the swap happened.
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, KvError>;
    /// Atomically add `delta` to the decimal integer at `key` (absent = 0).
    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError>;
}

/// The counter arithmetic every backend shares: values are decimal ASCII,
/// the same representation Redis' INCRBY uses.
pub(crate) fn add_to_counter(current: Option<&[u8]>, delta: i64) -> Result<(i64, Vec<u8>), KvError> {
    let current = match current {
        None => 0,
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .ok_or_else(|| KvError("value is not a decimal integer".into()))?,
    };
    let next = current
        .checked_add(delta)
        .ok_or_else(|| KvError("increment overflows a 64-bit integer".into()))?;
    Ok((next, next.to_string().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::redis;
    use std::sync::Arc;

    /// Every backend, each on a fresh store. Redis is the local test server
    /// (`KEEL_TEST_REDIS`, default `127.0.0.1:6379`), database `db`, emptied.
    fn backends(db: u8) -> Vec<(&'static str, Arc<dyn KeyValueStore>)> {
        let path = std::env::temp_dir().join(format!("keel-kv-{db}-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let host = std::env::var("KEEL_TEST_REDIS").unwrap_or_else(|_| "127.0.0.1:6379".into());
        let url = format!("redis://{host}/{db}");
        let redis = RedisStore::open(&url).unwrap_or_else(|e| panic!("Redis at {url}: {e}"));
        redis.with(|c| redis::cmd("FLUSHDB").exec(c)).unwrap();
        #[allow(unused_mut)]
        let mut backends: Vec<(&'static str, Arc<dyn KeyValueStore>)> = vec![
            ("memory", Arc::new(MemoryStore::default())),
            ("sqlite", Arc::new(SqliteStore::open(&path, "default").unwrap())),
            ("redis", Arc::new(redis)),
        ];
        #[cfg(feature = "rocksdb")]
        {
            let dir = path.with_extension("rocksdb");
            let _ = std::fs::remove_dir_all(&dir);
            backends.push(("rocksdb", Arc::new(RocksStore::open(&dir).unwrap())));
        }
        backends
    }

    #[test]
    fn every_backend_behaves_the_same() {
        for (name, kv) in backends(14) {
            assert_eq!(kv.get("a").unwrap(), None, "{name}");
            kv.set("b", b"2").unwrap();
            kv.set("a", b"1").unwrap();
            assert_eq!(kv.get("a").unwrap().as_deref(), Some(&b"1"[..]), "{name}");
            assert_eq!(kv.keys().unwrap(), vec!["a", "b"], "{name}");
            assert!(kv.compare_and_swap("a", Some(b"1"), b"x").unwrap(), "{name}");
            assert!(!kv.compare_and_swap("a", Some(b"1"), b"y").unwrap(), "{name}");
            assert!(kv.compare_and_swap("new", None, b"n").unwrap(), "{name}");
            assert!(!kv.compare_and_swap("new", None, b"m").unwrap(), "{name}");
            assert_eq!(kv.increment("n", 5).unwrap(), 5, "{name}");
            assert_eq!(kv.increment("n", -7).unwrap(), -2, "{name}");
            assert_eq!(kv.get("n").unwrap().as_deref(), Some(&b"-2"[..]), "{name}");
            assert!(kv.increment("a", 1).is_err(), "{name}: non-numeric counter");
            kv.delete("a").unwrap();
            kv.delete("a").unwrap();
            assert!(!kv.exists("a").unwrap(), "{name}");
        }
    }

    #[test]
    fn concurrent_increments_lose_no_update() {
        for (name, kv) in backends(15) {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let kv = kv.clone();
                    std::thread::spawn(move || {
                        for _ in 0..200 {
                            kv.increment("counter", 1).unwrap();
                        }
                    })
                })
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
            assert_eq!(kv.get("counter").unwrap().as_deref(), Some(&b"1600"[..]), "{name}");
        }
    }
}
