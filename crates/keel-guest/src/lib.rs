//! Shared plumbing for Keel guest components.
//!
//! Pure modules ([`ids`], [`clock`], [`validate`]) compile on every target and
//! are unit-tested natively. The `sql` feature adds the generated bindings of
//! the `keel:infrastructure/sql` import (shared with repositories through
//! wit-bindgen's `with:`), a small typed query helper and the versioned
//! migrations runner; the `http` feature adds JSON responses for spin-sdk HTTP
//! components, including the one error body every Keel HTTP surface uses.

pub mod clock;
pub mod ids;
pub mod validate;

#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "sql")]
pub mod migrations;
#[cfg(feature = "sql")]
pub mod sql;
