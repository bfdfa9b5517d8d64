//! Key-value store on Redis (`type = "redis"`, `url = "redis://host:port/db"`),
//! as in Spin: keys are stored as they are in the configured database.
//! Counters use `INCRBY` (decimal text, as in Spin's Redis store);
//! compare-and-swap uses `WATCH`/`MULTI`/`EXEC`; `MSET` and a multi-key
//! `DEL` make the batches atomic.

use std::sync::Mutex;

use redis::{Commands, Connection};

use super::{KeyValueStore, KvError};

pub struct RedisStore {
    client: redis::Client,
    idle: Mutex<Vec<Connection>>,
}

impl From<redis::RedisError> for KvError {
    fn from(e: redis::RedisError) -> Self {
        KvError(format!("{e:?}"))
    }
}

const MAX_IDLE: usize = 16;

impl RedisStore {
    /// Connect once to check the URL and the server.
    pub fn open(url: &str) -> Result<RedisStore, KvError> {
        let client = redis::Client::open(url)?;
        let first = client.get_connection()?;
        Ok(RedisStore { client, idle: Mutex::new(vec![first]) })
    }

    /// Run `f` on a pooled connection; a connection that failed is dropped.
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut Connection) -> redis::RedisResult<R>) -> Result<R, KvError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self.client.get_connection()?,
        };
        let result = f(&mut conn);
        if result.is_ok() || result.as_ref().is_err_and(|e| !e.is_io_error()) {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        Ok(result?)
    }
}

/// `url` with its password replaced by `***`, for logs and errors.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) => "<a Redis URL that does not parse>".to_string(),
    }
}

impl KeyValueStore for RedisStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.with(|c| c.get(key))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.with(|c| c.set(key, value))
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        self.with(|c| c.del(key))
    }

    fn exists(&self, key: &str) -> Result<bool, KvError> {
        self.with(|c| c.exists(key))
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        let mut seen = std::collections::HashSet::new();
        let keys: Vec<&String> = keys.iter().filter(|k| seen.insert(k.as_str())).collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = self.with(|c| redis::cmd("MGET").arg(&keys).query(c))?;
        Ok(keys.into_iter().zip(values).filter_map(|(k, v)| Some((k.clone(), v?))).collect())
    }

    fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        if pairs.is_empty() {
            return Ok(());
        }
        self.with(|c| c.mset(pairs))
    }

    fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.with(|c| c.del(keys))
    }

    fn keys(&self) -> Result<Vec<String>, KvError> {
        let mut keys: Vec<String> = self.with(|c| c.scan::<String>()?.collect())?;
        keys.sort();
        Ok(keys)
    }

    fn compare_and_swap(&self, key: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<bool, KvError> {
        self.with(|c| {
            redis::cmd("WATCH").arg(key).exec(c)?;
            let current: Option<Vec<u8>> = c.get(key)?;
            if current.as_deref() != expected {
                redis::cmd("UNWATCH").exec(c)?;
                return Ok(false);
            }
            // EXEC answers nil when a watched key changed in between.
            let swapped: Option<()> = redis::pipe().atomic().set(key, new).ignore().query(c)?;
            Ok(swapped.is_some())
        })
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.with(|c| c.incr(key, delta))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(super::redacted("redis://user:hunter2@cache:6379/0"), "redis://user:***@cache:6379/0");
        assert_eq!(super::redacted("redis://:hunter2@cache"), "redis://:***@cache");
        assert_eq!(super::redacted("redis://cache:6379"), "redis://cache:6379");
        assert!(!super::redacted("redis://u:hunter2@[bad").contains("hunter2"));
    }
}
