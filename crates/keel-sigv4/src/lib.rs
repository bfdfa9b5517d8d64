//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) for HTTP requests.
//!
//! Pure computation, no I/O and no clock: the caller passes the request
//! (method, path, query, headers, payload), the credentials, the scope
//! (region and service) and the signing time as an [`AmzDate`]. [`sign`]
//! returns every intermediate artefact ([`Signature`]: the canonical
//! request, the string to sign, the hex signature and the `Authorization`
//! header value), so tests can check each step against AWS's published
//! test-suite vectors and a server can recompute a client's signature.
//!
//! The canonical request follows AWS's rules for services other than S3:
//!
//! * the canonical URI encodes each path segment (RFC 3986 unreserved
//!   characters stay, everything else becomes `%XX`), keeping `/`;
//! * the canonical query string decodes and re-encodes each `name=value`
//!   pair and sorts by name, then value;
//! * header names are lower-cased, values trimmed with inner runs of spaces
//!   collapsed, repeated headers joined with `,`, all sorted by name; every
//!   header passed in is signed, so pass exactly those to sign (at least
//!   `host` and `x-amz-date`).

#![deny(missing_docs)]

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The only algorithm this crate implements.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// An access key pair (and the session token of temporary credentials).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (`AKIA…`).
    pub access_key_id: String,
    /// The secret key (never printed).
    pub secret_access_key: String,
    /// Sent as `x-amz-security-token` by the caller; not part of the math.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The request to sign. `path` is the absolute path as characters (not yet
/// percent-encoded); `query` is the raw query string without `?`, possibly
/// empty; `headers` are the headers to sign, in any order and case.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The path, as sent (already URI-encoded).
    pub path: &'a str,
    /// The query string without `?`, as sent.
    pub query: &'a str,
    /// The headers to sign (`host` and `x-amz-date` among them).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub payload: &'a [u8],
}

/// The signing time, `YYYYMMDD'T'HHMMSS'Z'` in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmzDate(String);

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignError {
    /// The time is not `YYYYMMDDTHHMMSSZ`.
    MalformedDate(String),
    /// A required part (region, service, key, method, path) is empty or malformed.
    InvalidInput(&'static str),
}

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignError::MalformedDate(date) => write!(f, "`{date}` is not an x-amz-date (YYYYMMDDTHHMMSSZ)"),
            SignError::InvalidInput(what) => write!(f, "cannot sign: {what}"),
        }
    }
}

impl std::error::Error for SignError {}

impl AmzDate {
    /// Parse an `x-amz-date` value such as `20150830T123600Z`.
    pub fn parse(text: &str) -> Result<AmzDate, SignError> {
        let bytes = text.as_bytes();
        let well_formed = bytes.len() == 16
            && bytes[8] == b'T'
            && bytes[15] == b'Z'
            && bytes[..8].iter().chain(&bytes[9..15]).all(u8::is_ascii_digit);
        if well_formed { Ok(AmzDate(text.to_owned())) } else { Err(SignError::MalformedDate(text.to_owned())) }
    }

    /// The instant `unix_seconds` after the epoch (clamped to years 0..=9999).
    pub fn from_unix_seconds(unix_seconds: i64) -> AmzDate {
        const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
        const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
        let seconds = unix_seconds.clamp(MIN, MAX);
        let (days, secs_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        let (year, month, day) = keel_guest::clock::civil_from_days(days);
        AmzDate(format!(
            "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
            secs_of_day / 3600,
            secs_of_day % 3600 / 60,
            secs_of_day % 60
        ))
    }

    /// The full timestamp, the value of the `x-amz-date` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `YYYYMMDD` date of the credential scope.
    pub fn date(&self) -> &str {
        &self.0[..8]
    }
}

/// Every step of a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The canonical request (task 1).
    pub canonical_request: String,
    /// The string to sign (task 2).
    pub string_to_sign: String,
    /// `20150830/us-east-1/service/aws4_request`.
    pub credential_scope: String,
    /// `host;x-amz-date`.
    pub signed_headers: String,
    /// 64 lower-case hex digits.
    pub signature: String,
    /// The value of the `Authorization` header.
    pub authorization: String,
}

/// Sign `request` for `region`/`service` at `date`.
pub fn sign(
    request: &Request<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    date: &AmzDate,
) -> Result<Signature, SignError> {
    if credentials.access_key_id.is_empty() || credentials.secret_access_key.is_empty() {
        return Err(SignError::InvalidInput("the access key id and secret must not be empty"));
    }
    if region.is_empty() || service.is_empty() || region.contains('/') || service.contains('/') {
        return Err(SignError::InvalidInput("region and service must be non-empty and contain no `/`"));
    }
    if request.method.is_empty() || !request.path.starts_with('/') {
        return Err(SignError::InvalidInput("the method must be set and the path must start with `/`"));
    }
    let (canonical_headers, signed_headers) = canonical_headers(request.headers);
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        canonical_uri(request.path),
        canonical_query(request.query),
        canonical_headers,
        signed_headers,
        hex_sha256(request.payload),
    );
    let credential_scope = format!("{}/{region}/{service}/aws4_request", date.date());
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{credential_scope}\n{}",
        date.as_str(),
        hex_sha256(canonical_request.as_bytes())
    );
    let key = signing_key(&credentials.secret_access_key, date.date(), region, service);
    let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    );
    Ok(Signature { canonical_request, string_to_sign, credential_scope, signed_headers, signature, authorization })
}

/// The derived key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret_access_key}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// The lower-case hex SHA-256 of `bytes` (also the `x-amz-content-sha256` value).
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn canonical_uri(path: &str) -> String {
    path.split('/').map(uri_encode).collect::<Vec<_>>().join("/")
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (uri_encode(&percent_decode(name)), uri_encode(&percent_decode(value)))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&")
}

/// `(canonical headers block, signed headers list)`.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut merged: Vec<(String, String)> = Vec::new();
    let mut sorted: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    // A stable sort keeps repeated headers in the order given.
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in sorted {
        match merged.last_mut() {
            Some((last, joined)) if *last == name => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => merged.push((name, value)),
        }
    }
    let block = merged.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
    let signed = merged.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";");
    (block, signed)
}

/// RFC 3986 encoding as SigV4 wants it: unreserved characters stay,
/// every other byte becomes `%XX` (upper-case hex).
pub fn uri_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Decode `%XX` escapes (and `+` as a space); malformed escapes stay as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A service endpoint URL split the way a request to it is signed: the
/// `host` header is its `authority`, and request paths start with `prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// `host[:port]`, no user info.
    pub authority: &'a str,
    /// A path prefix without trailing `/`, usually empty.
    pub prefix: &'a str,
}

impl<'a> Endpoint<'a> {
    /// Split `url` (`http(s)://host[:port][/prefix]`, no query or fragment);
    /// `None` if it is not such a URL.
    pub fn parse(url: &'a str) -> Option<Endpoint<'a>> {
        let (scheme, rest) = url.split_once("://")?;
        if !matches!(scheme, "http" | "https") || rest.contains(['?', '#']) {
            return None;
        }
        let (authority, prefix) = match rest.find('/') {
            Some(slash) => (&rest[..slash], rest[slash..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        Some(Endpoint { scheme, authority, prefix })
    }

    /// The URL of `path` (starting with `/`, under the prefix) and `query`
    /// (without `?`, possibly empty).
    pub fn url(&self, path: &str, query: &str) -> String {
        let query = if query.is_empty() { String::new() } else { format!("?{query}") };
        format!("{}://{}{path}{query}", self.scheme, self.authority)
    }
}

#[cfg(test)]
mod tests {
    //! Vectors from AWS's "Signature Version 4 test suite"
    //! (`aws-sig-v4-test-suite`: `get-vanilla`, `post-vanilla`,
    //! `get-vanilla-query-order-key-case`, `post-x-www-form-urlencoded`), all
    //! with the suite's example credentials, `20150830T123600Z`, `us-east-1`
    //! and the service `service`.

    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn suite_credentials() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    fn suite_sign(method: &str, query: &str, extra: &[(&str, &str)], payload: &[u8]) -> Signature {
        let mut headers = vec![("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")];
        headers.extend_from_slice(extra);
        let request = Request { method, path: "/", query, headers: &headers, payload };
        let date = AmzDate::parse("20150830T123600Z").unwrap();
        sign(&request, &suite_credentials(), "us-east-1", "service", &date).unwrap()
    }

    #[test]
    fn get_vanilla() {
        let signed = suite_sign("GET", "", &[], b"");
        assert_eq!(
            signed.canonical_request,
            format!("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY_SHA256}")
        );
        assert_eq!(
            signed.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(signed.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn post_vanilla() {
        let signed = suite_sign("POST", "", &[], b"");
        assert_eq!(
            signed.canonical_request,
            format!("POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY_SHA256}")
        );
        assert_eq!(
            signed.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"
        );
        assert_eq!(signed.signature, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
    }

    #[test]
    fn get_vanilla_query_order_key_case() {
        let signed = suite_sign("GET", "Param2=value2&Param1=value1", &[], b"");
        assert!(signed.canonical_request.starts_with("GET\n/\nParam1=value1&Param2=value2\n"));
        assert_eq!(signed.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        let signed = suite_sign(
            "POST",
            "",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"Param1=value1",
        );
        assert_eq!(
            signed.canonical_request,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n\
             x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n\
             9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
        );
        assert_eq!(
            signed.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"
        );
        assert_eq!(signed.signature, "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
    }

    #[test]
    fn header_values_are_trimmed_and_repeats_joined() {
        let (block, signed) = canonical_headers(&[("My-Header1", "  a   b  c "), ("X-B", "2"), ("x-b", "1")]);
        assert_eq!(block, "my-header1:a b c\nx-b:2,1\n");
        assert_eq!(signed, "my-header1;x-b");
    }

    #[test]
    fn paths_and_queries_are_encoded() {
        assert_eq!(canonical_uri("/v2/email/outbound-emails"), "/v2/email/outbound-emails");
        assert_eq!(canonical_uri("/a b/ሴ"), "/a%20b/%E1%88%B4");
        assert_eq!(canonical_query("b=2&a=x%2Fy&c"), "a=x%2Fy&b=2&c=");
    }

    #[test]
    fn dates_format_and_parse() {
        assert_eq!(AmzDate::from_unix_seconds(1_440_938_160).as_str(), "20150830T123600Z");
        assert_eq!(AmzDate::from_unix_seconds(0).as_str(), "19700101T000000Z");
        assert_eq!(AmzDate::from_unix_seconds(951_782_400).as_str(), "20000229T000000Z");
        assert_eq!(AmzDate::from_unix_seconds(1_440_938_160).date(), "20150830");
        for bad in ["", "20150830", "20150830T123600", "2015083OT123600Z", "20150830X123600Z"] {
            assert!(AmzDate::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_unsignable_input() {
        let date = AmzDate::parse("20150830T123600Z").unwrap();
        let request = Request { method: "GET", path: "/", query: "", headers: &[], payload: b"" };
        let no_secret = Credentials { secret_access_key: String::new(), ..suite_credentials() };
        assert!(sign(&request, &no_secret, "us-east-1", "service", &date).is_err());
        assert!(sign(&request, &suite_credentials(), "", "service", &date).is_err());
        let relative = Request { path: "x", ..request };
        assert!(sign(&relative, &suite_credentials(), "us-east-1", "service", &date).is_err());
    }

    #[test]
    fn credentials_debug_hides_the_secret() {
        assert!(!format!("{:?}", suite_credentials()).contains("wJalr"));
    }

    #[test]
    fn endpoints_are_split_for_signing() {
        assert_eq!(
            Endpoint::parse("https://email.eu-west-1.amazonaws.com"),
            Some(Endpoint { scheme: "https", authority: "email.eu-west-1.amazonaws.com", prefix: "" })
        );
        let local = Endpoint::parse("http://127.0.0.1:4566/ses/").unwrap();
        assert_eq!(local, Endpoint { scheme: "http", authority: "127.0.0.1:4566", prefix: "/ses" });
        assert_eq!(local.url("/ses/v2/x", "a=1"), "http://127.0.0.1:4566/ses/v2/x?a=1");
        for bad in ["email.amazonaws.com", "ftp://x", "http://", "http://u@h/", "https://h/?q"] {
            assert!(Endpoint::parse(bad).is_none(), "{bad}");
        }
    }
}
