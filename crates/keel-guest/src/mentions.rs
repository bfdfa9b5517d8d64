//! Mentions in a message's text: `<@usr_…>` names a user by id (as Slack's
//! API does); clients show it by display name.

/// The distinct user ids `text` mentions, in order.
pub fn ids(text: &str) -> Vec<&str> {
    let mut found: Vec<&str> = Vec::new();
    for (start, _) in text.match_indices("<@") {
        let rest = &text[start + 2..];
        let Some(end) = rest.find('>') else { continue };
        let id = &rest[..end];
        let well_formed =
            id.starts_with("usr_") && id.len() > 4 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if well_formed && !found.contains(&id) {
            found.push(id);
        }
    }
    found
}

/// `text` as people read it: each `<@usr_…>` of someone `name_of` knows
/// becomes `@Display Name`.
pub fn by_name<'a>(text: &str, name_of: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut shown = text.to_owned();
    for id in ids(text) {
        if let Some(name) = name_of(id) {
            shown = shown.replace(&format!("<@{id}>"), &format!("@{name}"));
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_user_ids_in_angle_brackets_once_each() {
        assert_eq!(ids("hi <@usr_1a> and <@usr_2b>, <@usr_1a> again"), ["usr_1a", "usr_2b"]);
        assert_eq!(ids("<@<@usr_x>"), ["usr_x"]);
        for none in ["@usr_1", "<@usr_>", "<@chn_1>", "<@usr_1 >", "<@usr_1", "email <a@b.c>"] {
            assert!(ids(none).is_empty(), "{none:?}: {:?}", ids(none));
        }
    }

    #[test]
    fn known_mentions_read_by_name() {
        let names = |id: &str| (id == "usr_a").then_some("Alice Smith");
        assert_eq!(by_name("<@usr_a>, <@usr_b> and <@usr_a>", names), "@Alice Smith, <@usr_b> and @Alice Smith");
    }
}
