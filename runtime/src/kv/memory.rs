//! In-memory key-value store (`type = "memory"`): fast, lost on restart.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{KeyValueStore, KvError, add_to_counter};

#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStore {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.map.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl KeyValueStore for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.map().get(key).cloned())
    }

    fn quick_reads(&self) -> bool {
        true
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.map().insert(key.to_string(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        self.map().remove(key);
        Ok(())
    }

    fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        self.map().extend(pairs.iter().cloned());
        Ok(())
    }

    fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        let mut map = self.map();
        keys.iter().for_each(|k| drop(map.remove(k)));
        Ok(())
    }

    fn keys(&self) -> Result<Vec<String>, KvError> {
        Ok(self.map().keys().cloned().collect())
    }

    fn compare_and_swap(&self, key: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<bool, KvError> {
        let mut map = self.map();
        if map.get(key).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        map.insert(key.to_string(), new.to_vec());
        Ok(true)
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        let mut map = self.map();
        let (next, bytes) = add_to_counter(key, map.get(key).map(Vec::as_slice), delta)?;
        map.insert(key.to_string(), bytes);
        Ok(next)
    }
}
