//! Email conformance probe: drives `keel:infrastructure/email` over HTTP.
//! `POST /send` (see [`send`]); everything else is 404.

mod send;

use keel_guest::http::{self as respond, Response};
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{Method, Request, StatusCode};

spin_sdk::wit_bindgen::generate!({
    path: ["../../../wit/infrastructure", "../../../wit/repositories", "../../../wit/platform", "../../../wit/domains", "../../../wit/triggers", "../../../wit/products"],
    world: "keel:products/email-conformance-probe",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

#[spin_sdk::http_service]
async fn handle(request: Request) -> Response {
    if request.method() != Method::POST || request.uri().path() != "/send" {
        return respond::error(StatusCode::NOT_FOUND, "not_found", "the probe serves POST /send");
    }
    match request.into_body().bytes().await {
        Ok(body) => send::send(&body).await,
        Err(err) => respond::error(StatusCode::BAD_REQUEST, "invalid_json", &format!("cannot read body: {err:?}")),
    }
}
