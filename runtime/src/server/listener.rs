//! Accepting connections: a cap on open connections, timeouts for slow and
//! idle clients, and a graceful drain on shutdown.
//!
//! * **Connection cap.** At most [`ConnectionLimits::max_connections`] are
//!   open; beyond that the server stops calling `accept`, so new clients
//!   wait in the kernel's backlog instead of using up file descriptors.
//! * **Slow request heads.** A client must send a whole request head within
//!   [`ConnectionLimits::header_read_timeout`] (hyper's timer, started when
//!   the connection opens), or the connection is closed (slowloris).
//! * **Idle connections.** A connection with no request in progress and no
//!   byte read or written for [`ConnectionLimits::idle_timeout`] is closed
//!   (an idle keep-alive connection, or a client that stopped reading).
//! * **Accept errors** (e.g. `EMFILE`) pause accepting briefly instead of
//!   spinning.
//! * **Shutdown**: stop accepting, let requests in flight finish (idle
//!   connections close at once), and after
//!   [`ConnectionLimits::shutdown_grace`] close whatever is left.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use super::Router;

/// Limits on client connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Time a client has to send a complete request head.
    pub header_read_timeout: Duration,
    /// Time a client has to send a complete request body (408 beyond).
    pub body_read_timeout: Duration,
    /// Request-body bytes held in memory at once, all requests together
    /// (bodies are read whole before a component sees them); a body that
    /// would go beyond is shed with 503 and `Retry-After`.
    pub max_buffered_body_bytes: usize,
    /// Time a connection may sit without a request in progress and without
    /// traffic before it is closed.
    pub idle_timeout: Duration,
    /// Time requests in flight get to finish after a shutdown signal.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_buffered_body_bytes: 512 << 20,
            idle_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Pause after a failed `accept` (descriptor or memory exhaustion).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Accept connections until `shutdown` resolves, then drain.
pub(crate) async fn serve(router: Arc<Router>, listener: TcpListener, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    let limits = router.connections.clone();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("connection semaphore never closed"),
            () = &mut shutdown => break,
        };
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!("accept failed: {e}; pausing {ACCEPT_ERROR_PAUSE:?}");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stop = stop_rx.clone();
        let limits = limits.clone();
        connections.spawn(async move {
            serve_connection(router, stream, client, local, &limits, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let in_flight = connections.len();
    let _ = stop_tx.send(true);
    if in_flight > 0 {
        tracing::info!("draining {in_flight} connection(s), up to {:?}", limits.shutdown_grace);
    }
    let drained = tokio::time::timeout(limits.shutdown_grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("{} connection(s) still open after {:?}; closing them", connections.len(), limits.shutdown_grace);
        connections.abort_all();
    }
    Ok(())
}

/// Serve one connection until the client closes it, it idles out, or
/// shutdown completes.
async fn serve_connection(
    router: Arc<Router>,
    stream: TcpStream,
    client: SocketAddr,
    local: SocketAddr,
    limits: &ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req| {
            let router = router.clone();
            let busy = activity.begin_request();
            async move {
                let response = router.handle(req, client, local).await;
                // The request stays "in progress" while its body streams out.
                Ok::<_, Infallible>(response.map(|body| super::Body::new(InProgress { body, _busy: busy })))
            }
        })
    };
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let idle_deadline = activity.idle_deadline(limits.idle_timeout);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection from {client} ended: {e}");
                }
                return;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
            () = tokio::time::sleep_until(idle_deadline.into()) => {
                if activity.is_idle(limits.idle_timeout) {
                    tracing::debug!("closing idle connection from {client}");
                    return;
                }
            }
        }
    }
}

/// What a connection is doing: requests in progress and the time of the
/// last byte moved.
struct Activity {
    started: Instant,
    last_io_ms: AtomicU64,
    requests: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity { started: Instant::now(), last_io_ms: AtomicU64::new(0), requests: AtomicUsize::new(0) }
    }

    fn touch(&self) {
        self.last_io_ms.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn begin_request(self: &Arc<Self>) -> Busy {
        self.requests.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    fn last_io(&self) -> Instant {
        self.started + Duration::from_millis(self.last_io_ms.load(Ordering::Relaxed))
    }

    fn idle_deadline(&self, idle_timeout: Duration) -> Instant {
        self.last_io().max(Instant::now() - Duration::from_millis(1)) + idle_timeout
    }

    fn is_idle(&self, idle_timeout: Duration) -> bool {
        self.requests.load(Ordering::Acquire) == 0 && self.last_io().elapsed() >= idle_timeout
    }
}

/// Marks a request in progress until dropped (with its response body).
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.requests.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in progress.
struct InProgress {
    body: super::Body,
    _busy: Busy,
}

impl hyper::body::Body for InProgress {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A socket that records when bytes last moved.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
