//! One outbound HTTP request through Spin (`wasi:http`), answer read whole:
//! the plumbing of the adapters that talk to a provider's HTTP API.

use bytes::Bytes;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, HeaderMap};
use spin_sdk::wasip3::http::types::ErrorCode;

/// An answer, fully read.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The request cannot be built (a malformed URL or header).
    Invalid(String),
    /// The host refused it: the URL is not in the component's
    /// `allowed_outbound_hosts`.
    Denied(String),
    /// No answer: DNS, connection, TLS, timeout, or an unreadable body.
    Unreachable(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Invalid(message) | SendError::Denied(message) | SendError::Unreachable(message) => {
                f.write_str(message)
            }
        }
    }
}

/// Send `method` `url` with `headers` and `body`; the error names the URL.
pub async fn send(
    method: http::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Answer, SendError> {
    let mut request = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(FullBody::new(Bytes::from(body)))
        .map_err(|err| SendError::Invalid(format!("cannot build the request to {url}: {err}")))?;
    let response = spin_sdk::http::send(request).await.map_err(|err| match err {
        ErrorCode::HttpRequestDenied => {
            SendError::Denied(format!("{url} is not in the component's allowed_outbound_hosts"))
        }
        ErrorCode::HttpRequestUriInvalid => SendError::Invalid(format!("cannot send to {url}: {err}")),
        other => SendError::Unreachable(format!("cannot reach {url}: {other}")),
    })?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .bytes()
        .await
        .map_err(|err| SendError::Unreachable(format!("cannot read the answer of {url}: {err}")))?;
    Ok(Answer { status, headers, body: body.to_vec() })
}
