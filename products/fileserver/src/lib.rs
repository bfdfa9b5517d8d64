//! Static files, as Spin's fileserver serves them: the request's path below
//! the component's route (Spin's `spin-path-info` header) names a file of
//! the component's `files` mounts, which WASI gives it read-only.
//!
//! ```toml
//! [[trigger.http]]
//! route = "/..."
//! component = "web"
//!
//! [component.web]
//! source = "dist/fileserver.wasm"
//! files = [{ source = "products/team-collab/web", destination = "/" }]
//! environment = { FALLBACK_PATH = "index.html" }
//! ```
//!
//! * `GET`/`HEAD` of a file → `200` with its bytes, a `content-type` from
//!   its extension, an `etag` (its size and modification time) and
//!   `cache-control: no-cache`: a client revalidates every use, and a
//!   matching `If-None-Match` is `304` without the bytes.
//! * A path ending in `/`, or naming a directory → its `index.html`.
//! * A path not found whose last segment has no extension (a client-side
//!   route such as `/workspaces/wsp_1`) asked for as HTML (`Accept:
//!   text/html`, as a browser loading a page asks) → the file
//!   `FALLBACK_PATH` names, when the environment sets it (a single-page
//!   app's `index.html`).
//!   Anything else not found → `404` with Keel's JSON error body: a missing
//!   script stays a 404, not a page.
//! * Other methods → `405` with `allow: GET, HEAD`.
//!
//! Every response carries `x-content-type-options: nosniff`; HTML carries
//! the environment's `CONTENT_SECURITY_POLICY`, when set, as its
//! `content-security-policy`. A `..` segment, an encoded `/` or `\`, or a
//! NUL never reaches the file system (`404`); WASI confines the rest to the
//! mounts.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use keel_guest::http::{self as respond, Response};
use spin_sdk::http::{FullBody, HeaderValue, Method, Request, StatusCode};

/// The file a directory path serves.
const INDEX: &str = "index.html";

#[spin_sdk::http_service]
async fn handle(request: Request) -> Response {
    let method = request.method().clone();
    if method != Method::GET && method != Method::HEAD {
        let mut response =
            respond::error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "static files are read-only: use GET");
        response.headers_mut().insert("allow", HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let path_info = request.headers().get("spin-path-info").and_then(|v| v.to_str().ok());
    let path = path_info.unwrap_or_else(|| request.uri().path());
    // Only a page load (a browser asking for HTML) falls back to the app's
    // page: an API client asking for a path nobody serves gets the 404.
    let accepts_html = request
        .headers()
        .get_all("accept")
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("text/html")));
    let fallback = std::env::var("FALLBACK_PATH").ok().filter(|_| accepts_html);
    let Some(file) = resolve(path, fallback.as_deref(), |p| std::fs::metadata(p).ok().map(|m| m.is_dir())) else {
        return respond::error(StatusCode::NOT_FOUND, "not_found", "no such file");
    };
    let if_none_match = request.headers().get("if-none-match").and_then(|v| v.to_str().ok()).map(str::to_owned);
    serve(&file, method == Method::HEAD, if_none_match.as_deref())
}

/// The file `path` (a request path, percent-encoded) names, given `kind`,
/// which says whether a path is a directory (`Some(true)`), a file
/// (`Some(false)`) or absent; `None` when there is none to serve.
fn resolve(path: &str, fallback: Option<&str>, kind: impl Fn(&Path) -> Option<bool>) -> Option<PathBuf> {
    let mut file = PathBuf::from("/");
    for segment in path.split('/').filter(|s| !s.is_empty() && *s != ".") {
        let segment = percent_decode(segment)?;
        if segment == ".." || segment.contains(['/', '\\', '\0']) {
            return None;
        }
        file.push(segment);
    }
    match kind(&file) {
        Some(false) => Some(file),
        Some(true) => Some(file.join(INDEX)).filter(|index| kind(index) == Some(false)),
        None if file.extension().is_none() => {
            let fallback = Path::new("/").join(fallback?.trim_start_matches('/'));
            Some(fallback).filter(|f| kind(f) == Some(false))
        }
        None => None,
    }
}

/// `segment` with its `%XX` escapes decoded, if they are valid UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// Answer with `file`: its bytes (none for `HEAD`), or `304` when
/// `if_none_match` names its current version.
fn serve(file: &Path, head: bool, if_none_match: Option<&str>) -> Response {
    let read = || -> std::io::Result<(String, Option<Vec<u8>>)> {
        let metadata = std::fs::metadata(file)?;
        let modified = metadata.modified()?.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let etag = format!("\"{:x}-{:x}\"", metadata.len(), modified.as_nanos());
        let fresh =
            if_none_match.is_some_and(|given| given.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
        let bytes = match (fresh, head) {
            (true, _) => None,
            (false, true) => Some(Vec::new()),
            (false, false) => Some(std::fs::read(file)?),
        };
        Ok((etag, bytes))
    };
    let (etag, bytes) = match read() {
        Ok(read) => read,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return respond::error(StatusCode::NOT_FOUND, "not_found", "no such file");
        }
        Err(_) => return respond::error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "cannot read the file"),
    };
    let status = if bytes.is_some() { StatusCode::OK } else { StatusCode::NOT_MODIFIED };
    let mut response = Response::new(FullBody::new(Bytes::from(bytes.unwrap_or_default())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let content_type = content_type(file);
    headers.insert("content-type", HeaderValue::from_static(content_type));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert("etag", etag);
    }
    if content_type.starts_with("text/html")
        && let Some(policy) = std::env::var("CONTENT_SECURITY_POLICY").ok().and_then(|p| HeaderValue::from_str(&p).ok())
    {
        headers.insert("content-security-policy", policy);
    }
    response
}

/// The media type of `file`, from its extension.
fn content_type(file: &Path) -> &'static str {
    let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file system of `/index.html`, `/app.js`, `/docs/index.html`,
    /// `/docs/a b.txt` and the directory `/empty`.
    fn kind(path: &Path) -> Option<bool> {
        match path.to_str()? {
            "/" | "/docs" | "/empty" => Some(true),
            "/index.html" | "/app.js" | "/docs/index.html" | "/docs/a b.txt" => Some(false),
            _ => None,
        }
    }

    fn resolved(path: &str, fallback: Option<&str>) -> Option<String> {
        resolve(path, fallback, kind).map(|p| p.to_string_lossy().into_owned())
    }

    #[test]
    fn paths_name_files_and_directories_their_index() {
        assert_eq!(resolved("/app.js", None).as_deref(), Some("/app.js"));
        assert_eq!(resolved("/", None).as_deref(), Some("/index.html"));
        assert_eq!(resolved("", None).as_deref(), Some("/index.html"));
        assert_eq!(resolved("/docs", None).as_deref(), Some("/docs/index.html"));
        assert_eq!(resolved("/docs/", None).as_deref(), Some("/docs/index.html"));
        assert_eq!(resolved("/docs/a%20b.txt", None).as_deref(), Some("/docs/a b.txt"));
        assert_eq!(resolved("/empty", None), None, "a directory without an index is not found");
    }

    #[test]
    fn client_routes_fall_back_but_missing_assets_do_not() {
        let spa = Some("index.html");
        assert_eq!(resolved("/workspaces/wsp_1/channels/chn_2", spa).as_deref(), Some("/index.html"));
        assert_eq!(resolved("/verify-email", spa).as_deref(), Some("/index.html"));
        assert_eq!(resolved("/workspaces/wsp_1", None), None, "no fallback unless configured");
        assert_eq!(resolved("/missing.js", spa), None);
        assert_eq!(resolved("/workspaces/x", Some("/nope.html")), None, "a missing fallback is a 404");
    }

    #[test]
    fn nothing_outside_the_mounts_is_named() {
        for path in ["/../etc/passwd", "/docs/../../x", "/%2e%2e/x", "/a%2Fb", "/a%5Cb", "/a%00b", "/%zz", "/%ff"] {
            assert_eq!(resolved(path, Some("index.html")), None, "{path}");
        }
        assert_eq!(resolved("/./app.js", None).as_deref(), Some("/app.js"));
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(content_type(Path::new("/index.html")), "text/html; charset=utf-8");
        assert_eq!(content_type(Path::new("/app.JS")), "text/javascript; charset=utf-8");
        assert_eq!(content_type(Path::new("/style.css")), "text/css; charset=utf-8");
        assert_eq!(content_type(Path::new("/blob")), "application/octet-stream");
    }
}
