//! `keel:platform/notifications` over `keel:infrastructure/email`.
//!
//! Domains describe what happened (`member-added`); this component writes
//! the message — a plain-text and an HTML body, every user-supplied value
//! HTML-escaped — and hands it to whichever email adapter the composition
//! plugs in (the development outbox, SendGrid, Mailgun, SES …).
//!
//! The sender comes from Spin variables, both optional:
//! * `mail_from` — the sender address (default `no-reply@keel.localhost`);
//! * `mail_from_name` — its display name (default `Keel`).

mod message;

use exports::keel::platform::notifications::{Error, Guest, MemberAdded};
use keel::infrastructure::email;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/platform"],
    world: "keel:platform/notifications-service",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

const FROM_VARIABLE: &str = "mail_from";
const FROM_NAME_VARIABLE: &str = "mail_from_name";
const DEFAULT_FROM: &str = "no-reply@keel.localhost";
const DEFAULT_FROM_NAME: &str = "Keel";

struct Notifications;

impl Guest for Notifications {
    async fn notify_member_added(event: MemberAdded) -> Result<String, Error> {
        let from = sender().await?;
        let written = message::member_added(&event);
        let message = email::Message {
            from,
            to: vec![email::Address { email: event.recipient_email, name: Some(event.recipient_name) }],
            cc: Vec::new(),
            bcc: Vec::new(),
            reply_to: None,
            subject: written.subject,
            text_body: Some(written.text),
            html_body: Some(written.html),
            tags: vec!["member-added".into()],
        };
        email::send(message).await.map_err(undeliverable)
    }
}

/// The configured sender: `mail_from` / `mail_from_name`, or the defaults
/// when a variable is not set for this component.
async fn sender() -> Result<email::Address, Error> {
    let email = setting(FROM_VARIABLE).await?.unwrap_or_else(|| DEFAULT_FROM.into());
    if keel_guest::validate::email(&email).is_err() {
        return Err(Error::Misconfigured(format!("variable `{FROM_VARIABLE}` is not an email address: `{email}`")));
    }
    let name = setting(FROM_NAME_VARIABLE).await?.unwrap_or_else(|| DEFAULT_FROM_NAME.into());
    Ok(email::Address { email, name: Some(name) })
}

/// A Spin variable, `None` when undefined for this component or blank.
async fn setting(name: &str) -> Result<Option<String>, Error> {
    match spin_sdk::variables::get(name).await {
        Ok(value) => Ok(Some(value.trim().to_owned()).filter(|value| !value.is_empty())),
        Err(spin_sdk::variables::Error::Undefined(_)) => Ok(None),
        Err(err) => Err(Error::Misconfigured(format!("cannot read variable `{name}`: {err}"))),
    }
}

fn undeliverable(err: email::Error) -> Error {
    Error::Undeliverable(match err {
        email::Error::InvalidAddress(detail) => format!("address refused: {detail}"),
        email::Error::InvalidMessage(detail) => format!("message refused: {detail}"),
        email::Error::Unauthorized(detail) => format!("the mail provider refused the credentials: {detail}"),
        email::Error::RateLimited(Some(seconds)) => format!("the mail provider is rate limiting (retry after {seconds} s)"),
        email::Error::RateLimited(None) => "the mail provider is rate limiting".into(),
        email::Error::Unavailable(detail) => format!("the mail provider is unavailable: {detail}"),
    })
}

export!(Notifications);
