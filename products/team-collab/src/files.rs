//! Files: uploads streamed from the request body into
//! `keel:domains/document-management`, and downloads streamed back out.
//!
//! An upload's body is the file itself (`Content-Type` is its declared
//! type, `?name=` its file name); bytes go to the domain
//! [`WRITE_CHUNK`] at a time as they arrive, so a file never sits whole in
//! memory. A download answers with the stored type, `Content-Length`,
//! `ETag` (the SHA-256), `Content-Disposition: attachment`, and headers that
//! keep browsers from running the file (`X-Content-Type-Options: nosniff`,
//! a sandboxing CSP); `?disposition=inline` shows an image in place (a web
//! client's preview), and only an image. It honours a single `Range` (206, or 416 with
//! `Content-Range: bytes */size`), `If-Range` and `If-None-Match` (304).

use bytes::Bytes;
use futures::StreamExt;
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{HeaderMap, HeaderValue, Request, StatusCode};

use crate::keel::domains::document_management as documents;
use crate::router::{self, Endpoint};
use crate::{ApiError, Body, views};

/// Bytes handed to the domain per `write`.
const WRITE_CHUNK: usize = 256 << 10;
/// Bytes read from the store per `read` while a download streams.
const READ_CHUNK: u32 = 1 << 20;

/// Store the request's body as a new file (`UploadFile`) or as the next
/// version of one (`UploadVersion`).
pub async fn upload(
    actor_id: String,
    endpoint: Endpoint,
    params: &[String],
    query: Option<&str>,
    request: Request,
) -> Result<spin_sdk::http::Response<Body>, ApiError> {
    let header = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let declared_type = header("content-type").unwrap_or_default();
    let declared_size = header("content-length").and_then(|length| length.trim().parse::<u64>().ok());
    let param = |index: usize| params.get(index).cloned().unwrap_or_default();
    let upload = if endpoint == Endpoint::UploadVersion {
        documents::start_version(actor_id, param(0), param(1), declared_type, declared_size).await?
    } else {
        let name = router::query_param(query, "name")
            .ok_or_else(|| ApiError::invalid_input("the `name` query parameter names the file"))?;
        documents::start_upload(actor_id, param(0), param(1), name, declared_type, declared_size).await?
    };
    let mut body = request.into_body().stream();
    let mut pending = Vec::with_capacity(WRITE_CHUNK);
    while let Some(frame) = body.next().await {
        let data = frame.map_err(|err| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", format!("cannot read body: {err:?}"))
        })?;
        pending.extend_from_slice(&data);
        while pending.len() >= WRITE_CHUNK {
            let rest = pending.split_off(WRITE_CHUNK);
            upload.write(std::mem::replace(&mut pending, rest)).await?;
        }
    }
    if !pending.is_empty() {
        upload.write(pending).await?;
    }
    let stored = upload.finish().await?;
    let location = format!("/v1/workspaces/{}/files/{}", stored.workspace_id, stored.id);
    let mut response = keel_guest::http::json(StatusCode::CREATED, &views::Document::from(stored));
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert("location", location);
    }
    Ok(response.map(Body::Full))
}

/// A file's bytes (`?version=N`, or the latest).
pub async fn download(
    actor_id: String,
    params: &[String],
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<spin_sdk::http::Response<Body>, ApiError> {
    let version = router::query_param(query, "version")
        .map(|raw| raw.parse::<u32>().map_err(|_| ApiError::invalid_input("version must be a version number")))
        .transpose()?;
    let inline = match router::query_param(query, "disposition").as_deref() {
        None | Some("attachment") => false,
        Some("inline") => true,
        Some(_) => return Err(ApiError::invalid_input("disposition must be attachment or inline")),
    };
    let param = |index: usize| params.get(index).cloned().unwrap_or_default();
    let download = documents::open(actor_id, param(0), param(1), version).await?;
    let (document, version) = (download.document(), download.version());
    if inline && !version.content_type.starts_with("image/") {
        return Err(ApiError::invalid_input("only images are shown inline; download other files as attachments"));
    }
    let etag = format!("\"{}\"", version.sha256);
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let size = version.size;

    let mut response = spin_sdk::http::Response::new(Body::Full(spin_sdk::http::FullBody::new(Bytes::new())));
    let out = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.insert(name, value);
        }
    };
    set("etag", etag.clone());
    set("cache-control", "private, no-cache".into());
    if header("if-none-match").is_some_and(|tags| matches_etag(tags, &etag)) {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(response);
    }
    set("accept-ranges", "bytes".into());
    set("content-type", version.content_type.clone());
    set("content-disposition", content_disposition(if inline { "inline" } else { "attachment" }, &document.name));
    set("x-content-type-options", "nosniff".into());
    set("content-security-policy", "default-src 'none'; sandbox".into());
    // If-Range with another validator: the whole (changed) file.
    let range_applies = header("if-range").is_none_or(|validator| validator.trim() == etag);
    let range = match header("range").filter(|_| range_applies) {
        None => None,
        Some(raw) => match parse_range(raw, size) {
            Range::Ignored => None,
            Range::Satisfiable(start, end) => Some((start, end)),
            Range::Unsatisfiable => {
                return Err(ApiError {
                    headers: vec![("content-range", format!("bytes */{size}"))],
                    ..ApiError::new(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "range_not_satisfiable",
                        format!("the file holds {size} bytes"),
                    )
                });
            }
        },
    };
    let (start, end) = range.unwrap_or((0, size));
    set("content-length", (end - start).to_string());
    if range.is_some() {
        set("content-range", format!("bytes {start}-{}/{size}", end - 1));
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    let chunks = futures::stream::unfold((download, start), move |(download, offset)| async move {
        if offset >= end {
            return None;
        }
        let length = READ_CHUNK.min((end - offset).min(u64::from(u32::MAX)) as u32);
        match download.read(offset, length).await {
            Ok(bytes) if !bytes.is_empty() => {
                let next = offset + bytes.len() as u64;
                Some((Bytes::from(bytes), (download, next)))
            }
            // Cut short (deleted meanwhile, store down): the client sees
            // fewer bytes than Content-Length announced.
            Ok(_) => None,
            Err(err) => {
                eprintln!("team-collab: download stopped at byte {offset}: {err:?}");
                None
            }
        }
    });
    *response.body_mut() = Body::Stream(chunks.boxed_local());
    Ok(response)
}

/// Whether an `If-None-Match` list names `etag` (or is `*`).
fn matches_etag(tags: &str, etag: &str) -> bool {
    tags.split(',').map(|tag| tag.trim().trim_start_matches("W/")).any(|tag| tag == "*" || tag == etag)
}

#[derive(Debug, PartialEq)]
enum Range {
    /// Absent, malformed or several ranges: answer the whole file.
    Ignored,
    /// `[start, end)`.
    Satisfiable(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range of RFC 9110 §14.1.2 against a file of `size` bytes.
fn parse_range(raw: &str, size: u64) -> Range {
    let Some(spec) = raw.trim().strip_prefix("bytes=") else { return Range::Ignored };
    if spec.contains(',') {
        return Range::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Range::Ignored };
    let number = |text: &str| text.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        // `bytes=-N`: the last N bytes.
        (true, _, Some(suffix)) if suffix > 0 && size > 0 => Range::Satisfiable(size.saturating_sub(suffix), size),
        (true, _, Some(_)) => Range::Unsatisfiable,
        (false, Some(start), None) if last.trim().is_empty() => {
            if start < size {
                Range::Satisfiable(start, size)
            } else {
                Range::Unsatisfiable
            }
        }
        (false, Some(start), Some(last)) if start <= last => {
            if start < size {
                Range::Satisfiable(start, size.min(last + 1))
            } else {
                Range::Unsatisfiable
            }
        }
        _ => Range::Ignored,
    }
}

/// `kind` (`attachment` or `inline`) with an ASCII fallback name and the
/// exact UTF-8 name (RFC 6266, RFC 8187).
fn content_disposition(kind: &str, name: &str) -> String {
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-99", 1000), Range::Satisfiable(0, 100));
        assert_eq!(parse_range("bytes=900-", 1000), Range::Satisfiable(900, 1000));
        assert_eq!(parse_range("bytes=-100", 1000), Range::Satisfiable(900, 1000));
        assert_eq!(parse_range("bytes=-5000", 1000), Range::Satisfiable(0, 1000));
        assert_eq!(parse_range("bytes=990-5000", 1000), Range::Satisfiable(990, 1000));
        assert_eq!(parse_range("bytes=1000-", 1000), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=1000-1001", 1000), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Range::Unsatisfiable);
        for ignored in ["items=0-1", "bytes=5-1", "bytes=a-b", "bytes=0-1,5-6", "bytes=", "0-1"] {
            assert_eq!(parse_range(ignored, 1000), Range::Ignored, "{ignored}");
        }
    }

    #[test]
    fn file_names_are_quoted_safely() {
        assert_eq!(
            content_disposition("attachment", "report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            content_disposition("attachment", "Ünïcode \"q\".txt"),
            "attachment; filename=\"_n_code _q_.txt\"; filename*=UTF-8''%C3%9Cn%C3%AFcode%20%22q%22.txt"
        );
    }

    #[test]
    fn if_none_match_lists_are_read() {
        assert!(matches_etag("\"abc\"", "\"abc\""));
        assert!(matches_etag("\"x\", W/\"abc\"", "\"abc\""));
        assert!(matches_etag("*", "\"abc\""));
        assert!(!matches_etag("\"abcd\"", "\"abc\""));
    }
}
