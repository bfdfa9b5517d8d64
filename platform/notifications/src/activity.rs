//! Activity mail: what happened to a person in a workspace (mentions,
//! replies), written from the app's templates or the workspace's own.

use crate::exports::keel::platform::notifications::{Activity, ActivityKind, Template, TemplateName};
use crate::message::Written;
use crate::template::{self, Escape, Values, Variables};
use std::collections::HashMap;

/// The longest part of a message quoted in a mail, in characters.
const QUOTE_CHARS: usize = 500;
/// The longest template subject, in characters.
const MAX_SUBJECT_CHARS: usize = 300;
/// The longest template body, in bytes.
const MAX_BODY_BYTES: usize = 20_000;

const ONE: Variables = Variables {
    top: &[
        "recipient_name",
        "author_name",
        "workspace_name",
        "workspace_id",
        "channel_name",
        "channel_id",
        "message_id",
        "text",
        "link",
    ],
    item: &[],
};

const DIGEST: Variables = Variables {
    top: &["recipient_name", "workspace_name", "workspace_id", "count", "link"],
    item: &["kind", "author_name", "channel_name", "channel_id", "message_id", "text", "link"],
};

fn variables(name: TemplateName) -> &'static Variables {
    match name {
        TemplateName::Mention | TemplateName::Reply => &ONE,
        TemplateName::Digest => &DIGEST,
    }
}

/// The names `check` accepts, for people writing a template.
pub fn variable_names(name: TemplateName) -> Vec<String> {
    let variables = variables(name);
    let mut names: Vec<String> = variables.top.iter().map(|name| (*name).to_owned()).collect();
    names.extend(variables.item.iter().map(|name| format!("items.{name}")));
    names
}

/// The app's wording.
pub fn default_template(name: TemplateName) -> Template {
    let (subject, text, html) = match name {
        TemplateName::Mention => (
            "{{author_name}} mentioned you in #{{channel_name}}",
            "Hi {{recipient_name}},\n\n{{author_name}} mentioned you in #{{channel_name}} ({{workspace_name}}):\n\n\
             {{text}}\n\nOpen it: {{link}}\nMessage id: {{message_id}}\n",
            "<p>Hi {{recipient_name}},</p>\n<p>{{author_name}} mentioned you in <strong>#{{channel_name}}</strong> \
             ({{workspace_name}}):</p>\n<blockquote style=\"white-space: pre-wrap\">{{text}}</blockquote>\n\
             <p><a href=\"{{link}}\">Open it</a></p>\n",
        ),
        TemplateName::Reply => (
            "{{author_name}} replied to your thread in #{{channel_name}}",
            "Hi {{recipient_name}},\n\n{{author_name}} replied to your thread in #{{channel_name}} \
             ({{workspace_name}}):\n\n{{text}}\n\nOpen it: {{link}}\nMessage id: {{message_id}}\n",
            "<p>Hi {{recipient_name}},</p>\n<p>{{author_name}} replied to your thread in \
             <strong>#{{channel_name}}</strong> ({{workspace_name}}):</p>\n\
             <blockquote style=\"white-space: pre-wrap\">{{text}}</blockquote>\n<p><a href=\"{{link}}\">Open it</a></p>\n",
        ),
        TemplateName::Digest => (
            "{{count}} new notifications in {{workspace_name}}",
            "Hi {{recipient_name}},\n\nWhat happened in {{workspace_name}}:\n\n{{#items}}\n\
             - {{author_name}} {{kind}} in #{{channel_name}}: {{text}}\n  {{link}}\n{{/items}}\n",
            "<p>Hi {{recipient_name}},</p>\n<p>What happened in <strong>{{workspace_name}}</strong>:</p>\n<ul>\n\
             {{#items}}\n<li>{{author_name}} {{kind}} in <strong>#{{channel_name}}</strong>: \
             <a href=\"{{link}}\">{{text}}</a></li>\n{{/items}}\n</ul>\n",
        ),
    };
    Template { subject: subject.to_owned(), text: text.to_owned(), html: html.to_owned() }
}

/// A template, parsed: every problem with it, or its three parts.
pub struct Parsed {
    subject: Vec<template::Node>,
    text: Vec<template::Node>,
    html: Vec<template::Node>,
}

/// Parse `template` as the `name` mail; every problem is listed.
pub fn check(name: TemplateName, template: &Template) -> Result<Parsed, Vec<String>> {
    let variables = variables(name);
    let mut problems = Vec::new();
    if template.subject.trim().is_empty() {
        problems.push("subject: may not be empty".to_owned());
    }
    if template.subject.chars().count() > MAX_SUBJECT_CHARS {
        problems.push(format!("subject: longer than {MAX_SUBJECT_CHARS} characters"));
    }
    if template.text.trim().is_empty() && template.html.trim().is_empty() {
        problems.push("text and html: at least one must say something".to_owned());
    }
    for (part, body) in [("text", &template.text), ("html", &template.html)] {
        if body.len() > MAX_BODY_BYTES {
            problems.push(format!("{part}: longer than {MAX_BODY_BYTES} bytes"));
        }
    }
    let parsed = Parsed {
        subject: template::parse(&template.subject, "subject", variables, &mut problems),
        text: template::parse(&template.text, "text", variables, &mut problems),
        html: template::parse(&template.html, "html", variables, &mut problems),
    };
    if problems.is_empty() { Ok(parsed) } else { Err(problems) }
}

/// Which template `activity` takes.
pub fn template_name(activity: &Activity) -> TemplateName {
    match activity.items.as_slice() {
        [one] => match one.kind {
            ActivityKind::Mention => TemplateName::Mention,
            ActivityKind::Reply => TemplateName::Reply,
        },
        _ => TemplateName::Digest,
    }
}

/// Write the mail about `activity` with `parsed` (its template); links
/// point into `base`.
pub fn write(activity: &Activity, parsed: &Parsed, base: &str) -> Written {
    let workspace_link = format!("{base}/workspaces/{}", activity.workspace_id);
    let item_values = |item: &crate::exports::keel::platform::notifications::ActivityItem| {
        let quote: String = item.text.chars().take(QUOTE_CHARS).collect();
        let cut = if quote.len() < item.text.len() { " …" } else { "" };
        HashMap::from([
            (
                "kind",
                match item.kind {
                    ActivityKind::Mention => "mentioned you".to_owned(),
                    ActivityKind::Reply => "replied to your thread".to_owned(),
                },
            ),
            ("author_name", item.author_name.clone()),
            ("channel_name", item.channel_name.clone()),
            ("channel_id", item.channel_id.clone()),
            ("message_id", item.message_id.clone()),
            ("text", format!("{quote}{cut}")),
            ("link", format!("{workspace_link}/channels/{}/messages/{}", item.channel_id, item.message_id)),
        ])
    };
    let items: Vec<HashMap<&'static str, String>> = activity.items.iter().map(item_values).collect();
    let mut top = HashMap::from([
        ("recipient_name", activity.recipient_name.clone()),
        ("workspace_name", activity.workspace_name.clone()),
        ("workspace_id", activity.workspace_id.clone()),
        ("count", activity.items.len().to_string()),
        ("link", workspace_link),
    ]);
    // A single item's values are the mail's (the `mention` and `reply` templates).
    if let [one] = items.as_slice() {
        for (name, value) in one {
            if *name != "kind" {
                top.insert(name, value.clone());
            }
        }
    }
    let values = Values { top, items };
    let subject = template::render(&parsed.subject, &values, Escape::OneLine);
    Written {
        subject: subject.chars().take(MAX_SUBJECT_CHARS).collect::<String>().trim().to_owned(),
        text: template::render(&parsed.text, &values, Escape::None),
        html: template::render(&parsed.html, &values, Escape::Html),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exports::keel::platform::notifications::ActivityItem;

    fn item(kind: ActivityKind, author: &str, text: &str) -> ActivityItem {
        ActivityItem {
            kind,
            author_name: author.into(),
            channel_id: "chn_1".into(),
            channel_name: "general".into(),
            message_id: "msg_1".into(),
            text: text.into(),
            created_at: 0,
        }
    }

    fn activity(items: Vec<ActivityItem>) -> Activity {
        Activity {
            recipient_email: "carol@example.com".into(),
            recipient_name: "Carol".into(),
            workspace_id: "wsp_1".into(),
            workspace_name: "Acme".into(),
            items,
        }
    }

    fn written(activity: &Activity) -> Written {
        let name = template_name(activity);
        write(activity, &check(name, &default_template(name)).unwrap(), "https://collab.example.com")
    }

    #[test]
    fn the_default_templates_are_valid() {
        for name in [TemplateName::Mention, TemplateName::Reply, TemplateName::Digest] {
            assert!(check(name, &default_template(name)).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn one_mention_quotes_the_message_escaped_and_cut() {
        let text = format!("@Carol <b>look</b>\n{}", "x".repeat(600));
        let written = written(&activity(vec![item(ActivityKind::Mention, "Bob\r\nBcc: x@evil.example", &text)]));
        assert_eq!(written.subject, "Bob Bcc: x@evil.example mentioned you in #general");
        assert!(written.text.contains("(Acme):\n\n@Carol <b>look</b>\n"), "{}", written.text);
        assert!(written.text.contains(" …"), "a long message is cut");
        assert!(written.text.contains("https://collab.example.com/workspaces/wsp_1/channels/chn_1/messages/msg_1"));
        assert!(written.html.contains("@Carol &lt;b&gt;look&lt;/b&gt;"), "{}", written.html);
        assert!(!written.html.contains("<b>"));
    }

    #[test]
    fn several_items_are_one_digest() {
        let activity =
            activity(vec![item(ActivityKind::Mention, "Bob", "first"), item(ActivityKind::Reply, "Dan", "second")]);
        let written = written(&activity);
        assert_eq!(written.subject, "2 new notifications in Acme");
        assert!(written.text.contains("- Bob mentioned you in #general: first\n"), "{}", written.text);
        assert!(written.text.contains("- Dan replied to your thread in #general: second\n"), "{}", written.text);
        assert_eq!(written.html.matches("<li>").count(), 2, "{}", written.html);
    }

    #[test]
    fn a_workspace_template_rewords_the_mail_and_problems_are_listed() {
        let own =
            Template { subject: "{{author_name}} pinged you".into(), text: "{{text}}".into(), html: String::new() };
        let parsed = check(TemplateName::Mention, &own).unwrap();
        let written = write(&activity(vec![item(ActivityKind::Mention, "Bob", "hey")]), &parsed, "https://x");
        assert_eq!((written.subject.as_str(), written.text.as_str()), ("Bob pinged you", "hey"));
        let bad = Template { subject: " ".into(), text: "{{count}} {{#items}}".into(), html: String::new() };
        let problems = check(TemplateName::Mention, &bad).err().unwrap();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert_eq!(variable_names(TemplateName::Digest).last().unwrap(), "items.link");
    }
}
