//! `keel:repositories/messages`: messages posted to channels, their thread
//! replies and reactions, over `keel:infrastructure/sql`. Every query is
//! scoped by `workspace_id` and `channel_id`.
//!
//! Messages are ordered by an auto-incremented `seq` (read back through the
//! adapter's last-insert-id); pages are newest first and continue with an
//! opaque [`cursor`]. A reply carries its thread's first message in
//! `thread_seq` (0 for a channel message); a thread is one level deep.
//! Changes that touch two rows (a reply and its thread's count, a reaction
//! and its message's count, a deletion and its reactions) run in one
//! transaction. Mentions (one row per mentioned user and message) list a
//! message in that user's `mentioning` until it is edited or deleted.

mod cursor;
mod schema;

use exports::keel::repositories::messages::{Attachment, Error, Guest, Message, MessagePage, Reaction};
use keel_guest::clock;
use keel_guest::outbox::{self, Kind, NewEvent};
use keel_guest::sql::{self, Autocommit, Dialect, Executor, RowRef, Value};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/message-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql },
});

/// Distinct reactions one user may leave on one message.
const MAX_REACTIONS_PER_USER: usize = 20;

const COLUMNS: &str = "seq, workspace_id, channel_id, author_id, text, created_at, thread_seq, reply_count, reaction_count, edited_at, deleted_at, attachments";

struct MessageRepository;

impl Guest for MessageRepository {
    async fn post(
        workspace_id: String,
        channel_id: String,
        author_id: String,
        text: String,
        parent_id: Option<String>,
        mentions: Vec<String>,
        attachments: Vec<Attachment>,
    ) -> Result<Message, Error> {
        schema::MIGRATOR.ensure().await?;
        if workspace_id.is_empty() || channel_id.is_empty() || author_id.is_empty() || text.is_empty() {
            return Err(Error::InvalidInput("workspace, channel, author and text are required".into()));
        }
        let now = clock::now_ms();
        let row = NewRow { workspace_id: &workspace_id, channel_id: &channel_id, author_id: &author_id, text: &text, attachments: &attachments };
        let tx = outbox::begin().await?;
        let thread = match parent_id {
            None => 0,
            Some(parent) => {
                let thread = cursor::message_seq(&parent).ok_or(Error::NotFound)?;
                // Only a live channel message starts a thread.
                let counted = tx
                    .exec(
                        "UPDATE messages SET reply_count = reply_count + 1 WHERE workspace_id = ?1 \
                         AND channel_id = ?2 AND seq = ?3 AND thread_seq = 0 AND deleted_at IS NULL",
                        vec![workspace_id.as_str().into(), channel_id.as_str().into(), thread.into()],
                    )
                    .await?;
                if counted.rows_affected == 0 {
                    tx.rollback().await?;
                    return Err(Error::NotFound);
                }
                thread
            }
        };
        let seq = insert(&tx, &row, thread, now).await?;
        mention(&tx, &workspace_id, seq, &mentions).await?;
        record(&tx, Kind::MessageCreated, &workspace_id, &channel_id, seq, &author_id).await?;
        tx.commit().await?;
        Ok(new_message(seq, &row, thread, now))
    }

    async fn get(workspace_id: String, channel_id: String, message_id: String) -> Result<Message, Error> {
        schema::MIGRATOR.ensure().await?;
        let seq = cursor::message_seq(&message_id).ok_or(Error::NotFound)?;
        find(&Autocommit, &workspace_id, &channel_id, seq).await
    }

    async fn list(
        workspace_id: String,
        channel_id: String,
        parent_id: Option<String>,
        limit: u32,
        before: Option<String>,
    ) -> Result<MessagePage, Error> {
        let before_seq = before_seq(before.as_deref())?;
        schema::MIGRATOR.ensure().await?;
        let thread = match parent_id {
            None => 0,
            Some(parent) => {
                let seq = cursor::message_seq(&parent).ok_or(Error::NotFound)?;
                if find(&Autocommit, &workspace_id, &channel_id, seq).await?.parent_id.is_some() {
                    // A reply has no thread of its own.
                    return Err(Error::NotFound);
                }
                seq
            }
        };
        let rows = Autocommit
            .fetch(
                &format!(
                    "SELECT {COLUMNS} FROM messages WHERE workspace_id = ?1 AND channel_id = ?2 AND thread_seq = ?3 \
                     AND seq < ?4 ORDER BY seq DESC LIMIT ?5"
                ),
                vec![
                    workspace_id.as_str().into(),
                    channel_id.into(),
                    thread.into(),
                    before_seq.into(),
                    i64::from(limit + 1).into(),
                ],
            )
            .await?;
        page(&workspace_id, rows.decode(decode)?, limit).await
    }

    async fn edit(
        workspace_id: String,
        channel_id: String,
        message_id: String,
        text: String,
        mentions: Vec<String>,
    ) -> Result<Message, Error> {
        schema::MIGRATOR.ensure().await?;
        if text.is_empty() {
            return Err(Error::InvalidInput("text is required".into()));
        }
        let seq = cursor::message_seq(&message_id).ok_or(Error::NotFound)?;
        let now = clock::now_ms();
        let tx = outbox::begin().await?;
        // MySQL counts only rows an UPDATE changed, so whether the message
        // is there comes from reading it in the same transaction.
        if let Err(err) = live(&tx, &workspace_id, &channel_id, seq).await {
            tx.rollback().await?;
            return Err(err);
        }
        tx.exec(
            "UPDATE messages SET text = ?4, edited_at = ?5, updated_at = ?5 \
             WHERE workspace_id = ?1 AND channel_id = ?2 AND seq = ?3 AND deleted_at IS NULL",
            vec![workspace_id.as_str().into(), channel_id.as_str().into(), seq.into(), text.into(), now.into()],
        )
        .await?;
        unmention(&tx, &workspace_id, seq).await?;
        mention(&tx, &workspace_id, seq, &mentions).await?;
        let edited = live(&tx, &workspace_id, &channel_id, seq).await?;
        record(&tx, Kind::MessageUpdated, &workspace_id, &channel_id, seq, &edited.author_id).await?;
        tx.commit().await?;
        Ok(edited)
    }

    async fn delete(workspace_id: String, channel_id: String, message_id: String, actor_id: String) -> Result<(), Error> {
        schema::MIGRATOR.ensure().await?;
        let seq = cursor::message_seq(&message_id).ok_or(Error::NotFound)?;
        let now = clock::now_ms();
        let tx = outbox::begin().await?;
        let deleted = tx
            .exec(
                "UPDATE messages SET text = '', deleted_at = ?4, updated_at = ?4, reaction_count = 0, attachments = NULL \
                 WHERE workspace_id = ?1 AND channel_id = ?2 AND seq = ?3 AND deleted_at IS NULL",
                vec![workspace_id.as_str().into(), channel_id.as_str().into(), seq.into(), now.into()],
            )
            .await?;
        if deleted.rows_affected == 0 {
            tx.rollback().await?;
            return Err(Error::NotFound);
        }
        tx.exec(
            "DELETE FROM message_reactions WHERE workspace_id = ?1 AND message_seq = ?2",
            vec![workspace_id.as_str().into(), seq.into()],
        )
        .await?;
        unmention(&tx, &workspace_id, seq).await?;
        record(&tx, Kind::MessageDeleted, &workspace_id, &channel_id, seq, &actor_id).await?;
        Ok(tx.commit().await?)
    }

    async fn mentioned_in(workspace_id: String, channel_id: String, message_id: String) -> Result<Vec<String>, Error> {
        schema::MIGRATOR.ensure().await?;
        let seq = cursor::message_seq(&message_id).ok_or(Error::NotFound)?;
        find(&Autocommit, &workspace_id, &channel_id, seq).await?;
        let rows = Autocommit
            .fetch(
                "SELECT user_id FROM message_mentions WHERE workspace_id = ?1 AND message_seq = ?2 ORDER BY user_id",
                vec![workspace_id.into(), seq.into()],
            )
            .await?;
        Ok(rows.decode(|row| row.text("user_id"))?)
    }

    async fn mentioning(
        workspace_id: String,
        user_id: String,
        limit: u32,
        before: Option<String>,
    ) -> Result<MessagePage, Error> {
        let before_seq = before_seq(before.as_deref())?;
        schema::MIGRATOR.ensure().await?;
        let columns = COLUMNS.split(", ").map(|column| format!("m.{column}")).collect::<Vec<_>>().join(", ");
        let rows = Autocommit
            .fetch(
                &format!(
                    "SELECT {columns} FROM message_mentions n JOIN messages m ON m.seq = n.message_seq \
                     WHERE n.workspace_id = ?1 AND n.user_id = ?2 AND n.message_seq < ?3 AND m.workspace_id = ?1 \
                     ORDER BY n.message_seq DESC LIMIT ?4"
                ),
                vec![workspace_id.as_str().into(), user_id.into(), before_seq.into(), i64::from(limit + 1).into()],
            )
            .await?;
        page(&workspace_id, rows.decode(decode)?, limit).await
    }

    async fn add_reaction(
        workspace_id: String,
        channel_id: String,
        message_id: String,
        user_id: String,
        emoji: String,
    ) -> Result<Message, Error> {
        let (tx, seq, message) = begin_reaction(&workspace_id, &channel_id, &message_id).await?;
        if reacted(&message, &emoji, &user_id) {
            tx.rollback().await?;
            return Ok(message);
        }
        let mine = message.reactions.iter().filter(|reaction| reaction.user_ids.contains(&user_id)).count();
        if mine >= MAX_REACTIONS_PER_USER {
            tx.rollback().await?;
            return Err(Error::Conflict(format!(
                "one person may leave at most {MAX_REACTIONS_PER_USER} different reactions on a message"
            )));
        }
        // Another request adding the same reaction at once makes this one
        // change nothing (rather than fail on the unique key, which would
        // abort a PostgreSQL transaction).
        let (insert, conflict) = sql::insert_unless_present();
        let insert = format!(
            "{insert} message_reactions (workspace_id, message_seq, emoji, user_id, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5){conflict}"
        );
        let params =
            vec![workspace_id.as_str().into(), seq.into(), emoji.into(), user_id.as_str().into(), clock::now_ms().into()];
        if tx.exec(&insert, params).await?.rows_affected > 0 {
            // A deletion committed meanwhile leaves nothing to count.
            let counted = tx
                .exec(
                    "UPDATE messages SET reaction_count = reaction_count + 1 \
                     WHERE workspace_id = ?1 AND channel_id = ?2 AND seq = ?3 AND deleted_at IS NULL",
                    vec![workspace_id.as_str().into(), channel_id.as_str().into(), seq.into()],
                )
                .await?;
            if counted.rows_affected == 0 {
                tx.rollback().await?;
                return Err(Error::NotFound);
            }
            record(&tx, Kind::ReactionAdded, &workspace_id, &channel_id, seq, &user_id).await?;
        }
        let message = find(&tx, &workspace_id, &channel_id, seq).await?;
        tx.commit().await?;
        Ok(message)
    }

    async fn remove_reaction(
        workspace_id: String,
        channel_id: String,
        message_id: String,
        user_id: String,
        emoji: String,
    ) -> Result<Message, Error> {
        let (tx, seq, message) = begin_reaction(&workspace_id, &channel_id, &message_id).await?;
        if !reacted(&message, &emoji, &user_id) {
            tx.rollback().await?;
            return Ok(message);
        }
        let removed = tx
            .exec(
                "DELETE FROM message_reactions WHERE workspace_id = ?1 AND message_seq = ?2 AND emoji = ?3 AND user_id = ?4",
                vec![workspace_id.as_str().into(), seq.into(), emoji.into(), user_id.as_str().into()],
            )
            .await?;
        if removed.rows_affected > 0 {
            tx.exec(
                "UPDATE messages SET reaction_count = reaction_count - 1 \
                 WHERE workspace_id = ?1 AND channel_id = ?2 AND seq = ?3",
                vec![workspace_id.as_str().into(), channel_id.as_str().into(), seq.into()],
            )
            .await?;
            record(&tx, Kind::ReactionRemoved, &workspace_id, &channel_id, seq, &user_id).await?;
        }
        let message = find(&tx, &workspace_id, &channel_id, seq).await?;
        tx.commit().await?;
        Ok(message)
    }
}

/// Begin changing the reactions of a live message: the transaction, the
/// message's `seq` and the message as it is; `not-found` (and nothing
/// begun) when it is not in the channel or was deleted.
async fn begin_reaction(
    workspace_id: &str,
    channel_id: &str,
    message_id: &str,
) -> Result<(outbox::EventTransaction, i64, Message), Error> {
    schema::MIGRATOR.ensure().await?;
    let seq = cursor::message_seq(message_id).ok_or(Error::NotFound)?;
    let tx = outbox::begin().await?;
    match live(&tx, workspace_id, channel_id, seq).await {
        Ok(message) => Ok((tx, seq, message)),
        Err(err) => {
            tx.rollback().await?;
            Err(err)
        }
    }
}

/// Record, in `tx`, that `actor_id` did `kind` to message `seq`.
async fn record(
    tx: &outbox::EventTransaction,
    kind: Kind,
    workspace_id: &str,
    channel_id: &str,
    seq: i64,
    actor_id: &str,
) -> Result<(), Error> {
    let subject_id = cursor::message_id(seq);
    let event = NewEvent { workspace_id, channel_id: Some(channel_id), kind, subject_id: &subject_id, actor_id };
    Ok(tx.record(event).await?)
}

/// The `seq` a page starts below: the cursor's, or the top.
fn before_seq(before: Option<&str>) -> Result<i64, Error> {
    match before {
        Some(raw) => cursor::decode(raw).ok_or_else(|| Error::InvalidInput("malformed cursor".into())),
        None => Ok(i64::MAX),
    }
}

/// A page of at most `limit` of `found` (read with one more than `limit`,
/// which tells whether there is a next page), with their reactions.
async fn page(workspace_id: &str, mut found: Vec<Stored>, limit: u32) -> Result<MessagePage, Error> {
    let next_cursor = if found.len() > limit as usize {
        found.truncate(limit as usize);
        found.last().map(|last| cursor::encode(last.seq))
    } else {
        None
    };
    let messages = with_reactions(&Autocommit, workspace_id, found).await?;
    Ok(MessagePage { messages, next_cursor })
}

/// List message `seq` in the mentions of each of `users`.
async fn mention(tx: &sql::Transaction, workspace_id: &str, seq: i64, users: &[String]) -> Result<(), Error> {
    for user_id in users {
        tx.exec(
            "INSERT INTO message_mentions (workspace_id, user_id, message_seq) VALUES (?1, ?2, ?3)",
            vec![workspace_id.into(), user_id.as_str().into(), seq.into()],
        )
        .await?;
    }
    Ok(())
}

/// Take message `seq` out of everyone's mentions.
async fn unmention(tx: &sql::Transaction, workspace_id: &str, seq: i64) -> Result<(), Error> {
    tx.exec(
        "DELETE FROM message_mentions WHERE workspace_id = ?1 AND message_seq = ?2",
        vec![workspace_id.into(), seq.into()],
    )
    .await?;
    Ok(())
}

/// What a new message row holds.
struct NewRow<'a> {
    workspace_id: &'a str,
    channel_id: &'a str,
    author_id: &'a str,
    text: &'a str,
    attachments: &'a [Attachment],
}

/// Insert a message (`thread` 0 for a channel message); its `seq`.
async fn insert(executor: &impl Executor, row: &NewRow<'_>, thread: i64, now: i64) -> Result<i64, Error> {
    const INSERT: &str = "INSERT INTO messages \
                          (workspace_id, channel_id, author_id, text, created_at, updated_at, created_by, thread_seq, \
                          attachments) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?3, ?6, ?7)";
    let attachments = if row.attachments.is_empty() { Value::Null } else { encode_attachments(row.attachments).into() };
    let params: Vec<Value> = vec![
        row.workspace_id.into(),
        row.channel_id.into(),
        row.author_id.into(),
        row.text.into(),
        now.into(),
        thread.into(),
        attachments,
    ];
    match sql::dialect() {
        // PostgreSQL reports no last-insert id; it returns the new key.
        Dialect::Postgres => {
            let rows = executor.fetch(&format!("{INSERT} RETURNING seq"), params).await?;
            rows.first().map(|row| row.integer("seq")).transpose()?
        }
        _ => executor.exec(INSERT, params).await?.last_insert_id,
    }
    .ok_or_else(|| Error::Internal("the database reported no id for the new message".into()))
}

fn new_message(seq: i64, row: &NewRow<'_>, thread: i64, now: i64) -> Message {
    Message {
        id: cursor::message_id(seq),
        workspace_id: row.workspace_id.to_owned(),
        channel_id: row.channel_id.to_owned(),
        author_id: row.author_id.to_owned(),
        text: row.text.to_owned(),
        created_at: now,
        parent_id: (thread != 0).then(|| cursor::message_id(thread)),
        reply_count: 0,
        edited_at: None,
        deleted_at: None,
        reactions: Vec::new(),
        attachments: row.attachments.to_vec(),
    }
}

/// Attachments as stored: a JSON array of objects.
fn encode_attachments(attachments: &[Attachment]) -> String {
    let list: Vec<serde_json::Value> = attachments
        .iter()
        .map(|attachment| {
            serde_json::json!({
                "document_id": attachment.document_id,
                "name": attachment.name,
                "content_type": attachment.content_type,
                "size": attachment.size,
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

fn decode_attachments(stored: &str) -> Result<Vec<Attachment>, sql::Error> {
    let malformed = || sql::Error::Internal("stored attachments are not readable".into());
    let list: Vec<serde_json::Value> = serde_json::from_str(stored).map_err(|_| malformed())?;
    list.iter()
        .map(|item| {
            let text = |field: &str| item[field].as_str().map(str::to_owned).ok_or_else(malformed);
            Ok(Attachment {
                document_id: text("document_id")?,
                name: text("name")?,
                content_type: text("content_type")?,
                size: item["size"].as_u64().ok_or_else(malformed)?,
            })
        })
        .collect()
}

/// Message `seq` of the channel, with its reactions; `not-found` if it is
/// not there (a deleted message is found, with `deleted-at` set).
async fn find(executor: &impl Executor, workspace_id: &str, channel_id: &str, seq: i64) -> Result<Message, Error> {
    let rows = executor
        .fetch(
            &format!("SELECT {COLUMNS} FROM messages WHERE workspace_id = ?1 AND channel_id = ?2 AND seq = ?3"),
            vec![workspace_id.into(), channel_id.into(), seq.into()],
        )
        .await?;
    let found = rows.decode(decode)?;
    with_reactions(executor, workspace_id, found).await?.pop().ok_or(Error::NotFound)
}

/// [`find`], but `not-found` for a deleted message too.
async fn live(executor: &impl Executor, workspace_id: &str, channel_id: &str, seq: i64) -> Result<Message, Error> {
    let message = find(executor, workspace_id, channel_id, seq).await?;
    if message.deleted_at.is_some() { Err(Error::NotFound) } else { Ok(message) }
}

/// A message as stored, before its reactions are read.
struct Stored {
    seq: i64,
    reaction_count: i64,
    message: Message,
}

fn decode(row: RowRef<'_>) -> Result<Stored, sql::Error> {
    let seq = row.integer("seq")?;
    let thread = row.integer("thread_seq")?;
    let optional = |column: &str| -> Result<Option<i64>, sql::Error> {
        if row.is_null(column)? { Ok(None) } else { row.integer(column).map(Some) }
    };
    Ok(Stored {
        seq,
        reaction_count: row.integer("reaction_count")?,
        message: Message {
            id: cursor::message_id(seq),
            workspace_id: row.text("workspace_id")?,
            channel_id: row.text("channel_id")?,
            author_id: row.text("author_id")?,
            text: row.text("text")?,
            created_at: row.integer("created_at")?,
            parent_id: (thread != 0).then(|| cursor::message_id(thread)),
            reply_count: u32::try_from(row.integer("reply_count")?).unwrap_or(u32::MAX),
            edited_at: optional("edited_at")?,
            deleted_at: optional("deleted_at")?,
            reactions: Vec::new(),
            attachments: if row.is_null("attachments")? { Vec::new() } else { decode_attachments(&row.text("attachments")?)? },
        },
    })
}

/// The messages with their reactions, in one query for those that have any.
async fn with_reactions(
    executor: &impl Executor,
    workspace_id: &str,
    stored: Vec<Stored>,
) -> Result<Vec<Message>, Error> {
    let reacted: Vec<i64> = stored.iter().filter(|found| found.reaction_count > 0).map(|found| found.seq).collect();
    let mut messages: Vec<(i64, Message)> = stored.into_iter().map(|found| (found.seq, found.message)).collect();
    if reacted.is_empty() {
        return Ok(messages.into_iter().map(|(_, message)| message).collect());
    }
    let placeholders: Vec<String> = (0..reacted.len()).map(|i| format!("?{}", i + 2)).collect();
    let mut params: Vec<Value> = vec![workspace_id.into()];
    params.extend(reacted.iter().map(|seq| Value::from(*seq)));
    let rows = executor
        .fetch(
            &format!(
                "SELECT message_seq, emoji, user_id FROM message_reactions \
                 WHERE workspace_id = ?1 AND message_seq IN ({}) ORDER BY seq",
                placeholders.join(", ")
            ),
            params,
        )
        .await?;
    for row in rows.iter() {
        let seq = row.integer("message_seq")?;
        let (emoji, user_id) = (row.text("emoji")?, row.text("user_id")?);
        let Some((_, message)) = messages.iter_mut().find(|(found, _)| *found == seq) else { continue };
        match message.reactions.iter_mut().find(|reaction| reaction.emoji == emoji) {
            Some(reaction) => reaction.user_ids.push(user_id),
            None => message.reactions.push(Reaction { emoji, user_ids: vec![user_id] }),
        }
    }
    Ok(messages.into_iter().map(|(_, message)| message).collect())
}

/// Whether `user_id` has reacted to `message` with `emoji`.
fn reacted(message: &Message, emoji: &str, user_id: &str) -> bool {
    message.reactions.iter().any(|reaction| reaction.emoji == emoji && reaction.user_ids.iter().any(|id| id == user_id))
}

keel_guest::impl_from_sql_error!(Error);

export!(MessageRepository);
