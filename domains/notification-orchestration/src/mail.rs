//! Mail about what concerns people: the dispatcher's second step.
//!
//! A notification a person wants mailed is due `notification_digest_seconds`
//! after it happened. Once one is due, every notification of theirs in that
//! workspace still waiting goes out in one mail (a digest when there are
//! several; at most [`MAX_ITEMS`], the newest), leaving out what they read in the app meantime, what they no
//! longer want mailed, and messages deleted since. In their quiet hours the
//! mail waits until the hours end. A failed mail is tried again, at most
//! [`MAX_ATTEMPTS`] times.

use crate::exports::keel::domains::notification_orchestration::{Channel, Error};
use crate::keel::platform::configuration;
use crate::keel::platform::notifications::{self, Activity, ActivityItem, ActivityKind};
use crate::keel::repositories::{channels, inbox, messages, users, workspaces};
use crate::preferences;
use keel_guest::clock;
use std::collections::HashMap;

/// The setting naming how long a notification waits for others to join its mail.
const DIGEST_SECONDS: &str = "notification_digest_seconds";
const DEFAULT_DIGEST_SECONDS: u64 = 300;
const DIGEST_SECONDS_BOUNDS: configuration::Bounds = configuration::Bounds { min: 0, max: 86_400 };
/// People's mails sent per pass, all at once.
const MAILS_PER_PASS: u32 = 20;
/// How long a claimed mail is held for sending.
const LEASE_MS: u32 = 60_000;
/// Attempts to send one mail before it is given up.
const MAX_ATTEMPTS: u32 = 5;
/// The most notifications one mail lists.
const MAX_ITEMS: usize = 50;
/// The wait after a failed mail; it doubles with each failure.
const RETRY_MS: i64 = 60_000;

/// When a notification that happens at `now` is due for mail.
pub async fn due_at(now: i64) -> Result<i64, Error> {
    let seconds = configuration::number(DIGEST_SECONDS.to_owned(), DIGEST_SECONDS_BOUNDS)
        .await
        .map_err(|err| match err {
            configuration::Error::Invalid(message) => Error::Internal(message),
            configuration::Error::Unavailable(message) => Error::Unavailable(message),
        })?
        .unwrap_or(DEFAULT_DIGEST_SECONDS);
    Ok(now + seconds as i64 * 1000)
}

/// Send the mails that are due; returns how many were sent.
pub async fn send_due() -> Result<u32, Error> {
    let batches = inbox::claim_mail(LEASE_MS, MAILS_PER_PASS).await.map_err(crate::inbox::inbox_error)?;
    let outcomes = futures::future::join_all(batches.into_iter().map(send)).await;
    let mut sent = 0;
    for outcome in outcomes {
        sent += u32::from(outcome?);
    }
    Ok(sent)
}

/// Send (or hold, or drop) one person's mail, and settle its claim;
/// whether a mail went out.
async fn send(batch: inbox::MailBatch) -> Result<bool, Error> {
    let now = clock::now_ms();
    let (outcome, sent) = match write(&batch, now).await? {
        Written::Nothing => (inbox::MailOutcome::Done, false),
        Written::Quiet(until) => (inbox::MailOutcome::Postponed(until), false),
        Written::Mail(activity) => {
            let own = crate::templates::chosen(batch.workspace_id.clone()).await?;
            match notifications::notify_activity(activity, own).await {
                Ok(_) => (inbox::MailOutcome::Done, true),
                Err(err) if batch.attempts + 1 >= MAX_ATTEMPTS => {
                    eprintln!("notification-orchestration: mail to {} given up: {err:?}", batch.user_id);
                    (inbox::MailOutcome::Done, false)
                }
                Err(err) => {
                    eprintln!("notification-orchestration: mail to {} failed, retrying: {err:?}", batch.user_id);
                    (inbox::MailOutcome::Failed(now + (RETRY_MS << batch.attempts.min(10))), false)
                }
            }
        }
    };
    match inbox::settle_mail(batch.claim, outcome).await {
        Ok(()) => Ok(sent),
        // Another dispatcher took the lapsed claim over; it settles it.
        Err(inbox::Error::Conflict(_)) => Ok(sent),
        Err(err) => Err(crate::inbox::inbox_error(err)),
    }
}

enum Written {
    /// Nothing left to mail.
    Nothing,
    /// Quiet hours, until then.
    Quiet(i64),
    Mail(Activity),
}

/// What `batch` comes to at `now`.
async fn write(batch: &inbox::MailBatch, now: i64) -> Result<Written, Error> {
    let user_id = &batch.user_id;
    let membership = match workspaces::get_for_member(batch.workspace_id.clone(), user_id.clone()).await {
        Ok(membership) => membership,
        // They left the workspace (or it is gone): nothing to tell.
        Err(workspaces::Error::NotFound) => return Ok(Written::Nothing),
        Err(err) => return Err(keel_guest::repository_error!(err, workspaces => Error, "workspace not found")),
    };
    let wanted = preferences::of(std::slice::from_ref(user_id)).await?.remove(0);
    if let Some(until) = wanted.quiet_until(now) {
        return Ok(Written::Quiet(until));
    }
    let pending: Vec<&inbox::Notification> = batch
        .notifications
        .iter()
        .filter(|entry| entry.read_at.is_none() && wanted.wants(preferences::to_kind(entry.kind), Channel::Email))
        .collect();
    if pending.is_empty() {
        return Ok(Written::Nothing);
    }
    // The newest ones; the rest are in the inbox.
    let pending = &pending[pending.len().saturating_sub(MAX_ITEMS)..];
    let workspace_id = &batch.workspace_id;
    let mut channel_names: HashMap<String, Option<String>> = HashMap::new();
    let mut found = Vec::new();
    for entry in pending.iter().copied() {
        if !channel_names.contains_key(&entry.channel_id) {
            let name = match channels::get(workspace_id.clone(), entry.channel_id.clone()).await {
                Ok(channel) => Some(channel.name),
                Err(channels::Error::NotFound) => None,
                Err(err) => return Err(keel_guest::repository_error!(err, channels => Error, "channel not found")),
            };
            channel_names.insert(entry.channel_id.clone(), name);
        }
        let Some(Some(channel_name)) = channel_names.get(&entry.channel_id) else { continue };
        match messages::get(workspace_id.clone(), entry.channel_id.clone(), entry.message_id.clone()).await {
            Ok(message) if message.deleted_at.is_none() => found.push((entry, channel_name.clone(), message)),
            Ok(_) | Err(messages::Error::NotFound) => {}
            Err(err) => return Err(crate::inbox::message_error(err)),
        }
    }
    if found.is_empty() {
        return Ok(Written::Nothing);
    }
    // Names of the recipient, the authors and the members the texts
    // mention (not of anyone else an id in a text names).
    let mut ids = vec![user_id.clone()];
    for (entry, _, _) in &found {
        ids.push(entry.actor_id.clone());
        let mentioned =
            messages::mentioned_in(workspace_id.clone(), entry.channel_id.clone(), entry.message_id.clone())
                .await
                .map_err(crate::inbox::message_error)?;
        ids.extend(mentioned);
    }
    ids.sort();
    ids.dedup();
    let people = users::get_many(ids)
        .await
        .map_err(|err| keel_guest::repository_error!(err, users => Error, "user not found"))?;
    let name_of = |id: &str| people.iter().find(|person| person.id == id).map(|person| person.display_name.as_str());
    let Some(recipient) = people.iter().find(|person| person.id == *user_id) else { return Ok(Written::Nothing) };
    let items = found
        .into_iter()
        .map(|(entry, channel_name, message)| ActivityItem {
            kind: match entry.kind {
                inbox::NotificationKind::Mention => ActivityKind::Mention,
                inbox::NotificationKind::Reply => ActivityKind::Reply,
            },
            author_name: name_of(&entry.actor_id).unwrap_or("Someone").to_owned(),
            channel_id: entry.channel_id.clone(),
            channel_name,
            message_id: entry.message_id.clone(),
            text: keel_guest::mentions::by_name(&message.text, name_of),
            created_at: entry.created_at,
        })
        .collect();
    Ok(Written::Mail(Activity {
        recipient_email: recipient.email.clone(),
        recipient_name: recipient.display_name.clone(),
        workspace_id: workspace_id.clone(),
        workspace_name: membership.workspace.name,
        items,
    }))
}
