//! `spin:sqlite/sqlite@3.1.0` on rusqlite: one connection pool per database
//! label, WAL journal, statements run on blocking threads.
//!
//! # Parity with Spin
//!
//! Follows `crates/factor-sqlite/src/host.rs` and `crates/sqlite-inproc`:
//! - `open` of a label the component does not list is `access-denied`; SQL
//!   errors are `io` with rusqlite's message; values are typed by SQLite's
//!   storage class (`integer`, `real`, `text`, `blob`, `null`).
//! - A result that would hold more than 128 MiB in host memory, counted as
//!   Spin counts it (the size of a `value` plus the text or blob length),
//!   is `io("query result exceeds limit of 134217728 bytes")`.
//! - At most 256 connections are open per instance; the next `open` is
//!   `io("too many connections opened")`.
//! - A connection behaves as a new one, as Spin opens one per `open`:
//!   `last-insert-rowid` and `changes` are 0 until it runs a statement, and a
//!   connection whose guest ran `PRAGMA`, `ATTACH`/`DETACH` or created
//!   `TEMP` objects is closed rather than reused, so none of that reaches
//!   another request.
//!
//! Differences, on purpose: connections are pooled (Spin opens a file per
//! `open`); the journal is WAL with `synchronous = FULL` (Spin sets no
//! pragmas: rollback journal); a label without `path` is one in-memory
//! database shared by the app (Spin's is private to each connection);
//! `execute-async` reports an error mid-result as the call's error (Spin
//! sends the rows before it, then the error through the future); text that
//! is not UTF-8 is read lossily (Spin's host panics).
//!
//! A statement that only reads runs on the thread that handles the guest's
//! call, with no hand-off to a blocking thread and back (two thread
//! wake-ups, most of a point query's cost), as long as it finishes within
//! [`INLINE_BUDGET`] virtual-machine steps (well under a millisecond); one
//! that takes longer is cut off, which leaves nothing behind for a
//! read-only statement, and runs again on a blocking thread. So does every
//! statement of a write transaction that holds the writer turn (below):
//! holding SQLite's write lock as well, it waits for no other writer; it is
//! not cut off, as an interrupted write would roll back the whole
//! transaction; and its `COMMIT` syncs to disk where it runs, as a `COMMIT`
//! always has here. A write outside such a transaction, which may first wait
//! for another writer, runs on a blocking thread.
//!
//! Writers wait for each other without SQLite's default busy handler, which
//! sleeps 1, 2, 5, … up to 100 ms between attempts and made the tail of
//! concurrent writes hundreds of milliseconds long: a connection that finds
//! the database locked waits on [`WriterReleased`] and retries as soon as a
//! writer of this process commits or rolls back (or after [`BUSY_POLL`], for
//! writers in other processes), for up to [`BUSY_TIMEOUT`] in all.
//!
//! Within this process, writers also take turns in order: a write
//! transaction (`BEGIN IMMEDIATE`/`EXCLUSIVE`) or a write outside one first
//! waits, without holding a thread, for the pool's writer turn (a FIFO
//! semaphore, [`SqlitePool::writers`]) and keeps it until the transaction
//! ends. Woken all at once by each commit, 32 writers raced for the lock and
//! the unlucky ones lost over and over (a p99 of 200 ms for 1 ms
//! transactions); in turn, each waits for the ones before it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::Deserialize;

use wasmtime::component::{Accessor, FutureReader, Resource, StreamReader};

use super::bindings::spin::sqlite::sqlite::{
    self as wit, Error, HostConnection, HostConnectionWithStore, QueryResult, RowResult, Value,
};
use super::{AppContext, Capability, HostState, Spin};
use crate::config::manifest::Component;
use crate::config::runtime_config::SqliteBackend;
use crate::telemetry::{Call, HostCall};

/// `[sqlite_database.<label>]` in the runtime config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatabaseConfig {
    /// `"spin"`, the only SQLite backend.
    #[serde(rename = "type")]
    kind: String,
    /// The file; none for an in-memory database.
    #[serde(default)]
    path: Option<PathBuf>,
}

impl DatabaseConfig {
    /// The database it names; a relative `path` resolves against `base`.
    pub(crate) fn backend(self, base: &Path) -> Result<SqliteBackend, String> {
        match (self.kind.as_str(), self.path) {
            ("spin", Some(path)) => Ok(SqliteBackend::File(base.join(path))),
            ("spin", None) => Ok(SqliteBackend::Memory),
            (other, _) => Err(format!("unsupported type `{other}` (supported: \"spin\")")),
        }
    }
}

/// The SQLite capability: a pool per database label, shared by the
/// components that list it.
pub(crate) struct Sqlite;

impl Capability for Sqlite {
    type App = HashMap<String, Arc<SqlitePool>>;
    type Grant = HashMap<String, Arc<SqlitePool>>;

    fn link(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
        wit::add_to_linker::<_, Spin>(linker, super::this)
    }

    fn configure(ctx: &AppContext) -> Result<Self::App, Vec<String>> {
        super::open_labels(
            ctx,
            "sqlite_database",
            |component| &component.sqlite_databases,
            |label| ctx.runtime_config.sqlite(label, ctx.state_dir),
            |label, backend| {
                let pool = SqlitePool::new(label, &backend)?;
                tracing::info!("sqlite database `{label}`: {}", pool.path().display());
                Ok(Arc::new(pool))
            },
        )
    }

    fn grant(app: &Self::App, component: &Component) -> Self::Grant {
        component.sqlite_databases.iter().map(|label| (label.clone(), app[label].clone())).collect()
    }
}

/// Idle connections to one database.
pub struct SqlitePool {
    target: String,
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// The writer turn: one permit, handed out first come, first served.
    writers: Arc<tokio::sync::Semaphore>,
    /// Keeps a shared in-memory database alive between checkouts.
    _keepalive: Option<Mutex<rusqlite::Connection>>,
}

const MAX_IDLE: usize = 32;

/// How long a statement waits for another writer before failing with
/// "database is locked" (Spin's SQLite host also fails after a bounded wait).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest single wait for a writer of another process to finish.
const BUSY_POLL: Duration = Duration::from_millis(2);

/// Signalled whenever a connection of this process ends a write transaction.
struct WriterReleased {
    generation: Mutex<u64>,
    changed: Condvar,
}

static WRITER_RELEASED: WriterReleased = WriterReleased { generation: Mutex::new(0), changed: Condvar::new() };

impl WriterReleased {
    fn notify(&self) {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.changed.notify_all();
    }

    /// SQLite's busy handler: wait for the next release, then retry, until
    /// [`BUSY_TIMEOUT`] has passed since the statement first found the
    /// database locked (SQLite calls the handler on the statement's thread,
    /// with `attempt` 0 first).
    fn busy(attempt: i32) -> bool {
        thread_local! {
            static FIRST_BUSY: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
        }
        // A read running inline must not wait here: it gives up, and runs
        // again on a blocking thread, which may.
        if matches!(INLINE.get(), InlineRead::Running(_)) {
            INLINE.set(InlineRead::Gave);
            return false;
        }
        let now = std::time::Instant::now();
        if attempt == 0 {
            FIRST_BUSY.set(Some(now));
        }
        let since = FIRST_BUSY.get().unwrap_or(now);
        if now.duration_since(since) >= BUSY_TIMEOUT {
            return false;
        }
        let released = &WRITER_RELEASED;
        let generation = released.generation.lock().unwrap_or_else(|p| p.into_inner());
        let seen = *generation;
        let _ = released
            .changed
            .wait_timeout_while(generation, BUSY_POLL, |now| *now == seen)
            .unwrap_or_else(|p| p.into_inner());
        true
    }
}

impl SqlitePool {
    pub fn new(label: &str, backend: &SqliteBackend) -> Result<SqlitePool, String> {
        let (target, memory) = match backend {
            SqliteBackend::File(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                (path.display().to_string(), false)
            }
            SqliteBackend::Memory => {
                // Unique per pool: several apps may share one process.
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (format!("file:keel-{label}-{}-{n}?mode=memory&cache=shared", std::process::id()), true)
            }
        };
        let pool = SqlitePool {
            target,
            idle: Mutex::new(Vec::new()),
            writers: Arc::new(tokio::sync::Semaphore::new(1)),
            _keepalive: None,
        };
        let first = pool.open().map_err(|e| format!("sqlite database `{label}`: {e}"))?;
        Ok(if memory {
            SqlitePool { _keepalive: Some(Mutex::new(first)), ..pool }
        } else {
            pool.idle.lock().unwrap().push(first);
            pool
        })
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.target)
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            &self.target,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
        conn.busy_handler(Some(WriterReleased::busy))?;
        conn.progress_handler(INLINE_CHECK_EVERY, Some(inline_progress));
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    fn checkout(self: &Arc<Self>) -> rusqlite::Result<Pooled> {
        let conn = match self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            Some(conn) => conn,
            None => self.open()?,
        };
        Ok(Pooled { conn: Some(conn), pool: self.clone(), used: false, altered: false, turn: None })
    }
}

/// A checked-out connection; returns to the pool on drop, rolled back if a
/// guest left a transaction open, unless its guest altered it.
struct Pooled {
    conn: Option<rusqlite::Connection>,
    pool: Arc<SqlitePool>,
    /// Whether this checkout ran a statement (before that, `changes` and
    /// `last-insert-rowid` are those of a new connection: 0).
    used: bool,
    /// Whether a statement may have changed connection state a new
    /// connection would not have ([`alters_connection`]).
    altered: bool,
    /// The pool's writer turn, held from a write's start to its
    /// transaction's end.
    turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// The most connections one instance may hold open at once (Spin's limit).
pub const MAX_CONNECTIONS_PER_INSTANCE: usize = 256;

/// Whether `statement`, run outside a transaction, starts a write: a write
/// transaction (`BEGIN IMMEDIATE`/`EXCLUSIVE`) or an `INSERT`, `UPDATE`,
/// `DELETE` or `REPLACE` on its own. (A deferred `BEGIN` takes the write
/// lock only at its first write; SQLite's own locking covers it.)
fn starts_write(statement: &str) -> bool {
    let mut words = statement.split_ascii_whitespace();
    let first = words.next().unwrap_or_default();
    let is = |word: &str, name: &str| word.eq_ignore_ascii_case(name);
    if is(first, "begin") {
        return words.next().is_some_and(|mode| is(mode, "immediate") || is(mode, "exclusive"));
    }
    ["insert", "update", "delete", "replace"].iter().any(|name| is(first, name))
}

/// Whether `statement` may leave state on the connection itself (pragmas,
/// attached databases, temporary objects) rather than in the database.
fn alters_connection(statement: &str) -> bool {
    statement
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| ["pragma", "attach", "detach", "temp", "temporary"].iter().any(|w| word.eq_ignore_ascii_case(w)))
}

impl Pooled {
    fn conn(&self) -> &rusqlite::Connection {
        self.conn.as_ref().expect("pooled connection present until drop")
    }

    /// Run `statement` on the connection, noting what it did to it; the
    /// writer turn goes once no transaction is open.
    fn run(&mut self, statement: &str, params: Vec<Value>) -> Result<QueryResult, Error> {
        self.used = true;
        self.altered |= alters_connection(statement);
        let result = run(self.conn(), statement, params);
        if self.conn().is_autocommit() {
            self.turn = None;
        }
        result
    }

    /// Run `statement` right here if it cannot wait: a quick read, or any
    /// statement of a write transaction that holds the writer turn (it
    /// holds SQLite's write lock too, so nothing it does waits for another
    /// writer, and only its `COMMIT` syncs to disk). `None` when it has to
    /// [`run`](Self::run) on a blocking thread instead: a write that must
    /// first take the lock, a statement that alters the connection, or a
    /// read that took more than [`INLINE_BUDGET`].
    fn try_run_inline(&mut self, statement: &str, params: &[Value]) -> Option<Result<QueryResult, Error>> {
        if alters_connection(statement) {
            return None;
        }
        let was_in_transaction = !self.conn().is_autocommit();
        let result = if was_in_transaction && self.turn.is_some() {
            // Not cut off by the read budget: an interrupted write rolls
            // back the whole transaction.
            run(self.conn(), statement, params.to_vec())
        } else {
            run_read_inline(self.conn(), statement, params)?
        };
        self.used = true;
        // `COMMIT` and `ROLLBACK` count as read-only and end here.
        if was_in_transaction && self.conn().is_autocommit() {
            self.turn = None;
            WRITER_RELEASED.notify();
        }
        Some(result)
    }

    fn last_insert_rowid(&self) -> i64 {
        if self.used { self.conn().last_insert_rowid() } else { 0 }
    }

    fn changes(&self) -> u64 {
        if self.used { self.conn().changes() } else { 0 }
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // The next writer's turn comes once a transaction left open has
        // ended (below), not before.
        let turn = self.turn.take();
        if self.altered {
            let was_writing = !conn.is_autocommit();
            drop(conn);
            drop(turn);
            if was_writing {
                WRITER_RELEASED.notify();
            }
            return;
        }
        if !conn.is_autocommit() {
            let rolled_back = conn.execute_batch("ROLLBACK").is_ok();
            WRITER_RELEASED.notify();
            if !rolled_back {
                return;
            }
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

/// The `connection` resource.
pub struct Connection(Arc<Mutex<Pooled>>);

impl Connection {
    /// Run `f` on the connection on a blocking thread.
    async fn with<R: Send + 'static>(&self, f: impl FnOnce(&mut Pooled) -> R + Send + 'static) -> R {
        let conn = self.0.clone();
        tokio::task::spawn_blocking(move || f(&mut conn.lock().unwrap_or_else(|p| p.into_inner())))
            .await
            .expect("sqlite task does not panic")
    }

    /// Run `statement` for an async call: a write in its turn
    /// ([`take_turn`](Self::take_turn)), then here if it is a quick read,
    /// else on a blocking thread.
    async fn execute(&self, statement: String, parameters: Vec<Value>) -> Result<QueryResult, Error> {
        self.take_turn(&statement).await?;
        match self.try_run_inline(&statement, &parameters) {
            Some(result) => result,
            None => self.with(move |c| c.run(&statement, parameters)).await,
        }
    }

    /// Wait for the pool's writer turn before `statement` if it starts a
    /// write: a write transaction, or a write outside any transaction
    /// ([`starts_write`]). Giving up after [`BUSY_TIMEOUT`] is SQLite's
    /// "database is locked", as when its busy handler gives up.
    async fn take_turn(&self, statement: &str) -> Result<(), Error> {
        if !starts_write(statement) {
            return Ok(());
        }
        let gate = {
            let pooled = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if pooled.turn.is_some() || !pooled.conn().is_autocommit() {
                return Ok(());
            }
            pooled.pool.writers.clone()
        };
        match tokio::time::timeout(BUSY_TIMEOUT, gate.acquire_owned()).await {
            Ok(Ok(turn)) => {
                self.0.lock().unwrap_or_else(|p| p.into_inner()).turn = Some(turn);
                Ok(())
            }
            Ok(Err(_)) | Err(_) => Err(Error::Io("database is locked".into())),
        }
    }

    /// Run `statement` here if it is a quick read and the connection is
    /// free ([`Pooled::try_run_inline`]).
    fn try_run_inline(&self, statement: &str, params: &[Value]) -> Option<Result<QueryResult, Error>> {
        self.0.try_lock().ok()?.try_run_inline(statement, params)
    }

    /// Run `f` on the connection for a synchronous call; the call blocks,
    /// so the executor's other tasks move off this thread meanwhile.
    fn with_sync<R>(&self, f: impl FnOnce(&mut Pooled) -> R) -> R {
        super::block_in_place(|| self.read(f))
    }

    /// Read connection state that involves no I/O (`changes`,
    /// `last_insert_rowid`) right here: no thread hand-off for it.
    fn read<R>(&self, f: impl FnOnce(&mut Pooled) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// End a statement's telemetry: an error by its kind only (its text may
/// quote the data).
fn finish<T>(call: HostCall, result: &Result<T, Error>) {
    let error = result.as_ref().err().map(|e| match e {
        Error::NoSuchDatabase => "no-such-database",
        Error::AccessDenied => "access-denied",
        Error::InvalidConnection => "invalid-connection",
        Error::DatabaseFull => "database-full",
        Error::Io(_) => "io",
    });
    call.finish(error, None);
}

fn io_error(e: impl std::fmt::Display) -> Error {
    Error::Io(e.to_string())
}

fn run(conn: &rusqlite::Connection, statement: &str, params: Vec<Value>) -> Result<QueryResult, Error> {
    run_capped(conn, statement, params, MAX_RESULT_BYTES)
}

fn run_capped(
    conn: &rusqlite::Connection,
    statement: &str,
    params: Vec<Value>,
    max_bytes: usize,
) -> Result<QueryResult, Error> {
    let was_in_transaction = !conn.is_autocommit();
    let mut stmt = conn.prepare_cached(statement).map_err(io_error)?;
    let writes = !stmt.readonly();
    let result = collect(&mut stmt, params, max_bytes);
    drop(stmt);
    if conn.is_autocommit() && (was_in_transaction || writes) {
        WRITER_RELEASED.notify();
    }
    result
}

/// How long a read may run without a thread hand-off: SQLite calls the
/// progress handler every [`INLINE_CHECK_EVERY`] virtual-machine steps and
/// the statement is cut off at the [`INLINE_BUDGET`]-th call (about 50,000
/// steps: tens to a few hundred microseconds).
const INLINE_CHECK_EVERY: std::ffi::c_int = 1000;
const INLINE_BUDGET: u32 = 50;

/// Whether this thread is running a read inline (with the progress
/// handler's calls so far), and whether it gave up: over its budget
/// ([`inline_progress`]) or on a busy database ([`WriterReleased::busy`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum InlineRead {
    Off,
    Running(u32),
    Gave,
}

thread_local! {
    static INLINE: std::cell::Cell<InlineRead> = const { std::cell::Cell::new(InlineRead::Off) };
}

/// SQLite's progress handler, installed once per connection: it cuts off a
/// read running inline at [`INLINE_BUDGET`] and lets every other statement
/// run on.
fn inline_progress() -> bool {
    match INLINE.get() {
        InlineRead::Running(calls) if calls + 1 >= INLINE_BUDGET => {
            INLINE.set(InlineRead::Gave);
            true
        }
        InlineRead::Running(calls) => {
            INLINE.set(InlineRead::Running(calls + 1));
            false
        }
        InlineRead::Off | InlineRead::Gave => false,
    }
}

/// Run the read-only `statement` within [`INLINE_BUDGET`] and without
/// waiting for a busy database; `None` if it writes, was cut off or found
/// the database busy (a read-only statement leaves nothing behind, so it
/// can run again elsewhere).
fn run_read_inline(
    conn: &rusqlite::Connection,
    statement: &str,
    params: &[Value],
) -> Option<Result<QueryResult, Error>> {
    INLINE.set(InlineRead::Running(0));
    let result = read_only(conn, statement, params);
    let gave_up = INLINE.replace(InlineRead::Off) == InlineRead::Gave;
    if gave_up { None } else { result }
}

/// Run `statement` if it only reads; `None` if it writes.
fn read_only(conn: &rusqlite::Connection, statement: &str, params: &[Value]) -> Option<Result<QueryResult, Error>> {
    let mut stmt = match conn.prepare_cached(statement) {
        Ok(stmt) => stmt,
        Err(e) => return Some(Err(io_error(e))),
    };
    stmt.readonly().then(|| collect(&mut stmt, params.to_vec(), MAX_RESULT_BYTES))
}

fn collect(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: Vec<Value>,
    max_bytes: usize,
) -> Result<QueryResult, Error> {
    let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let params = params.into_iter().map(|v| match v {
        Value::Integer(i) => rusqlite::types::Value::Integer(i),
        Value::Real(r) => rusqlite::types::Value::Real(r),
        Value::Text(t) => rusqlite::types::Value::Text(t),
        Value::Blob(b) => rusqlite::types::Value::Blob(b),
        Value::Null => rusqlite::types::Value::Null,
    });
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(io_error)?;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = rows.next().map_err(io_error)? {
        let values = (0..columns.len())
            .map(|i| {
                row.get_ref(i).map(|v| match v {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(i) => Value::Integer(i),
                    rusqlite::types::ValueRef::Real(r) => Value::Real(r),
                    rusqlite::types::ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    rusqlite::types::ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(io_error)?;
        bytes += values.iter().map(value_bytes).sum::<usize>();
        if bytes > max_bytes {
            return Err(Error::Io(format!("query result exceeds limit of {max_bytes} bytes")));
        }
        out.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: out })
}

/// The most a query result may hold in host memory (outside the guest's
/// memory limit) before the query fails; the same bound as the
/// outbound database hosts (`mysql::MAX_RESULT_BYTES`).
pub const MAX_RESULT_BYTES: usize = super::mysql::MAX_RESULT_BYTES;

/// A value's host memory as Spin counts it (`Value::memory_size`).
fn value_bytes(value: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match value {
            Value::Text(t) => t.len(),
            Value::Blob(b) => b.len(),
            Value::Integer(_) | Value::Real(_) | Value::Null => 0,
        }
}

impl HostState {
    fn open_connection(&mut self, database: &str) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        let Some(pool) = self.services.sqlite.get(database) else {
            return Ok(Err(Error::AccessDenied));
        };
        if self.sqlite_connections >= MAX_CONNECTIONS_PER_INSTANCE {
            return Ok(Err(Error::Io("too many connections opened".into())));
        }
        let conn = match pool.checkout() {
            Ok(c) => c,
            Err(e) => return Ok(Err(io_error(e))),
        };
        let conn = self.table.push(Connection(Arc::new(Mutex::new(conn))))?;
        self.sqlite_connections += 1;
        Ok(Ok(conn))
    }

    fn connection(&self, conn: &Resource<Connection>) -> wasmtime::Result<Connection> {
        Ok(Connection(self.table.get(conn)?.0.clone()))
    }
}

impl wit::Host for HostState {}

impl HostConnection for HostState {
    fn open(&mut self, database: String) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        self.open_connection(&database)
    }

    fn execute(
        &mut self,
        conn: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let conn = self.connection(&conn)?;
        let call = self.host_call(Call::Sql { system: "sqlite", operation: "execute", statement: &statement });
        let result = match conn.try_run_inline(&statement, &parameters) {
            Some(result) => result,
            None => conn.with_sync(|c| c.run(&statement, parameters)),
        };
        finish(call, &result);
        Ok(result)
    }

    fn last_insert_rowid(&mut self, conn: Resource<Connection>) -> wasmtime::Result<i64> {
        Ok(self.connection(&conn)?.read(|c| c.last_insert_rowid()))
    }

    fn changes(&mut self, conn: Resource<Connection>) -> wasmtime::Result<u64> {
        Ok(self.connection(&conn)?.read(|c| c.changes()))
    }

    fn drop(&mut self, conn: Resource<Connection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        self.sqlite_connections -= 1;
        Ok(())
    }
}

impl<T> HostConnectionWithStore<T> for Spin {
    async fn open_async(
        accessor: &Accessor<T, Self>,
        database: String,
    ) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        accessor.with(|mut access| access.get().open_connection(&database))
    }

    async fn execute_async(
        accessor: &Accessor<T, Self>,
        conn: Resource<Connection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<(Vec<String>, StreamReader<RowResult>, FutureReader<Result<(), Error>>), Error>> {
        let (conn, call) = accessor.with(|mut access| {
            let state = access.get();
            let call = state.host_call(Call::Sql { system: "sqlite", operation: "execute", statement: &statement });
            state.connection(&conn).map(|conn| (conn, call))
        })?;
        let result = conn.execute(statement, parameters).await;
        finish(call, &result);
        let QueryResult { columns, rows } = match result {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        accessor.with(|mut access| {
            let rows = StreamReader::new(&mut access, rows)?;
            let done = FutureReader::new(&mut access, async { wasmtime::error::Ok(Ok(())) })?;
            Ok(Ok((columns, rows, done)))
        })
    }

    async fn last_insert_rowid_async(
        accessor: &Accessor<T, Self>,
        conn: Resource<Connection>,
    ) -> wasmtime::Result<i64> {
        let conn = accessor.with(|mut access| access.get().connection(&conn))?;
        Ok(conn.read(|c| c.last_insert_rowid()))
    }

    async fn changes_async(accessor: &Accessor<T, Self>, conn: Resource<Connection>) -> wasmtime::Result<u64> {
        let conn = accessor.with(|mut access| access.get().connection(&conn))?;
        Ok(conn.read(|c| c.changes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_write_transactions_take_turns_reads_do_not() {
        for write in ["BEGIN IMMEDIATE", "begin exclusive transaction", "INSERT INTO t VALUES (1)", " update t set v = 1"]
        {
            assert!(starts_write(write), "{write}");
        }
        for other in ["BEGIN", "BEGIN DEFERRED", "SELECT 1", "COMMIT", "PRAGMA journal_mode", "WITH x AS (SELECT 1) SELECT 1"] {
            assert!(!starts_write(other), "{other}");
        }
    }

    /// Writers wait for their turn in the order they came, without a
    /// thread each, and the turn passes on when a transaction ends,
    /// whether by commit or by the connection going away mid-transaction.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_take_turns_in_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir);
        let connect = || Connection(Arc::new(Mutex::new(pool.checkout().unwrap())));
        let first = connect();
        first.execute("CREATE TABLE t (v INTEGER)".into(), vec![]).await.unwrap();
        first.execute("BEGIN IMMEDIATE".into(), vec![]).await.unwrap();
        let mut waiters = Vec::new();
        for v in 1..=4_i64 {
            let conn = connect();
            waiters.push(tokio::spawn(async move {
                if v % 2 == 0 {
                    conn.execute("INSERT INTO t VALUES (?1)".into(), vec![Value::Integer(v)]).await.unwrap();
                } else {
                    conn.execute("BEGIN IMMEDIATE".into(), vec![]).await.unwrap();
                    conn.execute("INSERT INTO t VALUES (?1)".into(), vec![Value::Integer(v)]).await.unwrap();
                    // COMMIT counts as read-only: it ends the turn where it runs.
                    conn.execute("COMMIT".into(), vec![]).await.unwrap();
                }
            }));
            // Queued in this order.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The first writer leaves without committing: its turn passes on.
        drop(first);
        for waiter in waiters {
            tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("each writer gets its turn").unwrap();
        }
        let reader = connect();
        let rows = reader.execute("SELECT v FROM t ORDER BY rowid".into(), vec![]).await.unwrap().rows;
        let order: Vec<i64> =
            rows.iter().map(|row| if let Value::Integer(v) = row.values[0] { v } else { 0 }).collect();
        assert_eq!(order, [1, 2, 3, 4], "the writers went in the order they came");
    }

    fn file_pool(dir: &tempfile::TempDir) -> Arc<SqlitePool> {
        Arc::new(SqlitePool::new("default", &SqliteBackend::File(dir.path().join("db.sqlite"))).unwrap())
    }

    #[test]
    fn results_past_the_cap_fail_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir);
        let conn = pool.checkout().unwrap();
        let conn = conn.conn.as_ref().unwrap();
        run(conn, "CREATE TABLE t (v TEXT)", vec![]).unwrap();
        for _ in 0..10 {
            run(conn, "INSERT INTO t VALUES (?1)", vec![Value::Text("x".repeat(100))]).unwrap();
        }
        // Counted as Spin counts it: the size of a `value` plus the text.
        let all = 10 * (std::mem::size_of::<Value>() + 100);
        assert_eq!(run_capped(conn, "SELECT v FROM t", vec![], all).unwrap().rows.len(), 10);
        let err = run_capped(conn, "SELECT v FROM t", vec![], all - 1).unwrap_err();
        assert!(
            matches!(&err, Error::Io(m) if *m == format!("query result exceeds limit of {} bytes", all - 1)),
            "{err:?}"
        );
    }

    #[test]
    fn a_connection_behaves_as_a_new_one_each_time_as_in_spin() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir);
        let mut first = pool.checkout().unwrap();
        first.run("CREATE TABLE t (v INTEGER)", vec![]).unwrap();
        first.run("INSERT INTO t VALUES (1)", vec![]).unwrap();
        assert_eq!((first.last_insert_rowid(), first.changes()), (1, 1));
        drop(first);
        let mut second = pool.checkout().unwrap();
        assert_eq!((second.last_insert_rowid(), second.changes()), (0, 0), "a reused connection starts from zero");

        // Connection state a guest sets must not reach the next checkout.
        second.run("PRAGMA recursive_triggers = ON", vec![]).unwrap();
        second.run("CREATE TEMP TABLE scratch (v INTEGER)", vec![]).unwrap();
        drop(second);
        let mut third = pool.checkout().unwrap();
        let recursive_triggers = third.run("PRAGMA recursive_triggers", vec![]).unwrap().rows;
        assert!(matches!(recursive_triggers[0].values[0], Value::Integer(0)), "{recursive_triggers:?}");
        let scratch = third.run("SELECT v FROM scratch", vec![]).unwrap_err();
        assert!(matches!(&scratch, Error::Io(m) if m.contains("no such table")), "{scratch:?}");
    }

    #[test]
    fn only_quick_reads_run_inline_and_a_cut_off_read_runs_again_in_full() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir);
        let mut conn = pool.checkout().unwrap();
        conn.run("CREATE TABLE t (v INTEGER)", vec![]).unwrap();
        // A write never runs inline, and trying leaves nothing written.
        assert!(conn.try_run_inline("INSERT INTO t VALUES (?1)", &[Value::Integer(7)]).is_none());
        assert!(conn.try_run_inline("PRAGMA user_version", &[]).is_none(), "alters the connection: pooled path");
        let count = |conn: &mut Pooled| conn.run("SELECT count(*) FROM t", vec![]).unwrap().rows[0].values[0].clone();
        assert!(matches!(count(&mut conn), Value::Integer(0)));

        conn.run("INSERT INTO t VALUES (7)", vec![]).unwrap();
        let quick = conn.try_run_inline("SELECT v FROM t WHERE v = ?1", &[Value::Integer(7)]).expect("a quick read");
        assert!(matches!(quick.unwrap().rows[0].values[0], Value::Integer(7)));
        let bad = conn.try_run_inline("SELECT nope FROM t", &[]).expect("a prepare error is the answer");
        assert!(matches!(bad, Err(Error::Io(m)) if m.contains("no such column")));

        // Two million steps: cut off inline, then run to the end the usual way.
        let slow =
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) SELECT sum(i) FROM n";
        assert!(conn.try_run_inline(slow, &[]).is_none());
        let full = conn.run(slow, vec![]).unwrap();
        assert!(matches!(full.rows[0].values[0], Value::Integer(20000100000)), "{:?}", full.rows);
        // The count starts again: the next quick read is not cut off early.
        assert!(conn.try_run_inline("SELECT count(*) FROM t", &[]).is_some());
    }

    /// A post's statements (`INSERT`s, then `COMMIT`) run where the call
    /// is once its transaction holds the writer turn; a write that has to
    /// take the turn first does not.
    #[tokio::test]
    async fn a_write_transaction_in_its_turn_runs_its_statements_inline() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir);
        let conn = Connection(Arc::new(Mutex::new(pool.checkout().unwrap())));
        conn.execute("CREATE TABLE t (v INTEGER)".into(), vec![]).await.unwrap();
        let inline = |statement: &str| conn.try_run_inline(statement, &[]);
        assert!(inline("INSERT INTO t VALUES (1)").is_none(), "outside a transaction: waits for its turn elsewhere");

        conn.execute("BEGIN IMMEDIATE".into(), vec![]).await.unwrap();
        assert_eq!(pool.writers.available_permits(), 0, "the transaction holds the writer turn");
        inline("INSERT INTO t VALUES (2)").expect("runs inline").unwrap();
        assert_eq!(conn.read(|c| c.changes()), 1);
        let other = pool.checkout().unwrap();
        let count = |c: &rusqlite::Connection| c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0));
        assert_eq!(count(other.conn()).unwrap(), 0, "uncommitted");
        let failed = inline("INSERT INTO nowhere VALUES (3)").expect("an error is the answer");
        assert!(matches!(failed, Err(Error::Io(m)) if m.contains("no such table")));
        inline("COMMIT").expect("runs inline").unwrap();
        assert_eq!(pool.writers.available_permits(), 1, "the commit ended the turn");
        assert_eq!(count(other.conn()).unwrap(), 1, "committed: the failed statement left nothing, the insert stays");
    }

    #[test]
    fn an_inline_read_does_not_wait_for_a_busy_database() {
        // A rollback-journal file another connection holds exclusively
        // (WAL readers are rarely busy: recovery, another process in
        // exclusive locking mode); the busy handler is the pool's.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locked.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.busy_handler(Some(WriterReleased::busy)).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);").unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE; INSERT INTO t VALUES (2);").unwrap();
        let started = std::time::Instant::now();
        assert!(run_read_inline(&conn, "SELECT count(*) FROM t", &[]).is_none(), "gives up: the database is busy");
        assert!(started.elapsed() < BUSY_TIMEOUT, "without waiting out the busy timeout");
        other.execute_batch("COMMIT").unwrap();
        let read = run_read_inline(&conn, "SELECT count(*) FROM t", &[]).expect("free again").unwrap();
        assert!(matches!(read.rows[0].values[0], Value::Integer(2)));
    }

    #[test]
    fn statements_that_alter_the_connection_are_recognised() {
        for altering in [
            "PRAGMA foreign_keys = ON",
            "attach database 'x.db' as x",
            "CREATE TEMP TABLE t (v)",
            "create temporary view v as select 1",
        ] {
            assert!(alters_connection(altering), "{altering}");
        }
        for plain in ["SELECT template, attempts FROM t", "INSERT INTO temps VALUES (1)", "UPDATE t SET pragmatic = 1"]
        {
            assert!(!alters_connection(plain), "{plain}");
        }
    }

    #[test]
    fn an_instance_holds_at_most_256_connections() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir);
        let services = crate::host::tests::services_with_sqlite("default", pool);
        let mut store = crate::host::tests::store(services);
        let state = store.data_mut();
        let open: Vec<_> = (0..MAX_CONNECTIONS_PER_INSTANCE)
            .map(|_| HostConnection::open(state, "default".into()).unwrap().unwrap())
            .collect();
        let refused = HostConnection::open(state, "default".into()).unwrap();
        assert!(matches!(&refused, Err(Error::Io(m)) if m == "too many connections opened"), "{refused:?}");
        let denied = HostConnection::open(state, "other".into()).unwrap();
        assert!(matches!(denied, Err(Error::AccessDenied)));
        let mut open = open.into_iter();
        HostConnection::drop(state, open.next().unwrap()).unwrap();
        assert!(HostConnection::open(state, "default".into()).unwrap().is_ok(), "closing one frees a slot");
    }

    #[test]
    fn a_writer_waits_for_another_and_then_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir);
        let first = pool.checkout().unwrap();
        run(first.conn.as_ref().unwrap(), "CREATE TABLE t (v INTEGER)", vec![]).unwrap();
        run(first.conn.as_ref().unwrap(), "BEGIN IMMEDIATE", vec![]).unwrap();
        run(first.conn.as_ref().unwrap(), "INSERT INTO t VALUES (1)", vec![]).unwrap();

        let second = pool.checkout().unwrap();
        let waiter = std::thread::spawn(move || {
            let result = run(second.conn.as_ref().unwrap(), "INSERT INTO t VALUES (2)", vec![]);
            (result.map(|_| ()), second)
        });
        std::thread::sleep(Duration::from_millis(200));
        assert!(!waiter.is_finished(), "the second writer must wait while the first holds the lock");
        run(first.conn.as_ref().unwrap(), "COMMIT", vec![]).unwrap();
        let (result, _second) = waiter.join().unwrap();
        assert!(result.is_ok(), "{result:?}");
        let rows = run(first.conn.as_ref().unwrap(), "SELECT v FROM t ORDER BY v", vec![]).unwrap().rows;
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn a_writer_in_another_process_is_waited_for_too() {
        // A connection this module does not own stands for another process:
        // it never signals, so the waiter finds the lock gone by polling.
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir);
        let other = rusqlite::Connection::open(dir.path().join("db.sqlite")).unwrap();
        other.execute_batch("CREATE TABLE t (v INTEGER); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);").unwrap();
        let conn = pool.checkout().unwrap();
        let waiter = std::thread::spawn(move || {
            let result = run(conn.conn.as_ref().unwrap(), "INSERT INTO t VALUES (2)", vec![]);
            result.map(|_| ())
        });
        std::thread::sleep(Duration::from_millis(100));
        other.execute_batch("COMMIT").unwrap();
        let result = waiter.join().unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
}
