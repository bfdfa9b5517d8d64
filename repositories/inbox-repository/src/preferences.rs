//! `keel:repositories/notification-preferences`: what each person chose,
//! one row per person. The settings are stored as `kind:channel:0|1`
//! pairs joined by commas, so a new kind or channel needs no migration.

use crate::exports::keel::repositories::notification_preferences::{
    Channel, ChannelSetting, Error, Guest, Preferences, QuietHours,
};
use crate::{InboxRepository, kind_name, kind_of, schema};
use keel_guest::clock;
use keel_guest::sql::{self, Autocommit, Executor, RowRef};

const COLUMNS: &str = "user_id, settings, quiet_start, quiet_end, utc_offset, updated_at";
/// The most people one `get-many` reads.
const MAX_USERS: usize = 500;
/// The most settings one person keeps (kinds × channels, with room to grow).
const MAX_SETTINGS: usize = 32;

impl Guest for InboxRepository {
    async fn get_many(user_ids: Vec<String>) -> Result<Vec<Preferences>, Error> {
        schema::MIGRATOR.ensure().await?;
        if user_ids.len() > MAX_USERS {
            return Err(Error::InvalidInput(format!("at most {MAX_USERS} people at a time")));
        }
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=user_ids.len()).map(|at| format!("?{at}")).collect();
        let rows = Autocommit
            .fetch(
                &format!(
                    "SELECT {COLUMNS} FROM notification_preferences WHERE user_id IN ({})",
                    placeholders.join(", ")
                ),
                user_ids.into_iter().map(Into::into).collect(),
            )
            .await?;
        Ok(rows.decode(decode)?)
    }

    async fn put(
        user_id: String,
        settings: Vec<ChannelSetting>,
        quiet_hours: Option<QuietHours>,
    ) -> Result<Preferences, Error> {
        schema::MIGRATOR.ensure().await?;
        if user_id.is_empty() {
            return Err(Error::InvalidInput("a user is required".into()));
        }
        if settings.len() > MAX_SETTINGS {
            return Err(Error::InvalidInput(format!("at most {MAX_SETTINGS} settings")));
        }
        let encoded: Vec<String> = settings
            .iter()
            .map(|setting| {
                format!("{}:{}:{}", kind_name(setting.kind), channel_name(setting.channel), u8::from(setting.enabled))
            })
            .collect();
        let quiet = |field: fn(&QuietHours) -> i64| quiet_hours.as_ref().map(field);
        let updated_at = clock::now_ms();
        let params = vec![
            user_id.as_str().into(),
            encoded.join(",").into(),
            quiet(|quiet| i64::from(quiet.start_minute)).into(),
            quiet(|quiet| i64::from(quiet.end_minute)).into(),
            quiet(|quiet| i64::from(quiet.utc_offset_minutes)).into(),
            updated_at.into(),
        ];
        // Replace in one transaction: a reader sees the old row or the new one.
        let transaction = sql::begin().await?;
        transaction
            .exec("DELETE FROM notification_preferences WHERE user_id = ?1", vec![user_id.as_str().into()])
            .await?;
        transaction
            .exec(&format!("INSERT INTO notification_preferences ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"), params)
            .await?;
        transaction.commit().await?;
        Ok(Preferences { user_id, settings, quiet_hours, updated_at })
    }
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Inbox => "inbox",
        Channel::Email => "email",
    }
}

fn decode(row: RowRef<'_>) -> Result<Preferences, sql::Error> {
    let stored = row.text("settings")?;
    // A pair this build does not know (written by a newer one) is skipped.
    let settings = stored
        .split(',')
        .filter_map(|pair| {
            let mut parts = pair.split(':');
            let kind = kind_of(parts.next()?)?;
            let channel = match parts.next()? {
                "inbox" => Channel::Inbox,
                "email" => Channel::Email,
                _ => return None,
            };
            let enabled = parts.next()? == "1";
            Some(ChannelSetting { kind, channel, enabled })
        })
        .collect();
    let quiet_hours = if row.is_null("quiet_start")? {
        None
    } else {
        let number = |column: &str| row.integer(column);
        Some(QuietHours {
            start_minute: u16::try_from(number("quiet_start")?).unwrap_or(0),
            end_minute: u16::try_from(number("quiet_end")?).unwrap_or(0),
            utc_offset_minutes: i16::try_from(number("utc_offset")?).unwrap_or(0),
        })
    };
    Ok(Preferences { user_id: row.text("user_id")?, settings, quiet_hours, updated_at: row.integer("updated_at")? })
}

keel_guest::impl_from_sql_error!(Error);
