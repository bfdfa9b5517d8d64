//! `keel:platform/configuration`: typed application settings from Spin
//! variables.
//!
//! Every platform component reads its settings here, so that one place
//! decides what a number, an email address, a URL or a JSON setting must
//! look like and how a bad value is reported: an error naming the
//! variable, the value and what is expected, the first time the setting is
//! used (Spin variables are resolved by the host; a value is only known to
//! be wrong when a component reads it). Each variable is read from the host
//! once per instance, since Spin variables do not change while an app runs.
//!
//! ```text
//! token_ttl_seconds = "900"     number(60..=31536000)  → Some(900)
//! token_ttl_seconds = "15m"     number(…)              → invalid: variable `token_ttl_seconds` = `15m`: expected a whole number from 60 to 31536000
//! app_base_url = "https://x/"   url                    → Some("https://x")
//! mail_from unset or blank      email                  → None (the caller's default applies)
//! ```

use exports::keel::platform::configuration::{Bounds, Error, Guest, Kind};
use std::cell::RefCell;
use std::collections::HashMap;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform"],
    world: "keel:platform/configuration-service",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

thread_local! {
    /// Variables read from the host so far: `None` when undefined.
    static READ: RefCell<HashMap<String, Option<String>>> = RefCell::new(HashMap::new());
}

struct Configuration;

impl Guest for Configuration {
    async fn get(name: String, kind: Kind) -> Result<Option<String>, Error> {
        match raw(&name).await? {
            None => Ok(None),
            Some(value) => check(&name, &value, &kind).map(Some).map_err(Error::Invalid),
        }
    }

    async fn number(name: String, bounds: Bounds) -> Result<Option<u64>, Error> {
        let checked = Self::get(name, Kind::Number(bounds)).await?;
        Ok(checked.map(|number| number.parse().expect("checked as a number")))
    }
}

/// The variable's value, trimmed; `None` when undefined or blank.
async fn raw(name: &str) -> Result<Option<String>, Error> {
    if let Some(known) = READ.with_borrow(|read| read.get(name).cloned()) {
        return Ok(known);
    }
    let value = match spin_sdk::variables::get(name).await {
        Ok(value) => Some(value.trim().to_owned()).filter(|value| !value.is_empty()),
        Err(spin_sdk::variables::Error::Undefined(_)) => None,
        Err(err) => return Err(Error::Unavailable(format!("cannot read variable `{name}`: {err}"))),
    };
    READ.with_borrow_mut(|read| read.insert(name.to_owned(), value.clone()));
    Ok(value)
}

/// `value` in its canonical form if it is a valid `kind`, else why not.
fn check(name: &str, value: &str, kind: &Kind) -> Result<String, String> {
    let expected = match kind {
        Kind::Text => return Ok(value.to_owned()),
        Kind::Number(Bounds { min, max }) => match value.parse::<u64>() {
            Ok(number) if (*min..=*max).contains(&number) => return Ok(number.to_string()),
            _ => format!("a whole number from {min} to {max}"),
        },
        Kind::Email => match keel_guest::validate::email(value) {
            Ok(email) => return Ok(email),
            Err(_) => "an email address".to_owned(),
        },
        Kind::Url => {
            let url = value.trim_end_matches('/');
            let host = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
            match host {
                Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => return Ok(url.to_owned()),
                _ => "an http:// or https:// URL".to_owned(),
            }
        }
        Kind::Json => match serde_json::from_str::<serde_json::Value>(value) {
            Ok(_) => return Ok(value.to_owned()),
            Err(err) => format!("JSON ({err})"),
        },
    };
    Err(format!("variable `{name}` = `{value}`: expected {expected}"))
}

export!(Configuration);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_checked_against_their_bounds() {
        let ttl = Kind::Number(Bounds { min: 60, max: 3600 });
        assert_eq!(check("ttl", "900", &ttl), Ok("900".into()));
        assert_eq!(check("ttl", "0900", &ttl), Ok("900".into()));
        for bad in ["59", "3601", "15m", "-1", "1e3"] {
            let err = check("ttl", bad, &ttl).unwrap_err();
            assert_eq!(err, format!("variable `ttl` = `{bad}`: expected a whole number from 60 to 3600"));
        }
    }

    #[test]
    fn urls_emails_and_json() {
        assert_eq!(check("u", "https://x.example/", &Kind::Url), Ok("https://x.example".into()));
        assert!(check("u", "ftp://x", &Kind::Url).unwrap_err().contains("an http:// or https:// URL"));
        assert!(check("u", "https://", &Kind::Url).is_err());
        assert!(check("m", "Team@Example.com", &Kind::Email).is_ok());
        assert!(check("m", "not an address", &Kind::Email).unwrap_err().contains("expected an email address"));
        assert!(check("j", r#"{"a":1}"#, &Kind::Json).is_ok());
        assert!(check("j", "{a:1}", &Kind::Json).unwrap_err().contains("expected JSON ("));
    }
}
