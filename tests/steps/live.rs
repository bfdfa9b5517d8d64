//! Steps for the live event streams (Server-Sent Events): a stream is read
//! in the background, each SSE event parsed as the SSE specification says
//! (`id:`, `event:`, `data:` lines, a blank line ends an event, `:` starts
//! a comment), and scenarios wait for what they expect with a deadline.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cucumber::{given, then, when};
use serde_json::Value;

use super::KeelWorld;
use super::http::field;

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// What a background reader has seen of one stream.
#[derive(Debug, Default)]
struct Seen {
    events: Vec<SseEvent>,
    heartbeats: usize,
    /// The stream closed (by the server, or broke).
    closed: bool,
}

/// A stream being read in the background.
#[derive(Debug)]
pub struct EventStream {
    seen: Arc<Mutex<Seen>>,
    reader: tokio::task::JoinHandle<()>,
    /// Events already matched by a step, so each step waits for new ones.
    consumed: usize,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Parse the complete events in `buffer` (leaving a partial one there: a
/// read may end inside an event, even inside a character).
fn parse_events(buffer: &mut Vec<u8>, seen: &mut Seen) {
    while let Some(end) = buffer.windows(2).position(|pair| pair == b"\n\n") {
        let block: Vec<u8> = buffer.drain(..end + 2).collect();
        let block = String::from_utf8(block).expect("UTF-8 events");
        let (mut id, mut event, mut data, mut comment) = (None, String::from("message"), Vec::new(), false);
        for line in block.lines().filter(|line| !line.is_empty()) {
            if line.starts_with(':') {
                comment = true;
                continue;
            }
            let (name, value) =
                line.split_once(':').map(|(n, v)| (n, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
            match name {
                "id" => id = Some(value.to_string()),
                "event" => event = value.to_string(),
                "data" => data.push(value.to_string()),
                "retry" => {}
                other => panic!("unexpected SSE field {other:?} in {block:?}"),
            }
        }
        if data.is_empty() {
            if comment && block.contains("heartbeat") {
                seen.heartbeats += 1;
            }
            continue;
        }
        let data = data.join("\n");
        let data = serde_json::from_str(&data).unwrap_or_else(|err| panic!("SSE data is not JSON ({err}): {data}"));
        seen.events.push(SseEvent { id, event, data });
    }
}

impl KeelWorld {
    /// Open `path`'s event stream as `user` (optionally after an event id)
    /// and read it in the background under `user`'s name.
    async fn open_stream(&mut self, user: &str, path: &str, after: Option<String>, on_second: bool) {
        let path = self.interpolate(path);
        let base =
            if on_second { &self.second_server.as_ref().expect("a second server").base } else { &self.server().base };
        let url = format!("{base}{path}");
        let token = self.user(user).token.clone();
        let mut request = self
            .client
            .get(url)
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "text/event-stream");
        if let Some(after) = after {
            request = request.header("last-event-id", after);
        }
        let mut response = request.send().await.expect("stream request sent");
        assert_eq!(response.status().as_u16(), 200, "GET {path}: {:?}", response.text().await);
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(content_type.starts_with("text/event-stream"), "content-type {content_type:?}");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        let reader = tokio::spawn(async move {
            let mut buffer = Vec::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                buffer.extend_from_slice(&chunk);
                parse_events(&mut buffer, &mut shared.lock().unwrap());
            }
            shared.lock().unwrap().closed = true;
        });
        self.streams.insert(user.to_string(), EventStream { seen, reader, consumed: 0 });
    }

    fn stream(&mut self, user: &str) -> &mut EventStream {
        self.streams.get_mut(user).unwrap_or_else(|| panic!("{user} has no open stream"))
    }

    /// Wait up to `limit` for an unconsumed event matching `wanted`; the
    /// events before it are consumed with it.
    async fn await_event(
        &mut self,
        user: &str,
        what: &str,
        limit: Duration,
        wanted: impl Fn(&SseEvent) -> bool,
    ) -> SseEvent {
        let deadline = Instant::now() + limit;
        loop {
            let stream = self.stream(user);
            {
                let seen = stream.seen.lock().unwrap();
                if let Some(at) = seen.events[stream.consumed..].iter().position(&wanted) {
                    let found = seen.events[stream.consumed + at].clone();
                    drop(seen);
                    stream.consumed += at + 1;
                    return found;
                }
                if Instant::now() >= deadline || seen.closed {
                    panic!(
                        "{user}'s stream: no {what} within {limit:?} after the first {} events; seen {:#?} (closed: {})",
                        stream.consumed, seen.events, seen.closed
                    );
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[when(expr = "{string} opens the event stream of channel {string}")]
async fn open_channel_stream(world: &mut KeelWorld, user: String, channel: String) {
    let workspace = world.channel_workspace[&channel].clone();
    let path = format!("/v1/workspaces/{{workspace:{workspace}}}/channels/{{channel:{channel}}}/events");
    world.open_stream(&user, &path, None, false).await;
}

#[when(expr = "{string} opens the event stream of channel {string} on the second server")]
async fn open_channel_stream_on_second(world: &mut KeelWorld, user: String, channel: String) {
    let workspace = world.channel_workspace[&channel].clone();
    let path = format!("/v1/workspaces/{{workspace:{workspace}}}/channels/{{channel:{channel}}}/events");
    world.open_stream(&user, &path, None, true).await;
}

#[given("a second team-collab server on the same databases")]
async fn second_server(world: &mut KeelWorld) {
    world.second_server = Some(world.server().alongside().await);
}

#[when(expr = "{string} opens the event stream of channel {string} after the event remembered as {string}")]
async fn reopen_channel_stream(world: &mut KeelWorld, user: String, channel: String, name: String) {
    let workspace = world.channel_workspace[&channel].clone();
    let path = format!("/v1/workspaces/{{workspace:{workspace}}}/channels/{{channel:{channel}}}/events");
    let after = world.remembered[&name].as_str().expect("a remembered event id").to_string();
    world.open_stream(&user, &path, Some(after), false).await;
}

#[when(expr = "{string} opens the event stream of workspace {string}")]
async fn open_workspace_stream(world: &mut KeelWorld, user: String, workspace: String) {
    world.open_stream(&user, &format!("/v1/workspaces/{{workspace:{workspace}}}/events"), None, false).await;
}

#[when(expr = "{string} closes their event stream")]
async fn close_stream(world: &mut KeelWorld, user: String) {
    world.streams.remove(&user).expect("an open stream");
}

#[then(regex = r#"^within (\d+) seconds? "([^"]+)" receives "([^"]+)" with "([^"]+)" = "([^"]*)"$"#)]
async fn receives(world: &mut KeelWorld, seconds: u64, user: String, kind: String, path: String, value: String) {
    let value = world.interpolate(&value);
    let event = world
        .await_event(&user, &format!("{kind} with {path} = {value}"), Duration::from_secs(seconds), |event| {
            event.event == kind
                && field(&event.data, &path).is_some_and(|found| {
                    found.as_str() == Some(value.as_str())
                        || value.parse::<Value>().is_ok_and(|parsed| parsed == *found)
                })
        })
        .await;
    assert_eq!(event.data["type"], kind, "an event's `type` is its SSE event name: {event:?}");
    assert!(event.id.as_deref().is_some_and(|id| id.parse::<u64>().is_ok()), "an event id: {event:?}");
}

#[then(regex = r#"^"([^"]+)" then receives, in order, (.+)$"#)]
async fn received_in_order(world: &mut KeelWorld, user: String, list: String) {
    let wanted: Vec<String> = list.split(", ").map(|kind| kind.trim_matches('"').to_string()).collect();
    let start = world.stream(&user).consumed;
    let mut ids = Vec::new();
    for kind in &wanted {
        let event = world.await_event(&user, kind, Duration::from_secs(5), |event| &event.event == kind).await;
        ids.push(event.id.clone().expect("an event id").parse::<u64>().expect("a numeric id"));
    }
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "event ids increase: {ids:?}");
    let stream = world.stream(&user);
    let seen = stream.seen.lock().unwrap();
    let got: Vec<&str> = seen.events[start..stream.consumed].iter().map(|event| event.event.as_str()).collect();
    assert_eq!(got, wanted, "{user} got exactly these events, in this order");
}

#[then(expr = "{string} has received no other event within {int} second(s)")]
async fn nothing_more(world: &mut KeelWorld, user: String, seconds: u64) {
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let stream = world.stream(&user);
    let seen = stream.seen.lock().unwrap();
    assert!(seen.events.len() == stream.consumed, "{user} got more: {:#?}", &seen.events[stream.consumed..]);
}

#[then(expr = "within {int} seconds {string}'s stream ends with reason {string}")]
async fn stream_ends(world: &mut KeelWorld, seconds: u64, user: String, reason: String) {
    let end = world.await_event(&user, "end", Duration::from_secs(seconds), |event| event.event == "end").await;
    assert_eq!(end.data["reason"], reason.as_str(), "{end:?}");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !world.stream(&user).seen.lock().unwrap().closed {
        assert!(Instant::now() < deadline, "{user}'s stream stays open after `end`");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[when(expr = "I remember the id of {string}'s last event as {string}")]
async fn remember_last_event(world: &mut KeelWorld, user: String, name: String) {
    let stream = world.stream(&user);
    let id = {
        let seen = stream.seen.lock().unwrap();
        seen.events[..stream.consumed].last().and_then(|event| event.id.clone()).expect("an event received")
    };
    world.remembered.insert(name, Value::String(id));
}
