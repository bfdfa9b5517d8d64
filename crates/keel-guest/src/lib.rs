//! Shared plumbing for Keel guest components.
//!
//! Pure modules ([`ids`], [`clock`], [`cursor`], [`validate`], [`event_kind`], [`mentions`]) compile on every target and
//! are unit-tested natively. The `sql` feature adds the generated bindings of
//! the `keel:infrastructure/sql` import (shared with repositories through
//! wit-bindgen's `with:`), a small typed query helper and the versioned
//! migrations runner; the `kv` feature adds the bindings of the
//! `keel:infrastructure/kv` import; the `http` feature adds JSON responses
//! for spin-sdk HTTP components, including the one error body every Keel
//! HTTP surface uses; the `email` feature adds the `keel:infrastructure/email`
//! export bindings every email adapter shares plus message validation, and
//! `email-provider` the outbound-HTTP plumbing of the provider adapters;
//! the `time` feature adds waiting on a future with a deadline, and
//! `events` the bindings of the `keel:repositories/events` import;
//! `outbox` the event log's table, recorded in a repository's own
//! transaction; `blob` the `keel:infrastructure/blob-store` export
//! every blob-store adapter shares; `outbound` one HTTP request through
//! Spin, answer read whole.

pub mod clock;
pub mod cursor;
pub mod event_kind;
pub mod ids;
pub mod mentions;
pub mod validate;

#[cfg(feature = "blob")]
pub mod blob;
#[cfg(feature = "email")]
pub mod email;
#[cfg(feature = "events")]
pub mod events;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "kv")]
pub mod kv;
#[cfg(feature = "outbound")]
pub mod outbound;
#[cfg(feature = "outbox")]
pub mod outbox;
#[cfg(feature = "sql")]
pub mod migrations;
#[cfg(feature = "sql")]
pub mod sql;
#[cfg(feature = "time")]
pub mod time;

/// Map an error of a `keel:repositories/*` interface (variants `not-found`,
/// `conflict`, `invalid-input`, `unavailable`, `internal`) onto a domain error with the
/// same variants, where `not-found` carries `$not_found` as its message,
/// e.g. `keel_guest::repository_error!(err, channels => Error, "channel not found")`.
#[macro_export]
macro_rules! repository_error {
    ($err:expr, $repository:ident => $domain:ident, $not_found:expr) => {
        match $err {
            $repository::Error::NotFound => $domain::NotFound(::std::string::String::from($not_found)),
            $repository::Error::Conflict(message) => $domain::Conflict(message),
            $repository::Error::InvalidInput(message) => $domain::InvalidInput(message),
            $repository::Error::Unavailable(message) => $domain::Unavailable(message),
            $repository::Error::Internal(message) => $domain::Internal(message),
        }
    };
}

/// Whether `$actor` is a member of `$workspace` whose role grants
/// `$permission` — the one check every domain makes before acting for a
/// caller. In an async fn, evaluates to `Result<(membership, role), $domain>`
/// (`membership` as `$workspaces::get-for-member` returns it, `role` as
/// `$security`'s): a non-member gets `not-found` ("workspace not found", so
/// a workspace's existence does not leak), a member whose role lacks the
/// permission `forbidden`. E.g.
/// `keel_guest::authorize_member!(workspaces, security_context => Error, actor_id, workspace_id, Permission::MessageRead)`.
#[macro_export]
macro_rules! authorize_member {
    ($workspaces:ident, $security:ident => $domain:ident, $actor:expr, $workspace:expr, $permission:expr) => {
        async {
            let found = $workspaces::get_for_member(
                ::std::string::String::from($workspace),
                ::std::string::String::from($actor),
            )
            .await
            .map_err(|err| $crate::repository_error!(err, $workspaces => $domain, "workspace not found"))?;
            let role = match found.role {
                $workspaces::Role::Owner => $security::Role::Owner,
                $workspaces::Role::Admin => $security::Role::Admin,
                $workspaces::Role::Member => $security::Role::Member,
            };
            if $security::allows(role, $permission) {
                Ok((found, role))
            } else {
                Err($domain::Forbidden(::std::string::String::from("your role in this workspace does not allow this")))
            }
        }
    };
}

/// `impl From<keel_guest::sql::Error> for $error` for a repository's error
/// type: constraint conflicts stay conflicts, an unreachable database is
/// `unavailable` (retryable: 503), every other failure — a rejected
/// statement, a closed transaction, a value of the wrong type — is
/// `internal` (500: a retry will not help). A conflict the repository did not name itself gets a
/// fixed message (the driver's text, which names tables and keys, goes to
/// the component's log): it reaches clients as a 409.
#[cfg(feature = "sql")]
#[macro_export]
macro_rules! impl_from_sql_error {
    ($error:ident) => {
        impl ::std::convert::From<$crate::sql::Error> for $error {
            fn from(err: $crate::sql::Error) -> Self {
                match err {
                    $crate::sql::Error::Conflict(detail) => {
                        ::std::eprintln!("{}: conflict: {detail}", ::std::env!("CARGO_PKG_NAME"));
                        $error::Conflict(::std::string::String::from("the change conflicts with existing data"))
                    }
                    $crate::sql::Error::Unavailable(_) => $error::Unavailable($crate::sql::describe(&err)),
                    other => $error::Internal($crate::sql::describe(&other)),
                }
            }
        }
    };
}
