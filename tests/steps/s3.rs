//! A local S3 that holds requests to S3's documented rules (as of 2026,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/>) when it answers:
//! path-style addressing of one bucket; AWS Signature Version 4 recomputed
//! and compared (`host`, `x-amz-content-sha256` and `x-amz-date` signed,
//! the payload hash matching the body, the clock within 15 minutes);
//! `Content-Length` on every `PUT`; multipart uploads whose parts are
//! numbered 1–10,000, completed in ascending order with their ETags, every
//! part but the last at least 5 MiB; ranged reads (206 / 416). Refusals are
//! S3's XML `<Error>` documents with its codes.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cucumber::{given, then};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use keel_sigv4::{AmzDate, Credentials};

use super::KeelWorld;

pub const BUCKET: &str = "keel-conformance";
pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY_ID: &str = "AKIDKEELS3CONFORMANCE";
pub const SECRET_ACCESS_KEY: &str = "keel/s3+SECRET/key";
/// The Spin variables of `blob-s3` pointed at the scenario's mock S3.
pub const VARIABLES: &[(&str, &str)] = &[
    ("s3_endpoint", super::server::S3),
    ("s3_bucket", BUCKET),
    ("s3_region", REGION),
    ("s3_access_key_id", ACCESS_KEY_ID),
    ("s3_secret_access_key", SECRET_ACCESS_KEY),
];
/// S3's smallest part but the last.
const MIN_PART: usize = 5 << 20;
const MAX_SKEW_SECS: i64 = 15 * 60;

/// A multipart upload's parts: number → ETag and bytes.
type Parts = BTreeMap<u32, (String, Vec<u8>)>;

#[derive(Default)]
struct Store {
    objects: HashMap<String, Vec<u8>>,
    /// Upload id → key and parts.
    uploads: HashMap<String, (String, Parts)>,
    next_upload: u64,
    /// `METHOD ?query` of every request the mock accepted, in order.
    log: Vec<String>,
    /// Answer `UploadPart` from this part number on with 500 InternalError.
    failing_parts_from: Option<u32>,
}

pub struct MockS3 {
    /// `http://127.0.0.1:<port>`, the `s3_endpoint` the adapter gets.
    pub base: String,
    store: Arc<Mutex<Store>>,
    /// Serves until the scenario drops the mock.
    _server: super::MockServer,
}

impl std::fmt::Debug for MockS3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MockS3({})", self.base)
    }
}

impl MockS3 {
    pub async fn start() -> MockS3 {
        let store = Arc::new(Mutex::new(Store::default()));
        let shared = store.clone();
        let (base, server) = super::serve_mock(move |request| answer(shared.clone(), request)).await;
        MockS3 { base, store, _server: server }
    }

    /// Requests accepted so far, as `METHOD ?query`.
    pub fn log(&self) -> Vec<String> {
        self.store.lock().unwrap().log.clone()
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn open_uploads(&self) -> usize {
        self.store.lock().unwrap().uploads.len()
    }
}

#[given(expr = "the mock S3 fails every upload part from part {int} on")]
async fn failing_parts(world: &mut KeelWorld, from: u32) {
    world.s3.as_ref().expect("a mock S3").store.lock().unwrap().failing_parts_from = Some(from);
}

#[then(expr = "the mock S3 took {int} part(s) of one multipart upload, completed once")]
async fn took_parts(world: &mut KeelWorld, parts: usize) {
    let s3 = world.s3.as_ref().expect("a mock S3");
    let log = s3.log();
    let count = |prefix: &str| log.iter().filter(|line| line.starts_with(prefix)).count();
    assert_eq!(count("POST ?uploads"), 1, "{log:?}");
    assert_eq!(count("PUT ?partNumber="), parts, "{log:?}");
    assert_eq!(count("POST ?uploadId="), 1, "{log:?}");
    assert_eq!(s3.open_uploads(), 0);
}

#[then("the mock S3 holds no unfinished multipart upload")]
async fn no_open_uploads(world: &mut KeelWorld) {
    let s3 = world.s3.as_ref().expect("a mock S3");
    assert_eq!(s3.open_uploads(), 0, "{:?}", s3.log());
    assert!(s3.log().iter().any(|line| line.starts_with("DELETE ?uploadId=")), "no abort: {:?}", s3.log());
}

type Reply = Response<Full<Bytes>>;

fn error(status: StatusCode, code: &str, message: &str) -> Reply {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>mock</RequestId></Error>"
    );
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn reply(status: StatusCode, headers: &[(&str, String)], body: Vec<u8>) -> Reply {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(Full::new(Bytes::from(body))).unwrap()
}

struct Incoming {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Incoming {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }
}

async fn answer(store: Arc<Mutex<Store>>, request: Request<hyper::body::Incoming>) -> Result<Reply, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
    let incoming = Incoming {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect(),
        body,
    };
    if let Some(refusal) = refusal(&incoming) {
        return Ok(refusal);
    }
    let Some(key) = incoming.path.strip_prefix(&format!("/{BUCKET}/")).filter(|key| !key.is_empty()).map(str::to_owned)
    else {
        return Ok(error(StatusCode::NOT_FOUND, "NoSuchBucket", "The specified bucket does not exist"));
    };
    let mut store = store.lock().unwrap();
    let answer = operate(&mut store, &incoming, &key);
    if answer.status().is_success() {
        store.log.push(format!("{} ?{}", incoming.method, incoming.query));
    }
    Ok(answer)
}

/// What S3 answers a request whose SigV4 authentication fails, if it does.
fn refusal(request: &Incoming) -> Option<Reply> {
    let denied = |code: &str, message: &str| Some(error(StatusCode::FORBIDDEN, code, message));
    let Some(authorization) = request.header("authorization") else {
        return denied("AccessDenied", "Access Denied");
    };
    let field = |name: &str| authorization.split([' ', ',']).find_map(|part| part.strip_prefix(name));
    let credential = field("Credential=").unwrap_or_default();
    if !credential.starts_with(&format!("{ACCESS_KEY_ID}/")) {
        return denied("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
    }
    let signed = field("SignedHeaders=").unwrap_or_default();
    for required in ["host", "x-amz-content-sha256", "x-amz-date"] {
        if !signed.split(';').any(|name| name == required) {
            return denied("AccessDenied", &format!("{required} must be signed"));
        }
    }
    let payload_hash = request.header("x-amz-content-sha256").unwrap_or_default();
    if payload_hash != keel_sigv4::hex_sha256(&request.body) {
        let refusal = "The provided 'x-amz-content-sha256' header does not match what was computed.";
        return Some(error(StatusCode::BAD_REQUEST, "XAmzContentSHA256Mismatch", refusal));
    }
    let date_text = request.header("x-amz-date").unwrap_or_default();
    let Ok(date) = AmzDate::parse(date_text) else {
        return denied("AccessDenied", "x-amz-date is malformed");
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
    let (earliest, latest) =
        (AmzDate::from_unix_seconds(now - MAX_SKEW_SECS), AmzDate::from_unix_seconds(now + MAX_SKEW_SECS));
    if date_text < earliest.as_str() || date_text > latest.as_str() {
        return denied(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        );
    }
    let headers: Vec<(&str, &str)> =
        match signed.split(';').map(|name| request.header(name).map(|value| (name, value))).collect::<Option<Vec<_>>>()
        {
            Some(headers) => headers,
            None => return denied("AccessDenied", "a signed header is missing"),
        };
    let credentials = Credentials {
        access_key_id: ACCESS_KEY_ID.into(),
        secret_access_key: SECRET_ACCESS_KEY.into(),
        session_token: None,
    };
    let to_sign = keel_sigv4::Request {
        method: &request.method,
        path: &request.path,
        query: &request.query,
        headers: &headers,
        payload: &request.body,
    };
    match keel_sigv4::sign(&to_sign, &credentials, REGION, "s3", &date) {
        Ok(expected) if expected.authorization == authorization => None,
        _ => denied(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ),
    }
}

fn operate(store: &mut Store, request: &Incoming, key: &str) -> Reply {
    let upload_id = request.param("uploadId").map(str::to_owned);
    match (request.method.as_str(), upload_id) {
        ("PUT", None) => {
            if request.header("content-length").is_none() {
                return error(
                    StatusCode::LENGTH_REQUIRED,
                    "MissingContentLength",
                    "You must provide the Content-Length HTTP header.",
                );
            }
            store.objects.insert(key.to_owned(), request.body.clone());
            reply(StatusCode::OK, &[("etag", etag(&request.body))], Vec::new())
        }
        ("PUT", Some(id)) => {
            let Some(number) =
                request.param("partNumber").and_then(|n| n.parse::<u32>().ok()).filter(|n| (1..=10_000).contains(n))
            else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "Part number must be an integer between 1 and 10000, inclusive",
                );
            };
            if request.header("content-length").is_none() {
                return error(
                    StatusCode::LENGTH_REQUIRED,
                    "MissingContentLength",
                    "You must provide the Content-Length HTTP header.",
                );
            }
            if store.failing_parts_from.is_some_and(|from| number >= from) {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                );
            }
            let Some((owner, parts)) = store.uploads.get_mut(&id) else { return no_such_upload() };
            if owner != key {
                return no_such_upload();
            }
            let tag = etag(&request.body);
            parts.insert(number, (tag.clone(), request.body.clone()));
            reply(StatusCode::OK, &[("etag", tag)], Vec::new())
        }
        ("POST", None) if request.param("uploads").is_some() => {
            store.next_upload += 1;
            let id = format!("mock-upload.{}", store.next_upload);
            store.uploads.insert(id.clone(), (key.to_owned(), BTreeMap::new()));
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult><Bucket>{BUCKET}</Bucket><Key>{key}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>"
            );
            reply(StatusCode::OK, &[("content-type", "application/xml".into())], body.into_bytes())
        }
        ("POST", Some(id)) => complete(store, request, key, &id),
        ("DELETE", Some(id)) => match store.uploads.get(&id) {
            Some((owner, _)) if owner == key => {
                store.uploads.remove(&id);
                reply(StatusCode::NO_CONTENT, &[], Vec::new())
            }
            _ => no_such_upload(),
        },
        ("GET", None) => match store.objects.get(key) {
            None => no_such_key(),
            Some(object) => read(object, request.header("range")),
        },
        ("HEAD", None) => match store.objects.get(key) {
            None => reply(StatusCode::NOT_FOUND, &[], Vec::new()),
            Some(object) => reply(
                StatusCode::OK,
                &[("content-length", object.len().to_string()), ("etag", etag(object))],
                Vec::new(),
            ),
        },
        ("DELETE", None) => {
            store.objects.remove(key);
            reply(StatusCode::NO_CONTENT, &[], Vec::new())
        }
        _ => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        ),
    }
}

fn complete(store: &mut Store, request: &Incoming, key: &str, id: &str) -> Reply {
    let Some((owner, parts)) = store.uploads.get(id) else { return no_such_upload() };
    if owner != key {
        return no_such_upload();
    }
    let text = String::from_utf8_lossy(&request.body);
    let listed: Vec<(u32, String)> = text
        .split("<Part>")
        .skip(1)
        .filter_map(|part| {
            let number = between(part, "PartNumber")?.trim().parse().ok()?;
            let tag = between(part, "ETag")?.replace("&quot;", "\"");
            Some((number, tag))
        })
        .collect();
    if listed.is_empty() || !text.contains("<CompleteMultipartUpload") {
        return error(
            StatusCode::BAD_REQUEST,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        );
    }
    if listed.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
        return error(StatusCode::BAD_REQUEST, "InvalidPartOrder", "The list of parts was not in ascending order.");
    }
    let mut object = Vec::new();
    for (index, (number, tag)) in listed.iter().enumerate() {
        let Some((_, bytes)) = parts.get(number).filter(|(stored, _)| stored == tag) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidPart",
                "One or more of the specified parts could not be found.",
            );
        };
        if index + 1 < listed.len() && bytes.len() < MIN_PART {
            return error(
                StatusCode::BAD_REQUEST,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
            );
        }
        object.extend_from_slice(bytes);
    }
    store.uploads.remove(id);
    store.objects.insert(key.to_owned(), object);
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult><Bucket>{BUCKET}</Bucket><Key>{key}</Key></CompleteMultipartUploadResult>"
    );
    reply(StatusCode::OK, &[("content-type", "application/xml".into())], body.into_bytes())
}

/// A ranged (or whole) `GetObject`.
fn read(object: &[u8], range: Option<&str>) -> Reply {
    let size = object.len();
    let Some(spec) = range.and_then(|range| range.strip_prefix("bytes=")) else {
        return reply(StatusCode::OK, &[("content-length", size.to_string())], object.to_vec());
    };
    let (first, last) = spec.split_once('-').unwrap_or((spec, ""));
    let (Ok(first), last) = (first.parse::<usize>(), last.parse::<usize>().ok()) else {
        return reply(StatusCode::OK, &[("content-length", size.to_string())], object.to_vec());
    };
    if first >= size {
        return error(StatusCode::RANGE_NOT_SATISFIABLE, "InvalidRange", "The requested range is not satisfiable");
    }
    let end = last.map_or(size, |last| (last + 1).min(size));
    let headers = [("content-range", format!("bytes {first}-{}/{size}", end - 1))];
    reply(StatusCode::PARTIAL_CONTENT, &headers, object[first..end].to_vec())
}

fn between<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    let start = text.find(&format!("<{name}>"))? + name.len() + 2;
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(&text[start..end])
}

fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", &keel_sigv4::hex_sha256(bytes)[..32])
}

fn no_such_key() -> Reply {
    error(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.")
}

fn no_such_upload() -> Reply {
    error(
        StatusCode::NOT_FOUND,
        "NoSuchUpload",
        "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.",
    )
}
