//! `keel:infrastructure/kv` on Spin's key-value store "default".
//!
//! Spin's store has neither expiry nor counters, so:
//!
//! * **TTL** — every value is stored in an [`envelope`]: a format tag, the
//!   expiry (ms since the epoch, u64 LE, 0 = none) and the payload. Expired
//!   entries read as absent and are deleted lazily when met; `list-keys`
//!   filters by prefix, hides expired keys and returns them sorted.
//! * **increment** — an optimistic compare-and-swap loop over
//!   `wasi:keyvalue/atomics` (the `cas` resource) on the same store. The
//!   payload of a counter is the decimal ASCII of the i64, so `get` after an
//!   increment returns e.g. `b"42"`; an existing key keeps its expiry, and a
//!   value that is not an integer is `invalid-input`. `increment-with-ttl`
//!   is the same loop, giving a counter it starts an expiry.

mod envelope;

use envelope::Envelope;
use exports::keel::infrastructure::kv::{Error, Guest};
use spin_sdk::experimental::wasi::keyvalue::{atomics, store as wasi_store};
use spin_sdk::key_value::{self, Store};

spin_sdk::wit_bindgen::generate!({
    path: "../../wit/infrastructure",
    world: "keel:infrastructure/kv-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

const STORE: &str = "default";
/// Attempts before `increment` gives up under contention.
const MAX_CAS_ATTEMPTS: usize = 64;

struct KvSpin;

impl Guest for KvSpin {
    async fn get(key: String) -> Result<Option<Vec<u8>>, Error> {
        check_key(&key)?;
        let store = open().await?;
        Ok(live(&store, &key).await?.map(|envelope| envelope.payload))
    }

    async fn set(key: String, value: Vec<u8>) -> Result<(), Error> {
        put(&key, Envelope { expires_at_ms: 0, payload: value }).await
    }

    async fn set_with_ttl(key: String, value: Vec<u8>, ttl_seconds: u32) -> Result<(), Error> {
        if ttl_seconds == 0 {
            return Err(Error::InvalidInput("ttl-seconds must be at least 1".into()));
        }
        put(&key, Envelope { expires_at_ms: envelope::expiry(now_ms(), ttl_seconds), payload: value }).await
    }

    async fn delete(key: String) -> Result<(), Error> {
        check_key(&key)?;
        open().await?.delete(&key).await.map_err(store_error)
    }

    async fn exists(key: String) -> Result<bool, Error> {
        check_key(&key)?;
        let store = open().await?;
        Ok(live(&store, &key).await?.is_some())
    }

    async fn list_keys(prefix: String) -> Result<Vec<String>, Error> {
        let store = open().await?;
        let mut keys = Vec::new();
        for key in store.get_keys().await.collect().await.map_err(store_error)? {
            if key.starts_with(&prefix) && live(&store, &key).await?.is_some() {
                keys.push(key);
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn increment(key: String, delta: i64) -> Result<i64, Error> {
        add(&key, delta, None)
    }

    async fn increment_with_ttl(key: String, delta: i64, ttl_seconds: u32) -> Result<i64, Error> {
        if ttl_seconds == 0 {
            return Err(Error::InvalidInput("ttl-seconds must be at least 1".into()));
        }
        add(&key, delta, Some(ttl_seconds))
    }
}

/// Add `delta` to the counter at `key` with compare-and-swap; a counter
/// this starts expires after `ttl_seconds` when given.
fn add(key: &str, delta: i64, ttl_seconds: Option<u32>) -> Result<i64, Error> {
    check_key(key)?;
    let bucket = wasi_store::open(STORE).map_err(wasi_error)?;
    let mut cas = atomics::Cas::new(&bucket, key).map_err(wasi_error)?;
    for _ in 0..MAX_CAS_ATTEMPTS {
        let now = now_ms();
        let fresh = ttl_seconds.map_or(0, |ttl| envelope::expiry(now, ttl));
        let (current, expires_at_ms) = match cas.current().map_err(wasi_error)? {
            Some(bytes) => match decode(key, bytes)? {
                envelope if envelope.is_expired(now) => (0, fresh),
                envelope => (parse_counter(&envelope.payload)?, envelope.expires_at_ms),
            },
            None => (0, fresh),
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| Error::InvalidInput(format!("incrementing {current} by {delta} overflows")))?;
        let stored = Envelope { expires_at_ms, payload: next.to_string().into_bytes() };
        match atomics::swap(cas, &stored.encode()) {
            Ok(()) => return Ok(next),
            Err(atomics::CasError::CasFailed(retry)) => cas = retry,
            Err(atomics::CasError::StoreError(err)) => return Err(wasi_error(err)),
        }
    }
    Err(Error::Unavailable(format!("increment of `{key}` lost {MAX_CAS_ATTEMPTS} races in a row")))
}

async fn open() -> Result<Store, Error> {
    Store::open(STORE).await.map_err(store_error)
}

async fn put(key: &str, envelope: Envelope) -> Result<(), Error> {
    check_key(key)?;
    open().await?.set(key, envelope.encode()).await.map_err(store_error)
}

/// The unexpired envelope under `key`; an expired one is deleted.
async fn live(store: &Store, key: &str) -> Result<Option<Envelope>, Error> {
    let Some(bytes) = store.get(key).await.map_err(store_error)? else {
        return Ok(None);
    };
    let envelope = decode(key, bytes)?;
    if envelope.is_expired(now_ms()) {
        store.delete(key).await.map_err(store_error)?;
        return Ok(None);
    }
    Ok(Some(envelope))
}

fn decode(key: &str, bytes: Vec<u8>) -> Result<Envelope, Error> {
    Envelope::decode(bytes).map_err(|envelope::Malformed| Error::Internal(format!("value of `{key}` is not in keel kv format")))
}

fn parse_counter(payload: &[u8]) -> Result<i64, Error> {
    std::str::from_utf8(payload)
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or_else(|| Error::InvalidInput("the value is not an integer counter".into()))
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() { Err(Error::InvalidInput("key must not be empty".into())) } else { Ok(()) }
}

fn now_ms() -> u64 {
    u64::try_from(keel_guest::clock::now_ms()).unwrap_or(0)
}

fn store_error(err: key_value::Error) -> Error {
    match err {
        key_value::Error::NoSuchStore => Error::Unavailable(format!("no such key-value store: {STORE}")),
        key_value::Error::AccessDenied => Error::Unavailable(format!("access to key-value store {STORE} denied")),
        key_value::Error::StoreTableFull => Error::Unavailable("too many key-value stores open".into()),
        key_value::Error::Other(message) => Error::Internal(message),
    }
}

fn wasi_error(err: wasi_store::Error) -> Error {
    match err {
        wasi_store::Error::NoSuchStore => Error::Unavailable(format!("no such key-value store: {STORE}")),
        wasi_store::Error::AccessDenied => Error::Unavailable(format!("access to key-value store {STORE} denied")),
        wasi_store::Error::Other(message) => Error::Internal(message),
    }
}

export!(KvSpin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_decimal_ascii() {
        assert_eq!(parse_counter(b"42").ok(), Some(42));
        assert_eq!(parse_counter(b"-7").ok(), Some(-7));
        assert!(matches!(parse_counter(b"4x"), Err(Error::InvalidInput(_))));
        assert!(matches!(parse_counter(&[0xff]), Err(Error::InvalidInput(_))));
    }
}
