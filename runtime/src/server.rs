//! The HTTP front door: hyper accepts connections, matches Spin routes, and
//! hands requests to each component's `ProxyHandler`, which reuses
//! instances (up to N requests, M at once) the way Spin 4 does.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use wasmtime::StoreContextMut;
use wasmtime::component::GuestTaskId;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::handler::{
    ExpirationError, HandlerState, Instance, InstantiationError, ProxyHandler, ProxyPre,
    ShouldAccept, WorkerExpiration, WorkerState, WorkerStatus,
};

use crate::config::manifest::Route;
use crate::host::{self, ComponentServices, HostState};

/// Limits applied to every component instance.
#[derive(Debug, Clone)]
pub struct InstanceLimits {
    /// Requests one instance serves before it is dropped.
    pub max_reuse: usize,
    /// Requests one instance serves at the same time.
    pub max_concurrent: usize,
    /// Time a request may run before it is cut off (504).
    pub request_timeout: Duration,
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
    pub(crate) pre: ProxyPre<HostState>,
    pub(crate) services: Arc<ComponentServices>,
    pub(crate) limits: InstanceLimits,
}

impl HandlerState for ComponentHandler {
    type StoreData = HostState;
    type WorkerExpiration = Expiry;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<HostState, Expiry, Worker>> {
        let mut store = host::new_store(&self.engine, self.services.clone(), self.limits.memory_limit);
        // Yield at every epoch tick so a busy guest cannot hold the thread
        // and its expiry is noticed.
        store.epoch_deadline_async_yield_and_update(1);
        let proxy = self.pre.instantiate_async(&mut store).await?;
        Ok(Instance {
            store,
            proxy,
            view: |state: &mut HostState| state.http(),
            expiration: Expiry {
                request_timeout: self.limits.request_timeout,
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

/// Drops an instance whose requests overran the timeout, or that sat idle.
pub struct Expiry {
    request_timeout: Duration,
    idle_timeout: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WorkerExpiration for Expiry {
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>, status: WorkerStatus, start: Instant) -> Poll<()> {
        let limit = match status {
            WorkerStatus::Idle => self.idle_timeout,
            WorkerStatus::Requests | WorkerStatus::PostReturn => self.request_timeout,
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
    type RequestData = ();

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
        _store: StoreContextMut<'_, HostState>,
        _data: (),
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        Box::pin(tokio::time::sleep(self.limits.request_timeout))
    }

    fn drop(&self, _store: wasmtime::Store<HostState>, result: wasmtime::Result<()>) {
        if let Err(e) = result {
            tracing::warn!(component = %self.component, "instance discarded: {e:#}");
        }
    }
}

/// One routable component.
pub(crate) struct RouteTarget {
    pub route: Route,
    pub component: String,
    pub handler: ProxyHandler<ComponentHandler>,
}

pub(crate) struct Router {
    /// Most specific first.
    pub routes: Vec<RouteTarget>,
    pub limits: InstanceLimits,
    pub in_flight: Semaphore,
}

type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

fn json_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed_unsync())
        .expect("valid response")
}

/// Most bytes of an oversized body read and thrown away before the 413.
const DISCARD_MAX_BYTES: usize = 64 << 20;
/// Longest time spent throwing an oversized body away.
const DISCARD_MAX_TIME: Duration = Duration::from_secs(5);

enum BodyError {
    TooLarge,
    Unreadable(hyper::Error),
}

/// The whole request body, if it is at most `limit` bytes.
///
/// A larger body (announced by `content-length` or found while reading) is
/// read on and thrown away, within [`DISCARD_MAX_BYTES`] and
/// [`DISCARD_MAX_TIME`], before the 413 goes out: a client still sending
/// when the server closes would see a reset connection instead of the 413.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    if hyper::body::Body::size_hint(&body).exact().is_none_or(|len| len <= limit as u64) {
        let mut collected = Vec::new();
        loop {
            let Some(frame) = body.frame().await else { return Ok(Bytes::from(collected)) };
            let Ok(data) = frame.map_err(BodyError::Unreadable)?.into_data() else { continue };
            if collected.len() + data.len() > limit {
                break;
            }
            collected.extend_from_slice(&data);
        }
    }
    let discard = async {
        let mut discarded = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            discarded = discarded.saturating_add(frame.data_ref().map_or(0, Bytes::len));
            if discarded > DISCARD_MAX_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_MAX_TIME, discard).await;
    Err(BodyError::TooLarge)
}

impl Router {
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>, client: SocketAddr, local: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let response = self.dispatch(req, client, local).await;
        tracing::debug!(%method, %path, status = response.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64);
        response
    }

    async fn dispatch(&self, req: Request<Incoming>, client: SocketAddr, local: SocketAddr) -> Response<Body> {
        let path = req.uri().path().to_string();
        let Some((target, path_info)) = self
            .routes
            .iter()
            .find_map(|t| t.route.matches(&path).map(|info| (t, info.to_string())))
        else {
            return json_error(StatusCode::NOT_FOUND, "not_found", "no component serves this route");
        };

        let (mut parts, body) = req.into_parts();
        let body = match read_body(body, self.limits.max_body_bytes).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                let message = format!("request body exceeds {} bytes", self.limits.max_body_bytes);
                let mut response = json_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &message);
                response.headers_mut().insert(header::CONNECTION, http::HeaderValue::from_static("close"));
                return response;
            }
            Err(BodyError::Unreadable(e)) => {
                return json_error(StatusCode::BAD_REQUEST, "bad_request", &format!("cannot read request body: {e}"));
            }
        };

        let authority = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| local.to_string());
        let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
        let full_url = format!("http://{authority}{path_and_query}");
        match full_url.parse() {
            Ok(uri) => parts.uri = uri,
            Err(_) => return json_error(StatusCode::BAD_REQUEST, "bad_request", "invalid Host header"),
        }
        let spin_headers = [
            ("spin-full-url", full_url.clone()),
            ("spin-path-info", path_info),
            ("spin-matched-route", target.route.as_spin_str()),
            ("spin-raw-component-route", target.route.as_spin_str()),
            ("spin-component-route", target.route.as_spin_str().trim_end_matches("/...").to_string()),
            ("spin-base-path", "/".to_string()),
            ("spin-client-addr", client.to_string()),
        ];
        for (name, value) in spin_headers {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                parts.headers.insert(name, value);
            }
        }
        let request = Request::from_parts(parts, Full::new(body).map_err(|never| match never {}).boxed_unsync());

        let _permit = self.in_flight.acquire().await.expect("semaphore never closed");
        let started = Instant::now();
        match target.handler.handle((), request).await {
            Ok(response) => response.map(|b| b.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>).boxed_unsync()),
            Err(e) if e.downcast_ref::<ExpirationError>().is_some() || started.elapsed() >= self.limits.request_timeout => {
                tracing::warn!(component = %target.component, "request timed out after {:?}", self.limits.request_timeout);
                json_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "timeout",
                    &format!("the component did not respond within {:?}", self.limits.request_timeout),
                )
            }
            Err(e) if e.downcast_ref::<InstantiationError<()>>().is_some() => {
                tracing::error!(component = %target.component, "{e:#}");
                json_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the component could not be started")
            }
            Err(e) => {
                tracing::error!(component = %target.component, "request failed: {e:?}");
                json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the component failed while handling the request")
            }
        }
    }
}

/// Accept connections until `shutdown` resolves.
pub(crate) async fn serve(
    router: Arc<Router>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    let mut shutdown = std::pin::pin!(shutdown);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let router = router.clone();
                async move { Ok::<_, Infallible>(router.handle(req, client, local).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection from {client} ended: {e}");
            }
        });
    }
    connections.abort_all();
    Ok(())
}
