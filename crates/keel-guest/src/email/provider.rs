//! Plumbing shared by the adapters that send through an email provider's
//! HTTP API: configuration from Spin variables, one outbound request, and
//! the mapping of provider answers onto `email.error`.
//!
//! | provider answer                | error                                   |
//! |--------------------------------|-----------------------------------------|
//! | 429                            | `rate-limited`, `Retry-After` seconds if given |
//! | 401, 403                       | `unauthorized`                          |
//! | 400, 422 about an address      | `invalid-address`                       |
//! | other 4xx (not 404)            | `invalid-message`                       |
//! | 404, 5xx, other, network error | `unavailable`                           |

use spin_sdk::http::HeaderMap;

use super::Error;

/// A required setting: the Spin variable `name`, non-empty.
pub async fn setting(name: &str) -> Result<String, Error> {
    optional_setting(name)
        .await?
        .ok_or_else(|| Error::Unavailable(format!("email provider not configured: variable `{name}` is empty")))
}

/// An optional setting: the Spin variable `name`, `None` when empty.
pub async fn optional_setting(name: &str) -> Result<Option<String>, Error> {
    let value = spin_sdk::variables::get(name)
        .await
        .map_err(|err| Error::Unavailable(format!("email provider not configured: variable `{name}`: {err}")))?;
    let value = value.trim();
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

/// `base` (without trailing `/`) joined with `path` (starting with `/`).
pub fn endpoint(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// A provider's answer, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as (lossy) text, shortened for error messages.
    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(300) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        }
    }

    /// The reply if it is 2xx, else the error it stands for:
    /// `describe` reads the provider's error message out of it and says
    /// whether that message concerns an address.
    pub fn accepted(self, describe: impl FnOnce(&Reply) -> (String, bool)) -> Result<Reply, Error> {
        if self.is_success() {
            return Ok(self);
        }
        let (detail, about_address) = describe(&self);
        Err(failure(self.status, self.header("retry-after"), detail, about_address))
    }

    /// The non-empty string `field` of a JSON success body: the message id
    /// `provider` assigned.
    pub fn json_id(&self, field: &str, provider: &str) -> Result<String, Error> {
        self.json()
            .and_then(|body| body.get(field).and_then(serde_json::Value::as_str).map(str::to_owned))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::Unavailable(format!("{provider} answered {} without `{field}`: {}", self.status, self.text())))
    }
}

/// `POST` `body` to `url` with `headers`; a transport failure is `unavailable`.
pub async fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Result<Reply, Error> {
    let answer = crate::outbound::send(http::Method::POST, url, headers, body).await.map_err(|err| Error::Unavailable(err.to_string()))?;
    Ok(Reply { status: answer.status, headers: answer.headers, body: answer.body })
}

/// Map a provider's non-2xx `status` onto an error (see the module table).
pub fn failure(status: u16, retry_after: Option<&str>, detail: String, about_address: bool) -> Error {
    match status {
        429 => Error::RateLimited(retry_after.and_then(|value| value.trim().parse::<u32>().ok())),
        401 | 403 => Error::Unauthorized(detail),
        400 | 422 if about_address => Error::InvalidAddress(detail),
        404 => Error::Unavailable(format!("the provider endpoint was not found: {detail}")),
        400..=499 => Error::InvalidMessage(detail),
        _ => Error::Unavailable(format!("the provider answered {status}: {detail}")),
    }
}

/// Whether a provider's error text is about an address.
pub fn mentions_address(text: &str) -> bool {
    text.to_ascii_lowercase().contains("address")
}

/// `detail` with [`mentions_address`] of it, for [`Reply::accepted`].
pub fn with_address_hint(detail: String) -> (String, bool) {
    let about_address = mentions_address(&detail);
    (detail, about_address)
}

/// `text` as `application/x-www-form-urlencoded` (spaces as `+`).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        let mut out = String::with_capacity(text.len());
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => out.push(char::from(byte)),
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
        out
    };
    pairs.iter().map(|(name, value)| format!("{}={}", encode(name), encode(value))).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_onto_errors() {
        assert_eq!(failure(429, Some("7"), String::new(), false), Error::RateLimited(Some(7)));
        assert_eq!(failure(429, Some("Wed, 21 Oct 2015 07:28:00 GMT"), String::new(), false), Error::RateLimited(None));
        assert_eq!(failure(429, None, String::new(), false), Error::RateLimited(None));
        assert!(matches!(failure(401, None, "bad key".into(), false), Error::Unauthorized(m) if m == "bad key"));
        assert!(matches!(failure(403, None, String::new(), true), Error::Unauthorized(_)));
        assert!(matches!(failure(400, None, String::new(), true), Error::InvalidAddress(_)));
        assert!(matches!(failure(400, None, String::new(), false), Error::InvalidMessage(_)));
        assert!(matches!(failure(413, None, String::new(), false), Error::InvalidMessage(_)));
        assert!(matches!(failure(404, None, String::new(), false), Error::Unavailable(_)));
        assert!(matches!(failure(503, None, String::new(), true), Error::Unavailable(_)));
    }

    #[test]
    fn forms_are_url_encoded() {
        assert_eq!(
            form_encode(&[("from", "Keel <a@example.com>"), ("o:tag", "a&b=c"), ("text", "é")]),
            "from=Keel+%3Ca%40example.com%3E&o%3Atag=a%26b%3Dc&text=%C3%A9"
        );
        assert!(mentions_address("'to' parameter is not a valid ADDRESS"));
        assert_eq!(endpoint("http://127.0.0.1:9/", "/v3/mail/send"), "http://127.0.0.1:9/v3/mail/send");
    }
}
