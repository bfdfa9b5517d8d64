//! The issuer's discovery document (`/.well-known/openid-configuration`),
//! issuer URLs, and how long fetched documents are cached.

use serde::Deserialize;

/// Cache lifetime when the response does not say (`Cache-Control: max-age`).
pub const DEFAULT_CACHE_SECS: u32 = 3600;
/// Shortest cache lifetime, whatever the response says.
pub const MIN_CACHE_SECS: u32 = 60;
/// Longest cache lifetime, whatever the response says.
pub const MAX_CACHE_SECS: u32 = 86_400;

/// Why a discovery document or an issuer URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The document is not JSON with `issuer` and `jwks_uri`.
    #[error("malformed discovery document: {0}")]
    Malformed(String),
    /// The document belongs to another issuer.
    #[error("discovery document names issuer `{found}`, expected `{expected}`")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The document's issuer.
        found: String,
    },
    /// A URL is plain HTTP to a host other than loopback.
    #[error("`{0}` must be an https URL (plain http only on the loopback interface)")]
    InsecureUrl(String),
}

/// The parts of a discovery document this crate uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Discovery {
    /// `issuer`.
    pub issuer: String,
    /// `jwks_uri`: where the signing keys are.
    pub jwks_uri: String,
}

impl Discovery {
    /// Read a discovery document fetched for `expected_issuer`: its `issuer`
    /// must be exactly that one (OpenID Connect Discovery §4.3) and its
    /// `jwks_uri` must be a secure URL.
    pub fn parse(bytes: &[u8], expected_issuer: &str) -> Result<Discovery, DiscoveryError> {
        let discovery: Discovery =
            serde_json::from_slice(bytes).map_err(|err| DiscoveryError::Malformed(err.to_string()))?;
        if discovery.issuer != expected_issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: expected_issuer.to_owned(),
                found: discovery.issuer,
            });
        }
        check_url(&discovery.jwks_uri)?;
        Ok(discovery)
    }
}

/// Where `issuer` publishes its discovery document.
pub fn discovery_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// Accept `https://…`, and `http://…` only on the loopback interface
/// (`localhost`, `127.0.0.1`, `[::1]`: local development and tests).
pub fn check_url(url: &str) -> Result<(), DiscoveryError> {
    let insecure = || DiscoveryError::InsecureUrl(url.to_owned());
    if let Some(rest) = url.strip_prefix("https://") {
        return if host_of(rest).is_empty() { Err(insecure()) } else { Ok(()) };
    }
    let rest = url.strip_prefix("http://").ok_or_else(insecure)?;
    match host_of(rest) {
        "localhost" | "127.0.0.1" | "[::1]" => Ok(()),
        _ => Err(insecure()),
    }
}

/// The host of `authority[/path]`, without port or user info.
fn host_of(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

/// How long to cache a response whose `Cache-Control` header is
/// `cache_control`: its `max-age`, clamped to
/// [`MIN_CACHE_SECS`]..=[`MAX_CACHE_SECS`]; the minimum for `no-cache` or
/// `no-store`; else [`DEFAULT_CACHE_SECS`].
pub fn cache_secs(cache_control: Option<&str>) -> u32 {
    let mut directives = cache_control.into_iter().flat_map(|value| value.split(','));
    if directives.clone().any(|d| matches!(d.trim().to_ascii_lowercase().as_str(), "no-cache" | "no-store")) {
        return MIN_CACHE_SECS;
    }
    let max_age = directives.find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        name.trim().eq_ignore_ascii_case("max-age").then(|| value.trim().trim_matches('"').parse::<u64>().ok())?
    });
    match max_age {
        Some(secs) => u32::try_from(secs).unwrap_or(u32::MAX).clamp(MIN_CACHE_SECS, MAX_CACHE_SECS),
        None => DEFAULT_CACHE_SECS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_follows_the_issuer() {
        assert_eq!(
            discovery_url("https://acme.okta.com/oauth2/default"),
            "https://acme.okta.com/oauth2/default/.well-known/openid-configuration"
        );
        assert_eq!(discovery_url("https://acme.auth0.com/"), "https://acme.auth0.com/.well-known/openid-configuration");
    }

    #[test]
    fn discovery_must_name_the_expected_issuer() {
        let doc = br#"{"issuer":"https://acme.auth0.com/","jwks_uri":"https://acme.auth0.com/.well-known/jwks.json","x":1}"#;
        let discovery = Discovery::parse(doc, "https://acme.auth0.com/").unwrap();
        assert_eq!(discovery.jwks_uri, "https://acme.auth0.com/.well-known/jwks.json");
        assert!(matches!(
            Discovery::parse(doc, "https://acme.auth0.com"),
            Err(DiscoveryError::IssuerMismatch { .. })
        ));
        assert!(matches!(Discovery::parse(b"{}", "x"), Err(DiscoveryError::Malformed(_))));
        let plain = br#"{"issuer":"i","jwks_uri":"http://keys.example.com/jwks"}"#;
        assert!(matches!(Discovery::parse(plain, "i"), Err(DiscoveryError::InsecureUrl(_))));
    }

    #[test]
    fn only_https_or_loopback_http() {
        for ok in ["https://a.example.com/x", "http://127.0.0.1:8080/", "http://localhost", "http://[::1]:9/a"] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for bad in ["http://example.com", "http://127.0.0.1.evil.com/", "http://localhost@evil.com", "ftp://x", "https://", "x"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_lifetime_follows_max_age_within_bounds() {
        assert_eq!(cache_secs(None), DEFAULT_CACHE_SECS);
        assert_eq!(cache_secs(Some("public, max-age=7200")), 7200);
        assert_eq!(cache_secs(Some("max-age=5")), MIN_CACHE_SECS);
        assert_eq!(cache_secs(Some("max-age=99999999999")), MAX_CACHE_SECS);
        assert_eq!(cache_secs(Some("no-cache")), MIN_CACHE_SECS);
        assert_eq!(cache_secs(Some("private")), DEFAULT_CACHE_SECS);
        assert_eq!(cache_secs(Some("max-age=abc")), DEFAULT_CACHE_SECS);
    }
}
