//! Runs every Gherkin suite under `tests/features` against the real,
//! composed components served by Keel's runtime (in-process, over HTTP on
//! loopback).
//!
//! * `team_collab/` drives `dist/team-collab.wasm` as a user would.
//! * `conformance/<interface>.feature` (sql, kv, email, email-outbox) runs
//!   once per implementation listed in [`steps::implementations`], so every
//!   adapter and host backend passes the same suite. Email scenarios tagged
//!   `@provider` run only for adapters that talk to the mock provider.
//! * Product scenarios tagged `@outbox` run only on deployments that keep
//!   mail in the development outbox, `@provider` only on those that send it
//!   to the mock provider.
//!
//! Prints `N passed, N failed` (scenarios) at the end and fails on any
//! failure.

mod steps;

use cucumber::writer::{self, Stats as _};
use cucumber::{World as _, WriterExt as _};
use steps::{KeelWorld, Target};

async fn run_suite(label: &str, path: &str, target: Target) -> (usize, usize) {
    println!("\n=== {label} ===");
    // `@provider` scenarios need the mock email provider; `@outbox` ones
    // the development outbox of product deployments without one.
    let with_provider = match &target {
        Target::Conformance(implementation) => implementation.uses_mock_provider(),
        Target::TeamCollab(deployment) => deployment.uses_mock_provider(),
        Target::Faults => false,
    };
    steps::set_target(target);
    let summary = KeelWorld::cucumber()
        .max_concurrent_scenarios(2)
        .with_writer(writer::Basic::stdout().summarized())
        .fail_on_skipped()
        .filter_run(path, move |_, _, scenario| {
            let tagged = |name: &str| scenario.tags.iter().any(|tag| tag == name);
            if with_provider { !tagged("outbox") } else { !tagged("provider") }
        })
        .await;
    let stats = summary.scenarios_stats();
    let failed = stats.failed + stats.skipped + summary.parsing_errors() + summary.hook_errors();
    (stats.passed, failed)
}

#[tokio::main]
async fn main() {
    let root = steps::repo_root();
    let features = root.join("tests/features");
    let mut passed = 0;
    let mut failed = 0;

    let mut suites = Vec::new();
    for deployment in steps::deployments() {
        suites.push((
            format!("team-collab product: {}", deployment.name),
            features.join("team_collab"),
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

    let filter = std::env::var("KEEL_FEATURES").ok();
    for (label, path, target) in suites {
        if filter.as_deref().is_some_and(|f| !label.contains(f)) {
            continue;
        }
        let (p, f) = run_suite(&label, path.to_str().expect("utf-8 path"), target).await;
        passed += p;
        failed += f;
    }

    steps::drop_schemas().await;
    steps::drop_databases().await;
    println!("\n{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
