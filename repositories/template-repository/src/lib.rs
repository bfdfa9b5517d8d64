//! `keel:repositories/templates`: texts a workspace chose for what the app
//! writes in its name, over `keel:infrastructure/sql`.
//!
//! Every read and change is scoped by `workspace_id`; a template is one row
//! per workspace and name, replaced whole. What the names mean and what a
//! template may say is the caller's rule.

mod schema;

use exports::keel::repositories::templates::{Error, Guest, NewTemplate, Template};
use keel_guest::clock;
use keel_guest::sql::{self, Autocommit, Executor, RowRef};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/template-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql },
});

const COLUMNS: &str = "workspace_id, name, subject, text_body, html_body, updated_by, updated_at";
/// The longest template name.
const MAX_NAME_BYTES: usize = 64;
/// The most one template's texts may hold together.
const MAX_TEXT_BYTES: usize = 64 * 1024;

struct TemplateRepository;

impl Guest for TemplateRepository {
    async fn get(workspace_id: String, name: String) -> Result<Option<Template>, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                &format!("SELECT {COLUMNS} FROM templates WHERE workspace_id = ?1 AND name = ?2"),
                vec![workspace_id.into(), name.into()],
            )
            .await?;
        Ok(rows.first().map(decode).transpose()?)
    }

    async fn list(workspace_id: String) -> Result<Vec<Template>, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                &format!("SELECT {COLUMNS} FROM templates WHERE workspace_id = ?1 ORDER BY name"),
                vec![workspace_id.into()],
            )
            .await?;
        Ok(rows.decode(decode)?)
    }

    async fn put(template: NewTemplate) -> Result<Template, Error> {
        schema::MIGRATOR.ensure().await?;
        if template.workspace_id.is_empty() || template.updated_by.is_empty() {
            return Err(Error::InvalidInput("a workspace and an author are required".into()));
        }
        if template.name.is_empty() || template.name.len() > MAX_NAME_BYTES {
            return Err(Error::InvalidInput(format!("a template name is 1 to {MAX_NAME_BYTES} bytes")));
        }
        if template.subject.len() + template.text.len() + template.html.len() > MAX_TEXT_BYTES {
            return Err(Error::InvalidInput(format!("a template holds at most {MAX_TEXT_BYTES} bytes")));
        }
        let stored = Template {
            workspace_id: template.workspace_id,
            name: template.name,
            subject: template.subject,
            text: template.text,
            html: template.html,
            updated_by: template.updated_by,
            updated_at: clock::now_ms(),
        };
        // Replace in one transaction: a reader sees the old text or the new one.
        let transaction = sql::begin().await?;
        transaction
            .exec(
                "DELETE FROM templates WHERE workspace_id = ?1 AND name = ?2",
                vec![stored.workspace_id.as_str().into(), stored.name.as_str().into()],
            )
            .await?;
        transaction
            .exec(
                &format!("INSERT INTO templates ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                vec![
                    stored.workspace_id.as_str().into(),
                    stored.name.as_str().into(),
                    stored.subject.as_str().into(),
                    stored.text.as_str().into(),
                    stored.html.as_str().into(),
                    stored.updated_by.as_str().into(),
                    stored.updated_at.into(),
                ],
            )
            .await?;
        transaction.commit().await?;
        Ok(stored)
    }

    async fn delete(workspace_id: String, name: String) -> Result<(), Error> {
        schema::MIGRATOR.ensure().await?;
        let deleted = Autocommit
            .exec("DELETE FROM templates WHERE workspace_id = ?1 AND name = ?2", vec![workspace_id.into(), name.into()])
            .await?;
        if deleted.rows_affected == 0 { Err(Error::NotFound) } else { Ok(()) }
    }
}

fn decode(row: RowRef<'_>) -> Result<Template, sql::Error> {
    Ok(Template {
        workspace_id: row.text("workspace_id")?,
        name: row.text("name")?,
        subject: row.text("subject")?,
        text: row.text("text_body")?,
        html: row.text("html_body")?,
        updated_by: row.text("updated_by")?,
        updated_at: row.integer("updated_at")?,
    })
}

keel_guest::impl_from_sql_error!(Error);

export!(TemplateRepository);
