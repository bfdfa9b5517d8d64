//! What reaches each person: their choices over the defaults (inbox and
//! mail for mentions, inbox only for replies), and quiet hours.

use crate::exports::keel::domains::notification_orchestration::{
    Channel, ChannelSetting, Error, NotificationKind, Preferences, QuietHours,
};
use crate::keel::repositories::inbox;
use crate::keel::repositories::notification_preferences as stored;

const KINDS: [NotificationKind; 2] = [NotificationKind::Mention, NotificationKind::Reply];
const CHANNELS: [Channel; 2] = [Channel::Inbox, Channel::Email];
/// The most people one call to the repository reads (its limit).
const PEOPLE_PER_CALL: usize = 500;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const MINUTES_PER_DAY: u16 = 24 * 60;
/// The offsets from UTC in use on Earth (UTC−12:00 to UTC+14:00).
const UTC_OFFSETS: std::ops::RangeInclusive<i16> = -720..=840;

/// Whether a kind reaches a channel when the person chose nothing.
fn default_enabled(kind: NotificationKind, channel: Channel) -> bool {
    !matches!((kind, channel), (NotificationKind::Reply, Channel::Email))
}

/// One person's effective preferences.
#[derive(Debug, Clone)]
pub struct Effective {
    pub settings: Vec<ChannelSetting>,
    pub quiet_hours: Option<QuietHours>,
}

impl Effective {
    fn from_stored(found: Option<&stored::Preferences>) -> Effective {
        let chosen = |kind: NotificationKind, channel: Channel| {
            found.and_then(|found| {
                found
                    .settings
                    .iter()
                    .find(|setting| to_kind(setting.kind) == kind && to_channel(setting.channel) == channel)
                    .map(|setting| setting.enabled)
            })
        };
        let settings = KINDS
            .iter()
            .flat_map(|kind| CHANNELS.iter().map(move |channel| (*kind, *channel)))
            .map(|(kind, channel)| ChannelSetting {
                kind,
                channel,
                enabled: chosen(kind, channel).unwrap_or_else(|| default_enabled(kind, channel)),
            })
            .collect();
        let quiet_hours = found.and_then(|found| found.quiet_hours).map(|quiet| QuietHours {
            start_minute: quiet.start_minute,
            end_minute: quiet.end_minute,
            utc_offset_minutes: quiet.utc_offset_minutes,
        });
        Effective { settings, quiet_hours }
    }

    /// Whether `kind` reaches `channel`.
    pub fn wants(&self, kind: NotificationKind, channel: Channel) -> bool {
        self.settings
            .iter()
            .find(|setting| setting.kind == kind && setting.channel == channel)
            .is_none_or(|setting| setting.enabled)
    }

    /// When the quiet hours holding at `now` end (ms); none if it is not
    /// quiet now.
    pub fn quiet_until(&self, now: i64) -> Option<i64> {
        let quiet = self.quiet_hours?;
        let offset = i64::from(quiet.utc_offset_minutes) * 60_000;
        let local = now + offset;
        let minute = (local.rem_euclid(DAY_MS) / 60_000) as u16;
        let (start, end) = (quiet.start_minute, quiet.end_minute);
        let holds = if start < end { (start..end).contains(&minute) } else { minute >= start || minute < end };
        if !holds {
            return None;
        }
        let mut ends = local - local.rem_euclid(DAY_MS) + i64::from(end) * 60_000;
        if ends <= local {
            ends += DAY_MS;
        }
        Some(ends - offset)
    }

    pub fn shown(self) -> Preferences {
        Preferences { settings: self.settings, quiet_hours: self.quiet_hours }
    }
}

/// The effective preferences of each of `user_ids`, in that order.
pub async fn of(user_ids: &[String]) -> Result<Vec<Effective>, Error> {
    let mut found = Vec::new();
    for chunk in user_ids.chunks(PEOPLE_PER_CALL) {
        found.extend(stored::get_many(chunk.to_vec()).await.map_err(error)?);
    }
    Ok(user_ids
        .iter()
        .map(|id| Effective::from_stored(found.iter().find(|preferences| preferences.user_id == *id)))
        .collect())
}

/// Apply `settings` over the person's own and set their quiet hours.
pub async fn set(
    user_id: String,
    settings: Vec<ChannelSetting>,
    quiet_hours: Option<QuietHours>,
) -> Result<Preferences, Error> {
    let mut problems = Vec::new();
    for (at, setting) in settings.iter().enumerate() {
        let again = settings[..at].iter().any(|seen| seen.kind == setting.kind && seen.channel == setting.channel);
        if again {
            problems.push(format!("{:?} by {:?} is given twice", setting.kind, setting.channel).to_lowercase());
        }
    }
    if let Some(quiet) = quiet_hours {
        if quiet.start_minute >= MINUTES_PER_DAY || quiet.end_minute >= MINUTES_PER_DAY {
            problems.push("quiet hours start and end between 00:00 and 23:59".to_owned());
        } else if quiet.start_minute == quiet.end_minute {
            problems.push("quiet hours must end at another time than they start".to_owned());
        }
        if !UTC_OFFSETS.contains(&quiet.utc_offset_minutes) {
            problems.push("utc_offset_minutes must be between -720 and 840".to_owned());
        }
    }
    if !problems.is_empty() {
        return Err(Error::InvalidInput(problems.join("; ")));
    }
    let current = of(std::slice::from_ref(&user_id)).await?.remove(0);
    let merged: Vec<stored::ChannelSetting> = current
        .settings
        .iter()
        .map(|setting| {
            let given = settings.iter().find(|given| given.kind == setting.kind && given.channel == setting.channel);
            stored::ChannelSetting {
                kind: from_kind(setting.kind),
                channel: from_channel(setting.channel),
                enabled: given.map_or(setting.enabled, |given| given.enabled),
            }
        })
        .collect();
    let quiet = quiet_hours.map(|quiet| stored::QuietHours {
        start_minute: quiet.start_minute,
        end_minute: quiet.end_minute,
        utc_offset_minutes: quiet.utc_offset_minutes,
    });
    let saved = stored::put(user_id.clone(), merged, quiet).await.map_err(error)?;
    let window = |quiet: Option<QuietHours>| quiet.map(|q| (q.start_minute, q.end_minute, q.utc_offset_minutes));
    if window(current.quiet_hours) != window(quiet_hours) {
        // Mail held for the old quiet hours goes out at the next pass (and
        // is held again if the new ones hold then).
        inbox::release_mail(user_id).await.map_err(crate::inbox::inbox_error)?;
    }
    Ok(Effective::from_stored(Some(&saved)).shown())
}

pub fn to_kind(kind: inbox::NotificationKind) -> NotificationKind {
    match kind {
        inbox::NotificationKind::Mention => NotificationKind::Mention,
        inbox::NotificationKind::Reply => NotificationKind::Reply,
    }
}

fn from_kind(kind: NotificationKind) -> inbox::NotificationKind {
    match kind {
        NotificationKind::Mention => inbox::NotificationKind::Mention,
        NotificationKind::Reply => inbox::NotificationKind::Reply,
    }
}

fn to_channel(channel: stored::Channel) -> Channel {
    match channel {
        stored::Channel::Inbox => Channel::Inbox,
        stored::Channel::Email => Channel::Email,
    }
}

fn from_channel(channel: Channel) -> stored::Channel {
    match channel {
        Channel::Inbox => stored::Channel::Inbox,
        Channel::Email => stored::Channel::Email,
    }
}

fn error(err: stored::Error) -> Error {
    keel_guest::repository_error!(err, stored => Error, "preferences not found")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 60 * 60 * 1000;
    /// 2026-12-04 00:00 UTC.
    const MIDNIGHT: i64 = 1_796_342_400_000;

    fn quiet(start: u16, end: u16, offset: i16) -> Effective {
        let mut preferences = Effective::from_stored(None);
        preferences.quiet_hours = Some(QuietHours { start_minute: start, end_minute: end, utc_offset_minutes: offset });
        preferences
    }

    #[test]
    fn defaults_mail_mentions_but_not_replies() {
        let preferences = Effective::from_stored(None);
        assert!(preferences.wants(NotificationKind::Mention, Channel::Email));
        assert!(preferences.wants(NotificationKind::Reply, Channel::Inbox));
        assert!(!preferences.wants(NotificationKind::Reply, Channel::Email));
        assert_eq!(preferences.settings.len(), 4);
        assert_eq!(preferences.quiet_until(MIDNIGHT), None);
    }

    #[test]
    fn quiet_hours_across_midnight_end_at_the_next_end() {
        let night = quiet(22 * 60, 7 * 60, 0);
        assert_eq!(night.quiet_until(MIDNIGHT - HOUR), Some(MIDNIGHT + 7 * HOUR), "23:00");
        assert_eq!(night.quiet_until(MIDNIGHT + 3 * HOUR), Some(MIDNIGHT + 7 * HOUR), "03:00");
        assert_eq!(night.quiet_until(MIDNIGHT + 7 * HOUR), None, "07:00 is awake");
        assert_eq!(night.quiet_until(MIDNIGHT + 12 * HOUR), None);
    }

    #[test]
    fn quiet_hours_are_in_local_time() {
        // 09:00–17:00 at UTC+02:00 is 07:00–15:00 UTC.
        let office = quiet(9 * 60, 17 * 60, 120);
        assert_eq!(office.quiet_until(MIDNIGHT + 6 * HOUR), None);
        assert_eq!(office.quiet_until(MIDNIGHT + 8 * HOUR), Some(MIDNIGHT + 15 * HOUR));
        // 22:00–06:00 at UTC−05:00: 04:00 UTC is 23:00 the day before.
        let west = quiet(22 * 60, 6 * 60, -300);
        assert_eq!(west.quiet_until(MIDNIGHT + 4 * HOUR), Some(MIDNIGHT + 11 * HOUR));
    }
}
