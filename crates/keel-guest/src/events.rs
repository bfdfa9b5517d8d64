//! The `keel:repositories/events` import: recording what happened for live
//! subscribers.
//!
//! Domains reuse these bindings through wit-bindgen's `with:` option
//! (`"keel:repositories/events@0.1.0": keel_guest::events::bindings::keel::repositories::events`).

/// Generated bindings of the `keel:repositories/events` import.
pub mod bindings {
    ::spin_sdk::wit_bindgen::generate!({
        inline: "package keel:guest; world events-client { import keel:repositories/events@0.1.0; }",
        path: ["../../wit/infrastructure", "../../wit/repositories"],
        runtime_path: "::spin_sdk::wit_bindgen::rt",
        generate_all,
    });
}

pub use bindings::keel::repositories::events::{
    Error, Event, Kind, NewEvent, append, latest, since, since_in_workspace,
};

/// Record `event` for live subscribers, after the change it reports was
/// made. Best-effort: the change stands whether or not the event is
/// recorded (subscribers catch up by listing), so a failure is only logged.
pub async fn record(event: NewEvent) {
    let (kind, subject, workspace) = (event.kind, event.subject_id.clone(), event.workspace_id.clone());
    if let Err(err) = append(event).await {
        eprintln!("events: {kind:?} about {subject} in {workspace} not recorded: {err:?}");
    }
}
