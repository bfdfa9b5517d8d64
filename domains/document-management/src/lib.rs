//! `keel:domains/document-management`: files shared in a workspace's
//! channels.
//!
//! An upload streams through this component on its way to the document
//! repository: it counts the bytes against the deployment's limit
//! (`max_document_bytes`, 25 MiB by default), decides the type from the
//! first bytes against the allow-list ([`content`]) before any byte is
//! stored, and hashes the content (SHA-256). Members whose role may post
//! upload; members who may read download; the uploader or a moderator
//! deletes. Shares, new versions and deletions are recorded in the event
//! log for live subscribers (best-effort, after the change).

mod content;

use std::cell::RefCell;

use exports::keel::domains::document_management::{
    Document, DocumentPage, Download, Error, Guest, GuestDownload, GuestUpload, Upload, Version,
};
use keel::platform::configuration;
use keel::platform::security_context::{self, Permission};
use keel::repositories::{channels, documents, workspaces};
use sha2::{Digest, Sha256};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories", "../../wit/platform", "../../wit/domains"],
    world: "keel:domains/document-management-domain",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

/// The setting that bounds a file's size, and its default and range.
const MAX_SIZE_SETTING: &str = "max_document_bytes";
const DEFAULT_MAX_SIZE: u64 = 25 << 20;
const MAX_SIZE_BOUNDS: configuration::Bounds = configuration::Bounds { min: 1, max: 1 << 30 };
/// Most bytes one `write` or `read` carries.
const MAX_TRANSFER: u64 = 8 << 20;
/// Longest file name, in characters.
const MAX_NAME_CHARS: usize = 255;

struct DocumentManagement;

impl Guest for DocumentManagement {
    type Upload = FileUpload;
    type Download = FileDownload;

    async fn max_size() -> Result<u64, Error> {
        max_size().await
    }

    async fn start_upload(
        actor_id: String,
        workspace_id: String,
        channel_id: String,
        name: String,
        declared_type: String,
        declared_size: Option<u64>,
    ) -> Result<Upload, Error> {
        let name = file_name(&name)?;
        authorize(&actor_id, &workspace_id, Permission::MessagePost).await?;
        channels::get(workspace_id.clone(), channel_id.clone())
            .await
            .map_err(|err| keel_guest::repository_error!(err, channels => Error, "channel not found"))?;
        let target = Target::New { channel_id, name };
        FileUpload::start(actor_id, workspace_id, target, declared_type, declared_size).await.map(Upload::new)
    }

    async fn start_version(
        actor_id: String,
        workspace_id: String,
        document_id: String,
        declared_type: String,
        declared_size: Option<u64>,
    ) -> Result<Upload, Error> {
        authorize(&actor_id, &workspace_id, Permission::MessagePost).await?;
        let found = document(&workspace_id, &document_id).await?;
        let target = Target::Version { document_id, after: found.version };
        FileUpload::start(actor_id, workspace_id, target, declared_type, declared_size).await.map(Upload::new)
    }

    async fn get_document(actor_id: String, workspace_id: String, document_id: String) -> Result<Document, Error> {
        authorize(&actor_id, &workspace_id, Permission::MessageRead).await?;
        document(&workspace_id, &document_id).await.map(shown)
    }

    async fn list_versions(actor_id: String, workspace_id: String, document_id: String) -> Result<Vec<Version>, Error> {
        authorize(&actor_id, &workspace_id, Permission::MessageRead).await?;
        let found = documents::list_versions(workspace_id, document_id).await.map_err(document_error)?;
        Ok(found.into_iter().map(shown_version).collect())
    }

    async fn list_channel_documents(
        actor_id: String,
        workspace_id: String,
        channel_id: String,
        limit: Option<u32>,
        before: Option<String>,
    ) -> Result<DocumentPage, Error> {
        let limit = keel_guest::validate::page_size(limit).map_err(|err| Error::InvalidInput(err.0))?;
        authorize(&actor_id, &workspace_id, Permission::ChannelRead).await?;
        channels::get(workspace_id.clone(), channel_id.clone())
            .await
            .map_err(|err| keel_guest::repository_error!(err, channels => Error, "channel not found"))?;
        let page = documents::list_in_channel(workspace_id, channel_id, limit, before).await.map_err(document_error)?;
        Ok(DocumentPage { documents: page.documents.into_iter().map(shown).collect(), next_cursor: page.next_cursor })
    }

    async fn open(
        actor_id: String,
        workspace_id: String,
        document_id: String,
        version: Option<u32>,
    ) -> Result<Download, Error> {
        authorize(&actor_id, &workspace_id, Permission::MessageRead).await?;
        let found = document(&workspace_id, &document_id).await?;
        let chosen = match version {
            Some(number) => {
                documents::get_version(workspace_id.clone(), document_id, number).await.map_err(|err| match err {
                    documents::Error::NotFound => Error::NotFound("no such version".into()),
                    other => document_error(other),
                })?
            }
            None => documents::Version {
                number: found.version,
                content_type: found.content_type.clone(),
                size: found.size,
                sha256: found.sha256.clone(),
                blob_key: found.blob_key.clone(),
                uploaded_by: found.updated_by.clone(),
                created_at: found.updated_at,
            },
        };
        Ok(Download::new(FileDownload { workspace_id, document: found, version: chosen }))
    }

    async fn delete_document(actor_id: String, workspace_id: String, document_id: String) -> Result<(), Error> {
        let role = authorize(&actor_id, &workspace_id, Permission::MessageRead).await?;
        let found = document(&workspace_id, &document_id).await?;
        if found.created_by != actor_id && !security_context::allows(role, Permission::MessageModerate) {
            return Err(Error::Forbidden("only the uploader or a workspace admin may delete a document".into()));
        }
        documents::delete(workspace_id, document_id, actor_id).await.map_err(document_error)
    }
}

/// What an upload becomes.
enum Target {
    New { channel_id: String, name: String },
    Version { document_id: String, after: u32 },
}

/// A file on its way in.
pub struct FileUpload {
    actor_id: String,
    workspace_id: String,
    target: Target,
    declared_type: String,
    max_size: u64,
    writer: documents::ContentWriter,
    state: RefCell<State>,
}

struct State {
    /// The first bytes, held until the type is decided.
    head: Vec<u8>,
    /// The type, once decided.
    content_type: Option<String>,
    hasher: Sha256,
    size: u64,
    /// Finished or failed.
    closed: bool,
    busy: bool,
}

impl FileUpload {
    async fn start(
        actor_id: String,
        workspace_id: String,
        target: Target,
        declared_type: String,
        declared_size: Option<u64>,
    ) -> Result<FileUpload, Error> {
        let max_size = max_size().await?;
        if declared_size.is_some_and(|size| size > max_size) {
            return Err(too_large(max_size));
        }
        let writer = documents::start_content(workspace_id.clone()).await.map_err(document_error)?;
        let state =
            State { head: Vec::new(), content_type: None, hasher: Sha256::new(), size: 0, closed: false, busy: false };
        Ok(FileUpload { actor_id, workspace_id, target, declared_type, max_size, writer, state: RefCell::new(state) })
    }

    /// Account for `chunk`; returns the bytes now ready to store. `last`:
    /// no more bytes come, so the type is decided on what there is.
    fn take(&self, chunk: &[u8], last: bool) -> Result<Vec<u8>, Error> {
        let mut state = self.state.borrow_mut();
        if state.closed {
            return Err(Error::InvalidInput("the upload is closed".into()));
        }
        if state.busy {
            return Err(Error::InvalidInput("one call at a time on an upload".into()));
        }
        state.size += chunk.len() as u64;
        if state.size > self.max_size {
            state.closed = true;
            return Err(too_large(self.max_size));
        }
        state.hasher.update(chunk);
        if state.content_type.is_some() {
            state.busy = true;
            return Ok(chunk.to_vec());
        }
        state.head.extend_from_slice(chunk);
        if state.head.len() < content::SNIFF_BYTES && !last {
            return Ok(Vec::new());
        }
        match content::decide(&self.declared_type, &state.head) {
            Ok(decided) => {
                state.content_type = Some(decided);
                state.busy = true;
                Ok(std::mem::take(&mut state.head))
            }
            Err(why) => {
                state.closed = true;
                Err(Error::UnsupportedType(why))
            }
        }
    }

    async fn store(&self, bytes: Vec<u8>) -> Result<(), Error> {
        let outcome = if bytes.is_empty() { Ok(()) } else { self.writer.write(bytes).await.map_err(document_error) };
        let mut state = self.state.borrow_mut();
        state.busy = false;
        state.closed |= outcome.is_err();
        outcome
    }

    async fn record(&self, blob_key: String) -> Result<documents::Document, documents::Error> {
        let (content_type, size, sha256) = {
            let state = self.state.borrow();
            let digest = state.hasher.clone().finalize();
            let sha256 = digest.iter().map(|byte| format!("{byte:02x}")).collect::<String>();
            (state.content_type.clone().unwrap_or_default(), state.size, sha256)
        };
        let version =
            documents::NewVersion { content_type, size, sha256, blob_key, uploaded_by: self.actor_id.clone() };
        match &self.target {
            Target::New { channel_id, name } => {
                documents::create(self.workspace_id.clone(), channel_id.clone(), name.clone(), version).await
            }
            Target::Version { document_id, after } => {
                documents::add_version(self.workspace_id.clone(), document_id.clone(), *after, version).await
            }
        }
    }
}

impl GuestUpload for FileUpload {
    async fn write(&self, chunk: Vec<u8>) -> Result<(), Error> {
        if chunk.len() as u64 > MAX_TRANSFER {
            return Err(Error::InvalidInput(format!("one write carries at most {MAX_TRANSFER} bytes")));
        }
        let ready = self.take(&chunk, false)?;
        self.store(ready).await
    }

    async fn finish(&self) -> Result<Document, Error> {
        let ready = self.take(&[], true)?;
        self.store(ready).await?;
        self.state.borrow_mut().closed = true;
        let blob_key = self.writer.finish().await.map_err(document_error)?;
        match self.record(blob_key.clone()).await {
            Ok(recorded) => Ok(shown(recorded)),
            Err(err) => {
                // Nothing refers to the bytes: let them go.
                if let Err(failed) = documents::discard_content(self.workspace_id.clone(), blob_key.clone()).await {
                    eprintln!("document-management: cannot discard {blob_key}: {failed:?}");
                }
                Err(match err {
                    documents::Error::NotFound => Error::NotFound("document not found".into()),
                    other => document_error(other),
                })
            }
        }
    }
}

/// One version of a document, open for reading.
pub struct FileDownload {
    workspace_id: String,
    document: documents::Document,
    version: documents::Version,
}

impl GuestDownload for FileDownload {
    fn document(&self) -> Document {
        shown(self.document.clone())
    }

    fn version(&self) -> Version {
        shown_version(self.version.clone())
    }

    async fn read(&self, offset: u64, length: u32) -> Result<Vec<u8>, Error> {
        if u64::from(length) > MAX_TRANSFER {
            return Err(Error::InvalidInput(format!("one read carries at most {MAX_TRANSFER} bytes")));
        }
        documents::read_content(self.workspace_id.clone(), self.version.blob_key.clone(), offset, length).await.map_err(
            |err| match err {
                // The document was deleted while it was read.
                documents::Error::NotFound => Error::NotFound("document not found".into()),
                other => document_error(other),
            },
        )
    }
}

/// The deployment's file size limit.
async fn max_size() -> Result<u64, Error> {
    match configuration::number(MAX_SIZE_SETTING.to_owned(), MAX_SIZE_BOUNDS).await {
        Ok(found) => Ok(found.unwrap_or(DEFAULT_MAX_SIZE)),
        Err(configuration::Error::Invalid(message)) => Err(Error::Internal(message)),
        Err(configuration::Error::Unavailable(message)) => Err(Error::Unavailable(message)),
    }
}

fn too_large(max_size: u64) -> Error {
    Error::TooLarge(format!("a file may hold at most {max_size} bytes"))
}

/// A file name as uploaded: 1 to 255 characters, no path, no control
/// characters (it ends up in a `Content-Disposition` header).
fn file_name(raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    let invalid = |why: &str| Err(Error::InvalidInput(format!("file name {why}")));
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return invalid(&format!("must be 1 to {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        return invalid("must not hold control characters, `/` or `\\`");
    }
    if name == "." || name == ".." {
        return invalid("must name a file");
    }
    Ok(name.to_owned())
}

async fn document(workspace_id: &str, document_id: &str) -> Result<documents::Document, Error> {
    documents::get(workspace_id.to_owned(), document_id.to_owned()).await.map_err(|err| match err {
        documents::Error::NotFound => Error::NotFound("document not found".into()),
        other => document_error(other),
    })
}

/// The caller's role, if they are a member whose role grants `permission`.
async fn authorize(
    actor_id: &str,
    workspace_id: &str,
    permission: Permission,
) -> Result<security_context::Role, Error> {
    keel_guest::authorize_member!(workspaces, security_context => Error, actor_id, workspace_id, permission)
        .await
        .map(|(_, role)| role)
}

fn document_error(err: documents::Error) -> Error {
    keel_guest::repository_error!(err, documents => Error, "document not found")
}

fn shown(found: documents::Document) -> Document {
    Document {
        id: found.id,
        workspace_id: found.workspace_id,
        channel_id: found.channel_id,
        name: found.name,
        version: found.version,
        content_type: found.content_type,
        size: found.size,
        sha256: found.sha256,
        created_by: found.created_by,
        created_at: found.created_at,
        updated_by: found.updated_by,
        updated_at: found.updated_at,
    }
}

fn shown_version(found: documents::Version) -> Version {
    Version {
        number: found.number,
        content_type: found.content_type,
        size: found.size,
        sha256: found.sha256,
        uploaded_by: found.uploaded_by,
        created_at: found.created_at,
    }
}

export!(DocumentManagement);
