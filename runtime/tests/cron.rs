//! `[[trigger.cron]]`: `keel up` runs the cron probe
//! (`tests/probes/cron-probe`, built into `dist/` by
//! `scripts/build-components.sh`) every second and the tests read what it
//! recorded, over its HTTP route and the metrics. Each test takes a few
//! seconds; every wait is bounded.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

mod support;

use support::{Keel, TempDir, read_response, repo_root};

/// The probe's manifest: HTTP on `/...`, cron every second.
const CRON_PROBE: &str = "tests/probes/cron-probe/spin.toml";

/// What the probe recorded (`GET /runs`).
#[derive(Debug, Clone, Copy)]
struct Runs {
    runs: u64,
    last_timestamp: u64,
    max_running: u64,
}

async fn runs(keel: &Keel) -> Runs {
    let response = keel.request("GET", "/runs", None, "").await;
    assert_eq!(response.status, 200, "{response:?}");
    let json: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    let field = |name: &str| json[name].as_u64().unwrap_or_else(|| panic!("no `{name}` in {json}"));
    Runs { runs: field("runs"), last_timestamp: field("last_timestamp"), max_running: field("max_running") }
}

/// Poll `read` every 100 ms until `done` holds, for at most `within`.
async fn wait_for<T: std::fmt::Debug>(
    within: Duration,
    mut read: impl AsyncFnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        let value = read().await;
        if done(&value) || Instant::now() >= deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `keel_cron_runs_total{component="cron-probe",outcome=…}` on the admin address.
async fn cron_runs(admin: SocketAddr, outcome: &str) -> u64 {
    let mut stream = TcpStream::connect(admin).await.unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n").await.unwrap();
    let series = format!("keel_cron_runs_total{{component=\"cron-probe\",outcome=\"{outcome}\"}} ");
    let body = read_response(&mut stream).await.body;
    body.lines().find_map(|line| line.strip_prefix(&series)).map_or(0, |n| n.parse().unwrap())
}

fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_second_runs_about_once_a_second_with_the_firing_time() {
    let admin = free_address();
    let keel = Keel::start(CRON_PROBE, &["--admin-listen", &admin.to_string()]).await;
    let first = wait_for(Duration::from_secs(3), async || runs(&keel).await, |r| r.runs >= 1).await;
    assert!(first.runs >= 1, "no run within 3 s: {first:?}");
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = runs(&keel).await;
    let elapsed = started.elapsed().as_secs_f64();
    let ran = (later.runs - first.runs) as f64;
    assert!((ran - elapsed).abs() <= 1.5, "{ran} runs in {elapsed:.1} s: {first:?} → {later:?}");
    assert!(later.last_timestamp.abs_diff(unix_now()) <= 2, "the firing's time is not now: {later:?}");
    assert_eq!(later.max_running, 1, "{later:?}");
    assert!(cron_runs(admin, "ok").await >= later.runs - 1, "runs were not counted as ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_does_not_stop_the_next_ones() {
    let admin = free_address();
    let flags = ["--admin-listen", &admin.to_string(), "--variable", "cron_fail=true"];
    let keel = Keel::start(CRON_PROBE, &flags).await;
    let failed = wait_for(Duration::from_secs(5), async || cron_runs(admin, "error").await, |n| *n >= 3).await;
    assert!(failed >= 3, "only {failed} failed runs in 5 s: a failure stopped the schedule");
    assert_eq!(cron_runs(admin, "ok").await, 0);
    assert!(runs(&keel).await.runs >= 3, "the server no longer serves its route");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_slower_than_the_period_is_never_overlapped() {
    let admin = free_address();
    let keel = Keel::start(CRON_PROBE, &["--admin-listen", &admin.to_string()]).await;
    assert_eq!(keel.request("PUT", "/mode/slow", None, "").await.status, 204);
    let before = runs(&keel).await;
    // Each run now takes 2.5 s: the firings in between find it running.
    let skipped = wait_for(Duration::from_secs(6), async || cron_runs(admin, "skipped").await, |n| *n >= 3).await;
    assert!(skipped >= 3, "only {skipped} firings skipped in 6 s");
    let after = runs(&keel).await;
    assert_eq!(after.max_running, 1, "runs overlapped: {after:?}");
    assert!(after.runs > before.runs, "slow runs stopped the schedule: {before:?} → {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_the_request_timeout_is_cut_off_and_the_next_one_runs() {
    let admin = free_address();
    let keel = Keel::start(CRON_PROBE, &["--admin-listen", &admin.to_string(), "--request-timeout", "1s"]).await;
    assert_eq!(keel.request("PUT", "/mode/slow", None, "").await.status, 204);
    let timed_out = wait_for(Duration::from_secs(5), async || cron_runs(admin, "timeout").await, |n| *n >= 2).await;
    assert!(timed_out >= 2, "only {timed_out} runs cut off in 5 s");
    assert_eq!(keel.request("PUT", "/mode/ok", None, "").await.status, 204, "the server no longer serves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_of_cron_triggers_only_runs_and_stops_on_sigterm() {
    let dir = TempDir::new("cron-only");
    let manifest = dir.0.join("spin.toml");
    let source = repo_root().join("dist/cron-probe.wasm");
    let text = format!(
        "spin_manifest_version = 2\n[application]\nname = \"cron-only\"\n[variables]\ncron_fail = {{ default = \"false\" }}\n\
         [[trigger.cron]]\ncomponent = \"probe\"\ncron_expression = \"* * * * * *\"\n\
         [component.probe]\nsource = {:?}\nsqlite_databases = [\"default\"]\n\
         [component.probe.variables]\nfail = \"{{{{ cron_fail }}}}\"\n",
        source.display().to_string()
    );
    std::fs::write(&manifest, text).unwrap();
    let admin = free_address();
    let mut keel = Keel::start(manifest.to_str().unwrap(), &["--admin-listen", &admin.to_string()]).await;
    let ok_runs = async || {
        let mut stream = TcpStream::connect(admin).await.unwrap();
        stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n").await.unwrap();
        let body = read_response(&mut stream).await.body;
        body.lines()
            .find_map(|line| line.strip_prefix("keel_cron_runs_total{component=\"probe\",outcome=\"ok\"} "))
            .map_or(0, |n| n.parse::<u64>().unwrap())
    };
    let ran = wait_for(Duration::from_secs(4), ok_runs, |n| *n >= 2).await;
    assert!(ran >= 2, "{ran} runs in 4 s");
    assert_eq!(keel.request("GET", "/", None, "").await.status, 404, "no HTTP route, yet something answered");
    assert!(
        keel.stdout.lock().unwrap().iter().any(|line| line == "  probe: * * * * * *"),
        "the schedule is not listed"
    );

    let pid = keel.child.id().expect("keel is running").to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let exited = tokio::time::timeout(Duration::from_secs(5), keel.child.wait()).await;
    let status = exited.expect("keel stops within 5 s of SIGTERM").unwrap();
    assert!(status.success(), "{status}");
}

/// `keel up`'s error for a manifest `text` written to a fresh directory
/// (validation fails before any component is loaded).
async fn refusal(text: &str) -> (String, String) {
    let dir = TempDir::new("cron-manifest");
    let manifest = dir.0.join("spin.toml");
    std::fs::write(&manifest, text).unwrap();
    let path = manifest.to_str().unwrap().to_owned();
    match Keel::try_start(&path, &[], None).await {
        Ok(_) => panic!("keel served {text}"),
        Err(stderr) => (stderr, path),
    }
}

const APP: &str = "spin_manifest_version = 2\n[application]\nname = \"bad\"\n\
                   [component.web]\nsource = \"web.wasm\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_errors_name_the_file_and_every_bad_cron_trigger() {
    let text = format!(
        "{APP}[[trigger.cron]]\ncomponent = \"web\"\ncron_expression = \"*/5 * * * *\"\n\
         [[trigger.cron]]\ncomponent = \"web\"\ncron_expression = \"0 0 * * * *\"\n\
         [[trigger.cron]]\ncomponent = \"worker\"\ncron_expression = \"0 0 * * * *\"\n"
    );
    let (stderr, path) = refusal(&text).await;
    for expected in [
        format!("{path}: trigger.cron[0]: cron_expression `*/5 * * * *` is not a valid cron expression"),
        "seconds first: `sec min hour day-of-month month day-of-week [year]`".to_owned(),
        "trigger.cron[2]: component `worker` is not defined; add [component.worker] or name one of: `web`".to_owned(),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in {stderr}");
    }
    assert!(!stderr.contains("trigger.cron[1]"), "a valid trigger was refused: {stderr}");

    let (stderr, path) =
        refusal(&format!("{APP}[[trigger.cron]]\ncomponent = \"web\"\nschedule = \"0 * * * * *\"\n")).await;
    assert!(stderr.contains(&format!("{path}:8:1: unknown field `schedule`")), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_trigger_type_is_refused_by_name() {
    let (stderr, path) = refusal(&format!("{APP}[[trigger.redis]]\ncomponent = \"web\"\nchannel = \"jobs\"\n")).await;
    let expected = format!("{path}: trigger type `redis` is not supported by keel (only `http` and `cron`)");
    assert!(stderr.contains(&expected), "missing {expected:?} in {stderr}");
}
