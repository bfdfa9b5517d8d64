//! `keel:infrastructure/auth` for Auth0: verifies access and ID tokens
//! issued by an Auth0 tenant (RS256 or ES256) with [`keel_oidc`].
//!
//! Spin variables:
//!
//! * `auth0_domain` (e.g. `acme.eu.auth0.com`, or a custom domain): the
//!   issuer is then `https://{domain}/`; or `auth0_issuer`, the full issuer
//!   URL, which wins when both are set;
//! * `auth0_audience` (required): the API identifier tokens must carry in
//!   `aud` (or the client id, for ID tokens);
//! * `auth0_email_claim` (optional, default `email`): Auth0 access tokens
//!   carry the e-mail address only through a namespaced custom claim added
//!   by an Action, e.g. `https://keel.example.com/email`.
//!
//! The component imports `keel:infrastructure/kv` (compose it with
//! `kv-spin`) and needs the tenant's host in `allowed_outbound_hosts`.
//! Password and token-issuing operations are `unsupported`.

use keel_oidc::provider::{self, Config, Error};

keel_oidc::oidc_auth_adapter!(AuthAuth0, "Auth0", config);

async fn config() -> Result<Config, Error> {
    let issuer = match provider::variable("auth0_issuer").await? {
        Some(issuer) => issuer,
        None => issuer_for_domain(&provider::required_variable("auth0_domain").await?)?,
    };
    Config::new(
        issuer,
        provider::required_variable("auth0_audience").await?,
        provider::variable("auth0_email_claim").await?,
    )
}

/// The issuer of tenant `domain`: `https://{domain}/` (Auth0's issuers end
/// with a slash). A scheme or trailing slash given with the domain is
/// tolerated; a path is not.
fn issuer_for_domain(domain: &str) -> Result<String, Error> {
    let host = domain.trim().trim_start_matches("https://").trim_end_matches('/');
    let valid = !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !valid {
        return Err(Error::Unavailable(format!("variable `auth0_domain` is not a host name: `{domain}`")));
    }
    Ok(format!("https://{host}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_becomes_an_issuer_with_a_trailing_slash() {
        assert_eq!(issuer_for_domain("acme.eu.auth0.com").unwrap(), "https://acme.eu.auth0.com/");
        assert_eq!(issuer_for_domain("https://login.acme.com/").unwrap(), "https://login.acme.com/");
    }

    #[test]
    fn paths_and_garbage_are_refused() {
        for bad in ["", "acme.auth0.com/oauth", "http://acme.auth0.com", "a b"] {
            assert!(issuer_for_domain(bad).is_err(), "{bad}");
        }
    }
}
