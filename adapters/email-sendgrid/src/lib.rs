//! `keel:infrastructure/email` through SendGrid's v3 Mail Send API.
//!
//! `POST {sendgrid_api_base}/v3/mail/send` with `Authorization: Bearer
//! {sendgrid_api_key}` and a JSON body (one personalization with `to`, `cc`,
//! `bcc`; `from`, `reply_to`, `subject`, `content` as `text/plain` then
//! `text/html`, tags as `categories`). SendGrid answers `202 Accepted` with
//! the id in the `X-Message-Id` header; errors come as
//! `{"errors":[{"message","field","help"}]}` and are mapped by
//! [`keel_guest::email::provider::failure`] (an error whose `field` names an
//! email or whose message mentions an address is `invalid-address`).
//!
//! Spin variables: `sendgrid_api_key` (secret), `sendgrid_api_base`
//! (`https://api.sendgrid.com` in the manifests).

use keel_guest::email::provider::{self, Reply};
use keel_guest::email::{self, Address, Error, Guest, Message};
use serde_json::{Value as Json, json};

const SEND_PATH: &str = "/v3/mail/send";

struct SendGrid;

impl Guest for SendGrid {
    async fn send(message: Message) -> Result<String, Error> {
        email::validate(&message)?;
        let key = provider::setting("sendgrid_api_key").await?;
        let base = provider::setting("sendgrid_api_base").await?;
        let authorization = format!("Bearer {key}");
        let headers = [("authorization", authorization.as_str()), ("content-type", "application/json")];
        let reply = provider::post(&provider::endpoint(&base, SEND_PATH), &headers, request_body(&message).to_string().into_bytes()).await?;
        let reply = reply.accepted(describe_errors)?;
        reply
            .header("x-message-id")
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| Error::Unavailable(format!("SendGrid answered {} without an X-Message-Id", reply.status)))
    }
}

/// The Mail Send request body for `message`.
fn request_body(message: &Message) -> Json {
    let personalizations = personalizations(message);
    let mut content = Vec::new();
    if let Some(text) = &message.text_body {
        content.push(json!({ "type": "text/plain", "value": text }));
    }
    if let Some(html) = &message.html_body {
        content.push(json!({ "type": "text/html", "value": html }));
    }
    let mut body = json!({
        "personalizations": personalizations,
        "from": address(&message.from),
        "subject": message.subject,
        "content": content,
    });
    if let Some(reply_to) = &message.reply_to {
        body["reply_to"] = address(reply_to);
    }
    if !message.tags.is_empty() {
        body["categories"] = json!(message.tags);
    }
    body
}

/// SendGrid requires a non-empty `to` in every personalization and rejects
/// empty `cc`/`bcc` arrays. Without `to`, the CC recipients (visible to
/// everyone anyway) take its place; with neither, each BCC recipient gets
/// a personalization of their own, so none sees another.
fn personalizations(message: &Message) -> Vec<Json> {
    let (to, cc): (&[Address], &[Address]) =
        if message.to.is_empty() { (&message.cc, &[]) } else { (&message.to, &message.cc) };
    if to.is_empty() {
        return message.bcc.iter().map(|recipient| json!({ "to": [address(recipient)] })).collect();
    }
    // SendGrid also rejects an address repeated across to, cc and bcc: the
    // first mention wins.
    let mut seen = std::collections::HashSet::new();
    let mut personalization = json!({});
    for (field, list) in [("to", to), ("cc", cc), ("bcc", &message.bcc[..])] {
        let unique: Vec<Address> =
            list.iter().filter(|a| seen.insert(a.email.to_ascii_lowercase())).cloned().collect();
        if !unique.is_empty() {
            personalization[field] = addresses(&unique);
        }
    }
    vec![personalization]
}

fn addresses(list: &[Address]) -> Json {
    Json::Array(list.iter().map(address).collect())
}

fn address(address: &Address) -> Json {
    match address.name.as_deref().map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) => json!({ "email": address.email, "name": name }),
        None => json!({ "email": address.email }),
    }
}

/// SendGrid's error messages joined, and whether one concerns an address.
fn describe_errors(reply: &Reply) -> (String, bool) {
    let errors = reply.json().and_then(|body| body.get("errors").and_then(Json::as_array).cloned()).unwrap_or_default();
    if errors.is_empty() {
        return provider::with_address_hint(reply.text());
    }
    let mut about_address = false;
    let mut messages = Vec::new();
    for error in &errors {
        let message = error.get("message").and_then(Json::as_str).unwrap_or("unknown error");
        let field = error.get("field").and_then(Json::as_str);
        about_address |= field.is_some_and(|f| f.ends_with("email")) || provider::mentions_address(message);
        messages.push(match field {
            Some(field) => format!("{field}: {message}"),
            None => message.to_owned(),
        });
    }
    (messages.join("; "), about_address)
}

keel_guest::email::export_email!(SendGrid);

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply { status, headers: Default::default(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn errors_name_the_field_and_spot_addresses() {
        let bad_address = reply(
            400,
            r#"{"errors":[{"message":"Does not contain a valid address.","field":"personalizations.0.to.0.email","help":null}]}"#,
        );
        assert_eq!(
            describe_errors(&bad_address),
            ("personalizations.0.to.0.email: Does not contain a valid address.".to_owned(), true)
        );
        let bad_subject = reply(400, r#"{"errors":[{"message":"The subject is required.","field":"subject"}]}"#);
        assert_eq!(describe_errors(&bad_subject), ("subject: The subject is required.".to_owned(), false));
        assert_eq!(describe_errors(&reply(502, "Bad Gateway")), ("Bad Gateway".to_owned(), false));
    }

    #[test]
    fn body_follows_the_mail_send_schema() {
        let message = Message {
            from: Address { email: "noreply@example.com".into(), name: Some("Keel".into()) },
            to: vec![Address { email: "ada@example.com".into(), name: None }],
            cc: vec![],
            bcc: vec![Address { email: "audit@example.com".into(), name: None }],
            reply_to: Some(Address { email: "help@example.com".into(), name: None }),
            subject: "Hi".into(),
            text_body: Some("text".into()),
            html_body: Some("<p>html</p>".into()),
            tags: vec!["welcome".into()],
        };
        assert_eq!(
            request_body(&message),
            json!({
                "personalizations": [{ "to": [{ "email": "ada@example.com" }], "bcc": [{ "email": "audit@example.com" }] }],
                "from": { "email": "noreply@example.com", "name": "Keel" },
                "reply_to": { "email": "help@example.com" },
                "subject": "Hi",
                "content": [{ "type": "text/plain", "value": "text" }, { "type": "text/html", "value": "<p>html</p>" }],
                "categories": ["welcome"],
            })
        );
    }

    #[test]
    fn every_personalization_has_a_to() {
        let who = |email: &str| Address { email: email.into(), name: None };
        let mut message = Message {
            from: who("noreply@example.com"),
            to: vec![],
            cc: vec![who("cc@example.com")],
            bcc: vec![who("a@example.com"), who("b@example.com")],
            reply_to: None,
            subject: "Hi".into(),
            text_body: Some("text".into()),
            html_body: None,
            tags: vec![],
        };
        assert_eq!(
            request_body(&message)["personalizations"],
            json!([{ "to": [{ "email": "cc@example.com" }], "bcc": [{ "email": "a@example.com" }, { "email": "b@example.com" }] }])
        );
        message.to = vec![who("CC@example.com")];
        assert_eq!(
            request_body(&message)["personalizations"],
            json!([{ "to": [{ "email": "CC@example.com" }], "bcc": [{ "email": "a@example.com" }, { "email": "b@example.com" }] }])
        );
        message.to.clear();
        message.cc.clear();
        assert_eq!(
            request_body(&message)["personalizations"],
            json!([{ "to": [{ "email": "a@example.com" }] }, { "to": [{ "email": "b@example.com" }] }])
        );
    }
}
