//! The `keel:infrastructure/email` export, shared by every email adapter.
//!
//! [`bindings`] holds the generated export (types with serde derives, the
//! `Guest` trait); an adapter implements [`Guest`] and registers itself with
//! `keel_guest::email::export_email!(MyAdapter);`. [`validate`] is the check every
//! adapter runs before sending, and [`mailbox`] formats an address as an
//! RFC 5322 mailbox (`"Doe, Jane" <jane@example.com>`).

#[cfg(feature = "email-provider")]
pub mod provider;

/// Generated bindings of the `keel:infrastructure/email` export.
pub mod bindings {
    ::spin_sdk::wit_bindgen::generate!({
        path: "../../wit/infrastructure",
        world: "keel:infrastructure/email-adapter",
        runtime_path: "::spin_sdk::wit_bindgen::rt",
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
        pub_export_macro: true,
        export_macro_name: "export_email",
        default_bindings_module: "::keel_guest::email::bindings",
    });
}

use base64::Engine as _;
pub use bindings::exports::keel::infrastructure::email::{Address, Error, Guest, Message};
pub use bindings::export_email;

use crate::validate;

/// Longest subject accepted (SES's and SendGrid's limits are far above).
const MAX_SUBJECT_CHARS: usize = 998;

/// Check `message` before it goes out: at least one recipient, a subject, a
/// text or HTML body, well-formed addresses and no line breaks in header
/// fields. Malformed addresses are `invalid-address`, the rest
/// `invalid-message`.
pub fn validate(message: &Message) -> Result<(), Error> {
    if message.to.is_empty() && message.cc.is_empty() && message.bcc.is_empty() {
        return Err(Error::InvalidMessage("the message needs at least one recipient".into()));
    }
    let subject = message.subject.trim();
    if subject.is_empty() {
        return Err(Error::InvalidMessage("the subject must not be empty".into()));
    }
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(Error::InvalidMessage(format!("the subject must be at most {MAX_SUBJECT_CHARS} characters")));
    }
    if has_line_break(&message.subject) {
        return Err(Error::InvalidMessage("the subject must not contain line breaks".into()));
    }
    let has_body = |body: &Option<String>| body.as_deref().is_some_and(|text| !text.trim().is_empty());
    if !has_body(&message.text_body) && !has_body(&message.html_body) {
        return Err(Error::InvalidMessage("the message needs a text or an HTML body".into()));
    }
    if let Some(tag) = message.tags.iter().find(|tag| tag.trim().is_empty() || has_line_break(tag)) {
        return Err(Error::InvalidMessage(format!("tag {tag:?} must be non-empty and on one line")));
    }
    let addresses = std::iter::once(&message.from)
        .chain(&message.to)
        .chain(&message.cc)
        .chain(&message.bcc)
        .chain(&message.reply_to);
    for address in addresses {
        check_address(address)?;
    }
    Ok(())
}

fn check_address(address: &Address) -> Result<(), Error> {
    if validate::email(&address.email).is_err() || address.email.trim() != address.email {
        return Err(Error::InvalidAddress(format!("`{}` is not a valid email address", address.email)));
    }
    if address.name.as_deref().is_some_and(has_line_break) {
        return Err(Error::InvalidAddress(format!("the display name of `{}` contains a line break", address.email)));
    }
    Ok(())
}

fn has_line_break(text: &str) -> bool {
    text.contains(['\r', '\n'])
}

/// `address` as an RFC 5322 mailbox: the bare address without a name,
/// `Name <email>` for plain names, a quoted string for names with
/// specials and an RFC 2047 encoded word for non-ASCII names.
pub fn mailbox(address: &Address) -> String {
    let name = address.name.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return address.email.clone();
    }
    let display = if !name.is_ascii() {
        format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(name))
    } else if name.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || "!#$%&'*+-/=?^_`{|}~".contains(c)) {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    };
    format!("{display} <{}>", address.email)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(email: &str, name: Option<&str>) -> Address {
        Address { email: email.into(), name: name.map(Into::into) }
    }

    fn message() -> Message {
        Message {
            from: address("noreply@example.com", Some("Keel")),
            to: vec![address("ada@example.com", None)],
            cc: vec![],
            bcc: vec![],
            reply_to: None,
            subject: "Hello".into(),
            text_body: Some("Hi Ada".into()),
            html_body: None,
            tags: vec!["welcome".into()],
        }
    }

    #[test]
    fn a_complete_message_is_valid() {
        assert!(validate(&message()).is_ok());
        let html_only = Message { text_body: None, html_body: Some("<p>Hi</p>".into()), ..message() };
        assert!(validate(&html_only).is_ok());
        let bcc_only = Message { to: vec![], bcc: vec![address("b@example.com", None)], ..message() };
        assert!(validate(&bcc_only).is_ok());
    }

    #[test]
    fn incomplete_messages_are_invalid_messages() {
        let cases = [
            Message { to: vec![], ..message() },
            Message { subject: "  ".into(), ..message() },
            Message { subject: "a\r\nBcc: x@example.com".into(), ..message() },
            Message { text_body: Some(" ".into()), html_body: None, ..message() },
            Message { tags: vec![String::new()], ..message() },
        ];
        for case in cases {
            assert!(matches!(validate(&case), Err(Error::InvalidMessage(_))), "{case:?}");
        }
    }

    #[test]
    fn malformed_addresses_are_invalid_addresses() {
        let cases = [
            Message { to: vec![address("not-an-address", None)], ..message() },
            Message { from: address("noreply@", None), ..message() },
            Message { cc: vec![address(" ada@example.com", None)], ..message() },
            Message { reply_to: Some(address("a b@example.com", None)), ..message() },
            Message { to: vec![address("ada@example.com", Some("Ada\nBcc: x"))], ..message() },
        ];
        for case in cases {
            assert!(matches!(validate(&case), Err(Error::InvalidAddress(_))), "{case:?}");
        }
    }

    #[test]
    fn mailboxes_quote_and_encode_names() {
        assert_eq!(mailbox(&address("a@example.com", None)), "a@example.com");
        assert_eq!(mailbox(&address("a@example.com", Some(" "))), "a@example.com");
        assert_eq!(mailbox(&address("a@example.com", Some("Ada Lovelace"))), "Ada Lovelace <a@example.com>");
        assert_eq!(mailbox(&address("a@example.com", Some("Doe, \"J\""))), "\"Doe, \\\"J\\\"\" <a@example.com>");
        assert_eq!(mailbox(&address("a@example.com", Some("Zoë"))), "=?UTF-8?B?Wm/Dqw==?= <a@example.com>");
    }
}
