//! JSON bodies: what requests carry and how resources are shown.
//!
//! Field names are snake_case; timestamps are RFC 3339 UTC strings with
//! milliseconds.

use serde::{Deserialize, Serialize};
use spin_sdk::http::StatusCode;

use crate::ApiError;

use crate::keel::domains::{
    document_management, messaging, notification_orchestration, user_lifecycle, workspace_management,
};
use crate::keel::platform::{audit, feature_flags};

#[derive(Deserialize)]
pub struct Signup {
    pub email: String,
    pub password: String,
    pub display_name: String,
}

#[derive(Deserialize)]
pub struct Login {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize)]
pub struct UpdateMe {
    pub display_name: String,
}

#[derive(Deserialize)]
pub struct CreateWorkspace {
    pub name: String,
}

#[derive(Deserialize)]
pub struct Invite {
    pub email: String,
    pub role: String,
}

#[derive(Deserialize)]
pub struct ChangeRole {
    pub role: String,
}

/// The secret of a link sent by mail.
#[derive(Deserialize)]
pub struct LinkToken {
    pub token: String,
}

#[derive(Deserialize)]
pub struct RequestPasswordReset {
    pub email: String,
}

#[derive(Deserialize)]
pub struct ResetPassword {
    pub token: String,
    pub password: String,
}

#[derive(Deserialize)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Deserialize)]
pub struct CreateChannel {
    pub name: String,
}

#[derive(Deserialize)]
pub struct PostMessage {
    pub text: String,
    /// Ids of files shared in the channel.
    #[serde(default)]
    pub attachments: Vec<String>,
}

#[derive(Serialize)]
pub struct User {
    id: String,
    email: String,
    display_name: String,
    email_verified: bool,
    created_at: String,
}

impl From<user_lifecycle::UserProfile> for User {
    fn from(user: user_lifecycle::UserProfile) -> Self {
        User {
            id: user.id,
            email: user.email,
            display_name: user.display_name,
            email_verified: user.email_verified,
            created_at: rfc3339(user.created_at),
        }
    }
}

#[derive(Serialize)]
pub struct Session {
    user: User,
    token: String,
}

impl From<user_lifecycle::Session> for Session {
    fn from(session: user_lifecycle::Session) -> Self {
        Session { user: session.user.into(), token: session.token }
    }
}

#[derive(Serialize)]
pub struct Workspace {
    id: String,
    name: String,
    role: &'static str,
    created_at: String,
}

impl From<workspace_management::Workspace> for Workspace {
    fn from(workspace: workspace_management::Workspace) -> Self {
        Workspace {
            id: workspace.id,
            name: workspace.name,
            role: role_name(workspace.role),
            created_at: rfc3339(workspace.created_at),
        }
    }
}

#[derive(Serialize)]
pub struct AuditEntry {
    sequence: u64,
    actor: Option<String>,
    action: String,
    target: Option<String>,
    outcome: &'static str,
    request_id: Option<String>,
    client_address: Option<String>,
    at: String,
    hash: String,
}

#[derive(Serialize)]
pub struct AuditPage {
    entries: Vec<AuditEntry>,
    next_before: Option<u64>,
}

impl From<audit::Page> for AuditPage {
    fn from(page: audit::Page) -> Self {
        let entries = page
            .entries
            .into_iter()
            .map(|entry| AuditEntry {
                sequence: entry.sequence,
                actor: entry.actor,
                action: entry.action,
                target: entry.target,
                outcome: match entry.outcome {
                    audit::Outcome::Success => "success",
                    audit::Outcome::Refused => "refused",
                    audit::Outcome::Failed => "failed",
                },
                request_id: entry.request_id,
                client_address: entry.client_address,
                at: rfc3339(entry.at),
                hash: entry.hash,
            })
            .collect();
        AuditPage { entries, next_before: page.next_before }
    }
}

#[derive(Serialize)]
pub struct AuditVerification {
    intact: bool,
    entries: u64,
    first_broken: Option<u64>,
}

impl From<audit::Verification> for AuditVerification {
    fn from(verification: audit::Verification) -> Self {
        AuditVerification {
            intact: verification.first_broken.is_none(),
            entries: verification.entries,
            first_broken: verification.first_broken,
        }
    }
}

/// The variant a feature is fixed to.
#[derive(Deserialize)]
pub struct SetFeature {
    pub variant: String,
}

/// A feature flag as the caller (or the workspace, or a member) gets it.
#[derive(Serialize)]
pub struct Feature {
    name: String,
    variant: String,
    enabled: bool,
    /// `default`, `rollout`, `workspace_override` or `user_override`.
    reason: &'static str,
    variants: Vec<String>,
}

impl From<feature_flags::Evaluation> for Feature {
    fn from(evaluation: feature_flags::Evaluation) -> Self {
        Feature {
            name: evaluation.flag,
            variant: evaluation.variant,
            enabled: evaluation.enabled,
            reason: match evaluation.reason {
                feature_flags::Reason::Default => "default",
                feature_flags::Reason::Rollout => "rollout",
                feature_flags::Reason::WorkspaceOverride => "workspace_override",
                feature_flags::Reason::UserOverride => "user_override",
            },
            variants: evaluation.variants,
        }
    }
}

#[derive(Serialize)]
pub struct Member {
    workspace_id: String,
    user_id: String,
    email: String,
    display_name: String,
    role: &'static str,
    joined_at: String,
}

impl From<workspace_management::Member> for Member {
    fn from(member: workspace_management::Member) -> Self {
        Member {
            workspace_id: member.workspace_id,
            user_id: member.user_id,
            email: member.email,
            display_name: member.display_name,
            role: role_name(member.role),
            joined_at: rfc3339(member.joined_at),
        }
    }
}

#[derive(Serialize)]
pub struct Invitation {
    id: String,
    workspace_id: String,
    workspace_name: String,
    email: String,
    role: &'static str,
    invited_by: String,
    created_at: String,
    expires_at: String,
}

impl From<workspace_management::Invitation> for Invitation {
    fn from(invitation: workspace_management::Invitation) -> Self {
        Invitation {
            id: invitation.id,
            workspace_id: invitation.workspace_id,
            workspace_name: invitation.workspace_name,
            email: invitation.email,
            role: role_name(invitation.role),
            invited_by: invitation.invited_by,
            created_at: rfc3339(invitation.created_at),
            expires_at: rfc3339(invitation.expires_at),
        }
    }
}

#[derive(Serialize)]
pub struct Channel {
    id: String,
    workspace_id: String,
    name: String,
    created_at: String,
    created_by: String,
}

impl From<messaging::Channel> for Channel {
    fn from(channel: messaging::Channel) -> Self {
        Channel {
            id: channel.id,
            workspace_id: channel.workspace_id,
            name: channel.name,
            created_at: rfc3339(channel.created_at),
            created_by: channel.created_by,
        }
    }
}

/// A shared file, as its latest version shows it.
#[derive(Serialize)]
pub struct Document {
    id: String,
    workspace_id: String,
    channel_id: String,
    name: String,
    version: u32,
    content_type: String,
    size: u64,
    sha256: String,
    created_by: String,
    created_at: String,
    updated_by: String,
    updated_at: String,
}

impl From<document_management::Document> for Document {
    fn from(found: document_management::Document) -> Self {
        Document {
            id: found.id,
            workspace_id: found.workspace_id,
            channel_id: found.channel_id,
            name: found.name,
            version: found.version,
            content_type: found.content_type,
            size: found.size,
            sha256: found.sha256,
            created_by: found.created_by,
            created_at: rfc3339(found.created_at),
            updated_by: found.updated_by,
            updated_at: rfc3339(found.updated_at),
        }
    }
}

#[derive(Serialize)]
pub struct Version {
    version: u32,
    content_type: String,
    size: u64,
    sha256: String,
    uploaded_by: String,
    created_at: String,
}

impl From<document_management::Version> for Version {
    fn from(found: document_management::Version) -> Self {
        Version {
            version: found.number,
            content_type: found.content_type,
            size: found.size,
            sha256: found.sha256,
            uploaded_by: found.uploaded_by,
            created_at: rfc3339(found.created_at),
        }
    }
}

#[derive(Serialize)]
pub struct DocumentPage {
    files: Vec<Document>,
    next_cursor: Option<String>,
}

impl From<document_management::DocumentPage> for DocumentPage {
    fn from(page: document_management::DocumentPage) -> Self {
        DocumentPage { files: page.documents.into_iter().map(Document::from).collect(), next_cursor: page.next_cursor }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    pub url: String,
    pub events: Vec<String>,
}

#[derive(Serialize)]
pub struct Webhook {
    id: String,
    url: String,
    events: Vec<String>,
    created_by: String,
    created_at: String,
}

impl From<notification_orchestration::Webhook> for Webhook {
    fn from(found: notification_orchestration::Webhook) -> Self {
        Webhook {
            id: found.id,
            url: found.url,
            events: found.events,
            created_by: found.created_by,
            created_at: rfc3339(found.created_at),
        }
    }
}

/// A new webhook with its signing secret (shown this once).
#[derive(Serialize)]
pub struct RegisteredWebhook {
    #[serde(flatten)]
    webhook: Webhook,
    secret: String,
}

impl From<notification_orchestration::RegisteredWebhook> for RegisteredWebhook {
    fn from(registered: notification_orchestration::RegisteredWebhook) -> Self {
        RegisteredWebhook { webhook: Webhook::from(registered.webhook), secret: registered.secret }
    }
}

#[derive(Serialize)]
pub struct Delivery {
    id: String,
    webhook_id: String,
    event_id: String,
    event: String,
    status: &'static str,
    attempts: u32,
    next_attempt_at: Option<String>,
    last_error: Option<String>,
    last_status: Option<u16>,
    created_at: String,
    delivered_at: Option<String>,
}

impl From<notification_orchestration::Delivery> for Delivery {
    fn from(found: notification_orchestration::Delivery) -> Self {
        Delivery {
            id: found.id,
            webhook_id: found.webhook_id,
            event_id: found.event_id,
            event: found.event,
            status: delivery_status_name(found.status),
            attempts: found.attempts,
            next_attempt_at: found.next_attempt_at.map(rfc3339),
            last_error: found.last_error,
            last_status: found.last_status,
            created_at: rfc3339(found.created_at),
            delivered_at: found.delivered_at.map(rfc3339),
        }
    }
}

#[derive(Serialize)]
pub struct DeliveryPage {
    deliveries: Vec<Delivery>,
    next_cursor: Option<String>,
}

impl From<notification_orchestration::DeliveryPage> for DeliveryPage {
    fn from(page: notification_orchestration::DeliveryPage) -> Self {
        DeliveryPage { deliveries: page.deliveries.into_iter().map(Delivery::from).collect(), next_cursor: page.next_cursor }
    }
}

const DELIVERY_STATUSES: [(notification_orchestration::DeliveryStatus, &str); 3] = [
    (notification_orchestration::DeliveryStatus::Pending, "pending"),
    (notification_orchestration::DeliveryStatus::Delivered, "delivered"),
    (notification_orchestration::DeliveryStatus::Dead, "dead"),
];

fn delivery_status_name(status: notification_orchestration::DeliveryStatus) -> &'static str {
    DELIVERY_STATUSES.iter().find(|(known, _)| *known == status).map_or("pending", |(_, name)| name)
}

/// A delivery status named in a query.
pub fn parse_delivery_status(name: &str) -> Option<notification_orchestration::DeliveryStatus> {
    DELIVERY_STATUSES.iter().find(|(_, known)| *known == name).map(|(status, _)| *status)
}

#[derive(Serialize)]
pub struct Notification {
    id: String,
    kind: &'static str,
    workspace_id: String,
    channel_id: String,
    message_id: String,
    actor_id: String,
    created_at: String,
    read_at: Option<String>,
}

impl From<notification_orchestration::Notification> for Notification {
    fn from(found: notification_orchestration::Notification) -> Self {
        Notification {
            id: found.id,
            kind: notification_kind_name(found.kind),
            workspace_id: found.workspace_id,
            channel_id: found.channel_id,
            message_id: found.message_id,
            actor_id: found.actor_id,
            created_at: rfc3339(found.created_at),
            read_at: found.read_at.map(rfc3339),
        }
    }
}

#[derive(Serialize)]
pub struct NotificationPage {
    notifications: Vec<Notification>,
    unread_count: u32,
    next_cursor: Option<String>,
}

impl From<notification_orchestration::NotificationPage> for NotificationPage {
    fn from(page: notification_orchestration::NotificationPage) -> Self {
        NotificationPage {
            notifications: page.notifications.into_iter().map(Notification::from).collect(),
            unread_count: page.unread_count,
            next_cursor: page.next_cursor,
        }
    }
}

/// Whether a kind of notification reaches each channel.
#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ChannelSwitches {
    #[serde(skip_serializing_if = "Option::is_none")]
    inbox: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<bool>,
}

/// Quiet hours as people write them: local `HH:MM` times and their offset
/// from UTC.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    start: String,
    end: String,
    utc_offset_minutes: i16,
}

impl QuietHours {
    /// The domain's quiet hours, once both times read as `HH:MM`.
    pub fn parse(self) -> Result<notification_orchestration::QuietHours, ApiError> {
        let minute = |field: &str, time: &str| {
            let parsed = time.split_once(':').and_then(|(hours, minutes)| {
                let well_formed = hours.len() == 2 && minutes.len() == 2;
                let (hours, minutes) = (hours.parse::<u16>().ok()?, minutes.parse::<u16>().ok()?);
                (well_formed && hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
            });
            parsed.ok_or_else(|| ApiError::invalid_input(format!("quiet_hours.{field} must be a time as HH:MM (00:00 to 23:59)")))
        };
        Ok(notification_orchestration::QuietHours {
            start_minute: minute("start", &self.start)?,
            end_minute: minute("end", &self.end)?,
            utc_offset_minutes: self.utc_offset_minutes,
        })
    }
}

impl From<notification_orchestration::QuietHours> for QuietHours {
    fn from(quiet: notification_orchestration::QuietHours) -> Self {
        let time = |minute: u16| format!("{:02}:{:02}", minute / 60, minute % 60);
        QuietHours {
            start: time(quiet.start_minute),
            end: time(quiet.end_minute),
            utc_offset_minutes: quiet.utc_offset_minutes,
        }
    }
}

fn notification_kind_name(kind: notification_orchestration::NotificationKind) -> &'static str {
    match kind {
        notification_orchestration::NotificationKind::Mention => "mention",
        notification_orchestration::NotificationKind::Reply => "reply",
    }
}

/// What reaches a person.
#[derive(Serialize)]
pub struct NotificationPreferences {
    mention: ChannelSwitches,
    reply: ChannelSwitches,
    quiet_hours: Option<QuietHours>,
}

impl From<notification_orchestration::Preferences> for NotificationPreferences {
    fn from(found: notification_orchestration::Preferences) -> Self {
        let switches = |kind: notification_orchestration::NotificationKind| {
            let mut switches = ChannelSwitches::default();
            for setting in found.settings.iter().filter(|setting| setting.kind == kind) {
                match setting.channel {
                    notification_orchestration::Channel::Inbox => switches.inbox = Some(setting.enabled),
                    notification_orchestration::Channel::Email => switches.email = Some(setting.enabled),
                }
            }
            switches
        };
        NotificationPreferences {
            mention: switches(notification_orchestration::NotificationKind::Mention),
            reply: switches(notification_orchestration::NotificationKind::Reply),
            quiet_hours: found.quiet_hours.map(QuietHours::from),
        }
    }
}

/// A change of what reaches a person: switches not given stay; quiet
/// hours not given stay, `null` removes them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateNotificationPreferences {
    #[serde(default)]
    mention: ChannelSwitches,
    #[serde(default)]
    reply: ChannelSwitches,
    #[serde(default, deserialize_with = "present")]
    pub quiet_hours: Option<Option<QuietHours>>,
}

/// A field that is present (`Some`, possibly `null`), as opposed to absent.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

impl UpdateNotificationPreferences {
    /// The switches given, as the domain takes them.
    pub fn settings(&self) -> Vec<notification_orchestration::ChannelSetting> {
        let mut settings = Vec::new();
        for (kind, switches) in [
            (notification_orchestration::NotificationKind::Mention, &self.mention),
            (notification_orchestration::NotificationKind::Reply, &self.reply),
        ] {
            for (channel, enabled) in [
                (notification_orchestration::Channel::Inbox, switches.inbox),
                (notification_orchestration::Channel::Email, switches.email),
            ] {
                if let Some(enabled) = enabled {
                    settings.push(notification_orchestration::ChannelSetting { kind, channel, enabled });
                }
            }
        }
        settings
    }
}

const TEMPLATE_NAMES: [(notification_orchestration::TemplateName, &str); 3] = [
    (notification_orchestration::TemplateName::Mention, "mention"),
    (notification_orchestration::TemplateName::Reply, "reply"),
    (notification_orchestration::TemplateName::Digest, "digest"),
];

/// A template named in a path (an unknown name is no resource: 404).
pub fn parse_template_name(name: &str) -> Result<notification_orchestration::TemplateName, ApiError> {
    TEMPLATE_NAMES.iter().find(|(_, known)| *known == name).map(|(template, _)| *template).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such notification template; they are mention, reply and digest".to_owned(),
        )
    })
}

#[derive(Serialize)]
pub struct NotificationTemplate {
    name: &'static str,
    subject: String,
    text: String,
    html: String,
    variables: Vec<String>,
    custom: bool,
    updated_by: Option<String>,
    updated_at: Option<String>,
}

impl From<notification_orchestration::NotificationTemplate> for NotificationTemplate {
    fn from(found: notification_orchestration::NotificationTemplate) -> Self {
        NotificationTemplate {
            name: TEMPLATE_NAMES.iter().find(|(known, _)| *known == found.name).map_or("mention", |(_, name)| name),
            subject: found.subject,
            text: found.text,
            html: found.html,
            variables: found.variables,
            custom: found.custom,
            updated_by: found.updated_by,
            updated_at: found.updated_at.map(rfc3339),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetNotificationTemplate {
    pub subject: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub html: String,
}

#[derive(Serialize)]
pub struct DispatchReport {
    events: u32,
    notified: u32,
    enqueued: u32,
    delivered: u32,
    retrying: u32,
    dead: u32,
    mailed: u32,
}

impl From<notification_orchestration::DispatchReport> for DispatchReport {
    fn from(report: notification_orchestration::DispatchReport) -> Self {
        DispatchReport {
            events: report.events,
            notified: report.notified,
            enqueued: report.enqueued,
            delivered: report.delivered,
            retrying: report.retrying,
            dead: report.dead,
            mailed: report.mailed,
        }
    }
}

#[derive(Deserialize)]
pub struct EditMessage {
    pub text: String,
}

#[derive(Serialize)]
pub struct Reaction {
    emoji: String,
    count: usize,
    user_ids: Vec<String>,
}

#[derive(Serialize)]
pub struct Message {
    id: String,
    channel_id: String,
    author_id: String,
    text: String,
    created_at: String,
    parent_id: Option<String>,
    reply_count: u32,
    edited_at: Option<String>,
    deleted: bool,
    reactions: Vec<Reaction>,
    attachments: Vec<Attachment>,
}

/// A file attached to a message, as it was when attached.
#[derive(Serialize)]
pub struct Attachment {
    file_id: String,
    name: String,
    content_type: String,
    size: u64,
}

impl From<messaging::Message> for Message {
    fn from(message: messaging::Message) -> Self {
        Message {
            id: message.id,
            channel_id: message.channel_id,
            author_id: message.author_id,
            text: message.text,
            created_at: rfc3339(message.created_at),
            parent_id: message.parent_id,
            reply_count: message.reply_count,
            edited_at: message.edited_at.map(rfc3339),
            deleted: message.deleted_at.is_some(),
            reactions: message
                .reactions
                .into_iter()
                .map(|reaction| Reaction {
                    emoji: reaction.emoji,
                    count: reaction.user_ids.len(),
                    user_ids: reaction.user_ids,
                })
                .collect(),
            attachments: message
                .attachments
                .into_iter()
                .map(|file| Attachment {
                    file_id: file.file_id,
                    name: file.name,
                    content_type: file.content_type,
                    size: file.size,
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
pub struct MessagePage {
    messages: Vec<Message>,
    next_cursor: Option<String>,
}

impl From<messaging::MessagePage> for MessagePage {
    fn from(page: messaging::MessagePage) -> Self {
        MessagePage { messages: page.messages.into_iter().map(Message::from).collect(), next_cursor: page.next_cursor }
    }
}

pub fn role_name(role: workspace_management::Role) -> &'static str {
    match role {
        workspace_management::Role::Owner => "owner",
        workspace_management::Role::Admin => "admin",
        workspace_management::Role::Member => "member",
    }
}

pub fn parse_role(name: &str) -> Option<workspace_management::Role> {
    match name {
        "owner" => Some(workspace_management::Role::Owner),
        "admin" => Some(workspace_management::Role::Admin),
        "member" => Some(workspace_management::Role::Member),
        _ => None,
    }
}

/// `ms` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let ms_of_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = keel_guest::clock::civil_from_days(days);
    let (hour, minute) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
    let (second, milli) = (ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_with_millis() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_406_706_789), "2026-11-23T04:05:06.789Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn roles_round_trip() {
        for name in ["owner", "admin", "member"] {
            assert_eq!(parse_role(name).map(role_name), Some(name));
        }
        assert_eq!(parse_role("root"), None);
    }
}
