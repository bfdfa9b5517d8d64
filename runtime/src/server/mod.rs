//! The HTTP front door: hyper accepts connections ([`listener`]), requests
//! are matched to Spin routes, admitted ([`admission`]) and handed to each
//! component's `ProxyHandler`, which reuses instances ([`instance`]: up to N
//! requests, M at once) the way Spin 4 does. Cron firings ([`crate::cron`])
//! create their instances the same way ([`instance_store`]).

mod admin;
mod admission;
mod instance;
mod listener;
mod metrics;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime_wasi_http::handler::{ExpirationError, InstantiationError, ProxyHandler};

use crate::config::manifest::Route;
use crate::telemetry::{RequestTrace, Telemetry};
pub use admission::AdmissionLimits;
pub(crate) use admission::Admission;
pub(crate) use instance::{ComponentHandler, instance_store};
pub use instance::InstanceLimits;
pub use listener::ConnectionLimits;
pub(crate) use admin::serve as serve_admin;
pub(crate) use listener::serve;
pub(crate) use metrics::{HostCallLabels, Metrics};

/// One routable component.
pub(crate) struct RouteTarget {
    pub route: Route,
    /// The route as the manifest writes it (`/v1/...`).
    pub pattern: String,
    pub component: String,
    pub handler: ProxyHandler<ComponentHandler>,
    /// Instances for requests that ask for an event stream (`Accept:
    /// text/event-stream`). A stream keeps its instance alive after the
    /// response, so streams share a few long-lived instances (up to
    /// [`STREAMS_PER_INSTANCE`] each) instead of pinning one of the
    /// short-lived ones each, which would fill the instance pool.
    pub streams: ProxyHandler<ComponentHandler>,
}

/// The error of a request whose instance could not be created; it carries
/// the request's data ([`crate::telemetry::RequestTrace`]), so a downcast
/// must name exactly this type.
pub(crate) type HandlerInstantiationError = InstantiationError<crate::telemetry::RequestTrace>;

/// Event streams one instance opens before it is replaced.
pub(crate) const STREAMS_PER_INSTANCE: usize = 512;

pub(crate) struct Router {
    /// Most specific first.
    pub routes: Vec<RouteTarget>,
    pub limits: InstanceLimits,
    pub connections: ConnectionLimits,
    pub admission: Admission,
    /// Write an access-log line per request.
    pub access_log: bool,
    /// The buffer budget of request bodies, in KiB permits
    /// ([`ConnectionLimits::max_buffered_body_bytes`]).
    pub body_budget: Arc<Semaphore>,
    /// Metrics (`/metrics`, OTLP) and spans.
    pub telemetry: Arc<Telemetry>,
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
    /// The bodies in memory hold the whole buffer budget.
    Busy,
    Unreadable(hyper::Error),
}

/// The buffer budget's unit: permits count KiB.
const BUDGET_UNIT: usize = 1 << 10;

/// Hold `bytes` of the buffer budget (in all with `held`), or `Busy`.
fn reserve(budget: &Arc<Semaphore>, held: &mut Option<OwnedSemaphorePermit>, bytes: usize) -> Result<(), BodyError> {
    let wanted = bytes.div_ceil(BUDGET_UNIT);
    let have = held.as_ref().map_or(0, OwnedSemaphorePermit::num_permits);
    if wanted <= have {
        return Ok(());
    }
    let more = u32::try_from(wanted - have).map_err(|_| BodyError::Busy)?;
    let permit = budget.clone().try_acquire_many_owned(more).map_err(|_| BodyError::Busy)?;
    match held {
        Some(held) => held.merge(permit),
        None => *held = Some(permit),
    }
    Ok(())
}

/// The whole request body, if it is at most `limit` bytes and fits in the
/// buffer `budget` (all requests' buffered bodies together); its share of
/// the budget is held until the returned permit is dropped.
///
/// A larger body (announced by `content-length` or found while reading),
/// or one the budget cannot take (`Busy`), is read on and thrown away,
/// within [`DISCARD_MAX_BYTES`] and [`DISCARD_MAX_TIME`], before the 413 or
/// 503 goes out: a client still sending when the server closes would see a
/// reset connection instead of the answer.
async fn read_body(
    mut body: Incoming,
    limit: usize,
    budget: &Arc<Semaphore>,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), BodyError> {
    let announced = hyper::body::Body::size_hint(&body).exact();
    let mut refusal = BodyError::TooLarge;
    if announced.is_none_or(|len| len <= limit as u64) {
        let mut held = None;
        let mut collected = Vec::new();
        refusal = match reserve(budget, &mut held, announced.unwrap_or(0) as usize) {
            Err(busy) => busy,
            Ok(()) => loop {
                let Some(frame) = body.frame().await else { return Ok((Bytes::from(collected), held)) };
                let Ok(data) = frame.map_err(BodyError::Unreadable)?.into_data() else { continue };
                if collected.len() + data.len() > limit {
                    break BodyError::TooLarge;
                }
                if let Err(busy) = reserve(budget, &mut held, collected.len() + data.len()) {
                    break busy;
                }
                collected.extend_from_slice(&data);
            },
        };
    }
    // Read the rest and throw it away, so the client gets the answer
    // instead of a reset connection.
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
    Err(refusal)
}

/// The request id header a component (or the client) sets.
const REQUEST_ID: &str = "x-request-id";

/// One access-log line: a JSON object on stdout, written when the
/// response body has been sent (or dropped), so `bytes` and `duration_ms`
/// cover the whole response.
#[derive(serde::Serialize)]
struct AccessLine {
    request_id: Option<String>,
    method: String,
    path: String,
    component: Option<String>,
    status: u16,
    duration_ms: f64,
    bytes: u64,
    /// The body ended early (the client went away or the body failed).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    incomplete: bool,
    client: SocketAddr,
    #[serde(skip)]
    started: Instant,
}

impl AccessLine {
    fn write(&mut self) {
        self.duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let Ok(mut line) = serde_json::to_vec(self) else { return };
        line.push(b'\n');
        let _ = access_log_writer().send(line);
    }
}

/// The access log's writer: a thread that writes whole lines to stdout
/// through a buffer and flushes whenever no more lines are waiting, so a
/// busy server makes one write per batch instead of one per request, and
/// no request waits on stdout.
fn access_log_writer() -> &'static std::sync::mpsc::Sender<Vec<u8>> {
    static WRITER: std::sync::OnceLock<std::sync::mpsc::Sender<Vec<u8>>> = std::sync::OnceLock::new();
    WRITER.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::Builder::new()
            .name("keel-access-log".into())
            .spawn(move || {
                use std::io::Write as _;
                let mut out = std::io::BufWriter::new(std::io::stdout());
                while let Ok(line) = receiver.recv() {
                    let _ = out.write_all(&line);
                    while let Ok(line) = receiver.try_recv() {
                        let _ = out.write_all(&line);
                    }
                    let _ = out.flush();
                }
            })
            .expect("start the access-log thread");
        sender
    })
}

/// A response body that counts what it sends and writes its access line
/// at the end.
struct Logged {
    inner: Body,
    line: Option<AccessLine>,
}

impl hyper::body::Body for Logged {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            std::task::Poll::Ready(Some(Ok(frame))) => {
                let sent = frame.data_ref().map_or(0, |data| data.len() as u64);
                if let Some(line) = self.line.as_mut() {
                    line.bytes += sent;
                }
            }
            std::task::Poll::Ready(None) => {
                if let Some(mut line) = self.line.take() {
                    line.write();
                }
            }
            std::task::Poll::Ready(Some(Err(_))) => {
                if let Some(line) = self.line.as_mut() {
                    line.incomplete = true;
                }
            }
            std::task::Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        if let Some(mut line) = self.line.take() {
            line.incomplete = !hyper::body::Body::is_end_stream(&self.inner);
            line.write();
        }
    }
}

impl Router {
    /// The metrics in Prometheus' text format.
    pub(crate) fn metrics_text(&self) -> String {
        self.telemetry.metrics_text(self.admission.in_flight(), self.admission.queued(), self.admission.concurrent())
    }

    pub async fn handle(self: Arc<Self>, req: Request<Incoming>, client: SocketAddr, local: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let request_id = req.headers().get(REQUEST_ID).cloned();
        // The route is matched once, here: metrics, the access log and the
        // dispatch all use it.
        let route = self.routes.iter().enumerate().find_map(|(i, t)| t.route.matches(&path).map(|info| (i, info.to_string())));
        let index = route.as_ref().map(|(i, _)| *i);
        let named = index.map(|i| (self.routes[i].pattern.as_str(), self.routes[i].component.as_str()));
        let trace = self.telemetry.start_request(req.headers(), &method, &path, named, client);
        let response = match route {
            Some((i, path_info)) => self.dispatch(&self.routes[i], path_info, req, client, local, &trace).await,
            None => json_error(StatusCode::NOT_FOUND, "not_found", "no component serves this route"),
        };
        let status = response.status().as_u16();
        self.telemetry.record_request(index, &method, named, status, started.elapsed());
        trace.finish(status);
        let response = if self.access_log {
            let component = index.map(|i| self.routes[i].component.clone());
            let request_id = response.headers().get(REQUEST_ID).or(request_id.as_ref()).and_then(|v| v.to_str().ok());
            let line = AccessLine {
                request_id: request_id.map(str::to_owned),
                method: method.to_string(),
                path: path.clone(),
                component,
                status: response.status().as_u16(),
                duration_ms: 0.0,
                bytes: 0,
                incomplete: false,
                client,
                started,
            };
            response.map(|inner| Logged { inner, line: Some(line) }.boxed_unsync())
        } else {
            response
        };
        tracing::debug!(%method, %path, status = response.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64);
        response
    }

    /// Serve `req` with `target`, the route it matched (`path_info`: the
    /// rest of its path).
    async fn dispatch(
        &self,
        target: &RouteTarget,
        path_info: String,
        req: Request<Incoming>,
        client: SocketAddr,
        local: SocketAddr,
        trace: &RequestTrace,
    ) -> Response<Body> {
        let Some(authority) = request_authority(&req, local) else {
            return json_error(StatusCode::BAD_REQUEST, "bad_request", "invalid Host header");
        };

        let (parts, body) = req.into_parts();
        let read = read_body(body, self.limits.max_body_bytes, &self.body_budget);
        // `_buffered` holds the body's share of the buffer budget while the
        // request is served.
        let (body, _buffered) = match tokio::time::timeout(self.connections.body_read_timeout, read).await {
            Ok(Ok(read)) => read,
            Ok(Err(BodyError::Busy)) => {
                let mut response = json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "too many request bodies are in memory; retry shortly",
                );
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
                return closing(response);
            }
            Ok(Err(BodyError::TooLarge)) => {
                let message = format!("request body exceeds {} bytes", self.limits.max_body_bytes);
                return closing(json_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", &message));
            }
            Ok(Err(BodyError::Unreadable(e))) => {
                return closing(json_error(StatusCode::BAD_REQUEST, "bad_request", &format!("cannot read request body: {e}")));
            }
            Err(_) => {
                let message = format!("the request body did not arrive within {:?}", self.connections.body_read_timeout);
                return closing(json_error(StatusCode::REQUEST_TIMEOUT, "timeout", &message));
            }
        };

        // The guest sees the routed path and query under a validated
        // authority; the Host header can never change the path.
        let path_and_query = parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
        let uri = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(authority)
            .path_and_query(path_and_query)
            .build()
            .expect("scheme, authority and path are each valid");
        let route = target.pattern.clone();
        let spin_headers = [
            ("spin-full-url", uri.to_string()),
            ("spin-path-info", path_info),
            ("spin-matched-route", route.clone()),
            ("spin-raw-component-route", route.clone()),
            ("spin-component-route", route.trim_end_matches("/...").to_string()),
            ("spin-base-path", "/".to_string()),
            ("spin-client-addr", client.to_string()),
        ];
        let mut headers = parts.headers;
        for (name, value) in spin_headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        let request = GuestRequest { method: parts.method, uri, version: parts.version, headers, body };

        let _slot = match self.admission.admit().await {
            Ok(slot) => slot,
            Err(shed) => {
                tracing::warn!(component = %target.component, ?shed, "request shed: all {} slots busy", self.admission.concurrent());
                return overloaded();
            }
        };
        let handler = if request.wants_event_stream() { &target.streams } else { &target.handler };
        let started = Instant::now();
        let queue_deadline = started + self.admission.queue_timeout;
        loop {
            match handler.handle(trace.clone(), request.build()).await {
                Ok(response) => {
                    return response.map(|b| b.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>).boxed_unsync());
                }
                Err(e) if e.downcast_ref::<ExpirationError>().is_some() || started.elapsed() >= self.limits.request_timeout => {
                    tracing::warn!(component = %target.component, "request timed out after {:?}", self.limits.request_timeout);
                    return json_error(
                        StatusCode::GATEWAY_TIMEOUT,
                        "timeout",
                        &format!("the component did not respond within {:?}", self.limits.request_timeout),
                    );
                }
                Err(e) if crate::engine::is_pool_exhausted(&e) => {
                    // Instances retiring or idling (possibly of another
                    // component) still hold pool slots; they free up soon.
                    if Instant::now() >= queue_deadline {
                        tracing::warn!(component = %target.component, "instance pool still full after {:?}: {e:#}", self.admission.queue_timeout);
                        return overloaded();
                    }
                    tokio::time::sleep(POOL_RETRY_PAUSE).await;
                }
                Err(e) if e.downcast_ref::<HandlerInstantiationError>().is_some() => {
                    tracing::error!(component = %target.component, "{e:#}");
                    return json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the component could not be started");
                }
                Err(e) => {
                    tracing::error!(component = %target.component, "request failed: {e:?}");
                    return json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the component failed while handling the request");
                }
            }
        }
    }
}

/// Pause before trying again to take an instance from a full pool.
const POOL_RETRY_PAUSE: Duration = Duration::from_millis(5);

/// Seconds a shed client is told to wait (`Retry-After`).
const RETRY_AFTER_SECS: &str = "1";

/// The 503 for a request the server has no room for.
fn overloaded() -> Response<Body> {
    let mut response = json_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the server is busy; try again shortly");
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
    response
}

/// `response`, closing the connection after it (the rest of the request
/// cannot be trusted to be read).
fn closing(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The request's authority: the absolute-form URI's, else the `Host`
/// header's, else the listening address. `None` when the `Host` header is
/// not a plain `host[:port]` (no user info, path, query or fragment).
fn request_authority(req: &Request<Incoming>, local: SocketAddr) -> Option<Authority> {
    if let Some(authority) = req.uri().authority() {
        return Some(authority.clone());
    }
    let Some(host) = req.headers().get(header::HOST) else {
        return Some(Authority::from_str(&local.to_string()).expect("a socket address is an authority"));
    };
    parse_host(host.to_str().ok()?)
}

/// A `Host` header value that is exactly `host[:port]`.
fn parse_host(host: &str) -> Option<Authority> {
    let authority = Authority::from_str(host).ok()?;
    (authority.as_str() == host && !host.contains('@') && !host.is_empty()).then_some(authority)
}

/// The request as the guest gets it; rebuilt for each attempt (an attempt
/// that found the instance pool full is made again).
struct GuestRequest {
    method: http::Method,
    uri: Uri,
    version: http::Version,
    headers: http::HeaderMap,
    body: Bytes,
}

impl GuestRequest {
    /// Whether the client asks for Server-Sent Events.
    fn wants_event_stream(&self) -> bool {
        self.headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.split(',').any(|media| media.trim().starts_with("text/event-stream")))
    }

    fn build(&self) -> wasmtime_wasi_http::handler::Request {
        let mut request = Request::new(Full::new(self.body.clone()).map_err(|never| match never {}).boxed_unsync());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers.clone();
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority_of(host: &str) -> Option<String> {
        parse_host(host).map(|a| a.to_string())
    }

    #[test]
    fn host_headers_that_are_not_plain_authorities_are_refused() {
        assert_eq!(authority_of("example.com:3000").as_deref(), Some("example.com:3000"));
        assert_eq!(authority_of("[::1]:3000").as_deref(), Some("[::1]:3000"));
        for bad in ["x/v1/auth/signup?", "x?y", "x#y", "user@x", "", "a b"] {
            assert_eq!(authority_of(bad), None, "{bad:?}");
        }
    }
}
