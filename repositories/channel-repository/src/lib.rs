//! `keel:repositories/channels`: channels inside a workspace over
//! `keel:infrastructure/sql`. Every query is scoped by `workspace_id`;
//! channel names are unique per workspace.

mod schema;

use exports::keel::repositories::channels::{Channel, Error, Guest};
use keel_guest::sql::{self, Autocommit, Executor, RowRef};
use keel_guest::{clock, ids};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/channel-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql },
});

const COLUMNS: &str = "id, workspace_id, name, created_at, created_by";

struct ChannelRepository;

impl Guest for ChannelRepository {
    async fn create(workspace_id: String, name: String, created_by: String) -> Result<Channel, Error> {
        schema::MIGRATOR.ensure().await?;
        if workspace_id.is_empty() || name.is_empty() || created_by.is_empty() {
            return Err(Error::InvalidInput("workspace, channel name and creator are required".into()));
        }
        let id = ids::new_id(ids::CHANNEL).map_err(|err| Error::Unavailable(err.to_string()))?;
        let now = clock::now_ms();
        Autocommit
            .exec(
                "INSERT INTO channels (id, workspace_id, name, created_at, updated_at, created_by) \
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                vec![
                    id.as_str().into(),
                    workspace_id.as_str().into(),
                    name.as_str().into(),
                    now.into(),
                    created_by.as_str().into(),
                ],
            )
            .await
            .map_err(|err| match err {
                sql::Error::Conflict(_) => Error::Conflict(format!("a channel named {name} already exists")),
                other => other.into(),
            })?;
        Ok(Channel { id, workspace_id, name, created_at: now, created_by })
    }

    async fn get(workspace_id: String, channel_id: String) -> Result<Channel, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(&format!("SELECT {COLUMNS} FROM channels WHERE workspace_id = ?1 AND id = ?2"), vec![
                workspace_id.into(),
                channel_id.into(),
            ])
            .await?;
        rows.first().map(decode).transpose()?.ok_or(Error::NotFound)
    }

    async fn list(workspace_id: String) -> Result<Vec<Channel>, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(&format!("SELECT {COLUMNS} FROM channels WHERE workspace_id = ?1 ORDER BY name"), vec![
                workspace_id.into(),
            ])
            .await?;
        Ok(rows.decode(decode)?)
    }
}

fn decode(row: RowRef<'_>) -> Result<Channel, sql::Error> {
    Ok(Channel {
        id: row.text("id")?,
        workspace_id: row.text("workspace_id")?,
        name: row.text("name")?,
        created_at: row.integer("created_at")?,
        created_by: row.text("created_by")?,
    })
}

keel_guest::impl_from_sql_error!(Error);

export!(ChannelRepository);
