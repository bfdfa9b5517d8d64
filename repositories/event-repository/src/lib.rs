//! `keel:repositories/events`: the event log over `keel:infrastructure/sql`.
//!
//! One table, `events`, keyed by an increasing `seq` the database assigns
//! (so every process sharing the database reads one order). Repositories
//! write it in their own transactions (`keel_guest::outbox`, which owns the
//! table); this component reads it: by `seq` range, across workspaces for
//! a process-wide reader or within one workspace (and channel) for a
//! replay, and the events the dispatcher has not handed on yet.

use exports::keel::repositories::events::{Error, Event, Guest, Kind};
use keel_guest::outbox::{self, MIGRATOR};
use keel_guest::sql::{self, Autocommit, Executor, RowRef, Value};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/event-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql },
});

const COLUMNS: &str = "seq, workspace_id, channel_id, kind, subject_id, actor_id, created_at";
/// The most events one read returns.
const MAX_READ: u32 = 1000;

struct EventRepository;

impl Guest for EventRepository {
    async fn since(after: u64, limit: u32) -> Result<Vec<Event>, Error> {
        MIGRATOR.ensure().await?;
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
        MIGRATOR.ensure().await?;
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
        MIGRATOR.ensure().await?;
        let rows = Autocommit.fetch("SELECT MAX(seq) AS seq FROM events", vec![]).await?;
        match rows.first() {
            Some(row) if !row.is_null("seq")? => Ok(row.integer("seq")? as u64),
            _ => Ok(0),
        }
    }

    async fn undispatched(limit: u32) -> Result<Vec<Event>, Error> {
        MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                &format!("SELECT {COLUMNS} FROM events WHERE dispatched = 0 ORDER BY seq LIMIT ?1"),
                vec![bounded(limit)?],
            )
            .await?;
        Ok(rows.decode(decode)?)
    }

    async fn mark_dispatched(seqs: Vec<u64>) -> Result<(), Error> {
        MIGRATOR.ensure().await?;
        if seqs.len() > MAX_READ as usize {
            return Err(Error::InvalidInput(format!("at most {MAX_READ} events at a time")));
        }
        if seqs.is_empty() {
            return Ok(());
        }
        let params = seqs.iter().map(|seq| position(*seq)).collect::<Result<Vec<_>, _>>()?;
        let placeholders = (1..=params.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
        Autocommit.exec(&format!("UPDATE events SET dispatched = 1 WHERE seq IN ({placeholders})"), params).await?;
        Ok(())
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

/// The WIT kind of a stored kind name.
fn wit_kind(kind: outbox::Kind) -> Kind {
    match kind {
        outbox::Kind::MessageCreated => Kind::MessageCreated,
        outbox::Kind::MessageUpdated => Kind::MessageUpdated,
        outbox::Kind::MessageDeleted => Kind::MessageDeleted,
        outbox::Kind::ReactionAdded => Kind::ReactionAdded,
        outbox::Kind::ReactionRemoved => Kind::ReactionRemoved,
        outbox::Kind::MemberJoined => Kind::MemberJoined,
        outbox::Kind::MemberRemoved => Kind::MemberRemoved,
        outbox::Kind::FileShared => Kind::FileShared,
        outbox::Kind::FileUpdated => Kind::FileUpdated,
        outbox::Kind::FileDeleted => Kind::FileDeleted,
    }
}

fn decode(row: RowRef<'_>) -> Result<Event, sql::Error> {
    let kind = row.text("kind")?;
    let channel_id = row.text("channel_id")?;
    Ok(Event {
        seq: row.integer("seq")? as u64,
        workspace_id: row.text("workspace_id")?,
        channel_id: (!channel_id.is_empty()).then_some(channel_id),
        kind: outbox::Kind::parse(&kind).map(wit_kind).ok_or_else(|| sql::Error::Internal(format!("unknown event kind {kind:?}")))?,
        subject_id: row.text("subject_id")?,
        actor_id: row.text("actor_id")?,
        created_at: row.integer("created_at")?,
    })
}

keel_guest::impl_from_sql_error!(Error);

export!(EventRepository);
