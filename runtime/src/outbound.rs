//! Outbound HTTP for guests: `wasmtime-wasi-http`'s client, behind the
//! component's `allowed_outbound_hosts` (deny by default).

use std::sync::Arc;

use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use crate::config::outbound::OutboundPolicy;

pub struct OutboundHooks {
    policy: Arc<OutboundPolicy>,
    component: String,
}

impl OutboundHooks {
    pub fn new(policy: Arc<OutboundPolicy>, component: String) -> Self {
        OutboundHooks { policy, component }
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                ),
                wasmtime_wasi_http::Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
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
        wasmtime_wasi_http::default_hooks().send_request(request, options, fut)
    }
}
