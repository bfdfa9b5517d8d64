//! `keel:repositories/messages`: messages posted to channels over
//! `keel:infrastructure/sql`. Every query is scoped by `workspace_id`.
//!
//! Messages are ordered by an auto-incremented `seq` (read back through the
//! adapter's last-insert-id); pages are newest first and continue with an
//! opaque [`cursor`].

mod cursor;
mod schema;

use exports::keel::repositories::messages::{Error, Guest, Message, MessagePage};
use keel_guest::clock;
use keel_guest::sql::{self, Autocommit, Dialect, Executor, RowRef};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/message-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql },
});

struct MessageRepository;

impl Guest for MessageRepository {
    async fn post(workspace_id: String, channel_id: String, author_id: String, text: String) -> Result<Message, Error> {
        schema::MIGRATOR.ensure().await?;
        if workspace_id.is_empty() || channel_id.is_empty() || author_id.is_empty() || text.is_empty() {
            return Err(Error::InvalidInput("workspace, channel, author and text are required".into()));
        }
        let now = clock::now_ms();
        const INSERT: &str = "INSERT INTO messages (workspace_id, channel_id, author_id, text, created_at, updated_at, created_by) \
                              VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?3)";
        let params = vec![
            workspace_id.as_str().into(),
            channel_id.as_str().into(),
            author_id.as_str().into(),
            text.as_str().into(),
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
        .ok_or_else(|| Error::Internal("the database reported no id for the new message".into()))?;
        Ok(Message { id: cursor::message_id(seq), workspace_id, channel_id, author_id, text, created_at: now })
    }

    async fn list(
        workspace_id: String,
        channel_id: String,
        limit: u32,
        before: Option<String>,
    ) -> Result<MessagePage, Error> {
        let before_seq = match before.as_deref() {
            Some(raw) => cursor::decode(raw).ok_or_else(|| Error::InvalidInput("malformed cursor".into()))?,
            None => i64::MAX,
        };
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                "SELECT seq, workspace_id, channel_id, author_id, text, created_at FROM messages \
                 WHERE workspace_id = ?1 AND channel_id = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4",
                vec![workspace_id.into(), channel_id.into(), before_seq.into(), i64::from(limit + 1).into()],
            )
            .await?;
        let mut page = rows.decode(decode)?;
        let next_cursor = if page.len() > limit as usize {
            page.truncate(limit as usize);
            page.last().map(|(seq, _)| cursor::encode(*seq))
        } else {
            None
        };
        Ok(MessagePage { messages: page.into_iter().map(|(_, message)| message).collect(), next_cursor })
    }
}

fn decode(row: RowRef<'_>) -> Result<(i64, Message), sql::Error> {
    let seq = row.integer("seq")?;
    Ok((seq, Message {
        id: cursor::message_id(seq),
        workspace_id: row.text("workspace_id")?,
        channel_id: row.text("channel_id")?,
        author_id: row.text("author_id")?,
        text: row.text("text")?,
        created_at: row.integer("created_at")?,
    }))
}

keel_guest::impl_from_sql_error!(Error);

export!(MessageRepository);
