//! Which requests count against which rate limits (`keel:platform/rate-limiting`),
//! and the `429` a refused one gets.
//!
//! Limits are checked after authentication and before any work: a login
//! over its limit costs no password hash. The client address is the TCP
//! peer Spin reports in `spin-client-addr` (behind a load balancer, keep
//! the client's address, e.g. `externalTrafficPolicy: Local`).

use crate::keel::platform::rate_limiting;
use crate::router::Endpoint;
use crate::{ApiError, internal};
use spin_sdk::http::{HeaderMap, StatusCode};

/// What a limit is counted by.
#[derive(Debug, Clone, Copy)]
enum Subject {
    /// The client's IP address.
    ClientAddress,
    /// The `email` field of the JSON body, lower-cased.
    BodyEmail,
    /// The authenticated caller.
    Caller,
}

/// Every rate-limited endpoint, with its policies.
const LIMITS: &[(Endpoint, &[(&str, Subject)])] = &[
    (Endpoint::Signup, &[("signup_per_address", Subject::ClientAddress)]),
    (Endpoint::Login, &[("login_per_address", Subject::ClientAddress), ("login_per_email", Subject::BodyEmail)]),
    (
        Endpoint::RequestPasswordReset,
        &[("account_mail_per_address", Subject::ClientAddress), ("account_mail_per_recipient", Subject::BodyEmail)],
    ),
    (
        Endpoint::ResendVerification,
        &[("account_mail_per_address", Subject::ClientAddress), ("account_mail_per_recipient", Subject::Caller)],
    ),
    (Endpoint::CreateWorkspace, &[("writes_per_user", Subject::Caller)]),
    (Endpoint::CreateChannel, &[("writes_per_user", Subject::Caller)]),
    (Endpoint::Invite, &[("writes_per_user", Subject::Caller)]),
    (Endpoint::PostMessage, &[("writes_per_user", Subject::Caller)]),
];

/// The client's IP address from `spin-client-addr` (`ip:port`), or
/// `unknown` when the host did not say.
pub fn client_address(headers: &HeaderMap) -> String {
    let raw = headers.get("spin-client-addr").and_then(|value| value.to_str().ok()).unwrap_or_default();
    match raw.parse::<std::net::SocketAddr>() {
        Ok(address) => address.ip().to_string(),
        Err(_) if !raw.is_empty() => raw.to_owned(),
        Err(_) => "unknown".to_owned(),
    }
}

/// Count the request against each of its endpoint's limits; `429` when
/// any is exceeded (every limit is counted either way).
pub async fn check(endpoint: Endpoint, client: &str, body: &[u8], caller: &str) -> Result<(), ApiError> {
    let Some((_, policies)) = LIMITS.iter().find(|(limited, _)| *limited == endpoint) else {
        return Ok(());
    };
    let mut refused: Option<rate_limiting::Decision> = None;
    for (policy, subject) in *policies {
        let subject = match subject {
            Subject::ClientAddress => format!("address:{client}"),
            Subject::Caller => format!("user:{caller}"),
            Subject::BodyEmail => match body_email(body) {
                Some(email) => format!("email:{email}"),
                // A body without an email is refused as invalid later.
                None => continue,
            },
        };
        let decision = rate_limiting::hit((*policy).to_owned(), subject).await.map_err(|err| match err {
            rate_limiting::Error::Misconfigured(detail) => internal(detail),
        })?;
        if !decision.allowed && refused.as_ref().is_none_or(|worst| decision.reset_seconds > worst.reset_seconds) {
            refused = Some(decision);
        }
    }
    match refused {
        None => Ok(()),
        Some(decision) => Err(too_many(&decision)),
    }
}

fn body_email(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(value.get("email")?.as_str()?.trim().to_lowercase())
}

/// `429` with `Retry-After` and the `RateLimit-*` fields of the IETF
/// draft (limit, remaining, seconds to reset).
fn too_many(decision: &rate_limiting::Decision) -> ApiError {
    let wait = decision.reset_seconds.max(1).to_string();
    ApiError {
        headers: vec![
            ("retry-after", wait.clone()),
            ("ratelimit-limit", decision.limit.to_string()),
            ("ratelimit-remaining", decision.remaining.to_string()),
            ("ratelimit-reset", wait.clone()),
        ],
        ..ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many attempts; try again in {wait} seconds"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spin_sdk::http::HeaderValue;

    #[test]
    fn the_client_address_drops_the_port() {
        let mut headers = HeaderMap::new();
        assert_eq!(client_address(&headers), "unknown");
        headers.insert("spin-client-addr", HeaderValue::from_static("203.0.113.7:51234"));
        assert_eq!(client_address(&headers), "203.0.113.7");
        headers.insert("spin-client-addr", HeaderValue::from_static("[2001:db8::1]:443"));
        assert_eq!(client_address(&headers), "2001:db8::1");
    }

    #[test]
    fn the_email_subject_ignores_case_and_spaces() {
        assert_eq!(body_email(br#"{"email":" Alice@Example.com ","password":"x"}"#).as_deref(), Some("alice@example.com"));
        assert_eq!(body_email(br#"{"password":"x"}"#), None);
        assert_eq!(body_email(b"not json"), None);
    }

    #[test]
    fn a_refusal_carries_retry_after_and_ratelimit_fields() {
        let err = too_many(&rate_limiting::Decision { allowed: false, limit: 10, remaining: 0, reset_seconds: 42 });
        assert_eq!((err.status, err.code), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
        let header = |name: &str| err.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(header("retry-after"), Some("42"));
        assert_eq!(header("ratelimit-limit"), Some("10"));
        assert_eq!(header("ratelimit-remaining"), Some("0"));
        assert_eq!(header("ratelimit-reset"), Some("42"));
    }
}
