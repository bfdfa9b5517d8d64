//! `spin:key-value/key-value@3.0.0` and `wasi:keyvalue@0.2.0-draft2`
//! (store, atomics, batch) over the configured [`KeyValueStore`] backends.

use std::sync::Arc;

use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

use super::bindings::spin::key_value::key_value::{self as spin_kv, HostStore, HostStoreWithStore};
use super::bindings::wasi::keyvalue::{atomics, batch, store as wasi_store};
use super::{HostState, Spin};
use crate::kv::{KeyValueStore, KvError};

/// An open store: the `store` resource of Spin and the `bucket` of WASI.
pub struct Store(Arc<dyn KeyValueStore>);

/// A compare-and-swap handle: the value seen when it was created.
pub struct Cas {
    store: Arc<dyn KeyValueStore>,
    key: String,
    seen: Option<Vec<u8>>,
}

/// Run a blocking backend call off the async executor.
async fn blocking<R: Send + 'static>(
    store: Arc<dyn KeyValueStore>,
    f: impl FnOnce(&dyn KeyValueStore) -> R + Send + 'static,
) -> R {
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .expect("key-value task does not panic")
}

impl HostState {
    fn kv_backend(&self, label: &str) -> Option<Arc<dyn KeyValueStore>> {
        self.services.key_value.get(label).cloned()
    }

    fn kv_store(&self, store: &Resource<Store>) -> wasmtime::Result<Arc<dyn KeyValueStore>> {
        Ok(self.table.get(store)?.0.clone())
    }

    /// Run `f` on the store of a synchronous (`wasi:keyvalue`) call; the
    /// call blocks, so the executor's other tasks move off this thread.
    fn kv_sync<R>(&self, store: &Resource<Store>, f: impl FnOnce(&dyn KeyValueStore) -> R) -> wasmtime::Result<R> {
        let kv = self.kv_store(store)?;
        Ok(super::block_in_place(|| f(kv.as_ref())))
    }
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
        let kv = accessor.with(|mut access| access.get().kv_store(&store))?;
        Ok(blocking(kv, move |kv| kv.get(&key)).await.map_err(spin_error))
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        store: Resource<Store>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        let kv = accessor.with(|mut access| access.get().kv_store(&store))?;
        Ok(blocking(kv, move |kv| kv.set(&key, &value)).await.map_err(spin_error))
    }

    async fn delete(
        accessor: &Accessor<T, Self>,
        store: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        let kv = accessor.with(|mut access| access.get().kv_store(&store))?;
        Ok(blocking(kv, move |kv| kv.delete(&key)).await.map_err(spin_error))
    }

    async fn exists(
        accessor: &Accessor<T, Self>,
        store: Resource<Store>,
        key: String,
    ) -> wasmtime::Result<Result<bool, spin_kv::Error>> {
        let kv = accessor.with(|mut access| access.get().kv_store(&store))?;
        Ok(blocking(kv, move |kv| kv.exists(&key)).await.map_err(spin_error))
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        store: Resource<Store>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), spin_kv::Error>>)> {
        let kv = accessor.with(|mut access| access.get().kv_store(&store))?;
        let (keys, result) = match blocking(kv, |kv| kv.keys()).await {
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
    fn get(&mut self, bucket: Resource<Store>, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, |kv| kv.get(&key))?.map_err(wasi_error))
    }

    fn set(&mut self, bucket: Resource<Store>, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, |kv| kv.set(&key, &value))?.map_err(wasi_error))
    }

    fn delete(&mut self, bucket: Resource<Store>, key: String) -> wasmtime::Result<Result<(), wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, |kv| kv.delete(&key))?.map_err(wasi_error))
    }

    fn exists(&mut self, bucket: Resource<Store>, key: String) -> wasmtime::Result<Result<bool, wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, |kv| kv.exists(&key))?.map_err(wasi_error))
    }

    fn list_keys(
        &mut self,
        bucket: Resource<Store>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<wasi_store::KeyResponse, wasi_store::Error>> {
        // One page holding every key after the cursor (keys are sorted).
        let keys = match self.kv_sync(&bucket, |kv| kv.keys())? {
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
        Ok(self.kv_sync(&bucket, |kv| kv.increment(&key, delta))?.map_err(wasi_error))
    }

    fn swap(&mut self, cas: Resource<Cas>, value: Vec<u8>) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let handle = self.table.delete(cas)?;
        let swapped = super::block_in_place(|| {
            handle.store.compare_and_swap(&handle.key, handle.seen.as_deref(), &value).and_then(|swapped| {
                // On failure, hand back a fresh handle so the guest can retry.
                Ok(if swapped { None } else { Some(handle.store.get(&handle.key)?) })
            })
        });
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
    fn new(&mut self, bucket: Resource<Store>, key: String) -> wasmtime::Result<Result<Resource<Cas>, wasi_store::Error>> {
        let store = self.kv_store(&bucket)?;
        let seen = match super::block_in_place(|| store.get(&key)) {
            Ok(seen) => seen,
            Err(e) => return Ok(Err(wasi_error(e))),
        };
        Ok(Ok(self.table.push(Cas { store, key, seen })?))
    }

    fn current(&mut self, cas: Resource<Cas>) -> wasmtime::Result<Result<Option<Vec<u8>>, wasi_store::Error>> {
        Ok(Ok(self.table.get(&cas)?.seen.clone()))
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
        Ok(self
            .kv_sync(&bucket, |kv| keys.into_iter().map(|k| kv.get(&k).map(|v| (k, v))).collect::<Result<_, _>>())?
            .map_err(wasi_error))
    }

    fn set_many(
        &mut self,
        bucket: Resource<Store>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, |kv| key_values.iter().try_for_each(|(k, v)| kv.set(k, v)))?.map_err(wasi_error))
    }

    fn delete_many(&mut self, bucket: Resource<Store>, keys: Vec<String>) -> wasmtime::Result<Result<(), wasi_store::Error>> {
        Ok(self.kv_sync(&bucket, |kv| keys.iter().try_for_each(|k| kv.delete(k)))?.map_err(wasi_error))
    }
}
