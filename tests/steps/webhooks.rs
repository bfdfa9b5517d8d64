//! Webhooks: a local receiver that holds deliveries to the Standard
//! Webhooks rules (<https://www.standardwebhooks.com>) when it answers, and
//! the steps that register it, run the dispatcher and inspect what arrived.
//!
//! The receiver takes a `POST` only with `content-type: application/json`
//! and a `content-length` (it reads no chunked body, as many do),
//! a `webhook-id` equal to the body's `id`, a `webhook-timestamp` within
//! five minutes of now and a `webhook-signature` whose `v1,` HMAC-SHA256 of
//! `id.timestamp.body` matches the secret the registration returned;
//! anything else is refused (400) and counted. Like a careful receiver, it
//! deduplicates on `webhook-id`: an event it has taken once is acknowledged
//! again but not taken twice.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use cucumber::{given, then, when};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use serde_json::Value;

use super::{KeelWorld, MockServer};

/// The dispatch secret the scenarios' servers are given.
const DISPATCH_SECRET: &str = "keel-test-dispatch-secret-0123456789abcdef";
/// How far a signed timestamp may be from now.
const TOLERANCE_SECS: u64 = 5 * 60;
/// The longest a step waits for the dispatcher to get somewhere.
const PATIENCE: Duration = Duration::from_secs(20);

/// What the receiver does with a well-formed, well-signed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Take it (204).
    Accept,
    /// Answer 503 without taking it.
    Unavailable,
    /// Take it, then fail to acknowledge it (500) the first time.
    AckFailsOnce,
}

/// One request the receiver answered.
#[derive(Debug, Clone)]
struct Attempt {
    id: String,
    at: Instant,
    status: u16,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    secret: Option<String>,
    attempts: Vec<Attempt>,
    /// The events taken, once each, in order: the body of each.
    taken: Vec<Value>,
    taken_ids: HashSet<String>,
    /// Requests refused for breaking the rules, with the reason.
    refused: Vec<String>,
    /// Ids whose acknowledgement already failed once (`AckFailsOnce`).
    failed_once: HashSet<String>,
}

pub struct Receiver {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    state: Arc<Mutex<State>>,
    _server: MockServer,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("base", &self.base).finish()
    }
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Accept,
            secret: None,
            attempts: Vec::new(),
            taken: Vec::new(),
            taken_ids: HashSet::new(),
            refused: Vec::new(),
            failed_once: HashSet::new(),
        }));
        let shared = state.clone();
        let (base, server) = super::serve_mock(move |request| answer(shared.clone(), request)).await;
        Receiver { base, state, _server: server }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

async fn answer(
    state: Arc<Mutex<State>>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|collected| collected.to_bytes()).unwrap_or_default();
    let header = |name: &str| parts.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
    let id = header("webhook-id");
    let mut state = state.lock().unwrap();
    let verdict = check(&state, &parts.method, &header, &body);
    let status = match verdict {
        Err(reason) => {
            state.refused.push(reason);
            400
        }
        Ok(event) => match state.mode {
            Mode::Unavailable => 503,
            Mode::Accept | Mode::AckFailsOnce => {
                if state.taken_ids.insert(id.clone()) {
                    state.taken.push(event);
                }
                if state.mode == Mode::AckFailsOnce && state.failed_once.insert(id.clone()) { 500 } else { 204 }
            }
        },
    };
    state.attempts.push(Attempt { id, at: Instant::now(), status });
    let reply = Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .body(Full::new(Bytes::from(if status >= 400 { "receiver says no" } else { "" })))
        .expect("response");
    Ok(reply)
}

/// The event a request carries, if it keeps the Standard Webhooks rules.
fn check(state: &State, method: &hyper::Method, header: &dyn Fn(&str) -> String, body: &[u8]) -> Result<Value, String> {
    if method != hyper::Method::POST {
        return Err(format!("method {method}"));
    }
    // Like many receivers, it does not read chunked bodies.
    if header("content-length").is_empty() {
        return Err("no content-length (a chunked body)".into());
    }
    if !header("content-type").starts_with("application/json") {
        return Err(format!("content-type {:?}", header("content-type")));
    }
    let (id, timestamp, signatures) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    if id.is_empty() || timestamp.is_empty() || signatures.is_empty() {
        return Err("a webhook-id, webhook-timestamp or webhook-signature header is missing".into());
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let sent: u64 = timestamp.parse().map_err(|_| format!("webhook-timestamp {timestamp:?}"))?;
    if sent.abs_diff(now) > TOLERANCE_SECS {
        return Err(format!("webhook-timestamp {sent} is too far from {now}"));
    }
    let secret = state.secret.as_deref().ok_or("no webhook is registered yet")?;
    let key =
        STANDARD.decode(secret.strip_prefix("whsec_").ok_or("secret without whsec_")?).map_err(|e| e.to_string())?;
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let expected = format!("v1,{}", STANDARD.encode(hmac_sha256(&key, &signed)));
    if !signatures.split(' ').any(|signature| signature == expected) {
        return Err(format!("webhook-signature {signatures:?} does not match"));
    }
    let event: Value = serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    if event["id"] != id.as_str() {
        return Err(format!("body id {} is not webhook-id {id}", event["id"]));
    }
    Ok(event)
}

/// HMAC-SHA256 (RFC 2104), written out so the check shares no code with
/// the component it checks.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

impl KeelWorld {
    fn receiver(&self) -> &Receiver {
        self.receiver.as_ref().expect("a webhook receiver (missing Given step?)")
    }

    async fn dispatch(&mut self) -> u16 {
        let headers = vec![("authorization".to_owned(), format!("Bearer {DISPATCH_SECRET}"))];
        self.send_with_headers("POST", "/internal/dispatch", None, headers).await.status
    }

    /// Run the dispatcher every 200 ms until `done` holds (or fail after
    /// [`PATIENCE`]).
    async fn dispatch_until(&mut self, what: &str, done: impl Fn(&mut KeelWorld) -> bool) {
        let started = Instant::now();
        loop {
            assert_eq!(self.dispatch().await, 200, "the dispatcher failed: {}", self.reply().body);
            if done(self) {
                return;
            }
            assert!(started.elapsed() < PATIENCE, "after {PATIENCE:?} of dispatching, still not {what}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The product, allowed to reach the scenario's receiver, with a dispatch
/// secret, a one-second first retry and mail sent as soon as it is due
/// (unless `extra` says otherwise).
async fn start_with_receiver(world: &mut KeelWorld, extra: Vec<(String, String)>) {
    let receiver = Receiver::start().await;
    let mut variables = vec![
        ("dispatch_secret".to_owned(), DISPATCH_SECRET.to_owned()),
        ("webhook_retry_seconds".to_owned(), "1".to_owned()),
        ("notification_digest_seconds".to_owned(), "0".to_owned()),
    ];
    variables.retain(|(name, _)| extra.iter().all(|(given, _)| given != name));
    variables.extend(extra);
    super::server::start_team_collab_reaching(world, &receiver.base, variables).await;
    world.receiver = Some(receiver);
}

#[given("a running team-collab server that may call the webhook receiver")]
#[given("a running team-collab server with its dispatcher")]
async fn server_with_receiver(world: &mut KeelWorld) {
    start_with_receiver(world, Vec::new()).await;
}

#[given(expr = "a running team-collab server that may call the webhook receiver, {int} attempts per delivery")]
async fn server_with_receiver_and_attempts(world: &mut KeelWorld, attempts: u32) {
    start_with_receiver(world, vec![("webhook_max_attempts".to_owned(), attempts.to_string())]).await;
}

#[given(expr = "a running team-collab server with its dispatcher, mail after {int} second(s)")]
async fn server_with_digest_window(world: &mut KeelWorld, seconds: u32) {
    start_with_receiver(world, vec![("notification_digest_seconds".to_owned(), seconds.to_string())]).await;
}

#[given(expr = "a running team-collab server without a dispatch secret")]
async fn server_without_dispatch_secret(world: &mut KeelWorld) {
    let receiver = Receiver::start().await;
    super::server::start_team_collab_reaching(world, &receiver.base, Vec::new()).await;
    world.receiver = Some(receiver);
}

#[given("the webhook receiver answers 503")]
#[when("the webhook receiver answers 503")]
async fn receiver_unavailable(world: &mut KeelWorld) {
    world.receiver().state().mode = Mode::Unavailable;
}

#[given("the webhook receiver takes each delivery but fails to acknowledge it the first time")]
async fn receiver_ack_fails_once(world: &mut KeelWorld) {
    world.receiver().state().mode = Mode::AckFailsOnce;
}

#[when("the webhook receiver recovers")]
async fn receiver_recovers(world: &mut KeelWorld) {
    world.receiver().state().mode = Mode::Accept;
}

#[when(expr = "{string} registers the webhook receiver for {string}")]
async fn register_receiver(world: &mut KeelWorld, user: String, events: String) {
    register(world, &user, "acme", &format!("{}/hooks/keel", world.receiver().base), &events).await;
    if world.reply().status == 201 {
        let secret = world.reply().body["secret"].as_str().expect("a secret").to_owned();
        let id = world.reply().body["id"].as_str().expect("an id").to_owned();
        world.receiver().state().secret = Some(secret);
        world.ids.insert("webhook:receiver".to_owned(), id);
    }
}

#[when(expr = "{string} registers the webhook URL {string} for {string} as {string}")]
async fn register_url(world: &mut KeelWorld, user: String, url: String, events: String, name: String) {
    register(world, &user, "acme", &url, &events).await;
    if world.reply().status == 201 {
        let id = world.reply().body["id"].as_str().expect("an id").to_owned();
        world.ids.insert(format!("webhook:{name}"), id);
    }
}

async fn register(world: &mut KeelWorld, user: &str, workspace: &str, url: &str, events: &str) {
    let events: Vec<&str> = events.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
    let body = serde_json::json!({ "url": url, "events": events }).to_string();
    let path = format!("/v1/workspaces/{{workspace:{workspace}}}/webhooks");
    world.send(Some(user), "POST", &path, Some(body)).await;
}

#[when("the dispatcher runs")]
async fn dispatcher_runs(world: &mut KeelWorld) {
    world.dispatch().await;
}

#[when(regex = r"^the dispatcher runs until the receiver has taken (\d+) events?$")]
async fn dispatch_until_taken(world: &mut KeelWorld, count: usize) {
    world.dispatch_until(&format!("{count} events taken"), |world| world.receiver().state().taken.len() >= count).await;
}

#[when(regex = r"^the dispatcher runs until the receiver has been asked (\d+) times?$")]
async fn dispatch_until_asked(world: &mut KeelWorld, count: usize) {
    world
        .dispatch_until(&format!("asked {count} times"), |world| world.receiver().state().attempts.len() >= count)
        .await;
}

#[when(expr = "the dispatcher runs until {string} received {int} email(s)")]
async fn dispatch_until_mailed(world: &mut KeelWorld, user: String, count: usize) {
    let started = Instant::now();
    loop {
        assert_eq!(world.dispatch().await, 200, "the dispatcher failed: {}", world.reply().body);
        let received = world.mailbox(&user).await.len();
        assert!(received <= count, "`{user}` received {received} emails, more than {count}");
        if received == count {
            return;
        }
        assert!(started.elapsed() < PATIENCE, "after {PATIENCE:?} of dispatching, `{user}` has {received} emails");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Keep dispatching (every 200 ms) for a while: what is due by then is sent.
#[when(expr = "the dispatcher runs for {int} second(s)")]
async fn dispatch_for(world: &mut KeelWorld, seconds: u64) {
    let until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < until {
        assert_eq!(world.dispatch().await, 200, "the dispatcher failed: {}", world.reply().body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Quiet hours (UTC) that hold now: from the last full hour before an hour
/// ago to the next full hour after an hour from now.
#[when(expr = "{string} sets quiet hours around now")]
async fn quiet_hours_around_now(world: &mut KeelWorld, user: String) {
    let hour = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs() / 3600 % 24;
    let (start, end) = ((hour + 23) % 24, (hour + 2) % 24);
    let body = format!(r#"{{"quiet_hours":{{"start":"{start:02}:00","end":"{end:02}:00","utc_offset_minutes":0}}}}"#);
    let status = world.send(Some(&user), "PATCH", "/v1/me/notification-preferences", Some(body)).await.status;
    assert_eq!(status, 200, "quiet hours not set: {}", world.reply().body);
}

#[when(expr = "{int} dispatchers run at once")]
async fn dispatchers_at_once(world: &mut KeelWorld, count: usize) {
    let url = format!("{}/internal/dispatch", world.server().base);
    let requests =
        (0..count).map(|_| world.client.post(&url).header("authorization", format!("Bearer {DISPATCH_SECRET}")).send());
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.expect("dispatch sent").status().as_u16(), 200);
    }
}

#[when(regex = r#"^the dispatcher runs until "([^"]+)" sees (\d+) dead deliver(?:y|ies) of webhook "([^"]+)"$"#)]
async fn dispatch_until_dead(world: &mut KeelWorld, user: String, count: usize, webhook: String) {
    let path = format!("/v1/workspaces/{{workspace:acme}}/webhooks/{{webhook:{webhook}}}/deliveries?status=dead");
    let path = path.as_str();
    let started = Instant::now();
    loop {
        world.dispatch().await;
        world.send(Some(&user), "GET", path, None).await;
        let dead = world.reply().body["deliveries"].as_array().map_or(0, Vec::len);
        if dead >= count {
            return;
        }
        assert!(started.elapsed() < PATIENCE, "after {PATIENCE:?}, {dead} dead deliveries, not {count}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[when(expr = "{string} replays the dead delivery of the webhook receiver")]
async fn replay_dead(world: &mut KeelWorld, user: String) {
    let listing = "/v1/workspaces/{workspace:acme}/webhooks/{webhook:receiver}/deliveries?status=dead";
    world.send(Some(&user), "GET", listing, None).await;
    let id = world.reply().body["deliveries"][0]["id"].as_str().expect("a dead delivery").to_owned();
    world.ids.insert("delivery:dead".to_owned(), id);
    let path = "/v1/workspaces/{workspace:acme}/webhooks/{webhook:receiver}/deliveries/{delivery:dead}/replay";
    world.send(Some(&user), "POST", path, None).await;
}

#[then(regex = r"^within (\d+) seconds the receiver has taken (\d+) events? without anyone running the dispatcher$")]
async fn taken_by_itself(world: &mut KeelWorld, seconds: u64, count: usize) {
    let started = Instant::now();
    while world.receiver().state().taken.len() < count {
        assert!(started.elapsed() < Duration::from_secs(seconds), "the cron trigger delivered nothing in {seconds} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[then(expr = "the receiver has taken {string}, each once and each signed")]
async fn taken_kinds(world: &mut KeelWorld, kinds: String) {
    let state = world.receiver().state();
    assert!(state.refused.is_empty(), "the receiver refused requests: {:?}", state.refused);
    let mut got: Vec<&str> = state.taken.iter().map(|event| event["type"].as_str().unwrap_or("?")).collect();
    let mut expected: Vec<&str> = kinds.split(',').map(str::trim).collect();
    got.sort_unstable();
    expected.sort_unstable();
    assert_eq!(got, expected, "events taken: {:?}", state.taken);
    let ids: HashSet<&str> = state.taken.iter().filter_map(|event| event["id"].as_str()).collect();
    assert_eq!(ids.len(), state.taken.len(), "an event id was reused: {:?}", state.taken);
}

#[then(expr = "every event the receiver took is about workspace {string}, done by {string}")]
async fn taken_about(world: &mut KeelWorld, workspace: String, user: String) {
    let workspace_id = world.ids[&format!("workspace:{workspace}")].clone();
    let actor = world.user(&user).id.clone();
    for event in &world.receiver().state().taken {
        assert_eq!(event["data"]["workspace_id"], workspace_id.as_str(), "{event}");
        assert_eq!(event["data"]["actor_id"], actor.as_str(), "{event}");
        assert!(event["data"]["subject_id"].as_str().is_some_and(|s| !s.is_empty()), "{event}");
        assert!(event["created_at"].as_i64().is_some(), "{event}");
    }
}

#[then(expr = "the receiver has been asked {int} times, always for the same event")]
async fn asked_for_one(world: &mut KeelWorld, count: usize) {
    let state = world.receiver().state();
    assert_eq!(state.attempts.len(), count, "attempts: {:?}", state.attempts);
    let ids: HashSet<&str> = state.attempts.iter().map(|attempt| attempt.id.as_str()).collect();
    assert_eq!(ids.len(), 1, "attempts: {:?}", state.attempts);
}

#[then(regex = r"^the waits between the attempts were at least ([\d., and]+) seconds$")]
async fn waits_at_least(world: &mut KeelWorld, waits: String) {
    let expected: Vec<f64> =
        waits.replace(" and ", ", ").split(',').map(|wait| wait.trim().parse().expect("a number of seconds")).collect();
    let state = world.receiver().state();
    let gaps: Vec<f64> =
        state.attempts.windows(2).map(|pair| pair[1].at.duration_since(pair[0].at).as_secs_f64()).collect();
    assert_eq!(gaps.len(), expected.len(), "gaps {gaps:?}");
    for (gap, least) in gaps.iter().zip(&expected) {
        // The scheduler's clock is in milliseconds; allow for rounding.
        assert!(*gap >= least - 0.05, "waits {gaps:?}, expected at least {expected:?}");
    }
}

#[then(expr = "the receiver has been asked {int} times and took {int} events")]
async fn asked_and_took(world: &mut KeelWorld, asked: usize, took: usize) {
    let state = world.receiver().state();
    assert!(state.refused.is_empty(), "the receiver refused requests: {:?}", state.refused);
    assert_eq!((state.attempts.len(), state.taken.len()), (asked, took), "attempts: {:?}", state.attempts);
    // Each event was acknowledged once: nothing came after a 2xx.
    let acknowledged = state.attempts.iter().filter(|attempt| (200..300).contains(&attempt.status)).count();
    assert_eq!(acknowledged, took, "attempts: {:?}", state.attempts);
}

#[then("the receiver has not been asked")]
async fn not_asked(world: &mut KeelWorld) {
    let state = world.receiver().state();
    assert!(state.attempts.is_empty(), "attempts: {:?}", state.attempts);
}
