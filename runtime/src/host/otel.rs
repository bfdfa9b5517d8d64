//! `wasi:otel/tracing@0.2.0-rc.2` for guests, as Spin's `factor-otel`
//! implements it (Spin links it with `--experimental-wasi-otel`; Keel
//! always does): a guest's outermost spans are children of the request's
//! server span (`outer-span-context`), the spans it ends are exported with
//! the runtime's own, and host calls made while one is in progress become
//! its children. Without trace export configured every call is a no-op.

use std::time::{Duration, SystemTime};

use opentelemetry::trace::{self as otel, SpanId, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use wasmtime::component::Linker;
use wasmtime_wasi::p2::bindings::clocks::wall_clock::Datetime;

use super::bindings::wasi::otel::{tracing as wit, types};
use super::{HostState, Spin};

/// Add `wasi:otel/tracing` (and its `types`) to `linker`.
pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Spin>(linker, super::this)?;
    types::add_to_linker::<_, Spin>(linker, super::this)
}

impl types::Host for HostState {}

impl wit::Host for HostState {
    fn on_start(&mut self, context: wit::SpanContext) -> wasmtime::Result<()> {
        if self.telemetry.tracing()
            && let Some(context) = span_context(&context)
        {
            self.hooks.trace.guest_started(context);
        }
        Ok(())
    }

    fn on_end(&mut self, span: wit::SpanData) -> wasmtime::Result<()> {
        if !self.telemetry.tracing() {
            return Ok(());
        }
        let Some(data) = span_data(span) else {
            tracing::debug!(component = %self.services.id, "a guest span with malformed ids was not exported");
            return Ok(());
        };
        // A span the guest started before this request (or never
        // announced) is exported all the same.
        self.hooks.trace.guest_ended(&data.span_context);
        self.telemetry.end_guest_span(data);
        Ok(())
    }

    fn outer_span_context(&mut self) -> wasmtime::Result<wit::SpanContext> {
        let outer = self.hooks.trace.outer();
        Ok(wit::SpanContext {
            trace_id: outer.trace_id().to_string(),
            span_id: outer.span_id().to_string(),
            trace_flags: if outer.is_sampled() { wit::TraceFlags::SAMPLED } else { wit::TraceFlags::empty() },
            is_remote: outer.is_remote(),
            trace_state: Vec::new(),
        })
    }
}

fn span_context(context: &wit::SpanContext) -> Option<otel::SpanContext> {
    let trace_id = TraceId::from_hex(&context.trace_id).ok()?;
    let span_id = SpanId::from_hex(&context.span_id).ok()?;
    let flags = if context.trace_flags.contains(wit::TraceFlags::SAMPLED) {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let state = TraceState::from_key_value(context.trace_state.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .unwrap_or_default();
    let context = otel::SpanContext::new(trace_id, span_id, flags, context.is_remote, state);
    context.is_valid().then_some(context)
}

fn time(at: &Datetime) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(at.seconds, at.nanoseconds)
}

/// An attribute: the value is JSON (strings, numbers, booleans and arrays
/// of one of them); anything else is kept as its text.
fn attribute(kv: types::KeyValue) -> KeyValue {
    let value = match serde_json::from_str::<serde_json::Value>(&kv.value) {
        Ok(serde_json::Value::String(s)) => Value::from(s),
        Ok(serde_json::Value::Bool(b)) => Value::from(b),
        Ok(serde_json::Value::Number(n)) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64().unwrap_or_default()),
        },
        Ok(serde_json::Value::Array(items)) => array(&items).unwrap_or_else(|| Value::from(kv.value.clone())),
        _ => Value::from(kv.value.clone()),
    };
    KeyValue::new(kv.key, value)
}

fn array(items: &[serde_json::Value]) -> Option<Value> {
    use opentelemetry::Array;
    if let Some(texts) = items.iter().map(|i| i.as_str().map(|s| s.to_owned().into())).collect::<Option<Vec<_>>>() {
        return Some(Value::Array(Array::String(texts)));
    }
    if let Some(flags) = items.iter().map(serde_json::Value::as_bool).collect::<Option<Vec<_>>>() {
        return Some(Value::Array(Array::Bool(flags)));
    }
    if let Some(ints) = items.iter().map(serde_json::Value::as_i64).collect::<Option<Vec<_>>>() {
        return Some(Value::Array(Array::I64(ints)));
    }
    items.iter().map(serde_json::Value::as_f64).collect::<Option<Vec<_>>>().map(|f| Value::Array(Array::F64(f)))
}

fn span_data(span: wit::SpanData) -> Option<SpanData> {
    let context = span_context(&span.span_context)?;
    let parent_span_id =
        if span.parent_span_id.is_empty() { SpanId::INVALID } else { SpanId::from_hex(&span.parent_span_id).ok()? };
    let scope = span.instrumentation_scope;
    let mut builder =
        InstrumentationScope::builder(scope.name).with_attributes(scope.attributes.into_iter().map(attribute));
    if let Some(version) = scope.version {
        builder = builder.with_version(version);
    }
    if let Some(url) = scope.schema_url {
        builder = builder.with_schema_url(url);
    }
    let mut events = SpanEvents::default();
    events.events = span
        .events
        .into_iter()
        .map(|e| otel::Event::new(e.name, time(&e.time), e.attributes.into_iter().map(attribute).collect(), 0))
        .collect();
    let mut links = SpanLinks::default();
    links.links = span
        .links
        .into_iter()
        .filter_map(|l| {
            Some(otel::Link::new(span_context(&l.span_context)?, l.attributes.into_iter().map(attribute).collect(), 0))
        })
        .collect();
    Some(SpanData {
        span_context: context,
        parent_span_id,
        parent_span_is_remote: false,
        span_kind: match span.span_kind {
            wit::SpanKind::Client => otel::SpanKind::Client,
            wit::SpanKind::Server => otel::SpanKind::Server,
            wit::SpanKind::Producer => otel::SpanKind::Producer,
            wit::SpanKind::Consumer => otel::SpanKind::Consumer,
            wit::SpanKind::Internal => otel::SpanKind::Internal,
        },
        name: span.name.into(),
        start_time: time(&span.start_time),
        end_time: time(&span.end_time),
        attributes: span.attributes.into_iter().map(attribute).collect(),
        dropped_attributes_count: span.dropped_attributes,
        events,
        links,
        status: match span.status {
            wit::Status::Unset => otel::Status::Unset,
            wit::Status::Ok => otel::Status::Ok,
            wit::Status::Error(message) => otel::Status::error(message),
        },
        instrumentation_scope: builder.build(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str) -> types::KeyValue {
        types::KeyValue { key: key.into(), value: value.into() }
    }

    #[test]
    fn attribute_values_are_json_as_the_interface_says() {
        assert_eq!(attribute(kv("a", r#""text""#)).value, Value::from("text"));
        assert_eq!(attribute(kv("a", "42")).value, Value::from(42_i64));
        assert_eq!(attribute(kv("a", "1.5")).value, Value::from(1.5));
        assert_eq!(attribute(kv("a", "true")).value, Value::from(true));
        assert_eq!(
            attribute(kv("a", r#"["x","y"]"#)).value,
            Value::Array(opentelemetry::Array::String(vec!["x".into(), "y".into()]))
        );
        // Not JSON, or an object: kept as the text it is.
        assert_eq!(attribute(kv("a", "plain")).value, Value::from("plain"));
        assert_eq!(attribute(kv("a", r#"{"k":1}"#)).value, Value::from(r#"{"k":1}"#));
    }

    #[test]
    fn malformed_ids_are_refused() {
        let context = |trace: &str, span: &str| wit::SpanContext {
            trace_id: trace.into(),
            span_id: span.into(),
            trace_flags: wit::TraceFlags::SAMPLED,
            is_remote: false,
            trace_state: Vec::new(),
        };
        assert!(span_context(&context("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")).is_some());
        assert!(span_context(&context("not-hex", "00f067aa0ba902b7")).is_none());
        assert!(span_context(&context("00000000000000000000000000000000", "00f067aa0ba902b7")).is_none());
    }
}
