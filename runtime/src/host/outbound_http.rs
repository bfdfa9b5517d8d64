//! Outbound HTTP for guests: `wasmtime-wasi-http`'s client, behind the
//! component's `allowed_outbound_hosts` (deny by default).
//!
//! # Parity with Spin
//!
//! Follows `crates/factor-outbound-http/src/wasi.rs`: a request the allow
//! list does not cover fails with `HTTP-request-denied` (and a warning
//! naming the fix); a request to `http://self.alt/…` is a request to the
//! app itself, allowed by a `self`, `self.alt` or `*` entry and sent to the
//! address the app listens on (loopback for a wildcard address) with `Host`
//! set to it. (A request with no authority at all is refused by
//! wasmtime's `wasi:http@0.3` request conversion as an invalid URI before
//! it gets here; use `self.alt`.) Connection errors, timeouts (600 s by
//! default, as in Spin) and TLS errors are wasmtime's, which Spin's follow.
//! Differences: no service chaining (`*.spin.internal` goes to DNS), no
//! connection pooling, HTTP/1.1 only, Mozilla's roots only.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use wasmtime::component::Linker;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use super::{Capability, HostState};
use crate::config::manifest::Component;
use crate::config::outbound::OutboundPolicy;
use crate::telemetry::{Call, InstanceTrace, Telemetry};

/// The outbound HTTP capability (`wasi:http` 0.2 and 0.3).
pub(crate) struct OutboundHttp;

impl Capability for OutboundHttp {
    /// Where the app listens, once it does: requests to `self.alt` go there.
    type App = Arc<OnceLock<SocketAddr>>;
    type Grant = Arc<OnceLock<SocketAddr>>;

    fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
        wasmtime_wasi_http::p3::add_to_linker(linker)
    }

    fn grant(app: &Self::App, _: &Component) -> Self::Grant {
        app.clone()
    }
}

/// The hooks `wasmtime-wasi-http` calls for one instance's requests.
pub struct OutboundHooks {
    policy: Arc<OutboundPolicy>,
    component: String,
    self_origin: Arc<OnceLock<SocketAddr>>,
    telemetry: Arc<Telemetry>,
    /// The trace of the request the instance serves (the last one to
    /// start, when it serves several at once), which host calls join.
    pub(crate) trace: InstanceTrace,
}

impl OutboundHooks {
    pub fn new(
        policy: Arc<OutboundPolicy>,
        component: String,
        self_origin: Arc<OnceLock<SocketAddr>>,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        OutboundHooks { policy, component, self_origin, telemetry, trace: InstanceTrace::default() }
    }

    /// Send `request` traced: a client span around it, whose context goes
    /// out in the request's `traceparent`.
    fn send_traced(
        &self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> SendFuture {
        let call = self.telemetry.host_call(&self.trace, Call::Http { method: request.method(), uri: request.uri() });
        call.inject(request.headers_mut());
        let sent = Box::into_pin(wasmtime_wasi_http::default_hooks().send_request(request, options, fut));
        Box::new(async move {
            let result = sent.await;
            match &result {
                Ok((response, _)) => call.finish(None, Some(response.status().as_u16())),
                Err(e) => call.finish(Some(&format!("{e:?}")), None),
            }
            result
        })
    }
}

/// The address an app reaches itself at: where it listens, loopback for a
/// wildcard address.
pub fn self_origin(listening: SocketAddr) -> SocketAddr {
    match listening {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => SocketAddr::from(([127, 0, 0, 1], v4.port())),
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, v6.port())),
        other => other,
    }
}

/// Whether `uri` is a request to the app itself: no authority, or `self.alt`.
fn is_self_request(uri: &http::Uri) -> bool {
    uri.authority().is_none() || uri.host().is_some_and(|h| h.eq_ignore_ascii_case("self.alt"))
}

/// `uri` aimed at `origin`, keeping its path and query.
fn to_origin(uri: &http::Uri, origin: SocketAddr) -> Result<http::Uri, http::Error> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    http::Uri::builder().scheme("http").authority(origin.to_string()).path_and_query(path).build()
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (http::Response<WasiBody>, Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>),
                wasmtime_wasi_http::Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
        if is_self_request(uri) {
            if !self.policy.allows_self() {
                tracing::warn!(
                    component = %self.component,
                    url = %uri,
                    "outbound request to the app itself denied: add \"http://self\" to the component's allowed_outbound_hosts"
                );
                return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
            }
            let Some(origin) = self.self_origin.get().copied() else {
                return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestUriInvalid) });
            };
            let Ok(target) = to_origin(uri, origin) else {
                return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestUriInvalid) });
            };
            *request.uri_mut() = target;
            let host = http::HeaderValue::from_str(&origin.to_string()).expect("an address is a valid header");
            request.headers_mut().insert(http::header::HOST, host);
            return self.send_traced(request, options, fut);
        }
        let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
        let host = uri.host().unwrap_or_default().to_string();
        if !self.policy.allows(&scheme, &host, uri.port_u16()) {
            tracing::warn!(
                component = %self.component,
                url = %uri,
                "outbound request denied: add the host to the component's allowed_outbound_hosts"
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        self.send_traced(request, options, fut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_to_self_go_to_where_the_app_listens() {
        let relative: http::Uri = "/v1/health?x=1".parse().unwrap();
        assert!(is_self_request(&relative));
        assert!(is_self_request(&"http://self.alt/healthz".parse().unwrap()));
        assert!(!is_self_request(&"http://api.example.com/".parse().unwrap()));
        let origin = self_origin("0.0.0.0:3000".parse().unwrap());
        assert_eq!(origin, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(to_origin(&relative, origin).unwrap().to_string(), "http://127.0.0.1:3000/v1/health?x=1");
        assert_eq!(self_origin("[::]:80".parse().unwrap()), "[::1]:80".parse().unwrap());
        assert_eq!(self_origin("10.1.2.3:80".parse().unwrap()), "10.1.2.3:80".parse().unwrap());
    }
}
