//! Key-value store in a SQLite file (`type = "spin"`), using the same table
//! layout as Spin's default store so either runtime can open the file.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{KeyValueStore, KvError, add_to_counter};

pub struct SqliteStore {
    /// Writes, and the reads inside them (a compare-and-swap).
    conn: Mutex<Connection>,
    /// Reads: WAL lets them run beside a write, so a read never waits for
    /// another call's commit and its `fsync`.
    reader: Mutex<Connection>,
    /// Whether the file is in WAL mode (a file system without shared memory
    /// keeps a rollback journal, where a read can wait for a writer).
    wal: bool,
    /// The store label: one file may hold several stores, as in Spin.
    label: String,
}

impl SqliteStore {
    pub fn open(path: &Path, label: &str) -> Result<SqliteStore, KvError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| KvError(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)?;
        let wal = switch_to_wal(&conn)?;
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS spin_key_value (
                 store TEXT NOT NULL,
                 key   TEXT NOT NULL,
                 value BLOB NOT NULL,
                 PRIMARY KEY (store, key)
             );",
        )?;
        let reader = Connection::open(path)?;
        reader.execute_batch("PRAGMA busy_timeout = 5000;")?;
        Ok(SqliteStore { conn: Mutex::new(conn), reader: Mutex::new(reader), wal, label: label.to_string() })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Put the file in WAL mode, if it can be: whether it is.
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<bool> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    Ok(mode.eq_ignore_ascii_case("wal"))
}

fn read(conn: &Connection, store: &str, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
        .query_row(params![store, key], |row| row.get(0))
        .optional()
}

fn write(conn: &Connection, store: &str, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![store, key, value])
    .map(drop)
}

impl KeyValueStore for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(read(&self.reader(), &self.label, key)?)
    }

    /// Only in WAL mode: with a rollback journal, a read waits (up to the
    /// busy timeout) while a writer commits.
    fn quick_reads(&self) -> bool {
        self.wal
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        Ok(write(&self.conn(), &self.label, key, value)?)
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        self.conn()
            .prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
            .execute(params![self.label, key])?;
        Ok(())
    }

    fn set_many(&self, pairs: &[(String, Vec<u8>)]) -> Result<(), KvError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (key, value) in pairs {
            write(&tx, &self.label, key, value)?;
        }
        Ok(tx.commit()?)
    }

    fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for key in keys {
            tx.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .execute(params![self.label, key])?;
        }
        Ok(tx.commit()?)
    }

    fn keys(&self) -> Result<Vec<String>, KvError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
        let keys = stmt.query_map(params![self.label], |row| row.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(keys)
    }

    fn compare_and_swap(&self, key: &str, expected: Option<&[u8]>, new: &[u8]) -> Result<bool, KvError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if read(&tx, &self.label, key)?.as_deref() != expected {
            return Ok(false);
        }
        write(&tx, &self.label, key, new)?;
        tx.commit()?;
        Ok(true)
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (next, bytes) = add_to_counter(key, read(&tx, &self.label, key)?.as_deref(), delta)?;
        write(&tx, &self.label, key, &bytes)?;
        tx.commit()?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_read_does_not_wait_for_a_write_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let kv = Arc::new(SqliteStore::open(&dir.path().join("kv.db"), "default").unwrap());
        kv.set("k", b"committed").unwrap();
        // A write holds the writer connection (as one does through its
        // commit and `fsync`), with an uncommitted change.
        let writing = kv.conn();
        writing.execute_batch("BEGIN IMMEDIATE; UPDATE spin_key_value SET value = x'00' WHERE key = 'k';").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = kv.clone();
        std::thread::spawn(move || tx.send(reader.get("k").unwrap()).unwrap());
        let read = rx.recv_timeout(Duration::from_secs(5)).expect("the read waited for the write");
        assert_eq!(read.as_deref(), Some(&b"committed"[..]), "a read sees only committed values");
        assert!(kv.quick_reads());
        writing.execute_batch("ROLLBACK").unwrap();
    }

    #[test]
    fn reads_are_quick_only_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let file = Connection::open(dir.path().join("wal.db")).unwrap();
        assert!(switch_to_wal(&file).unwrap());
        // The dot-file VFS has no shared memory, as some file systems have
        // none: the file keeps its rollback journal.
        let path = dir.path().join("journal.db");
        let flags = rusqlite::OpenFlags::default();
        let no_shared_memory = Connection::open_with_flags_and_vfs(&path, flags, "unix-dotfile").unwrap();
        assert!(!switch_to_wal(&no_shared_memory).unwrap());
    }
}
