//! `keel:platform/observability` for hosts that offer guests no span
//! interface (Spin without `--experimental-wasi-otel`, SpinKube's shim,
//! JavaScript hosts): spans are accepted and not recorded. The host's own
//! telemetry (request and host-call spans, when it exports any) is
//! unaffected; `platform/observability` is the implementation that records.

use exports::keel::platform::observability::{Attribute, Guest, GuestSpan};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform"],
    world: "keel:platform/observability-off",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

struct Off;

impl Guest for Off {
    type Span = Unrecorded;
}

/// A span nobody records.
struct Unrecorded;

impl GuestSpan for Unrecorded {
    fn new(_name: String, _attributes: Vec<Attribute>) -> Self {
        Unrecorded
    }

    fn add_event(&self, _name: String, _attributes: Vec<Attribute>) {}

    fn set_attribute(&self, _key: String, _value: String) {}

    fn end(&self, _error: Option<String>) {}
}

export!(Off);
