//! One outbound HTTP request through Spin (`wasi:http`), answer read whole:
//! the plumbing of the adapters that talk to a provider's HTTP API.

use bytes::Bytes;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{FullBody, HeaderMap};

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

/// Send `method` `url` with `headers` and `body`; the error (unreachable,
/// refused by `allowed_outbound_hosts`, unreadable answer) names the URL.
pub async fn send(method: http::Method, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Result<Answer, String> {
    let mut request = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(FullBody::new(Bytes::from(body)))
        .map_err(|err| format!("cannot build the request to {url}: {err}"))?;
    let response = spin_sdk::http::send(request).await.map_err(|err| format!("cannot reach {url}: {err}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body =
        response.into_body().bytes().await.map_err(|err| format!("cannot read the answer of {url}: {err}"))?;
    Ok(Answer { status, headers, body: body.to_vec() })
}
