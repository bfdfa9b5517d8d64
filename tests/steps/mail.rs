//! The email conformance steps and the mock email provider they run against.
//!
//! [`MockProvider`] is one in-process HTTP server on `127.0.0.1:0` that
//! speaks the three provider APIs the adapters use, chosen by path:
//! SendGrid `POST /v3/mail/send`, Mailgun `POST /v3/{domain}/messages` and
//! Amazon SES v2 `POST /v2/email/outbound-emails`. Like the real services,
//! it checks the credentials first (the bearer key, the basic-auth key, or
//! the SigV4 `Authorization` header recomputed with `keel-sigv4`) and
//! answers with the documented error payloads. Then, on every request, it
//! applies the provider's documented request rules (method, path including
//! the Mailgun domain, content type, required fields and their shapes,
//! recipient limits, SendGrid's non-empty `to` per personalization and
//! unique addresses, SigV4 date skew for SES: see [`sendgrid_rules`],
//! [`mailgun_rules`], [`ses_rules`], [`sigv4_fresh`]) and answers a broken
//! one with the provider's 400/403 and error body, as the real API does;
//! only then does it answer as the scenario set it up (accept, rate limit,
//! bad address …). It records every request, and
//! [`provider_received_documented_request`] checks the last one field by
//! field against what the scenario sent.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use cucumber::{given, then, when};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use keel_sigv4::{AmzDate, Credentials};
use serde_json::{Value, json};

use super::KeelWorld;

/// The SendGrid API key the mock accepts.
pub const SENDGRID_KEY: &str = "SG.keel-conformance-key";
/// The Mailgun API key and sending domain the mock accepts.
pub const MAILGUN_KEY: &str = "key-keel-conformance";
pub const MAILGUN_DOMAIN: &str = "mg.example.com";
/// The AWS credentials and region the mock SES accepts.
pub const SES_ACCESS_KEY_ID: &str = "AKIDKEELCONFORMANCE";
pub const SES_SECRET_ACCESS_KEY: &str = "keel/conformance+SECRET/key";
pub const SES_REGION: &str = "us-east-1";

const SES_PATH: &str = "/v2/email/outbound-emails";
const SENDGRID_PATH: &str = "/v3/mail/send";

/// How the mock answers requests that pass the credential check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Accept,
    RateLimited(Option<u32>),
    Revoked,
    BadAddress,
    BadMessage,
    Broken,
    /// Takes the request and does not answer for a minute.
    Stalled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    SendGrid,
    Mailgun,
    Ses,
}

/// One request as the mock received it, and the id it answered with.
#[derive(Debug, Clone)]
pub struct Recorded {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    assigned_id: Option<String>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

struct MockState {
    mode: Mode,
    requests: Vec<Recorded>,
}

/// The running mock provider.
#[derive(Debug)]
pub struct MockProvider {
    /// `http://127.0.0.1:<port>`, the API base the adapters get.
    pub base: String,
    state: Arc<Mutex<MockState>>,
    server: super::MockServer,
}

impl std::fmt::Debug for MockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MockState({:?}, {} requests)", self.mode, self.requests.len())
    }
}

impl MockProvider {
    pub async fn start() -> MockProvider {
        let state = Arc::new(Mutex::new(MockState { mode: Mode::Accept, requests: Vec::new() }));
        let shared = state.clone();
        let (base, server) = super::serve_mock(move |request| answer(shared.clone(), request)).await;
        MockProvider { base, state, server }
    }

    fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The JSON bodies of the SendGrid sends the mock accepted, oldest first.
    pub fn accepted_sendgrid_bodies(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|request| request.path == SENDGRID_PATH && request.assigned_id.is_some())
            .map(|request| serde_json::from_slice(&request.body).expect("SendGrid bodies are JSON"))
            .collect()
    }

    /// Stop accepting connections: the provider becomes unreachable.
    fn stop(&self) {
        self.server.stop();
    }
}

type Reply = Response<Full<Bytes>>;

async fn answer(state: Arc<Mutex<MockState>>, request: Request<hyper::body::Incoming>) -> Result<Reply, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
    let mut recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect(),
        body,
        assigned_id: None,
    };
    if state.lock().unwrap().mode == Mode::Stalled {
        state.lock().unwrap().requests.push(recorded);
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        return Ok(text(StatusCode::GATEWAY_TIMEOUT, "stalled"));
    }
    let mut state = state.lock().unwrap();
    let count = state.requests.len() + 1;
    let reply = match provider_of(&recorded.path) {
        None => text(StatusCode::NOT_FOUND, "404 page not found"),
        Some(provider) => {
            let (reply, id) = respond(provider, state.mode, &recorded, count);
            recorded.assigned_id = id;
            reply
        }
    };
    state.requests.push(recorded);
    Ok(reply)
}

fn provider_of(path: &str) -> Option<Provider> {
    match path {
        SENDGRID_PATH => Some(Provider::SendGrid),
        SES_PATH => Some(Provider::Ses),
        _ if path.starts_with("/v3/") && path.ends_with("/messages") => Some(Provider::Mailgun),
        _ => None,
    }
}

/// The provider's answer (and the message id it assigned, on success).
fn respond(provider: Provider, mode: Mode, request: &Recorded, count: usize) -> (Reply, Option<String>) {
    let authorized = mode != Mode::Revoked && credentials_ok(provider, request).is_ok();
    match provider {
        Provider::SendGrid => {
            let errors = |status, field: Value, message: &str| {
                json_reply(status, json!({ "errors": [{ "message": message, "field": field, "help": null }] }))
            };
            if !authorized {
                let reply = errors(StatusCode::UNAUTHORIZED, Value::Null, "The provided authorization grant is invalid, expired, or revoked");
                return (reply, None);
            }
            if let Err((field, message)) = sendgrid_rules(request) {
                return (errors(StatusCode::BAD_REQUEST, field, &message), None);
            }
            match mode {
                Mode::Accept | Mode::Revoked => {
                    let id = format!("sg-mock-{count}");
                    let reply = Response::builder()
                        .status(StatusCode::ACCEPTED)
                        .header("x-message-id", &id)
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                    (reply, Some(id))
                }
                Mode::RateLimited(after) => (with_retry_after(errors(StatusCode::TOO_MANY_REQUESTS, Value::Null, "too many requests"), after), None),
                Mode::BadAddress => (
                    errors(StatusCode::BAD_REQUEST, json!("personalizations.0.to.0.email"), "Does not contain a valid address."),
                    None,
                ),
                Mode::BadMessage => (
                    errors(StatusCode::BAD_REQUEST, json!("content.0.value"), "The content value must be a string at least one character in length."),
                    None,
                ),
                Mode::Broken | Mode::Stalled => (errors(StatusCode::INTERNAL_SERVER_ERROR, Value::Null, "internal server error"), None),
            }
        }
        Provider::Mailgun => {
            if !authorized {
                return (text(StatusCode::UNAUTHORIZED, "Forbidden"), None);
            }
            let message = |status, message: &str| json_reply(status, json!({ "message": message }));
            if let Err(broken) = mailgun_rules(request) {
                return (message(StatusCode::BAD_REQUEST, &broken), None);
            }
            match mode {
                Mode::Accept | Mode::Revoked => {
                    let id = format!("<20260101000000.{count}.KEELMOCK@{MAILGUN_DOMAIN}>");
                    (json_reply(StatusCode::OK, json!({ "id": id, "message": "Queued. Thank you." })), Some(id))
                }
                Mode::RateLimited(after) => (with_retry_after(message(StatusCode::TOO_MANY_REQUESTS, "Too many requests"), after), None),
                Mode::BadAddress => (
                    message(StatusCode::BAD_REQUEST, "to parameter is not a valid address. please check documentation"),
                    None,
                ),
                Mode::BadMessage => (message(StatusCode::BAD_REQUEST, "Need at least one of 'text' or 'html' parameters specified"), None),
                Mode::Broken | Mode::Stalled => (message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"), None),
            }
        }
        Provider::Ses => {
            let error = |status, kind: &str, message: &str| {
                let mut reply = json_reply(status, json!({ "message": message }));
                reply.headers_mut().insert("x-amzn-errortype", kind.parse().unwrap());
                reply
            };
            if mode == Mode::Revoked {
                let reply = error(StatusCode::FORBIDDEN, "UnrecognizedClientException", "The security token included in the request is invalid.");
                return (reply, None);
            }
            if let Err(why) = credentials_ok(provider, request) {
                let message = format!(
                    "The request signature we calculated does not match the signature you provided. \
                     Check your AWS Secret Access Key and signing method. ({why})"
                );
                return (error(StatusCode::FORBIDDEN, "InvalidSignatureException", &message), None);
            }
            if let Err(message) = sigv4_fresh(request) {
                return (error(StatusCode::FORBIDDEN, "InvalidSignatureException", &message), None);
            }
            if let Err(message) = ses_rules(request) {
                return (error(StatusCode::BAD_REQUEST, "BadRequestException", &message), None);
            }
            match mode {
                Mode::Accept | Mode::Revoked => {
                    let id = format!("0100018c-keel-mock-{count:04}-000000");
                    (json_reply(StatusCode::OK, json!({ "MessageId": id })), Some(id))
                }
                Mode::RateLimited(after) => (
                    with_retry_after(error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException", "Maximum sending rate exceeded."), after),
                    None,
                ),
                Mode::BadAddress => (
                    error(
                        StatusCode::BAD_REQUEST,
                        "MessageRejected",
                        "Email address is not verified. The following identities failed the check in region US-EAST-1: ada@example.com",
                    ),
                    None,
                ),
                Mode::BadMessage => (error(StatusCode::BAD_REQUEST, "BadRequestException", "Message content is invalid."), None),
                Mode::Broken | Mode::Stalled => (error(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", "An internal error occurred."), None),
            }
        }
    }
}

/// The request rules of SendGrid's v3 Mail Send API
/// (<https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send>,
/// as of 2026), checked when the mock answers: the first broken one as
/// SendGrid reports it, `(field, message)`.
fn sendgrid_rules(request: &Recorded) -> Result<(), (Value, String)> {
    let broken = |field: &str, message: &str| Err((json!(field), message.to_string()));
    if request.method != "POST" {
        return broken("", "Method not allowed");
    }
    if !request.header("content-type").is_some_and(|t| t.starts_with("application/json")) {
        return broken("", "Content-Type should be application/json.");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return broken("", "Bad Request");
    };
    let valid_email = |value: &Value| value.get("email").and_then(Value::as_str).is_some_and(|e| {
        e.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !e.contains(char::is_whitespace))
    });
    let personalizations = body["personalizations"].as_array().filter(|p| !p.is_empty());
    let Some(personalizations) = personalizations else {
        return broken(
            "personalizations",
            "The personalizations field is required and must have at least one personalization.",
        );
    };
    if personalizations.len() > 1000 {
        return broken("personalizations", "You may not have more than 1000 personalizations per API request.");
    }
    let mut recipients = 0;
    for (i, personalization) in personalizations.iter().enumerate() {
        if personalization["to"].as_array().is_none_or(|to| to.is_empty()) {
            return broken(
                &format!("personalizations.{i}.to"),
                "The to array is required for all personalization objects, and must have at least one email object.",
            );
        }
        let mut seen = std::collections::HashSet::new();
        for kind in ["to", "cc", "bcc"] {
            let Some(list) = personalization.get(kind) else { continue };
            let Some(list) = list.as_array().filter(|l| !l.is_empty()) else {
                return broken(
                    &format!("personalizations.{i}.{kind}"),
                    &format!("The {kind} array must have at least one email object when present."),
                );
            };
            for (j, address) in list.iter().enumerate() {
                if !valid_email(address) {
                    return broken(&format!("personalizations.{i}.{kind}.{j}.email"), "Does not contain a valid address.");
                }
                let email = address["email"].as_str().unwrap_or_default().to_ascii_lowercase();
                if !seen.insert(email.clone()) {
                    return broken(
                        &format!("personalizations.{i}"),
                        &format!(
                            "Each email address in the personalization block should be unique between to, cc, and bcc. \
                             We found the first duplicate instance of [{email}] in the personalizations.{i}.{kind} field."
                        ),
                    );
                }
                recipients += 1;
            }
        }
    }
    if recipients > 1000 {
        return broken("personalizations", "The total number of recipients must be no more than 1000.");
    }
    if !valid_email(&body["from"]) {
        return broken(
            "from",
            "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.",
        );
    }
    if body.get("reply_to").is_some() && !valid_email(&body["reply_to"]) {
        return broken("reply_to.email", "Does not contain a valid address.");
    }
    if body["subject"].as_str().is_none_or(|s| s.is_empty()) {
        return broken(
            "subject",
            "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
        );
    }
    let content = body["content"].as_array().filter(|c| !c.is_empty());
    let Some(content) = content else {
        return broken("content", "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.");
    };
    for (i, block) in content.iter().enumerate() {
        if block["value"].as_str().is_none_or(|v| v.is_empty()) {
            return broken(&format!("content.{i}.value"), "The content value must be a string at least one character in length.");
        }
        if i > 0 && block["type"] == "text/plain" {
            return broken(&format!("content.{i}.type"), "The text/plain content type must be first, followed by any other content.");
        }
    }
    if let Some(categories) = body.get("categories") {
        let categories = categories.as_array().cloned().unwrap_or_default();
        if categories.len() > 10 || categories.iter().any(|c| c.as_str().is_none_or(|c| c.len() > 255)) {
            return broken("categories", "You may not use more than 10 categories per email, each at most 255 characters.");
        }
    }
    Ok(())
}

/// The request rules of Mailgun's `POST /v3/{domain}/messages`
/// (<https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages>,
/// as of 2026), checked when the mock answers: the first broken one, as
/// Mailgun words it.
fn mailgun_rules(request: &Recorded) -> Result<(), String> {
    if request.method != "POST" {
        return Err("Method not allowed".into());
    }
    if request.path != format!("/v3/{MAILGUN_DOMAIN}/messages") {
        return Err("Domain not found".into());
    }
    if request.header("content-type") != Some("application/x-www-form-urlencoded")
        && !request.header("content-type").is_some_and(|t| t.starts_with("multipart/form-data"))
    {
        return Err("Unsupported Content-Type".into());
    }
    let fields: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
    let has = |name: &str| fields.iter().any(|(key, value)| key == name && !value.trim().is_empty());
    if !has("from") {
        return Err("'from' parameter is missing".into());
    }
    if !has("to") {
        return Err("'to' parameter is missing".into());
    }
    if !has("subject") {
        return Err("'subject' parameter is missing".into());
    }
    if !has("text") && !has("html") && !has("template") {
        return Err("Need at least one of 'text', 'html' or 'template' parameters specified".into());
    }
    let recipients = fields.iter().filter(|(key, _)| matches!(key.as_str(), "to" | "cc" | "bcc")).count();
    if recipients > 1000 {
        return Err("Too many recipients: a message may have at most 1000".into());
    }
    if let Some((_, variables)) = fields.iter().find(|(key, _)| key == "recipient-variables")
        && !serde_json::from_str::<Value>(variables).is_ok_and(|v| v.is_object())
    {
        return Err("recipient-variables parameter is not a valid JSON object".into());
    }
    Ok(())
}

/// AWS refuses a SigV4 request whose `X-Amz-Date` is more than five
/// minutes from its clock ("Signature expired").
fn sigv4_fresh(request: &Recorded) -> Result<(), String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
    let date = request.header("x-amz-date").unwrap_or_default();
    let (earliest, latest) = (AmzDate::from_unix_seconds(now - 300), AmzDate::from_unix_seconds(now + 300));
    if date < earliest.as_str() {
        let now = AmzDate::from_unix_seconds(now);
        return Err(format!("Signature expired: {date} is now earlier than {} ({} - 5 min.)", earliest.as_str(), now.as_str()));
    }
    if date > latest.as_str() {
        let now = AmzDate::from_unix_seconds(now);
        return Err(format!("Signature not yet current: {date} is still later than {} ({} + 5 min.)", latest.as_str(), now.as_str()));
    }
    Ok(())
}

/// The request rules of Amazon SES v2 `SendEmail`
/// (<https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html>,
/// as of 2026) for simple content, checked when the mock answers.
fn ses_rules(request: &Recorded) -> Result<(), String> {
    if request.method != "POST" || request.path != SES_PATH {
        return Err(format!("No route for {} {}", request.method, request.path));
    }
    if !request.header("content-type").is_some_and(|t| t.starts_with("application/json")) {
        return Err("Content-Type must be application/json".into());
    }
    let body: Value = serde_json::from_slice(&request.body).map_err(|_| "The request body is not valid JSON".to_string())?;
    let destination = &body["Destination"];
    let count = |kind: &str| destination[kind].as_array().map_or(0, Vec::len);
    let recipients = count("ToAddresses") + count("CcAddresses") + count("BccAddresses");
    if recipients == 0 {
        return Err("Missing required field: at least one recipient in Destination".into());
    }
    if recipients > 50 {
        return Err("Recipient count exceeds 50.".into());
    }
    let simple = &body["Content"]["Simple"];
    if !simple["Subject"]["Data"].is_string() {
        return Err("Missing required field Content.Simple.Subject.Data".into());
    }
    let body_part = &simple["Body"];
    if !body_part["Text"]["Data"].is_string() && !body_part["Html"]["Data"].is_string() {
        return Err("Missing required field: Content.Simple.Body needs Text or Html".into());
    }
    if body.get("FromEmailAddress").is_some_and(|from| !from.is_string()) {
        return Err("FromEmailAddress must be a string".into());
    }
    Ok(())
}

fn json_reply(status: StatusCode, body: Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn text(status: StatusCode, body: &'static str) -> Reply {
    Response::builder().status(status).header("content-type", "text/plain").body(Full::new(Bytes::from(body))).unwrap()
}

fn with_retry_after(mut reply: Reply, after: Option<u32>) -> Reply {
    if let Some(seconds) = after {
        reply.headers_mut().insert("retry-after", seconds.into());
    }
    reply
}

/// Whether the request carries the credentials the provider documents.
fn credentials_ok(provider: Provider, request: &Recorded) -> Result<(), String> {
    let authorization = request.header("authorization").ok_or("no Authorization header")?;
    match provider {
        Provider::SendGrid => (authorization == format!("Bearer {SENDGRID_KEY}"))
            .then_some(())
            .ok_or_else(|| format!("unexpected Authorization `{authorization}`")),
        Provider::Mailgun => {
            let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("api:{MAILGUN_KEY}")));
            (authorization == expected).then_some(()).ok_or_else(|| format!("unexpected Authorization `{authorization}`"))
        }
        Provider::Ses => verify_sigv4(request, authorization),
    }
}

/// Recompute the SigV4 signature over the headers the request says it
/// signed and compare the whole `Authorization` value.
fn verify_sigv4(request: &Recorded, authorization: &str) -> Result<(), String> {
    let signed_headers = authorization
        .split(", ")
        .find_map(|part| part.strip_prefix("SignedHeaders="))
        .ok_or_else(|| format!("no SignedHeaders in `{authorization}`"))?;
    if signed_headers != "content-type;host;x-amz-date" {
        return Err(format!("signed headers are `{signed_headers}`, expected content-type;host;x-amz-date"));
    }
    let headers: Vec<(&str, &str)> = signed_headers
        .split(';')
        .map(|name| request.header(name).map(|value| (name, value)).ok_or_else(|| format!("signed header `{name}` missing")))
        .collect::<Result<_, _>>()?;
    let date = AmzDate::parse(request.header("x-amz-date").unwrap_or_default()).map_err(|err| err.to_string())?;
    let credentials = Credentials {
        access_key_id: SES_ACCESS_KEY_ID.into(),
        secret_access_key: SES_SECRET_ACCESS_KEY.into(),
        session_token: None,
    };
    let to_sign = keel_sigv4::Request {
        method: &request.method,
        path: &request.path,
        query: &request.query,
        headers: &headers,
        payload: &request.body,
    };
    let expected = keel_sigv4::sign(&to_sign, &credentials, SES_REGION, "ses", &date).map_err(|err| err.to_string())?;
    if expected.authorization == authorization {
        Ok(())
    } else {
        Err(format!("got `{authorization}`, recomputed `{}`", expected.authorization))
    }
}

// ---------------------------------------------------------------- steps

/// The message every scenario starts from.
fn full_message() -> Value {
    json!({
        "from": { "email": "noreply@example.com", "name": "Keel" },
        "to": [{ "email": "ada@example.com", "name": "Ada Lovelace" }],
        "cc": [{ "email": "grace@example.com" }],
        "bcc": [{ "email": "audit@example.com" }],
        "reply_to": { "email": "support@example.com", "name": "Keel Support" },
        "subject": "Welcome to Keel",
        "text_body": "Hello Ada, welcome aboard.",
        "html_body": "<p>Hello Ada, <b>welcome</b> aboard.</p>",
        "tags": ["welcome"],
    })
}

const SENT: &str = "email:sent";

impl KeelWorld {
    fn mock(&self) -> &MockProvider {
        self.mock.as_ref().expect("a mock email provider (this implementation sends nothing)")
    }

    async fn send_mail(&mut self, message: Value) {
        self.remembered.insert(SENT.into(), message.clone());
        self.send(None, "POST", "/send", Some(message.to_string())).await;
    }
}

#[when("the email probe sends the full message")]
async fn send_full(world: &mut KeelWorld) {
    world.send_mail(full_message()).await;
}

#[when(regex = r#"^the email probe sends '(.*)'$"#)]
async fn send_json(world: &mut KeelWorld, json: String) {
    world.send_mail(serde_json::from_str(&json).expect("the message is JSON")).await;
}

#[when(regex = r#"^the email probe sends the full message with "([^"]+)" set to '(.*)'$"#)]
async fn send_changed(world: &mut KeelWorld, field: String, json: String) {
    let mut message = full_message();
    message[field.as_str()] = serde_json::from_str(&json).expect("the new value is JSON");
    world.send_mail(message).await;
}

#[when(regex = r#"^the email probe sends the full message with "([^"]+)" and "([^"]+)" set to '(.*)'$"#)]
async fn send_two_changed(world: &mut KeelWorld, first: String, second: String, json: String) {
    let mut message = full_message();
    let value: Value = serde_json::from_str(&json).expect("the new value is JSON");
    message[first.as_str()] = value.clone();
    message[second.as_str()] = value;
    world.send_mail(message).await;
}

/// The BCC recipients of the last message each got a copy that names no
/// other recipient, in the way the provider's API offers it.
#[then("the provider was asked for a copy to each BCC recipient that names no other")]
fn separate_bcc_copies(world: &mut KeelWorld) {
    let request = world.mock().requests().pop().expect("the provider got a request");
    let sent = world.remembered.get(SENT).expect("a message was sent").clone();
    let mut expected: Vec<String> =
        sent["bcc"].as_array().into_iter().flatten().map(|a| a["email"].as_str().unwrap().to_string()).collect();
    expected.sort();
    let emails = |list: &Value| -> Vec<String> {
        list.as_array().into_iter().flatten().map(|a| a["email"].as_str().unwrap().to_string()).collect()
    };
    let mut got = match provider_of(&request.path).expect("a provider path") {
        Provider::SendGrid => {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            let personalizations = body["personalizations"].as_array().cloned().unwrap_or_default();
            for personalization in &personalizations {
                assert_eq!(personalization["to"].as_array().map(Vec::len), Some(1), "{personalization}");
                assert!(personalization.get("cc").is_none() && personalization.get("bcc").is_none(), "{personalization}");
            }
            personalizations.iter().flat_map(|p| emails(&p["to"])).collect::<Vec<_>>()
        }
        Provider::Mailgun => {
            let fields: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
            assert!(!fields.iter().any(|(k, _)| k == "cc" || k == "bcc"), "{fields:?}");
            let to: Vec<String> = fields.iter().filter(|(k, _)| k == "to").map(|(_, v)| v.clone()).collect();
            let (_, variables) = fields.iter().find(|(k, _)| k == "recipient-variables").expect("a batch send");
            let variables: Value = serde_json::from_str(variables).unwrap();
            for email in &to {
                assert!(variables.get(email).is_some(), "no recipient variables for {email}: {variables}");
            }
            to
        }
        Provider::Ses => {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            let destination = &body["Destination"];
            for kind in ["ToAddresses", "CcAddresses"] {
                assert!(destination[kind].as_array().is_none_or(Vec::is_empty), "{destination}");
            }
            destination["BccAddresses"].as_array().into_iter().flatten().map(|a| a.as_str().unwrap().to_string()).collect()
        }
    };
    got.sort();
    assert_eq!(got, expected);
}

#[given(expr = "the provider is rate limiting with Retry-After {int}")]
fn rate_limiting_with(world: &mut KeelWorld, seconds: u32) {
    world.mock().set_mode(Mode::RateLimited(Some(seconds)));
}

#[given("the provider is rate limiting without Retry-After")]
fn rate_limiting_without(world: &mut KeelWorld) {
    world.mock().set_mode(Mode::RateLimited(None));
}

#[given("the provider has revoked the credentials")]
fn revoked(world: &mut KeelWorld) {
    world.mock().set_mode(Mode::Revoked);
}

#[given("the provider rejects the recipient address")]
fn bad_address(world: &mut KeelWorld) {
    world.mock().set_mode(Mode::BadAddress);
}

#[given("the provider rejects the message content")]
fn bad_message(world: &mut KeelWorld) {
    world.mock().set_mode(Mode::BadMessage);
}

#[given("the provider fails internally")]
fn broken(world: &mut KeelWorld) {
    world.mock().set_mode(Mode::Broken);
}

#[given("the provider takes the request but never answers")]
fn stalled(world: &mut KeelWorld) {
    world.mock().set_mode(Mode::Stalled);
}

#[given("the provider is unreachable")]
fn unreachable(world: &mut KeelWorld) {
    world.mock().stop();
}

#[then(expr = "the provider received {int} request(s)")]
fn received_count(world: &mut KeelWorld, count: usize) {
    assert_eq!(world.mock().requests().len(), count, "{:#?}", world.mock().requests());
}

#[then("the response field \"id\" is the id the provider assigned")]
fn id_is_assigned(world: &mut KeelWorld) {
    let last = world.mock().requests().pop().expect("the provider got a request");
    let assigned = last.assigned_id.expect("the provider accepted the request");
    assert_eq!(world.reply().body["id"], Value::String(assigned));
}

#[then("the provider received the message as its API documents")]
fn provider_received_documented_request(world: &mut KeelWorld) {
    let request = world.mock().requests().pop().expect("the provider got a request");
    let sent = world.remembered.get(SENT).expect("a message was sent").clone();
    assert_eq!(request.method, "POST");
    match provider_of(&request.path).unwrap_or_else(|| panic!("unknown provider path {}", request.path)) {
        Provider::SendGrid => check_sendgrid(&request, &sent),
        Provider::Mailgun => check_mailgun(&request, &sent),
        Provider::Ses => check_ses(&request, &sent),
    }
}

fn content_type(request: &Recorded) -> &str {
    request.header("content-type").expect("a Content-Type header")
}

/// `{"email","name"?}` as SendGrid wants it (the probe's shape, no null name).
fn sendgrid_address(address: &Value) -> Value {
    match address.get("name") {
        Some(name) if !name.is_null() => json!({ "email": address["email"], "name": name }),
        _ => json!({ "email": address["email"] }),
    }
}

fn sendgrid_addresses(list: &Value) -> Value {
    Value::Array(list.as_array().into_iter().flatten().map(sendgrid_address).collect())
}

fn check_sendgrid(request: &Recorded, sent: &Value) {
    assert_eq!(request.path, SENDGRID_PATH);
    assert_eq!(request.header("authorization"), Some(format!("Bearer {SENDGRID_KEY}").as_str()));
    assert!(content_type(request).starts_with("application/json"), "{}", content_type(request));
    let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
    let expected = json!({
        "personalizations": [{
            "to": sendgrid_addresses(&sent["to"]),
            "cc": sendgrid_addresses(&sent["cc"]),
            "bcc": sendgrid_addresses(&sent["bcc"]),
        }],
        "from": sendgrid_address(&sent["from"]),
        "reply_to": sendgrid_address(&sent["reply_to"]),
        "subject": sent["subject"],
        "content": [
            { "type": "text/plain", "value": sent["text_body"] },
            { "type": "text/html", "value": sent["html_body"] },
        ],
        "categories": sent["tags"],
    });
    assert_eq!(body, expected);
}

/// An RFC 5322 mailbox for the plain names the scenarios use.
fn mailbox(address: &Value) -> String {
    let email = address["email"].as_str().expect("an email");
    match address.get("name").and_then(Value::as_str) {
        Some(name) => format!("{name} <{email}>"),
        None => email.to_string(),
    }
}

fn mailboxes(list: &Value) -> Vec<String> {
    list.as_array().into_iter().flatten().map(mailbox).collect()
}

fn check_mailgun(request: &Recorded, sent: &Value) {
    assert_eq!(request.path, format!("/v3/{MAILGUN_DOMAIN}/messages"));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("api:{MAILGUN_KEY}"));
    assert_eq!(request.header("authorization"), Some(format!("Basic {basic}").as_str()));
    assert_eq!(content_type(request), "application/x-www-form-urlencoded");
    let mut fields: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
    let text = |key: &str| sent[key].as_str().expect("a text field").to_string();
    let mut expected = vec![("from".to_string(), mailbox(&sent["from"]))];
    for kind in ["to", "cc", "bcc"] {
        expected.extend(mailboxes(&sent[kind]).into_iter().map(|m| (kind.to_string(), m)));
    }
    expected.push(("subject".into(), text("subject")));
    expected.push(("text".into(), text("text_body")));
    expected.push(("html".into(), text("html_body")));
    expected.extend(sent["tags"].as_array().into_iter().flatten().map(|t| ("o:tag".to_string(), t.as_str().unwrap().to_string())));
    expected.push(("h:Reply-To".into(), mailbox(&sent["reply_to"])));
    fields.sort();
    expected.sort();
    assert_eq!(fields, expected);
}

fn check_ses(request: &Recorded, sent: &Value) {
    assert_eq!(request.path, SES_PATH);
    assert_eq!(content_type(request), "application/json");
    let authorization = request.header("authorization").expect("an Authorization header");
    assert!(
        authorization.starts_with(&format!("AWS4-HMAC-SHA256 Credential={SES_ACCESS_KEY_ID}/")),
        "{authorization}"
    );
    assert!(authorization.contains(&format!("/{SES_REGION}/ses/aws4_request, ")), "{authorization}");
    verify_sigv4(request, authorization).unwrap_or_else(|why| panic!("SigV4 signature: {why}"));
    let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
    let utf8 = |key: &str| json!({ "Data": sent[key], "Charset": "UTF-8" });
    let expected = json!({
        "FromEmailAddress": mailbox(&sent["from"]),
        "Destination": {
            "ToAddresses": mailboxes(&sent["to"]),
            "CcAddresses": mailboxes(&sent["cc"]),
            "BccAddresses": mailboxes(&sent["bcc"]),
        },
        "ReplyToAddresses": [mailbox(&sent["reply_to"])],
        "Content": { "Simple": {
            "Subject": utf8("subject"),
            "Body": { "Text": utf8("text_body"), "Html": utf8("html_body") },
        } },
        "EmailTags": sent["tags"].as_array().into_iter().flatten()
            .map(|tag| json!({ "Name": tag, "Value": "true" })).collect::<Vec<_>>(),
    });
    assert_eq!(body, expected);
}

#[then(expr = "the error is retryable after {int} seconds")]
fn retry_after(world: &mut KeelWorld, seconds: u64) {
    assert_eq!(world.reply().body["error"]["retry_after"], json!(seconds), "{}", world.reply().body);
}

#[then("the error gives no retry delay")]
fn no_retry_after(world: &mut KeelWorld) {
    assert_eq!(world.reply().body["error"]["retry_after"], Value::Null, "{}", world.reply().body);
}
