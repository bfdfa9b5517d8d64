//! `spin:key-value/key-value@3.0.0` and `wasi:keyvalue@0.2.0-draft2`
//! (store, atomics, batch) over the configured [`KeyValueStore`] backends.
//!
//! # Parity with Spin
//!
//! Follows `crates/factor-key-value/src/host.rs` and Spin's stores:
//! - `open` of a label the component does not list is `access-denied` (on
//!   both interfaces), whether or not the store exists.
//! - A read that would hold more than 128 MiB in host memory (`get`, the key
//!   list, `get-many`, `cas.current`; counted as Spin counts it, 24 bytes per
//!   value or key plus its length) is `other("query result exceeds limit of
//!   134217728 bytes")`.
//! - `get-many` returns the keys that exist, each once, and leaves missing
//!   ones out (Spin's SQLite store does; the WIT text says `none` entries);
//!   `set-many` and `delete-many` apply all or nothing.
//! - `cas.current` reads the value now and `swap` compares against what it
//!   last saw; a failed swap returns a fresh handle.
//! - Errors are `other` with the backend error's `Debug` text ([`crate::kv`]).
//!
//! Differences, on purpose: `cas.new` also reads the value, so a `swap`
//! without `current` is still a compare-and-swap (Spin's becomes a plain
//! write); `list-keys` accepts a cursor (Spin refuses one) and keys come
//! sorted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

use super::bindings::spin::key_value::key_value::{self as spin_kv, HostStore, HostStoreWithStore};
use super::bindings::wasi::keyvalue::{atomics, batch, store as wasi_store};
use super::{AppContext, Capability, HostState, Spin};
use crate::config::manifest::Component;
use crate::config::runtime_config::KeyValueBackend;
use crate::kv::{self, KeyValueStore, KvError};
use crate::telemetry::{Call, HostCall};

/// `[key_value_store.<label>]` in the runtime config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreConfig {
    /// `"spin"` (a SQLite file), `"memory"`, `"redis"` or `"rocksdb"`.
    #[serde(rename = "type")]
    kind: String,
    /// The file or directory of `spin` and `rocksdb`.
    #[serde(default)]
    path: Option<PathBuf>,
    /// The server of `redis` (`redis://host:port/db`).
    #[serde(default)]
    url: Option<String>,
}

impl StoreConfig {
    /// The store it names; a relative `path` resolves against `base`.
    pub(crate) fn backend(self, base: &Path) -> Result<KeyValueBackend, String> {
        let kind = self.kind.as_str();
        match (kind, self.path, self.url) {
            ("redis", None, Some(url)) => Ok(KeyValueBackend::Redis(url)),
            ("redis", Some(_), _) => Err("type \"redis\" takes `url`, not `path`".into()),
            ("redis", None, None) => Err("type \"redis\" needs `url = \"redis://host:port\"`".into()),
            ("spin" | "memory" | "rocksdb", _, Some(_)) => {
                Err(format!("`url` is only for type \"redis\" (type \"{kind}\" takes `path`)"))
            }
            ("spin", Some(path), None) => Ok(KeyValueBackend::Sqlite(base.join(path))),
            ("spin" | "memory", None, None) => Ok(KeyValueBackend::Memory),
            ("rocksdb", Some(path), None) => Ok(KeyValueBackend::RocksDb(base.join(path))),
            ("rocksdb", None, None) => Err("type \"rocksdb\" needs a `path`".into()),
            ("memory", Some(_), None) => Err("type \"memory\" takes no `path`".into()),
            (other, _, _) => {
                Err(format!("unsupported type `{other}` (supported: \"spin\", \"memory\", \"redis\", \"rocksdb\")"))
            }
        }
    }
}

/// The key-value capability: a store per label, shared by the components
/// that list it.
pub(crate) struct KeyValue;

impl Capability for KeyValue {
    type App = HashMap<String, Arc<dyn KeyValueStore>>;
    type Grant = HashMap<String, Arc<dyn KeyValueStore>>;

    fn link(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
        spin_kv::add_to_linker::<_, Spin>(linker, super::this)?;
        wasi_store::add_to_linker::<_, Spin>(linker, super::this)?;
        atomics::add_to_linker::<_, Spin>(linker, super::this)?;
        batch::add_to_linker::<_, Spin>(linker, super::this)
    }

    fn configure(ctx: &AppContext) -> Result<Self::App, Vec<String>> {
        super::open_labels(
            ctx,
            "key_value_store",
            |component| &component.key_value_stores,
            |label| ctx.runtime_config.key_value(label, ctx.state_dir),
            |label, backend| open(label, backend).map_err(|e| format!("key-value store `{label}`{e}")),
        )
    }

    fn grant(app: &Self::App, component: &Component) -> Self::Grant {
        component.key_value_stores.iter().map(|label| (label.clone(), app[label].clone())).collect()
    }
}

/// Open the store `label`; an error (to follow the label) names the
/// backend without its credentials.
fn open(label: &str, backend: KeyValueBackend) -> Result<Arc<dyn KeyValueStore>, String> {
    Ok(match backend {
        KeyValueBackend::Sqlite(path) => {
            tracing::info!("key-value store `{label}`: {}", path.display());
            Arc::new(kv::SqliteStore::open(&path, label).map_err(|e| format!(": {e}"))?)
        }
        KeyValueBackend::Memory => Arc::new(kv::MemoryStore::default()),
        #[cfg(feature = "rocksdb")]
        KeyValueBackend::RocksDb(path) => {
            tracing::info!("key-value store `{label}`: RocksDB {}", path.display());
            Arc::new(kv::RocksStore::open(&path).map_err(|e| format!(": {e}"))?)
        }
        #[cfg(not(feature = "rocksdb"))]
        KeyValueBackend::RocksDb(_) => {
            return Err(" is RocksDB, but this keel was built without it \
                        (cargo build --features rocksdb, with librocksdb-dev installed)"
                .into());
        }
        KeyValueBackend::Redis(url) => {
            let shown = kv::redis::redacted(&url);
            tracing::info!("key-value store `{label}`: {shown}");
            Arc::new(kv::RedisStore::open(&url).map_err(|e| format!(" ({shown}): {e}"))?)
        }
    })
}

/// An open store: the `store` resource of Spin and the `bucket` of WASI.
pub struct Store(Arc<dyn KeyValueStore>);

/// A compare-and-swap handle: the value seen when it was created.
pub struct Cas {
    store: Arc<dyn KeyValueStore>,
    key: String,
    seen: Option<Vec<u8>>,
}

/// Run a blocking backend call off the async executor; `call` ends with it.
async fn blocking<R: Send + 'static>(
    (store, call): (Arc<dyn KeyValueStore>, HostCall),
    f: impl FnOnce(&dyn KeyValueStore) -> Result<R, KvError> + Send + 'static,
) -> Result<R, KvError> {
    let result = tokio::task::spawn_blocking(move || f(store.as_ref())).await.expect("key-value task does not panic");
    finish(call, &result);
    result
}

/// Run a read: here when the backend answers reads at once
/// ([`KeyValueStore::quick_reads`]), else as [`blocking`] does.
async fn reading<R: Send + 'static>(
    (store, call): (Arc<dyn KeyValueStore>, HostCall),
    f: impl FnOnce(&dyn KeyValueStore) -> Result<R, KvError> + Send + 'static,
) -> Result<R, KvError> {
    if !store.quick_reads() {
        return blocking((store, call), f).await;
    }
    let result = f(store.as_ref());
    finish(call, &result);
    result
}

/// Run a synchronous read: here when the backend answers reads at once,
/// else with the executor's other tasks moved off this thread.
fn read_now<R>(store: &dyn KeyValueStore, f: impl FnOnce(&dyn KeyValueStore) -> R) -> R {
    if store.quick_reads() { f(store) } else { super::block_in_place(|| f(store)) }
}

/// End an operation's telemetry (an error by its kind only: its text may
/// name keys).
fn finish<R>(call: HostCall, result: &Result<R, KvError>) {
    call.finish(result.as_ref().err().map(|_| "error"), None);
}

impl HostState {
    fn kv_backend(&self, label: &str) -> Option<Arc<dyn KeyValueStore>> {
        self.services.key_value.get(label).cloned()
    }

    fn kv_store(&self, store: &Resource<Store>) -> wasmtime::Result<Arc<dyn KeyValueStore>> {
        Ok(self.table.get(store)?.0.clone())
    }

    /// The store of an `operation`, and the operation's telemetry.
    fn kv_call(
        &self,
        store: &Resource<Store>,
        operation: &'static str,
    ) -> wasmtime::Result<(Arc<dyn KeyValueStore>, HostCall)> {
        Ok((self.kv_store(store)?, self.host_call(Call::KeyValue { operation })))
    }

    /// Run `f`, a synchronous (`wasi:keyvalue`) `operation`, on the store.
    /// A point read runs here when the backend answers reads at once
    /// ([`read_now`]); anything else blocks, so the executor's other tasks
    /// move off this thread meanwhile.
    fn kv_sync<R>(
        &self,
        store: &Resource<Store>,
        operation: &'static str,
        access: Access,
        f: impl FnOnce(&dyn KeyValueStore) -> Result<R, KvError>,
    ) -> wasmtime::Result<Result<R, KvError>> {
        let (kv, call) = self.kv_call(store, operation)?;
        let result = match access {
            Access::Read => read_now(kv.as_ref(), f),
            Access::Other => super::block_in_place(|| f(kv.as_ref())),
        };
        finish(call, &result);
        Ok(result)
    }
}

/// What a synchronous call does: reads of given keys, or anything else
/// (writes, and the list of all keys).
#[derive(Clone, Copy)]
enum Access {
    Read,
    Other,
}

/// Spin's bound on what one call may buffer in host memory
/// (`MAX_HOST_BUFFERED_BYTES` in Spin's `crates/world`).
pub const MAX_RESULT_BYTES: usize = super::mysql::MAX_RESULT_BYTES;

/// What Spin's stores count for one value or key: its length plus 24 bytes.
const ENTRY_OVERHEAD: usize = 24;

/// Refuse a read past [`MAX_RESULT_BYTES`], as Spin's stores do.
fn capped(bytes: usize) -> Result<(), KvError> {
    if bytes > MAX_RESULT_BYTES {
        return Err(KvError(format!("query result exceeds limit of {MAX_RESULT_BYTES} bytes")));
    }
    Ok(())
}

fn capped_value(value: Option<Vec<u8>>) -> Result<Option<Vec<u8>>, KvError> {
    capped(value.as_ref().map_or(0, |v| ENTRY_OVERHEAD + v.len()))?;
    Ok(value)
}

fn capped_keys(keys: Vec<String>) -> Result<Vec<String>, KvError> {
    capped(ENTRY_OVERHEAD + keys.iter().map(|k| ENTRY_OVERHEAD + k.len()).sum::<usize>())?;
    Ok(keys)
}

fn spin_error(e: KvError) -> spin_kv::Error {
    spin_kv::Error::Other(e.0)
}

fn wasi_error(e: KvError) -> wasi_store::Error {
    wasi_store::Error::Other(e.0)
}

impl spin_kv::Host for HostState {}

impl HostStore for HostState {
    fn drop(&mut self, store: Resource<Store>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl<T> HostStoreWithStore<T> for Spin {
    async fn open(
        accessor: &Accessor<T, Self>,
        label: String,
    ) -> wasmtime::Result<Result<Resource<Store>, spin_kv::Error>> {
        accessor.with(|mut access| {
            let state = access.get();
            match state.kv_backend(&label) {
                Some(backend) => Ok(Ok(state.table.push(Store(backend))?)),
                None => Ok(Err(spin_kv::Error::AccessDenied)),
            }
        })
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        store: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, spin_kv::Error>> {
        let call = accessor.with(|mut access| access.get().kv_call(&store, "get"))?;
        Ok(reading(call, move |kv| kv.get(&key).and_then(capped_value)).await.map_err(spin_error))
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        store: Resource<Store>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        let call = accessor.with(|mut access| access.get().kv_call(&store, "set"))?;
        Ok(blocking(call, move |kv| kv.set(&key, &value)).await.map_err(spin_error))
    }

    async fn delete(
        accessor: &Accessor<T, Self>,
        store: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        let call = accessor.with(|mut access| access.get().kv_call(&store, "delete"))?;
        Ok(blocking(call, move |kv| kv.delete(&key)).await.map_err(spin_error))
    }

    async fn exists(
        accessor: &Accessor<T, Self>,
        store: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<bool, spin_kv::Error>> {
        let call = accessor.with(|mut access| access.get().kv_call(&store, "exists"))?;
        Ok(reading(call, move |kv| kv.exists(&key)).await.map_err(spin_error))
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        store: Resource<Store>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), spin_kv::Error>>)> {
        let call = accessor.with(|mut access| access.get().kv_call(&store, "get-keys"))?;
        let (keys, result) = match blocking(call, |kv| kv.keys().and_then(capped_keys)).await {
            Ok(keys) => (keys, Ok(())),
            Err(e) => (Vec::new(), Err(spin_error(e))),
        };
        accessor.with(|mut access| {
            let keys = StreamReader::new(&mut access, keys)?;
            let result = FutureReader::new(&mut access, async move { wasmtime::error::Ok(result) })?;
            Ok((keys, result))
        })
    }
}

impl wasi_store::Host for HostState {
    fn open(&mut self, identifier: String) -> wasmtime::Result<Result<Resource<Store>, wasi_store::Error>> {
        match self.kv_backend(&identifier) {
            Some(backend) => Ok(Ok(self.table.push(Store(backend))?)),
            None => Ok(Err(wasi_store::Error::AccessDenied)),
        }
    }
}

impl wasi_store::HostBucket for HostState {
    fn get(
        &mut self,
        bucket: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, "get", Access::Read, |kv| kv.get(&key).and_then(capped_value))?.map_err(wasi_error))
    }

    fn set(
        &mut self,
        bucket: Resource<Store>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, "set", Access::Other, |kv| kv.set(&key, &value))?.map_err(wasi_error))
    }

    fn delete(&mut self, bucket: Resource<Store>, key: String) -> wasmtime::Result<Result<(), wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, "delete", Access::Other, |kv| kv.delete(&key))?.map_err(wasi_error))
    }

    fn exists(&mut self, bucket: Resource<Store>, key: String) -> wasmtime::Result<Result<bool, wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, "exists", Access::Read, |kv| kv.exists(&key))?.map_err(wasi_error))
    }

    fn list_keys(
        &mut self,
        bucket: Resource<Store>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<wasi_store::KeyResponse, wasi_store::Error>> {
        // One page holding every key after the cursor (keys are sorted).
        let keys = match self.kv_sync(&bucket, "list-keys", Access::Other, |kv| kv.keys().and_then(capped_keys))? {
            Ok(keys) => keys,
            Err(e) => return Ok(Err(wasi_error(e))),
        };
        let keys = match cursor {
            Some(after) => keys.into_iter().filter(|k| *k > after).collect(),
            None => keys,
        };
        Ok(Ok(wasi_store::KeyResponse { keys, cursor: None }))
    }

    fn drop(&mut self, bucket: Resource<Store>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for HostState {
    fn increment(
        &mut self,
        bucket: Resource<Store>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, "increment", Access::Other, |kv| kv.increment(&key, delta))?.map_err(wasi_error))
    }

    fn swap(&mut self, cas: Resource<Cas>, value: Vec<u8>) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let handle = self.table.delete(cas)?;
        let call = self.host_call(Call::KeyValue { operation: "swap" });
        let swapped = super::block_in_place(|| {
            handle.store.compare_and_swap(&handle.key, handle.seen.as_deref(), &value).and_then(|swapped| {
                // On failure, hand back a fresh handle so the guest can retry.
                Ok(if swapped { None } else { Some(handle.store.get(&handle.key)?) })
            })
        });
        finish(call, &swapped);
        match swapped {
            Ok(None) => Ok(Ok(())),
            Ok(Some(seen)) => {
                let fresh = self.table.push(Cas { seen, ..handle })?;
                Ok(Err(atomics::CasError::CasFailed(fresh)))
            }
            Err(e) => Ok(Err(atomics::CasError::StoreError(wasi_error(e)))),
        }
    }
}

impl atomics::HostCas for HostState {
    fn new(
        &mut self,
        bucket: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<Cas>, wasi_store::Error>> {
        let (store, call) = self.kv_call(&bucket, "cas-new")?;
        let seen = read_now(store.as_ref(), |kv| kv.get(&key));
        finish(call, &seen);
        let seen = match seen {
            Ok(seen) => seen,
            Err(e) => return Ok(Err(wasi_error(e))),
        };
        Ok(Ok(self.table.push(Cas { store, key, seen })?))
    }

    fn current(&mut self, cas: Resource<Cas>) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_store::Error>> {
        let call = self.host_call(Call::KeyValue { operation: "cas-current" });
        let handle = self.table.get_mut(&cas)?;
        let current = read_now(handle.store.as_ref(), |kv| kv.get(&handle.key).and_then(capped_value));
        finish(call, &current);
        match current {
            Ok(seen) => {
                handle.seen = seen.clone();
                Ok(Ok(seen))
            }
            Err(e) => Ok(Err(wasi_error(e))),
        }
    }

    fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for HostState {
    fn get_many(
        &mut self,
        bucket: Resource<Store>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, wasi_store::Error>> {
        let found = self.kv_sync(&bucket, "get-many", Access::Read, |kv| {
            let found = kv.get_many(&keys)?;
            capped(found.iter().map(|(k, v)| 2 * ENTRY_OVERHEAD + k.len() + v.len()).sum())?;
            Ok(found)
        })?;
        Ok(found.map(|found| found.into_iter().map(|(k, v)| (k, Some(v))).collect()).map_err(wasi_error))
    }

    fn set_many(
        &mut self,
        bucket: Resource<Store>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, "set-many", Access::Other, |kv| kv.set_many(&key_values))?.map_err(wasi_error))
    }

    fn delete_many(
        &mut self,
        bucket: Resource<Store>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, "delete-many", Access::Other, |kv| kv.delete_many(&keys))?.map_err(wasi_error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::tests::store_with_key_value;
    use crate::kv::MemoryStore;

    fn open(state: &mut HostState, label: &str) -> Resource<Store> {
        wasi_store::Host::open(state, label.into()).unwrap().unwrap()
    }

    #[test]
    fn undeclared_labels_are_access_denied() {
        let mut store = store_with_key_value("default", Arc::new(MemoryStore::default()));
        let refused = wasi_store::Host::open(store.data_mut(), "sessions".into()).unwrap();
        assert!(matches!(refused, Err(wasi_store::Error::AccessDenied)), "{refused:?}");
    }

    #[test]
    fn reads_past_128_mib_fail_as_in_spin() {
        let kv = Arc::new(MemoryStore::default());
        kv.set("small", b"ok").unwrap();
        kv.set("big", &vec![7u8; MAX_RESULT_BYTES - ENTRY_OVERHEAD + 1]).unwrap();
        let mut store = store_with_key_value("default", kv);
        let state = store.data_mut();
        let bucket = open(state, "default");
        let get = |state: &mut HostState, key: &str| {
            let bucket = Resource::new_borrow(bucket.rep());
            format!("{:?}", wasi_store::HostBucket::get(state, bucket, key.into()).unwrap().map(|v| v.map(|v| v.len())))
        };
        assert_eq!(get(state, "small"), "Ok(Some(2))");
        assert_eq!(get(state, "big"), r#"Err(Error::Other("query result exceeds limit of 134217728 bytes"))"#);
        let many = batch::Host::get_many(state, Resource::new_borrow(bucket.rep()), vec!["big".into()]).unwrap();
        assert!(matches!(many, Err(wasi_store::Error::Other(m)) if m.contains("exceeds limit")));
    }

    #[test]
    fn cas_current_reads_the_value_now_and_swap_compares_with_it() {
        let kv = Arc::new(MemoryStore::default());
        kv.set("k", b"1").unwrap();
        let mut store = store_with_key_value("default", kv.clone());
        let state = store.data_mut();
        let bucket = open(state, "default");
        let cas = atomics::HostCas::new(state, Resource::new_borrow(bucket.rep()), "k".into()).unwrap().unwrap();
        kv.set("k", b"2").unwrap();
        let current = atomics::HostCas::current(state, Resource::new_borrow(cas.rep())).unwrap().unwrap();
        assert_eq!(current.as_deref(), Some(&b"2"[..]), "current is read when asked, as in Spin");
        assert!(matches!(atomics::Host::swap(state, cas, b"3".to_vec()).unwrap(), Ok(())));
        assert_eq!(kv.get("k").unwrap().as_deref(), Some(&b"3"[..]));

        let cas = atomics::HostCas::new(state, Resource::new_borrow(bucket.rep()), "k".into()).unwrap().unwrap();
        kv.set("k", b"4").unwrap();
        let Err(atomics::CasError::CasFailed(retry)) = atomics::Host::swap(state, cas, b"5".to_vec()).unwrap() else {
            panic!("a swap after another writer must fail");
        };
        assert_eq!(kv.get("k").unwrap().as_deref(), Some(&b"4"[..]), "a failed swap writes nothing");
        let current = atomics::HostCas::current(state, Resource::new_borrow(retry.rep())).unwrap().unwrap();
        assert_eq!(current.as_deref(), Some(&b"4"[..]));
        assert!(matches!(atomics::Host::swap(state, retry, b"5".to_vec()).unwrap(), Ok(())));
    }

    #[test]
    fn get_many_leaves_missing_keys_out_as_spin_does() {
        let kv = Arc::new(MemoryStore::default());
        kv.set("a", b"1").unwrap();
        let mut store = store_with_key_value("default", kv);
        let state = store.data_mut();
        let bucket = open(state, "default");
        let found = batch::Host::get_many(state, bucket, vec!["missing".into(), "a".into()]).unwrap().unwrap();
        assert_eq!(found, vec![("a".to_string(), Some(b"1".to_vec()))]);
    }
}
