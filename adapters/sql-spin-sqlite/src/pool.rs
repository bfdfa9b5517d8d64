//! A per-instance pool of idle SQLite connections.
//!
//! A [`Lease`] holds a connection exclusively. [`Lease::release`] returns it
//! to the pool; a lease that is merely dropped (an unfinished transaction, a
//! cancelled call) closes its connection instead, so no connection in an
//! unknown state is ever reused.

use std::cell::RefCell;

use spin_sdk::sqlite::wit::sqlite::Connection;

use crate::Error;
use crate::convert;

/// Idle connections kept per instance; more are opened on demand and closed
/// when returned to a full pool.
const MAX_IDLE: usize = 4;

thread_local! {
    static IDLE: RefCell<Vec<Connection>> = const { RefCell::new(Vec::new()) };
}

/// A connection checked out of the pool.
pub struct Lease(Connection);

impl Lease {
    /// An idle connection, or a new one to the default database.
    pub async fn checkout() -> Result<Lease, Error> {
        if let Some(connection) = IDLE.with_borrow_mut(Vec::pop) {
            return Ok(Lease(connection));
        }
        Connection::open_async("default".into()).await.map(Lease).map_err(convert::error)
    }

    pub fn connection(&self) -> &Connection {
        &self.0
    }

    /// Return the connection to the pool (or close it if the pool is full).
    pub fn release(self) {
        IDLE.with_borrow_mut(|idle| {
            if idle.len() < MAX_IDLE {
                idle.push(self.0);
            }
        });
    }
}
