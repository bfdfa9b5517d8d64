//! A fresh MySQL/MariaDB database per scenario, like a new SQLite file.
//!
//! The server is `KEEL_TEST_MYSQL_URL` (default: the local test server,
//! `mysql://root@127.0.0.1:3306/test`). Databases are named after the
//! run's random id, and the run drops exactly the ones it created.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use mysql_async::prelude::Queryable;

fn server_url() -> String {
    std::env::var("KEEL_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn prefix() -> String {
    format!("keel_features_{}_", super::run_id())
}

/// The databases this run created.
static CREATED: Mutex<Vec<String>> = Mutex::new(Vec::new());

async fn connect() -> mysql_async::Conn {
    let url = server_url();
    mysql_async::Conn::from_url(&url).await.unwrap_or_else(|e| panic!("MySQL at {url} is not reachable: {e}"))
}

/// Create an empty database; returns its connection URL.
pub async fn fresh_database_url() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let database = format!("{}{}", prefix(), NEXT.fetch_add(1, Ordering::Relaxed));
    let mut conn = connect().await;
    conn.query_drop(format!("CREATE DATABASE {database}")).await.expect("create database");
    CREATED.lock().unwrap().push(database.clone());
    let _ = conn.disconnect().await;
    let server = server_url();
    let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
    format!("{base}/{database}")
}

/// Drop the databases this run created.
pub async fn drop_databases() {
    let databases = std::mem::take(&mut *CREATED.lock().unwrap());
    if databases.is_empty() {
        return;
    }
    let mut conn = connect().await;
    for database in databases {
        let _ = conn.query_drop(format!("DROP DATABASE IF EXISTS {database}")).await;
    }
    let _ = conn.disconnect().await;
}
