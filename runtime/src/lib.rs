//! Keel's runtime: serves Spin applications on wasmtime.
//!
//! It reads the same `spin.toml` and Spin-format runtime configuration as
//! `spin up`, and implements Spin's host interfaces (SQLite, key-value,
//! variables, outbound HTTP) from the WIT that spin-sdk ships, so a component
//! built for Spin runs here unchanged.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use keel_runtime::{App, RuntimeOptions};
//!
//! let app = App::load("spin.toml".as_ref(), RuntimeOptions::default()).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! app.serve(listener, std::future::pending()).await?;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod bundle;
pub mod config;
mod cron;
mod engine;
mod host;
mod kv;
pub mod oci;
pub mod scaffold;
mod server;
mod telemetry;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use wasmtime::component::InstancePre;
use wasmtime_wasi_http::handler::{ProxyHandler, ProxyPre};

use config::manifest::Manifest;
use config::runtime_config::RuntimeConfig;
use config::variables::{Provider, Variables};
pub use server::{AdmissionLimits, ConnectionLimits, InstanceLimits};

/// Settings of `keel up`.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Spin-format runtime configuration (`--runtime-config-file`).
    pub runtime_config_file: Option<PathBuf>,
    /// Where default SQLite files and the compile cache live
    /// (default `<app dir>/.keel`).
    pub state_dir: Option<PathBuf>,
    /// Application variable values that win over the environment and
    /// `.env`, like `spin up --variable name=value`.
    pub variables: Vec<(String, String)>,
    /// Where compiled components are cached (default `<state dir>/cache`).
    pub cache_dir: Option<PathBuf>,
    /// Instances: reuse, memory, request time and body size.
    pub limits: InstanceLimits,
    /// Client connections: how many, and how long they may be slow or idle.
    pub connections: ConnectionLimits,
    /// Requests served at once and waiting.
    pub admission: AdmissionLimits,
    /// Use the pooling instance allocator.
    pub pooling: bool,
    /// Write one JSON line per request to stdout ([`server`]'s access log).
    pub access_log: bool,
    /// Take components from this bundle (sources are digests) instead of
    /// reading and compiling files.
    pub bundle: Option<Arc<bundle::Embedded>>,
    /// Export OpenTelemetry traces and metrics as the `OTEL_*` environment
    /// variables configure them (none unless an OTLP endpoint is set).
    pub otel_from_env: bool,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            runtime_config_file: None,
            state_dir: None,
            cache_dir: None,
            variables: Vec::new(),
            limits: InstanceLimits {
                max_reuse: 128,
                max_concurrent: 1,
                request_timeout: Duration::from_secs(10),
                post_response_timeout: Duration::from_secs(600),
                idle_timeout: Duration::from_secs(1),
                memory_limit: 256 << 20,
                max_body_bytes: 32 << 20,
            },
            connections: ConnectionLimits::default(),
            admission: AdmissionLimits::default(),
            pooling: true,
            access_log: false,
            bundle: None,
            otel_from_env: false,
        }
    }
}

/// A loaded application, ready to serve.
pub struct App {
    router: Arc<server::Router>,
    /// The cron triggers, run while the app serves.
    cron: Vec<Arc<cron::Job>>,
    telemetry: Arc<telemetry::Telemetry>,
    name: String,
    /// Where the app listens, for its requests to itself.
    self_origin: Arc<std::sync::OnceLock<std::net::SocketAddr>>,
}

impl App {
    /// Validate the manifest and runtime configuration, open the stores and
    /// compile (or load from cache) every component.
    pub async fn load(manifest_path: &Path, options: RuntimeOptions) -> anyhow::Result<App> {
        Self::from_manifest(Manifest::load(manifest_path)?, manifest_path, options).await
    }

    /// [`App::load`] for a manifest already read (from a file, an OCI image
    /// layout or a registry); `origin` names it in errors.
    pub async fn from_manifest(manifest: Manifest, origin: &Path, options: RuntimeOptions) -> anyhow::Result<App> {
        let runtime_config = match &options.runtime_config_file {
            Some(path) => RuntimeConfig::load(path)?,
            None => RuntimeConfig::default(),
        };
        let state_dir = options
            .state_dir
            .clone()
            .unwrap_or_else(|| manifest.app_dir.join(".keel"));
        let cache_dir = options.cache_dir.clone().unwrap_or_else(|| state_dir.join("cache"));
        let providers: Vec<Provider> = std::iter::once(Ok(Provider::Static(options.variables.iter().cloned().collect())))
            .chain(runtime_config.variable_providers().iter().cloned().map(Ok))
            .chain(std::iter::once(Provider::spin_default()))
            .collect::<Result<_, String>>()
            .map_err(|m| anyhow::anyhow!(m))?;
        let variables = Variables::resolve(&manifest, &providers, |k| std::env::var(k).ok())
            .map_err(|m| anyhow::anyhow!("{}: {m}", origin.display()))?;

        let (engine, pooling) = match engine::shared_engine(options.pooling) {
            Ok(engine) => (engine, options.pooling),
            Err(e) if options.pooling => {
                tracing::warn!("pooling allocator unavailable ({e}); using on-demand allocation");
                (engine::shared_engine(false)?, false)
            }
            Err(e) => return Err(e),
        };
        let linker = host::linker(&engine)?;

        // Every capability checks the app's use of it and opens what its
        // components share, all the problems reported at once; then each
        // component gets its grants.
        let ctx = host::AppContext {
            manifest: &manifest,
            runtime_config: &runtime_config,
            runtime_config_file: options.runtime_config_file.as_deref(),
            state_dir: &state_dir,
            variables: &variables,
        };
        let capabilities = host::Capabilities::configure(&ctx).map_err(|problems| {
            anyhow::anyhow!("{}: the app cannot start:\n  {}", origin.display(), problems.join("\n  "))
        })?;
        let services = capabilities.grant_all(&manifest);

        let self_origin = capabilities.self_origin();
        // Routes are matched most specific first; metrics list them so.
        let mut http_routes: Vec<_> = manifest.http_routes.iter().collect();
        http_routes.sort_by_key(|route| std::cmp::Reverse(route.route.specificity()));
        let metrics = Arc::new(server::Metrics::new(
            http_routes.iter().map(|route| (route.route.as_spin_str(), route.component.clone())),
        ));
        let telemetry = Arc::new(if options.otel_from_env {
            telemetry::Telemetry::from_env(&manifest.name, metrics, tokio::runtime::Handle::current())?
        } else {
            telemetry::Telemetry::local(metrics)
        });

        // Each component is loaded (compiled, or read from the cache) and
        // linked once, whichever triggers use it.
        let mut needs = engine::InstanceNeeds::default();
        let mut linked: HashMap<&str, InstancePre<host::HostState>> = HashMap::new();
        let mut instance_pre = |id: &str| -> anyhow::Result<InstancePre<host::HostState>> {
            if let Some(pre) = linked.get(id) {
                return Ok(pre.clone());
            }
            let (id, component) = manifest.components.get_key_value(id).expect("the manifest checked its triggers");
            let ctx = |what: &str| format!("component `{id}`: {what}");
            let (wasm, component_needs) = match &options.bundle {
                Some(bundle) => bundle.load_component(&engine, &component.source),
                None => engine::load_component(&engine, &component.source, &cache_dir),
            }
            .with_context(|| ctx("cannot load"))?;
            needs = needs.max(component_needs);
            let pre = linker
                .instantiate_pre(&wasm)
                .map_err(anyhow::Error::from)
                .with_context(|| ctx("imports an interface keel does not provide"))?;
            linked.insert(id.as_str(), pre.clone());
            Ok(pre)
        };

        let mut routes = Vec::new();
        for route in http_routes {
            let component = &manifest.components[&route.component];
            let ctx = |what: &str| format!("component `{}`: {what}", component.id);
            let pre = instance_pre(&component.id)?;
            let pre = Arc::new(match wasmtime_wasi_http::p3::bindings::ServicePre::new(pre.clone()) {
                Ok(p3) => ProxyPre::P3(p3),
                Err(_) => ProxyPre::P2(
                    wasmtime_wasi_http::p2::bindings::ProxyPre::new(pre)
                        .map_err(anyhow::Error::from)
                        .with_context(|| ctx("does not export wasi:http/handler@0.3 or wasi:http/incoming-handler@0.2"))?,
                ),
            });
            let handler = |limits: InstanceLimits| {
                ProxyHandler::new(server::ComponentHandler {
                    engine: engine.clone(),
                    pre: pre.clone(),
                    services: services[&component.id].clone(),
                    limits,
                    telemetry: telemetry.clone(),
                })
            };
            routes.push(server::RouteTarget {
                route: route.route.clone(),
                pattern: route.route.as_spin_str(),
                component: component.id.clone(),
                handler: handler(options.limits.clone()),
                streams: handler(InstanceLimits { max_reuse: server::STREAMS_PER_INSTANCE, ..options.limits.clone() }),
            });
        }
        let cron = manifest
            .cron_triggers
            .iter()
            .map(|trigger| {
                let missing = || {
                    format!(
                        "component `{}`: does not export keel:triggers/inbound-cron@0.1.0, which [[trigger.cron]] \
                         calls (world `keel:triggers/cron-component`, wit/triggers/cron.wit)",
                        trigger.component
                    )
                };
                let pre = cron::CronComponentPre::new(instance_pre(&trigger.component)?)
                    .map_err(anyhow::Error::from)
                    .with_context(missing)?;
                Ok(Arc::new(cron::Job {
                    services: services[&trigger.component].clone(),
                    schedule: trigger.schedule.clone(),
                    pre,
                    engine: engine.clone(),
                    limits: options.limits.clone(),
                    telemetry: telemetry.clone(),
                }))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        engine::release_freed_memory();

        // As many requests at once as the pool holds instances for (each
        // serving up to `max_concurrent` requests), less an eighth for
        // instances still being torn down after their last request.
        // Without the pool, the same number of instances at most.
        let pooled = if pooling { needs.capacity(engine::POOL) } else { engine::POOL.component_instances as usize };
        let derived = (pooled - pooled / 8).saturating_mul(options.limits.max_concurrent).max(1);
        let concurrent = options.admission.max_concurrent.map_or(derived, |n| n.min(derived));
        tracing::info!(
            "serving up to {concurrent} requests at once (an instance needs {} core instances, {} memories, {} tables), {} more queued for up to {:?}",
            needs.core_instances,
            needs.memories,
            needs.tables,
            options.admission.max_queued,
            options.admission.queue_timeout,
        );

        let router = Arc::new(server::Router {
            routes,
            limits: options.limits.clone(),
            connections: options.connections.clone(),
            admission: server::Admission::new(concurrent, &options.admission),
            access_log: options.access_log,
            telemetry: telemetry.clone(),
            body_budget: Arc::new(tokio::sync::Semaphore::new(
                options.connections.max_buffered_body_bytes.div_ceil(1 << 10).max(1),
            )),
        });
        let weak = Arc::downgrade(&router);
        telemetry.observe_in_flight(move || weak.upgrade().map_or(0, |router| router.admission.in_flight() as u64));
        Ok(App { self_origin, name: manifest.name, router, cron, telemetry })
    }

    /// The application's name (`[application] name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The routes served, as `(route, component)`.
    pub fn routes(&self) -> Vec<(String, String)> {
        self.router
            .routes
            .iter()
            .map(|t| (t.pattern.clone(), t.component.clone()))
            .collect()
    }

    /// The cron triggers run, as `(cron expression, component)`.
    pub fn schedules(&self) -> Vec<(String, String)> {
        self.cron.iter().map(|job| (job.schedule.source().to_owned(), job.services.id.clone())).collect()
    }

    /// Serve the admin endpoints (`GET /metrics`) on `listener`, in the
    /// background, for as long as the process runs.
    pub fn serve_admin(&self, listener: TcpListener) {
        tokio::spawn(server::serve_admin(self.router.clone(), listener));
    }

    /// Serve HTTP on `listener` and run the cron triggers until `shutdown`
    /// resolves; then let requests and cron runs in flight finish (within
    /// the shutdown grace) and export the telemetry still buffered.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let _ = self.self_origin.set(host::self_origin(listener.local_addr()?));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let grace = self.router.connections.shutdown_grace;
        let http = async {
            let served = server::serve(self.router, listener, async {
                shutdown.await;
                let _ = stop.send(true);
            })
            .await;
            let _ = stop.send(true);
            served
        };
        let (served, ()) = tokio::join!(http, cron::run(&self.cron, stopped, grace));
        if self.telemetry.exporting() {
            // The SDK's shut-down blocks until its export, which runs on this runtime.
            let telemetry = self.telemetry.clone();
            let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
        }
        served
    }
}
