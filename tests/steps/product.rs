//! Steps in the product's own words (sign up, create a workspace, post …)
//! and for the conformance probes.

use cucumber::{given, then, when};
use serde_json::{Value, json};

use super::http::field;
use super::{KeelWorld, User};

const PASSWORD: &str = "correct-horse-1";

impl KeelWorld {
    async fn sign_up(&mut self, name: &str, email: &str, password: &str) {
        let body = json!({ "email": email, "password": password, "display_name": name }).to_string();
        let reply = self.send(None, "POST", "/v1/auth/signup", Some(body)).await.clone();
        if reply.status == 201 {
            let user = User {
                id: field(&reply.body, "user.id").and_then(Value::as_str).expect("user.id").to_string(),
                email: field(&reply.body, "user.email").and_then(Value::as_str).expect("user.email").to_string(),
                token: field(&reply.body, "token").and_then(Value::as_str).expect("token").to_string(),
            };
            self.ids.insert(format!("user:{name}"), user.id.clone());
            self.users.insert(name.to_string(), user);
        }
    }

    /// Use the verification link mailed to `name` at signup.
    async fn confirm_email(&mut self, name: &str) {
        let email = self.user(name).email.clone();
        let token = self.token_in_last_email_to(&email).await;
        let body = json!({ "token": token }).to_string();
        let reply = self.send(None, "POST", "/v1/auth/verify-email", Some(body)).await;
        assert_eq!(reply.status, 200, "POST /v1/auth/verify-email: {}", reply.body);
    }

    /// `owner` invites `member`'s address to `workspace` as `role`; the
    /// invitation id is kept as `{invitation:<member>}`.
    async fn invite(&mut self, owner: &str, member: &str, workspace: &str, role: &str) {
        let email = self.user(member).email.clone();
        let path = format!("/v1/workspaces/{{workspace:{workspace}}}/invitations");
        let body = self.expect_created(owner, &path, json!({ "email": email, "role": role })).await;
        let id = body["id"].as_str().expect("invitation id").to_string();
        self.ids.insert(format!("invitation:{member}"), id);
    }

    async fn expect_created(&mut self, user: &str, path: &str, body: Value) -> Value {
        let reply = self.send(Some(user), "POST", path, Some(body.to_string())).await;
        assert_eq!(reply.status, 201, "POST {path}: {}", reply.body);
        reply.body.clone()
    }

    fn channel_path(&self, channel: &str) -> String {
        let workspace = &self.channel_workspace[channel];
        format!("/v1/workspaces/{{workspace:{workspace}}}/channels/{{channel:{channel}}}/messages")
    }
}

impl KeelWorld {
    /// Everything `user` can see of `workspace`: the workspace, its members,
    /// its pending invitations, its audit trail, its channels and every
    /// message in each (the response that broke a
    /// refused request is kept aside and restored).
    async fn workspace_view(&mut self, user: &str, workspace: &str) -> Value {
        let kept = self.reply.take();
        let base = format!("/v1/workspaces/{{workspace:{workspace}}}");
        let mut view = json!({});
        for (key, path) in [
            ("workspace", base.clone()),
            ("members", format!("{base}/members")),
            ("channels", format!("{base}/channels")),
        ] {
            let reply = self.send(Some(user), "GET", &path, None).await;
            assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
            view[key] = reply.body.clone();
        }
        // Pending invitations and the audit trail, as far as `user`'s role
        // lets them see them (a refused request leaves no trace in either).
        for (key, path) in [("invitations", format!("{base}/invitations")), ("audit", format!("{base}/audit?limit=200"))] {
            let reply = self.send(Some(user), "GET", &path, None).await;
            view[key] = json!({ "status": reply.status, "body": reply.body.clone() });
        }
        let channels: Vec<String> = view["channels"]["channels"]
            .as_array()
            .expect("a channel list")
            .iter()
            .map(|c| c["id"].as_str().expect("channel id").to_string())
            .collect();
        for channel in channels {
            let path = format!("{base}/channels/{channel}/messages?limit=200");
            let reply = self.send(Some(user), "GET", &path, None).await;
            assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
            view["messages"][&channel] = reply.body.clone();
        }
        self.reply = kept;
        view
    }
}

#[given(expr = "{string} has noted what workspace {string} holds")]
async fn noted_workspace(world: &mut KeelWorld, user: String, workspace: String) {
    let view = world.workspace_view(&user, &workspace).await;
    world.remembered.insert(format!("view:{workspace}"), view);
}

#[then(expr = "workspace {string} holds for {string} exactly what it held before")]
async fn workspace_unchanged(world: &mut KeelWorld, workspace: String, user: String) {
    let before = world.remembered.get(&format!("view:{workspace}")).expect("a noted workspace").clone();
    let now = world.workspace_view(&user, &workspace).await;
    assert_eq!(now, before, "workspace {workspace} changed");
}

#[given(expr = "{string} has signed up")]
async fn has_signed_up(world: &mut KeelWorld, name: String) {
    world.sign_up(&name, &format!("{name}@example.com"), PASSWORD).await;
    assert_eq!(world.reply().status, 201, "{}", world.reply().body);
    world.confirm_email(&name).await;
}

#[given(expr = "{string} has signed up without confirming their email")]
async fn has_signed_up_unconfirmed(world: &mut KeelWorld, name: String) {
    world.sign_up(&name, &format!("{name}@example.com"), PASSWORD).await;
    assert_eq!(world.reply().status, 201, "{}", world.reply().body);
}

#[when(expr = "I remember the token in the last email to {string} as {string}")]
async fn remember_mailed_token(world: &mut KeelWorld, address: String, name: String) {
    let token = world.token_in_last_email_to(&address).await;
    world.ids.insert(name, token);
}

#[when(expr = "{string} keeps their current token as {string}")]
async fn keep_token(world: &mut KeelWorld, user: String, name: String) {
    let token = world.user(&user).token.clone();
    world.ids.insert(name, token);
}

#[when(expr = "{string} takes the token of the last response")]
async fn take_token(world: &mut KeelWorld, user: String) {
    let token =
        field(&world.reply().body, "token").and_then(Value::as_str).expect("a token in the response").to_string();
    world.users.get_mut(&user).unwrap_or_else(|| panic!("unknown user `{user}`")).token = token;
}

#[when(expr = "a client sends GET {string} with the token remembered as {string}")]
async fn get_with_token(world: &mut KeelWorld, path: String, name: String) {
    let token = world.ids.get(&name).unwrap_or_else(|| panic!("no token remembered as `{name}`")).clone();
    let header = ("authorization".to_string(), format!("Bearer {token}"));
    world.send_with_headers("GET", &path, None, vec![header]).await;
}

#[when(expr = "{string} signs up with email {string} and password {string}")]
async fn signs_up(world: &mut KeelWorld, name: String, email: String, password: String) {
    world.sign_up(&name, &email, &password).await;
}

#[when(expr = "{string} logs in with password {string}")]
async fn logs_in(world: &mut KeelWorld, name: String, password: String) {
    let email = world.user(&name).email.clone();
    let body = json!({ "email": email, "password": password }).to_string();
    world.send(None, "POST", "/v1/auth/login", Some(body)).await;
}

#[when(expr = "{string} sends GET {string} with a tampered token")]
async fn tampered_token(world: &mut KeelWorld, name: String, path: String) {
    let token = world.user(&name).token.clone();
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts");
    // Re-encode the payload with another subject, keep the old signature.
    let forged = parts[1].replace('A', "B");
    parts[1] = if forged == parts[1] { format!("{}A", parts[1]) } else { forged };
    let header = ("authorization".to_string(), format!("Bearer {}", parts.join(".")));
    world.send_with_headers("GET", &path, None, vec![header]).await;
}

#[given(expr = "{string} has created workspace {string}")]
async fn has_created_workspace(world: &mut KeelWorld, user: String, workspace: String) {
    let body = world.expect_created(&user, "/v1/workspaces", json!({ "name": workspace })).await;
    let id = body["id"].as_str().expect("workspace id").to_string();
    world.ids.insert(format!("workspace:{workspace}"), id);
}

#[given(expr = "{string} has invited {string} to workspace {string} as {string}")]
async fn has_invited(world: &mut KeelWorld, owner: String, member: String, workspace: String, role: String) {
    world.invite(&owner, &member, &workspace, &role).await;
}

/// Invitation and acceptance: the only way into a workspace.
#[given(expr = "{string} has added {string} to workspace {string} as {string}")]
async fn has_added_member(world: &mut KeelWorld, owner: String, member: String, workspace: String, role: String) {
    world.invite(&owner, &member, &workspace, &role).await;
    let path = format!("/v1/invitations/{{invitation:{member}}}/accept");
    let reply = world.send(Some(&member), "POST", &path, None).await;
    assert_eq!(reply.status, 200, "POST {path}: {}", reply.body);
}

#[given(expr = "{string} has created channel {string} in workspace {string}")]
async fn has_created_channel(world: &mut KeelWorld, user: String, channel: String, workspace: String) {
    let path = format!("/v1/workspaces/{{workspace:{workspace}}}/channels");
    let body = world.expect_created(&user, &path, json!({ "name": channel })).await;
    let id = body["id"].as_str().expect("channel id").to_string();
    world.ids.insert(format!("channel:{channel}"), id);
    world.channel_workspace.insert(channel, workspace);
}

#[given(expr = "{string} has posted {int} messages to channel {string}")]
async fn has_posted(world: &mut KeelWorld, user: String, count: usize, channel: String) {
    let path = world.channel_path(&channel);
    for i in 0..count {
        world.expect_created(&user, &path, json!({ "text": format!("message {i}") })).await;
    }
}

/// A message whose id `{message:NAME}` stands for in paths.
#[given(expr = "{string} has posted {string} to channel {string} as {string}")]
async fn has_posted_named(world: &mut KeelWorld, user: String, text: String, channel: String, name: String) {
    let path = world.channel_path(&channel);
    let body = world.expect_created(&user, &path, json!({ "text": text })).await;
    let id = body["id"].as_str().expect("message id").to_string();
    world.ids.insert(format!("message:{name}"), id);
}

#[given(expr = "{string} has mentioned {string} {int} times in channel {string}")]
async fn has_mentioned(world: &mut KeelWorld, user: String, mentioned: String, count: usize, channel: String) {
    let path = world.channel_path(&channel);
    let id = world.user(&mentioned).id.clone();
    for i in 0..count {
        world.expect_created(&user, &path, json!({ "text": format!("<@{id}> number {i}") })).await;
    }
}

#[when(expr = "{string} posts a message mentioning {int} people to channel {string}")]
async fn posts_many_mentions(world: &mut KeelWorld, user: String, count: usize, channel: String) {
    let path = world.channel_path(&channel);
    let text: String = (0..count).map(|i| format!("<@usr_someone{i}> ")).collect();
    world.send(Some(&user), "POST", &path, Some(json!({ "text": text }).to_string())).await;
}

#[given(expr = "{string} has replied {int} time(s) to {string} in channel {string}")]
async fn has_replied(world: &mut KeelWorld, user: String, count: usize, message: String, channel: String) {
    let path = format!("{}/{{message:{message}}}/replies", world.channel_path(&channel));
    for i in 0..count {
        world.expect_created(&user, &path, json!({ "text": format!("reply {i}") })).await;
    }
}

#[given(expr = "{string} has reacted to {string} in channel {string} with {int} different short codes")]
async fn has_reacted(world: &mut KeelWorld, user: String, message: String, channel: String, count: usize) {
    for i in 0..count {
        let path = format!("{}/{{message:{message}}}/reactions/:code-{i}:", world.channel_path(&channel));
        let reply = world.send(Some(&user), "PUT", &path, None).await;
        assert_eq!(reply.status, 200, "PUT {path}: {}", reply.body);
    }
}

#[when(expr = "{string} posts a message of {int} characters to channel {string}")]
async fn posts_long_message(world: &mut KeelWorld, user: String, length: usize, channel: String) {
    let path = world.channel_path(&channel);
    let body = json!({ "text": "é".repeat(length) }).to_string();
    world.send(Some(&user), "POST", &path, Some(body)).await;
}

#[when(expr = "{string} pages through channel {string} with limit {int}")]
async fn pages_through(world: &mut KeelWorld, user: String, channel: String, limit: usize) {
    let base = world.channel_path(&channel);
    let mut cursor: Option<String> = None;
    world.pages.clear();
    loop {
        let path = match &cursor {
            Some(c) => format!("{base}?limit={limit}&before={c}"),
            None => format!("{base}?limit={limit}"),
        };
        let reply = world.send(Some(&user), "GET", &path, None).await.clone();
        assert_eq!(reply.status, 200, "{}", reply.body);
        world.pages.push(reply.body["messages"].as_array().expect("messages").clone());
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(world.pages.len() < 100, "pagination does not end");
    }
}

#[then(regex = r"^the pages had ([\d, and]+) messages$")]
fn pages_had(world: &mut KeelWorld, counts: String) {
    let expected: Vec<usize> =
        counts.split([',', ' ']).filter(|s| !s.is_empty() && *s != "and").map(|s| s.parse().unwrap()).collect();
    let actual: Vec<usize> = world.pages.iter().map(Vec::len).collect();
    assert_eq!(actual, expected);
}

#[then("every message was seen once, newest first")]
fn newest_first(world: &mut KeelWorld) {
    let texts: Vec<String> =
        world.pages.iter().flatten().map(|m| m["text"].as_str().expect("text").to_string()).collect();
    let expected: Vec<String> = (0..texts.len()).rev().map(|i| format!("message {i}")).collect();
    assert_eq!(texts, expected);
}

#[then(expr = "the response field {string} is the id of {string}")]
fn is_user_id(world: &mut KeelWorld, path: String, user: String) {
    let id = world.user(&user).id.clone();
    assert_eq!(field(&world.reply().body, &path), Some(&Value::String(id)));
}

#[given(expr = "the probe executes {string}")]
async fn probe_executes(world: &mut KeelWorld, sql: String) {
    let body = json!({ "sql": sql, "params": [] }).to_string();
    let reply = world.send(None, "POST", "/execute", Some(body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[given(expr = "the probe has inserted items {string} with quantities {string}")]
async fn probe_inserts(world: &mut KeelWorld, names: String, quantities: String) {
    for (name, qty) in names.split(", ").zip(quantities.split(", ")) {
        let qty: i64 = qty.parse().unwrap();
        let body = json!({
            "sql": "INSERT INTO items (name, qty) VALUES (?1, ?2)",
            "params": [{ "text": name }, { "integer": qty }],
        });
        let reply = world.send(None, "POST", "/execute", Some(body.to_string())).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
}

#[then(regex = r"^the probe counts (\d+) items?$")]
async fn probe_counts(world: &mut KeelWorld, count: i64) {
    let body = json!({ "sql": "SELECT COUNT(*) AS n FROM items", "params": [] }).to_string();
    let reply = world.send(None, "POST", "/query", Some(body)).await;
    assert_eq!(field(&reply.body, "rows.0.0"), Some(&json!({ "integer": count })), "{}", reply.body);
}

#[when(regex = r"^the kv probe runs '(.*)'$")]
async fn kv_op(world: &mut KeelWorld, op: String) {
    world.send(None, "POST", "/op", Some(op)).await;
}

/// Poll until the field reads `null` (an expired key), failing after the
/// deadline: expiry is checked without betting on a fixed sleep.
#[when(regex = r#"^within (\d+) seconds? the kv probe runs '(.*)' until the response field "([^"]+)" is null$"#)]
async fn kv_poll_until_null(world: &mut KeelWorld, seconds: u64, op: String, path: String) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let reply = world.send(None, "POST", "/op", Some(op.clone())).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let value = field(&reply.body, &path).unwrap_or_else(|| panic!("no field `{path}` in {}", reply.body));
        if value.is_null() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "`{path}` still {value} after {seconds} s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[given(expr = "the kv probe has set keys {string}")]
async fn kv_set_keys(world: &mut KeelWorld, keys: String) {
    for key in keys.split(", ") {
        let body = json!({ "op": "set", "key": key, "value": "v" }).to_string();
        let reply = world.send(None, "POST", "/op", Some(body)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
}

#[when(expr = "{int} clients each increment {string} {int} times")]
async fn concurrent_increments(world: &mut KeelWorld, clients: usize, key: String, times: usize) {
    let body = json!({ "op": "increment", "key": key, "delta": 1 });
    increment_concurrently(world, clients, times, body).await;
}

#[when(expr = "{int} clients each increment {string} {int} times with a TTL of {int} seconds")]
async fn concurrent_ttl_increments(world: &mut KeelWorld, clients: usize, key: String, times: usize, ttl: u32) {
    let body = json!({ "op": "increment", "key": key, "delta": 1, "ttl_seconds": ttl });
    increment_concurrently(world, clients, times, body).await;
}

/// `clients` tasks each send the kv probe `body` `times` times, in parallel.
async fn increment_concurrently(world: &mut KeelWorld, clients: usize, times: usize, body: Value) {
    let url = format!("{}/op", world.server().base);
    let body = body.to_string();
    let tasks = (0..clients).map(|_| {
        let client = world.client.clone();
        let (url, body) = (url.clone(), body.clone());
        async move {
            for _ in 0..times {
                let response = client.post(&url).body(body.clone()).send().await.expect("request sent");
                let status = response.status();
                assert!(
                    status.is_success(),
                    "increment failed: {status} {}",
                    response.text().await.unwrap_or_default()
                );
            }
        }
    });
    futures::future::join_all(tasks).await;
}

#[given("the probe has created the items table in its dialect")]
async fn probe_creates_items(world: &mut KeelWorld) {
    let reply = world.send(None, "GET", "/dialect", None).await;
    let dialect = reply.body["dialect"].as_str().expect("dialect").to_string();
    let ddl = match dialect.as_str() {
        "postgres" => {
            "CREATE TABLE items (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name TEXT NOT NULL UNIQUE, \
             qty BIGINT, price DOUBLE PRECISION, data BYTEA)"
        }
        "mysql" => {
            "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(191) NOT NULL UNIQUE, \
             qty BIGINT, price DOUBLE, data LONGBLOB)"
        }
        _ => {
            "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, qty INTEGER, price REAL, data BLOB)"
        }
    };
    world.remembered.insert("dialect".into(), Value::String(dialect));
    probe_executes(world, ddl.to_string()).await;
}

/// `last-insert-id` is optional in the contract: an engine that reports one
/// must report the right one; PostgreSQL reports none.
#[then(expr = "the last insert id is {int} where the dialect reports one")]
fn last_insert_id(world: &mut KeelWorld, id: i64) {
    let reported = world.reply().body["last_insert_id"].clone();
    match world.remembered.get("dialect").and_then(Value::as_str) {
        Some("postgres") => assert_eq!(reported, Value::Null),
        _ => assert_eq!(reported, json!(id), "{}", world.reply().body),
    }
}

#[when(expr = "{string} accepts the invitation remembered as {string}")]
async fn accepts_remembered(world: &mut KeelWorld, user: String, name: String) {
    let id = world.remembered.get(&name).and_then(Value::as_str).map(str::to_owned);
    let id = id.unwrap_or_else(|| panic!("nothing remembered as `{name}`"));
    world.send(Some(&user), "POST", &format!("/v1/invitations/{id}/accept"), None).await;
}

/// Both owners' PATCH requests are in flight together.
#[when(expr = "{string} and {string} demote each other to {string} at once")]
async fn demote_each_other(world: &mut KeelWorld, first: String, second: String, role: String) {
    let workspace = world.ids["workspace:acme"].clone();
    let request = |actor: &str, target: &str| {
        let url = format!("{}/v1/workspaces/{workspace}/members/{}", world.server().base, world.user(target).id);
        world.client.patch(url).bearer_auth(&world.user(actor).token).json(&json!({ "role": role })).send()
    };
    let (a, b) = tokio::join!(request(&first, &second), request(&second, &first));
    let statuses: Vec<u16> = [a, b].into_iter().map(|reply| reply.expect("PATCH sent").status().as_u16()).collect();
    world.remembered.insert("demotions".into(), json!(statuses));
}

#[then("exactly one of the two demotions succeeded and the other was refused")]
fn one_demotion(world: &mut KeelWorld) {
    let mut statuses: Vec<u64> =
        world.remembered["demotions"].as_array().expect("statuses").iter().filter_map(Value::as_u64).collect();
    statuses.sort();
    assert!(statuses == [200, 403] || statuses == [200, 409], "{statuses:?}");
}

#[then(expr = "the workspace has exactly {int} owner(s)")]
fn owner_count(world: &mut KeelWorld, count: usize) {
    let members = world.reply().body["members"].as_array().expect("a member list");
    let owners = members.iter().filter(|member| member["role"] == "owner").count();
    assert_eq!(owners, count, "{members:#?}");
}

#[then(expr = "the account trail holds {int} {string} entries refused")]
async fn account_trail_refusals(world: &mut KeelWorld, expected: i64, action: String) {
    let query = format!(
        "SELECT count(*) FROM audit_entries WHERE scope = 'accounts' AND action = '{action}' AND outcome = 'refused'"
    );
    assert_eq!(world.server().count_on_database(&query).await, expected);
}

#[when(expr = "someone with access to the database changes the target of audit entry {int} of workspace {string} to {string}")]
async fn tamper_audit(world: &mut KeelWorld, sequence: u64, workspace: String, target: String) {
    let scope = world.ids[&format!("workspace:{workspace}")].clone();
    let statement =
        format!("UPDATE audit_entries SET target = '{target}' WHERE scope = '{scope}' AND sequence = {sequence}");
    world.server().execute_on_database(&statement).await;
}

/// `user` creates `count` workspaces, kept as the scenario's batch.
#[when(expr = "{string} creates {int} workspaces")]
async fn creates_workspaces(world: &mut KeelWorld, user: String, count: usize) {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let body = world.expect_created(&user, "/v1/workspaces", json!({ "name": format!("batch {i}") })).await;
        ids.push(body["id"].clone());
    }
    world.remembered.insert("batch".into(), json!({ "owner": user, "workspaces": ids }));
}

impl KeelWorld {
    /// Whether `flag` is enabled for the batch's owner in each workspace of
    /// the batch, in order; the answers are kept as the batch's answers.
    async fn batch_flags(&mut self, flag: &str) -> Vec<bool> {
        let batch = self.remembered["batch"].clone();
        let owner = batch["owner"].as_str().expect("the batch's owner");
        let mut answers = Vec::new();
        for id in batch["workspaces"].as_array().expect("the batch's workspaces") {
            let id = id.as_str().expect("a workspace id");
            let reply = self.send(Some(owner), "GET", &format!("/v1/workspaces/{id}/features"), None).await;
            assert_eq!(reply.status, 200, "GET …/features: {}", reply.body);
            let features = reply.body["features"].as_array().expect("features");
            let found =
                features.iter().find(|f| f["name"] == flag).unwrap_or_else(|| panic!("no {flag} in {features:?}"));
            answers.push(found["enabled"].as_bool().expect("enabled"));
        }
        answers
    }
}

#[then(expr = "between {int} and {int} of them have {string} enabled")]
async fn batch_enabled_between(world: &mut KeelWorld, low: usize, high: usize, flag: String) {
    let answers = world.batch_flags(&flag).await;
    let enabled = answers.iter().filter(|on| **on).count();
    assert!((low..=high).contains(&enabled), "{enabled} of {} workspaces have {flag} enabled", answers.len());
    world.remembered.insert("batch answers".into(), json!({ "flag": flag, "answers": answers }));
}

#[then("each of them gets the same answer when asked again")]
async fn batch_answers_are_stable(world: &mut KeelWorld) {
    let before = world.remembered["batch answers"].clone();
    let again = world.batch_flags(before["flag"].as_str().expect("the flag")).await;
    assert_eq!(json!(again), before["answers"], "a workspace's rollout answer changed");
}

/// Role-based access control through the API. Each cell of the table (an
/// action, one row; a role, one column) runs in a workspace of its own,
/// owned by "alice", where "olga" is another owner, "adam" an admin, "mia"
/// and "dave" members, with a channel and a message by "dave"; the owner,
/// admin, member and outsider columns are olga, adam, mia and "eve". In a
/// row's path, `{ws}` is the workspace's path, `{channel}` and `{message}`
/// dave's channel and message, `{dave}` his id.
#[then("each role gets these answers, each in a workspace of its own:")]
async fn role_matrix(world: &mut KeelWorld, step: &cucumber::gherkin::Step) {
    let table = step.table.as_ref().expect("| action | method | path | body | owner | admin | member | outsider |");
    let columns = [("owner", "olga"), ("admin", "adam"), ("member", "mia"), ("outsider", "eve")];
    let mut wrong = Vec::new();
    for (row, cells) in table.rows.iter().skip(1).enumerate() {
        let [action, method, path, body, expected @ ..] = cells.as_slice() else {
            panic!("a row needs an action, a method, a path, a body and four statuses");
        };
        for ((role, actor), expected) in columns.iter().zip(expected) {
            let workspace = format!("matrix-{row}-{role}");
            has_created_workspace(world, "alice".into(), workspace.clone()).await;
            for (member, as_role) in [("olga", "owner"), ("adam", "admin"), ("mia", "member"), ("dave", "member")] {
                has_added_member(world, "alice".into(), member.into(), workspace.clone(), as_role.into()).await;
            }
            let channel = format!("c{row}{role}");
            has_created_channel(world, "alice".into(), channel.clone(), workspace.clone()).await;
            has_posted_named(world, "dave".into(), "dave's".into(), channel.clone(), channel.clone()).await;
            let path = path
                .replace("{ws}", &format!("/v1/workspaces/{{workspace:{workspace}}}"))
                .replace("{channel}", &format!("{{channel:{channel}}}"))
                .replace("{message}", &format!("{{message:{channel}}}"))
                .replace("{dave}", &world.user("dave").id.clone());
            let body = (!body.is_empty()).then(|| body.clone());
            let status = world.send(Some(actor), method, &path, body).await.status;
            if status.to_string() != *expected {
                wrong.push(format!("{action} as {role}: {status}, expected {expected}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
