//! Component instances for `ProxyHandler`: how they are created, how long
//! they live, and how many requests each one serves.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wasmtime::StoreContextMut;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime::component::GuestTaskId;
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyPre, ShouldAccept, WorkerExpiration, WorkerState, WorkerStatus,
};

use crate::host::{self, ComponentServices, HostState};
use crate::telemetry::{RequestTrace, Telemetry};

/// Limits applied to every component instance.
#[derive(Debug, Clone)]
pub struct InstanceLimits {
    /// Requests one instance serves before it is dropped.
    pub max_reuse: usize,
    /// Requests one instance serves at the same time.
    pub max_concurrent: usize,
    /// Time a request may run before it is cut off (504).
    pub request_timeout: Duration,
    /// Time an instance may keep running after its last response: writing
    /// a streamed body (Server-Sent Events) or finishing background work.
    pub post_response_timeout: Duration,
    /// Time an idle instance is kept for reuse.
    pub idle_timeout: Duration,
    /// Linear memory of one instance, all its core modules together.
    pub memory_limit: usize,
    /// Largest accepted request body (413 beyond).
    pub max_body_bytes: usize,
}

/// Creates instances of one component for `ProxyHandler`.
pub struct ComponentHandler {
    pub(crate) engine: wasmtime::Engine,
    pub(crate) pre: Arc<ProxyPre<HostState>>,
    pub(crate) services: Arc<ComponentServices>,
    pub(crate) limits: InstanceLimits,
    pub(crate) telemetry: Arc<Telemetry>,
}

impl HandlerState for ComponentHandler {
    type StoreData = HostState;
    type WorkerExpiration = Expiry;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<HostState, Expiry, Worker>> {
        let mut store = instance_store(&self.engine, &self.services, &self.limits, &self.telemetry);
        let proxy = self.pre.instantiate_async(&mut store).await?;
        Ok(Instance {
            store,
            proxy,
            view: |state: &mut HostState| state.http(),
            expiration: Expiry {
                request_timeout: self.limits.request_timeout,
                post_response_timeout: self.limits.post_response_timeout,
                idle_timeout: self.limits.idle_timeout,
                timer: None,
            },
            state: Worker {
                component: self.services.id.clone(),
                limits: self.limits.clone(),
            },
        })
    }
}

/// The store of one instance of the component `services` describes, as
/// every trigger (an HTTP request, a cron firing) creates it: the
/// component's grants, the memory cap of `limits`, and a yield at every
/// epoch tick, so a busy guest cannot hold the thread and its deadline is
/// noticed.
pub(crate) fn instance_store(
    engine: &wasmtime::Engine,
    services: &Arc<ComponentServices>,
    limits: &InstanceLimits,
    telemetry: &Arc<Telemetry>,
) -> wasmtime::Store<HostState> {
    let mut store = host::new_store(engine, services.clone(), limits.memory_limit, telemetry.clone());
    store.epoch_deadline_async_yield_and_update(1);
    store
}

/// Drops an instance whose requests overran the timeout, whose work after
/// responding (a streamed body) overran its own, or that sat idle.
pub struct Expiry {
    request_timeout: Duration,
    post_response_timeout: Duration,
    idle_timeout: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WorkerExpiration for Expiry {
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>, status: WorkerStatus, start: Instant) -> Poll<()> {
        let limit = match status {
            WorkerStatus::Idle => self.idle_timeout,
            WorkerStatus::Requests => self.request_timeout,
            WorkerStatus::PostReturn => self.post_response_timeout,
        };
        let deadline = tokio::time::Instant::from_std(start + limit);
        if tokio::time::Instant::now() >= deadline {
            return Poll::Ready(());
        }
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }
}

pub struct Worker {
    component: String,
    limits: InstanceLimits,
}

impl WorkerState for Worker {
    type StoreData = HostState;
    type RequestData = RequestTrace;

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.limits.max_reuse {
            ShouldAccept::Never
        } else if concurrent >= self.limits.max_concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        mut store: StoreContextMut<'_, HostState>,
        trace: RequestTrace,
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        store.data_mut().start_request(trace);
        Box::pin(tokio::time::sleep(self.limits.request_timeout))
    }

    fn drop(&self, _store: wasmtime::Store<HostState>, result: wasmtime::Result<()>) {
        match result {
            Ok(()) => {}
            // wasmtime-wasi-http's name for a worker whose task was dropped
            // before it finished, which is what the shutdown abort does to
            // idle instances; a real panic is reported by the panic hook.
            Err(e) if e.to_string() == "worker panicked" => {
                tracing::debug!(component = %self.component, "instance dropped before its worker finished");
            }
            Err(e) => tracing::warn!(component = %self.component, "instance discarded: {e:#}"),
        }
    }
}

