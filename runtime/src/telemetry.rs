//! An app's telemetry: metrics it always keeps (served in Prometheus' text
//! format on the admin listener, `server::metrics`), and
//! OpenTelemetry traces and metrics over OTLP, configured as Spin configures
//! them: with the standard `OTEL_*` environment variables, and nothing
//! exported while no endpoint is set.
//!
//! - Traces (`OTEL_EXPORTER_OTLP_ENDPOINT` or `…_TRACES_ENDPOINT`): a server
//!   span per request (`GET /v1/...`: method, route, component, status),
//!   continuing the trace of an incoming `traceparent`; under it a client
//!   span per host call: each SQL statement (its text, never its
//!   parameters), each key-value operation, each Redis command and each
//!   outbound HTTP request, which carries the trace on in its own
//!   `traceparent`. Guests add spans of their own through `wasi:otel`
//!   (`host::otel`): they go to the same batch processor, and
//!   host calls made while one is open are its children.
//! - Metrics (`OTEL_EXPORTER_OTLP_ENDPOINT` or `…_METRICS_ENDPOINT`, every
//!   `OTEL_METRIC_EXPORT_INTERVAL`): `http.server.request.duration` by
//!   method, route, component and status; `keel.instances.created` and
//!   `keel.instances.reused` by component; `keel.requests.in_flight`;
//!   `db.client.operation.duration`, `keel.kv.operation.duration` and
//!   `http.client.request.duration`. The same measurements feed the
//!   Prometheus metrics: one recording point for both.
//!
//! Export is OTLP/HTTP with protobuf bodies (`OTEL_EXPORTER_OTLP_PROTOCOL`
//! `http/protobuf`, the default; gRPC and JSON are refused at start-up)
//! through the runtime's own HTTP client, TLS included. `OTEL_SERVICE_NAME`
//! names the service (the app's name when unset), `OTEL_SDK_DISABLED=true`
//! turns exporting off, and the exporter and batch variables
//! (`OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`, `OTEL_BSP_*`,
//! `OTEL_TRACES_SAMPLER`) work as the OpenTelemetry SDK documents them.
//!
//! An instance serves one request at a time by default, so its host calls
//! belong to that request: the request's context travels to the instance
//! with the request ([`RequestTrace`]) and host calls start their spans
//! under it ([`HostCall`]). With `--max-instance-concurrent-reuse-count`
//! above 1 they join the trace of the request that entered last.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::server::{HostCallLabels, Metrics};
use anyhow::{Context as _, bail};
use bytes::Bytes;
use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _, ObservableGauge};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanContext, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HeaderExtractor, HeaderInjector, HttpClient, HttpError};
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanData, SpanProcessor};

/// The exporters' timeout when `OTEL_EXPORTER_OTLP_TIMEOUT` is unset (the
/// SDK's default).
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The least time between two warnings about failed exports.
const WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// An app's telemetry: the Prometheus metrics it always keeps, and what it
/// exports over OTLP.
pub struct Telemetry {
    prometheus: Arc<Metrics>,
    traces: Option<Traces>,
    otlp: Option<Instruments>,
}

struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    propagator: TraceContextPropagator,
    /// The provider's processor, which guests' spans (ended in the guest,
    /// with the guest's ids) go to directly.
    processor: Arc<BatchSpanProcessor>,
}

/// The batch processor, shared by the provider and [`Telemetry::end_guest_span`].
#[derive(Debug)]
struct SharedProcessor(Arc<BatchSpanProcessor>);

impl SpanProcessor for SharedProcessor {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

struct Instruments {
    provider: SdkMeterProvider,
    /// `keel.requests.in_flight`, once registered.
    in_flight: std::sync::OnceLock<ObservableGauge<u64>>,
    requests: Histogram<f64>,
    instances_created: Counter<u64>,
    instances_reused: Counter<u64>,
    sql: Histogram<f64>,
    key_value: Histogram<f64>,
    outbound_http: Histogram<f64>,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry").field("traces", &self.traces.is_some()).field("otlp", &self.otlp.is_some()).finish()
    }
}

/// The value of `name`, if set and not empty.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// Whether `signal` (`TRACES`, `METRICS`) has an endpoint to go to.
fn signal_enabled(signal: &str) -> bool {
    env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() || env(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")).is_some()
}

/// Refuse a protocol other than `http/protobuf` for `signal`, naming the
/// variable that asks for it.
fn check_protocol(signal: &str) -> anyhow::Result<()> {
    for variable in [format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL"), "OTEL_EXPORTER_OTLP_PROTOCOL".to_string()] {
        if let Some(protocol) = env(&variable) {
            if protocol.trim() != "http/protobuf" {
                bail!("{variable}={protocol}: keel exports OTLP over http/protobuf only; set {variable}=http/protobuf");
            }
            return Ok(());
        }
    }
    Ok(())
}

impl Telemetry {
    /// Prometheus metrics only: nothing exported.
    pub(crate) fn local(prometheus: Arc<Metrics>) -> Telemetry {
        Telemetry { prometheus, traces: None, otlp: None }
    }

    /// No routes, nothing exported (for tests of the host alone).
    #[cfg(test)]
    pub(crate) fn disabled() -> Telemetry {
        Telemetry::local(Arc::new(Metrics::new([])))
    }

    /// Telemetry as the `OTEL_*` environment variables configure it, for
    /// the app `app_name` keeping `prometheus`; exports run on `runtime`.
    pub(crate) fn from_env(
        app_name: &str,
        prometheus: Arc<Metrics>,
        runtime: tokio::runtime::Handle,
    ) -> anyhow::Result<Telemetry> {
        if env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(Telemetry::local(prometheus));
        }
        let (traces, metrics) = (signal_enabled("TRACES"), signal_enabled("METRICS"));
        if !traces && !metrics {
            return Ok(Telemetry::local(prometheus));
        }
        let client = Arc::new(ExportClient::new(runtime)?) as Arc<dyn HttpClient>;
        let mut resource = Resource::builder();
        let named = env("OTEL_SERVICE_NAME").is_some()
            || env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attributes| attributes.contains("service.name="));
        if !named {
            resource = resource.with_service_name(app_name.to_owned());
        }
        let resource = resource
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .with_attribute(KeyValue::new("telemetry.distro.name", "keel"))
            .build();

        let traces = if traces {
            check_protocol("TRACES")?;
            let exporter = SpanExporter::builder()
                .with_http()
                .with_shared_http_client(client.clone())
                .build()
                .context("OTLP trace exporter (OTEL_EXPORTER_OTLP_*)")?;
            let mut processor = BatchSpanProcessor::builder(exporter).build();
            processor.set_resource(&resource);
            let processor = Arc::new(processor);
            let provider = SdkTracerProvider::builder()
                .with_span_processor(SharedProcessor(processor.clone()))
                .with_resource(resource.clone())
                .build();
            let tracer = provider.tracer("keel");
            Some(Traces { provider, tracer, propagator: TraceContextPropagator::new(), processor })
        } else {
            None
        };
        let metrics = if metrics {
            check_protocol("METRICS")?;
            let exporter = MetricExporter::builder()
                .with_http()
                .with_shared_http_client(client)
                .build()
                .context("OTLP metric exporter (OTEL_EXPORTER_OTLP_*)")?;
            let provider = SdkMeterProvider::builder().with_periodic_exporter(exporter).with_resource(resource).build();
            Some(Instruments::new(provider))
        } else {
            None
        };
        Ok(Telemetry { prometheus, traces, otlp: metrics })
    }

    /// Whether anything is exported.
    pub(crate) fn exporting(&self) -> bool {
        self.traces.is_some() || self.otlp.is_some()
    }

    /// The metrics in Prometheus' text format, with the admission queue's
    /// gauges.
    pub(crate) fn metrics_text(&self, in_flight: usize, queued: usize, slots: usize) -> String {
        self.prometheus.render(in_flight, queued, slots)
    }

    /// Export `keel.requests.in_flight` (instances in use), read by `read`.
    pub(crate) fn observe_in_flight(&self, read: impl Fn() -> u64 + Send + Sync + 'static) {
        if let Some(otlp) = &self.otlp {
            let gauge = otlp
                .provider
                .meter("keel")
                .u64_observable_gauge("keel.requests.in_flight")
                .with_description("Requests holding a slot (an instance) now")
                .with_callback(move |observer| observer.observe(read(), &[]))
                .build();
            let _ = otlp.in_flight.set(gauge);
        }
    }

    /// Export what is buffered and stop; called once, at shut-down.
    pub(crate) fn shutdown(&self) {
        if let Some(traces) = &self.traces
            && let Err(e) = traces.provider.shutdown()
        {
            tracing::warn!("OTLP traces not flushed: {e}");
        }
        if let Some(otlp) = &self.otlp
            && let Err(e) = otlp.provider.shutdown()
        {
            tracing::warn!("OTLP metrics not flushed: {e}");
        }
    }

    /// Start the server span of a request (`route`: the route it matched,
    /// `None` if none did), continuing the trace of its `traceparent`.
    pub(crate) fn start_request(
        &self,
        headers: &http::HeaderMap,
        method: &http::Method,
        path: &str,
        route: Option<(&str, &str)>,
        client: std::net::SocketAddr,
    ) -> RequestTrace {
        let Some(traces) = &self.traces else { return RequestTrace { context: None } };
        let parent = traces.propagator.extract(&HeaderExtractor(headers));
        let name = match route {
            Some((route, _)) => format!("{method} {route}"),
            None => method.to_string(),
        };
        let mut attributes = vec![
            KeyValue::new("http.request.method", method.to_string()),
            KeyValue::new("url.path", path.to_owned()),
            KeyValue::new("client.address", client.ip().to_string()),
        ];
        if let Some((route, component)) = route {
            attributes.push(KeyValue::new("http.route", route.to_owned()));
            attributes.push(KeyValue::new("keel.component", component.to_owned()));
        }
        let span = traces
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(&traces.tracer, &parent);
        RequestTrace { context: Some(parent.with_span(span)) }
    }

    /// Count a request answered with `status` after `elapsed`: `index` is
    /// its route's in the router (`route`: its pattern and component).
    pub(crate) fn record_request(
        &self,
        index: Option<usize>,
        method: &http::Method,
        route: Option<(&str, &str)>,
        status: u16,
        elapsed: std::time::Duration,
    ) {
        self.prometheus.record(index, status, elapsed);
        let Some(metrics) = &self.otlp else { return };
        let (route, component) = route.unwrap_or(("", ""));
        metrics.requests.record(
            elapsed.as_secs_f64(),
            &[
                KeyValue::new("http.request.method", method.to_string()),
                KeyValue::new("http.route", route.to_owned()),
                KeyValue::new("keel.component", component.to_owned()),
                KeyValue::new("http.response.status_code", i64::from(status)),
            ],
        );
    }

    /// Count an instance of `component` created (`reused`: false) or one
    /// serving another request (`reused`: true).
    pub(crate) fn record_instance(&self, component: &str, reused: bool) {
        self.prometheus.record_instance(component, reused);
        let Some(metrics) = &self.otlp else { return };
        let counter = if reused { &metrics.instances_reused } else { &metrics.instances_created };
        counter.add(1, &[KeyValue::new("keel.component", component.to_owned())]);
    }

    /// Count a firing of a cron trigger of `component` that ended with
    /// `outcome` (Prometheus only).
    pub(crate) fn record_cron_run(&self, component: &str, outcome: &'static str) {
        self.prometheus.record_cron_run(component, outcome);
    }

    /// Start the span and timer of a host call made for `trace`.
    pub(crate) fn host_call(self: &Arc<Self>, trace: &InstanceTrace, call: Call<'_>) -> HostCall {
        let labels = call.labels();
        if !self.exporting() {
            let (telemetry, started, attributes) = (Some(self.clone()), Instant::now(), Vec::new());
            return HostCall { telemetry, context: None, started, labels, attributes };
        }
        let attributes = call.attributes();
        let context = match (&self.traces, trace.parent()) {
            (Some(traces), Some(parent)) => {
                let span = traces
                    .tracer
                    .span_builder(call.span_name())
                    .with_kind(SpanKind::Client)
                    .with_attributes(attributes.iter().cloned().chain(call.detail()))
                    .start_with_context(&traces.tracer, &parent);
                Some(parent.with_span(span))
            }
            _ => None,
        };
        HostCall { telemetry: Some(self.clone()), context, started: Instant::now(), labels, attributes }
    }

    /// Export a span a guest ended (`wasi:otel/tracing`), if sampled.
    pub(crate) fn end_guest_span(&self, span: SpanData) {
        if let Some(traces) = &self.traces
            && span.span_context.is_sampled()
        {
            traces.processor.on_end(span);
        }
    }

    /// Whether spans are exported.
    pub(crate) fn tracing(&self) -> bool {
        self.traces.is_some()
    }
}

/// A request's trace context, handed to the instance that serves it.
#[derive(Clone, Default)]
pub struct RequestTrace {
    context: Option<Context>,
}

impl RequestTrace {
    /// End the server span with the response's `status`.
    pub(crate) fn finish(self, status: u16) {
        let Some(context) = self.context else { return };
        let span = context.span();
        span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status)));
        if status >= 500 {
            span.set_status(Status::error(""));
        }
        span.end();
    }
}

/// The trace of the request an instance serves: the request's server span
/// and the guest's spans in progress (`wasi:otel`), innermost last.
#[derive(Default)]
pub(crate) struct InstanceTrace {
    request: RequestTrace,
    guest: Vec<SpanContext>,
}

impl InstanceTrace {
    /// The trace of a request starting.
    pub(crate) fn new(request: RequestTrace) -> InstanceTrace {
        InstanceTrace { request, guest: Vec::new() }
    }

    /// What a host call's span is a child of: the innermost guest span in
    /// progress, else the request's server span; `None` if untraced.
    fn parent(&self) -> Option<Context> {
        let request = self.request.context.as_ref()?;
        Some(match self.guest.last() {
            Some(guest) => Context::new().with_remote_span_context(guest.clone()),
            None => request.clone(),
        })
    }

    /// The request's server span, which a guest's outermost spans are
    /// children of (invalid when the request is not traced).
    pub(crate) fn outer(&self) -> SpanContext {
        self.request.context.as_ref().map_or_else(SpanContext::empty_context, |cx| cx.span().span_context().clone())
    }

    /// A guest span started.
    pub(crate) fn guest_started(&mut self, span: SpanContext) {
        self.guest.push(span);
    }

    /// A guest span ended; false if it was not in progress.
    pub(crate) fn guest_ended(&mut self, span: &SpanContext) -> bool {
        let Some(at) = self.guest.iter().rposition(|open| open.span_id() == span.span_id()) else { return false };
        self.guest.remove(at);
        true
    }
}

/// A host call, as telemetry describes it.
pub(crate) enum Call<'a> {
    /// A SQL statement: `system` is `sqlite`, `postgresql` or `mysql`.
    Sql { system: &'static str, operation: &'static str, statement: &'a str },
    /// A key-value operation.
    KeyValue { operation: &'static str },
    /// A Redis command.
    Redis { command: &'static str },
    /// An outbound HTTP request.
    Http { method: &'a http::Method, uri: &'a http::Uri },
}

impl Call<'_> {
    /// Kind (`sql`, `kv`, `http`), system and operation.
    fn labels(&self) -> HostCallLabels {
        match self {
            Call::Sql { system, operation, .. } => ("sql", system, operation),
            Call::KeyValue { operation } => ("kv", "keyvalue", operation),
            Call::Redis { command } => ("kv", "redis", command),
            Call::Http { .. } => ("http", "http", "request"),
        }
    }

    fn span_name(&self) -> String {
        match self {
            Call::Sql { system, operation, .. } => format!("{system}.{operation}"),
            Call::KeyValue { operation, .. } => format!("key_value.{operation}"),
            Call::Redis { command } => format!("redis.{command}"),
            Call::Http { method, .. } => method.to_string(),
        }
    }

    /// The attributes of both the span and the measurement (few values each).
    fn attributes(&self) -> Vec<KeyValue> {
        match self {
            Call::Sql { system, operation, .. } => {
                vec![KeyValue::new("db.system.name", *system), KeyValue::new("db.operation.name", *operation)]
            }
            Call::KeyValue { operation } => vec![KeyValue::new("keel.kv.operation", *operation)],
            Call::Redis { command } => {
                vec![KeyValue::new("keel.kv.operation", *command), KeyValue::new("db.system.name", "redis")]
            }
            Call::Http { method, uri } => vec![
                KeyValue::new("http.request.method", method.to_string()),
                KeyValue::new("server.address", uri.host().unwrap_or_default().to_owned()),
            ],
        }
    }

    /// What only the span carries: the statement's text, the URL without
    /// its query.
    fn detail(&self) -> Option<KeyValue> {
        match self {
            Call::Sql { statement, .. } => Some(KeyValue::new("db.query.text", statement.to_string())),
            Call::Http { uri, .. } => {
                let url = format!(
                    "{}://{}{}",
                    uri.scheme_str().unwrap_or("http"),
                    uri.authority().map_or("", |a| a.as_str()),
                    uri.path()
                );
                Some(KeyValue::new("url.full", url))
            }
            Call::KeyValue { .. } | Call::Redis { .. } => None,
        }
    }
}

/// A host call in progress: its span (when traced) and its timer (when
/// measured). [`HostCall::finish`] ends it; dropped unfinished (the guest
/// went away), it ends as cancelled.
pub(crate) struct HostCall {
    telemetry: Option<Arc<Telemetry>>,
    context: Option<Context>,
    started: Instant,
    labels: HostCallLabels,
    attributes: Vec<KeyValue>,
}

impl HostCall {
    /// Put the trace context in an outbound request's headers.
    pub(crate) fn inject(&self, headers: &mut http::HeaderMap) {
        if let (Some(telemetry), Some(context)) = (&self.telemetry, &self.context)
            && let Some(traces) = &telemetry.traces
        {
            traces.propagator.inject_context(context, &mut HeaderInjector(headers));
        }
    }

    /// End the call: `error` says how it failed, if it did (never data);
    /// `status` is an outbound request's HTTP status.
    pub(crate) fn finish(mut self, error: Option<&str>, status: Option<u16>) {
        self.end(error, status);
    }

    fn end(&mut self, error: Option<&str>, status: Option<u16>) {
        let Some(telemetry) = self.telemetry.take() else { return };
        let elapsed = self.started.elapsed();
        telemetry.prometheus.record_host_call(self.labels, elapsed);
        if let Some(status) = status {
            self.attributes.push(KeyValue::new("http.response.status_code", i64::from(status)));
        }
        if let Some(context) = self.context.take() {
            let span = context.span();
            if let Some(status) = status {
                span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status)));
            }
            if let Some(error) = error {
                span.set_status(Status::error(error.to_owned()));
            }
            span.end();
        }
        if let Some(metrics) = &telemetry.otlp {
            if error.is_some() {
                self.attributes.push(KeyValue::new("error.type", "error"));
            }
            let histogram = match self.labels.0 {
                "sql" => &metrics.sql,
                "kv" => &metrics.key_value,
                _ => &metrics.outbound_http,
            };
            histogram.record(elapsed.as_secs_f64(), &self.attributes);
        }
    }
}

impl Drop for HostCall {
    fn drop(&mut self) {
        self.end(Some("cancelled"), None);
    }
}

impl Instruments {
    fn new(provider: SdkMeterProvider) -> Instruments {
        let meter = provider.meter("keel");
        let seconds = |name: &'static str, description: &'static str| {
            meter.f64_histogram(name).with_unit("s").with_description(description).build()
        };
        Instruments {
            in_flight: std::sync::OnceLock::new(),
            requests: seconds("http.server.request.duration", "Time from a request to its response head"),
            instances_created: meter
                .u64_counter("keel.instances.created")
                .with_description("Component instances created")
                .build(),
            instances_reused: meter
                .u64_counter("keel.instances.reused")
                .with_description("Requests served by an instance that had served one before")
                .build(),
            sql: seconds("db.client.operation.duration", "SQL statements, as the guest waited for them"),
            key_value: seconds("keel.kv.operation.duration", "Key-value and Redis operations"),
            outbound_http: seconds("http.client.request.duration", "Outbound HTTP requests, to the response head"),
            provider,
        }
    }
}

/// The exporters' HTTP client: the runtime's `reqwest` (rustls, the
/// Mozilla roots) run on the runtime's executor, since the SDK exports from
/// threads of its own.
#[derive(Debug)]
struct ExportClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    /// When a failed export was last reported.
    last_warning: std::sync::Mutex<Option<Instant>>,
}

impl ExportClient {
    fn new(runtime: tokio::runtime::Handle) -> anyhow::Result<ExportClient> {
        let timeout = env("OTEL_EXPORTER_OTLP_TIMEOUT")
            .and_then(|ms| ms.trim().parse().ok())
            .map_or(EXPORT_TIMEOUT, std::time::Duration::from_millis);
        let client = reqwest::Client::builder().timeout(timeout).build().context("the OTLP HTTP client")?;
        Ok(ExportClient { client, runtime, last_warning: std::sync::Mutex::new(None) })
    }
}

impl ExportClient {
    /// Say that exports to `uri` fail (at most every [`WARN_EVERY`]): the
    /// SDK drops what it cannot export without a word.
    fn warn(&self, uri: &http::Uri, failure: &str) {
        let mut last = self.last_warning.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            // Scheme, authority without user info, path: never credentials.
            let port = uri.port_u16().map(|port| format!(":{port}")).unwrap_or_default();
            let (scheme, host, path) = (uri.scheme_str().unwrap_or("http"), uri.host().unwrap_or(""), uri.path());
            tracing::warn!(
                "OTLP export to {scheme}://{host}{port}{path} failed: {failure}; telemetry is being dropped (check OTEL_EXPORTER_OTLP_ENDPOINT)"
            );
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, HttpError> {
        let uri = request.uri().clone();
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let exchange = async move {
            let response = client.execute(request).await?;
            let mut answer = http::Response::builder().status(response.status().as_u16());
            for (name, value) in response.headers() {
                answer = answer.header(name.as_str(), value.as_bytes());
            }
            let body = response.bytes().await?;
            Ok::<_, HttpError>(answer.body(body)?)
        };
        let result = self.runtime.spawn(exchange).await.map_err(HttpError::from).and_then(|answer| answer);
        match &result {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => self.warn(&uri, &format!("the collector answered {}", response.status())),
            Err(e) => self.warn(&uri, &e.to_string()),
        }
        result
    }
}
