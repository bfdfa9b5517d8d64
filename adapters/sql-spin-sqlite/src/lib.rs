//! `keel:infrastructure/sql` on Spin's SQLite (`spin:sqlite`, database "default").
//!
//! Placeholders `?1`, `?2`, … are SQLite's own syntax and pass through
//! unchanged. Every call runs on a connection checked out exclusively from a
//! small per-instance [`pool`], so concurrent requests in one instance never
//! interleave on one connection between a statement and its `changes()` /
//! `last_insert_rowid()`. A [`transaction`](Tx) owns its connection until
//! `commit`/`rollback` return it to the pool; dropping an unfinished
//! transaction closes the connection, which rolls it back.

mod convert;
mod pool;

use std::cell::RefCell;

use exports::keel::infrastructure::sql::{Error, Value};
use exports::keel::infrastructure::sql::{
    ExecuteResult, Guest, GuestTransaction, QueryResult, Row, SqlDialect, Transaction,
};
use pool::Lease;
use spin_sdk::sqlite::wit::sqlite::Connection;
use sql_adapter_common::StatementKind;

spin_sdk::wit_bindgen::generate!({
    path: "../../wit/infrastructure",
    world: "keel:infrastructure/sql-adapter",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

struct SqlSpinSqlite;

impl Guest for SqlSpinSqlite {
    type Transaction = Tx;

    fn dialect() -> SqlDialect {
        SqlDialect::Sqlite
    }

    async fn query(statement: String, params: Vec<Value>) -> Result<QueryResult, Error> {
        let lease = Lease::checkout().await?;
        let result = run_query(lease.connection(), &statement, params, Lock::ToTake).await;
        lease.release();
        result
    }

    async fn execute(statement: String, params: Vec<Value>) -> Result<ExecuteResult, Error> {
        let lease = Lease::checkout().await?;
        let result = run_execute(lease.connection(), &statement, params, Lock::ToTake).await;
        lease.release();
        result
    }

    async fn begin() -> Result<Transaction, Error> {
        let lease = Lease::checkout().await?;
        // On failure the lease is dropped with the connection: its state is unknown.
        run_execute(lease.connection(), "BEGIN IMMEDIATE", Vec::new(), Lock::ToTake).await?;
        Ok(Transaction::new(Tx { state: RefCell::new(TxState::Open(lease)) }))
    }
}

/// Where a transaction is in its life.
enum TxState {
    /// Idle, holding its connection.
    Open(Lease),
    /// A call is running on the connection right now.
    Busy,
    /// Committed or rolled back (or its connection was lost).
    Finished,
}

/// A transaction resource: owns a leased connection with an open `BEGIN`.
struct Tx {
    state: RefCell<TxState>,
}

impl Tx {
    /// Take the connection for one call; `Busy` until [`Tx::put_back`].
    fn take(&self) -> Result<Lease, Error> {
        let mut state = self.state.borrow_mut();
        match std::mem::replace(&mut *state, TxState::Busy) {
            TxState::Open(lease) => Ok(lease),
            TxState::Busy => Err(Error::Internal("another call is running on this transaction".into())),
            TxState::Finished => {
                *state = TxState::Finished;
                Err(Error::TransactionClosed)
            }
        }
    }

    fn put_back(&self, lease: Lease) {
        *self.state.borrow_mut() = TxState::Open(lease);
    }

    /// Run `COMMIT` or `ROLLBACK` and finish the transaction. On success the
    /// connection goes back to the pool; on failure it is closed, which rolls
    /// back whatever is left.
    async fn finish(&self, statement: &str) -> Result<(), Error> {
        let lease = self.take()?;
        let result = run_execute(lease.connection(), statement, Vec::new(), Lock::Held).await;
        *self.state.borrow_mut() = TxState::Finished;
        if result.is_ok() {
            lease.release();
        }
        result.map(drop)
    }
}

impl GuestTransaction for Tx {
    async fn query(&self, statement: String, params: Vec<Value>) -> Result<QueryResult, Error> {
        let lease = self.take()?;
        let result = run_query(lease.connection(), &statement, params, Lock::Held).await;
        self.put_back(lease);
        result
    }

    async fn execute(&self, statement: String, params: Vec<Value>) -> Result<ExecuteResult, Error> {
        let lease = self.take()?;
        let result = run_execute(lease.connection(), &statement, params, Lock::Held).await;
        self.put_back(lease);
        result
    }

    async fn commit(&self) -> Result<(), Error> {
        self.finish("COMMIT").await
    }

    async fn rollback(&self) -> Result<(), Error> {
        self.finish("ROLLBACK").await
    }
}

/// Whether the connection already holds SQLite's write lock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// Autocommit, or the `BEGIN IMMEDIATE` that takes it.
    ToTake,
    /// Inside a transaction (begun `IMMEDIATE`).
    Held,
}

/// Run `statement` and return its rows.
async fn run_query(
    connection: &Connection,
    statement: &str,
    params: Vec<Value>,
    lock: Lock,
) -> Result<QueryResult, Error> {
    run(connection, statement, StatementKind::of(statement), params, lock).await
}

/// Run `statement`, of `kind`, and return its rows.
///
/// A statement that cannot wait for another writer takes Spin's synchronous
/// `execute`: one host call with the whole result, where the asynchronous
/// one costs a task, a row stream read in several batches and a completion
/// future. That is a `SELECT` (it never waits for SQLite's write lock) and
/// every statement of a transaction, which holds the lock from its
/// `BEGIN IMMEDIATE` on. Anything else may wait for the write lock (and sync
/// to disk), so it runs asynchronously, leaving the instance's other tasks
/// free meanwhile.
async fn run(
    connection: &Connection,
    statement: &str,
    kind: StatementKind,
    params: Vec<Value>,
    lock: Lock,
) -> Result<QueryResult, Error> {
    let params: Vec<_> = params.into_iter().map(convert::to_sqlite).collect();
    let (columns, rows) = if kind == StatementKind::Select || lock == Lock::Held {
        let result = connection.execute(statement, &params).map_err(convert::error)?;
        (result.columns, result.rows)
    } else {
        let (columns, rows, done) =
            connection.execute_async(statement.to_owned(), params).await.map_err(convert::error)?;
        let rows = rows.collect().await;
        done.await.map_err(convert::error)?;
        (columns, rows)
    };
    let rows = rows
        .into_iter()
        .map(|row| Row { values: row.values.into_iter().map(convert::from_sqlite).collect() })
        .collect();
    Ok(QueryResult { columns, rows })
}

async fn run_execute(
    connection: &Connection,
    statement: &str,
    params: Vec<Value>,
    lock: Lock,
) -> Result<ExecuteResult, Error> {
    let kind = StatementKind::of(statement);
    run(connection, statement, kind, params, lock).await?;
    // `changes()` keeps the count of the last INSERT/UPDATE/DELETE, so it is
    // only read after such a statement. Both read connection state: no I/O,
    // so no asynchronous call.
    let rows_affected = if kind.modifies_rows() { connection.changes() } else { 0 };
    let last_insert_id =
        if kind == StatementKind::Insert && rows_affected > 0 { Some(connection.last_insert_rowid()) } else { None };
    Ok(ExecuteResult { rows_affected, last_insert_id })
}

export!(SqlSpinSqlite);
