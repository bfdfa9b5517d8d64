//! The `keel:repositories/events` import: reading what happened, for live
//! subscribers and the dispatcher. Repositories record events themselves,
//! in the transaction of the change (`keel_guest::outbox`).
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
    Error, Event, Kind, latest, mark_dispatched, since, since_in_workspace, undispatched,
};

/// The published name of `kind` (`message.created`, …).
pub fn kind_name(kind: Kind) -> &'static str {
    use crate::event_kind::Kind as Named;
    match kind {
        Kind::MessageCreated => Named::MessageCreated,
        Kind::MessageUpdated => Named::MessageUpdated,
        Kind::MessageDeleted => Named::MessageDeleted,
        Kind::ReactionAdded => Named::ReactionAdded,
        Kind::ReactionRemoved => Named::ReactionRemoved,
        Kind::MemberJoined => Named::MemberJoined,
        Kind::MemberRemoved => Named::MemberRemoved,
        Kind::FileShared => Named::FileShared,
        Kind::FileUpdated => Named::FileUpdated,
        Kind::FileDeleted => Named::FileDeleted,
    }
    .name()
}
