//! `keel:repositories/webhooks`: webhook endpoints and their deliveries over
//! `keel:infrastructure/sql`.
//!
//! Endpoint reads and writes are scoped by `workspace_id`. A delivery is
//! unique per endpoint and event, so enqueueing is idempotent. Claims are a
//! compare-and-set on `next_attempt_at`: a claim pushes it ahead by the
//! lease, and `settle` only lands while the delivery still carries that
//! value, so two dispatchers never both own one attempt and a dispatcher
//! that dies mid-attempt leaves the delivery due again once the lease ends.

mod schema;

use std::collections::BTreeMap;

use exports::keel::repositories::webhooks::{
    AttemptResult, Delivery, DeliveryPage, DeliveryStatus, DueDelivery, Endpoint, Error, Guest, NewEndpoint,
    OutgoingEvent,
};
use keel_guest::sql::{self, Autocommit, Executor, RowRef, Value};
use keel_guest::{clock, ids};

spin_sdk::wit_bindgen::generate!({
    path: ["../../wit/infrastructure", "../../wit/repositories"],
    world: "keel:repositories/webhook-repository",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    with: { "keel:infrastructure/sql@0.1.0": keel_guest::sql::bindings::keel::infrastructure::sql },
});

const ENDPOINT_COLUMNS: &str = "id, workspace_id, url, events, secret, created_by, created_at";
const DELIVERY_COLUMNS: &str = "d.seq, d.id, d.endpoint_id, d.workspace_id, d.event_id, d.kind, d.status, d.attempts, \
                                d.next_attempt_at, d.last_error, d.last_status, d.created_at, d.delivered_at";
/// The most rows one call reads or claims.
const MAX_BATCH: u32 = 500;

struct WebhookRepository;

impl Guest for WebhookRepository {
    async fn create_endpoint(endpoint: NewEndpoint) -> Result<Endpoint, Error> {
        schema::MIGRATOR.ensure().await?;
        if [&endpoint.workspace_id, &endpoint.url, &endpoint.secret, &endpoint.created_by].iter().any(|f| f.is_empty())
        {
            return Err(Error::InvalidInput("workspace, url, secret and creator are required".into()));
        }
        if endpoint.events.is_empty() || endpoint.events.iter().any(|kind| kind.is_empty() || kind.contains(',')) {
            return Err(Error::InvalidInput("an endpoint takes one or more event kinds, without commas".into()));
        }
        let id = ids::new_id(ids::WEBHOOK).map_err(|err| Error::Unavailable(err.to_string()))?;
        let now = clock::now_ms();
        Autocommit
            .exec(
                &format!("INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                vec![
                    id.as_str().into(),
                    endpoint.workspace_id.as_str().into(),
                    endpoint.url.as_str().into(),
                    endpoint.events.join(",").into(),
                    endpoint.secret.as_str().into(),
                    endpoint.created_by.as_str().into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(Endpoint {
            id,
            workspace_id: endpoint.workspace_id,
            url: endpoint.url,
            events: endpoint.events,
            secret: endpoint.secret,
            created_by: endpoint.created_by,
            created_at: now,
        })
    }

    async fn list_endpoints(workspace_id: String) -> Result<Vec<Endpoint>, Error> {
        schema::MIGRATOR.ensure().await?;
        let rows = Autocommit
            .fetch(
                &format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = ?1 ORDER BY created_at, id"
                ),
                vec![workspace_id.into()],
            )
            .await?;
        Ok(rows.decode(decode_endpoint)?)
    }

    async fn get_endpoint(workspace_id: String, endpoint_id: String) -> Result<Endpoint, Error> {
        schema::MIGRATOR.ensure().await?;
        endpoint(&workspace_id, &endpoint_id).await
    }

    async fn delete_endpoint(workspace_id: String, endpoint_id: String) -> Result<(), Error> {
        schema::MIGRATOR.ensure().await?;
        let tx = sql::begin().await?;
        let removed = tx
            .exec(
                "DELETE FROM webhook_endpoints WHERE workspace_id = ?1 AND id = ?2",
                vec![workspace_id.into(), endpoint_id.as_str().into()],
            )
            .await?;
        if removed.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        tx.exec("DELETE FROM webhook_deliveries WHERE endpoint_id = ?1", vec![endpoint_id.into()]).await?;
        Ok(tx.commit().await?)
    }

    async fn enqueue(events: Vec<OutgoingEvent>) -> Result<u32, Error> {
        schema::MIGRATOR.ensure().await?;
        if events.len() > MAX_BATCH as usize {
            return Err(Error::InvalidInput(format!("at most {MAX_BATCH} events at a time")));
        }
        // Each workspace's endpoints, read once.
        let mut endpoints: BTreeMap<&str, Vec<Endpoint>> = BTreeMap::new();
        for event in &events {
            if !endpoints.contains_key(event.workspace_id.as_str()) {
                let found = Self::list_endpoints(event.workspace_id.clone()).await?;
                endpoints.insert(&event.workspace_id, found);
            }
        }
        let (insert, conflict) = sql::insert_unless_present();
        let statement = format!(
            "{insert} webhook_deliveries (id, endpoint_id, workspace_id, event_id, kind, payload, status, attempts, \
             next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7){conflict}"
        );
        let now = clock::now_ms();
        let mut added = 0;
        for event in &events {
            let takers = endpoints[event.workspace_id.as_str()]
                .iter()
                .filter(|endpoint| endpoint.created_at <= event.created_at && endpoint.events.contains(&event.kind));
            for endpoint in takers {
                let id = ids::new_id(ids::DELIVERY).map_err(|err| Error::Unavailable(err.to_string()))?;
                let params: Vec<Value> = vec![
                    id.into(),
                    endpoint.id.as_str().into(),
                    event.workspace_id.as_str().into(),
                    event.event_id.as_str().into(),
                    event.kind.as_str().into(),
                    event.payload.as_str().into(),
                    now.into(),
                ];
                added += Autocommit.exec(&statement, params).await?.rows_affected as u32;
            }
        }
        Ok(added)
    }

    async fn claim_due(limit: u32, lease_ms: u32) -> Result<Vec<DueDelivery>, Error> {
        schema::MIGRATOR.ensure().await?;
        let limit = bounded(limit)?;
        let now = clock::now_ms();
        let rows = Autocommit
            .fetch(
                &format!(
                    "SELECT {DELIVERY_COLUMNS}, d.payload, e.url, e.secret FROM webhook_deliveries d \
                     JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                     WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 \
                     ORDER BY d.next_attempt_at, d.seq LIMIT ?2"
                ),
                vec![now.into(), limit],
            )
            .await?;
        let claimed_until = now + i64::from(lease_ms.max(1));
        let mut claimed = Vec::new();
        for row in rows.iter() {
            let delivery = decode_delivery(row)?;
            let taken = Autocommit
                .exec(
                    "UPDATE webhook_deliveries SET next_attempt_at = ?1 \
                     WHERE id = ?2 AND status = 'pending' AND next_attempt_at = ?3",
                    vec![claimed_until.into(), delivery.id.as_str().into(), delivery.next_attempt_at.into()],
                )
                .await?;
            if taken.rows_affected == 1 {
                claimed.push(DueDelivery {
                    delivery: Delivery { next_attempt_at: claimed_until, ..delivery },
                    url: row.text("url")?,
                    secret: row.text("secret")?,
                    payload: row.text("payload")?,
                    claimed_until,
                });
            }
        }
        Ok(claimed)
    }

    async fn settle(delivery_id: String, claimed_until: i64, outcome: AttemptResult) -> Result<Delivery, Error> {
        schema::MIGRATOR.ensure().await?;
        let now = clock::now_ms();
        let (status, next_attempt_at, error, answer, delivered_at) = match outcome {
            AttemptResult::Delivered(code) => ("delivered", now, None, Some(code), Some(now)),
            AttemptResult::Failed(failure) => match failure.retry_at {
                Some(at) => ("pending", at, Some(failure.error), failure.status, None),
                None => ("dead", now, Some(failure.error), failure.status, None),
            },
        };
        let settled = Autocommit
            .exec(
                "UPDATE webhook_deliveries SET status = ?1, attempts = attempts + 1, next_attempt_at = ?2, \
                 last_error = ?3, last_status = ?4, delivered_at = ?5 \
                 WHERE id = ?6 AND status = 'pending' AND next_attempt_at = ?7",
                vec![
                    status.into(),
                    next_attempt_at.into(),
                    error.into(),
                    answer.map(i64::from).into(),
                    delivered_at.into(),
                    delivery_id.as_str().into(),
                    claimed_until.into(),
                ],
            )
            .await?;
        if settled.rows_affected == 0 {
            delivery(None, &delivery_id).await?;
            return Err(Error::Conflict("the claim on this delivery ran out and another attempt took it".into()));
        }
        delivery(None, &delivery_id).await
    }

    async fn list_deliveries(
        workspace_id: String,
        endpoint_id: String,
        status: Option<DeliveryStatus>,
        limit: u32,
        before: Option<String>,
    ) -> Result<DeliveryPage, Error> {
        schema::MIGRATOR.ensure().await?;
        let before = match before.as_deref() {
            Some(cursor) => {
                keel_guest::cursor::decode('w', cursor).ok_or_else(|| Error::InvalidInput("malformed cursor".into()))?
            }
            None => i64::MAX,
        };
        bounded(limit)?;
        endpoint(&workspace_id, &endpoint_id).await?;
        let mut params: Vec<Value> =
            vec![workspace_id.into(), endpoint_id.into(), before.into(), Value::Integer(i64::from(limit) + 1)];
        let status_filter = match status {
            Some(status) => {
                params.push(status_name(status).into());
                " AND d.status = ?5"
            }
            None => "",
        };
        let rows = Autocommit
            .fetch(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.workspace_id = ?1 \
                     AND d.endpoint_id = ?2 AND d.seq < ?3{status_filter} ORDER BY d.seq DESC LIMIT ?4"
                ),
                params,
            )
            .await?;
        let mut found: Vec<(i64, Delivery)> = rows.decode(|row| Ok((row.integer("seq")?, decode_delivery(row)?)))?;
        let next_cursor = if found.len() > limit as usize {
            found.truncate(limit as usize);
            found.last().map(|(seq, _)| keel_guest::cursor::encode('w', *seq))
        } else {
            None
        };
        Ok(DeliveryPage { deliveries: found.into_iter().map(|(_, delivery)| delivery).collect(), next_cursor })
    }

    async fn replay(workspace_id: String, endpoint_id: String, delivery_id: String) -> Result<Delivery, Error> {
        schema::MIGRATOR.ensure().await?;
        let now = clock::now_ms();
        let replayed = Autocommit
            .exec(
                "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?1 \
                 WHERE workspace_id = ?2 AND endpoint_id = ?3 AND id = ?4 AND status = 'dead'",
                vec![
                    now.into(),
                    workspace_id.as_str().into(),
                    endpoint_id.as_str().into(),
                    delivery_id.as_str().into(),
                ],
            )
            .await?;
        let found = delivery(Some(&workspace_id), &delivery_id).await?;
        if found.endpoint_id != endpoint_id {
            return Err(Error::NotFound);
        }
        if replayed.rows_affected == 0 {
            return Err(Error::Conflict("only a dead delivery can be replayed".into()));
        }
        Ok(found)
    }
}

async fn endpoint(workspace_id: &str, endpoint_id: &str) -> Result<Endpoint, Error> {
    let rows = Autocommit
        .fetch(
            &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = ?1 AND id = ?2"),
            vec![workspace_id.into(), endpoint_id.into()],
        )
        .await?;
    rows.first().map(decode_endpoint).transpose()?.ok_or(Error::NotFound)
}

/// A delivery by id, within `workspace_id` when given.
async fn delivery(workspace_id: Option<&str>, delivery_id: &str) -> Result<Delivery, Error> {
    let rows = Autocommit
        .fetch(
            &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.id = ?1"),
            vec![delivery_id.into()],
        )
        .await?;
    let found = rows.first().map(decode_delivery).transpose()?.ok_or(Error::NotFound)?;
    match workspace_id {
        Some(workspace_id) if found.workspace_id != workspace_id => Err(Error::NotFound),
        _ => Ok(found),
    }
}

/// `limit` as a statement parameter: 1 to [`MAX_BATCH`].
fn bounded(limit: u32) -> Result<Value, Error> {
    if (1..=MAX_BATCH).contains(&limit) {
        Ok(i64::from(limit).into())
    } else {
        Err(Error::InvalidInput(format!("limit must be between 1 and {MAX_BATCH}")))
    }
}

fn status_name(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Dead => "dead",
    }
}

fn decode_endpoint(row: RowRef<'_>) -> Result<Endpoint, sql::Error> {
    Ok(Endpoint {
        id: row.text("id")?,
        workspace_id: row.text("workspace_id")?,
        url: row.text("url")?,
        events: row.text("events")?.split(',').map(str::to_owned).collect(),
        secret: row.text("secret")?,
        created_by: row.text("created_by")?,
        created_at: row.integer("created_at")?,
    })
}

fn decode_delivery(row: RowRef<'_>) -> Result<Delivery, sql::Error> {
    let status = match row.text("status")?.as_str() {
        "pending" => DeliveryStatus::Pending,
        "delivered" => DeliveryStatus::Delivered,
        "dead" => DeliveryStatus::Dead,
        other => return Err(sql::Error::Internal(format!("unknown delivery status {other:?}"))),
    };
    let last_status = if row.is_null("last_status")? {
        None
    } else {
        Some(u16::try_from(row.integer("last_status")?).map_err(|_| sql::Error::Internal("bad status".into()))?)
    };
    Ok(Delivery {
        id: row.text("id")?,
        endpoint_id: row.text("endpoint_id")?,
        workspace_id: row.text("workspace_id")?,
        event_id: row.text("event_id")?,
        kind: row.text("kind")?,
        status,
        attempts: u32::try_from(row.integer("attempts")?).unwrap_or(u32::MAX),
        next_attempt_at: row.integer("next_attempt_at")?,
        last_error: if row.is_null("last_error")? { None } else { Some(row.text("last_error")?) },
        last_status,
        created_at: row.integer("created_at")?,
        delivered_at: if row.is_null("delivered_at")? { None } else { Some(row.integer("delivered_at")?) },
    })
}

keel_guest::impl_from_sql_error!(Error);

export!(WebhookRepository);
