//! `keel:infrastructure/email` through Amazon SES v2 `SendEmail`.
//!
//! `POST {endpoint}/v2/email/outbound-emails` with a JSON body
//! (`FromEmailAddress`, `Destination`, `ReplyToAddresses`,
//! `Content.Simple` with UTF-8 subject and text/HTML bodies, `EmailTags`),
//! signed in the component with AWS Signature Version 4 ([`keel_sigv4`],
//! service `ses`; signed headers `content-type`, `host`, `x-amz-date` and
//! `x-amz-security-token` with temporary credentials). SES answers
//! `200 {"MessageId":…}`; errors carry the `x-amzn-ErrorType` header and
//! `{"message":…}` and are mapped by [`keel_guest::email::provider::failure`].
//!
//! Tags become `EmailTags`: `name:value` → `{"Name":name,"Value":value}`,
//! a plain `tag` → `{"Name":tag,"Value":"true"}` (SES allows only
//! `A-Z a-z 0-9 _ -` in both).
//!
//! Spin variables: `ses_access_key_id`, `ses_secret_access_key` (secret),
//! `ses_session_token` (optional), `ses_region`, `ses_endpoint` (optional;
//! default `https://email.{region}.amazonaws.com`).

use keel_guest::email::provider::{self, Reply};
use keel_guest::email::{self, Address, Error, Guest, Message, mailbox};
use keel_sigv4::{AmzDate, Credentials, Endpoint, Request};
use serde_json::{Value as Json, json};

const SEND_PATH: &str = "/v2/email/outbound-emails";
const SERVICE: &str = "ses";
const CONTENT_TYPE: &str = "application/json";

struct Ses;

impl Guest for Ses {
    async fn send(message: Message) -> Result<String, Error> {
        email::validate(&message)?;
        let tags = email_tags(&message.tags)?;
        let credentials = Credentials {
            access_key_id: provider::setting("ses_access_key_id").await?,
            secret_access_key: provider::setting("ses_secret_access_key").await?,
            session_token: provider::optional_setting("ses_session_token").await?,
        };
        let region = provider::setting("ses_region").await?;
        let endpoint = match provider::optional_setting("ses_endpoint").await? {
            Some(endpoint) => endpoint,
            None => format!("https://email.{region}.amazonaws.com"),
        };
        let target = Endpoint::parse(&endpoint)
            .ok_or_else(|| Error::Unavailable(format!("variable `ses_endpoint` is not an http(s) URL: {endpoint}")))?;
        let body = request_body(&message, tags).to_string().into_bytes();
        let date = AmzDate::from_unix_seconds(keel_guest::clock::now_secs());
        let path = format!("{}{SEND_PATH}", target.prefix);

        let mut signed_headers = vec![("content-type", CONTENT_TYPE), ("host", target.authority), ("x-amz-date", date.as_str())];
        if let Some(token) = &credentials.session_token {
            signed_headers.push(("x-amz-security-token", token.as_str()));
        }
        let request = Request { method: "POST", path: &path, query: "", headers: &signed_headers, payload: &body };
        let signature = keel_sigv4::sign(&request, &credentials, &region, SERVICE, &date)
            .map_err(|err| Error::Unavailable(format!("cannot sign the SES request: {err}")))?;

        // `host` travels as the URL's authority, not as a header.
        let mut headers: Vec<(&str, &str)> = signed_headers.into_iter().filter(|(name, _)| *name != "host").collect();
        headers.push(("authorization", &signature.authorization));
        let url = target.url(&path, "");
        let reply = provider::post(&url, &headers, body).await?;
        reply.accepted(|reply| provider::with_address_hint(error_detail(reply)))?.json_id("MessageId", "SES")
    }
}

/// The `SendEmail` request body.
fn request_body(message: &Message, tags: Vec<Json>) -> Json {
    let mut destination = json!({});
    for (field, list) in [("ToAddresses", &message.to), ("CcAddresses", &message.cc), ("BccAddresses", &message.bcc)] {
        if !list.is_empty() {
            destination[field] = mailboxes(list);
        }
    }
    let utf8 = |data: &str| json!({ "Data": data, "Charset": "UTF-8" });
    let mut body = json!({});
    if let Some(text) = &message.text_body {
        body["Text"] = utf8(text);
    }
    if let Some(html) = &message.html_body {
        body["Html"] = utf8(html);
    }
    let mut request = json!({
        "FromEmailAddress": mailbox(&message.from),
        "Destination": destination,
        "Content": { "Simple": { "Subject": utf8(&message.subject), "Body": body } },
    });
    if let Some(reply_to) = &message.reply_to {
        request["ReplyToAddresses"] = json!([mailbox(reply_to)]);
    }
    if !tags.is_empty() {
        request["EmailTags"] = Json::Array(tags);
    }
    request
}

fn mailboxes(list: &[Address]) -> Json {
    Json::Array(list.iter().map(|address| Json::String(mailbox(address))).collect())
}

/// Tags as SES `MessageTag`s (see the crate docs).
fn email_tags(tags: &[String]) -> Result<Vec<Json>, Error> {
    let allowed = |part: &str| !part.is_empty() && part.len() <= 256 && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    tags.iter()
        .map(|tag| {
            let (name, value) = tag.split_once(':').unwrap_or((tag, "true"));
            if allowed(name) && allowed(value) {
                Ok(json!({ "Name": name, "Value": value }))
            } else {
                Err(Error::InvalidMessage(format!("SES tags allow only A-Z, a-z, 0-9, '_' and '-' (as name or name:value): {tag:?}")))
            }
        })
        .collect()
}

/// `ErrorType: message` from SES's error answer.
fn error_detail(reply: &Reply) -> String {
    let body = reply.json();
    let message = body
        .as_ref()
        .and_then(|body| body.get("message").or_else(|| body.get("Message")).and_then(Json::as_str).map(str::to_owned))
        .unwrap_or_else(|| reply.text());
    let kind = reply
        .header("x-amzn-errortype")
        .map(|kind| kind.split(':').next().unwrap_or(kind).to_owned())
        .or_else(|| body.as_ref().and_then(|body| body.get("__type").and_then(Json::as_str).map(str::to_owned)));
    match kind {
        Some(kind) => format!("{kind}: {message}"),
        None => message,
    }
}

keel_guest::email::export_email!(Ses);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_message_tags() {
        let tags = email_tags(&["welcome".into(), "campaign:spring-2026".into()]).unwrap();
        assert_eq!(tags, vec![json!({"Name":"welcome","Value":"true"}), json!({"Name":"campaign","Value":"spring-2026"})]);
        assert!(matches!(email_tags(&["a b".into()]), Err(Error::InvalidMessage(_))));
        assert!(matches!(email_tags(&["a:".into()]), Err(Error::InvalidMessage(_))));
    }

    #[test]
    fn body_uses_simple_content() {
        let message = Message {
            from: Address { email: "noreply@example.com".into(), name: Some("Keel".into()) },
            to: vec![Address { email: "ada@example.com".into(), name: None }],
            cc: vec![],
            bcc: vec![],
            reply_to: None,
            subject: "Hi".into(),
            text_body: None,
            html_body: Some("<p>html</p>".into()),
            tags: vec![],
        };
        assert_eq!(
            request_body(&message, vec![]),
            json!({
                "FromEmailAddress": "Keel <noreply@example.com>",
                "Destination": { "ToAddresses": ["ada@example.com"] },
                "Content": { "Simple": {
                    "Subject": { "Data": "Hi", "Charset": "UTF-8" },
                    "Body": { "Html": { "Data": "<p>html</p>", "Charset": "UTF-8" } },
                } },
            })
        );
    }
}
