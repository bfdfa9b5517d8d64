//! `keel:repositories/events`: the event log over `keel:infrastructure/sql`.
//!
//! One table, `events`, keyed by an increasing `seq` the database assigns
//! (so every process sharing the database reads one order). Reads are by
//! `seq` range, across workspaces for a process-wide reader or within one
//! workspace (and channel) for a replay. The log keeps a day of events:
//! every [`PRUNE_EVERY`]th append drops older ones.

mod schema;

use exports::keel::repositories::events::{Error, Event, Guest, Kind, NewEvent};
use keel_guest::clock;
use keel_guest::sql::{self, Autocommit, Dialect, Executor, RowRef, Value};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/event-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql },
});

const COLUMNS: &str = "seq, workspace_id, channel_id, kind, subject_id, actor_id, created_at";
/// How long the log keeps an event.
const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
/// One append in this many also drops the events past their retention.
const PRUNE_EVERY: i64 = 256;
/// The most events one read returns.
const MAX_READ: u32 = 1000;

struct EventRepository;

impl Guest for EventRepository {
    async fn append(event: NewEvent) -> Result<Event, Error> {
        schema::MIGRATOR.ensure().await?;
        if event.workspace_id.is_empty() || event.subject_id.is_empty() || event.actor_id.is_empty() {
            return Err(Error::InvalidInput("workspace, subject and actor are required".into()));
        }
        if event.channel_id.as_deref() == Some("") {
            return Err(Error::InvalidInput("a channel id cannot be empty".into()));
        }
        let now = clock::now_ms();
        const INSERT: &str = "INSERT INTO events (workspace_id, channel_id, kind, subject_id, actor_id, created_at) \
                              VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
        let params: Vec<Value> = vec![
            event.workspace_id.as_str().into(),
            event.channel_id.as_deref().unwrap_or("").into(),
            kind_name(event.kind).into(),
            event.subject_id.as_str().into(),
            event.actor_id.as_str().into(),
            now.into(),
        ];
        let seq = match sql::dialect() {
            // PostgreSQL reports no last-insert id; it returns the new key.
            Dialect::Postgres => {
                let rows = Autocommit.fetch(&format!("{INSERT} RETURNING seq"), params).await?;
                rows.first().map(|row| row.integer("seq")).transpose()?
            }
            _ => Autocommit.exec(INSERT, params).await?.last_insert_id,
        }
        .ok_or_else(|| Error::Internal("the database reported no seq for the new event".into()))?;
        if seq % PRUNE_EVERY == 0 {
            Autocommit.exec("DELETE FROM events WHERE created_at < ?1", vec![(now - RETENTION_MS).into()]).await?;
        }
        Ok(Event {
            seq: seq as u64,
            workspace_id: event.workspace_id,
            channel_id: event.channel_id,
            kind: event.kind,
            subject_id: event.subject_id,
            actor_id: event.actor_id,
            created_at: now,
        })
    }

    async fn since(after: u64, limit: u32) -> Result<Vec<Event>, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                &format!("SELECT {COLUMNS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"),
                vec![position(after)?, bounded(limit)?],
            )
            .await?;
        Ok(rows.decode(decode)?)
    }

    async fn since_in_workspace(
        workspace_id: String,
        channel_id: Option<String>,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Event>, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows =
            match channel_id {
                Some(channel_id) => {
                    Autocommit
                        .fetch(
                            &format!(
                                "SELECT {COLUMNS} FROM events WHERE workspace_id = ?1 AND seq > ?2 \
                             AND channel_id IN (?3, '') ORDER BY seq LIMIT ?4"
                            ),
                            vec![workspace_id.into(), position(after)?, channel_id.into(), bounded(limit)?],
                        )
                        .await?
                }
                None => Autocommit
                    .fetch(
                        &format!(
                            "SELECT {COLUMNS} FROM events WHERE workspace_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
                        ),
                        vec![workspace_id.into(), position(after)?, bounded(limit)?],
                    )
                    .await?,
            };
        Ok(rows.decode(decode)?)
    }

    async fn latest() -> Result<u64, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit.fetch("SELECT MAX(seq) AS seq FROM events", vec![]).await?;
        match rows.first() {
            Some(row) if !row.is_null("seq")? => Ok(row.integer("seq")? as u64),
            _ => Ok(0),
        }
    }
}

/// `after` as a statement parameter.
fn position(after: u64) -> Result<Value, Error> {
    i64::try_from(after).map(Value::from).map_err(|_| Error::InvalidInput(format!("no event has seq {after}")))
}

/// `limit` as a statement parameter: 1 to [`MAX_READ`].
fn bounded(limit: u32) -> Result<Value, Error> {
    if (1..=MAX_READ).contains(&limit) {
        Ok(i64::from(limit).into())
    } else {
        Err(Error::InvalidInput(format!("limit must be between 1 and {MAX_READ}")))
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::MessageCreated => "message.created",
        Kind::MessageUpdated => "message.updated",
        Kind::MessageDeleted => "message.deleted",
        Kind::ReactionAdded => "reaction.added",
        Kind::ReactionRemoved => "reaction.removed",
        Kind::MemberJoined => "member.joined",
        Kind::MemberRemoved => "member.removed",
        Kind::FileShared => "file.shared",
        Kind::FileUpdated => "file.updated",
        Kind::FileDeleted => "file.deleted",
    }
}

fn parse_kind(name: &str) -> Option<Kind> {
    [
        Kind::MessageCreated,
        Kind::MessageUpdated,
        Kind::MessageDeleted,
        Kind::ReactionAdded,
        Kind::ReactionRemoved,
        Kind::MemberJoined,
        Kind::MemberRemoved,
        Kind::FileShared,
        Kind::FileUpdated,
        Kind::FileDeleted,
    ]
    .into_iter()
    .find(|kind| kind_name(*kind) == name)
}

fn decode(row: RowRef<'_>) -> Result<Event, sql::Error> {
    let kind = row.text("kind")?;
    let channel_id = row.text("channel_id")?;
    Ok(Event {
        seq: row.integer("seq")? as u64,
        workspace_id: row.text("workspace_id")?,
        channel_id: (!channel_id.is_empty()).then_some(channel_id),
        kind: parse_kind(&kind).ok_or_else(|| sql::Error::Internal(format!("unknown event kind {kind:?}")))?,
        subject_id: row.text("subject_id")?,
        actor_id: row.text("actor_id")?,
        created_at: row.integer("created_at")?,
    })
}

keel_guest::impl_from_sql_error!(Error);

export!(EventRepository);
