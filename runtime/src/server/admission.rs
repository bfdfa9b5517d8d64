//! Admission control: how many requests run at once, how many may wait for
//! a turn, and for how long.
//!
//! The instance pool holds a fixed number of instances (see
//! [`crate::engine::PoolCapacity`]); a request beyond that would fail to
//! instantiate. Requests therefore take a slot before they reach a
//! component. When every slot is taken they wait in a FIFO queue, bounded in
//! length and in time; a request that cannot get a slot is shed with
//! `503 Service Unavailable` and `Retry-After`, never left to fail inside the
//! pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

/// How many requests run and wait.
#[derive(Debug, Clone)]
pub struct AdmissionLimits {
    /// Requests served at once, all components together; `None` sizes it
    /// from the instance pool's capacity for the loaded components.
    pub max_concurrent: Option<usize>,
    /// Requests that may wait for a slot; more are shed at once.
    pub max_queued: usize,
    /// Longest wait for a slot before a request is shed.
    pub queue_timeout: Duration,
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        AdmissionLimits {
            max_concurrent: None,
            max_queued: 4096,
            queue_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shed {
    /// The queue was full when the request arrived.
    QueueFull,
    /// No slot came free within the queue timeout.
    Timeout,
}

/// The slots and the queue in front of them.
pub(crate) struct Admission {
    slots: Semaphore,
    concurrent: usize,
    waiting: AtomicUsize,
    max_queued: usize,
    pub(crate) queue_timeout: Duration,
}

impl Admission {
    pub(crate) fn new(concurrent: usize, limits: &AdmissionLimits) -> Admission {
        let concurrent = concurrent.max(1);
        Admission {
            slots: Semaphore::new(concurrent),
            concurrent,
            waiting: AtomicUsize::new(0),
            max_queued: limits.max_queued,
            queue_timeout: limits.queue_timeout,
        }
    }

    /// Requests served at once.
    pub(crate) fn concurrent(&self) -> usize {
        self.concurrent
    }

    /// Requests holding a slot now.
    pub(crate) fn in_flight(&self) -> usize {
        self.concurrent - self.slots.available_permits().min(self.concurrent)
    }

    /// Requests waiting for a slot now.
    pub(crate) fn queued(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Wait for a slot (first come, first served).
    pub(crate) async fn admit(&self) -> Result<SemaphorePermit<'_>, Shed> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        let ahead = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&self.waiting);
        if ahead >= self.max_queued {
            return Err(Shed::QueueFull);
        }
        match tokio::time::timeout(self.queue_timeout, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(Shed::Timeout),
        }
    }
}

/// Leaves the queue when the waiting request is admitted, shed or dropped.
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(concurrent: usize, max_queued: usize, queue_timeout: Duration) -> Admission {
        Admission::new(
            concurrent,
            &AdmissionLimits { max_concurrent: None, max_queued, queue_timeout },
        )
    }

    #[tokio::test]
    async fn a_waiting_request_gets_the_next_free_slot() {
        let admission = admission(1, 8, Duration::from_secs(5));
        let first = admission.admit().await.unwrap();
        let waiter = admission.admit();
        tokio::pin!(waiter);
        assert!(futures::poll!(waiter.as_mut()).is_pending());
        drop(first);
        assert!(waiter.await.is_ok());
    }

    #[tokio::test]
    async fn a_full_queue_sheds_at_once_and_a_long_wait_times_out() {
        let admission = admission(1, 1, Duration::from_millis(50));
        let _busy = admission.admit().await.unwrap();
        let queued = admission.admit();
        tokio::pin!(queued);
        assert!(futures::poll!(queued.as_mut()).is_pending());
        assert_eq!(admission.admit().await.unwrap_err(), Shed::QueueFull);
        assert_eq!(queued.await.unwrap_err(), Shed::Timeout);
        // The queue is empty again: the next request may wait.
        assert_eq!(admission.waiting.load(Ordering::Acquire), 0);
    }
}
