//! The provider flow inside a guest component (feature `guest`).
//!
//! [`verify_token`] checks a token's header, finds its key in the issuer's
//! JWKS, verifies the signature and the claims. The JWKS location comes from
//! the discovery document (`{issuer}/.well-known/openid-configuration`);
//! both documents are fetched with outbound HTTP and cached through
//! `keel:infrastructure/kv` with a TTL (the response's `max-age`, clamped,
//! see [`discovery::cache_secs`]). A token that names a key the cached set
//! lacks makes the set be refetched once — the issuer may have rotated its
//! keys — but at most once per [`REFRESH_COOLDOWN_SECS`], so tokens with
//! made-up key ids cannot make the component hammer the issuer.
//!
//! Cache keys: `oidc:{issuer}:jwks-uri`, `oidc:{issuer}:jwks` and the
//! cool-down marker `oidc:{issuer}:jwks-refresh`. The marker is checked and
//! set without a transaction: instances racing on it may each refetch once.
//!
//! [`oidc_auth_adapter!`](crate::oidc_auth_adapter) wraps this into a
//! `keel:infrastructure/oidc-auth-adapter` component.

use keel_guest::clock::now_secs;
use spin_sdk::http::body::IncomingBodyExt as _;
use spin_sdk::http::{EmptyBody, StatusCode};

use crate::claims::{self, Identity, Validation};
use crate::discovery::{self, Discovery};
use crate::jwk::Jwks;
use crate::jws::Unverified;
use crate::TokenError;

/// The `keel:infrastructure/kv` import this flow caches through; adapters
/// map it with wit-bindgen's `with:` so the component links one copy.
pub use keel_guest::kv::bindings::keel::infrastructure::kv as kv_bindings;
use keel_guest::kv;

/// Minimum time between two refetches forced by unknown key ids, in seconds.
pub const REFRESH_COOLDOWN_SECS: u32 = 30;
/// Largest discovery document or JWKS accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Why verification did not produce an identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The token is bad.
    #[error(transparent)]
    InvalidToken(#[from] TokenError),
    /// Configuration, the issuer or the cache could not be used.
    #[error("{0}")]
    Unavailable(String),
}

/// A provider's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// What a token must satisfy: issuer, audience, email claim.
    pub validation: Validation,
}

impl Config {
    /// Check and assemble a configuration: `issuer` must be an https URL
    /// (plain http only on loopback) and `audience` non-empty;
    /// `email_claim` defaults to `email`.
    pub fn new(issuer: String, audience: String, email_claim: Option<String>) -> Result<Config, Error> {
        discovery::check_url(&issuer).map_err(|err| Error::Unavailable(format!("issuer: {err}")))?;
        if audience.trim().is_empty() {
            return Err(Error::Unavailable("the audience must not be empty".into()));
        }
        let mut validation = Validation::new(issuer, audience);
        if let Some(claim) = email_claim {
            validation.email_claim = claim;
        }
        Ok(Config { validation })
    }
}

/// The Spin variable `name`, or none when it is undefined or empty.
pub async fn variable(name: &str) -> Result<Option<String>, Error> {
    match spin_sdk::variables::get(name).await {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value.trim().to_owned())),
        Err(spin_sdk::variables::Error::Undefined(_)) => Ok(None),
        Err(err) => Err(Error::Unavailable(format!("cannot read variable `{name}`: {err}"))),
    }
}

/// The Spin variable `name`, which must be set.
pub async fn required_variable(name: &str) -> Result<String, Error> {
    variable(name).await?.ok_or_else(|| Error::Unavailable(format!("variable `{name}` is not set")))
}

/// Verify `token` for `config` now.
pub async fn verify_token(config: &Config, token: &str) -> Result<Identity, Error> {
    let validation = &config.validation;
    let unverified = Unverified::decode(token, &validation.algorithms)?;
    let cache = KeyCache { issuer: &validation.issuer };
    let (mut jwks, fresh) = cache.jwks().await?;
    let unknown = matches!(jwks.find(&unverified.kid, unverified.algorithm), Err(TokenError::UnknownKeyId(_)));
    if unknown && !fresh && cache.claim_refresh().await? {
        jwks = cache.refetch().await?;
    }
    jwks.find(&unverified.kid, unverified.algorithm)?.verify(&unverified)?;
    Ok(claims::check(&unverified.claims()?, validation, now_secs())?)
}

/// The issuer's documents, cached through `keel:infrastructure/kv`.
struct KeyCache<'c> {
    issuer: &'c str,
}

impl KeyCache<'_> {
    fn key(&self, what: &str) -> String {
        format!("oidc:{}:{what}", self.issuer)
    }

    /// The key set, and whether it was fetched just now.
    async fn jwks(&self) -> Result<(Jwks, bool), Error> {
        // An unreadable cached set is refetched rather than trusted.
        if let Some(jwks) = kv::get(self.key("jwks")).await.map_err(kv_error)?.and_then(|b| Jwks::parse(&b).ok()) {
            return Ok((jwks, false));
        }
        Ok((self.refetch().await?, true))
    }

    /// Fetch the key set and cache it.
    async fn refetch(&self) -> Result<Jwks, Error> {
        let uri = self.jwks_uri().await?;
        let document = fetch(&uri).await?;
        let jwks = Jwks::parse(&document.body).map_err(|err| Error::Unavailable(format!("{uri}: {err}")))?;
        kv::set_with_ttl(self.key("jwks"), document.body, document.ttl_secs).await.map_err(kv_error)?;
        Ok(jwks)
    }

    /// The `jwks_uri` of the discovery document.
    async fn jwks_uri(&self) -> Result<String, Error> {
        let key = self.key("jwks-uri");
        if let Some(uri) = kv::get(key.clone()).await.map_err(kv_error)?.and_then(|bytes| String::from_utf8(bytes).ok()) {
            return Ok(uri);
        }
        let url = discovery::discovery_url(self.issuer);
        let document = fetch(&url).await?;
        let discovery =
            Discovery::parse(&document.body, self.issuer).map_err(|err| Error::Unavailable(format!("{url}: {err}")))?;
        kv::set_with_ttl(key, discovery.jwks_uri.clone().into_bytes(), document.ttl_secs).await.map_err(kv_error)?;
        Ok(discovery.jwks_uri)
    }

    /// Whether a forced refetch may happen now; if so, start the cool-down.
    async fn claim_refresh(&self) -> Result<bool, Error> {
        let key = self.key("jwks-refresh");
        if kv::exists(key.clone()).await.map_err(kv_error)? {
            return Ok(false);
        }
        kv::set_with_ttl(key, b"1".to_vec(), REFRESH_COOLDOWN_SECS).await.map_err(kv_error)?;
        Ok(true)
    }
}

/// A fetched document and how long it may be cached.
struct Fetched {
    body: Vec<u8>,
    ttl_secs: u32,
}

/// GET `url`, expecting 200 and a body of at most [`MAX_DOCUMENT_BYTES`].
async fn fetch(url: &str) -> Result<Fetched, Error> {
    let failed = |why: String| Error::Unavailable(format!("GET {url}: {why}"));
    let request = spin_sdk::http::Request::<()>::get(url)
        .header("accept", "application/json")
        .body(EmptyBody::new())
        .map_err(|err| failed(err.to_string()))?;
    let response = spin_sdk::http::send(request).await.map_err(|code| failed(code.to_string()))?;
    if response.status() != StatusCode::OK {
        return Err(failed(format!("status {}", response.status())));
    }
    let declared = response
        .headers()
        .get("content-length")
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_DOCUMENT_BYTES) {
        return Err(failed("document is too large".into()));
    }
    let cache_control = response.headers().get("cache-control").and_then(|value| value.to_str().ok());
    let ttl_secs = discovery::cache_secs(cache_control);
    let body = response.into_body().bytes().await.map_err(|code| failed(code.to_string()))?;
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(failed("document is too large".into()));
    }
    Ok(Fetched { body: body.to_vec(), ttl_secs })
}

fn kv_error(err: kv::Error) -> Error {
    Error::Unavailable(format!("key cache: {}", kv::describe(&err)))
}

/// Build a complete `keel:infrastructure/oidc-auth-adapter` component from
/// a configuration function:
///
/// ```ignore
/// keel_oidc::oidc_auth_adapter!(AuthOkta, "Okta", config);
/// async fn config() -> Result<keel_oidc::provider::Config, keel_oidc::provider::Error> { … }
/// ```
///
/// `verify-token` runs [`verify_token`]; `hash-password`,
/// `verify-password` and `issue-token` are `unsupported`: accounts,
/// passwords and token issuing belong to the identity provider. The crate
/// needs `spin-sdk` and `keel-oidc` (feature `guest`) as dependencies and
/// must sit two directories below the repository root (for `wit/`).
#[macro_export]
macro_rules! oidc_auth_adapter {
    ($adapter:ident, $provider:literal, $config:path) => {
        ::spin_sdk::wit_bindgen::generate!({
            path: "../../wit/infrastructure",
            world: "keel:infrastructure/oidc-auth-adapter",
            runtime_path: "::spin_sdk::wit_bindgen::rt",
            with: { "keel:infrastructure/kv@0.1.0": ::keel_oidc::provider::kv_bindings },
        });

        struct $adapter;

        impl exports::keel::infrastructure::auth::Guest for $adapter {
            fn hash_password(_password: String) -> Result<String, exports::keel::infrastructure::auth::Error> {
                Err(exports::keel::infrastructure::auth::Error::Unsupported(
                    concat!($provider, " keeps passwords at the identity provider; Keel does not hash them").into(),
                ))
            }

            fn verify_password(
                _password: String,
                _password_hash: String,
            ) -> Result<bool, exports::keel::infrastructure::auth::Error> {
                Err(exports::keel::infrastructure::auth::Error::Unsupported(
                    concat!($provider, " checks passwords at the identity provider; Keel does not").into(),
                ))
            }

            async fn issue_token(
                _subject: String,
                _email: Option<String>,
                _token_id: Option<String>,
                _ttl_seconds: u32,
            ) -> Result<String, exports::keel::infrastructure::auth::Error> {
                Err(exports::keel::infrastructure::auth::Error::Unsupported(
                    concat!($provider, " issues tokens itself; Keel only verifies them").into(),
                ))
            }

            async fn verify_token(
                token: String,
            ) -> Result<exports::keel::infrastructure::auth::Identity, exports::keel::infrastructure::auth::Error> {
                use exports::keel::infrastructure::auth::{Error, Identity};
                let verified = match $config().await {
                    Ok(config) => ::keel_oidc::provider::verify_token(&config, &token).await,
                    Err(err) => Err(err),
                };
                match verified {
                    Ok(identity) => Ok(Identity {
                        subject: identity.subject,
                        email: identity.email,
                        expires_at: identity.expires_at,
                        token_id: identity.token_id,
                    }),
                    Err(::keel_oidc::provider::Error::InvalidToken(err)) => Err(Error::InvalidToken(err.to_string())),
                    Err(::keel_oidc::provider::Error::Unavailable(message)) => {
                        Err(Error::Unavailable(format!("{}: {message}", $provider)))
                    }
                }
            }
        }

        export!($adapter);
    };
}
