//! Blob-store conformance probe: drives `keel:infrastructure/blob-store`
//! over HTTP.
//!
//! * `PUT /blobs/{key}?chunk=N` streams the request body into an upload,
//!   `N` bytes per `write` (default 65536), then finishes it → `{"size":n}`.
//! * `PUT /abandoned/{key}` writes the body but drops the upload unfinished
//!   → `{}`.
//! * `PUT /twice/{key}` finishes an upload, then writes to it and finishes
//!   it again → the error of each later call.
//! * `GET /blobs/{key}?offset=O&length=L` → the bytes (`application/octet-stream`),
//!   by default the whole blob read 1 MiB per call.
//! * `GET /size/{key}` → `{"size":n}`; `DELETE /blobs/{key}` → 204.
//!
//! Store errors are `{"error":{"code":…,"message":…}}`: `not_found` 404,
//! `invalid_input` 400, `upload_closed` 409, `unavailable` 503, `internal`
//! 500.

use bytes::Bytes;
use futures::StreamExt;
use keel::infrastructure::blob_store::{self, Error};
use keel_guest::http::{self as respond, Response};
use serde_json::json;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, Method, Request, StatusCode};

spin_sdk::wit_bindgen::generate!({
    path: ["../../../wit/infrastructure", "../../../wit/repositories", "../../../wit/platform", "../../../wit/domains", "../../../wit/triggers", "../../../wit/products"],
    world: "keel:products/blob-conformance-probe",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

/// Bytes per `read` when the whole blob is asked for.
const READ_STEP: u32 = 1 << 20;

#[spin_sdk::http_service]
async fn handle(request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let number = |name: &str| -> Option<u64> {
        query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    let (route, key) = match path.trim_start_matches('/').split_once('/') {
        Some((route, key)) => (route.to_owned(), key.to_owned()),
        None => return respond::error(StatusCode::NOT_FOUND, "not_found", "unknown probe route"),
    };
    let outcome = match (request.method().clone(), route.as_str()) {
        (Method::PUT, "blobs") => {
            let step = number("chunk").unwrap_or(65536).max(1) as usize;
            put(&key, request, step, true).await.map(|size| respond::json(StatusCode::OK, &json!({ "size": size })))
        }
        (Method::PUT, "abandoned") => {
            put(&key, request, 65536, false).await.map(|_| respond::json(StatusCode::OK, &json!({})))
        }
        (Method::PUT, "twice") => twice(&key).await,
        (Method::GET, "blobs") => get(&key, number("offset"), number("length")).await,
        (Method::GET, "size") => {
            blob_store::size(key).await.map(|size| respond::json(StatusCode::OK, &json!({ "size": size })))
        }
        (Method::DELETE, "blobs") => blob_store::delete(key).await.map(|()| respond::no_content()),
        _ => return respond::error(StatusCode::NOT_FOUND, "not_found", "unknown probe route"),
    };
    outcome.unwrap_or_else(store_error)
}

/// Stream the body into an upload, `step` bytes per write; finish it when
/// `finish`, else drop it.
async fn put(key: &str, request: Request, step: usize, finish: bool) -> Result<u64, Error> {
    let upload = blob_store::start_upload(key.to_owned()).await?;
    let mut body = request.into_body().stream();
    let mut pending = Vec::new();
    while let Some(frame) = body.next().await {
        let data = frame.map_err(|err| Error::InvalidInput(format!("cannot read the body: {err:?}")))?;
        pending.extend_from_slice(&data);
        while pending.len() >= step {
            let rest = pending.split_off(step);
            upload.write(std::mem::replace(&mut pending, rest)).await?;
        }
    }
    if !pending.is_empty() {
        upload.write(pending).await?;
    }
    if finish { upload.finish().await } else { Ok(0) }
}

/// A finished upload refuses more work.
async fn twice(key: &str) -> Result<Response, Error> {
    let upload = blob_store::start_upload(key.to_owned()).await?;
    upload.write(b"once".to_vec()).await?;
    upload.finish().await?;
    let code = |outcome: Result<(), Error>| match outcome {
        Ok(()) => "ok".to_owned(),
        Err(err) => error_code(&err).1.to_owned(),
    };
    let write = code(upload.write(b"again".to_vec()).await);
    let finish = code(upload.finish().await.map(|_| ()));
    Ok(respond::json(StatusCode::OK, &json!({ "write": write, "finish": finish })))
}

async fn get(key: &str, offset: Option<u64>, length: Option<u64>) -> Result<Response, Error> {
    let bytes = match length {
        Some(length) => {
            let length = u32::try_from(length).map_err(|_| Error::InvalidInput("length too large".into()))?;
            blob_store::read(key.to_owned(), offset.unwrap_or(0), length).await?
        }
        None => {
            let mut all = Vec::new();
            let mut offset = offset.unwrap_or(0);
            loop {
                let part = blob_store::read(key.to_owned(), offset, READ_STEP).await?;
                if part.is_empty() {
                    break all;
                }
                offset += part.len() as u64;
                all.extend_from_slice(&part);
            }
        }
    };
    let mut response = spin_sdk::http::Response::new(FullBody::new(Bytes::from(bytes)));
    response.headers_mut().insert("content-type", "application/octet-stream".parse().expect("header value"));
    Ok(response)
}

fn error_code(err: &Error) -> (StatusCode, &'static str, String) {
    match err {
        Error::NotFound => (StatusCode::NOT_FOUND, "not_found", "no blob under that key".to_owned()),
        Error::InvalidInput(message) => (StatusCode::BAD_REQUEST, "invalid_input", message.clone()),
        Error::UploadClosed => (StatusCode::CONFLICT, "upload_closed", "the upload is closed".to_owned()),
        Error::Unavailable(message) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", message.clone()),
        Error::Internal(message) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", message.clone()),
    }
}

fn store_error(err: Error) -> Response {
    let (status, code, message) = error_code(&err);
    respond::error(status, code, &message)
}
