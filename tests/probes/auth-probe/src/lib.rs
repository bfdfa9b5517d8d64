//! Auth conformance probe: drives `keel:infrastructure/auth` over HTTP.
//!
//! * `POST /verify` `{"token":t}` → 200
//!   `{"subject":…,"email":…|null,"expires_at":n}`;
//! * `POST /hash-password` `{"password":p}` → 200 `{"hash":…}`;
//! * `POST /issue-token` `{"subject":s,"email":e?,"token_id":t?,"ttl_seconds":n}` → 200
//!   `{"token":…}`.
//!
//! Errors: `{"error":{"code":"<auth error variant>","message":…}}` with 401
//! for `invalid-token`, 400 for `invalid-input`, 501 for `unsupported` and
//! 503 for `unavailable`.

use keel::infrastructure::auth::{self, Error};
use keel_guest::http::{self as respond, Response};
use serde::Deserialize;
use serde_json::json;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{Method, Request, StatusCode};

spin_sdk::wit_bindgen::generate!({
    path: ["../../../wit/infrastructure", "../../../wit/repositories", "../../../wit/platform", "../../../wit/domains", "../../../wit/triggers", "../../../wit/products"],
    world: "keel:products/auth-conformance-probe",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

#[derive(Deserialize)]
struct Verify {
    token: String,
}

#[derive(Deserialize)]
struct HashPassword {
    password: String,
}

#[derive(Deserialize)]
struct IssueToken {
    subject: String,
    email: Option<String>,
    #[serde(default)]
    token_id: Option<String>,
    ttl_seconds: u32,
}

#[spin_sdk::http_service]
async fn handle(request: Request) -> Response {
    if request.method() != Method::POST {
        return respond::error(StatusCode::NOT_FOUND, "not_found", "the probe only serves POST");
    }
    let path = request.uri().path().to_owned();
    let body = match request.into_body().bytes().await {
        Ok(body) => body,
        Err(err) => return respond::error(StatusCode::BAD_REQUEST, "invalid_json", &format!("cannot read body: {err:?}")),
    };
    let outcome = match path.as_str() {
        "/verify" => match parse::<Verify>(&body) {
            Ok(Verify { token }) => auth::verify_token(token).await.map(|identity| {
                json!({ "subject": identity.subject, "email": identity.email, "expires_at": identity.expires_at, "token_id": identity.token_id })
            }),
            Err(response) => return response,
        },
        "/hash-password" => match parse::<HashPassword>(&body) {
            Ok(HashPassword { password }) => auth::hash_password(&password).map(|hash| json!({ "hash": hash })),
            Err(response) => return response,
        },
        "/issue-token" => match parse::<IssueToken>(&body) {
            Ok(IssueToken { subject, email, token_id, ttl_seconds }) => {
                auth::issue_token(subject, email, token_id, ttl_seconds).await.map(|token| json!({ "token": token }))
            }
            Err(response) => return response,
        },
        _ => return respond::error(StatusCode::NOT_FOUND, "not_found", "unknown probe route"),
    };
    match outcome {
        Ok(body) => respond::json(StatusCode::OK, &body),
        Err(err) => auth_error(err),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|err| respond::error(StatusCode::BAD_REQUEST, "invalid_json", &format!("bad probe request: {err}")))
}

fn auth_error(err: Error) -> Response {
    let (status, code, message) = match err {
        Error::InvalidToken(message) => (StatusCode::UNAUTHORIZED, "invalid-token", message),
        Error::InvalidInput(message) => (StatusCode::BAD_REQUEST, "invalid-input", message),
        Error::Unsupported(message) => (StatusCode::NOT_IMPLEMENTED, "unsupported", message),
        Error::Unavailable(message) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", message),
    };
    respond::error(status, code, &message)
}
