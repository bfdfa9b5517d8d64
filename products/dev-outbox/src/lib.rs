//! The development outbox: what the app would have mailed, over HTTP.
//!
//! Served beside a product in development manifests only (route
//! `/dev/outbox/...`), on the same SQL database as the product's
//! `email-outbox` adapter. It has no authentication: it is for a developer's
//! loopback server, never a deployment.
//!
//! * `GET /dev/outbox` → `{"messages":[…]}`, newest first. `limit` (1–500,
//!   default 50) caps the listing; `to` keeps only mail addressed (to, cc or
//!   bcc) to that address, compared case-insensitively.
//! * `GET /dev/outbox/{id}` → one message, or 404.
//!
//! Only loopback clients are served (the `spin-client-addr` header, which
//! Spin and Keel's runtime set from the connection): a server started on
//! `0.0.0.0` does not hand every stored mail to the network. Others get 404,
//! as if the route did not exist.
//!
//! Errors use Keel's JSON error body.

use keel::infrastructure::email_outbox::{self, Mailbox, StoredMessage};
use keel_guest::http::{self as respond, Response};
use serde_json::{Value as Json, json};
use spin_sdk::http::{Method, Request, StatusCode};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform", "../../wit/domains", "../../wit/triggers", "../../wit/products"],
    world: "keel:products/dev-outbox",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

const ROUTE: &str = "/dev/outbox";

/// Whether the client address (`ip:port`) is a loopback address.
fn is_loopback(client: Option<&str>) -> bool {
    client
        .and_then(|addr| addr.parse::<std::net::SocketAddr>().ok())
        .is_some_and(|addr| match addr.ip() {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(v6.is_loopback(), |v4| v4.is_loopback()),
            ip => ip.is_loopback(),
        })
}
const DEFAULT_LIMIT: u32 = 50;
/// The most the outbox lists at once; also how far back `to` looks.
const MAX_LIMIT: u32 = 500;

#[spin_sdk::http_service]
async fn handle(request: Request) -> Response {
    let client = request.headers().get("spin-client-addr").and_then(|v| v.to_str().ok());
    if !is_loopback(client) {
        return not_found();
    }
    let Some(rest) = request.uri().path().strip_prefix(ROUTE) else {
        return not_found();
    };
    let id = match rest {
        "" | "/" => None,
        rest => match rest.strip_prefix('/').filter(|id| !id.contains('/')) {
            Some(id) => Some(id.to_owned()),
            None => return not_found(),
        },
    };
    if request.method() != Method::GET {
        let mut response = respond::error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "the outbox is read-only: use GET");
        response.headers_mut().insert("allow", spin_sdk::http::HeaderValue::from_static("GET"));
        return response;
    }
    let result = match id {
        Some(id) => one(id).await,
        None => match Query::parse(request.uri().query().unwrap_or("")) {
            Ok(query) => list(&query).await,
            Err(message) => Err(respond::error(StatusCode::BAD_REQUEST, "invalid_input", &message)),
        },
    };
    result.unwrap_or_else(|response| response)
}

/// The listing's query string.
#[derive(Debug, PartialEq)]
struct Query {
    limit: u32,
    to: Option<String>,
}

impl Query {
    fn parse(query: &str) -> Result<Query, String> {
        let mut parsed = Query { limit: DEFAULT_LIMIT, to: None };
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "limit" => {
                    parsed.limit = value
                        .parse()
                        .ok()
                        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                        .ok_or_else(|| format!("`limit` must be a number from 1 to {MAX_LIMIT}"))?;
                }
                "to" => parsed.to = Some(percent_decode(value)?.to_lowercase()),
                other => return Err(format!("unknown query parameter `{other}` (use `limit` and `to`)")),
            }
        }
        Ok(parsed)
    }

    fn matches(&self, message: &StoredMessage) -> bool {
        self.to.as_deref().is_none_or(|wanted| {
            message.to.iter().chain(&message.cc).chain(&message.bcc).any(|mailbox| mailbox.email.to_lowercase() == wanted)
        })
    }
}

async fn list(query: &Query) -> Result<Response, Response> {
    let fetch = if query.to.is_some() { MAX_LIMIT } else { query.limit };
    let messages = email_outbox::list_messages(fetch).await.map_err(unavailable)?;
    let shown: Vec<Json> =
        messages.iter().filter(|message| query.matches(message)).take(query.limit as usize).map(stored).collect();
    Ok(respond::json(StatusCode::OK, &json!({ "messages": shown })))
}

async fn one(id: String) -> Result<Response, Response> {
    let found = email_outbox::get_message(id).await.map_err(unavailable)?.ok_or_else(not_found)?;
    Ok(respond::json(StatusCode::OK, &stored(&found)))
}

fn not_found() -> Response {
    respond::error(StatusCode::NOT_FOUND, "not_found", "no such message in the outbox (GET /dev/outbox lists them)")
}

fn unavailable(err: email_outbox::Error) -> Response {
    let email_outbox::Error::Unavailable(message) = err;
    respond::error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &message)
}

fn stored(message: &StoredMessage) -> Json {
    let mailboxes = |list: &[Mailbox]| list.iter().map(mailbox).collect::<Vec<_>>();
    json!({
        "id": message.id,
        "stored_at": message.stored_at,
        "from": mailbox(&message.from),
        "to": mailboxes(&message.to),
        "cc": mailboxes(&message.cc),
        "bcc": mailboxes(&message.bcc),
        "reply_to": message.reply_to.as_ref().map(mailbox),
        "subject": message.subject,
        "text_body": message.text_body,
        "html_body": message.html_body,
        "tags": message.tags,
    })
}

fn mailbox(mailbox: &Mailbox) -> Json {
    json!({ "email": mailbox.email, "name": mailbox.name })
}

/// Decode `%XX` escapes and `+` (a space) in a query value.
fn percent_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|hex| std::str::from_utf8(hex).ok());
                let byte = hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()).ok_or("malformed %-escape in the query")?;
                decoded.push(byte);
                i += 3;
            }
            b'+' => {
                decoded.push(b' ');
                i += 1;
            }
            byte => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).map_err(|_| "the query is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_clients_see_the_outbox() {
        for ok in ["127.0.0.1:5000", "127.8.9.1:1", "[::1]:5000", "[::ffff:127.0.0.1]:80"] {
            assert!(is_loopback(Some(ok)), "{ok}");
        }
        for refused in ["10.0.0.7:5000", "192.168.1.2:80", "[2001:db8::1]:80", "localhost:80", "", "garbage"] {
            assert!(!is_loopback(Some(refused)), "{refused}");
        }
        assert!(!is_loopback(None));
    }

    #[test]
    fn queries_parse_with_defaults_and_bounds() {
        assert_eq!(Query::parse(""), Ok(Query { limit: DEFAULT_LIMIT, to: None }));
        assert_eq!(
            Query::parse("limit=2&to=Bob%40Example.com"),
            Ok(Query { limit: 2, to: Some("bob@example.com".into()) })
        );
        assert!(Query::parse("limit=0").is_err());
        assert!(Query::parse("limit=501").is_err());
        assert!(Query::parse("limit=ten").is_err());
        assert!(Query::parse("colour=blue").is_err());
        assert!(Query::parse("to=%zz").is_err());
    }
}
