//! `keel:infrastructure/blob-store` on an S3-compatible object store,
//! through Spin's outbound HTTP, signed with AWS Signature Version 4 in the
//! component ([`keel_sigv4`], service `s3`, `x-amz-content-sha256` carrying
//! the payload's hash).
//!
//! Objects are addressed path-style, `{endpoint}/{bucket}/{key}`, which
//! Amazon S3, Linode (Akamai) Object Storage, MinIO and Ceph all take.
//!
//! * An upload buffers up to [`PART_SIZE`]; a blob that fits is one
//!   `PutObject` at `finish`. A larger one becomes a multipart upload
//!   (`CreateMultipartUpload`, `UploadPart` per [`PART_SIZE`] bytes,
//!   `CompleteMultipartUpload`), so memory stays bounded whatever the size.
//!   Either way the object appears whole, only when the upload finishes. A
//!   failed upload is aborted; one dropped unfinished stays incomplete in
//!   the bucket until a lifecycle rule (`AbortIncompleteMultipartUpload`)
//!   removes it.
//! * `read` is a ranged `GetObject` (`416` past the end reads as empty),
//!   `size` a `HeadObject`, `delete` a `DeleteObject`.
//! * `404` is `not-found`; `5xx`, `403` (credentials, clock) and transport
//!   failures are `unavailable`; any other refusal is `internal`. S3's XML
//!   error code and message are kept for the log.
//!
//! Spin variables: `s3_endpoint` (e.g. `https://s3.us-east-1.amazonaws.com`,
//! `https://us-east-1.linodeobjects.com`), `s3_bucket`, `s3_region`,
//! `s3_access_key_id`, `s3_secret_access_key` (secret), `s3_session_token`
//! (optional). The endpoint must be in the component's
//! `allowed_outbound_hosts`.

use std::cell::RefCell;

use http::Method;
use keel_guest::blob::{self, Error, Guest, GuestUpload, Upload};
use keel_guest::outbound::{self, Answer};
use keel_sigv4::{AmzDate, Credentials, Endpoint, Request};

/// Bytes per part of a multipart upload (S3 wants at least 5 MiB for every
/// part but the last).
const PART_SIZE: usize = 8 << 20;
const SERVICE: &str = "s3";

/// Where the bucket is and how to sign for it.
struct Config {
    endpoint: String,
    bucket: String,
    region: String,
    credentials: Credentials,
}

impl Config {
    async fn load() -> Result<Config, Error> {
        let config = Config {
            endpoint: setting("s3_endpoint").await?,
            bucket: setting("s3_bucket").await?,
            region: setting("s3_region").await?,
            credentials: Credentials {
                access_key_id: setting("s3_access_key_id").await?,
                secret_access_key: setting("s3_secret_access_key").await?,
                session_token: optional_setting("s3_session_token").await?,
            },
        };
        if Endpoint::parse(&config.endpoint).is_none() {
            return Err(Error::Unavailable(format!(
                "variable `s3_endpoint` is not an http(s) URL: {}",
                config.endpoint
            )));
        }
        blob::check_key(&config.bucket)
            .map_err(|_| Error::Unavailable(format!("variable `s3_bucket` is not a bucket name: {}", config.bucket)))?;
        Ok(config)
    }

    /// Send a signed request for `key` (`query` without `?`).
    async fn send(
        &self,
        method: Method,
        key: &str,
        query: &str,
        extra: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, Error> {
        let target = Endpoint::parse(&self.endpoint).expect("checked when loaded");
        let path = format!("{}/{}/{key}", target.prefix, self.bucket);
        let date = AmzDate::from_unix_seconds(keel_guest::clock::now_secs());
        let payload_hash = keel_sigv4::hex_sha256(&body);
        let mut signed: Vec<(&str, &str)> =
            vec![("host", target.authority), ("x-amz-content-sha256", &payload_hash), ("x-amz-date", date.as_str())];
        if let Some(token) = &self.credentials.session_token {
            signed.push(("x-amz-security-token", token));
        }
        signed.extend_from_slice(extra);
        let request = Request { method: method.as_str(), path: &path, query, headers: &signed, payload: &body };
        let signature = keel_sigv4::sign(&request, &self.credentials, &self.region, SERVICE, &date)
            .map_err(|err| Error::Internal(format!("cannot sign the S3 request: {err}")))?;
        // `host` travels as the URL's authority.
        let length = body.len().to_string();
        let mut headers: Vec<(&str, &str)> = signed.into_iter().filter(|(name, _)| *name != "host").collect();
        headers.push(("authorization", &signature.authorization));
        if matches!(method, Method::PUT | Method::POST) {
            headers.push(("content-length", &length));
        }
        outbound::send(method, &target.url(&path, query), &headers, body).await.map_err(|err| Error::Unavailable(err.to_string()))
    }
}

async fn optional_setting(name: &str) -> Result<Option<String>, Error> {
    let value = spin_sdk::variables::get(name)
        .await
        .map_err(|err| Error::Unavailable(format!("blob store not configured: variable `{name}`: {err}")))?;
    let value = value.trim();
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

async fn setting(name: &str) -> Result<String, Error> {
    optional_setting(name)
        .await?
        .ok_or_else(|| Error::Unavailable(format!("blob store not configured: variable `{name}` is empty")))
}

/// `Ok` for a 2xx answer, else the error it stands for.
fn accepted(answer: Answer, what: &str) -> Result<Answer, Error> {
    if (200..300).contains(&answer.status) {
        return Ok(answer);
    }
    let detail = format!("S3 {what} answered {}: {}", answer.status, error_text(&answer.body));
    Err(match answer.status {
        404 => Error::NotFound,
        403 | 408 | 429 | 500..=599 => Error::Unavailable(detail),
        _ => Error::Internal(detail),
    })
}

/// `Code: Message` of an S3 `<Error>` document, or the body's start.
fn error_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match (xml_field(&text, "Code"), xml_field(&text, "Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => text.chars().take(200).collect(),
    }
}

/// The text of the first `<name>…</name>` element.
fn xml_field<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    let start = text.find(&format!("<{name}>"))? + name.len() + 2;
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(&text[start..end])
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

struct S3;

impl Guest for S3 {
    type Upload = S3Upload;

    async fn start_upload(key: String) -> Result<Upload, Error> {
        blob::check_key(&key)?;
        let config = Config::load().await?;
        Ok(Upload::new(S3Upload { key, config, state: RefCell::new(State::default()) }))
    }

    async fn read(key: String, offset: u64, length: u32) -> Result<Vec<u8>, Error> {
        blob::check_key(&key)?;
        blob::check_transfer(u64::from(length))?;
        if length == 0 {
            return Self::size(key).await.map(|_| Vec::new());
        }
        let config = Config::load().await?;
        let range = format!("bytes={offset}-{}", offset + u64::from(length) - 1);
        let answer = config.send(Method::GET, &key, "", &[("range", &range)], Vec::new()).await?;
        match answer.status {
            206 => Ok(answer.body),
            // A store that ignores Range sends the whole object.
            200 => {
                let start = (offset as usize).min(answer.body.len());
                let end = (start + length as usize).min(answer.body.len());
                Ok(answer.body[start..end].to_vec())
            }
            // The range starts at or past the end (S3's InvalidRange).
            416 => Ok(Vec::new()),
            _ => accepted(answer, "GetObject").map(|_| Vec::new()),
        }
    }

    async fn size(key: String) -> Result<u64, Error> {
        blob::check_key(&key)?;
        let config = Config::load().await?;
        let answer = accepted(config.send(Method::HEAD, &key, "", &[], Vec::new()).await?, "HeadObject")?;
        answer
            .header("content-length")
            .and_then(|length| length.trim().parse().ok())
            .ok_or_else(|| Error::Internal("S3 HeadObject answered without Content-Length".into()))
    }

    async fn delete(key: String) -> Result<(), Error> {
        blob::check_key(&key)?;
        let config = Config::load().await?;
        match accepted(config.send(Method::DELETE, &key, "", &[], Vec::new()).await?, "DeleteObject") {
            Ok(_) | Err(Error::NotFound) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

/// A blob on its way to the bucket.
pub struct S3Upload {
    key: String,
    config: Config,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    staging: blob::Staging,
    /// The multipart upload, once the blob outgrew one part.
    multipart: Option<String>,
    /// Part numbers and ETags sent so far.
    parts: Vec<(u32, String)>,
}

impl S3Upload {
    /// Take `chunk` in; the parts now ready to send. A part is held back
    /// until more follows it (it may be the only one: then one PUT); at
    /// `finish` of a multipart upload the rest goes as the last part.
    fn take(&self, chunk: &[u8], last: bool) -> Result<Vec<Vec<u8>>, Error> {
        let mut state = self.state.borrow_mut();
        state.staging.begin(chunk)?;
        let multipart = state.multipart.is_some();
        Ok(state.staging.parts(PART_SIZE, 1, last && multipart))
    }

    async fn send_parts(&self, ready: Vec<Vec<u8>>) -> Result<(), Error> {
        for part in ready {
            let existing = self.state.borrow().multipart.clone();
            let upload_id = match existing {
                Some(id) => id,
                None => self.create_multipart().await?,
            };
            let number = self.state.borrow().parts.len() as u32 + 1;
            let query = format!("partNumber={number}&uploadId={upload_id}");
            let answer = accepted(self.config.send(Method::PUT, &self.key, &query, &[], part).await?, "UploadPart")?;
            let etag = answer
                .header("etag")
                .map(str::to_owned)
                .ok_or_else(|| Error::Internal("S3 UploadPart answered without an ETag".into()))?;
            self.state.borrow_mut().parts.push((number, etag));
        }
        Ok(())
    }

    async fn create_multipart(&self) -> Result<String, Error> {
        let answer = accepted(
            self.config.send(Method::POST, &self.key, "uploads", &[], Vec::new()).await?,
            "CreateMultipartUpload",
        )?;
        let text = String::from_utf8_lossy(&answer.body);
        let id = xml_field(&text, "UploadId")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::Internal("S3 CreateMultipartUpload answered without an UploadId".into()))?
            .to_owned();
        self.state.borrow_mut().multipart = Some(id.clone());
        Ok(id)
    }

    /// Make the object: one PUT, or the multipart upload completed.
    async fn complete(&self) -> Result<(), Error> {
        let multipart = self.state.borrow().multipart.clone();
        let Some(upload_id) = multipart else {
            let body = self.state.borrow_mut().staging.rest();
            return accepted(self.config.send(Method::PUT, &self.key, "", &[], body).await?, "PutObject").map(|_| ());
        };
        let parts: String = self
            .state
            .borrow()
            .parts
            .iter()
            .map(|(number, etag)| {
                format!("<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>", xml_escape(etag))
            })
            .collect();
        let body = format!("<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>").into_bytes();
        let query = format!("uploadId={upload_id}");
        let answer = accepted(
            self.config.send(Method::POST, &self.key, &query, &[("content-type", "application/xml")], body).await?,
            "CompleteMultipartUpload",
        )?;
        // S3 may answer 200 and report the failure in the body.
        let text = String::from_utf8_lossy(&answer.body);
        if text.contains("<Error>") {
            return Err(Error::Unavailable(format!("S3 CompleteMultipartUpload failed: {}", error_text(&answer.body))));
        }
        Ok(())
    }

    /// Abort the multipart upload of a failed upload (best-effort).
    async fn abort(&self) {
        let multipart = self.state.borrow().multipart.clone();
        if let Some(upload_id) = multipart {
            let query = format!("uploadId={upload_id}");
            if let Err(err) = self.config.send(Method::DELETE, &self.key, &query, &[], Vec::new()).await {
                eprintln!("blob-s3: cannot abort the multipart upload of {}: {err:?}", self.key);
            }
        }
    }

    /// End a call: a failure aborts and closes the upload.
    async fn settle<T>(&self, outcome: Result<T, Error>, finished: bool) -> Result<T, Error> {
        if outcome.is_err() {
            self.abort().await;
        }
        self.state.borrow_mut().staging.end(finished || outcome.is_err());
        outcome
    }
}

impl GuestUpload for S3Upload {
    async fn write(&self, chunk: Vec<u8>) -> Result<(), Error> {
        blob::check_transfer(chunk.len() as u64)?;
        let ready = self.take(&chunk, false)?;
        let sent = self.send_parts(ready).await;
        self.settle(sent, false).await
    }

    async fn finish(&self) -> Result<u64, Error> {
        let ready = self.take(&[], true)?;
        let outcome = match self.send_parts(ready).await {
            Ok(()) => self.complete().await.map(|()| self.state.borrow().staging.size()),
            Err(err) => Err(err),
        };
        self.settle(outcome, true).await
    }
}

keel_guest::blob::export_blob_store!(S3);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_error_documents_are_read() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
        assert_eq!(error_text(body), "NoSuchKey: The specified key does not exist.");
        assert_eq!(error_text(b"plain"), "plain");
        assert_eq!(xml_field("<a><UploadId>x.y-z</UploadId></a>", "UploadId"), Some("x.y-z"));
        assert_eq!(xml_escape("\"e&t\""), "&quot;e&amp;t&quot;");
    }
}
