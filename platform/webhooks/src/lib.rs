//! `keel:platform/outbound-webhooks`: signed webhooks over Spin's outbound
//! HTTP, as the Standard Webhooks specification describes them
//! (<https://www.standardwebhooks.com>).
//!
//! A message is a `POST` of its JSON payload with three headers:
//! `webhook-id` (the event id, the same on every attempt), `webhook-timestamp`
//! (seconds since the Unix epoch) and `webhook-signature: v1,<base64>`, the
//! HMAC-SHA256 of `<id>.<timestamp>.<payload>` under the key the endpoint's
//! secret (`whsec_<base64>`) carries. The answer's first bytes are kept for
//! the delivery log; a receiver that does not answer within
//! [`ANSWER_WITHIN`] counts as unreachable.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use exports::keel::platform::outbound_webhooks::{Error, Guest, Rejection, WebhookMessage};
use hmac::{Hmac, Mac};
use keel_guest::outbound::{self, SendError};
use sha2::Sha256;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform"],
    world: "keel:platform/outbound-webhooks-service",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

/// The prefix of a signing secret.
const SECRET_PREFIX: &str = "whsec_";
/// How long a receiver has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// How much of a refusal's body the delivery log keeps.
const DETAIL_BYTES: usize = 256;

struct Webhooks;

impl Guest for Webhooks {
    async fn deliver(message: WebhookMessage) -> Result<u16, Error> {
        let timestamp = message.timestamp.to_string();
        let signature = sign(&message.secret, &message.id, &timestamp, &message.payload)?;
        // A length, not chunks: receivers that cannot read a chunked
        // body are common.
        let length = message.payload.len().to_string();
        let headers = [
            ("content-type", "application/json"),
            ("content-length", length.as_str()),
            ("user-agent", "Keel-Webhooks/1"),
            ("webhook-id", message.id.as_str()),
            ("webhook-timestamp", timestamp.as_str()),
            ("webhook-signature", signature.as_str()),
        ];
        let sent = outbound::send(http::Method::POST, &message.url, &headers, message.payload.into_bytes());
        let answer = match keel_guest::time::within(ANSWER_WITHIN, sent).await {
            Some(Ok(answer)) => answer,
            Some(Err(SendError::Denied(detail))) => return Err(Error::NotAllowed(detail)),
            Some(Err(SendError::Invalid(detail))) => return Err(Error::Invalid(detail)),
            Some(Err(SendError::Unreachable(detail))) => return Err(Error::Unreachable(detail)),
            None => {
                return Err(Error::Unreachable(format!(
                    "{} did not answer within {} s",
                    message.url,
                    ANSWER_WITHIN.as_secs()
                )));
            }
        };
        if (200..300).contains(&answer.status) {
            Ok(answer.status)
        } else {
            let end = answer.body.len().min(DETAIL_BYTES);
            let detail = String::from_utf8_lossy(&answer.body[..end]).into_owned();
            Err(Error::Rejected(Rejection { status: answer.status, detail }))
        }
    }
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.payload">` under the secret's key.
fn sign(secret: &str, id: &str, timestamp: &str, payload: &str) -> Result<String, Error> {
    let key = secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .filter(|key| !key.is_empty())
        .ok_or_else(|| Error::Invalid(format!("a signing secret is `{SECRET_PREFIX}` and the base64 of a key")))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|err| Error::Invalid(err.to_string()))?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

export!(Webhooks);

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's test vectors.
    #[test]
    fn signs_as_the_specification_shows() {
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn refuses_unusable_secrets() {
        assert!(matches!(sign("MfKQ9r8", "id", "1", "{}"), Err(Error::Invalid(_))));
        assert!(matches!(sign("whsec_", "id", "1", "{}"), Err(Error::Invalid(_))));
    }
}
