//! The wording of each notification: pure functions of the event, so they
//! are unit-tested natively.

use crate::exports::keel::platform::notifications::{MemberAdded, Role};

/// A written message.
#[derive(Debug)]
pub struct Written {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn member_added(event: &MemberAdded) -> Written {
    let role = match event.role {
        Role::Owner => "an owner",
        Role::Admin => "an admin",
        Role::Member => "a member",
    };
    let subject = format!("{} added you to {}", one_line(&event.added_by), one_line(&event.workspace_name));
    let text = format!(
        "Hi {name},\n\n{by} added you to the workspace \"{workspace}\" as {role}.\n\
         Sign in to Keel to see its channels.\n\nWorkspace id: {id}\n",
        name = event.recipient_name,
        by = event.added_by,
        workspace = event.workspace_name,
        id = event.workspace_id,
    );
    let html = format!(
        "<p>Hi {name},</p>\n<p>{by} added you to the workspace <strong>{workspace}</strong> as {role}. \
         Sign in to Keel to see its channels.</p>\n<p>Workspace id: <code>{id}</code></p>\n",
        name = escape(&event.recipient_name),
        by = escape(&event.added_by),
        workspace = escape(&event.workspace_name),
        id = escape(&event.workspace_id),
    );
    Written { subject, text, html }
}

/// `text` on one line: a subject is a mail header, where a line break
/// would end it.
fn one_line(text: &str) -> String {
    text.split(['\r', '\n']).filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" ")
}

/// `text` safe inside HTML element content and attribute values.
fn escape(text: &str) -> String {
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

    fn event(workspace_name: &str, added_by: &str) -> MemberAdded {
        MemberAdded {
            workspace_id: "wsp_1".into(),
            workspace_name: workspace_name.into(),
            recipient_email: "bob@example.com".into(),
            recipient_name: "Bob".into(),
            added_by: added_by.into(),
            role: Role::Admin,
        }
    }

    #[test]
    fn names_the_workspace_the_adder_and_the_role() {
        let written = member_added(&event("Acme", "Alice"));
        assert_eq!(written.subject, "Alice added you to Acme");
        assert!(written.text.contains("Hi Bob,"), "{}", written.text);
        assert!(written.text.contains("\"Acme\" as an admin"), "{}", written.text);
        assert!(written.html.contains("<strong>Acme</strong> as an admin"), "{}", written.html);
    }

    #[test]
    fn user_supplied_names_cannot_inject_html() {
        let written = member_added(&event("<script>alert(1)</script>", "Eve & \"Co\""));
        assert!(!written.html.contains("<script>"), "{}", written.html);
        assert!(written.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", written.html);
        assert!(written.html.contains("Eve &amp; &quot;Co&quot;"), "{}", written.html);
    }

    #[test]
    fn subjects_stay_on_one_line() {
        let written = member_added(&event("Acme\r\nBcc: victim@example.com", "Alice"));
        assert_eq!(written.subject, "Alice added you to Acme Bcc: victim@example.com");
    }
}
