//! Input rules shared by the domain components.
//!
//! Each function returns the normalised value (trimmed, lower-cased where the
//! rule says so) or a [`Invalid`] message fit to show to the caller.

/// Why an input was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

const MAX_EMAIL_LEN: usize = 254;

/// An email that looks like `local@domain.tld`: trimmed, lower-cased, at
/// most 254 bytes, no white space, one `@`, and a dot inside the domain.
pub fn email(raw: &str) -> Result<String, Invalid> {
    let email = raw.trim().to_lowercase();
    let invalid = || Invalid("email must look like name@example.com".into());
    if email.is_empty() || email.len() > MAX_EMAIL_LEN || email.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok =
        !domain.contains('@') && domain.split('.').count() >= 2 && domain.split('.').all(|label| !label.is_empty());
    if local.is_empty() || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

/// A display name: trimmed, 1–80 characters.
pub fn display_name(raw: &str) -> Result<String, Invalid> {
    trimmed_len("display name", raw, 80)
}

/// A workspace name: trimmed, 1–100 characters.
pub fn workspace_name(raw: &str) -> Result<String, Invalid> {
    trimmed_len("workspace name", raw, 100)
}

/// A channel name: trimmed and lower-cased, 1–80 characters of `a-z 0-9 - _`.
pub fn channel_name(raw: &str) -> Result<String, Invalid> {
    let name = trimmed_len("channel name", raw, 80)?.to_lowercase();
    if name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        Ok(name)
    } else {
        Err(Invalid("channel name may only contain a-z, 0-9, '-' and '_'".into()))
    }
}

/// Message text: 1–4000 characters, not only white space; kept as written.
pub fn message_text(raw: &str) -> Result<String, Invalid> {
    trimmed_len("message text", raw, 4000)?;
    if raw.chars().count() > 4000 {
        return Err(Invalid("message text must be at most 4000 characters".into()));
    }
    Ok(raw.to_owned())
}

/// A reaction: an emoji (`👍`, `🎉`, a flag or family sequence) or a
/// `:short_code:` of `a-z 0-9 _ + -`, at most 16 characters either way.
pub fn reaction(raw: &str) -> Result<String, Invalid> {
    let invalid = || Invalid("a reaction is one emoji or a :short_code: of a-z, 0-9, '_', '+' and '-'".into());
    let count = raw.chars().count();
    if count == 0 || count > 16 {
        return Err(invalid());
    }
    let short_code = raw.len() > 2
        && raw.starts_with(':')
        && raw.ends_with(':')
        && raw[1..raw.len() - 1].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_+-".contains(c));
    // Emoji sequences: pictographs, joiners, variation selectors, skin
    // tones, keycaps and regional indicators; nothing an ASCII letter,
    // space or control character could be.
    let emoji = raw.chars().any(|c| u32::from(c) >= 0x2000)
        && raw.chars().all(|c| u32::from(c) >= 0x2000 || c == '#' || c == '*' || c.is_ascii_digit())
        && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
    if short_code || emoji { Ok(raw.to_owned()) } else { Err(invalid()) }
}

/// Items per page when the caller names no size.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page a caller may ask for.
pub const MAX_PAGE_SIZE: u32 = 200;

/// A page size: none asked for is [`DEFAULT_PAGE_SIZE`], otherwise
/// 1–[`MAX_PAGE_SIZE`]. The domains apply this rule; the product only
/// parses the number, and the layers below the domains take the size
/// they are given.
pub fn page_size(requested: Option<u32>) -> Result<u32, Invalid> {
    match requested {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(size @ 1..=MAX_PAGE_SIZE) => Ok(size),
        Some(_) => Err(Invalid(format!("limit must be a number from 1 to {MAX_PAGE_SIZE}"))),
    }
}

fn trimmed_len(what: &str, raw: &str, max_chars: usize) -> Result<String, Invalid> {
    let value = raw.trim();
    let len = value.chars().count();
    if len == 0 {
        Err(Invalid(format!("{what} must not be empty")))
    } else if len > max_chars {
        Err(Invalid(format!("{what} must be at most {max_chars} characters")))
    } else {
        Ok(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_are_emoji_or_short_codes() {
        for good in ["👍", "🎉", "❤️", "👩‍👩‍👧", "🇫🇷", "👍🏽", "1️⃣", ":thumbsup:", ":+1:", ":party_parrot:"] {
            assert_eq!(reaction(good).as_deref(), Ok(good), "{good:?}");
        }
        for bad in ["", "a", "::", ":Thumbs:", ":a b:", "👍 ", " 👍", "x👍", "\u{2028}", ":aaaaaaaaaaaaaaaa:", "1", "<b>"] {
            assert!(reaction(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        assert_eq!(email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        assert_eq!(email("a.b+c@mail.example.org").unwrap(), "a.b+c@mail.example.org");
    }

    #[test]
    fn email_rejects_malformed() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a b@example.com",
            "ada@example.",
            "ada@.com",
        ] {
            assert!(email(bad).is_err(), "{bad:?} should be rejected");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(email(&long).is_err());
    }

    #[test]
    fn names_have_bounds() {
        assert_eq!(display_name("  Ada  ").unwrap(), "Ada");
        assert!(display_name("   ").is_err());
        assert!(display_name(&"x".repeat(81)).is_err());
        assert!(display_name(&"é".repeat(80)).is_ok());
        assert!(workspace_name(&"w".repeat(100)).is_ok());
        assert!(workspace_name(&"w".repeat(101)).is_err());
    }

    #[test]
    fn channel_names_are_slugs() {
        assert_eq!(channel_name(" General-Chat_2 ").unwrap(), "general-chat_2");
        assert!(channel_name("with space").is_err());
        assert!(channel_name("émoji").is_err());
        assert!(channel_name("").is_err());
        assert!(channel_name(&"c".repeat(81)).is_err());
    }

    #[test]
    fn page_sizes_default_and_have_bounds() {
        assert_eq!(page_size(None), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(Some(1)), Ok(1));
        assert_eq!(page_size(Some(MAX_PAGE_SIZE)), Ok(MAX_PAGE_SIZE));
        for bad in [0, MAX_PAGE_SIZE + 1, u32::MAX] {
            assert!(page_size(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn message_text_is_kept_verbatim() {
        assert_eq!(message_text("  hi  ").unwrap(), "  hi  ");
        assert!(message_text(" \n ").is_err());
        assert!(message_text(&"m".repeat(4000)).is_ok());
        assert!(message_text(&"m".repeat(4001)).is_err());
    }
}
