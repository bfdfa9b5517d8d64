//! Runs every Gherkin suite under `tests/features` against the real,
//! composed components served by Keel's runtime (in-process, over HTTP on
//! loopback).
//!
//! * `team_collab/` drives `dist/team-collab.wasm` as a user would.
//! * `composition/` inspects the built components themselves (imports,
//!   and that variants share every embedded component but the swapped
//!   adapter), once.
//! * `conformance/<interface>.feature` (sql, kv, blob-store, email, email-outbox) runs
//!   once per implementation listed in [`steps::implementations`], so every
//!   adapter and host backend passes the same suite. Email scenarios tagged
//!   `@provider` run only for adapters that talk to the mock provider,
//!   blob-store scenarios tagged `@s3` only for the one on the mock S3.
//! * Product scenarios tagged `@outbox` run only on deployments that keep
//!   mail in the development outbox, `@provider` only on those that send it
//!   to the mock provider, `@cron` only on those whose manifest has a
//!   `[[trigger.cron]]`.
//!
//! * With `KEEL_TEST_RUNTIME=/path/to/binary` every suite runs on that
//!   runtime's CLI instead (`<binary> up -f MANIFEST --listen ADDR
//!   --runtime-config-file FILE`, variables as `SPIN_VARIABLE_*`), e.g. a
//!   real `spin`; scenarios tagged `@keel-only` and suites on backends only
//!   Keel has are skipped there, and the count is printed.
//!
//! Prints `N passed, N failed` (scenarios) at the end and fails on any
//! failure.

mod steps;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cucumber::writer::{self, Stats as _};
use cucumber::{World as _, WriterExt as _};
use steps::{KeelWorld, Target};

/// Scenarios passed, failed and skipped (tagged `@keel-only` while the
/// suites run on an external runtime).
async fn run_suite(label: &str, path: &str, target: Target) -> (usize, usize, usize) {
    println!("\n=== {label} ===");
    let external = steps::external_runtime().is_some();
    let skipped = Arc::new(AtomicUsize::new(0));
    let skipped_in_filter = skipped.clone();
    // `@provider` scenarios need the mock email provider; `@outbox` ones
    // the development outbox of product deployments without one.
    let with_s3 = matches!(&target, Target::Conformance(implementation) if implementation.uses_mock_s3());
    let with_cron = matches!(&target, Target::TeamCollab(deployment) if deployment.runs_cron());
    let with_provider = match &target {
        Target::Conformance(implementation) => implementation.uses_mock_provider(),
        Target::TeamCollab(deployment) => deployment.uses_mock_provider(),
        Target::Faults | Target::Artifacts => false,
    };
    steps::set_target(target);
    // KEEL_SCENARIOS narrows a run to the features or scenarios whose name
    // holds the text (while working on one).
    let only = std::env::var("KEEL_SCENARIOS").ok();
    let summary = KeelWorld::cucumber()
        .max_concurrent_scenarios(2)
        .with_writer(writer::Basic::stdout().summarized())
        .fail_on_skipped()
        .filter_run(path, move |feature, _, scenario| {
            let tagged = |name: &str| feature.tags.iter().chain(&scenario.tags).any(|tag| tag == name);
            if only.as_ref().is_some_and(|text| !feature.name.contains(text.as_str()) && !scenario.name.contains(text.as_str())) {
                return false;
            }
            if external && tagged("keel-only") {
                skipped_in_filter.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            if (tagged("s3") && !with_s3) || (tagged("cron") && !with_cron) {
                return false;
            }
            if with_provider { !tagged("outbox") } else { !tagged("provider") }
        })
        .await;
    let stats = summary.scenarios_stats();
    let mut failed = stats.failed + stats.skipped + summary.parsing_errors() + summary.hook_errors();
    let skipped = skipped.load(Ordering::Relaxed);
    if stats.passed + failed == 0 && skipped == 0 {
        println!("FAILED: the suite ran no scenario");
        failed = 1;
    }
    (stats.passed, failed, skipped)
}

#[tokio::main]
async fn main() {
    // The in-process runtime's errors go to stderr: a scenario that gets a
    // 500 then shows why (KEEL_LOG widens it, as for `keel up`).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEEL_LOG").unwrap_or_else(|_| "keel_runtime=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let root = steps::repo_root();
    let features = root.join("tests/features");
    let mut passed = 0;
    let mut failed = 0;

    let mut suites = Vec::new();
    for deployment in steps::deployments() {
        suites.push((
            format!("team-collab product: {}", deployment.name),
            features.join(deployment.features),
            Target::TeamCollab(deployment),
        ));
    }
    for implementation in steps::implementations() {
        let file = format!("conformance/{}.feature", implementation.interface);
        suites.push((
            format!("{} conformance: {}", implementation.interface, implementation.name),
            features.join(file),
            Target::Conformance(implementation),
        ));
    }
    suites.push(("runtime isolation".to_string(), features.join("runtime"), Target::Faults));
    suites.push(("composed components".to_string(), features.join("composition"), Target::Artifacts));

    let filter = std::env::var("KEEL_FEATURES").ok();
    let external = steps::external_runtime();
    if let Some(binary) = &external {
        println!("running the suites on KEEL_TEST_RUNTIME={}", binary.display());
    }
    let mut skipped = 0;
    let mut filtered_out = Vec::new();
    for (label, path, target) in suites {
        if filter.as_deref().is_some_and(|f| !label.contains(f)) {
            filtered_out.push(label);
            continue;
        }
        if external.is_some() && matches!(&target, Target::Conformance(i) if i.keel_only()) {
            println!("\n=== {label} ===\nskipped: its runtime configuration needs Keel's runtime");
            skipped += 1;
            continue;
        }
        let (p, f, s) = run_suite(&label, path.to_str().expect("utf-8 path"), target).await;
        passed += p;
        failed += f;
        skipped += s;
    }

    steps::drop_schemas().await;
    steps::drop_databases().await;
    if let Some(filter) = &filter {
        println!("\nKEEL_FEATURES={filter:?} left out {} suites: {}", filtered_out.len(), filtered_out.join("; "));
        if passed + failed == 0 {
            println!("FAILED: KEEL_FEATURES={filter:?} matches no suite");
            failed += 1;
        }
    }
    if external.is_some() {
        println!("\nskipped on the external runtime: {skipped} (scenarios tagged @keel-only, suites on Keel-only backends)");
    }
    println!("\n{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
