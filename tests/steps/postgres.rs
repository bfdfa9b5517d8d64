//! A fresh PostgreSQL schema per scenario, so suites on Postgres start from
//! an empty database like those on a new SQLite file.
//!
//! The server is `KEEL_TEST_POSTGRES_URL` (default: the local test server,
//! `postgres://postgres@127.0.0.1:5432/test`). Each schema is named after the
//! process, and the run drops its own schemas when it ends.

use std::sync::atomic::{AtomicUsize, Ordering};

fn server_url() -> String {
    std::env::var("KEEL_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn prefix() -> String {
    format!("keel_features_{}_", std::process::id())
}

async fn connect() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&server_url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} is not reachable: {e}", server_url()));
    tokio::spawn(connection);
    client
}

/// Create an empty schema; returns a connection URL whose `search_path` is it.
pub async fn fresh_schema_url() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let schema = format!("{}{}", prefix(), NEXT.fetch_add(1, Ordering::Relaxed));
    connect()
        .await
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    let separator = if server_url().contains('?') { '&' } else { '?' };
    format!("{}{separator}options=-csearch_path%3D{schema}", server_url())
}

/// Drop the schemas this process created.
pub async fn drop_schemas() {
    let client = connect().await;
    let rows = client
        .query("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", &[&prefix()])
        .await
        .expect("list schemas");
    for row in rows {
        let schema: String = row.get(0);
        let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await;
    }
}
