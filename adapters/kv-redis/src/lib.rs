//! `keel:infrastructure/kv` on Spin's outbound Redis API (`spin:redis`), for
//! apps that want Redis semantics directly: expiry is Redis' own (`SET … EX`),
//! `increment` is `INCRBY`, `increment-with-ttl` a script that runs `INCRBY`
//! and, for a counter it created, `EXPIRE`; `list-keys` walks `SCAN … MATCH prefix*`.
//!
//! The server comes from the Spin variable `redis_url`
//! (`redis://host:6379/0`; the host must be in the component's
//! `allowed_outbound_hosts`).

use exports::keel::infrastructure::kv::{Error, Guest};
use spin_sdk::redis::{self, Connection, RedisParameter, RedisResult};

spin_sdk::wit_bindgen::generate!({
    path: "../../wit/infrastructure",
    world: "keel:infrastructure/kv-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

struct KvRedis;

async fn connect() -> Result<Connection, Error> {
    let address = spin_sdk::variables::get("redis_url")
        .await
        .map_err(|e| Error::Unavailable(format!("the Spin variable `redis_url` is not set: {e}")))?;
    Connection::open(address).await.map_err(error)
}

fn error(err: redis::Error) -> Error {
    match err {
        redis::Error::InvalidAddress => Error::Unavailable("`redis_url` is not a valid Redis address".into()),
        redis::Error::TooManyConnections => Error::Unavailable("too many Redis connections".into()),
        redis::Error::TypeError => Error::InvalidInput("the value has the wrong type for this operation".into()),
        // Redis answers `ERR value is not an integer …` to INCRBY on text.
        redis::Error::Other(message) if message.contains("not an integer") => Error::InvalidInput(message),
        redis::Error::Other(message) => Error::Unavailable(message),
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() { Err(Error::InvalidInput("key must not be empty".into())) } else { Ok(()) }
}

fn bytes(value: impl Into<Vec<u8>>) -> RedisParameter {
    RedisParameter::Binary(value.into())
}

/// Escape glob characters so a prefix matches only itself.
fn glob_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    pattern
}

impl Guest for KvRedis {
    async fn get(key: String) -> Result<Option<Vec<u8>>, Error> {
        check_key(&key)?;
        connect().await?.get(key).await.map_err(error)
    }

    async fn set(key: String, value: Vec<u8>) -> Result<(), Error> {
        check_key(&key)?;
        // Plain SET also clears an earlier expiry, as the contract wants.
        connect().await?.set(key, value).await.map_err(error)
    }

    async fn set_with_ttl(key: String, value: Vec<u8>, ttl_seconds: u32) -> Result<(), Error> {
        check_key(&key)?;
        if ttl_seconds == 0 {
            return Err(Error::InvalidInput("ttl-seconds must be at least 1".into()));
        }
        let args = [bytes(key), bytes(value), bytes("EX"), RedisParameter::Int64(ttl_seconds.into())];
        connect().await?.execute("SET", args).await.map(drop).map_err(error)
    }

    async fn delete(key: String) -> Result<(), Error> {
        check_key(&key)?;
        connect().await?.del(&[key]).await.map(drop).map_err(error)
    }

    async fn exists(key: String) -> Result<bool, Error> {
        check_key(&key)?;
        match connect().await?.execute("EXISTS", [bytes(key)]).await.map_err(error)?.first() {
            Some(RedisResult::Int64(n)) => Ok(*n > 0),
            other => Err(Error::Internal(format!("unexpected EXISTS reply: {other:?}"))),
        }
    }

    async fn list_keys(prefix: String) -> Result<Vec<String>, Error> {
        let connection = connect().await?;
        let pattern = glob_prefix(&prefix);
        let mut cursor = b"0".to_vec();
        let mut keys = Vec::new();
        loop {
            let reply = connection
                .execute("SCAN", [bytes(cursor), bytes("MATCH"), bytes(pattern.as_str()), bytes("COUNT"), bytes("500")])
                .await
                .map_err(error)?;
            // The reply is flattened: the next cursor, then the keys.
            let mut items = reply.into_iter();
            cursor = match items.next() {
                Some(RedisResult::Binary(next)) => next,
                other => return Err(Error::Internal(format!("unexpected SCAN reply: {other:?}"))),
            };
            for item in items {
                if let RedisResult::Binary(key) = item {
                    keys.push(String::from_utf8_lossy(&key).into_owned());
                }
            }
            if cursor == b"0" {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    async fn increment(key: String, delta: i64) -> Result<i64, Error> {
        check_key(&key)?;
        match connect().await?.execute("INCRBY", [bytes(key), RedisParameter::Int64(delta)]).await.map_err(error)?.first() {
            Some(RedisResult::Int64(n)) => Ok(*n),
            other => Err(Error::Internal(format!("unexpected INCRBY reply: {other:?}"))),
        }
    }

    async fn increment_with_ttl(key: String, delta: i64, ttl_seconds: u32) -> Result<i64, Error> {
        check_key(&key)?;
        if ttl_seconds == 0 {
            return Err(Error::InvalidInput("ttl-seconds must be at least 1".into()));
        }
        let args = [
            bytes(INCREMENT_WITH_TTL),
            RedisParameter::Int64(1),
            bytes(key),
            RedisParameter::Int64(delta),
            RedisParameter::Int64(ttl_seconds.into()),
        ];
        match connect().await?.execute("EVAL", args).await.map_err(error)?.first() {
            Some(RedisResult::Int64(n)) => Ok(*n),
            other => Err(Error::Internal(format!("unexpected EVAL reply: {other:?}"))),
        }
    }
}

/// `INCRBY`, then `EXPIRE` when the key did not exist before (Redis drops
/// expired keys, so that covers expired counters too), atomically: Redis
/// runs a script without interleaving other commands.
const INCREMENT_WITH_TTL: &str = "local existed = redis.call('EXISTS', KEYS[1]) \
     local n = redis.call('INCRBY', KEYS[1], ARGV[1]) \
     if existed == 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end \
     return n";

export!(KvRedis);

#[cfg(test)]
mod tests {
    use super::glob_prefix;

    #[test]
    fn escapes_glob_characters_in_prefixes() {
        assert_eq!(glob_prefix("user:"), "user:*");
        assert_eq!(glob_prefix("a*b?[c]"), "a\\*b\\?\\[c\\]*");
        assert_eq!(glob_prefix(""), "*");
    }
}
