//! OpenTelemetry from `keel up`: real OTLP/HTTP (protobuf) received by a
//! collector that follows the OTLP specification's rules, decoded with the
//! OpenTelemetry proto definitions.
//!
//! A request continues the caller's trace (`traceparent`): its server span,
//! the product's span of the operation (`wasi:otel`, in the
//! team-collab-otel build) and the SQL and key-value spans of the host
//! calls made during it share the caller's trace id, each a child of the
//! one before; the mail it sends (through SendGrid's API, to a mock that
//! records the `traceparent` it receives) carries the trace on. No span
//! carries the request's data. Metrics arrive too and count the traffic.

mod support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use support::Keel;
use tokio::io::AsyncBufReadExt;

/// What the collector (and the mail provider beside it) received.
#[derive(Default)]
struct Received {
    traces: Vec<ExportTraceServiceRequest>,
    metrics: Vec<ExportMetricsServiceRequest>,
    /// Requests OTLP/HTTP does not allow (method, path or content type).
    refused: Vec<String>,
    /// The `traceparent` of each mail sent through the mock SendGrid.
    mail_traceparents: Vec<Option<String>>,
}

/// One answer of the collector: OTLP/HTTP says POST to `/v1/traces` or
/// `/v1/metrics` with `application/x-protobuf`, answered 200 with the
/// protobuf `Export…ServiceResponse`. The mock SendGrid (`/v3/mail/send`)
/// wants a bearer key and JSON, and answers 202 as SendGrid does.
fn answer(received: &Mutex<Received>, head: &http::request::Parts, body: Bytes) -> Response<Full<Bytes>> {
    let header = |name: &str| head.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let reply = |status: StatusCode, content_type: &str, body: Vec<u8>| {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let mut received = received.lock().unwrap();
    if head.uri.path() == "/v3/mail/send" {
        let authorized = header("authorization").is_some_and(|a| a.starts_with("Bearer "));
        let json = header("content-type").is_some_and(|c| c.starts_with("application/json"));
        if head.method != http::Method::POST || !authorized || !json {
            return reply(
                StatusCode::UNAUTHORIZED,
                "application/json",
                br#"{"errors":[{"message":"refused"}]}"#.to_vec(),
            );
        }
        received.mail_traceparents.push(header("traceparent"));
        return reply(StatusCode::ACCEPTED, "application/json", Vec::new());
    }
    let protobuf = header("content-type").as_deref() == Some("application/x-protobuf");
    if head.method != http::Method::POST || !protobuf {
        received.refused.push(format!("{} {} {:?}", head.method, head.uri, header("content-type")));
        return reply(StatusCode::UNSUPPORTED_MEDIA_TYPE, "text/plain", b"POST application/x-protobuf".to_vec());
    }
    match head.uri.path() {
        "/v1/traces" => match ExportTraceServiceRequest::decode(body) {
            Ok(export) => {
                received.traces.push(export);
                reply(StatusCode::OK, "application/x-protobuf", ExportTraceServiceResponse::default().encode_to_vec())
            }
            Err(e) => reply(StatusCode::BAD_REQUEST, "text/plain", e.to_string().into_bytes()),
        },
        "/v1/metrics" => match ExportMetricsServiceRequest::decode(body) {
            Ok(export) => {
                received.metrics.push(export);
                reply(StatusCode::OK, "application/x-protobuf", ExportMetricsServiceResponse::default().encode_to_vec())
            }
            Err(e) => reply(StatusCode::BAD_REQUEST, "text/plain", e.to_string().into_bytes()),
        },
        other => {
            received.refused.push(format!("POST {other}"));
            reply(StatusCode::NOT_FOUND, "text/plain", Vec::new())
        }
    }
}

/// Serve the collector on a free loopback port.
async fn collector() -> (SocketAddr, Arc<Mutex<Received>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Received::default()));
    let state = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    async move {
                        let (head, body) = req.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        Ok::<_, Infallible>(answer(&state, &head, body))
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (addr, received)
}

fn text(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).map(|kv| text(&kv.value))
}

/// Every span received, with its resource's `service.name`.
fn spans(received: &Mutex<Received>) -> Vec<(String, Span)> {
    let received = received.lock().unwrap();
    let mut all = Vec::new();
    for export in &received.traces {
        for resource_spans in &export.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| attribute(&r.attributes, "service.name"))
                .unwrap_or_default();
            for scope in &resource_spans.scope_spans {
                all.extend(scope.spans.iter().map(|span| (service.clone(), span.clone())));
            }
        }
    }
    all
}

/// Wait until `done` holds for what was received (exports are batched).
async fn eventually<T>(received: &Mutex<Received>, what: &str, done: impl Fn(&Mutex<Received>) -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(found) = done(received) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {what} within 10 s");
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const PASSWORD: &str = "correct-horse-1";

/// The OTLP variables of a test: export to `endpoint`, promptly.
fn otlp(endpoint: &str) -> [(&'static str, &str); 3] {
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "300"),
    ]
}

/// `POST /v1/auth/signup` for `email`, continuing the caller's trace.
async fn traced_signup(keel: &Keel, email: &str) {
    let body = format!(r#"{{"email":"{email}","password":"{PASSWORD}","display_name":"Traced"}}"#);
    let signup = keel
        .raw(&format!(
            "POST /v1/auth/signup HTTP/1.1\r\nhost: localhost\r\ntraceparent: 00-{TRACE_ID}-{CALLER_SPAN}-01\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ))
        .await;
    assert_eq!(signup.status, 201, "{}", signup.body);
}

/// The server span of the caller's trace, once exported.
async fn server_span(received: &Mutex<Received>) -> (String, Span) {
    let trace_id = hex::decode(TRACE_ID).unwrap();
    let (service, server) = eventually(received, "server span", |received| {
        spans(received).into_iter().find(|(_, s)| s.trace_id == trace_id && s.kind == SpanKind::Server as i32)
    })
    .await;
    assert_eq!(server.parent_span_id, hex::decode(CALLER_SPAN).unwrap(), "the server span continues the caller's");
    assert_eq!(server.name, "POST /v1/...");
    assert_eq!(attribute(&server.attributes, "http.response.status_code").as_deref(), Some("201"));
    assert_eq!(attribute(&server.attributes, "url.path").as_deref(), Some("/v1/auth/signup"));
    assert_eq!(attribute(&server.attributes, "keel.component").as_deref(), Some("team-collab"));
    (service, server)
}

/// The spans of the caller's trace whose parent is `parent`, once those
/// whose names start with each of `prefixes` are there.
async fn children(received: &Mutex<Received>, parent: &Span, prefixes: &[&str]) -> Vec<Span> {
    eventually(received, "child spans", |received| {
        let children: Vec<Span> = spans(received)
            .into_iter()
            .map(|(_, s)| s)
            .filter(|s| s.trace_id == parent.trace_id && s.parent_span_id == parent.span_id)
            .collect();
        prefixes.iter().all(|prefix| children.iter().any(|s| s.name.starts_with(prefix))).then_some(children)
    })
    .await
}

/// No span of the trace carries the request's data.
fn assert_no_request_data(received: &Mutex<Received>, email: &str) {
    for (_, span) in spans(received) {
        for kv in span.attributes.iter().chain(span.events.iter().flat_map(|e| &e.attributes)) {
            let value = text(&kv.value);
            assert!(!value.contains(email) && !value.contains(PASSWORD), "{} carries request data: {value}", kv.key);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_one_trace_of_server_guest_and_host_spans_and_metrics_count_it() {
    let (collector, received) = collector().await;
    let endpoint = format!("http://{collector}");
    let keel = Keel::start_with_env("products/team-collab/spin-otel.toml", &[], &otlp(&endpoint))
        .await
        .unwrap_or_else(|stderr| panic!("keel up failed: {stderr}"));
    let email = "traced@example.com";
    traced_signup(&keel, email).await;

    let (service, server) = server_span(&received).await;
    assert_eq!(service, "team-collab", "service.name is the app's name when OTEL_SERVICE_NAME is unset");
    // The product's span of the operation (wasi:otel), under the server span.
    let under_server = children(&received, &server, &["team-collab POST /v1/auth/signup"]).await;
    let guests: Vec<&Span> = under_server.iter().filter(|s| s.kind == SpanKind::Internal as i32).collect();
    let [guest] = guests.as_slice() else { panic!("one guest span under the server span: {under_server:?}") };
    assert_eq!(guest.name, "team-collab POST /v1/auth/signup");
    assert_eq!(attribute(&guest.attributes, "keel.endpoint").as_deref(), Some("Signup"));
    assert_eq!(attribute(&guest.attributes, "http.response.status_code").as_deref(), Some("201"));
    assert!(
        guest.start_time_unix_nano >= server.start_time_unix_nano
            && guest.end_time_unix_nano <= server.end_time_unix_nano
    );
    // The host calls made during it: its children.
    let calls = children(&received, guest, &["sqlite.", "key_value."]).await;
    for span in &calls {
        assert_eq!(span.kind, SpanKind::Client as i32, "{span:?}");
        assert!(span.start_time_unix_nano >= guest.start_time_unix_nano, "{span:?}");
    }
    let statements: Vec<String> = calls.iter().filter_map(|s| attribute(&s.attributes, "db.query.text")).collect();
    assert!(statements.iter().any(|s| s.to_ascii_uppercase().contains("INSERT")), "{statements:?}");
    assert_no_request_data(&received, email);

    // A request without a traceparent starts a trace of its own.
    let health = keel.request("GET", "/healthz", None, "").await;
    assert_eq!(health.status, 200, "{}", health.body);
    let fresh = eventually(&received, "a new trace", |received| {
        spans(received).into_iter().map(|(_, s)| s).find(|s| {
            s.kind == SpanKind::Server as i32 && attribute(&s.attributes, "url.path").as_deref() == Some("/healthz")
        })
    })
    .await;
    assert_ne!(fresh.trace_id, server.trace_id);
    assert!(fresh.parent_span_id.is_empty(), "{fresh:?}");

    // Metrics: the requests by route, the statements, the instances.
    let metrics = eventually(&received, "metrics", |received| {
        let counts = metric_counts(received);
        let enough = counts.get("http.server.request.duration").is_some_and(|n| *n >= 2)
            && counts.get("db.client.operation.duration").is_some_and(|n| *n >= 1)
            && counts.get("keel.kv.operation.duration").is_some_and(|n| *n >= 1)
            && counts.get("keel.instances.created").is_some_and(|n| *n >= 1);
        enough.then_some(counts)
    })
    .await;
    assert!(metrics.contains_key("keel.requests.in_flight"), "{metrics:?}");
    assert!(!metrics.contains_key("http.client.request.duration"), "no outbound request was made: {metrics:?}");
    assert!(received.lock().unwrap().refused.is_empty(), "{:?}", received.lock().unwrap().refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_request_carries_the_trace_on() {
    let (collector, received) = collector().await;
    let endpoint = format!("http://{collector}");
    let base = format!("sendgrid_api_base={endpoint}");
    let keel = Keel::start_with_env(
        "products/team-collab/spin-sendgrid.toml",
        &[
            "--variable",
            "mail_from=noreply@example.com",
            "--variable",
            "app_base_url=http://localhost:3000",
            "--variable",
            "sendgrid_api_key=SG.test-key",
            "--variable",
            &base,
        ],
        &otlp(&endpoint),
    )
    .await
    .unwrap_or_else(|stderr| panic!("keel up failed: {stderr}"));
    let email = "mailed@example.com";
    traced_signup(&keel, email).await;

    let (service, server) = server_span(&received).await;
    assert_eq!(service, "team-collab-sendgrid");
    // No guest spans in this build (observability-off): host calls are the
    // server span's children, the mail's HTTP request among them.
    let calls = children(&received, &server, &["sqlite.", "POST"]).await;
    let mail = calls.iter().find(|s| s.name == "POST").unwrap();
    assert_eq!(mail.kind, SpanKind::Client as i32);
    assert_eq!(attribute(&mail.attributes, "http.response.status_code").as_deref(), Some("202"));
    assert_eq!(attribute(&mail.attributes, "url.full").as_deref(), Some(format!("{endpoint}/v3/mail/send").as_str()));
    let traceparents = received.lock().unwrap().mail_traceparents.clone();
    assert_eq!(
        traceparents,
        [Some(format!("00-{TRACE_ID}-{}-01", hex::encode(&mail.span_id)))],
        "the mail request continues the trace, its parent the client span"
    );
    assert_no_request_data(&received, email);
    let metrics = eventually(&received, "metrics", |received| {
        let counts = metric_counts(received);
        counts.get("http.client.request.duration").is_some_and(|n| *n >= 1).then_some(counts)
    })
    .await;
    assert!(metrics.contains_key("http.server.request.duration"), "{metrics:?}");
}

/// The largest total each metric reported in one export (histograms: their
/// data points' counts; sums: their values), by name; request durations
/// only for the product's routes `/v1/...` and `/healthz`.
fn metric_counts(received: &Mutex<Received>) -> HashMap<String, u64> {
    use opentelemetry_proto::tonic::metrics::v1::NumberDataPoint;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
    let integers = |points: &[NumberDataPoint]| -> u64 {
        points.iter().map(|p| if let Some(Value::AsInt(i)) = p.value { i.max(0) as u64 } else { 0 }).sum()
    };
    let received = received.lock().unwrap();
    let mut counts: HashMap<String, u64> = HashMap::new();
    for export in &received.metrics {
        for metric in export.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics) {
            let count = match &metric.data {
                Some(Data::Histogram(h)) => h
                    .data_points
                    .iter()
                    .filter(|p| {
                        metric.name != "http.server.request.duration"
                            || matches!(attribute(&p.attributes, "http.route").as_deref(), Some("/v1/..." | "/healthz"))
                    })
                    .map(|p| p.count)
                    .sum(),
                Some(Data::Gauge(gauge)) => integers(&gauge.data_points),
                Some(Data::Sum(sum)) => integers(&sum.data_points),
                _ => 0,
            };
            let seen = counts.entry(metric.name.clone()).or_default();
            *seen = (*seen).max(count);
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_otlp_protocol_keel_cannot_speak_is_refused_at_start_naming_the_variable() {
    let (collector, received) = collector().await;
    let endpoint = format!("http://{collector}");
    let refused = Keel::start_with_env(
        support::PROBE,
        &[],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
    )
    .await;
    let Err(stderr) = refused else { panic!("keel up served with OTEL_EXPORTER_OTLP_PROTOCOL=grpc") };
    assert!(stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc") && stderr.contains("http/protobuf"), "{stderr}");
    assert!(received.lock().unwrap().traces.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_that_fail_are_reported_not_silently_dropped() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let endpoint = format!("http://{closed}");
    let mut keel = Keel::start_with_env(support::PROBE, &[], &otlp(&endpoint)).await.unwrap();
    let op = r#"{"op":"get","key":"k"}"#;
    assert_eq!(keel.request("POST", "/op", None, op).await.status, 200, "requests are served all the same");
    let mut stderr = tokio::io::BufReader::new(keel.child.stderr.take().unwrap()).lines();
    let warning = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(line)) = stderr.next_line().await {
            if line.contains("OTLP export to") {
                return line;
            }
        }
        String::new()
    })
    .await
    .expect("a warning within 10 s");
    assert!(
        warning.contains(&format!("{endpoint}/v1/")) && warning.contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
        "{warning}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_nothing_is_exported() {
    let (collector, received) = collector().await;
    // The endpoint variable of another signal is not an endpoint for these.
    let unrelated = format!("http://{collector}");
    let keel = Keel::start_with_env(support::PROBE, &[], &[("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", unrelated.as_str())])
        .await
        .unwrap();
    let op = r#"{"op":"get","key":"k"}"#;
    keel.request("POST", "/op", None, op).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = received.lock().unwrap();
    assert!(received.traces.is_empty() && received.metrics.is_empty() && received.refused.is_empty());
}
