//! What a guest sees of the host: WASI (0.2 and 0.3), `wasi:http` with the
//! component's outbound allow list, and Spin's SQLite, key-value and
//! variables interfaces, generated from the WIT that spin-sdk ships.

mod key_value;
mod mysql;
mod postgres;
mod redis;
mod sqlite;
mod variables;

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::config::outbound::OutboundPolicy;
use crate::kv::KeyValueStore;
use crate::outbound::OutboundHooks;
pub use sqlite::SqlitePool;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "keel:runtime/spin-host",
        imports: { default: trappable },
        with: {
            "spin:sqlite/sqlite.connection": super::sqlite::Connection,
            "spin:key-value/key-value.store": super::key_value::Store,
            "wasi:keyvalue/store.bucket": super::key_value::Store,
            "wasi:keyvalue/atomics.cas": super::key_value::Cas,
            "spin:postgres/postgres.connection": super::postgres::PgConnection,
            "spin:postgres/postgres.connection-builder": super::postgres::PgConnectionBuilder,
            "spin:mysql/mysql.connection": super::mysql::MysqlConnection,
            "spin:redis/redis.connection": super::redis::RedisConnection,
        },
    });
}

/// Capabilities granted to one component, shared by all its instances.
pub struct ComponentServices {
    pub id: String,
    sqlite: HashMap<String, Arc<SqlitePool>>,
    key_value: HashMap<String, Arc<dyn KeyValueStore>>,
    variables: HashMap<String, String>,
    outbound: Arc<OutboundPolicy>,
    environment: Vec<(String, String)>,
    postgres: Arc<postgres::PostgresPools>,
    mysql: Arc<mysql::MysqlPools>,
    redis: Arc<redis::RedisConnections>,
    /// The app's listening address, once it listens.
    self_origin: Arc<std::sync::OnceLock<std::net::SocketAddr>>,
}

impl ComponentServices {
    pub fn new(
        id: String,
        sqlite: HashMap<String, Arc<SqlitePool>>,
        key_value: HashMap<String, Arc<dyn KeyValueStore>>,
        variables: HashMap<String, String>,
        outbound: OutboundPolicy,
        environment: Vec<(String, String)>,
    ) -> Self {
        ComponentServices {
            id,
            sqlite,
            key_value,
            variables,
            outbound: Arc::new(outbound),
            environment,
            postgres: Default::default(),
            mysql: Default::default(),
            redis: Default::default(),
            self_origin: Default::default(),
        }
    }

    /// Share the app's listening address (set when it listens), for
    /// requests to `self`.
    pub fn with_self_origin(mut self, origin: Arc<std::sync::OnceLock<std::net::SocketAddr>>) -> Self {
        self.self_origin = origin;
        self
    }
}

/// The data of one store (one component instance).
pub struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundHooks,
    services: Arc<ComponentServices>,
    limiter: MemoryLimiter,
    /// `spin:sqlite` connections open in this instance.
    sqlite_connections: usize,
    /// `spin:redis` connections open in this instance.
    redis_connections: usize,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// `HasData` marker for Spin's interfaces: they see the whole `HostState`.
pub struct Spin;

impl HasData for Spin {
    type Data<'a> = &'a mut HostState;
}

/// Caps the linear memory of all the core instances of one store together.
struct MemoryLimiter {
    limit: usize,
    used: usize,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let next = self.used.saturating_sub(current) + desired;
        if next > self.limit {
            tracing::warn!(limit = self.limit, requested = next, "instance memory limit reached");
            return Ok(false);
        }
        self.used = next;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// Create a store for one instance of the component `services` describes.
/// Run a synchronous host call that blocks on disk or network I/O without
/// stalling the async executor: on a multi-threaded runtime, tokio hands
/// this worker's other tasks to another thread while `f` runs (as
/// wasmtime-wasi does for its synchronous bindings).
pub(crate) fn block_in_place<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

pub fn new_store(
    engine: &Engine,
    services: Arc<ComponentServices>,
    memory_limit: usize,
) -> Store<HostState> {
    let mut wasi = WasiCtx::builder();
    wasi.inherit_stdout().inherit_stderr();
    for (k, v) in &services.environment {
        wasi.env(k, v);
    }
    let state = HostState {
        table: ResourceTable::new(),
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        hooks: OutboundHooks::new(services.outbound.clone(), services.id.clone(), services.self_origin.clone()),
        services,
        limiter: MemoryLimiter {
            limit: memory_limit,
            used: 0,
        },
        sqlite_connections: 0,
        redis_connections: 0,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store
}

/// A linker with every host interface Keel offers.
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    fn get(state: &mut HostState) -> &mut HostState {
        state
    }
    bindings::spin::sqlite::sqlite::add_to_linker::<_, Spin>(&mut linker, get)?;
    bindings::spin::key_value::key_value::add_to_linker::<_, Spin>(&mut linker, get)?;
    bindings::spin::variables::variables::add_to_linker::<_, Spin>(&mut linker, get)?;
    bindings::spin::postgres::postgres::add_to_linker::<_, Spin>(&mut linker, get)?;
    bindings::spin::mysql::mysql::add_to_linker::<_, Spin>(&mut linker, get)?;
    bindings::spin::redis::redis::add_to_linker::<_, Spin>(&mut linker, get)?;
    bindings::wasi::keyvalue::store::add_to_linker::<_, Spin>(&mut linker, get)?;
    bindings::wasi::keyvalue::atomics::add_to_linker::<_, Spin>(&mut linker, get)?;
    bindings::wasi::keyvalue::batch::add_to_linker::<_, Spin>(&mut linker, get)?;
    bindings::wasi::config::store::add_to_linker::<_, Spin>(&mut linker, get)?;
    Ok(linker)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The services of a component `id` with these variables and nothing
    /// else granted.
    pub fn services(id: &str, variables: &[(&str, &str)]) -> Arc<ComponentServices> {
        Arc::new(ComponentServices::new(
            id.to_string(),
            HashMap::new(),
            HashMap::new(),
            variables.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            OutboundPolicy::default(),
            Vec::new(),
        ))
    }

    /// The services of a component that may open the SQLite database `label`.
    pub fn services_with_sqlite(label: &str, pool: Arc<SqlitePool>) -> Arc<ComponentServices> {
        Arc::new(ComponentServices::new(
            "web".into(),
            HashMap::from([(label.to_string(), pool)]),
            HashMap::new(),
            HashMap::new(),
            OutboundPolicy::default(),
            Vec::new(),
        ))
    }

    /// A store whose component may open the key-value store `label`.
    pub fn store_with_key_value(label: &str, kv: Arc<dyn KeyValueStore>) -> Store<HostState> {
        store(Arc::new(ComponentServices::new(
            "web".into(),
            HashMap::new(),
            HashMap::from([(label.to_string(), kv)]),
            HashMap::new(),
            OutboundPolicy::default(),
            Vec::new(),
        )))
    }

    /// A store for one instance of `services`, to call host functions on.
    pub fn store(services: Arc<ComponentServices>) -> Store<HostState> {
        new_store(&Engine::default(), services, 64 << 20)
    }

    /// The host must implement exactly the WIT that spin-sdk ships; this
    /// catches a spin-sdk upgrade that changes an interface.
    #[test]
    fn vendored_wit_matches_spin_sdk() {
        let registry = std::path::PathBuf::from(
            std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap())),
        )
        .join("registry/src");
        let Some(sdk_wit) = std::fs::read_dir(&registry)
            .into_iter()
            .flatten()
            .flatten()
            .map(|index| index.path().join("spin-sdk-7.0.0/wit/deps"))
            .find(|p| p.exists())
        else {
            panic!("spin-sdk 7.0.0 sources not found under {}; build the guests first", registry.display());
        };
        let ours = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("wit/deps");
        for package in std::fs::read_dir(&ours).unwrap() {
            let package = package.unwrap().path();
            for file in std::fs::read_dir(&package).unwrap() {
                let file = file.unwrap().path();
                let theirs = sdk_wit.join(package.file_name().unwrap()).join(file.file_name().unwrap());
                assert_eq!(
                    std::fs::read_to_string(&file).unwrap(),
                    std::fs::read_to_string(&theirs).unwrap_or_default(),
                    "{} differs from spin-sdk's {}",
                    file.display(),
                    theirs.display()
                );
            }
        }
    }
}
