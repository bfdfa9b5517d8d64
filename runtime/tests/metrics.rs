//! `keel up --admin-listen`: Prometheus metrics on their own address, moving
//! with traffic, never on the app's listener.

mod support;

use support::{Keel, PROBE, read_response};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn scrape(addr: std::net::SocketAddr, method: &str) -> support::Response {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("{method} /metrics HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    read_response(&mut stream).await
}

/// Each line is a `# HELP`/`# TYPE` comment or `name{labels} value`, as the
/// text exposition format has it; returns the samples.
fn parse(text: &str) -> Vec<(String, f64)> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "bad labels in {line:?}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        samples.push((series.to_string(), value));
    }
    samples
}

fn sample(samples: &[(String, f64)], series: &str) -> f64 {
    samples.iter().find(|(s, _)| s == series).map_or(0.0, |(_, v)| *v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_the_admin_address_and_move_with_traffic() {
    let admin = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let keel = Keel::start(PROBE, &["--admin-listen", &admin.to_string()]).await;

    let before = scrape(admin, "GET").await;
    assert_eq!(before.status, 200, "{before:?}");
    assert!(before.head.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{}", before.head);
    let before = parse(&before.body);

    let op = r#"{"op":"get","key":"k"}"#;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(keel.request("POST", "/op", None, op).await.status);
    }
    assert!(statuses.iter().all(|s| *s == statuses[0]), "{statuses:?}");
    let unrouted = keel.request("GET", "/metrics", None, "").await;
    assert!(!unrouted.body.contains("keel_http_requests_total"), "metrics leaked on the app listener");

    let after = parse(&scrape(admin, "GET").await.body);
    let counted = |samples: &[(String, f64)]| {
        samples
            .iter()
            .filter(|(s, _)| {
                s.starts_with("keel_http_requests_total{") && s.contains(&format!("status=\"{}\"", statuses[0]))
            })
            .map(|(_, v)| v)
            .sum::<f64>()
    };
    assert!(counted(&after) - counted(&before) >= 3.0, "three requests were not counted");
    let timed = |samples: &[(String, f64)]| {
        samples
            .iter()
            .filter(|(s, _)| s.starts_with("keel_http_request_duration_seconds_count{"))
            .map(|(_, v)| v)
            .sum::<f64>()
    };
    assert!(timed(&after) >= timed(&before) + 4.0, "the latency histogram did not count the requests");
    // The probe's key-value operations and its instances are counted too.
    let family = |samples: &[(String, f64)], prefix: &str| {
        samples.iter().filter(|(s, _)| s.starts_with(prefix)).map(|(_, v)| v).sum::<f64>()
    };
    let kv_calls = r#"keel_host_call_duration_seconds_count{kind="kv",system="keyvalue",operation="get""#;
    assert!(family(&after, kv_calls) - family(&before, kv_calls) >= 3.0, "the key-value gets were not timed");
    let served = |samples: &[(String, f64)]| {
        family(samples, "keel_instances_created_total{") + family(samples, "keel_instances_reused_total{")
    };
    assert!(served(&after) - served(&before) >= 3.0, "instances did not count their requests");
    assert_eq!(sample(&after, "keel_requests_queued"), 0.0);
    assert!(sample(&after, "keel_request_slots") >= 1.0);

    assert_eq!(scrape(admin, "POST").await.status, 405);
    drop(keel);
}
