//! `keel up` under abuse: each test starts the real binary on loopback with
//! a composed component from `dist/` (built by `scripts/build-components.sh`)
//! and attacks it the way a hostile client or an impatient operator would.
//! Every loop is bounded in count and time.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_and_idle_connections_are_closed_and_others_still_served() {
    let keel = Keel::start(PROBE, &["--header-read-timeout", "1s", "--connection-idle-timeout", "2s"]).await;

    // 200 clients that send part of a request head and stop.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(keel.addr).await.unwrap();
        stream.write_all(b"POST /op HTTP/1.1\r\nhost: localhost\r\nx-slow: ").await.unwrap();
        slow.push(stream);
    }
    // A keep-alive client that finished its request and went quiet.
    let mut idle = TcpStream::connect(keel.addr).await.unwrap();
    let op = r#"{"op":"get","key":"k"}"#;
    idle.write_all(format!("POST /op HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\n\r\n{op}", op.len()).as_bytes())
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    // Meanwhile, a well-behaved client is served.
    let response = keel.request("POST", "/op", None, op).await;
    assert_eq!(response.status, 200, "{}", response.body);

    let started = Instant::now();
    for stream in &mut slow {
        assert!(closed_by_server(stream, Duration::from_secs(5)).await, "a slow request head was kept open");
    }
    assert!(closed_by_server(&mut idle, Duration::from_secs(5)).await, "an idle keep-alive connection was kept open");
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_gets_408() {
    let keel = Keel::start(PROBE, &["--body-read-timeout", "1s"]).await;
    let mut stream = TcpStream::connect(keel.addr).await.unwrap();
    stream
        .write_all(b"POST /op HTTP/1.1\r\nhost: localhost\r\ncontent-length: 100\r\n\r\n{\"op\":")
        .await
        .unwrap();
    let response = read_response(&mut stream).await;
    assert_eq!(response.status, 408, "{response:?}");
    assert!(response.body.contains(r#""code":"timeout""#), "{}", response.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_header_cannot_reroute_a_request() {
    let keel = Keel::start(PRODUCT, &[]).await;
    let signup = r#"{"email":"host@example.com","password":"correct-horse-1","display_name":"Host"}"#;
    for host in ["x/v1/auth/signup?", "x?", "user@x", "x#/v1/auth/signup"] {
        let response = keel
            .raw(&format!(
                "POST /healthz HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{signup}",
                signup.len()
            ))
            .await;
        assert_eq!(response.status, 400, "Host {host:?}: {response:?}");
        assert!(response.body.contains("invalid Host header"), "{}", response.body);
    }
    // Nothing was created: the email is still free.
    let response = keel.request("POST", "/v1/auth/signup", None, signup).await;
    assert_eq!(response.status, 201, "{}", response.body);
    // A valid Host with a port is fine.
    let response = keel.raw("GET /healthz HTTP/1.1\r\nhost: keel.example:8080\r\nconnection: close\r\n\r\n").await;
    assert_eq!(response.status, 200, "{response:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_400_clients_gets_no_5xx() {
    let keel = Keel::start(PRODUCT, &[]).await;
    let token = keel.signup("burst@example.com").await;
    let keel = std::sync::Arc::new(keel);
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..400 {
        let keel = keel.clone();
        let token = token.clone();
        clients.spawn(async move { keel.request("GET", "/v1/me", Some(&token), "").await });
    }
    let mut statuses = std::collections::BTreeMap::new();
    let mut refused = Vec::new();
    while let Some(response) = clients.join_next().await {
        let response = response.unwrap();
        *statuses.entry(response.status).or_insert(0) += 1;
        if response.status != 200 {
            refused.push(format!("{} {}", response.status, response.body));
        }
    }
    assert_eq!(statuses.get(&200), Some(&400), "statuses: {statuses:?}; answers other than 200: {refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_beyond_the_queue_is_shed_with_503_and_retry_after() {
    // One request at a time, one waiting, a short wait: the third of three
    // runaway requests is shed at once.
    let keel = std::sync::Arc::new(
        Keel::start(
            PROBE,
            &["--max-concurrent-requests", "1", "--max-queued-requests", "1", "--queue-timeout", "5s", "--request-timeout", "1s"],
        )
        .await,
    );
    let mut runaways = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let keel = keel.clone();
        runaways.spawn(async move { keel.request("POST", "/fault/spin", None, "").await.status });
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let shed = keel.request("POST", "/op", None, r#"{"op":"get","key":"k"}"#).await;
    assert_eq!(shed.status, 503, "{shed:?}");
    assert_eq!(shed.header("retry-after"), Some("1"), "{shed:?}");
    assert!(shed.body.contains(r#""code":"unavailable""#), "{}", shed.body);
    // The queued runaway waited its turn, then ran into its own timeout.
    let mut statuses = Vec::new();
    while let Some(status) = runaways.join_next().await {
        statuses.push(status.unwrap());
    }
    assert_eq!(statuses, vec![504, 504]);
    let after = keel.request("POST", "/op", None, r#"{"op":"get","key":"k"}"#).await;
    assert_eq!(after.status, 200, "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_requests_in_flight_then_exits() {
    let mut keel = Keel::start(PROBE, &["--request-timeout", "2s", "--shutdown-grace", "10s"]).await;
    let addr = keel.addr;
    let in_flight = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /fault/spin HTTP/1.1\r\nhost: localhost\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        read_response(&mut stream).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = keel.child.id().expect("running") as i32;
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc_kill(pid, 15) }, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting after SIGTERM");

    // The request in flight still gets its answer (its own 504 after 2 s).
    let response = in_flight.await.unwrap();
    assert_eq!(response.status, 504, "{response:?}");
    let status = tokio::time::timeout(Duration::from_secs(5), keel.child.wait()).await.expect("exits after draining").unwrap();
    assert!(status.success(), "{status:?}");
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_reached_is_named_without_its_password() {
    let unreachable = "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://keel:s3cret-pw@127.0.0.1:1/0\"\n";
    let err = Keel::try_start(PROBE, &[], Some(unreachable)).await.err().expect("refused");
    assert!(err.contains("key-value store `default`") && err.contains("redis://keel:***@127.0.0.1:1/0"), "{err}");
    assert!(!err.contains("s3cret-pw"), "the password reached the log: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_runtime_config_stops_start_up_naming_file_line_and_fix() {
    let misspelled = "[key_value_store.default]\ntype = \"spin\"\npth = \"kv.db\"\n";
    let err = Keel::try_start(PROBE, &[], Some(misspelled)).await.err().expect("refused");
    assert!(err.contains("runtime-config.toml:3:") && err.contains("pth"), "{err}");

    let undeclared = repo_root().join("tests/probes/kv-probe/spin.toml");
    let text = std::fs::read_to_string(&undeclared).unwrap().replace(
        "key_value_stores = [\"default\"]",
        "key_value_stores = [\"default\", \"cache\", \"sessions\"]",
    );
    let dir = TempDir::new("manifest");
    let manifest = dir.0.join("spin.toml");
    std::fs::write(&manifest, text.replace("../../../dist/", &format!("{}/dist/", repo_root().display()))).unwrap();
    let err = Keel::try_start(manifest.to_str().unwrap(), &[], None).await.err().expect("refused");
    assert!(err.contains("key_value_store `cache`: add [key_value_store.cache]"), "{err}");
    assert!(err.contains("key_value_store `sessions`: add [key_value_store.sessions]"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_write_load_loses_no_acknowledged_write() {
    // Far more writes than one user may make per minute: lift that limit.
    let keel = Keel::start(PRODUCT, &["--variable", "rate_limit_writes_per_user=off"]).await;
    let token = keel.signup("durable@example.com").await;
    let id = |response: Response| -> String {
        assert_eq!(response.status, 201, "{}", response.body);
        let json: serde_json::Value = serde_json::from_str(&response.body).unwrap();
        json["id"].as_str().unwrap().to_string()
    };
    let workspace = id(keel.request("POST", "/v1/workspaces", Some(&token), r#"{"name":"Durable"}"#).await);
    let channels = format!("/v1/workspaces/{workspace}/channels");
    let channel = id(keel.request("POST", &channels, Some(&token), r#"{"name":"writes"}"#).await);
    let messages = format!("{channels}/{channel}/messages");

    // Eight writers post until the process dies; each keeps the texts the
    // server acknowledged with 201.
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..8 {
        let (addr, token, messages) = (keel.addr, token.clone(), messages.clone());
        writers.spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0..10_000 {
                let text = format!("w{writer}-{n}");
                let body = format!(r#"{{"text":"{text}"}}"#);
                let Ok(response) =
                    tokio::time::timeout(Duration::from_secs(5), Keel::request_fallible(addr, "POST", &messages, &token, &body))
                        .await
                else {
                    break;
                };
                match response {
                    Some(response) if response.status == 201 => acknowledged.push(text),
                    Some(response) => panic!("a write failed before the kill: {} {}", response.status, response.body),
                    None => break,
                }
            }
            acknowledged
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let state = keel.kill_9().await;
    let mut acknowledged = Vec::new();
    while let Some(texts) = writers.join_next().await {
        acknowledged.extend(texts.unwrap());
    }
    assert!(acknowledged.len() > 50, "the load wrote only {} messages before the kill", acknowledged.len());

    // The database opens cleanly and holds every acknowledged message.
    let keel = Keel::try_start_on(state, PRODUCT, &[], None).await.expect("restart after kill -9");
    let mut stored = std::collections::HashSet::new();
    let mut before = String::new();
    loop {
        let page = keel.request("GET", &format!("{messages}?limit=200{before}"), Some(&token), "").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let json: serde_json::Value = serde_json::from_str(&page.body).unwrap();
        for message in json["messages"].as_array().unwrap() {
            stored.insert(message["text"].as_str().unwrap().to_string());
        }
        match json["next_cursor"].as_str() {
            Some(cursor) => before = format!("&before={cursor}"),
            None => break,
        }
    }
    let lost: Vec<_> = acknowledged.iter().filter(|text| !stored.contains(*text)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged writes lost: {:?}", lost.len(), acknowledged.len(), &lost[..lost.len().min(5)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_has_one_json_line_per_request() {
    let keel = Keel::start(PRODUCT, &["--access-log"]).await;
    keel.signup("logged@example.com").await;
    let response = keel
        .raw("GET /healthz HTTP/1.1\r\nhost: localhost\r\nx-request-id: probe-7\r\nconnection: close\r\n\r\n")
        .await;
    assert_eq!(response.status, 200, "{response:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let lines = loop {
        let lines: Vec<serde_json::Value> = keel
            .stdout
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        if lines.len() >= 2 || tokio::time::Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let (signup, healthz) = (&lines[0], &lines[1]);
    assert_eq!(signup["method"], "POST");
    assert_eq!(signup["path"], "/v1/auth/signup");
    assert_eq!(signup["status"], 201);
    assert!(signup["request_id"].as_str().is_some_and(|id| id.starts_with("req_")), "{signup}");
    assert_eq!(healthz["request_id"], "probe-7");
    assert_eq!(healthz["component"], "team-collab");
    assert_eq!(healthz["status"], 200);
    assert_eq!(healthz["bytes"], br#"{"status":"ok"}"#.len());
    assert!(healthz.get("incomplete").is_none(), "{healthz}");
    assert!(healthz["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{healthz}");
    assert!(healthz["client"].as_str().is_some_and(|client| client.starts_with("127.0.0.1:")), "{healthz}");
}

/// A channel of a fresh workspace: (token, events path, messages path).
async fn channel(keel: &Keel, email: &str) -> (String, String, String) {
    let token = keel.signup(email).await;
    let created = keel.request("POST", "/v1/workspaces", Some(&token), r#"{"name":"acme"}"#).await;
    let workspace: serde_json::Value = serde_json::from_str(&created.body).unwrap();
    let base = format!("/v1/workspaces/{}", workspace["id"].as_str().unwrap());
    let created = keel.request("POST", &format!("{base}/channels"), Some(&token), r#"{"name":"general"}"#).await;
    let channel: serde_json::Value = serde_json::from_str(&created.body).unwrap();
    let base = format!("{base}/channels/{}", channel["id"].as_str().unwrap());
    (token, format!("{base}/events"), format!("{base}/messages"))
}

/// Open an event stream and read up to its first event or comment.
async fn open_stream(keel: &Keel, path: &str, token: &str) -> TcpStream {
    let mut stream = TcpStream::connect(keel.addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nhost: localhost\r\naccept: text/event-stream\r\nauthorization: Bearer {token}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let opened = read_until(&mut stream, ": open", Duration::from_secs(10)).await;
    assert!(opened.starts_with("HTTP/1.1 200"), "{opened}");
    assert!(opened.to_ascii_lowercase().contains("content-type: text/event-stream"), "{opened}");
    stream
}

/// What `stream` sends until `wanted` appears (panics after `within`).
async fn read_until(stream: &mut TcpStream, wanted: &str, within: Duration) -> String {
    let mut seen = Vec::new();
    let deadline = Instant::now() + within;
    while !String::from_utf8_lossy(&seen).contains(wanted) {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout_at(deadline.into(), stream.read(&mut chunk)).await;
        match read {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&chunk[..n]),
            other => panic!("no {wanted:?} ({other:?}); got {:?}", String::from_utf8_lossy(&seen)),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_outlives_the_request_timeout() {
    // Streams were cut once the instance had spent a request timeout after
    // its last response.
    let keel = Keel::start(PRODUCT, &["--request-timeout", "1s"]).await;
    let (token, events, messages) = channel(&keel, "streams@example.com").await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(open_stream(&keel, &events, &token).await);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let posted = keel.request("POST", &messages, Some(&token), r#"{"text":"still there?"}"#).await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    for stream in &mut streams {
        let got = read_until(stream, "still there?", Duration::from_secs(5)).await;
        assert!(got.contains("event: message.created"), "{got}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_do_not_pin_an_instance_each() {
    // With instances replaced after every other request, streams opened
    // between ordinary requests each held a retired instance alive (a pool
    // slot and its memory) until the stream ended, and the pool ran out.
    let keel = Keel::start(PRODUCT, &["--max-instance-reuse-count", "2"]).await;
    let (token, events, _) = channel(&keel, "pinned@example.com").await;
    let mut streams = Vec::new();
    for _ in 0..150 {
        streams.push(open_stream(&keel, &events, &token).await);
        let me = keel.request("GET", "/v1/me", Some(&token), "").await;
        assert_eq!(me.status, 200, "with {} streams open: {}", streams.len(), me.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_beyond_the_buffer_budget_are_shed_and_change_nothing() {
    let keel = Keel::start(PROBE, &["--max-buffered-body-mib", "1", "--max-request-body-kib", "4096"]).await;
    let big = format!(r#"{{"op":"set","key":"big","value":"{}"}}"#, "x".repeat(2 << 20));
    let shed = keel.request("POST", "/op", None, &big).await;
    assert_eq!(shed.status, 503, "{}", shed.body);
    assert_eq!(shed.header("retry-after"), Some("1"));
    assert!(shed.body.contains(r#""code":"overloaded""#), "{}", shed.body);
    let read = keel.request("POST", "/op", None, r#"{"op":"get","key":"big"}"#).await;
    assert_eq!(read.body, r#"{"value":null}"#, "a shed request must not reach the component");
    // The budget is whole again: a body that fits it is served.
    let fits = format!(r#"{{"op":"set","key":"fits","value":"{}"}}"#, "y".repeat(700 << 10));
    assert_eq!(keel.request("POST", "/op", None, &fits).await.status, 200);
    // Over the per-request limit is still 413, whatever the budget.
    let huge = format!(r#"{{"op":"set","key":"huge","value":"{}"}}"#, "z".repeat(5 << 20));
    assert_eq!(keel.request("POST", "/op", None, &huge).await.status, 413);
}
