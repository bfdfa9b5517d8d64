//! SQL conformance probe: drives `keel:infrastructure/sql` over HTTP.
//!
//! * `GET /dialect` → `{"dialect":"sqlite"}`
//! * `POST /query` / `POST /execute` with `{"sql":…,"params":[P…]}`, where a
//!   value P is `{"null":null}`, `{"integer":1}`, `{"real":1.5}`,
//!   `{"text":"x"}` or `{"blob":"<lower-case hex>"}`; query answers
//!   `{"columns":[…],"rows":[[P…]…]}`, execute
//!   `{"rows_affected":n,"last_insert_id":n|null}`.
//! * `POST /transaction` with `{"steps":[{"op":"execute"|"query","sql":…,"params":[…]}…],
//!   "finish":"commit"|"rollback"|"drop"}` → `{"results":[…]}`. A failing step
//!   drops the transaction and answers its error. After `commit`/`rollback`
//!   one more execute runs on the finished transaction and its error code is
//!   reported as `"after_finish_error"`.
//!
//! Errors: `{"error":{"code":"<variant>","message":…}}`, 409 for conflict,
//! 400 invalid_query, 503 unavailable, 500 otherwise.
//!
//! The `keel:infrastructure/sql` import comes from `keel-guest`'s bindings,
//! so this component's shape is the `keel:products/sql-conformance-probe` world.

mod wire;

use keel_guest::http::{self as respond, Response};
use keel_guest::sql::bindings::keel::infrastructure::sql::{self, Error, Transaction};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{Method, Request, StatusCode};
use wire::Param;

#[derive(Deserialize)]
struct Statement {
    sql: String,
    #[serde(default)]
    params: Vec<Param>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    Execute,
    Query,
}

#[derive(Deserialize)]
struct Step {
    op: Op,
    #[serde(flatten)]
    statement: Statement,
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Finish {
    Commit,
    Rollback,
    Drop,
}

#[derive(Deserialize)]
struct TransactionRequest {
    steps: Vec<Step>,
    finish: Finish,
}

#[spin_sdk::http_service]
async fn handle(request: Request) -> Response {
    let route = (request.method().clone(), request.uri().path().to_owned());
    let body = match request.into_body().bytes().await {
        Ok(body) => body,
        Err(err) => return respond::error(StatusCode::BAD_REQUEST, "invalid_json", &format!("cannot read body: {err:?}")),
    };
    let result = match (&route.0, route.1.as_str()) {
        (&Method::GET, "/dialect") => Ok(json!({ "dialect": wire::dialect_name(sql::dialect()) })),
        (&Method::POST, "/query") => match parse::<Statement>(&body) {
            Ok(statement) => query(None, statement).await,
            Err(response) => return response,
        },
        (&Method::POST, "/execute") => match parse::<Statement>(&body) {
            Ok(statement) => execute(None, statement).await,
            Err(response) => return response,
        },
        (&Method::POST, "/transaction") => match parse::<TransactionRequest>(&body) {
            Ok(request) => transaction(request).await,
            Err(response) => return response,
        },
        _ => return respond::error(StatusCode::NOT_FOUND, "not_found", "no such probe route"),
    };
    match result {
        Ok(body) => respond::json(StatusCode::OK, &body),
        Err(err) => sql_error(&err),
    }
}

async fn query(tx: Option<&Transaction>, statement: Statement) -> Result<Json, Error> {
    let params = statement.params.into_iter().map(Param::into_value).collect();
    let result = match tx {
        Some(tx) => tx.query(statement.sql, params).await?,
        None => sql::query(statement.sql, params).await?,
    };
    let rows: Vec<Vec<Param>> =
        result.rows.into_iter().map(|row| row.values.into_iter().map(Param::from).collect()).collect();
    Ok(json!({ "columns": result.columns, "rows": rows }))
}

async fn execute(tx: Option<&Transaction>, statement: Statement) -> Result<Json, Error> {
    let params = statement.params.into_iter().map(Param::into_value).collect();
    let result = match tx {
        Some(tx) => tx.execute(statement.sql, params).await?,
        None => sql::execute(statement.sql, params).await?,
    };
    Ok(json!({ "rows_affected": result.rows_affected, "last_insert_id": result.last_insert_id }))
}

async fn transaction(request: TransactionRequest) -> Result<Json, Error> {
    let tx = sql::begin().await?;
    let mut results = Vec::with_capacity(request.steps.len());
    for step in request.steps {
        // On error `tx` is dropped here, which rolls the transaction back.
        results.push(match step.op {
            Op::Execute => execute(Some(&tx), step.statement).await?,
            Op::Query => query(Some(&tx), step.statement).await?,
        });
    }
    match request.finish {
        Finish::Drop => {
            drop(tx);
            Ok(json!({ "results": results }))
        }
        Finish::Commit | Finish::Rollback => {
            if request.finish == Finish::Commit { tx.commit().await? } else { tx.rollback().await? }
            let after = tx.execute("SELECT 1".into(), Vec::new()).await.err().map(|err| wire::error_code(&err));
            Ok(json!({ "results": results, "after_finish_error": after }))
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|err| respond::error(StatusCode::BAD_REQUEST, "invalid_json", &format!("bad probe request: {err}")))
}

fn sql_error(err: &Error) -> Response {
    let status = match err {
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::InvalidQuery(_) => StatusCode::BAD_REQUEST,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::TransactionClosed | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    respond::error(status, wire::error_code(err), &keel_guest::sql::describe(err))
}
