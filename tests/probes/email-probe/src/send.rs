//! `POST /send`, shared by the email probes (the outbox probe includes
//! this file): the JSON message in, `{"id":…}` or the error out.
//!
//! The body is `{"from":{"email","name"?},"to":[…],"cc"?,"bcc"?,
//! "reply_to"?,"subject","text_body"?,"html_body"?,"tags"?}`. Errors are
//! `{"error":{"code":"<variant>","message":…}}` with the WIT variant name as
//! code: 400 `invalid-address` / `invalid-message`, 401 `unauthorized`,
//! 429 `rate-limited` (plus `"retry_after": seconds|null`), 503
//! `unavailable`.

use keel_guest::http::{self as respond, Response};
use serde::Deserialize;
use serde_json::json;
use spin_sdk::http::StatusCode;

use crate::keel::infrastructure::email::{self, Error};

#[derive(Deserialize)]
struct AddressIn {
    email: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct MessageIn {
    from: AddressIn,
    #[serde(default)]
    to: Vec<AddressIn>,
    #[serde(default)]
    cc: Vec<AddressIn>,
    #[serde(default)]
    bcc: Vec<AddressIn>,
    reply_to: Option<AddressIn>,
    #[serde(default)]
    subject: String,
    text_body: Option<String>,
    html_body: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

fn address(address: AddressIn) -> email::Address {
    email::Address { email: address.email, name: address.name }
}

fn addresses(list: Vec<AddressIn>) -> Vec<email::Address> {
    list.into_iter().map(address).collect()
}

/// Send the JSON message in `body` and answer as the module docs say.
pub async fn send(body: &[u8]) -> Response {
    let message = match serde_json::from_slice::<MessageIn>(body) {
        Ok(message) => message,
        Err(err) => return respond::error(StatusCode::BAD_REQUEST, "invalid_json", &format!("bad probe request: {err}")),
    };
    let message = email::Message {
        from: address(message.from),
        to: addresses(message.to),
        cc: addresses(message.cc),
        bcc: addresses(message.bcc),
        reply_to: message.reply_to.map(address),
        subject: message.subject,
        text_body: message.text_body,
        html_body: message.html_body,
        tags: message.tags,
    };
    match email::send(message).await {
        Ok(id) => respond::json(StatusCode::OK, &json!({ "id": id })),
        Err(err) => email_error(err),
    }
}

fn email_error(err: Error) -> Response {
    let (status, code, message) = match err {
        Error::InvalidAddress(message) => (StatusCode::BAD_REQUEST, "invalid-address", message),
        Error::InvalidMessage(message) => (StatusCode::BAD_REQUEST, "invalid-message", message),
        Error::Unauthorized(message) => (StatusCode::UNAUTHORIZED, "unauthorized", message),
        Error::Unavailable(message) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", message),
        Error::RateLimited(retry_after) => {
            let body = json!({ "error": {
                "code": "rate-limited",
                "message": "the provider is throttling",
                "retry_after": retry_after,
            } });
            return respond::json(StatusCode::TOO_MANY_REQUESTS, &body);
        }
    };
    respond::error(status, code, &message)
}
