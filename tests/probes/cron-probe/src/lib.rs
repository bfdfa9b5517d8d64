//! Cron probe: exports `keel:triggers/inbound-cron` and counts its runs in
//! SQLite (the `default` database), for the runtime's cron trigger tests.
//!
//! Each `handle-cron-event` records the run (how many ran, the last firing's
//! timestamp, the most that ran at once); in the stored mode `slow` it
//! takes 2.5 s. It fails with `error::other` when the variable `fail` is
//! `true`.
//!
//! HTTP: `GET /runs` → `{"runs":n,"last_timestamp":t,"max_running":m}`;
//! `PUT /mode/ok` or `/mode/slow` sets the mode.

use std::time::Duration;

use exports::keel::triggers::inbound_cron::{CronMetadata, Error, Guest};
use spin_sdk::http::{Method, Request, StatusCode};
use spin_sdk::sqlite::{Connection, Value};

spin_sdk::wit_bindgen::generate!({
    path: "../../../wit/triggers",
    world: "keel:triggers/cron-component",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
});

/// The probe's state: `name → integer` (`runs`, `running`, `max_running`,
/// `last_timestamp`) and `mode → text`.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS cron_probe (name TEXT PRIMARY KEY, value)";

/// How long a run in `slow` mode takes: longer than the one-second period.
const SLOW_RUN: Duration = Duration::from_millis(2500);

struct CronProbe;

impl Guest for CronProbe {
    async fn handle_cron_event(metadata: CronMetadata) -> Result<(), Error> {
        let db = open().await.map_err(Error::Other)?;
        run(&db, metadata.timestamp).await.map_err(Error::Other)
    }
}

export!(CronProbe);

/// One run: counted as running while it lasts.
async fn run(db: &Connection, timestamp: u64) -> Result<(), String> {
    let timestamp = i64::try_from(timestamp).map_err(|e| e.to_string())?;
    exec(db, "INSERT INTO cron_probe VALUES ('runs', 1) ON CONFLICT DO UPDATE SET value = value + 1", []).await?;
    exec(
        db,
        "INSERT INTO cron_probe VALUES ('last_timestamp', ?) ON CONFLICT DO UPDATE SET value = excluded.value",
        [Value::Integer(timestamp)],
    )
    .await?;
    exec(db, "INSERT INTO cron_probe VALUES ('running', 1) ON CONFLICT DO UPDATE SET value = value + 1", []).await?;
    exec(
        db,
        "INSERT INTO cron_probe SELECT 'max_running', value FROM cron_probe WHERE name = 'running' \
         ON CONFLICT DO UPDATE SET value = max(value, excluded.value)",
        [],
    )
    .await?;
    if slow(db).await? {
        spin_sdk::time::sleep(SLOW_RUN).await;
    }
    exec(db, "UPDATE cron_probe SET value = value - 1 WHERE name = 'running'", []).await?;
    match spin_sdk::variables::get("fail").await {
        Ok(fail) if fail == "true" => Err("the probe was asked to fail (variable fail=true)".to_owned()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("variable `fail`: {e:?}")),
    }
}

#[spin_sdk::http_service]
async fn handle(request: Request) -> (StatusCode, String) {
    let served = async {
        let db = open().await?;
        match (request.method().clone(), request.uri().path()) {
            (Method::GET, "/runs") => {
                let runs = integer(&db, "runs").await?;
                let last_timestamp = integer(&db, "last_timestamp").await?;
                let max_running = integer(&db, "max_running").await?;
                Ok((
                    StatusCode::OK,
                    format!(r#"{{"runs":{runs},"last_timestamp":{last_timestamp},"max_running":{max_running}}}"#),
                ))
            }
            (Method::PUT, path @ ("/mode/ok" | "/mode/slow")) => {
                let mode = path.trim_start_matches("/mode/").to_owned();
                exec(
                    &db,
                    "INSERT INTO cron_probe VALUES ('mode', ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                    [Value::Text(mode)],
                )
                .await?;
                Ok((StatusCode::NO_CONTENT, String::new()))
            }
            _ => Ok((StatusCode::NOT_FOUND, "GET /runs, PUT /mode/ok, PUT /mode/slow\n".to_owned())),
        }
    };
    served.await.unwrap_or_else(|message: String| (StatusCode::INTERNAL_SERVER_ERROR, message))
}

/// The default database, with the probe's table.
async fn open() -> Result<Connection, String> {
    let db = Connection::open_default().await.map_err(|e| format!("open: {e:?}"))?;
    exec(&db, SCHEMA, []).await?;
    Ok(db)
}

async fn exec(db: &Connection, statement: &str, parameters: impl IntoIterator<Item = Value>) -> Result<(), String> {
    let result = db.execute(statement, parameters).await.map_err(|e| format!("{statement}: {e:?}"))?;
    result.result().await.map_err(|e| format!("{statement}: {e:?}"))
}

/// The value stored under `name`, as a row of the probe's table.
async fn row(db: &Connection, name: &str) -> Result<Option<Value>, String> {
    let statement = "SELECT value FROM cron_probe WHERE name = ?";
    let mut rows = db.execute(statement, [Value::Text(name.to_owned())]).await.map_err(|e| format!("{e:?}"))?;
    let value = rows.next().await.and_then(|row| row.values.into_iter().next());
    rows.result().await.map_err(|e| format!("{statement}: {e:?}"))?;
    Ok(value)
}

async fn integer(db: &Connection, name: &str) -> Result<i64, String> {
    match row(db, name).await? {
        Some(Value::Integer(n)) => Ok(n),
        _ => Ok(0),
    }
}

/// Whether the stored mode is `slow`.
async fn slow(db: &Connection) -> Result<bool, String> {
    Ok(matches!(row(db, "mode").await?, Some(Value::Text(mode)) if mode == "slow"))
}
