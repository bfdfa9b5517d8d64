//! `keel:domains/notification-orchestration`: what the app tells the world
//! outside it, with guaranteed delivery.
//!
//! Repositories record events in the transaction of the change (the
//! outbox, `keel_guest::outbox`). [`dispatch`](Guest::dispatch) is one
//! pass of the dispatcher, run by a cron trigger or an operator's
//! scheduler:
//! 1. the events not yet dispatched become entries in the inbox of the
//!    people they concern ([`inbox`]) and one delivery per webhook of
//!    their workspace that takes their kind, and are then marked dispatched
//!    (enqueueing twice adds nothing, so a pass that dies between the two
//!    steps loses and duplicates nothing);
//! 2. the deliveries that are due are claimed (for [`LEASE_MS`]) and
//!    attempted at once, each a signed `POST` through
//!    `keel:platform/outbound-webhooks`;
//! 3. a failed attempt is due again after the retry delay
//!    (`webhook_retry_seconds`, doubling with each failure, at most
//!    [`MAX_DELAY_MS`]), until `webhook_max_attempts` attempts have failed:
//!    then the delivery is dead, listed for an admin who may replay it.
//!
//! Delivery is at least once; every attempt of one event carries the same
//! `webhook-id`, so a receiver that deduplicates on it sees each event once.
//!
//! The inbox entries follow each person's [`preferences`] (per kind and
//! channel); those they want mailed go out in the same pass once due
//! ([`mail`]: digests, quiet hours), in the workspace's own wording when it
//! chose one ([`templates`]).

mod inbox;
mod mail;
mod preferences;
mod retry;
mod templates;

use base64::Engine as _;
use exports::keel::domains::notification_orchestration::{
    ChannelSetting, Delivery, DeliveryPage, DeliveryStatus, DispatchReport, Error, Guest, Notification,
    NotificationPage, NotificationTemplate, Preferences, QuietHours, RegisteredWebhook, TemplateName, Webhook,
};
use keel::platform::configuration;
use keel::platform::notifications;
use keel::platform::outbound_webhooks::{self, WebhookMessage};
use keel::platform::security_context::{self, Permission};
use keel::repositories::{webhooks, workspaces};
use keel_guest::event_kind::Kind;
use keel_guest::{clock, events, ids, validate};
use retry::Policy;

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform", "../../wit/domains"],
    world: "keel:domains/notification-orchestration-domain",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:repositories/events@0.1.0": keel_guest::events::bindings::keel::repositories::events },
    generate_all,
});

/// The setting holding the secret an outside scheduler presents.
const DISPATCH_SECRET: &str = "dispatch_secret";
/// Shortest dispatch secret.
const MIN_SECRET_CHARS: usize = 32;
/// Events handed on per read of the outbox.
const EVENT_BATCH: u32 = 200;
/// Reads of the outbox per pass (so one pass stays bounded).
const EVENT_ROUNDS: usize = 10;
/// Deliveries attempted per pass, all at once.
const ATTEMPTS_PER_PASS: u32 = 50;
/// How long a claimed delivery is held for its attempt (an attempt gives
/// the receiver 10 s).
const LEASE_MS: u32 = 60_000;
/// The longest wait between two attempts.
const MAX_DELAY_MS: i64 = 6 * 60 * 60 * 1000;
/// Webhooks one workspace may register.
const MAX_WEBHOOKS: usize = 20;
/// Longest webhook URL.
const MAX_URL_BYTES: usize = 2048;

struct NotificationOrchestration;

impl Guest for NotificationOrchestration {
    async fn list_notifications(
        actor_id: String,
        unread_only: bool,
        limit: Option<u32>,
        before: Option<String>,
    ) -> Result<NotificationPage, Error> {
        let limit = validate::page_size(limit).map_err(|err| Error::InvalidInput(err.0))?;
        inbox::list(actor_id, unread_only, limit, before).await
    }

    async fn mark_notification_read(actor_id: String, notification_id: String) -> Result<Notification, Error> {
        inbox::mark_read(actor_id, notification_id).await
    }

    async fn mark_all_notifications_read(actor_id: String) -> Result<u32, Error> {
        inbox::mark_all_read(actor_id).await
    }

    async fn get_preferences(actor_id: String) -> Result<Preferences, Error> {
        Ok(preferences::of(std::slice::from_ref(&actor_id)).await?.remove(0).shown())
    }

    async fn set_preferences(
        actor_id: String,
        settings: Vec<ChannelSetting>,
        quiet_hours: Option<QuietHours>,
    ) -> Result<Preferences, Error> {
        preferences::set(actor_id, settings, quiet_hours).await
    }

    async fn list_templates(actor_id: String, workspace_id: String) -> Result<Vec<NotificationTemplate>, Error> {
        authorize(&actor_id, &workspace_id).await?;
        templates::list(workspace_id).await
    }

    async fn set_template(
        actor_id: String,
        workspace_id: String,
        name: TemplateName,
        subject: String,
        text: String,
        html: String,
    ) -> Result<NotificationTemplate, Error> {
        authorize(&actor_id, &workspace_id).await?;
        templates::set(actor_id, workspace_id, name, notifications::Template { subject, text, html }).await
    }

    async fn reset_template(
        actor_id: String,
        workspace_id: String,
        name: TemplateName,
    ) -> Result<NotificationTemplate, Error> {
        authorize(&actor_id, &workspace_id).await?;
        templates::reset(workspace_id, name).await
    }

    fn event_kinds() -> Vec<String> {
        Kind::ALL.iter().map(|kind| kind.name().to_owned()).collect()
    }

    async fn register_webhook(
        actor_id: String,
        workspace_id: String,
        url: String,
        events: Vec<String>,
    ) -> Result<RegisteredWebhook, Error> {
        authorize(&actor_id, &workspace_id).await?;
        let url = webhook_url(&url)?;
        let events = event_kinds(events)?;
        let existing = webhooks::list_endpoints(workspace_id.clone()).await.map_err(webhook_error)?;
        if existing.len() >= MAX_WEBHOOKS {
            return Err(Error::Conflict(format!("a workspace may register at most {MAX_WEBHOOKS} webhooks")));
        }
        let key = ids::random_bytes::<32>().map_err(|err| Error::Unavailable(err.to_string()))?;
        let secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key));
        let created = webhooks::create_endpoint(webhooks::NewEndpoint {
            workspace_id,
            url,
            events,
            secret: secret.clone(),
            created_by: actor_id,
        })
        .await
        .map_err(webhook_error)?;
        Ok(RegisteredWebhook { webhook: shown(created), secret })
    }

    async fn list_webhooks(actor_id: String, workspace_id: String) -> Result<Vec<Webhook>, Error> {
        authorize(&actor_id, &workspace_id).await?;
        let found = webhooks::list_endpoints(workspace_id).await.map_err(webhook_error)?;
        Ok(found.into_iter().map(shown).collect())
    }

    async fn get_webhook(actor_id: String, workspace_id: String, webhook_id: String) -> Result<Webhook, Error> {
        authorize(&actor_id, &workspace_id).await?;
        webhooks::get_endpoint(workspace_id, webhook_id).await.map(shown).map_err(webhook_error)
    }

    async fn delete_webhook(actor_id: String, workspace_id: String, webhook_id: String) -> Result<(), Error> {
        authorize(&actor_id, &workspace_id).await?;
        webhooks::delete_endpoint(workspace_id, webhook_id).await.map_err(webhook_error)
    }

    async fn list_deliveries(
        actor_id: String,
        workspace_id: String,
        webhook_id: String,
        status: Option<DeliveryStatus>,
        limit: Option<u32>,
        before: Option<String>,
    ) -> Result<DeliveryPage, Error> {
        authorize(&actor_id, &workspace_id).await?;
        let limit = validate::page_size(limit).map_err(|err| Error::InvalidInput(err.0))?;
        let page = webhooks::list_deliveries(workspace_id, webhook_id, status.map(to_repository), limit, before)
            .await
            .map_err(webhook_error)?;
        Ok(DeliveryPage {
            deliveries: page.deliveries.into_iter().map(delivery).collect(),
            next_cursor: page.next_cursor,
        })
    }

    async fn replay_delivery(
        actor_id: String,
        workspace_id: String,
        webhook_id: String,
        delivery_id: String,
    ) -> Result<Delivery, Error> {
        authorize(&actor_id, &workspace_id).await?;
        webhooks::replay(workspace_id, webhook_id, delivery_id).await.map(delivery).map_err(webhook_error)
    }

    async fn dispatch() -> Result<DispatchReport, Error> {
        let mut report =
            DispatchReport { events: 0, notified: 0, enqueued: 0, delivered: 0, retrying: 0, dead: 0, mailed: 0 };
        for _ in 0..EVENT_ROUNDS {
            let found = events::undispatched(EVENT_BATCH).await.map_err(event_error)?;
            if found.is_empty() {
                break;
            }
            // Both steps are idempotent: a pass that dies before marking the
            // events dispatched repeats them without doubling anything.
            let mut entries = Vec::new();
            for event in &found {
                entries.extend(inbox::entries_for(event).await?);
            }
            report.notified += inbox::add(entries, mail::due_at(clock::now_ms()).await?).await?;
            let outgoing: Vec<webhooks::OutgoingEvent> = found.iter().map(outgoing).collect();
            report.enqueued += webhooks::enqueue(outgoing).await.map_err(webhook_error)?;
            let seqs: Vec<u64> = found.iter().map(|event| event.seq).collect();
            let handed = seqs.len() as u32;
            events::mark_dispatched(seqs).await.map_err(event_error)?;
            report.events += handed;
            if found.len() < EVENT_BATCH as usize {
                break;
            }
        }
        let policy = Policy::load().await?;
        let due = webhooks::claim_due(ATTEMPTS_PER_PASS, LEASE_MS).await.map_err(webhook_error)?;
        let settled = futures::future::join_all(due.into_iter().map(|due| attempt(due, &policy))).await;
        for outcome in settled {
            match outcome {
                Ok(webhooks::DeliveryStatus::Delivered) => report.delivered += 1,
                Ok(webhooks::DeliveryStatus::Pending) => report.retrying += 1,
                Ok(webhooks::DeliveryStatus::Dead) => report.dead += 1,
                // Another dispatcher took the delivery over (it settles
                // it), or its webhook was deleted meanwhile.
                Err(webhooks::Error::Conflict(_) | webhooks::Error::NotFound) => {}
                Err(err) => return Err(webhook_error(err)),
            }
        }
        report.mailed = mail::send_due().await?;
        Ok(report)
    }

    async fn check_dispatch_token(token: String) -> Result<(), Error> {
        check_dispatch_token(&token).await
    }
}

/// Compare `token` with the configured dispatch secret.
async fn check_dispatch_token(token: &str) -> Result<(), Error> {
    let configured =
        configuration::get(DISPATCH_SECRET.to_owned(), configuration::Kind::Text).await.map_err(|err| match err {
            configuration::Error::Invalid(message) => Error::Internal(message),
            configuration::Error::Unavailable(message) => Error::Unavailable(message),
        })?;
    let Some(secret) = configured else {
        return Err(Error::NotFound("no dispatch secret is configured".into()));
    };
    if secret.chars().count() < MIN_SECRET_CHARS {
        return Err(Error::Internal(format!("{DISPATCH_SECRET} must be at least {MIN_SECRET_CHARS} characters")));
    }
    // Digests compared, so the time taken says nothing about the secret.
    if ids::digest(token) == ids::digest(&secret) {
        Ok(())
    } else {
        Err(Error::Forbidden("the dispatch token does not match".into()))
    }
}

/// Attempt one claimed delivery and record the outcome.
async fn attempt(due: webhooks::DueDelivery, policy: &Policy) -> Result<webhooks::DeliveryStatus, webhooks::Error> {
    let message = WebhookMessage {
        url: due.url,
        secret: due.secret,
        id: due.delivery.event_id.clone(),
        timestamp: clock::now_secs().max(0) as u64,
        payload: due.payload,
    };
    let attempt = due.delivery.attempts.saturating_add(1);
    let outcome = match outbound_webhooks::deliver(message).await {
        Ok(status) => webhooks::AttemptResult::Delivered(status),
        Err(err) => {
            let (error, status, retryable) = match err {
                outbound_webhooks::Error::Rejected(answer) => {
                    let detail = answer.detail.trim();
                    let error = if detail.is_empty() {
                        format!("the receiver answered {}", answer.status)
                    } else {
                        format!("the receiver answered {}: {detail}", answer.status)
                    };
                    (error, Some(answer.status), true)
                }
                outbound_webhooks::Error::Unreachable(detail) => (detail, None, true),
                // No retry helps until the manifest or the webhook changes.
                outbound_webhooks::Error::NotAllowed(detail) | outbound_webhooks::Error::Invalid(detail) => {
                    (detail, None, false)
                }
            };
            let retry_at = if retryable { policy.retry_at(attempt, clock::now_ms()) } else { None };
            webhooks::AttemptResult::Failed(webhooks::Failure { error, status, retry_at })
        }
    };
    match webhooks::settle(due.delivery.id.clone(), due.claimed_until, outcome).await {
        Ok(settled) => Ok(settled.status),
        Err(err) => {
            eprintln!("notification-orchestration: delivery {} not settled: {err:?}", due.delivery.id);
            Err(err)
        }
    }
}

/// The delivery of `event` to its workspace's webhooks: its id and body.
fn outgoing(event: &events::Event) -> webhooks::OutgoingEvent {
    let id = format!("evt_{}", event.seq);
    let kind = events::kind_name(event.kind);
    let payload = serde_json::json!({
        "id": id,
        "type": kind,
        "created_at": event.created_at,
        "data": {
            "workspace_id": event.workspace_id,
            "channel_id": event.channel_id,
            "subject_id": event.subject_id,
            "actor_id": event.actor_id,
        },
    });
    webhooks::OutgoingEvent {
        workspace_id: event.workspace_id.clone(),
        event_id: id,
        kind: kind.to_owned(),
        created_at: event.created_at,
        payload: payload.to_string(),
    }
}

/// An absolute `http`/`https` URL with a host and no credentials.
fn webhook_url(url: &str) -> Result<String, Error> {
    let url = url.trim();
    let invalid = |why: &str| Error::InvalidInput(format!("url {why}"));
    if url.len() > MAX_URL_BYTES {
        return Err(invalid(&format!("is longer than {MAX_URL_BYTES} bytes")));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("may not contain spaces or control characters"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with https:// or http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.starts_with(':') {
        return Err(invalid("must name a host"));
    }
    if authority.contains('@') {
        return Err(invalid("may not carry credentials"));
    }
    if rest.contains('#') {
        return Err(invalid("may not have a fragment"));
    }
    Ok(url.to_owned())
}

/// Known event kinds, each once, in the order given.
fn event_kinds(requested: Vec<String>) -> Result<Vec<String>, Error> {
    if requested.is_empty() {
        return Err(Error::InvalidInput("events must name at least one event kind".into()));
    }
    let mut kinds: Vec<String> = Vec::new();
    let unknown: Vec<&str> = requested.iter().map(String::as_str).filter(|name| Kind::parse(name).is_none()).collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = Kind::ALL.iter().map(|kind| kind.name()).collect();
        return Err(Error::InvalidInput(format!(
            "unknown event kinds {}; known: {}",
            unknown.join(", "),
            known.join(", ")
        )));
    }
    for name in requested {
        if !kinds.contains(&name) {
            kinds.push(name);
        }
    }
    Ok(kinds)
}

/// Owners and admins manage a workspace's webhooks and mail templates.
async fn authorize(actor_id: &str, workspace_id: &str) -> Result<(), Error> {
    keel_guest::authorize_member!(
        workspaces,
        security_context => Error,
        actor_id,
        workspace_id,
        Permission::WorkspaceConfigure
    )
    .await
    .map(|_| ())
}

fn shown(found: webhooks::Endpoint) -> Webhook {
    Webhook {
        id: found.id,
        url: found.url,
        events: found.events,
        created_by: found.created_by,
        created_at: found.created_at,
    }
}

fn delivery(found: webhooks::Delivery) -> Delivery {
    let status = match found.status {
        webhooks::DeliveryStatus::Pending => DeliveryStatus::Pending,
        webhooks::DeliveryStatus::Delivered => DeliveryStatus::Delivered,
        webhooks::DeliveryStatus::Dead => DeliveryStatus::Dead,
    };
    Delivery {
        id: found.id,
        webhook_id: found.endpoint_id,
        event_id: found.event_id,
        event: found.kind,
        next_attempt_at: (status == DeliveryStatus::Pending).then_some(found.next_attempt_at),
        status,
        attempts: found.attempts,
        last_error: found.last_error,
        last_status: found.last_status,
        created_at: found.created_at,
        delivered_at: found.delivered_at,
    }
}

fn to_repository(status: DeliveryStatus) -> webhooks::DeliveryStatus {
    match status {
        DeliveryStatus::Pending => webhooks::DeliveryStatus::Pending,
        DeliveryStatus::Delivered => webhooks::DeliveryStatus::Delivered,
        DeliveryStatus::Dead => webhooks::DeliveryStatus::Dead,
    }
}

fn webhook_error(err: webhooks::Error) -> Error {
    keel_guest::repository_error!(err, webhooks => Error, "webhook or delivery not found")
}

fn event_error(err: events::Error) -> Error {
    match err {
        events::Error::InvalidInput(message) => Error::InvalidInput(message),
        events::Error::Conflict(message) => Error::Conflict(message),
        events::Error::Unavailable(message) => Error::Unavailable(message),
        events::Error::Internal(message) => Error::Internal(message),
    }
}

export!(NotificationOrchestration);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_absolute_http_without_credentials() {
        assert_eq!(webhook_url(" https://hooks.example.com/in?x=1 ").unwrap(), "https://hooks.example.com/in?x=1");
        assert!(webhook_url("http://127.0.0.1:8080/hook").is_ok());
        for bad in ["ftp://x", "https://", "https:///path", "https://u:p@x/", "https://x/a b", "https://x/#f", "x"] {
            assert!(matches!(webhook_url(bad), Err(Error::InvalidInput(_))), "{bad}");
        }
    }

    #[test]
    fn event_kinds_are_known_and_deduplicated() {
        let kinds = event_kinds(vec!["message.created".into(), "file.shared".into(), "message.created".into()]);
        assert_eq!(kinds.unwrap(), ["message.created", "file.shared"]);
        let Err(Error::InvalidInput(message)) = event_kinds(vec!["message.exploded".into()]) else { panic!() };
        assert!(message.contains("message.exploded") && message.contains("known: message.created"), "{message}");
        assert!(event_kinds(Vec::new()).is_err());
    }
}
