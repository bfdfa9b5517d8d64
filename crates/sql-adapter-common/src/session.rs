//! The connection of an open transaction, handed to one call at a time.

use std::cell::RefCell;

/// Why a transaction's connection is not available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// Another call is running on the transaction right now.
    Busy,
    /// The transaction was committed or rolled back.
    Finished,
}

enum State<C> {
    Open(C),
    Busy,
    Finished,
}

/// Holds a transaction's connection between calls.
///
/// ```
/// use sql_adapter_common::{Session, SessionError};
///
/// let session = Session::new("conn");
/// let conn = session.take().unwrap();
/// assert_eq!(session.take().unwrap_err(), SessionError::Busy);
/// session.put_back(conn);
/// let conn = session.finish().unwrap();   // e.g. then run COMMIT on it
/// assert_eq!(session.take().unwrap_err(), SessionError::Finished);
/// # let _ = conn;
/// ```
pub struct Session<C> {
    state: RefCell<State<C>>,
}

impl<C> Session<C> {
    /// A session open on `connection`.
    pub fn new(connection: C) -> Self {
        Session { state: RefCell::new(State::Open(connection)) }
    }

    /// Take the connection for one call; give it back with [`Session::put_back`].
    pub fn take(&self) -> Result<C, SessionError> {
        let mut state = self.state.borrow_mut();
        match std::mem::replace(&mut *state, State::Busy) {
            State::Open(connection) => Ok(connection),
            State::Busy => Err(SessionError::Busy),
            State::Finished => {
                *state = State::Finished;
                Err(SessionError::Finished)
            }
        }
    }

    /// Return the connection [`Session::take`] lent.
    pub fn put_back(&self, connection: C) {
        *self.state.borrow_mut() = State::Open(connection);
    }

    /// Take the connection for the final `COMMIT`/`ROLLBACK`: the session is
    /// finished whatever that statement returns.
    pub fn finish(&self) -> Result<C, SessionError> {
        let connection = self.take()?;
        *self.state.borrow_mut() = State::Finished;
        Ok(connection)
    }

    /// The connection of a transaction dropped while still open (not busy,
    /// not finished): it needs a rollback.
    pub fn abandon(&self) -> Option<C> {
        match std::mem::replace(&mut *self.state.borrow_mut(), State::Finished) {
            State::Open(connection) => Some(connection),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_abandoned_open_session_yields_its_connection_once() {
        let session = Session::new(1);
        assert_eq!(session.abandon(), Some(1));
        assert_eq!(session.abandon(), None);
        assert_eq!(session.take(), Err(SessionError::Finished));
    }

    #[test]
    fn a_finished_session_has_nothing_to_abandon() {
        let session = Session::new(1);
        session.finish().unwrap();
        assert_eq!(session.abandon(), None);
    }
}
