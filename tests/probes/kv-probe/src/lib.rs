//! KV conformance probe: drives `keel:infrastructure/kv` over HTTP.
//!
//! `POST /op` with one of
//! `{"op":"set","key":k,"value":"text","ttl_seconds":n?}` → `{}`,
//! `{"op":"get","key":k}` → `{"value":"text"|null}`,
//! `{"op":"delete","key":k}` → `{}`,
//! `{"op":"exists","key":k}` → `{"exists":bool}`,
//! `{"op":"list_keys","prefix":p}` → `{"keys":[…]}`,
//! `{"op":"increment","key":k,"delta":n,"ttl_seconds":t?}` → `{"value":n}`
//! (`increment-with-ttl` when `ttl_seconds` is given).
//! Errors: `{"error":{"code":…,"message":…}}` with 400 for invalid_input,
//! 503 for unavailable and 500 otherwise.
//!
//! The runtime's isolation suite also uses three misbehaving routes:
//! `POST /fault/spin` never returns, `POST /fault/trap` traps and
//! `POST /fault/exhaust-memory` allocates until memory runs out.

use keel::infrastructure::kv::{self, Error};
use keel_guest::http::{self as respond, Response};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{Method, Request, StatusCode};

spin_sdk::wit_bindgen::generate!({
    path: ["../../../wit/infrastructure", "../../../wit/repositories", "../../../wit/platform", "../../../wit/domains", "../../../wit/triggers", "../../../wit/products"],
    world: "keel:products/kv-conformance-probe",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    Set { key: String, value: String, ttl_seconds: Option<u32> },
    Get { key: String },
    Delete { key: String },
    Exists { key: String },
    ListKeys { prefix: String },
    Increment { key: String, delta: i64, ttl_seconds: Option<u32> },
}

#[spin_sdk::http_service]
async fn handle(request: Request) -> Response {
    if request.method() != Method::POST {
        return respond::error(StatusCode::NOT_FOUND, "not_found", "the probe only serves POST");
    }
    match request.uri().path() {
        "/op" => {}
        "/fault/spin" => spin_forever(),
        "/fault/trap" => panic!("the probe was asked to trap"),
        "/fault/exhaust-memory" => exhaust_memory(),
        _ => return respond::error(StatusCode::NOT_FOUND, "not_found", "unknown probe route"),
    }
    let op = match request.into_body().bytes().await {
        Ok(body) => serde_json::from_slice::<Op>(&body)
            .map_err(|err| respond::error(StatusCode::BAD_REQUEST, "invalid_json", &format!("bad probe request: {err}"))),
        Err(err) => Err(respond::error(StatusCode::BAD_REQUEST, "invalid_json", &format!("cannot read body: {err:?}"))),
    };
    match op {
        Ok(op) => match run(op).await {
            Ok(body) => respond::json(StatusCode::OK, &body),
            Err(err) => kv_error(err),
        },
        Err(response) => response,
    }
}

fn spin_forever() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn exhaust_memory() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1; 16 << 20]);
        std::hint::black_box(&hoard);
    }
}

async fn run(op: Op) -> Result<Json, Error> {
    Ok(match op {
        Op::Set { key, value, ttl_seconds: None } => {
            kv::set(key, value.into_bytes()).await?;
            json!({})
        }
        Op::Set { key, value, ttl_seconds: Some(ttl) } => {
            kv::set_with_ttl(key, value.into_bytes(), ttl).await?;
            json!({})
        }
        Op::Get { key } => {
            let value = kv::get(key).await?.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
            json!({ "value": value })
        }
        Op::Delete { key } => {
            kv::delete(key).await?;
            json!({})
        }
        Op::Exists { key } => json!({ "exists": kv::exists(key).await? }),
        Op::ListKeys { prefix } => json!({ "keys": kv::list_keys(prefix).await? }),
        Op::Increment { key, delta, ttl_seconds: None } => json!({ "value": kv::increment(key, delta).await? }),
        Op::Increment { key, delta, ttl_seconds: Some(ttl) } => {
            json!({ "value": kv::increment_with_ttl(key, delta, ttl).await? })
        }
    })
}

fn kv_error(err: Error) -> Response {
    let (status, code, message) = match err {
        Error::InvalidInput(message) => (StatusCode::BAD_REQUEST, "invalid_input", message),
        Error::Unavailable(message) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", message),
        Error::Internal(message) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", message),
    };
    respond::error(status, code, &message)
}
