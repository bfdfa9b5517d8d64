//! OpenID Connect token verification for Keel's `keel:infrastructure/auth`
//! adapters (`auth-okta`, `auth-auth0`).
//!
//! The pure core, unit-tested natively:
//!
//! * [`jws`] splits a compact JWS, reads its protected header and checks its
//!   `alg` against the allowed set (RS256 and ES256 only: `none` and the
//!   symmetric HS* algorithms are always refused).
//! * [`jwk`] reads a JSON Web Key Set into verifying keys (RSA ≥ 2048 bits,
//!   EC P-256) and finds the key a token names by `kid`.
//! * [`claims`] checks issuer, audience, expiry and not-before (with a small
//!   clock-skew allowance) and maps the claims to an [`Identity`].
//! * [`discovery`] reads the issuer's discovery document and decides how
//!   long fetched documents are cached.
//!
//! With the `guest` feature, [`provider`] runs the whole flow inside a
//! component: configuration from Spin variables, discovery document and JWKS
//! fetched over outbound HTTP and cached through `keel:infrastructure/kv`
//! (refetched once when a token names an unknown key), and
//! [`oidc_auth_adapter!`] turns a configuration function into a complete
//! `keel:infrastructure/oidc-auth-adapter` component.
//!
//! With the `signer` feature, [`signer`] signs tokens and publishes their
//! JWKS, for test issuers.

#![deny(missing_docs)]

pub mod claims;
pub mod discovery;
pub mod jwk;
pub mod jws;
#[cfg(feature = "guest")]
pub mod provider;
#[cfg(any(test, feature = "signer"))]
pub mod signer;

pub use claims::{Identity, Validation};
pub use jws::Algorithm;

/// Why a token was refused. Every variant is the caller's fault (the token),
/// never the provider's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token is not a compact JWS with JSON parts.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm the provider does not accept.
    #[error("token algorithm `{0}` is not allowed")]
    DisallowedAlgorithm(String),
    /// The header lists `crit` extensions.
    #[error("token header has critical extensions (`crit`) this provider does not understand")]
    CriticalHeader,
    /// The header names no key.
    #[error("token header has no key id (`kid`)")]
    MissingKeyId,
    /// The issuer publishes no key with that id.
    #[error("token was signed with key `{0}`, which the issuer does not publish")]
    UnknownKeyId(String),
    /// The key is of another type than the algorithm needs.
    #[error("key `{0}` cannot verify this token's algorithm")]
    KeyMismatch(String),
    /// The signature does not verify.
    #[error("bad token signature")]
    BadSignature,
    /// A required claim is absent or of the wrong JSON type.
    #[error("token claim `{0}` is missing or has the wrong type")]
    MissingClaim(&'static str),
    /// `iss` is not the configured issuer.
    #[error("token was issued by `{0}`, not by the configured issuer")]
    WrongIssuer(String),
    /// `aud` does not name the configured audience.
    #[error("token is not meant for this audience")]
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
}
