//! What a user finds in their mailbox, whichever way the deployment
//! delivers mail: the development outbox (`GET /dev/outbox?to=…`) when the
//! product keeps it, or the SendGrid requests the mock provider accepted
//! when the product sends it.

use cucumber::{then, when};
use serde_json::Value;

use super::KeelWorld;
use super::http::read_reply;

/// One email as its recipient sees it.
#[derive(Debug)]
pub(super) struct Email {
    /// `Name <address>`.
    from: String,
    subject: String,
    text: String,
    html: String,
}

impl KeelWorld {
    /// The mail addressed to user `name`, oldest first.
    pub(super) async fn mailbox(&self, name: &str) -> Vec<Email> {
        self.mailbox_of(&self.user(name).email.clone()).await
    }

    /// The mail addressed to `address`, oldest first.
    async fn mailbox_of(&self, address: &str) -> Vec<Email> {
        match &self.mock {
            Some(mock) => mock
                .accepted_sendgrid_bodies()
                .iter()
                .filter(|body| sendgrid_recipients(body).any(|to| to.eq_ignore_ascii_case(address)))
                .map(from_sendgrid)
                .collect(),
            None => {
                let url = format!("{}/dev/outbox?to={}", self.server().base, address.replace('@', "%40"));
                let reply = read_reply(self.client.get(url).send().await.expect("GET /dev/outbox")).await;
                assert_eq!(reply.status, 200, "GET /dev/outbox: {}", reply.body);
                let messages = reply.body["messages"].as_array().expect("a message list");
                messages.iter().rev().map(from_outbox).collect()
            }
        }
    }

    async fn last_email(&self, name: &str) -> Email {
        self.mailbox(name).await.pop().unwrap_or_else(|| panic!("`{name}` has no email"))
    }

    /// The secret of the link in the last mail to `address` (the line
    /// `Token: …` that account mail carries for API clients).
    pub async fn token_in_last_email_to(&self, address: &str) -> String {
        let email = self.mailbox_of(address).await.pop().unwrap_or_else(|| panic!("`{address}` has no email"));
        email
            .text
            .lines()
            .find_map(|line| line.strip_prefix("Token: "))
            .unwrap_or_else(|| panic!("no token in the last email to {address}: {}", email.text))
            .trim()
            .to_owned()
    }
}

fn sendgrid_recipients(body: &Value) -> impl Iterator<Item = &str> {
    let personalizations = body["personalizations"].as_array().into_iter().flatten();
    personalizations
        .flat_map(|p| ["to", "cc", "bcc"].into_iter().filter_map(move |field| p[field].as_array()))
        .flatten()
        .filter_map(|address| address["email"].as_str())
}

fn from_sendgrid(body: &Value) -> Email {
    let content = |kind: &str| {
        body["content"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|part| part["type"] == kind)
            .map(|part| text(&part["value"]))
    };
    Email {
        from: mailbox(&body["from"]),
        subject: text(&body["subject"]),
        text: content("text/plain").unwrap_or_default(),
        html: content("text/html").unwrap_or_default(),
    }
}

fn from_outbox(message: &Value) -> Email {
    Email {
        from: mailbox(&message["from"]),
        subject: text(&message["subject"]),
        text: text(&message["text_body"]),
        html: text(&message["html_body"]),
    }
}

fn mailbox(address: &Value) -> String {
    format!("{} <{}>", text(&address["name"]), text(&address["email"]))
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

#[then(expr = "the address {string} received {int} email(s)")]
async fn address_received(world: &mut KeelWorld, address: String, count: usize) {
    let mailbox = world.mailbox_of(&address).await;
    assert_eq!(mailbox.len(), count, "{mailbox:#?}");
}

#[then(expr = "the last email to the address {string} has subject {string}")]
async fn address_last_subject(world: &mut KeelWorld, address: String, subject: String) {
    let email = world.mailbox_of(&address).await.pop().unwrap_or_else(|| panic!("`{address}` has no email"));
    assert_eq!(email.subject, subject);
}

#[then(expr = "{string} received {int} email(s)")]
async fn received(world: &mut KeelWorld, name: String, count: usize) {
    let mailbox = world.mailbox(&name).await;
    assert_eq!(mailbox.len(), count, "{mailbox:#?}");
}

#[then(expr = "the last email to {string} has subject {string}")]
async fn last_subject(world: &mut KeelWorld, name: String, subject: String) {
    assert_eq!(world.last_email(&name).await.subject, subject);
}

#[then(expr = "the last email to {string} is from {string}")]
async fn last_from(world: &mut KeelWorld, name: String, from: String) {
    assert_eq!(world.last_email(&name).await.from, from);
}

#[then(regex = r#"^the last email to "([^"]+)" says '(.*)'$"#)]
async fn last_says(world: &mut KeelWorld, name: String, words: String) {
    let words = world.interpolate(&words);
    let email = world.last_email(&name).await;
    assert!(email.text.contains(&words), "text body: {}", email.text);
}

#[then(regex = r#"^the last email to "([^"]+)" does not say '(.*)'$"#)]
async fn last_does_not_say(world: &mut KeelWorld, name: String, words: String) {
    let words = world.interpolate(&words);
    let email = world.last_email(&name).await;
    assert!(!email.text.contains(&words) && !email.html.contains(&words), "the mail says {words:?}: {}", email.text);
}

#[then(regex = r#"^the HTML of the last email to "([^"]+)" contains '(.*)'$"#)]
async fn last_html_contains(world: &mut KeelWorld, name: String, fragment: String) {
    let email = world.last_email(&name).await;
    assert!(email.html.contains(&fragment), "HTML body: {}", email.html);
}

#[when(expr = "a client fetches the outbox message remembered as {string}")]
async fn fetch_remembered(world: &mut KeelWorld, name: String) {
    let id = world.remembered.get(&name).and_then(Value::as_str).map(str::to_owned);
    let id = id.unwrap_or_else(|| panic!("nothing remembered as `{name}`"));
    let path = format!("/dev/outbox/{id}");
    world.send(None, "GET", &path, None).await;
}
