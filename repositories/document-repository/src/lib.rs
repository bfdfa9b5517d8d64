//! `keel:repositories/documents`: documents and their versions over
//! `keel:infrastructure/sql`, their bytes in `keel:infrastructure/blob-store`.
//!
//! Bytes are stored under `documents/<workspace id>/<random>`: a version
//! can only name a blob of its own workspace, and reads check the prefix,
//! so no id from another tenant reaches another tenant's bytes.
//!
//! `documents` holds one row per document with the number of its latest
//! version; `document_versions` one row per version. Adding a version is a
//! compare-and-set on that number, so two uploads racing on one document
//! cannot both become version `n + 1`. Pages run on the database's `seq`
//! (newest first) behind an opaque cursor.

mod schema;

use exports::keel::repositories::documents::{
    ContentWriter, Document, DocumentPage, Error, Guest, GuestContentWriter, NewVersion, Version,
};
use keel::infrastructure::blob_store;
use keel_guest::clock;
use keel_guest::outbox::{self, Kind, NewEvent};
use keel_guest::sql::{self, Autocommit, Executor, RowRef};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/document-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: {
        "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql,
        "keel:infrastructure/blob-store@0.1.0": generate,
    },
});

keel_guest::impl_from_sql_error!(Error);

/// Prefix of document ids.
const ID_PREFIX: &str = "doc";
/// Most documents one page holds.
const MAX_PAGE: u32 = 200;

const SELECT_DOCUMENT: &str = "SELECT d.seq, d.id, d.workspace_id, d.channel_id, d.name, d.version, d.created_by, \
     d.created_at, d.updated_by, d.updated_at, v.content_type, v.size, v.sha256, v.blob_key \
     FROM documents d JOIN document_versions v ON v.document_id = d.id AND v.number = d.version";
const VERSION_COLUMNS: &str = "number, content_type, size, sha256, blob_key, uploaded_by, created_at";

struct DocumentRepository;

/// Bytes on their way to the blob store.
pub struct Writer {
    upload: blob_store::Upload,
    key: String,
}

impl GuestContentWriter for Writer {
    async fn write(&self, chunk: Vec<u8>) -> Result<(), Error> {
        self.upload.write(chunk).await.map_err(blob_error)
    }

    async fn finish(&self) -> Result<String, Error> {
        self.upload.finish().await.map_err(blob_error)?;
        Ok(self.key.clone())
    }
}

impl Guest for DocumentRepository {
    type ContentWriter = Writer;

    async fn start_content(workspace_id: String) -> Result<ContentWriter, Error> {
        let random = keel_guest::ids::new_id("v").map_err(|err| Error::Unavailable(err.to_string()))?;
        let key = format!("{}{random}", key_prefix(&workspace_id)?);
        let upload = blob_store::start_upload(key.clone()).await.map_err(blob_error)?;
        Ok(ContentWriter::new(Writer { upload, key }))
    }

    async fn read_content(workspace_id: String, blob_key: String, offset: u64, length: u32) -> Result<Vec<u8>, Error> {
        check_owned(&workspace_id, &blob_key)?;
        blob_store::read(blob_key, offset, length).await.map_err(blob_error)
    }

    async fn discard_content(workspace_id: String, blob_key: String) -> Result<(), Error> {
        check_owned(&workspace_id, &blob_key)?;
        blob_store::delete(blob_key).await.map_err(blob_error)
    }

    async fn create(
        workspace_id: String,
        channel_id: String,
        name: String,
        first: NewVersion,
    ) -> Result<Document, Error> {
        schema::MIGRATOR.ensure().await?;
        if workspace_id.is_empty() || channel_id.is_empty() || name.is_empty() {
            return Err(Error::InvalidInput("workspace, channel and name are required".into()));
        }
        check_version(&workspace_id, &first)?;
        let id = keel_guest::ids::new_id(ID_PREFIX).map_err(|err| Error::Unavailable(err.to_string()))?;
        let now = clock::now_ms();
        let tx = outbox::begin().await?;
        tx.exec(
            "INSERT INTO documents (id, workspace_id, channel_id, name, version, created_by, created_at, updated_by, \
             updated_at) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?5, ?6)",
            vec![
                id.as_str().into(),
                workspace_id.as_str().into(),
                channel_id.as_str().into(),
                name.as_str().into(),
                first.uploaded_by.as_str().into(),
                now.into(),
            ],
        )
        .await?;
        insert_version(&tx, &id, 1, &first, now).await?;
        let event = NewEvent {
            workspace_id: &workspace_id,
            channel_id: Some(&channel_id),
            kind: Kind::FileShared,
            subject_id: &id,
            actor_id: &first.uploaded_by,
        };
        tx.record(event).await?;
        tx.commit().await?;
        read(&workspace_id, &id).await
    }

    async fn add_version(
        workspace_id: String,
        document_id: String,
        after: u32,
        next: NewVersion,
    ) -> Result<Document, Error> {
        schema::MIGRATOR.ensure().await?;
        check_version(&workspace_id, &next)?;
        let number = after.checked_add(1).ok_or_else(|| Error::InvalidInput("too many versions".into()))?;
        let now = clock::now_ms();
        let tx = outbox::begin().await?;
        let moved = tx
            .exec(
                "UPDATE documents SET version = ?1, updated_by = ?2, updated_at = ?3 \
                 WHERE workspace_id = ?4 AND id = ?5 AND version = ?6",
                vec![
                    i64::from(number).into(),
                    next.uploaded_by.as_str().into(),
                    now.into(),
                    workspace_id.as_str().into(),
                    document_id.as_str().into(),
                    i64::from(after).into(),
                ],
            )
            .await?;
        if moved.rows_affected == 0 {
            drop(tx);
            // Absent, or moved on: tell which.
            read(&workspace_id, &document_id).await?;
            return Err(Error::Conflict(format!("the document is no longer at version {after}")));
        }
        insert_version(&tx, &document_id, number, &next, now).await?;
        let channel_id = channel_of(&tx, &workspace_id, &document_id).await?;
        let event = NewEvent {
            workspace_id: &workspace_id,
            channel_id: Some(&channel_id),
            kind: Kind::FileUpdated,
            subject_id: &document_id,
            actor_id: &next.uploaded_by,
        };
        tx.record(event).await?;
        tx.commit().await?;
        read(&workspace_id, &document_id).await
    }

    async fn get(workspace_id: String, document_id: String) -> Result<Document, Error> {
        schema::MIGRATOR.ensure().await?;
        read(&workspace_id, &document_id).await
    }

    async fn list_versions(workspace_id: String, document_id: String) -> Result<Vec<Version>, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM document_versions WHERE document_id = ?1 \
                     AND EXISTS (SELECT 1 FROM documents WHERE id = ?1 AND workspace_id = ?2) ORDER BY number DESC"
                ),
                vec![document_id.into(), workspace_id.into()],
            )
            .await?;
        let versions = rows.decode(decode_version)?;
        if versions.is_empty() { Err(Error::NotFound) } else { Ok(versions) }
    }

    async fn get_version(workspace_id: String, document_id: String, number: u32) -> Result<Version, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM document_versions WHERE document_id = ?1 AND number = ?3 \
                     AND EXISTS (SELECT 1 FROM documents WHERE id = ?1 AND workspace_id = ?2)"
                ),
                vec![document_id.into(), workspace_id.into(), i64::from(number).into()],
            )
            .await?;
        rows.decode(decode_version)?.pop().ok_or(Error::NotFound)
    }

    async fn list_in_channel(
        workspace_id: String,
        channel_id: String,
        limit: u32,
        before: Option<String>,
    ) -> Result<DocumentPage, Error> {
        schema::MIGRATOR.ensure().await?;
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(Error::InvalidInput(format!("limit must be between 1 and {MAX_PAGE}")));
        }
        let before = match before {
            None => i64::MAX,
            Some(cursor) => {
                keel_guest::cursor::decode('d', &cursor).ok_or_else(|| Error::InvalidInput("malformed cursor".into()))?
            }
        };
        let rows = Autocommit
            .fetch(
                &format!(
                    "{SELECT_DOCUMENT} WHERE d.workspace_id = ?1 AND d.channel_id = ?2 AND d.seq < ?3 \
                     ORDER BY d.seq DESC LIMIT ?4"
                ),
                vec![workspace_id.into(), channel_id.into(), before.into(), i64::from(limit + 1).into()],
            )
            .await?;
        let mut found = rows.decode(|row| Ok((row.integer("seq")?, decode_document(row)?)))?;
        let next_cursor = if found.len() > limit as usize {
            found.truncate(limit as usize);
            found.last().map(|(seq, _)| keel_guest::cursor::encode('d', *seq))
        } else {
            None
        };
        Ok(DocumentPage { documents: found.into_iter().map(|(_, document)| document).collect(), next_cursor })
    }

    async fn delete(workspace_id: String, document_id: String, actor_id: String) -> Result<(), Error> {
        schema::MIGRATOR.ensure().await?;
        let tx = outbox::begin().await?;
        let channel_id = channel_of(&tx, &workspace_id, &document_id).await?;
        let removed = tx
            .exec(
                "DELETE FROM documents WHERE workspace_id = ?1 AND id = ?2",
                vec![workspace_id.as_str().into(), document_id.as_str().into()],
            )
            .await?;
        if removed.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        let rows = tx
            .fetch("SELECT blob_key FROM document_versions WHERE document_id = ?1", vec![document_id.as_str().into()])
            .await?;
        let keys = rows.decode(|row| row.text("blob_key"))?;
        tx.exec("DELETE FROM document_versions WHERE document_id = ?1", vec![document_id.as_str().into()]).await?;
        let event = NewEvent {
            workspace_id: &workspace_id,
            channel_id: Some(&channel_id),
            kind: Kind::FileDeleted,
            subject_id: &document_id,
            actor_id: &actor_id,
        };
        tx.record(event).await?;
        tx.commit().await?;
        // The rows are gone; bytes that fail to go now are unreachable,
        // and only cost space.
        for key in keys {
            if let Err(err) = blob_store::delete(key.clone()).await {
                eprintln!("document-repository: cannot delete blob {key}: {err:?}");
            }
        }
        Ok(())
    }
}

/// Where the workspace's bytes are kept.
fn key_prefix(workspace_id: &str) -> Result<String, Error> {
    if workspace_id.is_empty() || !workspace_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(Error::InvalidInput("malformed workspace id".into()));
    }
    Ok(format!("documents/{workspace_id}/"))
}

/// `Ok` if `blob_key` was handed out for `workspace_id`.
fn check_owned(workspace_id: &str, blob_key: &str) -> Result<(), Error> {
    let rest = blob_key.strip_prefix(&key_prefix(workspace_id)?).unwrap_or_default();
    if rest.is_empty() || rest.contains('/') {
        return Err(Error::InvalidInput("the blob key does not belong to this workspace".into()));
    }
    Ok(())
}

fn check_version(workspace_id: &str, version: &NewVersion) -> Result<(), Error> {
    if version.content_type.is_empty() || version.uploaded_by.is_empty() {
        return Err(Error::InvalidInput("content type and uploader are required".into()));
    }
    check_owned(workspace_id, &version.blob_key)?;
    if version.sha256.len() != 64 || !version.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::InvalidInput("sha256 must be 64 hex digits".into()));
    }
    i64::try_from(version.size).map(|_| ()).map_err(|_| Error::InvalidInput("size out of range".into()))
}

async fn insert_version(
    tx: &sql::Transaction,
    document_id: &str,
    number: u32,
    version: &NewVersion,
    now: i64,
) -> Result<(), Error> {
    tx.exec(
        &format!(
            "INSERT INTO document_versions (document_id, {VERSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        vec![
            document_id.into(),
            i64::from(number).into(),
            version.content_type.as_str().into(),
            (version.size as i64).into(),
            version.sha256.as_str().into(),
            version.blob_key.as_str().into(),
            version.uploaded_by.as_str().into(),
            now.into(),
        ],
    )
    .await?;
    Ok(())
}

/// The channel of a document, read in `tx`; `not-found` when it is gone.
async fn channel_of(tx: &outbox::EventTransaction, workspace_id: &str, document_id: &str) -> Result<String, Error> {
    let rows = tx
        .fetch(
            "SELECT channel_id FROM documents WHERE workspace_id = ?1 AND id = ?2",
            vec![workspace_id.into(), document_id.into()],
        )
        .await?;
    rows.first().map(|row| row.text("channel_id")).transpose()?.ok_or(Error::NotFound)
}

async fn read(workspace_id: &str, document_id: &str) -> Result<Document, Error> {
    let rows = Autocommit
        .fetch(
            &format!("{SELECT_DOCUMENT} WHERE d.workspace_id = ?1 AND d.id = ?2"),
            vec![workspace_id.into(), document_id.into()],
        )
        .await?;
    rows.decode(decode_document)?.pop().ok_or(Error::NotFound)
}

fn decode_document(row: RowRef<'_>) -> Result<Document, sql::Error> {
    Ok(Document {
        id: row.text("id")?,
        workspace_id: row.text("workspace_id")?,
        channel_id: row.text("channel_id")?,
        name: row.text("name")?,
        version: number(row, "version")?,
        content_type: row.text("content_type")?,
        size: row.integer("size")? as u64,
        sha256: row.text("sha256")?,
        blob_key: row.text("blob_key")?,
        created_by: row.text("created_by")?,
        created_at: row.integer("created_at")?,
        updated_by: row.text("updated_by")?,
        updated_at: row.integer("updated_at")?,
    })
}

fn decode_version(row: RowRef<'_>) -> Result<Version, sql::Error> {
    Ok(Version {
        number: number(row, "number")?,
        content_type: row.text("content_type")?,
        size: row.integer("size")? as u64,
        sha256: row.text("sha256")?,
        blob_key: row.text("blob_key")?,
        uploaded_by: row.text("uploaded_by")?,
        created_at: row.integer("created_at")?,
    })
}

fn number(row: RowRef<'_>, column: &str) -> Result<u32, sql::Error> {
    u32::try_from(row.integer(column)?).map_err(|_| sql::Error::Internal(format!("column `{column}` out of range")))
}

fn blob_error(err: blob_store::Error) -> Error {
    match err {
        blob_store::Error::NotFound => Error::NotFound,
        blob_store::Error::InvalidInput(message) => Error::InvalidInput(message),
        blob_store::Error::UploadClosed => Error::InvalidInput("the upload is closed".into()),
        blob_store::Error::Unavailable(message) => Error::Unavailable(message),
        blob_store::Error::Internal(message) => Error::Internal(message),
    }
}

export!(DocumentRepository);
