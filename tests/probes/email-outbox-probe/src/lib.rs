//! Email conformance probe for the outbox adapter: `POST /send` as the
//! email probe (the same source file), plus `GET /outbox?limit=n` →
//! `{"messages":[…]}` from `keel:infrastructure/email-outbox.list-messages`
//! (default limit 50), or 503 `unavailable`.

#[path = "../../email-probe/src/send.rs"]
mod send;

use keel::infrastructure::email_outbox::{self, Mailbox, StoredMessage};
use keel_guest::http::{self as respond, Response};
use serde_json::{Value as Json, json};
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{Method, Request, StatusCode};

spin_sdk::wit_bindgen::generate!({
    path: ["../../../wit/infrastructure", "../../../wit/repositories", "../../../wit/platform", "../../../wit/domains", "../../../wit/products"],
    world: "keel:products/email-outbox-probe",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

const DEFAULT_LIMIT: u32 = 50;

#[spin_sdk::http_service]
async fn handle(request: Request) -> Response {
    match (request.method().clone(), request.uri().path()) {
        (Method::POST, "/send") => match request.into_body().bytes().await {
            Ok(body) => send::send(&body).await,
            Err(err) => respond::error(StatusCode::BAD_REQUEST, "invalid_json", &format!("cannot read body: {err:?}")),
        },
        (Method::GET, "/outbox") => {
            let limit = request
                .uri()
                .query()
                .and_then(|query| query.split('&').find_map(|pair| pair.strip_prefix("limit=")))
                .and_then(|limit| limit.parse().ok())
                .unwrap_or(DEFAULT_LIMIT);
            match email_outbox::list_messages(limit).await {
                Ok(messages) => respond::json(StatusCode::OK, &json!({ "messages": messages.iter().map(stored).collect::<Vec<_>>() })),
                Err(email_outbox::Error::Unavailable(message)) => {
                    respond::error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &message)
                }
            }
        }
        _ => respond::error(StatusCode::NOT_FOUND, "not_found", "the probe serves POST /send and GET /outbox"),
    }
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
