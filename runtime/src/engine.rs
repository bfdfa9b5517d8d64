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
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        // A composed Keel product is one component holding a dozen or more
        // core modules, each with its own memory and table.
        pool.total_component_instances(1000)
            .total_core_instances(20_000)
            .total_memories(2000)
            .total_tables(2000)
            .total_stacks(1000)
            .max_core_instances_per_component(200)
            .max_memories_per_component(64)
            .max_tables_per_component(64)
            .max_component_instance_size(1 << 20)
            .max_core_instance_size(1 << 20);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).map_err(anyhow::Error::from)
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
pub fn load_component(engine: &Engine, wasm_path: &Path, cache_dir: &Path) -> anyhow::Result<Component> {
    let wasm = std::fs::read(wasm_path)
        .with_context(|| format!("cannot read component {}", wasm_path.display()))?;
    let mut compat = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut compat);
    let key = format!("{}-{:016x}", hex::encode(Sha256::digest(&wasm)), compat.finish());
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
        .precompile_component(&wasm)
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
