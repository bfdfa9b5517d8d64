//! Steps of the file-sharing scenarios: uploads of generated files of a
//! given kind, downloads compared byte for byte with what went up.

use cucumber::{then, when};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::KeelWorld;
use super::blob::pattern;
use super::http::read_reply;

/// A file of `kind` (`pdf`, `png`, `text`, `zip`, `html`, `exe`) of `size`
/// bytes: the kind's signature, then filler, and its usual content type.
fn generated(kind: &str, name: &str, size: usize) -> (Vec<u8>, &'static str) {
    let (head, content_type): (&[u8], _) = match kind {
        "pdf" => (b"%PDF-1.7\n", "application/pdf"),
        "png" => (b"\x89PNG\r\n\x1a\n", "image/png"),
        "zip" => (b"PK\x03\x04", "application/zip"),
        "html" => (b"<!DOCTYPE html><script>alert(1)</script>", "text/html"),
        "exe" => (b"MZ\x90\x00", "application/octet-stream"),
        "text" => (b"", "text/plain"),
        other => panic!("no generator for {other} files"),
    };
    let mut bytes = head.to_vec();
    if kind == "text" || kind == "html" {
        bytes.extend((0..size).map(|i| b"lorem ipsum dolor sit amet\n"[i % 27]));
    } else {
        bytes.extend(pattern(name, size));
    }
    bytes.truncate(size.max(head.len()));
    (bytes, content_type)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

impl KeelWorld {
    /// POST `bytes` as `user` with `content_type` and keep the JSON reply
    /// (held to the published contract); `chunked`: in pieces, without
    /// `Content-Length`.
    async fn send_file(&mut self, user: &str, path: &str, bytes: Vec<u8>, content_type: &str, chunked: bool) {
        let path = self.interpolate(path);
        let token = self.user(user).token.clone();
        let body = if chunked {
            let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
                bytes.chunks(16 << 10).map(|piece| Ok(piece.to_vec())).collect();
            reqwest::Body::wrap_stream(futures::stream::iter(pieces))
        } else {
            reqwest::Body::from(bytes)
        };
        let request = self
            .client
            .post(format!("{}{path}", self.server().base))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body);
        let reply = read_reply(request.send().await.expect("request sent")).await;
        if let Err(broken) = super::contract::Contract::get().check("POST", &path, reply.status, &reply.body) {
            panic!("the response breaks products/team-collab/openapi.yaml: {broken}");
        }
        self.reply = Some(reply);
    }

    /// GET a file's content as `user` with `headers`: the status, headers
    /// and bytes (kept in `downloaded`; the JSON body of an error in `reply`).
    async fn download(&mut self, user: &str, name: &str, query: &str, headers: Vec<(String, String)>) {
        let path = self.interpolate(&format!(
            "/v1/workspaces/{{workspace:{}}}/files/{{file:{name}}}/content{query}",
            self.file_workspace(name)
        ));
        let mut request =
            self.client.get(format!("{}{path}", self.server().base)).bearer_auth(self.user(user).token.clone());
        for (header, value) in headers {
            request = request.header(header, value);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let response_headers = response.headers().clone();
        let bytes = response.bytes().await.expect("response body").to_vec();
        let json = response_headers
            .get("content-type")
            .is_some_and(|value| value.as_bytes().starts_with(b"application/json") && status >= 400);
        let body = if json { serde_json::from_slice(&bytes).expect("a JSON error body") } else { Value::Null };
        if let Err(broken) = super::contract::Contract::get().check("GET", &path, status, &body) {
            panic!("the response breaks products/team-collab/openapi.yaml: {broken}");
        }
        self.reply = Some(super::Reply { status, headers: response_headers, body });
        self.downloaded = bytes;
    }

    /// The workspace a file named `name` was uploaded to.
    fn file_workspace(&self, name: &str) -> String {
        self.remembered
            .get(&format!("file-workspace:{name}"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no file named {name:?} was uploaded"))
            .to_owned()
    }
}

#[when(expr = "{string} uploads a {word} file of {int} bytes named {string} to channel {string}")]
async fn upload(world: &mut KeelWorld, user: String, kind: String, size: usize, name: String, channel: String) {
    let (_, content_type) = generated(&kind, &name, 0);
    upload_declared(world, user, kind, size, name, channel, content_type.to_owned()).await;
}

#[when(expr = "{string} uploads a {word} file of {int} bytes named {string} to channel {string} declared as {string}")]
async fn upload_declared(
    world: &mut KeelWorld,
    user: String,
    kind: String,
    size: usize,
    name: String,
    channel: String,
    content_type: String,
) {
    let (bytes, _) = generated(&kind, &name, size);
    let workspace = world.channel_workspace.get(&channel).cloned().expect("a channel created in a Given step");
    let path = format!(
        "/v1/workspaces/{{workspace:{workspace}}}/channels/{{channel:{channel}}}/files?name={}",
        name.replace(' ', "%20").replace('/', "%2F")
    );
    world.send_file(&user, &path, bytes.clone(), &content_type, false).await;
    if world.reply().status == 201 {
        let id = world.reply().body["id"].as_str().expect("file id").to_owned();
        world.ids.insert(format!("file:{name}"), id);
        world.remembered.insert(format!("file-workspace:{name}"), Value::String(workspace));
        world.blobs.insert(name, bytes);
    }
}

#[when(expr = "{string} streams a {word} file of {int} bytes named {string} to channel {string} without a length")]
async fn upload_chunked(world: &mut KeelWorld, user: String, kind: String, size: usize, name: String, channel: String) {
    let (bytes, content_type) = generated(&kind, &name, size);
    let workspace = world.channel_workspace.get(&channel).cloned().expect("a channel created in a Given step");
    let path = format!("/v1/workspaces/{{workspace:{workspace}}}/channels/{{channel:{channel}}}/files?name={name}");
    world.send_file(&user, &path, bytes, content_type, true).await;
}

#[when(expr = "{string} uploads a new version of {string} as a {word} file of {int} bytes")]
async fn upload_version(world: &mut KeelWorld, user: String, name: String, kind: String, size: usize) {
    let (bytes, content_type) = generated(&kind, &format!("{name} v{size}"), size);
    let path = format!("/v1/workspaces/{{workspace:{}}}/files/{{file:{name}}}/versions", world.file_workspace(&name));
    world.send_file(&user, &path, bytes.clone(), content_type, false).await;
    if world.reply().status == 201 {
        let previous = world.blobs.insert(name.clone(), bytes);
        world.remembered_bytes.push(previous.expect("the earlier version's bytes"));
    }
}

#[then(expr = "the response describes {string} as uploaded")]
async fn describes_upload(world: &mut KeelWorld, name: String) {
    let expected = world.blobs.get(&name).expect("uploaded bytes").clone();
    let body = &world.reply().body;
    assert_eq!(body["name"], name.as_str());
    assert_eq!(body["size"], expected.len(), "size");
    assert_eq!(body["sha256"], sha256_hex(&expected).as_str(), "sha256");
}

#[when(expr = "{string} downloads {string}")]
async fn download(world: &mut KeelWorld, user: String, name: String) {
    world.download(&user, &name, "", Vec::new()).await;
}

#[when(expr = "{string} downloads {string} to show inline")]
async fn download_inline(world: &mut KeelWorld, user: String, name: String) {
    world.download(&user, &name, "?disposition=inline", Vec::new()).await;
}

#[when(expr = "{string} downloads version {int} of {string}")]
async fn download_version(world: &mut KeelWorld, user: String, version: u32, name: String) {
    world.download(&user, &name, &format!("?version={version}"), Vec::new()).await;
}

#[when(expr = "{string} downloads {string} with header {string} set to {string}")]
async fn download_with_header(world: &mut KeelWorld, user: String, name: String, header: String, value: String) {
    let value =
        value.replace("{etag}", &format!("\"{}\"", sha256_hex(world.blobs.get(&name).expect("uploaded bytes"))));
    world.download(&user, &name, "", vec![(header, value)]).await;
}

#[then(expr = "the download is exactly what was uploaded as {string}")]
async fn download_matches(world: &mut KeelWorld, name: String) {
    let expected = world.blobs.get(&name).expect("uploaded bytes").clone();
    check_whole(world, &expected, &name);
}

#[then(expr = "the download is exactly the version of {string} before the last")]
async fn download_matches_previous(world: &mut KeelWorld, name: String) {
    let expected = world.remembered_bytes.last().expect("an earlier version").clone();
    check_whole(world, &expected, &name);
}

fn check_whole(world: &KeelWorld, expected: &[u8], name: &str) {
    let reply = world.reply();
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(world.downloaded.len(), expected.len(), "bytes downloaded");
    assert!(world.downloaded == expected, "the download differs from what was uploaded");
    let header = |name: &str| reply.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("content-length"), expected.len().to_string());
    assert_eq!(header("etag"), format!("\"{}\"", sha256_hex(expected)));
    assert_eq!(header("accept-ranges"), "bytes");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-disposition").starts_with("attachment; filename=\""), "{}", header("content-disposition"));
    assert!(header("content-disposition").contains(&name.replace(' ', "%20")), "{}", header("content-disposition"));
}

#[then(expr = "the download holds bytes {int} to {int} of {string}")]
async fn download_range(world: &mut KeelWorld, first: usize, last: usize, name: String) {
    let expected = world.blobs.get(&name).expect("uploaded bytes").clone();
    assert_eq!(world.downloaded.len(), last - first + 1, "bytes downloaded");
    assert!(world.downloaded == expected[first..=last], "the range differs from the uploaded bytes");
}

#[then(expr = "the download is empty")]
async fn download_empty(world: &mut KeelWorld) {
    assert!(world.downloaded.is_empty(), "{} bytes", world.downloaded.len());
}

#[then(expr = "the response header {string} is {string}")]
async fn header_is(world: &mut KeelWorld, name: String, expected: String) {
    let expected = world.interpolate(&expected);
    let value = world.reply().headers.get(&name).unwrap_or_else(|| panic!("no `{name}` header"));
    assert_eq!(value.to_str().unwrap(), expected, "`{name}`");
}
