//! Cron triggers (`[[trigger.cron]]`, the shape of Spin's cron trigger
//! plugin): each trigger's schedule runs in a loop of its own that, at each
//! firing, creates an instance of the component exactly as an HTTP request
//! does ([`crate::server::instance_store`]: the component's grants, its
//! memory cap, a yield at every epoch tick) and calls
//! `keel:triggers/inbound-cron`'s `handle-cron-event` with the time of the
//! firing, cut off after the request timeout.
//!
//! Runs of one trigger never overlap: a firing that finds the previous run
//! still going is skipped and logged. A run that traps, times out or returns
//! `error::other` is logged; the next firing runs as usual. Every firing is
//! counted in `keel_cron_runs_total{component,outcome}`. Firings missed while
//! the host was busy or asleep are not made up.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::host::{ComponentServices, HostState};
use crate::server::{InstanceLimits, instance_store};
use crate::telemetry::{RequestTrace, Telemetry};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/triggers",
        world: "keel:triggers/cron-component",
        exports: { default: async | store },
    });
}

pub(crate) use bindings::CronComponentPre;
use bindings::exports::keel::triggers::inbound_cron::{CronMetadata, Error};

/// One cron trigger of the app, ready to fire.
pub(crate) struct Job {
    /// The component it runs.
    pub services: Arc<ComponentServices>,
    pub schedule: cron::Schedule,
    pub pre: CronComponentPre<HostState>,
    pub engine: wasmtime::Engine,
    pub limits: InstanceLimits,
    pub telemetry: Arc<Telemetry>,
}

/// How a firing ended: the `outcome` label of `keel_cron_runs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// `handle-cron-event` returned `ok`.
    Ok,
    /// It returned `error::other`.
    Error,
    /// The instance trapped, or could not be created.
    Failed,
    /// It was still running at the request timeout.
    Timeout,
    /// The previous run was still going; nothing ran.
    Skipped,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Failed => "failed",
            Outcome::Timeout => "timeout",
            Outcome::Skipped => "skipped",
        }
    }
}

/// Run every job's schedule until `stop` turns true; then give the runs in
/// progress up to `grace` to finish.
pub(crate) async fn run(jobs: &[Arc<Job>], stop: watch::Receiver<bool>, grace: Duration) {
    futures::future::join_all(jobs.iter().map(|job| job.clone().run(stop.clone(), grace))).await;
}

impl Job {
    async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>, grace: Duration) {
        let component = &self.services.id;
        let expression = self.schedule.source();
        // One permit: a run holds it until it ends.
        let idle = Arc::new(Semaphore::new(1));
        let mut runs = JoinSet::new();
        let mut last: Option<DateTime<Utc>> = None;
        while !*stop.borrow() {
            // After the last firing (a timer may wake a little early), or
            // from now if that is later: missed firings are not made up.
            let from = last.map_or_else(Utc::now, |last| last.max(Utc::now()));
            let Some(at) = self.schedule.after(&from).next() else {
                tracing::info!(%component, "cron schedule `{expression}` has no more firings");
                break;
            };
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => break,
            }
            last = Some(at);
            while runs.try_join_next().is_some() {}
            match idle.clone().try_acquire_owned() {
                Ok(running) => {
                    let job = self.clone();
                    runs.spawn(async move {
                        job.fire(at).await;
                        drop(running);
                    });
                }
                Err(_) => {
                    tracing::warn!(%component, "cron firing at {at} skipped: the run before it is still going");
                    self.telemetry.record_cron_run(component, Outcome::Skipped.label());
                }
            }
        }
        if tokio::time::timeout(grace, async { while runs.join_next().await.is_some() {} }).await.is_err() {
            tracing::warn!(%component, "cron run still going after {grace:?}; stopping it");
        }
    }

    /// Run the component once for the firing at `at`; log and count how it
    /// ended.
    async fn fire(&self, at: DateTime<Utc>) {
        let component = &self.services.id;
        let timeout = self.limits.request_timeout;
        let timestamp = u64::try_from(at.timestamp()).unwrap_or_default();
        let outcome = match tokio::time::timeout(timeout, self.call(timestamp)).await {
            Ok(Ok(Ok(()))) => Outcome::Ok,
            Ok(Ok(Err(Error::Other(message)))) => {
                tracing::warn!(%component, "cron run at {at} failed: {message}");
                Outcome::Error
            }
            Ok(Err(e)) => {
                tracing::error!(%component, "cron run at {at} failed: {e:?}");
                Outcome::Failed
            }
            Err(_) => {
                tracing::warn!(%component, "cron run at {at} timed out after {timeout:?}");
                Outcome::Timeout
            }
        };
        self.telemetry.record_cron_run(component, outcome.label());
    }

    /// A new instance's `handle-cron-event`, given the firing's Unix time.
    async fn call(&self, timestamp: u64) -> wasmtime::Result<Result<(), Error>> {
        let mut store = instance_store(&self.engine, &self.services, &self.limits, &self.telemetry);
        store.data_mut().start_request(RequestTrace::default());
        let guest = self.pre.instantiate_async(&mut store).await?;
        let metadata = CronMetadata { timestamp };
        store
            .run_concurrent(async |accessor| {
                guest.keel_triggers_inbound_cron().call_handle_cron_event(accessor, metadata).await
            })
            .await?
    }
}
