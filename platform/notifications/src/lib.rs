//! `keel:platform/notifications` over `keel:infrastructure/email`.
//!
//! Domains describe what happened (an invitation, a new account, a reset
//! request, mentions and replies); this component writes the message — a
//! plain-text and an HTML body, every user-supplied value HTML-escaped — and
//! hands it to whichever email adapter the composition plugs in (the
//! development outbox, SendGrid, Mailgun, SES …). Activity mail (mentions,
//! replies, digests of them) is written from templates ([`template`]): the
//! app's, or a workspace's own, which the caller passes in.
//!
//! Settings come from Spin variables, all optional:
//! * `mail_from` — the sender address (default `no-reply@keel.localhost`);
//! * `mail_from_name` — its display name (default `Keel`);
//! * `app_base_url` — the public URL links in mail point to (default
//!   `http://127.0.0.1:3000`; `http(s)://`, no trailing slash needed).

mod activity;
mod message;
mod template;

use exports::keel::platform::notifications::{Activity, AccountLink, Error, Guest, Invited, Template, TemplateName};
use keel::infrastructure::email;
use keel::platform::configuration::{self, Kind};
use message::{LinkKind, Written};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform"],
    world: "keel:platform/notifications-service",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

const FROM_VARIABLE: &str = "mail_from";
const FROM_NAME_VARIABLE: &str = "mail_from_name";
const DEFAULT_FROM: &str = "no-reply@keel.localhost";
const DEFAULT_FROM_NAME: &str = "Keel";
const BASE_URL_VARIABLE: &str = "app_base_url";
const DEFAULT_BASE_URL: &str = "http://127.0.0.1:3000";

struct Notifications;

impl Guest for Notifications {
    async fn notify_invited(event: Invited) -> Result<String, Error> {
        let written = message::invited(&event, &base_url().await?, keel_guest::clock::now_ms());
        send(email::Address { email: event.recipient_email, name: None }, written, "invitation").await
    }

    async fn notify_verify_email(link: AccountLink) -> Result<String, Error> {
        account_link(LinkKind::VerifyEmail, link, "verify-email").await
    }

    async fn notify_password_reset(link: AccountLink) -> Result<String, Error> {
        account_link(LinkKind::ResetPassword, link, "password-reset").await
    }

    fn default_template(name: TemplateName) -> Template {
        activity::default_template(name)
    }

    fn template_variables(name: TemplateName) -> Vec<String> {
        activity::variable_names(name)
    }

    fn check_template(name: TemplateName, template: Template) -> Vec<String> {
        activity::check(name, &template).err().unwrap_or_default()
    }

    async fn notify_activity(event: Activity, templates: Vec<(TemplateName, Template)>) -> Result<String, Error> {
        if event.items.is_empty() {
            return Err(Error::Undeliverable("an activity mail needs at least one item".into()));
        }
        let name = activity::template_name(&event);
        let own = templates.into_iter().find_map(|(named, template)| (named == name).then_some(template));
        let template = own.unwrap_or_else(|| activity::default_template(name));
        let parsed = activity::check(name, &template).map_err(|problems| {
            Error::Undeliverable(format!("the {name:?} template is unusable: {}", problems.join("; ")))
        })?;
        let written = activity::write(&event, &parsed, &base_url().await?);
        let tag = match name {
            TemplateName::Mention => "mention",
            TemplateName::Reply => "reply",
            TemplateName::Digest => "digest",
        };
        send(email::Address { email: event.recipient_email, name: Some(event.recipient_name) }, written, tag).await
    }
}

async fn account_link(kind: LinkKind, link: AccountLink, tag: &str) -> Result<String, Error> {
    let written = message::account_link(kind, &link, &base_url().await?, keel_guest::clock::now_ms());
    send(email::Address { email: link.recipient_email, name: Some(link.recipient_name) }, written, tag).await
}

/// Send `written` to `to` from the configured sender, tagged `tag`.
async fn send(to: email::Address, written: Written, tag: &str) -> Result<String, Error> {
    let message = email::Message {
        from: sender().await?,
        to: vec![to],
        cc: Vec::new(),
        bcc: Vec::new(),
        reply_to: None,
        subject: written.subject,
        text_body: Some(written.text),
        html_body: Some(written.html),
        tags: vec![tag.to_owned()],
    };
    email::send(message).await.map_err(undeliverable)
}

/// The app's public URL from `app_base_url`, without a trailing slash.
async fn base_url() -> Result<String, Error> {
    Ok(setting(BASE_URL_VARIABLE, Kind::Url).await?.unwrap_or_else(|| DEFAULT_BASE_URL.into()))
}

/// The configured sender: `mail_from` / `mail_from_name`, or the defaults
/// when a variable is not set for this component.
async fn sender() -> Result<email::Address, Error> {
    let email = setting(FROM_VARIABLE, Kind::Email).await?.unwrap_or_else(|| DEFAULT_FROM.into());
    let name = setting(FROM_NAME_VARIABLE, Kind::Text).await?.unwrap_or_else(|| DEFAULT_FROM_NAME.into());
    Ok(email::Address { email, name: Some(name) })
}

/// A setting, `None` when its variable is undefined for this component or blank.
async fn setting(name: &str, kind: Kind) -> Result<Option<String>, Error> {
    configuration::get(name.to_owned(), kind).await.map_err(|err| match err {
        configuration::Error::Invalid(message) | configuration::Error::Unavailable(message) => {
            Error::Misconfigured(message)
        }
    })
}

fn undeliverable(err: email::Error) -> Error {
    Error::Undeliverable(match err {
        email::Error::InvalidAddress(detail) => format!("address refused: {detail}"),
        email::Error::InvalidMessage(detail) => format!("message refused: {detail}"),
        email::Error::Unauthorized(detail) => {
            format!("the mail provider refused the credentials: {detail}")
        }
        email::Error::RateLimited(Some(seconds)) => {
            format!("the mail provider is rate limiting (retry after {seconds} s)")
        }
        email::Error::RateLimited(None) => "the mail provider is rate limiting".into(),
        email::Error::Unavailable(detail) => format!("the mail provider is unavailable: {detail}"),
    })
}

export!(Notifications);
