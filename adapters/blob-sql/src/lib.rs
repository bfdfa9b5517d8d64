//! `keel:infrastructure/blob-store` kept in SQL, for deployments without an
//! object store.
//!
//! A blob's bytes are split into [`CHUNK`]-byte rows of `blob_chunks` under a
//! fresh content id; `blob_objects` maps the key to the content id once the
//! upload finishes. Finishing swaps the key to the new content and drops the
//! old content in one transaction, so a reader sees either the old blob or
//! the new one, never a mix. Chunks of uploads that never finished are
//! reclaimed after [`ABANDONED_AFTER_MS`] by later uploads.

mod schema;

use std::cell::RefCell;

use keel_guest::blob::{self, Error, Guest, GuestUpload, Upload};
use keel_guest::sql::{self, Autocommit, Executor, Value};

/// Bytes per stored chunk (the last chunk of a blob is shorter).
const CHUNK: usize = 256 << 10;
/// An upload not finished after this long is abandoned; its chunks go.
const ABANDONED_AFTER_MS: i64 = 24 * 60 * 60 * 1000;
/// Abandoned uploads one `start-upload` reclaims at most.
const RECLAIM_BATCH: i64 = 8;

struct SqlBlobStore;

impl Guest for SqlBlobStore {
    type Upload = SqlUpload;

    async fn start_upload(key: String) -> Result<Upload, Error> {
        blob::check_key(&key)?;
        schema::MIGRATOR.ensure().await.map_err(store_error)?;
        let now = keel_guest::clock::now_ms();
        reclaim_abandoned(now).await?;
        let content = keel_guest::ids::new_id("blc").map_err(|err| Error::Unavailable(err.to_string()))?;
        Autocommit
            .exec(
                "INSERT INTO blob_uploads (content_id, started_at) VALUES (?1, ?2)",
                vec![content.as_str().into(), now.into()],
            )
            .await
            .map_err(store_error)?;
        Ok(Upload::new(SqlUpload { key, content, state: RefCell::new(State::default()) }))
    }

    async fn read(key: String, offset: u64, length: u32) -> Result<Vec<u8>, Error> {
        blob::check_key(&key)?;
        blob::check_transfer(u64::from(length))?;
        schema::MIGRATOR.ensure().await.map_err(store_error)?;
        // A finish or delete between the two reads below replaces the
        // content; read the key again then.
        for _ in 0..3 {
            let (content, size) = locate(&key).await?.ok_or(Error::NotFound)?;
            let end = size.min(offset.saturating_add(u64::from(length)));
            if offset >= end {
                return Ok(Vec::new());
            }
            let first = offset / CHUNK as u64;
            let last = (end - 1) / CHUNK as u64;
            let rows = Autocommit
                .fetch(
                    "SELECT idx, data FROM blob_chunks WHERE content_id = ?1 AND idx >= ?2 AND idx <= ?3 ORDER BY idx",
                    vec![content.into(), (first as i64).into(), (last as i64).into()],
                )
                .await
                .map_err(store_error)?;
            if rows.iter().count() as u64 != last - first + 1 {
                continue;
            }
            let mut out = Vec::with_capacity((end - offset) as usize);
            for row in rows.iter() {
                let start = row.integer("idx").map_err(store_error)? as u64 * CHUNK as u64;
                let data = row.bytes("data").map_err(store_error)?;
                let from = offset.saturating_sub(start) as usize;
                let to = ((end - start) as usize).min(data.len());
                out.extend_from_slice(data.get(from..to).unwrap_or_default());
            }
            return Ok(out);
        }
        Err(Error::Unavailable(format!("blob {key:?} kept changing while it was read")))
    }

    async fn size(key: String) -> Result<u64, Error> {
        blob::check_key(&key)?;
        schema::MIGRATOR.ensure().await.map_err(store_error)?;
        locate(&key).await?.map(|(_, size)| size).ok_or(Error::NotFound)
    }

    async fn delete(key: String) -> Result<(), Error> {
        blob::check_key(&key)?;
        schema::MIGRATOR.ensure().await.map_err(store_error)?;
        let tx = sql::begin().await.map_err(store_error)?;
        drop_object(&tx, &key).await?;
        tx.commit().await.map_err(store_error)
    }
}

/// The content id and size stored under `key`.
async fn locate(key: &str) -> Result<Option<(String, u64)>, Error> {
    let rows = Autocommit
        .fetch("SELECT content_id, size FROM blob_objects WHERE blob_key = ?1", vec![key.into()])
        .await
        .map_err(store_error)?;
    rows.first().map(|row| Ok((row.text("content_id")?, row.integer("size")? as u64))).transpose().map_err(store_error)
}

/// Remove `key`'s object row and its content, inside `tx`.
async fn drop_object(tx: &sql::Transaction, key: &str) -> Result<(), Error> {
    let rows = tx
        .fetch("SELECT content_id FROM blob_objects WHERE blob_key = ?1", vec![key.into()])
        .await
        .map_err(store_error)?;
    if let Some(row) = rows.first() {
        let content = row.text("content_id").map_err(store_error)?;
        tx.exec("DELETE FROM blob_objects WHERE blob_key = ?1", vec![key.into()]).await.map_err(store_error)?;
        tx.exec("DELETE FROM blob_chunks WHERE content_id = ?1", vec![content.into()]).await.map_err(store_error)?;
    }
    Ok(())
}

/// Drop the chunks of a few uploads started before the abandon limit.
async fn reclaim_abandoned(now: i64) -> Result<(), Error> {
    let rows = Autocommit
        .fetch(
            "SELECT content_id FROM blob_uploads WHERE started_at < ?1 LIMIT ?2",
            vec![(now - ABANDONED_AFTER_MS).into(), RECLAIM_BATCH.into()],
        )
        .await
        .map_err(store_error)?;
    for row in rows.iter() {
        let content = row.text("content_id").map_err(store_error)?;
        Autocommit
            .exec("DELETE FROM blob_chunks WHERE content_id = ?1", vec![content.as_str().into()])
            .await
            .map_err(store_error)?;
        Autocommit
            .exec("DELETE FROM blob_uploads WHERE content_id = ?1", vec![content.into()])
            .await
            .map_err(store_error)?;
    }
    Ok(())
}

/// A blob being written under a fresh content id.
pub struct SqlUpload {
    key: String,
    content: String,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    staging: blob::Staging,
    /// Index of the next chunk to store.
    next_chunk: i64,
}

impl SqlUpload {
    /// Take `chunk` in; the chunks ready to store (all that is left when
    /// `last`), numbered.
    fn take_chunks(&self, chunk: &[u8], last: bool) -> Result<Vec<(i64, Vec<u8>)>, Error> {
        let mut state = self.state.borrow_mut();
        state.staging.begin(chunk)?;
        let parts = state.staging.parts(CHUNK, 0, last);
        let first = state.next_chunk;
        state.next_chunk += parts.len() as i64;
        Ok((first..).zip(parts).collect())
    }

    async fn store(&self, ready: Vec<(i64, Vec<u8>)>) -> Result<(), Error> {
        for (index, data) in ready {
            Autocommit
                .exec(
                    "INSERT INTO blob_chunks (content_id, idx, data) VALUES (?1, ?2, ?3)",
                    vec![self.content.as_str().into(), index.into(), Value::from(data)],
                )
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }

    /// Point the key at this upload's content, dropping what it held.
    async fn publish(&self, size: u64) -> Result<(), Error> {
        let tx = sql::begin().await.map_err(store_error)?;
        drop_object(&tx, &self.key).await?;
        tx.exec(
            "INSERT INTO blob_objects (blob_key, content_id, size, stored_at) VALUES (?1, ?2, ?3, ?4)",
            vec![
                self.key.as_str().into(),
                self.content.as_str().into(),
                (size as i64).into(),
                keel_guest::clock::now_ms().into(),
            ],
        )
        .await
        .map_err(store_error)?;
        tx.exec("DELETE FROM blob_uploads WHERE content_id = ?1", vec![self.content.as_str().into()])
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }

    /// End the call that took chunks: a failure or a finish closes the upload.
    fn settle<T>(&self, outcome: Result<T, Error>, finished: bool) -> Result<T, Error> {
        self.state.borrow_mut().staging.end(finished || outcome.is_err());
        outcome
    }
}

impl GuestUpload for SqlUpload {
    async fn write(&self, chunk: Vec<u8>) -> Result<(), Error> {
        blob::check_transfer(chunk.len() as u64)?;
        let ready = self.take_chunks(&chunk, false)?;
        let stored = self.store(ready).await;
        self.settle(stored, false)
    }

    async fn finish(&self) -> Result<u64, Error> {
        let ready = self.take_chunks(&[], true)?;
        let size = self.state.borrow().staging.size();
        let outcome = match self.store(ready).await {
            Ok(()) => self.publish(size).await.map(|()| size),
            Err(err) => Err(err),
        };
        self.settle(outcome, true)
    }
}

fn store_error(err: sql::Error) -> Error {
    match err {
        sql::Error::Unavailable(_) | sql::Error::Conflict(_) => Error::Unavailable(sql::describe(&err)),
        other => Error::Internal(sql::describe(&other)),
    }
}

keel_guest::blob::export_blob_store!(SqlBlobStore);
