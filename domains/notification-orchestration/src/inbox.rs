//! The in-app inbox: who an event concerns, and the inbox calls.
//!
//! A message posted or edited notifies the members it mentions (`mention`)
//! and the author of the thread it replies in (`reply`, unless they are
//! mentioned too); nobody is notified of their own doing.

use crate::exports::keel::domains::notification_orchestration::{
    Channel, Error, Notification, NotificationPage,
};
use crate::keel::repositories::{inbox, messages};
use crate::preferences;

/// The most entries one call to the repository adds (its limit).
const ENTRIES_PER_CALL: usize = 500;
use keel_guest::events;

/// The inbox entries `event` calls for (none for events about other things
/// than messages, or about a message that is gone).
pub async fn entries_for(event: &events::Event) -> Result<Vec<inbox::NewNotification>, Error> {
    if !matches!(event.kind, events::Kind::MessageCreated | events::Kind::MessageUpdated) {
        return Ok(Vec::new());
    }
    let Some(channel_id) = event.channel_id.clone() else { return Ok(Vec::new()) };
    let (workspace_id, message_id) = (event.workspace_id.clone(), event.subject_id.clone());
    let message = match messages::get(workspace_id.clone(), channel_id.clone(), message_id.clone()).await {
        Ok(message) if message.deleted_at.is_none() => message,
        Ok(_) | Err(messages::Error::NotFound) => return Ok(Vec::new()),
        Err(err) => return Err(message_error(err)),
    };
    let mentioned = messages::mentioned_in(workspace_id.clone(), channel_id.clone(), message_id.clone())
        .await
        .map_err(message_error)?;
    // Listed and mailed as the person wants: see `add`.
    let entry = |user_id: String, kind| inbox::NewNotification {
        user_id,
        kind,
        workspace_id: workspace_id.clone(),
        channel_id: channel_id.clone(),
        message_id: message_id.clone(),
        actor_id: event.actor_id.clone(),
        listed: true,
        mail_at: None,
    };
    let mut entries: Vec<inbox::NewNotification> = mentioned
        .iter()
        .filter(|user| **user != event.actor_id)
        .map(|user| entry(user.clone(), inbox::NotificationKind::Mention))
        .collect();
    // Only a new reply tells the thread's author; an edit does not.
    if let (events::Kind::MessageCreated, Some(parent)) = (event.kind, message.parent_id) {
        match messages::get(workspace_id.clone(), channel_id.clone(), parent).await {
            Ok(thread) if thread.author_id != event.actor_id && !mentioned.contains(&thread.author_id) => {
                entries.push(entry(thread.author_id, inbox::NotificationKind::Reply));
            }
            Ok(_) | Err(messages::Error::NotFound) => {}
            Err(err) => return Err(message_error(err)),
        }
    }
    Ok(entries)
}

pub async fn list(
    user_id: String,
    unread_only: bool,
    limit: u32,
    before: Option<String>,
) -> Result<NotificationPage, Error> {
    let page = inbox::list(user_id, unread_only, limit, before).await.map_err(inbox_error)?;
    Ok(NotificationPage {
        notifications: page.notifications.into_iter().map(shown).collect(),
        unread_count: page.unread_count,
        next_cursor: page.next_cursor,
    })
}

pub async fn mark_read(user_id: String, notification_id: String) -> Result<Notification, Error> {
    inbox::mark_read(user_id, notification_id).await.map(shown).map_err(inbox_error)
}

pub async fn mark_all_read(user_id: String) -> Result<u32, Error> {
    inbox::mark_all_read(user_id).await.map_err(inbox_error)
}

/// Add `entries` as their people want them: listed in the inbox or not,
/// due for mail at `mail_at` or not at all (neither: not added).
pub async fn add(mut entries: Vec<inbox::NewNotification>, mail_at: i64) -> Result<u32, Error> {
    let mut people: Vec<String> = entries.iter().map(|entry| entry.user_id.clone()).collect();
    people.sort();
    people.dedup();
    let wanted = preferences::of(&people).await?;
    for entry in &mut entries {
        let Ok(at) = people.binary_search(&entry.user_id) else { continue };
        let kind = preferences::to_kind(entry.kind);
        entry.listed = wanted[at].wants(kind, Channel::Inbox);
        entry.mail_at = wanted[at].wants(kind, Channel::Email).then_some(mail_at);
    }
    entries.retain(|entry| entry.listed || entry.mail_at.is_some());
    let mut added = 0;
    for chunk in entries.chunks(ENTRIES_PER_CALL) {
        added += inbox::add(chunk.to_vec()).await.map_err(inbox_error)?;
    }
    Ok(added)
}

fn shown(found: inbox::Notification) -> Notification {
    Notification {
        id: found.id,
        kind: preferences::to_kind(found.kind),
        workspace_id: found.workspace_id,
        channel_id: found.channel_id,
        message_id: found.message_id,
        actor_id: found.actor_id,
        created_at: found.created_at,
        read_at: found.read_at,
    }
}

pub fn inbox_error(err: inbox::Error) -> Error {
    keel_guest::repository_error!(err, inbox => Error, "notification not found")
}

pub fn message_error(err: messages::Error) -> Error {
    keel_guest::repository_error!(err, messages => Error, "message not found")
}
