//! Waiting with a deadline.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

/// The output of `future`, or `None` when `limit` passes first (the future
/// is then dropped).
pub async fn within<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut timer = pin!(spin_sdk::time::sleep(limit));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        timer.as_mut().poll(cx).map(|_| None)
    })
    .await
}
