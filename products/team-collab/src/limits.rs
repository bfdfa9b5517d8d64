//! Which requests count against which rate limits (`keel:platform/rate-limiting`),
//! and the answer a refused one gets.
//!
//! Limits are checked after authentication and before any work: a login
//! over its limit costs no password hash. The client address is the TCP
//! peer Spin reports in `spin-client-addr` (behind a load balancer, keep
//! the client's address, e.g. `externalTrafficPolicy: Local`).
//!
//! Limits of one client or account answer `429`. The shared budget of
//! password hashes (`password_hashes`, every request that runs Argon2,
//! counted across all instances and processes sharing the key-value store)
//! answers `503` with `Retry-After`: a flood of logins is shed within a
//! second instead of taking every core and instance from the other
//! requests. It is counted only for requests that passed their own
//! client's limits, so one client over its limit cannot spend it.
//!
//! A refusal tells the audit trail whether to record it ([`Refusal`]): the
//! attempt that went over a client's limit is recorded, its repeats in the
//! same window are not, nor are requests shed for the shared budget (they
//! did nothing). Otherwise a flood would write one hash-chained entry per
//! refused request: the work refusing is meant to save, and a trail that
//! grows as fast as anyone can send.

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
    /// Everyone at once: a budget the whole service shares.
    Everyone,
}

/// Every rate-limited endpoint, with its policies.
const LIMITS: &[(Endpoint, &[(&str, Subject)])] = &[
    (Endpoint::Signup, &[("signup_per_address", Subject::ClientAddress), HASHES]),
    (
        Endpoint::Login,
        &[("login_per_address", Subject::ClientAddress), ("login_per_email", Subject::BodyEmail), HASHES],
    ),
    (Endpoint::ResetPassword, &[HASHES]),
    (Endpoint::ChangePassword, &[HASHES]),
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
    (Endpoint::PostReply, &[("writes_per_user", Subject::Caller)]),
    (Endpoint::EditMessage, &[("writes_per_user", Subject::Caller)]),
    (Endpoint::AddReaction, &[("writes_per_user", Subject::Caller)]),
    (Endpoint::UploadFile, &[("writes_per_user", Subject::Caller)]),
    (Endpoint::UploadVersion, &[("writes_per_user", Subject::Caller)]),
    (Endpoint::SetFeature, &[("writes_per_user", Subject::Caller)]),
    (Endpoint::SetMemberFeature, &[("writes_per_user", Subject::Caller)]),
    (Endpoint::CreateWebhook, &[("writes_per_user", Subject::Caller)]),
    (Endpoint::ReplayDelivery, &[("writes_per_user", Subject::Caller)]),
];

/// Password hashes (Argon2) started per second, by everyone.
const HASHES: (&str, Subject) = ("password_hashes", Subject::Everyone);

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

/// A refused request: the answer, and whether the audit trail records it.
#[derive(Debug)]
pub struct Refusal {
    pub error: ApiError,
    pub recorded: bool,
}

/// Count the request against each of its endpoint's limits: `429` when a
/// limit of its client or account is exceeded (each of those is counted
/// either way), then `503` when the shared budget is spent.
pub async fn check(endpoint: Endpoint, client: &str, body: &[u8], caller: &str) -> Result<(), Refusal> {
    let Some((_, policies)) = LIMITS.iter().find(|(limited, _)| *limited == endpoint) else {
        return Ok(());
    };
    let (shared, own): (Vec<_>, Vec<_>) =
        policies.iter().partition(|(_, subject)| matches!(subject, Subject::Everyone));
    let mut refused: Option<rate_limiting::Decision> = None;
    let mut first_refusal = false;
    for (policy, subject) in own {
        let subject = match subject {
            Subject::ClientAddress => format!("address:{client}"),
            Subject::Caller => format!("user:{caller}"),
            Subject::BodyEmail => match body_email(body) {
                Some(email) => format!("email:{email}"),
                // A body without an email is refused as invalid later.
                None => continue,
            },
            Subject::Everyone => unreachable!("partitioned out"),
        };
        let decision = hit(policy, subject).await?;
        first_refusal |= decision.first_refusal;
        if !decision.allowed && refused.as_ref().is_none_or(|worst| decision.reset_seconds > worst.reset_seconds) {
            refused = Some(decision);
        }
    }
    if let Some(decision) = refused {
        return Err(Refusal { error: too_many(&decision), recorded: first_refusal });
    }
    for (policy, _) in shared {
        let decision = hit(policy, "everyone".to_owned()).await?;
        if !decision.allowed {
            return Err(Refusal { error: busy(&decision), recorded: false });
        }
    }
    Ok(())
}

async fn hit(policy: &str, subject: String) -> Result<rate_limiting::Decision, Refusal> {
    rate_limiting::hit(policy.to_owned(), subject).await.map_err(|err| match err {
        rate_limiting::Error::Misconfigured(detail) => Refusal { error: internal(detail), recorded: true },
    })
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

/// `503` with `Retry-After`: the service's shared budget is spent for now.
fn busy(decision: &rate_limiting::Decision) -> ApiError {
    let wait = decision.reset_seconds.max(1).to_string();
    ApiError {
        headers: vec![("retry-after", wait.clone())],
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the service is busy; try again in {wait} seconds"),
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
        assert_eq!(
            body_email(br#"{"email":" Alice@Example.com ","password":"x"}"#).as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(body_email(br#"{"password":"x"}"#), None);
        assert_eq!(body_email(b"not json"), None);
    }

    #[test]
    fn a_refusal_carries_retry_after_and_ratelimit_fields() {
        let err = too_many(&rate_limiting::Decision {
            allowed: false,
            limit: 10,
            remaining: 0,
            reset_seconds: 42,
            first_refusal: true,
        });
        assert_eq!((err.status, err.code), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
        let header = |name: &str| err.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(header("retry-after"), Some("42"));
        assert_eq!(header("ratelimit-limit"), Some("10"));
        assert_eq!(header("ratelimit-remaining"), Some("0"));
        assert_eq!(header("ratelimit-reset"), Some("42"));
    }

    #[test]
    fn every_endpoint_that_hashes_a_password_spends_the_shared_budget() {
        for endpoint in [Endpoint::Signup, Endpoint::Login, Endpoint::ResetPassword, Endpoint::ChangePassword] {
            let (_, policies) = LIMITS.iter().find(|(limited, _)| *limited == endpoint).unwrap();
            assert!(policies.iter().any(|(policy, _)| *policy == HASHES.0), "{endpoint:?}");
        }
        let err = busy(&rate_limiting::Decision {
            allowed: false,
            limit: 20,
            remaining: 0,
            reset_seconds: 0,
            first_refusal: true,
        });
        assert_eq!((err.status, err.code), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
        assert_eq!(err.headers, vec![("retry-after", "1".to_owned())]);
    }
}
