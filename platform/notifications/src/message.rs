//! The wording of each notification: pure functions of the event, so they
//! are unit-tested natively. Every user-supplied value is HTML-escaped in
//! HTML bodies and kept to one line in subjects.

use crate::exports::keel::platform::notifications::{AccountLink, Invited, Role};

/// A written message.
#[derive(Debug)]
pub struct Written {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// An invitation to join a workspace. `base` is the app's public URL and
/// `now` the current time (ms), for the validity period.
pub fn invited(event: &Invited, base: &str, now: i64) -> Written {
    let role = match event.role {
        Role::Owner => "an owner",
        Role::Admin => "an admin",
        Role::Member => "a member",
    };
    let link = format!("{base}/invitations/{}", event.invitation_id);
    let validity = validity(event.expires_at, now);
    let subject = format!("{} invited you to {}", one_line(&event.invited_by), one_line(&event.workspace_name));
    let text = format!(
        "Hello,\n\n{by} invited you to join the workspace \"{workspace}\" as {role}.\n\n\
         Accept or decline: {link}\n\n\
         Sign in (or sign up) with this address ({email}) and verify it to accept. \
         The invitation expires in {validity}.\n\nInvitation id: {id}\n",
        by = event.invited_by,
        workspace = event.workspace_name,
        email = event.recipient_email,
        id = event.invitation_id,
    );
    let html = format!(
        "<p>Hello,</p>\n<p>{by} invited you to join the workspace <strong>{workspace}</strong> as {role}.</p>\n\
         <p><a href=\"{link}\">Accept or decline the invitation</a></p>\n\
         <p>Sign in (or sign up) with this address ({email}) and verify it to accept. \
         The invitation expires in {validity}.</p>\n<p>Invitation id: <code>{id}</code></p>\n",
        by = escape(&event.invited_by),
        workspace = escape(&event.workspace_name),
        link = escape(&link),
        email = escape(&event.recipient_email),
        id = escape(&event.invitation_id),
    );
    Written { subject, text, html }
}

/// What an account link is for.
#[derive(Debug, Clone, Copy)]
pub enum LinkKind {
    VerifyEmail,
    ResetPassword,
}

/// A single-use link to an account's address: its secret is in the URL and,
/// for API clients, on a line of its own.
pub fn account_link(kind: LinkKind, link: &AccountLink, base: &str, now: i64) -> Written {
    let (subject, path, intro, action, ignore) = match kind {
        LinkKind::VerifyEmail => (
            "Confirm your email address",
            "verify-email",
            "Confirm that this address is yours to finish setting up your Keel account.",
            "Confirm your address",
            "If you did not sign up, ignore this mail: the account stays unconfirmed.",
        ),
        LinkKind::ResetPassword => (
            "Reset your password",
            "reset-password",
            "Someone asked to reset the password of your Keel account.",
            "Choose a new password",
            "If it was not you, ignore this mail: your password stays as it is.",
        ),
    };
    let url = format!("{base}/{path}?token={}", link.secret);
    let validity = validity(link.expires_at, now);
    let text = format!(
        "Hi {name},\n\n{intro}\n\n{action}: {url}\n\n\
         The link works once and expires in {validity}. {ignore}\n\nToken: {secret}\n",
        name = link.recipient_name,
        secret = link.secret,
    );
    let html = format!(
        "<p>Hi {name},</p>\n<p>{intro}</p>\n<p><a href=\"{url}\">{action}</a></p>\n\
         <p>The link works once and expires in {validity}. {ignore}</p>\n",
        name = escape(&link.recipient_name),
        url = escape(&url),
    );
    Written { subject: subject.to_owned(), text, html }
}

/// How long from `now` until `expires_at` (both ms), in whole hours or days.
fn validity(expires_at: i64, now: i64) -> String {
    let hours = ((expires_at - now).max(0) + 1_800_000) / 3_600_000;
    match hours {
        0 => "less than an hour".to_owned(),
        1 => "1 hour".to_owned(),
        h if h <= 48 => format!("{h} hours"),
        h => format!("{} days", h / 24),
    }
}

/// `text` on one line: a subject is a mail header, where a line break
/// would end it.
pub fn one_line(text: &str) -> String {
    text.split(['\r', '\n']).filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" ")
}

/// `text` safe inside HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const BASE: &str = "https://collab.example.com";

    fn invitation(workspace_name: &str, invited_by: &str) -> Invited {
        Invited {
            workspace_id: "wsp_1".into(),
            workspace_name: workspace_name.into(),
            invitation_id: "inv_1".into(),
            recipient_email: "bob@example.com".into(),
            invited_by: invited_by.into(),
            role: Role::Admin,
            expires_at: NOW + 7 * 24 * 3_600_000,
        }
    }

    #[test]
    fn invitation_names_the_workspace_the_inviter_the_role_and_the_link() {
        let written = invited(&invitation("Acme", "Alice"), BASE, NOW);
        assert_eq!(written.subject, "Alice invited you to Acme");
        assert!(written.text.contains("\"Acme\" as an admin"), "{}", written.text);
        assert!(written.text.contains("https://collab.example.com/invitations/inv_1"), "{}", written.text);
        assert!(written.text.contains("expires in 7 days"), "{}", written.text);
        assert!(written.html.contains("<strong>Acme</strong> as an admin"), "{}", written.html);
    }

    #[test]
    fn user_supplied_names_cannot_inject_html() {
        let written = invited(&invitation("<script>alert(1)</script>", "Eve & \"Co\""), BASE, NOW);
        assert!(!written.html.contains("<script>"), "{}", written.html);
        assert!(written.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", written.html);
        assert!(written.html.contains("Eve &amp; &quot;Co&quot;"), "{}", written.html);
    }

    #[test]
    fn subjects_stay_on_one_line() {
        let written = invited(&invitation("Acme\r\nBcc: victim@example.com", "Alice"), BASE, NOW);
        assert_eq!(written.subject, "Alice invited you to Acme Bcc: victim@example.com");
    }

    #[test]
    fn account_links_carry_the_secret_and_the_validity() {
        let link = AccountLink {
            recipient_email: "bob@example.com".into(),
            recipient_name: "<b>Bob</b>".into(),
            secret: "vfy_abc".into(),
            expires_at: NOW + 24 * 3_600_000,
        };
        let written = account_link(LinkKind::VerifyEmail, &link, BASE, NOW);
        assert_eq!(written.subject, "Confirm your email address");
        assert!(written.text.contains("https://collab.example.com/verify-email?token=vfy_abc"), "{}", written.text);
        assert!(written.text.contains("\nToken: vfy_abc\n"), "{}", written.text);
        assert!(written.text.contains("expires in 24 hours"), "{}", written.text);
        assert!(written.html.contains("Hi &lt;b&gt;Bob&lt;/b&gt;,"), "{}", written.html);
        let written = account_link(LinkKind::ResetPassword, &link, BASE, NOW);
        assert!(written.text.contains("/reset-password?token=vfy_abc"), "{}", written.text);
    }

    #[test]
    fn validity_rounds_to_hours_or_days() {
        assert_eq!(validity(NOW + 60_000, NOW), "less than an hour");
        assert_eq!(validity(NOW + 3_600_000, NOW), "1 hour");
        assert_eq!(validity(NOW + 24 * 3_600_000, NOW), "24 hours");
        assert_eq!(validity(NOW + 7 * 24 * 3_600_000, NOW), "7 days");
        assert_eq!(validity(NOW - 5, NOW), "less than an hour");
    }
}
