//! The wasmtime engine: component-model async, pooling allocator, epoch
//! interruption, and a disk cache of precompiled components.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; guests yield to the executor at each tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The process-wide engine for `pooling`: one engine (and one epoch thread)
/// serves every app loaded in the process, as in Spin.
pub fn shared_engine(pooling: bool) -> anyhow::Result<Engine> {
    static ENGINES: std::sync::Mutex<Vec<(bool, Engine)>> = std::sync::Mutex::new(Vec::new());
    let mut engines = ENGINES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, engine)) = engines.iter().find(|(p, _)| *p == pooling) {
        return Ok(engine.clone());
    }
    let engine = new_engine(pooling)?;
    start_epoch_ticker(&engine);
    engines.push((pooling, engine.clone()));
    Ok(engine)
}

fn new_engine(pooling: bool) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .wasm_component_model_async(true)
        .concurrency_support(true)
        .epoch_interruption(true)
        .parallel_compilation(true);
    // `KEEL_PROFILER=perfmap` writes /tmp/perf-<pid>.map so `perf report`
    // names the functions of guest code (wasmtime's perf-map strategy).
    if std::env::var("KEEL_PROFILER").is_ok_and(|v| v == "perfmap") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        // A composed Keel product is one component holding a dozen or more
        // core modules, each with its own memory and table.
        pool.total_component_instances(POOL.component_instances)
            .total_core_instances(POOL.core_instances)
            .total_memories(POOL.memories)
            .total_tables(POOL.tables)
            .total_stacks(POOL.stacks)
            .max_core_instances_per_component(200)
            .max_memories_per_component(64)
            .max_tables_per_component(64)
            .max_component_instance_size(1 << 20)
            .max_core_instance_size(1 << 20);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).map_err(anyhow::Error::from)
}

/// What the pooling allocator reserves, all components together.
#[derive(Debug, Clone, Copy)]
pub struct PoolTotals {
    pub component_instances: u32,
    pub core_instances: u32,
    pub memories: u32,
    pub tables: u32,
    pub stacks: u32,
}

/// The pool of the shared pooling engine.
pub const POOL: PoolTotals = PoolTotals {
    component_instances: 1000,
    core_instances: 20_000,
    memories: 2000,
    tables: 2000,
    stacks: 1000,
};

/// What one instance of a component takes from the pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InstanceNeeds {
    pub core_instances: u32,
    pub memories: u32,
    pub tables: u32,
}

impl InstanceNeeds {
    /// Count what instantiating `component` (compiled from `wasm`) allocates.
    pub fn of(component: &Component, wasm: &[u8]) -> anyhow::Result<InstanceNeeds> {
        use wasmparser::{Instance, Parser, Payload};
        let mut core_instances = 0;
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::InstanceSection(section) = payload? {
                for instance in section {
                    if let Instance::Instantiate { .. } = instance? {
                        core_instances += 1;
                    }
                }
            }
        }
        let resources = component.resources_required();
        Ok(InstanceNeeds {
            core_instances,
            memories: resources.as_ref().map_or(0, |r| r.num_memories),
            tables: resources.as_ref().map_or(0, |r| r.num_tables),
        })
    }

    /// The larger need of each kind.
    pub fn max(self, other: InstanceNeeds) -> InstanceNeeds {
        InstanceNeeds {
            core_instances: self.core_instances.max(other.core_instances),
            memories: self.memories.max(other.memories),
            tables: self.tables.max(other.tables),
        }
    }

    /// How many instances with these needs `pool` holds at once.
    pub fn capacity(self, pool: PoolTotals) -> usize {
        let per = |total: u32, need: u32| total.checked_div(need).unwrap_or(u32::MAX);
        [
            pool.component_instances,
            pool.stacks,
            per(pool.core_instances, self.core_instances),
            per(pool.memories, self.memories),
            per(pool.tables, self.tables),
        ]
        .into_iter()
        .min()
        .unwrap_or(0) as usize
    }
}

/// Whether a request failed because the instance pool had no room for
/// another instance (a transient condition: wait and try again).
pub fn is_pool_exhausted(error: &wasmtime::Error) -> bool {
    error
        .downcast_ref::<crate::server::HandlerInstantiationError>()
        .is_some_and(|e| e.error.is::<wasmtime::PoolConcurrencyLimitError>())
}

/// Start the thread that advances the engine's epoch.
fn start_epoch_ticker(engine: &Engine) {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("keel-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawn epoch thread");
}

/// Load a component, compiling it once and reusing the compiled artefact
/// from `cache_dir` on later starts.
pub fn load_component(engine: &Engine, wasm_path: &Path, cache_dir: &Path) -> anyhow::Result<(Component, InstanceNeeds)> {
    let wasm = std::fs::read(wasm_path)
        .with_context(|| format!("cannot read component {}", wasm_path.display()))?;
    let component = compile_cached(engine, &wasm, wasm_path, cache_dir)?;
    let needs = InstanceNeeds::of(&component, &wasm)
        .with_context(|| format!("{} is not a valid component", wasm_path.display()))?;
    Ok((component, needs))
}

/// A short key for what precompiled code `engine` accepts (wasmtime
/// version, compiler settings, CPU features).
pub fn compatibility_key(engine: &Engine) -> String {
    let mut compat = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut compat);
    format!("{:016x}", compat.finish())
}

fn compile_cached(engine: &Engine, wasm: &[u8], wasm_path: &Path, cache_dir: &Path) -> anyhow::Result<Component> {
    let key = format!("{}-{}", hex::encode(Sha256::digest(wasm)), compatibility_key(engine));
    let cached = cache_dir.join(format!("{key}.cwasm"));
    if cached.exists() {
        // SAFETY: the file was produced by `precompile_component` for an
        // engine with the same compatibility hash (it is part of the name),
        // in Keel's own state directory.
        match unsafe { Component::deserialize_file(engine, &cached) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::warn!("ignoring unusable compile cache {}: {e}", cached.display()),
        }
    }
    let started = std::time::Instant::now();
    let compiled = engine
        .precompile_component(wasm)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{} is not a valid component", wasm_path.display()))?;
    tracing::info!(
        "compiled {} in {:.1}s",
        wasm_path.display(),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = std::fs::create_dir_all(cache_dir).and_then(|_| {
        let tmp = cached.with_extension("tmp");
        std::fs::write(&tmp, &compiled)?;
        std::fs::rename(&tmp, &cached)
    }) {
        tracing::warn!("cannot write compile cache {}: {e}", cached.display());
    }
    // SAFETY: `compiled` was just produced by this engine.
    unsafe { Component::deserialize(engine, &compiled) }.map_err(anyhow::Error::from)
}

/// Hand the memory the process has freed back to the system, once every
/// component is loaded.
///
/// Compiling a component (an empty compile cache: the first start of a pod,
/// or a bundle made for another CPU) allocates a few hundred megabytes on
/// Cranelift's worker threads, each with its own glibc arena. glibc keeps
/// what is freed inside an arena for later, so a server that compiled at
/// start stayed at ~350 MB of RSS for its whole life, against ~50 MB for
/// one that read the compile cache. `malloc_trim` returns the free pages of
/// every arena. Elsewhere (the static build's musl) it does nothing.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases memory no allocation holds; it is
    // safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_pool_is_told_apart_from_a_broken_component() {
        // The handler's instantiation error carries the request's data: a
        // downcast to another type (`InstantiationError<()>` once
        // `RequestTrace` was added) missed every full pool, and requests
        // that should have waited for a slot got 500.
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(1);
        let mut config = Config::new();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).unwrap();
        // `(component)`: the smallest component there is.
        let component = Component::new(&engine, b"\0asm\x0d\0\x01\0").unwrap();
        let linker = wasmtime::component::Linker::<()>::new(&engine);
        let mut first = wasmtime::Store::new(&engine, ());
        linker.instantiate(&mut first, &component).unwrap();
        let mut second = wasmtime::Store::new(&engine, ());
        let full = linker.instantiate(&mut second, &component).unwrap_err();
        let failed = |error: wasmtime::Error| -> wasmtime::Error {
            crate::server::HandlerInstantiationError {
                request_data: crate::telemetry::RequestTrace::default(),
                request: std::sync::Mutex::new(http::Request::new(wasmtime_wasi_http::WasiBody::default())),
                error: std::sync::Arc::new(error),
            }
            .into()
        };
        assert!(is_pool_exhausted(&failed(full)));
        assert!(!is_pool_exhausted(&failed(wasmtime::Error::msg("a component that traps in its start function"))));
    }
}
