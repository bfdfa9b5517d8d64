//! `keel:infrastructure/email` for local development: nothing leaves the
//! machine. `send` validates the message like every provider adapter, then
//! stores it through `keel:infrastructure/sql` in `email_outbox` (its own
//! versioned migration) under a fresh id `eml_<32 hex>`, which it returns.
//! `keel:infrastructure/email-outbox` reads the stored mail back: the
//! newest first (`list-messages`), or one by id (`get-message`).

mod schema;

use keel_guest::email::{self, Address, Error, Guest, Message};
use keel_guest::sql::{self, Executor, RowRef};
use outbox::exports::keel::infrastructure::email_outbox::{self, Mailbox, StoredMessage};

mod outbox {
    ::spin_sdk::wit_bindgen::generate!({
        inline: "package keel:email-outbox-bindings; world outbox { export keel:infrastructure/email-outbox@0.1.0; }",
        path: "../../wit/infrastructure",
        runtime_path: "::spin_sdk::wit_bindgen::rt",
        default_bindings_module: "crate::outbox",
    });
}

/// Prefix of the ids the outbox hands out.
const ID_PREFIX: &str = "eml";
/// Most messages one `list` call returns.
const MAX_LIST: u32 = 500;

struct Outbox;

impl Guest for Outbox {
    async fn send(message: Message) -> Result<String, Error> {
        email::validate(&message)?;
        schema::MIGRATOR.ensure().await.map_err(unavailable)?;
        let id = keel_guest::ids::new_id(ID_PREFIX).map_err(|err| Error::Unavailable(err.to_string()))?;
        let stored = serde_json::to_string(&message).map_err(|err| Error::Unavailable(format!("cannot encode the message: {err}")))?;
        sql::Autocommit
            .exec(
                "INSERT INTO email_outbox (id, stored_at, message) VALUES (?1, ?2, ?3)",
                vec![id.as_str().into(), keel_guest::clock::now_ms().into(), stored.into()],
            )
            .await
            .map_err(unavailable)?;
        Ok(id)
    }
}

impl email_outbox::Guest for Outbox {
    async fn list_messages(limit: u32) -> Result<Vec<StoredMessage>, email_outbox::Error> {
        schema::MIGRATOR.ensure().await.map_err(outbox_error)?;
        let rows = sql::Autocommit
            .fetch(
                "SELECT id, stored_at, message FROM email_outbox ORDER BY seq DESC LIMIT ?1",
                vec![i64::from(limit.min(MAX_LIST)).into()],
            )
            .await
            .map_err(outbox_error)?;
        rows.decode(decode).map_err(outbox_error)
    }

    async fn get_message(id: String) -> Result<Option<StoredMessage>, email_outbox::Error> {
        schema::MIGRATOR.ensure().await.map_err(outbox_error)?;
        let rows = sql::Autocommit
            .fetch("SELECT id, stored_at, message FROM email_outbox WHERE id = ?1", vec![id.into()])
            .await
            .map_err(outbox_error)?;
        Ok(rows.decode(decode).map_err(outbox_error)?.pop())
    }
}

fn decode(row: RowRef<'_>) -> Result<StoredMessage, sql::Error> {
    let id = row.text("id")?;
    let message: Message = serde_json::from_str(&row.text("message")?)
        .map_err(|err| sql::Error::Internal(format!("stored message `{id}` is not readable: {err}")))?;
    let mailboxes = |list: Vec<Address>| list.into_iter().map(to_mailbox).collect();
    Ok(StoredMessage {
        id,
        stored_at: row.integer("stored_at")?,
        from: to_mailbox(message.from),
        to: mailboxes(message.to),
        cc: mailboxes(message.cc),
        bcc: mailboxes(message.bcc),
        reply_to: message.reply_to.map(to_mailbox),
        subject: message.subject,
        text_body: message.text_body,
        html_body: message.html_body,
        tags: message.tags,
    })
}

fn to_mailbox(address: Address) -> Mailbox {
    Mailbox { email: address.email, name: address.name }
}

fn outbox_error(err: sql::Error) -> email_outbox::Error {
    email_outbox::Error::Unavailable(sql::describe(&err))
}

fn unavailable(err: sql::Error) -> Error {
    Error::Unavailable(format!("the outbox cannot store mail: {}", sql::describe(&err)))
}

keel_guest::email::export_email!(Outbox);
outbox::export!(Outbox);
