//! `keel:platform/observability` on `wasi:otel/tracing@0.2.0-rc.2`, the
//! interface Spin offers guests for their spans.
//!
//! A span's parent is the innermost span of this instance still in
//! progress, else the request's server span (`outer-span-context`); the
//! host hears of each span when it starts (so the host calls made inside it
//! become its children) and receives it whole when it ends. When the host
//! traces nothing for the request (an invalid outer context: no exporter,
//! or not sampled upstream), spans cost nothing and record nothing.
//!
//! ```text
//! POST /...                         server span (host)
//! └─ team-collab POST /v1/auth/signup   guest span (this component)
//!    ├─ sqlite.execute              host call, child of the guest span
//!    └─ key_value.get
//! ```

use std::cell::RefCell;

use exports::keel::platform::observability::{Attribute, Guest, GuestSpan};
use wasi::clocks::wall_clock::{self, Datetime};
use wasi::otel::tracing::{self as otel, Event, SpanContext, SpanData, SpanKind, Status};
use wasi::otel::types::{InstrumentationScope, KeyValue};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform"],
    world: "keel:platform/observability-otel",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

thread_local! {
    /// The spans in progress, innermost last.
    static OPEN: RefCell<Vec<SpanContext>> = const { RefCell::new(Vec::new()) };
}

struct Observability;

impl Guest for Observability {
    type Span = Span;
}

/// A span: `None` once ended, or when the request is not traced.
struct Span(RefCell<Option<Open>>);

struct Open {
    context: SpanContext,
    parent_span_id: String,
    name: String,
    start: Datetime,
    attributes: Vec<KeyValue>,
    events: Vec<Event>,
}

/// An attribute as `wasi:otel` carries it: the value as JSON.
fn key_value(key: String, value: &str) -> KeyValue {
    KeyValue { key, value: serde_json::Value::from(value).to_string() }
}

fn key_values(attributes: Vec<Attribute>) -> Vec<KeyValue> {
    attributes.into_iter().map(|a| key_value(a.key, &a.value)).collect()
}

/// `N` random bytes as lower-case hex; `None` if the host has no entropy.
fn random_hex<const N: usize>() -> Option<String> {
    let bytes = keel_guest::ids::random_bytes::<N>().ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `context` names a span: ids that are not all zeros.
fn valid(context: &SpanContext) -> bool {
    context.trace_id.bytes().any(|b| b != b'0') && context.span_id.bytes().any(|b| b != b'0')
}

impl GuestSpan for Span {
    fn new(name: String, attributes: Vec<Attribute>) -> Self {
        let parent = OPEN.with(|open| open.borrow().last().cloned()).unwrap_or_else(otel::outer_span_context);
        let Some(span_id) = random_hex::<8>().filter(|_| valid(&parent)) else {
            return Span(RefCell::new(None));
        };
        let context = SpanContext { span_id, is_remote: false, ..parent.clone() };
        otel::on_start(&context);
        OPEN.with(|open| open.borrow_mut().push(context.clone()));
        Span(RefCell::new(Some(Open {
            context,
            parent_span_id: parent.span_id,
            name,
            start: wall_clock::now(),
            attributes: key_values(attributes),
            events: Vec::new(),
        })))
    }

    fn add_event(&self, name: String, attributes: Vec<Attribute>) {
        if let Some(open) = self.0.borrow_mut().as_mut() {
            open.events.push(Event { name, time: wall_clock::now(), attributes: key_values(attributes) });
        }
    }

    fn set_attribute(&self, key: String, value: String) {
        if let Some(open) = self.0.borrow_mut().as_mut() {
            open.attributes.retain(|kv| kv.key != key);
            open.attributes.push(key_value(key, &value));
        }
    }

    fn end(&self, error: Option<String>) {
        self.finish(error.map_or(Status::Ok, Status::Error));
    }
}

impl Span {
    fn finish(&self, status: Status) {
        let Some(open) = self.0.borrow_mut().take() else { return };
        OPEN.with(|spans| spans.borrow_mut().retain(|span| span.span_id != open.context.span_id));
        otel::on_end(&SpanData {
            span_context: open.context,
            parent_span_id: open.parent_span_id,
            span_kind: SpanKind::Internal,
            name: open.name,
            start_time: open.start,
            end_time: wall_clock::now(),
            attributes: open.attributes,
            events: open.events,
            links: Vec::new(),
            status,
            instrumentation_scope: InstrumentationScope {
                name: "keel".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
                schema_url: None,
                attributes: Vec::new(),
            },
            dropped_attributes: 0,
            dropped_events: 0,
            dropped_links: 0,
        });
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        self.finish(Status::Unset);
    }
}

export!(Observability);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values_travel_as_json_text() {
        assert_eq!(key_value("k".into(), "a \"b\"").value, r#""a \"b\"""#);
    }

    #[test]
    fn all_zero_ids_name_no_span() {
        let context = |trace: &str, span: &str| SpanContext {
            trace_id: trace.into(),
            span_id: span.into(),
            trace_flags: otel::TraceFlags::SAMPLED,
            is_remote: true,
            trace_state: Vec::new(),
        };
        assert!(valid(&context("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")));
        assert!(!valid(&context("00000000000000000000000000000000", "0000000000000000")));
    }
}
