//! The `keel:infrastructure/kv` import.
//!
//! Components that cache through key-value reuse these bindings through
//! wit-bindgen's `with:` option
//! (`"keel:infrastructure/kv@0.1.0": keel_guest::kv::bindings::keel::infrastructure::kv`),
//! so every component links one copy and one async runtime.

/// Generated bindings of the `keel:infrastructure/kv` import.
pub mod bindings {
    ::spin_sdk::wit_bindgen::generate!({
        inline: "package keel:guest; world kv-client { import keel:infrastructure/kv@0.1.0; }",
        path: "../../wit/infrastructure",
        runtime_path: "::spin_sdk::wit_bindgen::rt",
        generate_all,
    });
}

pub use bindings::keel::infrastructure::kv::*;

/// A short description of a key-value error, for error messages.
pub fn describe(err: &Error) -> String {
    match err {
        Error::InvalidInput(message) => format!("invalid key-value input: {message}"),
        Error::Unavailable(message) => format!("key-value store unavailable: {message}"),
        Error::Internal(message) => format!("key-value store error: {message}"),
    }
}
