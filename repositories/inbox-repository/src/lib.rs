//! `keel:repositories/inbox`: people's in-app notifications over
//! `keel:infrastructure/sql`.
//!
//! Every read and change is scoped by `user_id`. A notification is unique
//! per user, kind and message, so adding one twice (a dispatcher that
//! repeats a pass) adds it once. Pages run on the database's `seq`, newest
//! first, behind an opaque cursor.
//!
//! Mail is claimed per user and workspace with a lease: one `UPDATE` takes
//! every row of theirs still waiting for mail, unless another claim holds
//! it, so racing dispatchers never mail the same rows at once. The second
//! export, `keel:repositories/notification-preferences`, is [`preferences`].

mod preferences;
mod schema;

use exports::keel::repositories::inbox::{
    Error, Guest, MailBatch, MailOutcome, NewNotification, Notification, NotificationKind, NotificationPage,
};
use keel_guest::sql::{self, Autocommit, Executor, RowRef, Value};
use keel_guest::{clock, ids};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/inbox-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql },
});

/// Rows waiting for mail: due some time, and not claimed by a live lease.
const MAIL_WAITING: &str = "mail_at IS NOT NULL AND (mail_claimed_until IS NULL OR mail_claimed_until < ?1)";

const COLUMNS: &str = "seq, id, user_id, kind, workspace_id, channel_id, message_id, actor_id, created_at, read_at";
/// The most notifications one call adds or reads.
const MAX_BATCH: u32 = 500;

struct InboxRepository;

impl Guest for InboxRepository {
    async fn add(notifications: Vec<NewNotification>) -> Result<u32, Error> {
        schema::MIGRATOR.ensure().await?;
        if notifications.len() > MAX_BATCH as usize {
            return Err(Error::InvalidInput(format!("at most {MAX_BATCH} notifications at a time")));
        }
        let (insert, conflict) = sql::insert_unless_present();
        let statement = format!(
            "{insert} inbox_notifications (id, user_id, kind, workspace_id, channel_id, message_id, actor_id, \
             created_at, listed, mail_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10){conflict}"
        );
        let now = clock::now_ms();
        let mut added = 0;
        for notification in &notifications {
            let fields = [
                &notification.user_id,
                &notification.workspace_id,
                &notification.channel_id,
                &notification.message_id,
                &notification.actor_id,
            ];
            if fields.iter().any(|field| field.is_empty()) {
                return Err(Error::InvalidInput("user, workspace, channel, message and actor are required".into()));
            }
            let id = ids::new_id(ids::NOTIFICATION).map_err(|err| Error::Unavailable(err.to_string()))?;
            let params: Vec<Value> = vec![
                id.into(),
                notification.user_id.as_str().into(),
                kind_name(notification.kind).into(),
                notification.workspace_id.as_str().into(),
                notification.channel_id.as_str().into(),
                notification.message_id.as_str().into(),
                notification.actor_id.as_str().into(),
                now.into(),
                i64::from(notification.listed).into(),
                notification.mail_at.into(),
            ];
            added += Autocommit.exec(&statement, params).await?.rows_affected as u32;
        }
        Ok(added)
    }

    async fn list(
        user_id: String,
        unread_only: bool,
        limit: u32,
        before: Option<String>,
    ) -> Result<NotificationPage, Error> {
        schema::MIGRATOR.ensure().await?;
        if !(1..=MAX_BATCH).contains(&limit) {
            return Err(Error::InvalidInput(format!("limit must be between 1 and {MAX_BATCH}")));
        }
        let before = match before.as_deref() {
            Some(cursor) => {
                keel_guest::cursor::decode('n', cursor).ok_or_else(|| Error::InvalidInput("malformed cursor".into()))?
            }
            None => i64::MAX,
        };
        let unread = if unread_only { " AND read_at IS NULL" } else { "" };
        let rows = Autocommit
            .fetch(
                &format!(
                    "SELECT {COLUMNS} FROM inbox_notifications WHERE user_id = ?1 AND listed = 1 AND seq < ?2{unread} \
                     ORDER BY seq DESC LIMIT ?3"
                ),
                vec![user_id.as_str().into(), before.into(), (i64::from(limit) + 1).into()],
            )
            .await?;
        let mut found: Vec<(i64, Notification)> = rows.decode(|row| Ok((row.integer("seq")?, decode(row)?)))?;
        let next_cursor = if found.len() > limit as usize {
            found.truncate(limit as usize);
            found.last().map(|(seq, _)| keel_guest::cursor::encode('n', *seq))
        } else {
            None
        };
        let counted = Autocommit
            .fetch(
                "SELECT COUNT(*) AS unread FROM inbox_notifications WHERE user_id = ?1 AND listed = 1 AND read_at IS NULL",
                vec![user_id.into()],
            )
            .await?;
        let unread_count = counted.first().map(|row| row.integer("unread")).transpose()?.unwrap_or(0);
        Ok(NotificationPage {
            notifications: found.into_iter().map(|(_, notification)| notification).collect(),
            unread_count: u32::try_from(unread_count).unwrap_or(u32::MAX),
            next_cursor,
        })
    }

    async fn mark_read(user_id: String, notification_id: String) -> Result<Notification, Error> {
        schema::MIGRATOR.ensure().await?;
        Autocommit
            .exec(
                "UPDATE inbox_notifications SET read_at = ?3 \
                 WHERE user_id = ?1 AND id = ?2 AND listed = 1 AND read_at IS NULL",
                vec![user_id.as_str().into(), notification_id.as_str().into(), clock::now_ms().into()],
            )
            .await?;
        let rows = Autocommit
            .fetch(
                &format!("SELECT {COLUMNS} FROM inbox_notifications WHERE user_id = ?1 AND id = ?2 AND listed = 1"),
                vec![user_id.into(), notification_id.into()],
            )
            .await?;
        rows.first().map(decode).transpose()?.ok_or(Error::NotFound)
    }

    async fn mark_all_read(user_id: String) -> Result<u32, Error> {
        schema::MIGRATOR.ensure().await?;
        let marked = Autocommit
            .exec(
                "UPDATE inbox_notifications SET read_at = ?2 WHERE user_id = ?1 AND listed = 1 AND read_at IS NULL",
                vec![user_id.into(), clock::now_ms().into()],
            )
            .await?;
        Ok(u32::try_from(marked.rows_affected).unwrap_or(u32::MAX))
    }

    async fn claim_mail(lease_ms: u32, limit: u32) -> Result<Vec<MailBatch>, Error> {
        schema::MIGRATOR.ensure().await?;
        if !(1..=MAX_BATCH).contains(&limit) {
            return Err(Error::InvalidInput(format!("limit must be between 1 and {MAX_BATCH}")));
        }
        let now = clock::now_ms();
        let due = Autocommit
            .fetch(
                &format!(
                    "SELECT user_id, workspace_id, MIN(mail_at) AS due FROM inbox_notifications \
                     WHERE {MAIL_WAITING} AND mail_at <= ?1 \
                     GROUP BY user_id, workspace_id ORDER BY due LIMIT ?2"
                ),
                vec![now.into(), i64::from(limit).into()],
            )
            .await?;
        let claimed_until = now + i64::from(lease_ms.max(1));
        let mut batches = Vec::new();
        for row in due.iter() {
            let (user_id, workspace_id) = (row.text("user_id")?, row.text("workspace_id")?);
            let claim = ids::new_id(ids::MAIL_CLAIM).map_err(|err| Error::Unavailable(err.to_string()))?;
            // Every row of theirs still waiting, due or not yet: one mail.
            let taken = Autocommit
                .exec(
                    &format!(
                        "UPDATE inbox_notifications SET mail_claim = ?2, mail_claimed_until = ?3 \
                         WHERE user_id = ?4 AND workspace_id = ?5 AND {MAIL_WAITING}"
                    ),
                    vec![
                        now.into(),
                        claim.as_str().into(),
                        claimed_until.into(),
                        user_id.as_str().into(),
                        workspace_id.as_str().into(),
                    ],
                )
                .await?;
            if taken.rows_affected == 0 {
                continue; // another dispatcher took it meanwhile
            }
            let rows = Autocommit
                .fetch(
                    &format!(
                        "SELECT {COLUMNS}, mail_attempts FROM inbox_notifications WHERE mail_claim = ?1 ORDER BY seq"
                    ),
                    vec![claim.as_str().into()],
                )
                .await?;
            let attempts = rows.iter().map(|row| row.integer("mail_attempts")).try_fold(0, |most, attempts| {
                attempts.map(|attempts| most.max(attempts))
            })?;
            batches.push(MailBatch {
                claim,
                user_id,
                workspace_id,
                notifications: rows.decode(decode)?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            });
        }
        Ok(batches)
    }

    async fn release_mail(user_id: String) -> Result<u32, Error> {
        schema::MIGRATOR.ensure().await?;
        let released = Autocommit
            .exec(
                "UPDATE inbox_notifications SET mail_at = ?2 WHERE user_id = ?1 AND mail_at > ?2 AND mail_claim IS NULL",
                vec![user_id.into(), clock::now_ms().into()],
            )
            .await?;
        Ok(u32::try_from(released.rows_affected).unwrap_or(u32::MAX))
    }

    async fn settle_mail(claim: String, outcome: MailOutcome) -> Result<(), Error> {
        schema::MIGRATOR.ensure().await?;
        let (mail_at, failed) = match outcome {
            MailOutcome::Done => (None, 0_i64),
            MailOutcome::Postponed(at) => (Some(at), 0),
            MailOutcome::Failed(at) => (Some(at), 1),
        };
        let settled = Autocommit
            .exec(
                "UPDATE inbox_notifications SET mail_at = ?1, mail_attempts = mail_attempts + ?2, \
                 mail_claim = NULL, mail_claimed_until = NULL WHERE mail_claim = ?3",
                vec![mail_at.into(), failed.into(), claim.into()],
            )
            .await?;
        if settled.rows_affected == 0 {
            return Err(Error::Conflict("the mail claim lapsed and was taken over".into()));
        }
        Ok(())
    }
}

pub(crate) fn kind_name(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Mention => "mention",
        NotificationKind::Reply => "reply",
    }
}

pub(crate) fn kind_of(name: &str) -> Option<NotificationKind> {
    match name {
        "mention" => Some(NotificationKind::Mention),
        "reply" => Some(NotificationKind::Reply),
        _ => None,
    }
}

fn decode(row: RowRef<'_>) -> Result<Notification, sql::Error> {
    let kind = row.text("kind")?;
    let kind = kind_of(&kind).ok_or_else(|| sql::Error::Internal(format!("unknown notification kind {kind:?}")))?;
    Ok(Notification {
        id: row.text("id")?,
        user_id: row.text("user_id")?,
        kind,
        workspace_id: row.text("workspace_id")?,
        channel_id: row.text("channel_id")?,
        message_id: row.text("message_id")?,
        actor_id: row.text("actor_id")?,
        created_at: row.integer("created_at")?,
        read_at: if row.is_null("read_at")? { None } else { Some(row.integer("read_at")?) },
    })
}

keel_guest::impl_from_sql_error!(Error);

export!(InboxRepository);
