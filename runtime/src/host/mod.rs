//! What a guest sees of the host, one capability per module in the shape
//! of Spin's factors (`crates/factor-*`): WASI with the component's
//! `environment` ([`wasi`]), the outbound allow list ([`networking`]),
//! outbound HTTP ([`outbound_http`]), SQLite ([`sqlite`]), key-value
//! ([`key_value`]), variables ([`variables`]), PostgreSQL ([`postgres`]),
//! MySQL ([`mysql`]) and Redis ([`redis`]), from the WIT that spin-sdk ships.
//!
//! Each capability is a [`Capability`]: it links its interfaces, checks the
//! app's use of it against the manifest and runtime configuration (every
//! problem listed, not just the first), opens what the app's components
//! share, and grants each component its part. [`Capabilities`] is the list
//! `App::load` configures; [`ComponentServices`] holds one component's
//! grants, which its instances' host calls read.

mod key_value;
mod mysql;
mod networking;
mod otel;
mod outbound_http;
mod postgres;
mod redis;
mod sqlite;
mod variables;
mod wasi;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::config::manifest::{Component, Manifest};
use crate::config::runtime_config::RuntimeConfig;
use crate::config::variables::Variables;
use crate::telemetry::{Call, HostCall, InstanceTrace, RequestTrace, Telemetry};
pub(crate) use key_value::StoreConfig as KeyValueStoreConfig;
use outbound_http::OutboundHooks;
pub(crate) use outbound_http::self_origin;
pub(crate) use sqlite::DatabaseConfig as SqliteDatabaseConfig;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "keel:runtime/spin-host",
        imports: { default: trappable },
        with: {
            "wasi:clocks/wall-clock": wasmtime_wasi::p2::bindings::clocks::wall_clock,
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

/// What the capabilities are configured from when an app loads.
pub(crate) struct AppContext<'a> {
    pub manifest: &'a Manifest,
    pub runtime_config: &'a RuntimeConfig,
    /// Where `runtime_config` came from, to name in errors.
    pub runtime_config_file: Option<&'a Path>,
    /// Where the `default` stores live unless the runtime config says.
    pub state_dir: &'a Path,
    /// The app's variables, resolved by its providers.
    pub variables: &'a Variables,
}

impl AppContext<'_> {
    /// The runtime-config file to name in a fix.
    fn runtime_config_file(&self) -> String {
        self.runtime_config_file
            .map_or("a runtime config file (--runtime-config-file)".to_string(), |f| f.display().to_string())
    }
}

/// The problem of a component that uses a `kind` label (`sqlite_database`,
/// `key_value_store`) the runtime config does not declare, with the fix.
fn undeclared(ctx: &AppContext, component: &Component, kind: &str, label: &str) -> String {
    format!(
        "component `{}` uses {kind} `{label}`: add [{kind}.{label}] to {} (only `default` has a built-in store)",
        component.id,
        ctx.runtime_config_file()
    )
}

/// The labelled resources (databases, stores) of a `kind` the app's
/// components use, opened once per label: `labels` lists a component's,
/// `backend` finds a label's in the runtime config (`None`: undeclared),
/// `open` opens it. Every problem at once.
fn open_labels<B, T>(
    ctx: &AppContext,
    kind: &str,
    labels: impl Fn(&Component) -> &[String],
    backend: impl Fn(&str) -> Option<B>,
    open: impl Fn(&str, B) -> Result<T, String>,
) -> Result<HashMap<String, T>, Vec<String>> {
    let mut opened = HashMap::new();
    let mut tried = std::collections::HashSet::new();
    let mut problems = Vec::new();
    for component in ctx.manifest.components.values() {
        for label in labels(component) {
            let Some(found) = backend(label) else {
                problems.push(undeclared(ctx, component, kind, label));
                continue;
            };
            // Opened once, for the first component that lists it; a failure
            // is one problem, not one per component.
            if !tried.insert(label.clone()) {
                continue;
            }
            match open(label, found) {
                Ok(resource) => {
                    opened.insert(label.clone(), resource);
                }
                Err(problem) => problems.push(format!("component `{}`: {problem}", component.id)),
            }
        }
    }
    if problems.is_empty() { Ok(opened) } else { Err(problems) }
}

/// `f` of every component of the app, by component id; each failure a
/// problem naming its component.
fn per_component<T>(
    ctx: &AppContext,
    f: impl Fn(&Component) -> Result<T, String>,
) -> Result<HashMap<String, T>, Vec<String>> {
    let mut done = HashMap::new();
    let mut problems = Vec::new();
    for component in ctx.manifest.components.values() {
        match f(component) {
            Ok(value) => {
                done.insert(component.id.clone(), value);
            }
            Err(problem) => problems.push(format!("component `{}`: {problem}", component.id)),
        }
    }
    if problems.is_empty() { Ok(done) } else { Err(problems) }
}

/// One host capability, configured like a Spin factor.
pub(crate) trait Capability {
    /// What all of the app's components share (pools, open stores).
    type App: Default;
    /// What one component is granted; its instances read it from
    /// [`ComponentServices`].
    type Grant;

    /// Add the capability's interfaces to `linker`.
    fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()>;

    /// Check the app's use of the capability (every component's) and open
    /// what it needs; every problem, naming component, label and fix, at
    /// once. After this nothing about the capability can fail to start.
    fn configure(app: &AppContext) -> Result<Self::App, Vec<String>> {
        let _ = app;
        Ok(Self::App::default())
    }

    /// What `component`, one of the app's, is granted.
    fn grant(app: &Self::App, component: &Component) -> Self::Grant;
}

/// Declares the capabilities in order: the app's configured state of each
/// ([`Capabilities`]), a component's grants ([`ComponentServices`]), and
/// the linker with all of their interfaces.
macro_rules! capabilities {
    ($($field:ident: $capability:ty),* $(,)?) => {
        /// Every capability, configured for one app.
        pub(crate) struct Capabilities {
            $($field: <$capability as Capability>::App,)*
        }

        /// What one component is granted, shared by all its instances.
        pub struct ComponentServices {
            /// The component's id in the manifest.
            pub id: String,
            $(pub(crate) $field: <$capability as Capability>::Grant,)*
        }

        impl Capabilities {
            /// Configure every capability for the app; all their problems
            /// at once.
            pub fn configure(ctx: &AppContext) -> Result<Capabilities, Vec<String>> {
                let mut problems = Vec::new();
                $(let $field = <$capability as Capability>::configure(ctx).map_err(|p| problems.extend(p));)*
                match ($($field,)*) {
                    ($(Ok($field),)*) => Ok(Capabilities { $($field,)* }),
                    _ => Err(problems),
                }
            }

            /// What `component` is granted by each capability.
            pub fn grant(&self, component: &Component) -> ComponentServices {
                ComponentServices {
                    id: component.id.clone(),
                    $($field: <$capability as Capability>::grant(&self.$field, component),)*
                }
            }
        }

        /// A linker with every host interface Keel offers.
        pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
            let mut linker = Linker::new(engine);
            $(<$capability as Capability>::link(&mut linker)?;)*
            // Guest spans: nothing to configure and nothing to grant.
            otel::link(&mut linker)?;
            Ok(linker)
        }
    };
}

capabilities! {
    wasi: wasi::Wasi,
    outbound: networking::OutboundNetworking,
    http: outbound_http::OutboundHttp,
    sqlite: sqlite::Sqlite,
    key_value: key_value::KeyValue,
    variables: variables::SpinVariables,
    postgres: postgres::Postgres,
    mysql: mysql::Mysql,
    redis: redis::Redis,
}

impl Capabilities {
    /// Every component's grants, by component id.
    pub fn grant_all(&self, manifest: &Manifest) -> HashMap<String, Arc<ComponentServices>> {
        manifest.components.values().map(|c| (c.id.clone(), Arc::new(self.grant(c)))).collect()
    }

    /// Where requests to the app itself (`self.alt`) go, once it listens.
    pub fn self_origin(&self) -> Arc<std::sync::OnceLock<std::net::SocketAddr>> {
        self.http.clone()
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
    telemetry: Arc<Telemetry>,
    /// Requests this instance has started.
    requests: u64,
}

impl HostState {
    /// The linear memory of all the instance's core instances together, as
    /// it grows (it never shrinks).
    pub(crate) fn linear_memory(&self) -> Arc<AtomicUsize> {
        self.limiter.used.clone()
    }

    /// The instance starts serving a request traced by `trace`.
    pub(crate) fn start_request(&mut self, trace: RequestTrace) {
        self.telemetry.record_instance(&self.services.id, self.requests > 0);
        self.requests += 1;
        self.hooks.trace = InstanceTrace::new(trace);
    }

    /// Start the telemetry of a host call made for the current request.
    pub(crate) fn host_call(&self, call: Call<'_>) -> HostCall {
        self.telemetry.host_call(&self.hooks.trace, call)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// What Spin's interfaces see of a store's data: all of it.
fn this(state: &mut HostState) -> &mut HostState {
    state
}

/// `HasData` marker for Spin's interfaces: they see the whole `HostState`.
pub struct Spin;

impl HasData for Spin {
    type Data<'a> = &'a mut HostState;
}

/// Caps the linear memory of all the core instances of one store together.
struct MemoryLimiter {
    limit: usize,
    /// Shared with the instance's worker, which stops reusing an instance
    /// that grew too much (`server::instance`).
    used: Arc<AtomicUsize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let next = self.used.load(Ordering::Relaxed).saturating_sub(current) + desired;
        if next > self.limit {
            tracing::warn!(limit = self.limit, requested = next, "instance memory limit reached");
            return Ok(false);
        }
        self.used.store(next, Ordering::Relaxed);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

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

/// Create a store for one instance of the component `services` describes.
pub fn new_store(
    engine: &Engine,
    services: Arc<ComponentServices>,
    memory_limit: usize,
    telemetry: Arc<Telemetry>,
) -> Store<HostState> {
    let state = HostState {
        table: ResourceTable::new(),
        wasi: wasi::context(&services.wasi),
        http: WasiHttpCtx::new(),
        hooks: OutboundHooks::new(
            services.outbound.clone(),
            services.id.clone(),
            services.http.clone(),
            telemetry.clone(),
        ),
        services,
        limiter: MemoryLimiter { limit: memory_limit, used: Arc::new(AtomicUsize::new(0)) },
        sqlite_connections: 0,
        redis_connections: 0,
        telemetry,
        requests: 0,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use crate::kv::KeyValueStore;

    /// The services of a component `id` granted nothing.
    pub fn granted_nothing(id: &str) -> ComponentServices {
        ComponentServices {
            id: id.to_string(),
            wasi: Default::default(),
            outbound: Default::default(),
            http: Default::default(),
            sqlite: HashMap::new(),
            key_value: HashMap::new(),
            variables: Default::default(),
            postgres: Default::default(),
            mysql: Default::default(),
            redis: Default::default(),
        }
    }

    /// The services of a component `id` with these variables and nothing
    /// else granted.
    pub fn services(id: &str, variables: &[(&str, &str)]) -> Arc<ComponentServices> {
        Arc::new(ComponentServices {
            variables: Arc::new(variables.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..granted_nothing(id)
        })
    }

    /// The services of a component that may open the SQLite database `label`.
    pub fn services_with_sqlite(label: &str, pool: Arc<sqlite::SqlitePool>) -> Arc<ComponentServices> {
        Arc::new(ComponentServices { sqlite: HashMap::from([(label.to_string(), pool)]), ..granted_nothing("web") })
    }

    /// A store whose component may open the key-value store `label`.
    pub fn store_with_key_value(label: &str, kv: Arc<dyn KeyValueStore>) -> Store<HostState> {
        store(Arc::new(ComponentServices {
            key_value: HashMap::from([(label.to_string(), kv)]),
            ..granted_nothing("web")
        }))
    }

    /// Configure every capability for the app `manifest` describes, with
    /// this runtime config, in a fresh state directory.
    fn configure(manifest: &str, runtime_config: &str) -> Result<HashMap<String, Arc<ComponentServices>>, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        let manifest = Manifest::parse(Path::new("spin.toml"), manifest, dir.path().to_path_buf()).unwrap();
        let runtime_config = RuntimeConfig::parse(Path::new("rc.toml"), runtime_config, dir.path()).unwrap();
        let variables = Variables::resolve(&manifest, &[], |_| None).unwrap();
        let ctx = AppContext {
            manifest: &manifest,
            runtime_config: &runtime_config,
            runtime_config_file: Some(Path::new("rc.toml")),
            state_dir: dir.path(),
            variables: &variables,
        };
        Ok(Capabilities::configure(&ctx)?.grant_all(&manifest))
    }

    const TWO_COMPONENTS: &str = r#"
spin_manifest_version = 2
[application]
name = "app"
[[trigger.http]]
route = "/api/..."
component = "api"
[[trigger.http]]
route = "/..."
component = "worker"
[component.api]
source = "api.wasm"
key_value_stores = ["default", "cache", "sessions"]
[component.worker]
source = "worker.wasm"
sqlite_databases = ["default", "reports"]
key_value_stores = ["cache"]
"#;

    #[test]
    fn every_undeclared_label_of_every_capability_is_listed_at_once() {
        let problems = configure(TWO_COMPONENTS, "[key_value_store.cache]\ntype = \"memory\"\n").err().unwrap();
        assert_eq!(problems.len(), 2, "{problems:#?}");
        let all = problems.join("\n");
        assert!(
            all.contains("component `api` uses key_value_store `sessions`: add [key_value_store.sessions] to rc.toml"),
            "{all}"
        );
        assert!(
            all.contains("component `worker` uses sqlite_database `reports`: add [sqlite_database.reports] to rc.toml"),
            "{all}"
        );
    }

    #[test]
    fn problems_of_different_capabilities_are_listed_together() {
        let manifest = TWO_COMPONENTS.replace(
            "[component.api]\n",
            "[variables]\napi_host = { default = \"api.example.com/v1\" }\n[component.api]\n\
             allowed_outbound_hosts = [\"https://{{ api_host }}\"]\n",
        );
        let problems = configure(&manifest, "[key_value_store.cache]\ntype = \"memory\"\n").err().unwrap();
        let all = problems.join("\n");
        assert_eq!(problems.len(), 3, "{all}");
        assert!(all.contains("component `api`: allowed_outbound_hosts"), "{all}");
        assert!(all.contains("key_value_store `sessions`") && all.contains("sqlite_database `reports`"), "{all}");
    }

    #[test]
    fn components_share_a_label_and_get_only_the_labels_they_list() {
        let rc = "[key_value_store.cache]\ntype = \"memory\"\n[key_value_store.sessions]\ntype = \"memory\"\n\
                  [sqlite_database.reports]\ntype = \"spin\"\n";
        let grants = configure(TWO_COMPONENTS, rc).unwrap();
        let grant = |id: &str| &grants[id];
        let mut api: Vec<_> = grant("api").key_value.keys().cloned().collect();
        api.sort();
        assert_eq!(api, ["cache", "default", "sessions"]);
        assert!(grant("api").sqlite.is_empty());
        let mut worker: Vec<_> = grant("worker").sqlite.keys().cloned().collect();
        worker.sort();
        assert_eq!(worker, ["default", "reports"]);
        assert!(
            Arc::ptr_eq(&grant("api").key_value["cache"], &grant("worker").key_value["cache"]),
            "one store per label"
        );
    }

    /// A store for one instance of `services`, to call host functions on.
    pub fn store(services: Arc<ComponentServices>) -> Store<HostState> {
        new_store(&Engine::default(), services, 64 << 20, Arc::new(Telemetry::disabled()))
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
