//! Component instances for `ProxyHandler`: how they are created, how long
//! they live, and how many requests each one serves.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
        let memory = store.data().linear_memory();
        let memory_at_start = memory.load(Ordering::Relaxed);
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
                memory,
                memory_at_start,
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

/// An instance whose linear memory grew by more than this since it started
/// serves no further request. Linear memory never shrinks, so a request
/// that needed much of it (a password hash takes 19 MiB) would leave it
/// resident in an idle instance; and wasmtime-wasi-http hands requests to
/// the idle instances in turn, so after a burst every one of them would end
/// up holding it (RSS went from 380 to 895 MB over a second of logins at one
/// connection). A new instance starts small, and the retired one's memory
/// goes back to the pooling allocator.
const MAX_REUSED_GROWTH: usize = 16 << 20;

pub struct Worker {
    component: String,
    limits: InstanceLimits,
    /// The instance's linear memory now ([`HostState::linear_memory`]) and
    /// just after it was instantiated.
    memory: Arc<AtomicUsize>,
    memory_at_start: usize,
}

impl WorkerState for Worker {
    type StoreData = HostState;
    type RequestData = RequestTrace;

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        let grown = self.memory.load(Ordering::Relaxed).saturating_sub(self.memory_at_start);
        if total >= self.limits.max_reuse || grown > MAX_REUSED_GROWTH {
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


#[cfg(test)]
mod tests {
    use super::*;

    fn worker(memory_at_start: usize) -> Worker {
        let limits = InstanceLimits {
            max_reuse: 128,
            max_concurrent: 1,
            request_timeout: Duration::from_secs(30),
            post_response_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(10),
            memory_limit: 256 << 20,
            max_body_bytes: 1 << 20,
        };
        let memory = Arc::new(AtomicUsize::new(memory_at_start));
        Worker { component: "app".into(), limits, memory, memory_at_start }
    }

    #[test]
    fn an_instance_that_grew_much_is_not_reused() {
        let worker = worker(40 << 20);
        assert!(matches!(worker.should_accept_request(0, 1), ShouldAccept::Yes));
        worker.memory.store((40 << 20) + MAX_REUSED_GROWTH, Ordering::Relaxed);
        assert!(matches!(worker.should_accept_request(0, 1), ShouldAccept::Yes), "grown up to the bound: reused");
        // A password hash's 19 MiB.
        worker.memory.store((40 << 20) + (19 << 20), Ordering::Relaxed);
        assert!(matches!(worker.should_accept_request(0, 1), ShouldAccept::Never));
    }

    #[test]
    fn an_instance_serves_at_most_its_reuse_count_one_at_a_time() {
        let worker = worker(0);
        assert!(matches!(worker.should_accept_request(1, 1), ShouldAccept::No));
        assert!(matches!(worker.should_accept_request(0, 128), ShouldAccept::Never));
    }
}
