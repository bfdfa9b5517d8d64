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

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use spin_sdk::http::{HeaderValue, StatusCode};

use crate::keel::domains::{document_management, messaging, real_time_messaging as live};
use crate::{ApiError, Body, views};

/// Time between heartbeats on a quiet stream.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long one stream stays open before the client is asked to reconnect.
const LIFETIME: Duration = Duration::from_secs(300);
/// The reconnection delay suggested to clients, in milliseconds.
const RETRY_MS: u32 = 2_000;
/// Rendered message events kept for the other streams of this instance.
const RENDERED: usize = 256;

thread_local! {
    /// Message events rendered by one stream, by event id: every stream of
    /// the instance that delivers the event sends the same text.
    static RENDERED_EVENTS: RefCell<VecDeque<(String, Bytes)>> = const { RefCell::new(VecDeque::new()) };
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
    let opened = keel_guest::clock::now_ms();
    let stream = Stream { subscription, actor_id, workspace_id, opened, state: State::Opening };
    let chunks = futures::stream::unfold(stream, |mut stream| async move {
        let chunk = stream.next_chunk().await?;
        Some((chunk, stream))
    });
    let mut response = spin_sdk::http::Response::new(Body::Stream(chunks.boxed_local()));
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    // nginx (and ingress-nginx) would otherwise buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

enum State {
    Opening,
    Open,
    Closed,
}

struct Stream {
    subscription: live::Subscription,
    actor_id: String,
    workspace_id: String,
    opened: i64,
    state: State,
}

impl Stream {
    /// The next bytes to write; none once the stream is over.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        match self.state {
            State::Closed => return None,
            State::Opening => {
                self.state = State::Open;
                return Some(Bytes::from(format!("retry: {RETRY_MS}\n: open\n\n")));
            }
            State::Open => {}
        }
        let left = LIFETIME.as_millis() as i64 - (keel_guest::clock::now_ms() - self.opened);
        if left <= 0 {
            self.state = State::Closed;
            return Some(Bytes::from_static(b"event: end\ndata: {\"reason\":\"reconnect\"}\n\n"));
        }
        let wait = HEARTBEAT.as_millis().min(left as u128) as u32;
        match self.subscription.next(wait).await {
            Ok(events) if events.is_empty() => Some(Bytes::from_static(b": heartbeat\n\n")),
            Ok(events) => {
                let mut chunk = Vec::new();
                for event in events {
                    chunk.extend_from_slice(&self.render(event).await);
                }
                Some(Bytes::from(chunk))
            }
            Err(live::Error::Forbidden(_) | live::Error::NotFound(_)) => {
                self.state = State::Closed;
                Some(Bytes::from_static(b"event: end\ndata: {\"reason\":\"membership\"}\n\n"))
            }
            Err(err) => {
                // The client reconnects (after `retry`) and resumes from
                // its last event id.
                eprintln!("team-collab: event stream of {} ended: {err:?}", self.workspace_id);
                None
            }
        }
    }

    /// One event as SSE text.
    async fn render(&self, event: live::Event) -> Bytes {
        if let Some(rendered) = RENDERED_EVENTS
            .with_borrow(|cache| cache.iter().find(|(id, _)| *id == event.id).map(|(_, text)| text.clone()))
        {
            return rendered;
        }
        let kind = kind_name(event.kind);
        let mut data = serde_json::json!({
            "type": kind,
            "workspace_id": self.workspace_id,
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
            match document_management::get_document(
                self.actor_id.clone(),
                self.workspace_id.clone(),
                event.subject_id.clone(),
            )
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
            match messaging::get_message(
                self.actor_id.clone(),
                self.workspace_id.clone(),
                channel_id,
                event.subject_id.clone(),
            )
            .await
            {
                Ok(message) => {
                    data["message"] = serde_json::to_value(views::Message::from(message)).unwrap_or_default()
                }
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
