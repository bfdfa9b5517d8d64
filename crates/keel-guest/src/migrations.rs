//! Versioned schema migrations, applied once per component instance.
//!
//! Every component that owns tables lists its migrations per
//! [`Dialect`]. Applied versions are recorded in
//! `keel_migrations(component, version, applied_at)`. Each pending migration
//! runs in its own transaction together with its bookkeeping row, so
//! re-running is a no-op and two instances racing each other are safe: the
//! loser either waits on the write lock (SQLite's `BEGIN IMMEDIATE`) and then
//! sees the version recorded, or fails (on the primary key, or on MySQL,
//! whose DDL commits at once, on the column the winner just added) and waits
//! for the winner to record the version.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::clock;
use crate::sql::{self, Dialect, Error, Executor};

/// How long a migrator that failed waits for a racing one to record the
/// version, and how often it looks.
const RACE_WAIT: Duration = Duration::from_secs(5);
const RACE_POLL: Duration = Duration::from_millis(50);

/// One schema version: its statements run in order, in one transaction.
#[derive(Debug)]
pub struct Migration {
    pub version: i64,
    pub statements: &'static [&'static str],
}

/// A component's migrations for each dialect; `None` where it has none yet.
#[derive(Debug)]
pub struct PerDialect {
    pub sqlite: Option<&'static [Migration]>,
    pub postgres: Option<&'static [Migration]>,
    pub mysql: Option<&'static [Migration]>,
}

impl PerDialect {
    fn get(&self, dialect: Dialect) -> Option<&'static [Migration]> {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
            Dialect::Mysql => self.mysql,
        }
    }
}

/// The migrations of one component.
pub struct Migrator {
    component: &'static str,
    migrations: PerDialect,
    /// Set once this instance has brought the schema up to date.
    applied: AtomicBool,
}

impl Migrator {
    /// `component` names the owner in `keel_migrations`.
    pub const fn new(component: &'static str, migrations: PerDialect) -> Self {
        Migrator { component, migrations, applied: AtomicBool::new(false) }
    }

    /// Bring the schema up to date, once per instance.
    pub async fn ensure(&self) -> Result<(), Error> {
        if self.applied.load(Ordering::Acquire) {
            return Ok(());
        }
        let dialect = sql::dialect();
        let migrations = self.migrations.get(dialect).ok_or_else(|| {
            Error::Unavailable(format!(
                "component `{}` has no migrations for the {dialect:?} dialect",
                self.component
            ))
        })?;
        // Usually every version is recorded already: one read, no write lock.
        if self.all_recorded(migrations).await {
            self.applied.store(true, Ordering::Release);
            return Ok(());
        }
        // Two instances creating the table at once: PostgreSQL fails the
        // loser, whose retry then finds the table.
        if sql::Autocommit.exec(bookkeeping_table(dialect), Vec::new()).await.is_err() {
            sql::Autocommit.exec(bookkeeping_table(dialect), Vec::new()).await?;
        }
        for migration in migrations {
            if let Err(err) = self.apply(migration).await {
                // Lost a race (PostgreSQL fails the second CREATE instead of
                // waiting; MySQL's DDL commits at once, so the second ALTER
                // fails before the winner has recorded the version): fine
                // once the winner has recorded it.
                if !self.recorded_soon(migration).await? {
                    return Err(err);
                }
            }
        }
        self.applied.store(true, Ordering::Release);
        Ok(())
    }

    /// Whether every migration's version is recorded; `false` also when the
    /// bookkeeping table does not exist yet.
    async fn all_recorded(&self, migrations: &[Migration]) -> bool {
        let Ok(rows) = sql::Autocommit
            .fetch("SELECT version FROM keel_migrations WHERE component = ?1", vec![self.component.into()])
            .await
        else {
            return false;
        };
        let recorded: Vec<i64> = rows.iter().filter_map(|row| row.integer("version").ok()).collect();
        migrations.iter().all(|migration| recorded.contains(&migration.version))
    }

    async fn recorded(&self, executor: &impl Executor, migration: &Migration) -> Result<bool, Error> {
        let rows = executor
            .fetch(
                "SELECT version FROM keel_migrations WHERE component = ?1 AND version = ?2",
                vec![self.component.into(), migration.version.into()],
            )
            .await?;
        Ok(rows.first().is_some())
    }

    /// Whether `migration` is recorded within [`RACE_WAIT`] (another
    /// instance applying it commits its bookkeeping row).
    async fn recorded_soon(&self, migration: &Migration) -> Result<bool, Error> {
        let polls = RACE_WAIT.as_millis() / RACE_POLL.as_millis();
        for _ in 0..polls {
            if self.recorded(&sql::Autocommit, migration).await? {
                return Ok(true);
            }
            spin_sdk::time::sleep(RACE_POLL).await;
        }
        self.recorded(&sql::Autocommit, migration).await
    }

    async fn apply(&self, migration: &Migration) -> Result<(), Error> {
        let tx = sql::begin().await?;
        if self.recorded(&tx, migration).await? {
            return tx.rollback().await;
        }
        for statement in migration.statements {
            tx.exec(statement, Vec::new()).await?;
        }
        let recorded = tx
            .exec(
                "INSERT INTO keel_migrations (component, version, applied_at) VALUES (?1, ?2, ?3)",
                vec![self.component.into(), migration.version.into(), clock::now_ms().into()],
            )
            .await;
        match recorded {
            Ok(_) => tx.commit().await,
            // Another instance applied it first; dropping `tx` rolls back.
            Err(Error::Conflict(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

fn bookkeeping_table(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "CREATE TABLE IF NOT EXISTS keel_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, \
             applied_at INTEGER NOT NULL, PRIMARY KEY (component, version))"
        }
        Dialect::Postgres => {
            "CREATE TABLE IF NOT EXISTS keel_migrations (component TEXT NOT NULL, version BIGINT NOT NULL, \
             applied_at BIGINT NOT NULL, PRIMARY KEY (component, version))"
        }
        Dialect::Mysql => {
            "CREATE TABLE IF NOT EXISTS keel_migrations (component VARCHAR(191) NOT NULL, version BIGINT NOT NULL, \
             applied_at BIGINT NOT NULL, PRIMARY KEY (component, version))"
        }
    }
}
