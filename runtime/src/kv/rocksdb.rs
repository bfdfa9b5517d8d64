//! Key-value store in a RocksDB database (`type = "rocksdb"`, `path`):
//! fast local storage that survives restarts. RocksDB has no
//! compare-and-swap, so read-modify-write operations (CAS, increment) run
//! under one lock; a RocksDB directory belongs to one process anyway.

use std::path::Path;
use std::sync::Mutex;

use rocksdb::{DB, IteratorMode};

use super::{KeyValueStore, KvError, add_to_counter};

pub struct RocksStore {
    db: DB,
    read_modify_write: Mutex<()>,
}

impl From<rocksdb::Error> for KvError {
    fn from(e: rocksdb::Error) -> Self {
        KvError(format!("{e:?}"))
    }
}

impl RocksStore {
    pub fn open(path: &Path) -> Result<RocksStore, KvError> {
        std::fs::create_dir_all(path).map_err(|e| KvError(format!("cannot create {}: {e}", path.display())))?;
        Ok(RocksStore { db: DB::open_default(path)?, read_modify_write: Mutex::new(()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.read_modify_write.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl KeyValueStore for RocksStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.db.get(key)?)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        Ok(self.db.put(key, value)?)
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        Ok(self.db.delete(key)?)
    }

    fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        let mut batch = rocksdb::WriteBatch::default();
        pairs.iter().for_each(|(k, v)| batch.put(k, v));
        Ok(self.db.write(batch)?)
    }

    fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        let mut batch = rocksdb::WriteBatch::default();
        keys.iter().for_each(|k| batch.delete(k));
        Ok(self.db.write(batch)?)
    }

    fn keys(&self) -> Result<Vec<String>, KvError> {
        // RocksDB iterates in byte order, which is the sorted order asked for.
        self.db
            .iterator(IteratorMode::Start)
            .map(|entry| entry.map(|(key, _)| String::from_utf8_lossy(&key).into_owned()).map_err(KvError::from))
            .collect()
    }

    fn compare_and_swap(&self, key: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<bool, KvError> {
        let _guard = self.lock();
        if self.db.get(key)?.as_deref() != expected {
            return Ok(false);
        }
        self.db.put(key, new)?;
        Ok(true)
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        let _guard = self.lock();
        let (next, bytes) = add_to_counter(key, self.db.get(key)?.as_deref(), delta)?;
        self.db.put(key, bytes)?;
        Ok(next)
    }
}
