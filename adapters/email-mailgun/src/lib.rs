//! `keel:infrastructure/email` through Mailgun's messages API.
//!
//! `POST {mailgun_api_base}/v3/{mailgun_domain}/messages`, HTTP basic auth
//! `api:{mailgun_api_key}`, `application/x-www-form-urlencoded` fields:
//! `from`, one `to`/`cc`/`bcc` field per recipient (RFC 5322 mailboxes),
//! `subject`, `text`, `html`, one `o:tag` per tag and `h:Reply-To`.
//! Mailgun answers `200 {"id":"<…>","message":"Queued. Thank you."}`;
//! errors carry `{"message":…}` (or plain text, e.g. `Forbidden`) and are
//! mapped by [`keel_guest::email::provider::failure`].
//!
//! Spin variables: `mailgun_api_key` (secret), `mailgun_domain`,
//! `mailgun_api_base` (`https://api.mailgun.net`, or the EU endpoint).

use base64::Engine as _;
use keel_guest::email::provider::{self, Reply};
use keel_guest::email::{self, Address, Error, Guest, Message, mailbox};
use serde_json::Value as Json;

struct Mailgun;

impl Guest for Mailgun {
    async fn send(message: Message) -> Result<String, Error> {
        email::validate(&message)?;
        let key = provider::setting("mailgun_api_key").await?;
        let domain = provider::setting("mailgun_domain").await?;
        let base = provider::setting("mailgun_api_base").await?;
        if domain.contains(['/', '?', '#']) {
            return Err(Error::Unavailable(format!("variable `mailgun_domain` is not a domain: {domain}")));
        }
        let authorization = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("api:{key}")));
        let headers = [
            ("authorization", authorization.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        let url = provider::endpoint(&base, &format!("/v3/{domain}/messages"));
        let body = provider::form_encode(&borrowed(&form_fields(&message)));
        let reply = provider::post(&url, &headers, body.into_bytes()).await?;
        reply.accepted(|reply| provider::with_address_hint(error_message(reply)))?.json_id("id", "Mailgun")
    }
}

/// The form fields for `message`, in a stable order. Mailgun requires
/// `to`: without one, the CC recipients (visible to everyone anyway) take
/// its place; with neither, the BCC recipients become `to` recipients of a
/// batch send (`recipient-variables`), which gives each a copy of their
/// own, so none sees another.
fn form_fields(message: &Message) -> Vec<(&'static str, String)> {
    let mut fields = vec![("from", mailbox(&message.from))];
    let (to, cc): (&[Address], &[Address]) =
        if message.to.is_empty() { (&message.cc, &[]) } else { (&message.to, &message.cc) };
    let (to, bcc, batch) = if to.is_empty() { (&message.bcc[..], &[][..], true) } else { (to, &message.bcc[..], false) };
    for (name, list) in [("to", to), ("cc", cc), ("bcc", bcc)] {
        fields.extend(list.iter().map(|address| (name, mailbox(address))));
    }
    if batch {
        let variables: serde_json::Map<String, Json> =
            to.iter().map(|address| (address.email.clone(), Json::Object(Default::default()))).collect();
        fields.push(("recipient-variables", Json::Object(variables).to_string()));
    }
    fields.push(("subject", message.subject.clone()));
    if let Some(text) = &message.text_body {
        fields.push(("text", text.clone()));
    }
    if let Some(html) = &message.html_body {
        fields.push(("html", html.clone()));
    }
    fields.extend(message.tags.iter().map(|tag| ("o:tag", tag.clone())));
    if let Some(reply_to) = &message.reply_to {
        fields.push(("h:Reply-To", mailbox(reply_to)));
    }
    fields
}

fn borrowed<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    fields.iter().map(|(name, value)| (*name, value.as_str())).collect()
}

/// Mailgun's `message` field, or the body text.
fn error_message(reply: &Reply) -> String {
    reply
        .json()
        .and_then(|body| body.get("message").and_then(Json::as_str).map(str::to_owned))
        .unwrap_or_else(|| reply.text())
}

keel_guest::email::export_email!(Mailgun);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_messages_api() {
        let message = Message {
            from: Address { email: "noreply@example.com".into(), name: Some("Keel".into()) },
            to: vec![Address { email: "ada@example.com".into(), name: None }, Address { email: "bob@example.com".into(), name: None }],
            cc: vec![],
            bcc: vec![],
            reply_to: Some(Address { email: "help@example.com".into(), name: Some("Help Desk".into()) }),
            subject: "Hi".into(),
            text_body: Some("text".into()),
            html_body: None,
            tags: vec!["welcome".into(), "onboarding".into()],
        };
        let fields = form_fields(&message);
        let expected: Vec<(&str, &str)> = vec![
            ("from", "Keel <noreply@example.com>"),
            ("to", "ada@example.com"),
            ("to", "bob@example.com"),
            ("subject", "Hi"),
            ("text", "text"),
            ("o:tag", "welcome"),
            ("o:tag", "onboarding"),
            ("h:Reply-To", "Help Desk <help@example.com>"),
        ];
        assert_eq!(borrowed(&fields), expected);
    }

    #[test]
    fn a_bcc_only_message_is_a_batch_send_to_each_recipient() {
        let who = |email: &str| Address { email: email.into(), name: None };
        let message = Message {
            from: who("noreply@example.com"),
            to: vec![],
            cc: vec![],
            bcc: vec![who("a@example.com"), who("b@example.com")],
            reply_to: None,
            subject: "Hi".into(),
            text_body: Some("text".into()),
            html_body: None,
            tags: vec![],
        };
        let fields = form_fields(&message);
        assert_eq!(
            borrowed(&fields),
            vec![
                ("from", "noreply@example.com"),
                ("to", "a@example.com"),
                ("to", "b@example.com"),
                ("recipient-variables", r#"{"a@example.com":{},"b@example.com":{}}"#),
                ("subject", "Hi"),
                ("text", "text"),
            ]
        );
    }
}
