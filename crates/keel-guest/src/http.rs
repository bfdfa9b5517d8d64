//! JSON responses for spin-sdk HTTP components.
//!
//! Every Keel HTTP surface answers errors with the same body,
//! `{"error":{"code":"…","message":"…"}}`, built by [`error`].

use bytes::Bytes;
use serde::Serialize;
use spin_sdk::http::{FullBody, HeaderName, HeaderValue, StatusCode};

/// The response type of Keel HTTP components.
pub type Response = spin_sdk::http::Response<FullBody<Bytes>>;

/// A JSON response with `status` and `body`.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => with_json_body(status, bytes),
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &format!("cannot encode response: {err}")),
    }
}

/// `200 OK` with a JSON document that is already encoded.
pub fn json_document(document: &'static str) -> Response {
    with_json_body(StatusCode::OK, document.as_bytes().to_vec())
}

/// `204 No Content`.
pub fn no_content() -> Response {
    let mut response = Response::new(FullBody::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// The standard error response: `{"error":{"code":…,"message":…}}`.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    with_json_body(status, body.to_string().into_bytes())
}

fn with_json_body(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(FullBody::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(HeaderName::from_static("content-type"), HeaderValue::from_static("application/json"));
    response
}
