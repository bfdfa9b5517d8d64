//! Key-value backends behind one trait, shared by `spin:key-value` and
//! `wasi:keyvalue`. Each backend is small and chosen by the runtime config.
//!
//! # Parity with Spin
//!
//! What a guest can see follows Spin's backends (`crates/key-value-spin`,
//! `crates/key-value-redis`): the SQLite file uses Spin's table, so either
//! runtime opens the other's file; counters (`wasi:keyvalue/atomics`
//! `increment`) are 8-byte little-endian integers in the SQLite, memory and
//! RocksDB stores, as in Spin's SQLite store, and decimal text in Redis
//! (`INCRBY`), as in Spin's Redis store; `set-many` and `delete-many` are
//! atomic; backend errors reach guests as `other` with the error's `Debug`
//! text, as Spin's `log_error` renders them. Differences, on purpose: a
//! counter that is not 8 bytes is `other("… is not a counter …")` where
//! Spin's host panics, and an overflowing increment is an error where
//! Spin's wraps around.

mod memory;
pub(crate) mod redis;
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
        KvError(format!("{e:?}"))
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
    /// Whether `get`, `exists` and `get_many` answer from this process's
    /// memory or a local file without waiting for a write, a lock or the
    /// network: the host then runs them on the calling thread instead of
    /// handing them to another one.
    fn quick_reads(&self) -> bool {
        false
    }
    /// The keys of `keys` that exist, with their values, in request order
    /// and each once (Spin's SQLite store leaves missing keys out).
    fn get_many(&self, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        let mut seen = std::collections::HashSet::new();
        let mut found = Vec::new();
        for key in keys.iter().filter(|k| seen.insert(k.as_str())) {
            if let Some(value) = self.get(key)? {
                found.push((key.clone(), value));
            }
        }
        Ok(found)
    }
    /// Set every pair, all or none.
    fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), KvError>;
    /// Delete every key, all or none.
    fn delete_many(&self, keys: &[String]) -> Result<(), KvError>;
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
    /// Atomically add `delta` to the counter at `key` (absent = 0).
    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError>;
}

/// The counter arithmetic of the stores that keep counters as Spin's SQLite
/// store does: an 8-byte little-endian `i64`.
pub(crate) fn add_to_counter(key: &str, current: Option<&[u8]>, delta: i64) -> Result<(i64, Vec<u8>), KvError> {
    let current = match current {
        None => 0,
        Some(bytes) => i64::from_le_bytes(bytes.try_into().map_err(|_| {
            KvError(format!("the value of `{key}` is not a counter (an 8-byte little-endian integer)"))
        })?),
    };
    let next = current
        .checked_add(delta)
        .ok_or_else(|| KvError(format!("incrementing `{key}` by {delta} overflows a 64-bit integer")))?;
    Ok((next, next.to_le_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::redis;
    use std::sync::Arc;

    /// Every backend, each on a fresh store. Redis is the local test server
    /// (`KEEL_TEST_REDIS`, default `127.0.0.1:6379`), database `db` (13–15
    /// are these tests'; the feature suites lease 1–12), emptied.
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
            assert_eq!(kv.get("n").unwrap(), Some(counter(name, -2)), "{name}: Spin's encoding");
            assert!(kv.increment("a", 1).is_err(), "{name}: non-numeric counter");
            assert_eq!(kv.get("a").unwrap().as_deref(), Some(&b"x"[..]), "{name}: a refused increment changes nothing");
            kv.delete("a").unwrap();
            kv.delete("a").unwrap();
            assert!(!kv.exists("a").unwrap(), "{name}");
        }
    }

    /// How a backend stores the counter `n`, as Spin's backend of that kind does.
    fn counter(backend: &str, n: i64) -> Vec<u8> {
        match backend {
            "redis" => n.to_string().into_bytes(),
            _ => n.to_le_bytes().to_vec(),
        }
    }

    #[test]
    fn batches_apply_all_or_nothing_and_skip_missing_keys() {
        for (name, kv) in backends(13) {
            let pairs = |ps: &[(&str, &str)]| ps.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect::<Vec<_>>();
            let keys = |ks: &[&str]| ks.iter().map(|k| k.to_string()).collect::<Vec<_>>();
            kv.set_many(&pairs(&[("b", "2"), ("a", "1"), ("c", "3")])).unwrap();
            assert_eq!(kv.get_many(&keys(&["c", "missing", "a", "c"])).unwrap(), pairs(&[("c", "3"), ("a", "1")]), "{name}");
            kv.delete_many(&keys(&["a", "c", "missing"])).unwrap();
            assert_eq!(kv.keys().unwrap(), vec!["b"], "{name}");
        }
    }

    #[test]
    fn a_counter_from_spins_sqlite_store_is_read_as_spin_wrote_it() {
        // A `.spin/sqlite_key_value.db` row as Spin 4 writes it after
        // `increment(k, 41)`: the same table, the value 8 bytes little-endian.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sqlite_key_value.db");
        let spin = rusqlite::Connection::open(&path).unwrap();
        spin.execute_batch(
            "CREATE TABLE spin_key_value (store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key));",
        )
        .unwrap();
        spin.execute("INSERT INTO spin_key_value VALUES ('default', 'k', ?1)", [41i64.to_le_bytes().to_vec()]).unwrap();
        let kv = SqliteStore::open(&path, "default").unwrap();
        assert_eq!(kv.increment("k", 1).unwrap(), 42);
        let stored: Vec<u8> = spin.query_row("SELECT value FROM spin_key_value WHERE key = 'k'", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, 42i64.to_le_bytes());
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
            assert_eq!(kv.get("counter").unwrap(), Some(counter(name, 1600)), "{name}");
        }
    }
}
