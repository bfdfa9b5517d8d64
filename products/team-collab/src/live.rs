//! Server-Sent Events: a member's live view of a channel or a workspace.
//!
//! `GET …/events` answers `200 text/event-stream` once the subscription is
//! authorized (errors before that are the API's JSON errors) and then
//! writes, as they happen, one SSE event per workspace event:
//!
//! ```text
//! id: 42
//! event: message.created
//! data: {"type":"message.created","workspace_id":"wsp_…","channel_id":"chn_…","actor_id":"usr_…","at":"…","message":{…}}
//! ```
//!
//! Message and reaction events carry the message as `GET …/messages/{id}`
//! shows it when the event is delivered; file events carry the file as
//! `GET …/files/{id}` shows it (`file_id` once deleted); member events
//! carry `user_id`.
//! A comment line every [`HEARTBEAT`] keeps proxies from closing an idle
//! stream. A client that reconnects with `Last-Event-ID` gets what it
//! missed (as far as the event log still holds it). The stream ends with an
//! `event: end` when the subscriber leaves the workspace, and after
//! [`LIFETIME`] (clients reconnect, as EventSource does on its own).
//!
//! All the streams of an instance are written by one task, the pump, and
//! waited for together through one `feed` of the real-time domain: the
//! instance wakes once per read of the event log, not once per stream (a
//! component-model task cannot wake another on the runtimes Keel targets,
//! so a task per stream would have to poll). The request that opens a
//! stream writes its first bytes and hands the stream to the pump, or
//! becomes the pump when none is running.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::LocalBoxFuture;
use futures::stream::FuturesUnordered;
use spin_sdk::http::{HeaderMap, HeaderValue, StatusCode};
use spin_sdk::wasip3::http::types::{ErrorCode, Response as WasiResponse};
use spin_sdk::wasip3::http_compat::BodyWriter;

use crate::keel::domains::{document_management, messaging, real_time_messaging as live};
use crate::{ApiError, Body, views};

/// Time between heartbeats on a quiet stream.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How much earlier than due a heartbeat (or a stream's end) may come, so
/// the pump wakes at most about once a second for them.
const SLACK_MS: i64 = 1_000;
/// How long one stream stays open before the client is asked to reconnect.
const LIFETIME: Duration = Duration::from_secs(300);
/// The reconnection delay suggested to clients, in milliseconds.
const RETRY_MS: u32 = 2_000;
/// Rendered message events kept for the other streams of this instance.
const RENDERED: usize = 256;
/// Bytes a stream may have waiting for a client that does not read; past
/// this the stream is closed, and the client resumes from its last event.
const MAX_QUEUED: usize = 256 * 1024;
/// How long the pump waits after the log could not be read.
const RETRY_READ: Duration = Duration::from_secs(1);

const END_RECONNECT: &[u8] = b"event: end\ndata: {\"reason\":\"reconnect\"}\n\n";
const END_MEMBERSHIP: &[u8] = b"event: end\ndata: {\"reason\":\"membership\"}\n\n";
const HEARTBEAT_TEXT: &[u8] = b": heartbeat\n\n";

thread_local! {
    /// Message events rendered by one stream, by event id: every stream of
    /// the instance that delivers the event sends the same text.
    static RENDERED_EVENTS: RefCell<VecDeque<(String, Bytes)>> = const { RefCell::new(VecDeque::new()) };
    /// The instance's live streams, as the requests opening them hand them
    /// to the pump.
    static STREAMS: RefCell<Streams> = RefCell::new(Streams::default());
}

/// Open a stream of the workspace's events (with `channel_id`, that
/// channel's and the workspace-wide ones) for `actor_id`.
pub async fn open(
    actor_id: String,
    workspace_id: String,
    channel_id: Option<String>,
    last_event_id: Option<String>,
) -> Result<spin_sdk::http::Response<Body>, ApiError> {
    let subscription = live::subscribe(actor_id.clone(), workspace_id.clone(), channel_id, last_event_id).await?;
    let mut response = spin_sdk::http::Response::new(Body::Live(Stream { subscription, actor_id, workspace_id }));
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    // nginx (and ingress-nginx) would otherwise buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

/// A stream answered to its request but not yet written: the subscription
/// and whose view of the workspace it is.
pub struct Stream {
    subscription: live::Subscription,
    actor_id: String,
    workspace_id: String,
}

/// A `wasi:http` response whose body, `stream`, is written by the pump
/// (spin-sdk would write it in the request's own task).
pub fn respond(status: StatusCode, headers: HeaderMap, stream: Stream) -> Result<WasiResponse, ErrorCode> {
    let headers = headers.try_into().map_err(|err| ErrorCode::InternalError(Some(format!("{err:?}"))))?;
    let (writer, body, trailers) = BodyWriter::new();
    let (response, _sent) = WasiResponse::new(headers, Some(body), trailers);
    _ = response.set_status_code(status.as_u16());
    spin_sdk::wasip3::spawn(stream.start(writer));
    Ok(response)
}

impl Stream {
    /// Write the stream's opening, then hand it to the pump, running the
    /// pump in this task if none runs.
    async fn start(self, mut writer: BodyWriter) {
        let opening = format!("retry: {RETRY_MS}\n: open\n\n").into_bytes();
        if !writer.stream_writer.write_all(opening).await.is_empty() {
            return; // The client left.
        }
        let now = keel_guest::clock::now_ms();
        let (feed, key, start_pump) = STREAMS.with_borrow_mut(|streams| {
            let key = streams.next_key;
            streams.next_key += 1;
            streams.arrivals.push((key, Outlet::new(self.actor_id, self.workspace_id, writer, now)));
            let feed = streams.feed.get_or_insert_with(|| Rc::new(live::new_feed())).clone();
            (feed, key, !std::mem::replace(&mut streams.pumping, true))
        });
        feed.add(key, self.subscription);
        if start_pump {
            Pump::new(feed).run().await;
        }
    }
}

/// The instance's streams between their requests and the pump.
#[derive(Default)]
struct Streams {
    /// The instance's feed, made by its first stream.
    feed: Option<Rc<live::Feed>>,
    next_key: u64,
    /// Streams opened since the pump last looked, by feed key.
    arrivals: Vec<(u64, Outlet)>,
    /// Whether a task runs the pump.
    pumping: bool,
}

/// One open stream, as the pump writes it.
struct Outlet {
    /// Whose view the events are rendered in.
    actor_id: String,
    workspace_id: String,
    /// None while a write is in flight.
    writer: Option<BodyWriter>,
    /// Bytes to write once the writer is back.
    queued: Vec<u8>,
    opened: i64,
    /// When bytes were last queued.
    last_queued: i64,
    /// The stream ends once `queued` is written.
    closing: bool,
}

impl Outlet {
    fn new(actor_id: String, workspace_id: String, writer: BodyWriter, now: i64) -> Self {
        Outlet {
            actor_id,
            workspace_id,
            writer: Some(writer),
            queued: Vec::new(),
            opened: now,
            last_queued: now,
            closing: false,
        }
    }

    fn queue(&mut self, bytes: &[u8], now: i64) {
        self.queued.extend_from_slice(bytes);
        self.last_queued = now;
    }

    /// When the pump must next look at this stream (a heartbeat or its end).
    fn due(&self) -> i64 {
        (self.last_queued + HEARTBEAT.as_millis() as i64).min(self.opened + LIFETIME.as_millis() as i64)
    }
}

/// What finished while the pump waited.
enum Woke {
    Feed(Result<Vec<live::Delivery>, live::Error>),
    /// A write ended: the stream's writer, and whether its client still reads.
    Written(u64, BodyWriter, bool),
    Closed,
}

/// Writes every stream of the instance from one task.
struct Pump {
    feed: Rc<live::Feed>,
    outlets: HashMap<u64, Outlet>,
    /// Writes and closes in flight.
    io: FuturesUnordered<LocalBoxFuture<'static, Woke>>,
    /// The feed's `next` in flight.
    waiting: Option<LocalBoxFuture<'static, Woke>>,
}

impl Pump {
    fn new(feed: Rc<live::Feed>) -> Self {
        Pump { feed, outlets: HashMap::new(), io: FuturesUnordered::new(), waiting: None }
    }

    /// Serve the instance's streams until none is left.
    async fn run(mut self) {
        loop {
            self.adopt();
            let now = keel_guest::clock::now_ms();
            self.tend(now);
            self.flush();
            if self.waiting.is_none() {
                // Streams that are closing only wait for their writes.
                match self.outlets.values().filter(|outlet| !outlet.closing).map(Outlet::due).min() {
                    Some(due) => {
                        let wait = (due - now).clamp(SLACK_MS, HEARTBEAT.as_millis() as i64) as u32;
                        let feed = self.feed.clone();
                        self.waiting = Some(Box::pin(async move { Woke::Feed(feed.next(wait).await) }));
                    }
                    None if self.outlets.is_empty() && self.io.is_empty() => {
                        STREAMS.with_borrow_mut(|streams| streams.pumping = false);
                        return;
                    }
                    None => {}
                }
            }
            match self.woken().await {
                Woke::Feed(Ok(deliveries)) => {
                    self.waiting = None;
                    self.deliver(deliveries).await;
                }
                Woke::Feed(Err(err)) => {
                    self.waiting = None;
                    eprintln!("team-collab: live events not read: {err:?}");
                    spin_sdk::time::sleep(RETRY_READ).await;
                }
                Woke::Written(key, writer, reading) => self.written(key, writer, reading),
                Woke::Closed => {}
            }
        }
    }

    /// Take over the streams opened since the last look.
    fn adopt(&mut self) {
        for (key, outlet) in STREAMS.with_borrow_mut(|streams| std::mem::take(&mut streams.arrivals)) {
            self.outlets.insert(key, outlet);
        }
    }

    /// The next of the feed's answer and the writes to finish.
    async fn woken(&mut self) -> Woke {
        poll_fn(|cx| {
            if let Some(waiting) = self.waiting.as_mut()
                && let Poll::Ready(woke) = waiting.as_mut().poll(cx)
            {
                return Poll::Ready(woke);
            }
            match self.io.poll_next_unpin(cx) {
                Poll::Ready(Some(woke)) => Poll::Ready(woke),
                _ => Poll::Pending,
            }
        })
        .await
    }

    /// Heartbeats for quiet streams and the end of those open for their
    /// [`LIFETIME`].
    fn tend(&mut self, now: i64) {
        for (key, outlet) in &mut self.outlets {
            if outlet.closing {
                continue;
            }
            if now + SLACK_MS >= outlet.opened + LIFETIME.as_millis() as i64 {
                outlet.queue(END_RECONNECT, now);
                outlet.closing = true;
                self.feed.remove(*key);
            } else if outlet.queued.is_empty() && now + SLACK_MS >= outlet.last_queued + HEARTBEAT.as_millis() as i64 {
                outlet.queue(HEARTBEAT_TEXT, now);
            }
        }
    }

    /// Start the writes of the streams with queued bytes and an idle
    /// writer; end the streams that are closing and written.
    fn flush(&mut self) {
        let mut done = Vec::new();
        for (key, outlet) in &mut self.outlets {
            let Some(mut writer) = outlet.writer.take() else { continue };
            if !outlet.queued.is_empty() {
                let bytes = std::mem::take(&mut outlet.queued);
                let key = *key;
                self.io.push(Box::pin(async move {
                    let reading = writer.stream_writer.write_all(bytes).await.is_empty();
                    Woke::Written(key, writer, reading)
                }));
            } else if outlet.closing {
                done.push(*key);
                self.io.push(Box::pin(async move {
                    drop(writer.stream_writer);
                    _ = writer.result_writer.write(Ok(None)).await;
                    Woke::Closed
                }));
            } else {
                outlet.writer = Some(writer);
            }
        }
        for key in done {
            self.outlets.remove(&key);
        }
    }

    /// A write ended: the writer goes back to its stream, or the stream
    /// goes when its client left.
    fn written(&mut self, key: u64, writer: BodyWriter, reading: bool) {
        if reading && let Some(outlet) = self.outlets.get_mut(&key) {
            outlet.writer = Some(writer);
        } else if self.outlets.remove(&key).is_some_and(|outlet| !outlet.closing) {
            self.feed.remove(key);
        }
    }

    /// Queue what the feed delivered on its streams.
    async fn deliver(&mut self, deliveries: Vec<live::Delivery>) {
        // The feed may have found events of streams opened while it waited.
        self.adopt();
        let now = keel_guest::clock::now_ms();
        for delivery in deliveries {
            let Some(outlet) = self.outlets.get_mut(&delivery.key) else {
                // Closed while the feed waited.
                self.feed.remove(delivery.key);
                continue;
            };
            if outlet.closing {
                continue;
            }
            match delivery.events {
                Ok(events) => {
                    for event in events {
                        let text = render(&outlet.actor_id, &outlet.workspace_id, event).await;
                        outlet.queue(&text, now);
                    }
                    if outlet.queued.len() > MAX_QUEUED {
                        // A client that does not read: it resumes from its
                        // last event when it reconnects.
                        outlet.queued.clear();
                        outlet.closing = true;
                        self.feed.remove(delivery.key);
                    }
                }
                Err(live::Error::Forbidden(_) | live::Error::NotFound(_)) => {
                    outlet.queue(END_MEMBERSHIP, now);
                    outlet.closing = true;
                }
                Err(err) => {
                    // The client reconnects (after `retry`) and resumes
                    // from its last event id.
                    eprintln!("team-collab: event stream of {} ended: {err:?}", outlet.workspace_id);
                    outlet.closing = true;
                }
            }
        }
    }
}

/// One event as SSE text, in `actor_id`'s view of the workspace.
async fn render(actor_id: &str, workspace_id: &str, event: live::Event) -> Bytes {
    if let Some(rendered) =
        RENDERED_EVENTS.with_borrow(|cache| cache.iter().find(|(id, _)| *id == event.id).map(|(_, text)| text.clone()))
    {
        return rendered;
    }
    let kind = kind_name(event.kind);
    let mut data = serde_json::json!({
        "type": kind,
        "workspace_id": workspace_id,
        "channel_id": event.channel_id,
        "actor_id": event.actor_id,
        "at": views::rfc3339(event.created_at),
    });
    let about_message = !matches!(
        event.kind,
        live::Kind::MemberJoined
            | live::Kind::MemberRemoved
            | live::Kind::FileShared
            | live::Kind::FileUpdated
            | live::Kind::FileDeleted
    );
    let about_file = matches!(event.kind, live::Kind::FileShared | live::Kind::FileUpdated);
    if about_file {
        match document_management::get_document(actor_id.to_owned(), workspace_id.to_owned(), event.subject_id.clone())
            .await
        {
            Ok(file) => data["file"] = serde_json::to_value(views::Document::from(file)).unwrap_or_default(),
            Err(err) => {
                eprintln!("team-collab: file {} of event {} not read: {err:?}", event.subject_id, event.id);
                data["file_id"] = event.subject_id.clone().into();
            }
        }
    } else if event.kind == live::Kind::FileDeleted {
        data["file_id"] = event.subject_id.clone().into();
    } else if about_message {
        let channel_id = event.channel_id.clone().unwrap_or_default();
        match messaging::get_message(actor_id.to_owned(), workspace_id.to_owned(), channel_id, event.subject_id.clone())
            .await
        {
            Ok(message) => data["message"] = serde_json::to_value(views::Message::from(message)).unwrap_or_default(),
            Err(err) => {
                eprintln!("team-collab: message {} of event {} not read: {err:?}", event.subject_id, event.id);
                data["message_id"] = event.subject_id.clone().into();
            }
        }
    } else {
        data["user_id"] = event.subject_id.clone().into();
    }
    let text = Bytes::from(format!("id: {}\nevent: {kind}\ndata: {data}\n\n", event.id));
    if about_message || about_file {
        RENDERED_EVENTS.with_borrow_mut(|cache| {
            if cache.len() == RENDERED {
                cache.pop_front();
            }
            cache.push_back((event.id, text.clone()));
        });
    }
    text
}

/// The `type` of an event, as clients see it.
fn kind_name(kind: live::Kind) -> &'static str {
    match kind {
        live::Kind::MessageCreated => "message.created",
        live::Kind::MessageUpdated => "message.updated",
        live::Kind::MessageDeleted => "message.deleted",
        live::Kind::ReactionAdded => "reaction.added",
        live::Kind::ReactionRemoved => "reaction.removed",
        live::Kind::MemberJoined => "member.joined",
        live::Kind::MemberRemoved => "member.removed",
        live::Kind::FileShared => "file.shared",
        live::Kind::FileUpdated => "file.updated",
        live::Kind::FileDeleted => "file.deleted",
    }
}
