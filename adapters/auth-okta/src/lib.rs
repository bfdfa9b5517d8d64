//! `keel:infrastructure/auth` for Okta: verifies access and ID tokens issued
//! by an Okta authorization server (RS256 or ES256) with [`keel_oidc`].
//!
//! Spin variables:
//!
//! * `okta_issuer` (required): the authorization server's issuer, exactly
//!   as in its tokens, e.g. `https://acme.okta.com/oauth2/default`;
//! * `okta_audience` (required): the `aud` tokens must carry, e.g.
//!   `api://default` for access tokens or the client id for ID tokens;
//! * `okta_email_claim` (optional, default `email`): the claim that holds
//!   the e-mail address.
//!
//! The component imports `keel:infrastructure/kv` (compose it with
//! `kv-spin`) and needs the issuer's host in `allowed_outbound_hosts`.
//! Password and token-issuing operations are `unsupported`.

use keel_oidc::provider::{self, Config, Error};

keel_oidc::oidc_auth_adapter!(AuthOkta, "Okta", config);

async fn config() -> Result<Config, Error> {
    Config::new(
        provider::required_variable("okta_issuer").await?,
        provider::required_variable("okta_audience").await?,
        provider::variable("okta_email_claim").await?,
    )
}
