//! Generic HTTP steps: send a request, check the JSON that comes back.

use std::time::Duration;

use cucumber::{then, when};
use serde_json::Value;

use super::{KeelWorld, Reply};

impl KeelWorld {
    /// Send a request as `user` (or anonymously) and keep the reply.
    pub async fn send(&mut self, user: Option<&str>, method: &str, path: &str, body: Option<String>) -> &Reply {
        let token = user.map(|u| self.user(u).token.clone());
        let mut headers = Vec::new();
        if let Some(token) = token {
            headers.push(("authorization".to_string(), format!("Bearer {token}")));
        }
        self.send_with_headers(method, path, body, headers).await
    }

    pub async fn send_with_headers(
        &mut self,
        method: &str,
        path: &str,
        body: Option<String>,
        headers: Vec<(String, String)>,
    ) -> &Reply {
        let path = self.interpolate(path);
        let url = format!("{}{}", self.server().base, path);
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut request = self.client.request(method.clone(), url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(body) = body.filter(|b| !b.is_empty()) {
            request = request.header("content-type", "application/json").body(self.interpolate(&body));
        }
        let started = std::time::Instant::now();
        let reply = read_reply(request.send().await.expect("request sent")).await;
        self.elapsed = started.elapsed();
        // The product's own routes keep to its published contract (the
        // development outbox is another component, not part of it).
        if matches!(super::target(), super::Target::TeamCollab(_))
            && !path.starts_with("/dev/")
            && let Err(broken) = super::contract::Contract::get().check(method.as_str(), &path, reply.status, &reply.body)
        {
            panic!("the response breaks products/team-collab/openapi.yaml: {broken}");
        }
        self.reply = Some(reply);
        self.reply()
    }
}

pub async fn read_reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("response body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {}", String::from_utf8_lossy(&bytes)))
    };
    Reply { status, headers, body }
}

/// `a.b.0.c` into the JSON value.
pub fn field<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| match key.parse::<usize>() {
        Ok(i) if v.is_array() => v.get(i),
        _ => v.get(key),
    })
}

/// The field at `path` of the last reply, which must exist; outside
/// `error.…`, the reply must not be an error (a field asserted on an error
/// body would pass or fail for the wrong reason).
fn reply_field<'w>(world: &'w KeelWorld, path: &str) -> &'w Value {
    let reply = world.reply();
    assert!(
        reply.status < 400 || path == "error" || path.starts_with("error."),
        "field `{path}` asserted on an error response: {} {}",
        reply.status,
        reply.body
    );
    field(&reply.body, path).unwrap_or_else(|| panic!("no field `{path}` in {} {}", reply.status, reply.body))
}

#[when(expr = "a client sends {word} {string}")]
async fn anonymous_request(world: &mut KeelWorld, method: String, path: String) {
    world.send(None, &method, &path, None).await;
}

#[when(regex = r#"^a client sends (\w+) "([^"]*)" with body '(.*)'$"#)]
async fn anonymous_request_with_body(world: &mut KeelWorld, method: String, path: String, body: String) {
    world.send(None, &method, &path, Some(body)).await;
}

#[when(expr = "a client sends {word} {string} with header {string} set to {string}")]
async fn anonymous_request_with_header(world: &mut KeelWorld, method: String, path: String, name: String, value: String) {
    world.send_with_headers(&method, &path, None, vec![(name, value)]).await;
}

#[when(expr = "{string} sends {word} {string} with header {string} set to {string}")]
async fn user_request_with_header(
    world: &mut KeelWorld,
    user: String,
    method: String,
    path: String,
    name: String,
    value: String,
) {
    let token = world.user(&user).token.clone();
    world.send_with_headers(&method, &path, None, vec![("authorization".into(), format!("Bearer {token}")), (name, value)]).await;
}

#[when(expr = "{string} sends {word} {string}")]
async fn user_request(world: &mut KeelWorld, user: String, method: String, path: String) {
    world.send(Some(&user), &method, &path, None).await;
}

#[when(regex = r#"^"([^"]+)" sends (\w+) "([^"]*)" with body '(.*)'$"#)]
async fn user_request_with_body(world: &mut KeelWorld, user: String, method: String, path: String, body: String) {
    world.send(Some(&user), &method, &path, Some(body)).await;
}

#[when(expr = "{string} sends {word} {string} with a body of {int} bytes")]
async fn user_request_with_large_body(world: &mut KeelWorld, user: String, method: String, path: String, size: usize) {
    let body = format!("{{\"name\":\"{}\"}}", "x".repeat(size));
    world.send(Some(&user), &method, &path, Some(body)).await;
}

/// A raw HTTP/1.1 upload of `size` bytes (with `content-length`) that
/// pauses halfway for 300 ms, then sends the rest and reads the answer.
/// A server that answers an oversized body early and closes would have
/// reset the connection by the time the second half goes out.
#[when(expr = "{string} uploads {int} bytes to POST {string}, pausing halfway")]
async fn user_uploads_with_pause(world: &mut KeelWorld, user: String, size: usize, path: String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let address = world.server().base.trim_start_matches("http://").to_string();
    let token = world.user(&user).token.clone();
    let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let head = format!(
        "POST {} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n",
        world.interpolate(&path)
    );
    let body = vec![b'x'; size];
    let (first, second) = body.split_at(size / 2);
    stream.write_all(head.as_bytes()).await.expect("send the head");
    stream.write_all(first).await.expect("send the first half");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(second).await.expect("send the second half: the server reset the connection");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read the answer: the server reset the connection");
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status line");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_default();
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_owned() };
    world.reply = Some(Reply {
        status,
        headers: reqwest::header::HeaderMap::new(),
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
    });
}

/// The payload of a `transfer-encoding: chunked` body.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

#[when(expr = "{int} clients send {word} {string} at once")]
async fn concurrent_requests(world: &mut KeelWorld, count: usize, method: String, path: String) {
    let url = format!("{}{}", world.server().base, path);
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let requests = (0..count).map(|_| {
        let request = world.client.request(method.clone(), &url);
        async move { read_reply(request.send().await.expect("request sent")).await }
    });
    world.replies = futures::future::join_all(requests).await;
}

#[when(regex = r#"^(\d+) clients send POST "([^"]*)" with body '(.*)' at once$"#)]
async fn concurrent_posts(world: &mut KeelWorld, count: usize, path: String, body: String) {
    let url = format!("{}{}", world.server().base, world.interpolate(&path));
    let body = world.interpolate(&body);
    let requests = (0..count).map(|_| {
        let request = world.client.post(&url).header("content-type", "application/json").body(body.clone());
        async move { read_reply(request.send().await.expect("request sent")).await }
    });
    world.replies = futures::future::join_all(requests).await;
}

/// Each of `users` (comma-separated) sends the request `times` times,
/// all at once.
#[when(regex = r#"^"([^"]+)" each send (\w+) "([^"]*)" (\d+) times at once$"#)]
async fn concurrent_by_users(world: &mut KeelWorld, users: String, method: String, path: String, times: usize) {
    let url = format!("{}{}", world.server().base, world.interpolate(&path));
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let requests: Vec<_> = users
        .split(',')
        .map(|user| world.user(user.trim()).token.clone())
        .flat_map(|token| std::iter::repeat_n(token, times))
        .map(|token| {
            let request = world.client.request(method.clone(), &url).bearer_auth(token);
            async move { read_reply(request.send().await.expect("request sent")).await }
        })
        .collect();
    world.replies = futures::future::join_all(requests).await;
}

#[then(expr = "{int} of the {int} responses have status {int}")]
fn some_statuses(world: &mut KeelWorld, expected: usize, count: usize, status: u16) {
    assert_eq!(world.replies.len(), count);
    let statuses: Vec<u16> = world.replies.iter().map(|reply| reply.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == status).count(), expected, "{statuses:?}");
}

#[when(expr = "{int} milliseconds pass")]
async fn wait(_world: &mut KeelWorld, millis: u64) {
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

#[then(expr = "all {int} responses have status {int}")]
fn all_statuses(world: &mut KeelWorld, count: usize, status: u16) {
    assert_eq!(world.replies.len(), count);
    for reply in &world.replies {
        assert_eq!(reply.status, status, "{}", reply.body);
    }
}

#[then(expr = "the response came within {int} milliseconds")]
fn came_within(world: &mut KeelWorld, millis: u64) {
    let limit = Duration::from_millis(millis);
    assert!(world.elapsed <= limit, "the response took {:?}, more than {limit:?}", world.elapsed);
}

#[then(expr = "the response status is {int}")]
fn status_is(world: &mut KeelWorld, status: u16) {
    let reply = world.reply();
    assert_eq!(reply.status, status, "body: {}", reply.body);
}

#[then(expr = "the error code is {string}")]
fn error_code_is(world: &mut KeelWorld, code: String) {
    let reply = world.reply();
    assert_eq!(field(&reply.body, "error.code").and_then(Value::as_str), Some(code.as_str()), "body: {}", reply.body);
    assert!(
        field(&reply.body, "error.message").is_some_and(Value::is_string),
        "error without message: {}",
        reply.body
    );
}

#[then(expr = "the error message mentions {string}")]
fn error_message_mentions(world: &mut KeelWorld, words: String) {
    let reply = world.reply();
    let message = field(&reply.body, "error.message").and_then(Value::as_str).unwrap_or_default();
    assert!(message.contains(&words), "body: {}", reply.body);
}

#[then(expr = "the response body does not mention {string}")]
fn body_does_not_mention(world: &mut KeelWorld, words: String) {
    let reply = world.reply();
    let text = reply.body.to_string();
    assert!(!reply.body.is_null(), "the response has no JSON body to check");
    assert!(!text.contains(&words), "the body leaks {words:?}: {text}");
}

#[then(regex = r#"^the response field "([^"]+)" is "(.*)"$"#)]
fn field_is_string(world: &mut KeelWorld, path: String, expected: String) {
    assert_eq!(reply_field(world, &path), &Value::String(world.interpolate(&expected)));
}

#[then(regex = r#"^the response field "([^"]+)" is (-?\d+|true|false|null)$"#)]
fn field_is_literal(world: &mut KeelWorld, path: String, literal: String) {
    let expected: Value = serde_json::from_str(&literal).unwrap();
    // `null` must be a field that is null, not a field that is missing.
    let actual = reply_field(world, &path);
    assert_eq!(actual, &expected, "field `{path}` in {}", world.reply().body);
}

#[then(regex = r#"^the response field "([^"]+)" is '(.*)'$"#)]
fn field_is_json(world: &mut KeelWorld, path: String, json: String) {
    let expected: Value = serde_json::from_str(&json).expect("expected value is JSON");
    assert_eq!(reply_field(world, &path), &expected);
}

#[then(expr = "the response has a string field {string}")]
fn has_string_field(world: &mut KeelWorld, path: String) {
    assert!(reply_field(world, &path).as_str().is_some_and(|s| !s.is_empty()));
}

#[then(regex = r#"^the response list "([^"]+)" has (\d+) items?$"#)]
fn list_length(world: &mut KeelWorld, path: String, count: usize) {
    let list = reply_field(world, &path).as_array().expect("a JSON array");
    assert_eq!(list.len(), count, "{}", world.reply().body);
}

#[then(expr = "the response header {string} contains {string}")]
fn header_contains(world: &mut KeelWorld, name: String, expected: String) {
    let value = world
        .reply()
        .headers
        .get(&name)
        .unwrap_or_else(|| panic!("no `{name}` header"))
        .to_str()
        .unwrap();
    assert!(value.contains(&expected), "`{name}: {value}`");
}

/// A remembered text also stands for `{NAME}` in later paths and bodies.
#[then(expr = "I remember the response field {string} as {string}")]
fn remember(world: &mut KeelWorld, path: String, name: String) {
    let value = reply_field(world, &path).clone();
    if let Some(text) = value.as_str() {
        world.ids.insert(name.clone(), text.to_owned());
    }
    world.remembered.insert(name, value);
}

#[then(expr = "the response field {string} is the remembered {string}")]
fn is_remembered(world: &mut KeelWorld, path: String, name: String) {
    assert_eq!(reply_field(world, &path), &world.remembered[&name]);
}

/// The runaway and the others are in flight together; every other request
/// must be answered before the runaway is cut off.
#[when(expr = "a client sends POST {string} while {int} other requests are made")]
async fn runaway_alongside_others(world: &mut KeelWorld, path: String, others: usize) {
    let base = world.server().base.clone();
    let client = world.client.clone();
    let runaway = tokio::spawn(async move {
        let response = client.post(format!("{base}{path}")).send().await.expect("runaway request");
        (read_reply(response).await, tokio::time::Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let base = world.server().base.clone();
    let requests = (0..others).map(|_| {
        let request = world.client.post(format!("{base}/op")).body(r#"{"op":"get","key":"k"}"#).send();
        async { read_reply(request.await.expect("request sent")).await }
    });
    world.replies = futures::future::join_all(requests).await;
    let others_done = tokio::time::Instant::now();
    let (runaway, runaway_done) = runaway.await.expect("task");
    assert_eq!(runaway.status, 504, "{}", runaway.body);
    assert!(
        others_done < runaway_done,
        "the other requests finished {:?} after the runaway was cut off",
        others_done - runaway_done
    );
}

#[then(expr = "all {int} other responses have status {int}")]
fn all_other_statuses(world: &mut KeelWorld, count: usize, status: u16) {
    all_statuses(world, count, status);
}

#[then(expr = "the response has a positive {string} header no larger than {int}")]
fn numeric_header(world: &mut KeelWorld, name: String, max: u64) {
    let value = world.reply().headers.get(&name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let value = value.unwrap_or_else(|| panic!("no `{name}` header"));
    let seconds: u64 = value.parse().unwrap_or_else(|_| panic!("`{name}: {value}` is not a number"));
    assert!((1..=max).contains(&seconds), "`{name}: {value}`");
}
