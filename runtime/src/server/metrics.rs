//! Request metrics in Prometheus' text format, served at `/metrics` on the
//! admin listener (`keel up --admin-listen ADDR`; off by default, so the
//! numbers never reach the app's own clients):
//!
//! - `keel_http_requests_total{route,component,status}`: requests answered;
//! - `keel_http_request_duration_seconds{route,component}`: a histogram of
//!   the time from the request to its response head;
//! - `keel_requests_in_flight` (instances in use: each serves one request at
//!   a time), `keel_requests_queued`, `keel_request_slots`: the admission
//!   queue ([`super::admission`]) now;
//! - `keel_instances_created_total{component}`,
//!   `keel_instances_reused_total{component}`: instances that served a first
//!   request, and requests served by an instance that had served one;
//! - `keel_host_call_duration_seconds{kind,system,operation}`: a histogram
//!   of the host calls guests make (`sql`, `kv`, `http`), as the guest
//!   waited for them;
//! - `keel_cron_runs_total{component,outcome}`: firings of cron triggers,
//!   by how they ended (`ok`, `error`, `trap`, `timeout`, `skipped`).
//!
//! Requests no route serves count under `route=""`. Recording costs two
//! relaxed atomic additions and one short lock per request, one short lock
//! per host call.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// The counters of one route.
struct RouteMetrics {
    route: String,
    component: String,
    statuses: Mutex<BTreeMap<u16, u64>>,
    /// Requests at or under each bound of [`BUCKETS`] (not cumulative).
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl RouteMetrics {
    fn new(route: String, component: String) -> Self {
        RouteMetrics {
            route,
            component,
            statuses: Mutex::default(),
            buckets: Default::default(),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

/// A latency histogram behind a lock.
#[derive(Default)]
struct Histogram {
    /// Observations at or under each bound of [`BUCKETS`] (not cumulative).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_nanos: u64,
}

impl Histogram {
    fn observe(&mut self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|&bound| seconds <= bound) {
            self.buckets[bucket] += 1;
        }
        self.count += 1;
        self.sum_nanos = self.sum_nanos.saturating_add(elapsed.as_nanos().min(u128::from(u64::MAX)) as u64);
    }
}

/// A host call's labels: kind (`sql`, `kv`, `http`), system, operation.
pub(crate) type HostCallLabels = (&'static str, &'static str, &'static str);

/// The metrics of one app: one entry per route, in the router's order, and
/// one last for requests no route serves; instances by component; host
/// calls by kind, system and operation.
pub(crate) struct Metrics {
    routes: Vec<RouteMetrics>,
    /// Per component: instances created, requests served by a reused one.
    instances: Mutex<BTreeMap<String, [u64; 2]>>,
    host_calls: Mutex<BTreeMap<HostCallLabels, Histogram>>,
    /// Cron firings by component and outcome.
    cron_runs: Mutex<BTreeMap<(String, &'static str), u64>>,
}

impl Metrics {
    /// Metrics for `routes` (`(route, component)`, in the router's order).
    pub(crate) fn new(routes: impl IntoIterator<Item = (String, String)>) -> Metrics {
        let mut routes: Vec<RouteMetrics> = routes.into_iter().map(|(r, c)| RouteMetrics::new(r, c)).collect();
        routes.push(RouteMetrics::new(String::new(), String::new()));
        Metrics { routes, instances: Mutex::default(), host_calls: Mutex::default(), cron_runs: Mutex::default() }
    }

    /// Count an instance of `component` starting its first request
    /// (`reused`: false) or another one (`reused`: true).
    pub(crate) fn record_instance(&self, component: &str, reused: bool) {
        let mut instances = self.instances.lock().unwrap_or_else(|p| p.into_inner());
        match instances.get_mut(component) {
            Some(counts) => counts[usize::from(reused)] += 1,
            None => {
                let mut counts = [0, 0];
                counts[usize::from(reused)] = 1;
                instances.insert(component.to_owned(), counts);
            }
        }
    }

    /// Time a host call.
    pub(crate) fn record_host_call(&self, labels: HostCallLabels, elapsed: Duration) {
        self.host_calls.lock().unwrap_or_else(|p| p.into_inner()).entry(labels).or_default().observe(elapsed);
    }

    /// Count a firing of a cron trigger of `component` that ended with `outcome`.
    pub(crate) fn record_cron_run(&self, component: &str, outcome: &'static str) {
        *self
            .cron_runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((component.to_owned(), outcome))
            .or_default() += 1;
    }

    /// Count a request to route `index` (`None`: no route) answered with
    /// `status` after `elapsed`.
    pub(crate) fn record(&self, index: Option<usize>, status: u16, elapsed: Duration) {
        let route = &self.routes[index.unwrap_or(self.routes.len() - 1).min(self.routes.len() - 1)];
        *route.statuses.lock().unwrap_or_else(|p| p.into_inner()).entry(status).or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|&bound| seconds <= bound) {
            route.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        route.count.fetch_add(1, Ordering::Relaxed);
        route.sum_nanos.fetch_add(elapsed.as_nanos().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
    }

    /// Everything, in Prometheus' text exposition format (version 0.0.4).
    pub(crate) fn render(&self, in_flight: usize, queued: usize, slots: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP keel_http_requests_total Requests answered, by route, component and status.\n");
        out.push_str("# TYPE keel_http_requests_total counter\n");
        for route in &self.routes {
            let labels = labels(route);
            for (status, count) in route.statuses.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                let _ = writeln!(out, "keel_http_requests_total{{{labels},status=\"{status}\"}} {count}");
            }
        }
        out.push_str("# HELP keel_http_request_duration_seconds Time from a request to its response head.\n");
        out.push_str("# TYPE keel_http_request_duration_seconds histogram\n");
        for route in &self.routes {
            let count = route.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let buckets: Vec<u64> = route.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
            let sum = route.sum_nanos.load(Ordering::Relaxed);
            histogram(&mut out, "keel_http_request_duration_seconds", &labels(route), &buckets, count, sum);
        }
        let instances = self.instances.lock().unwrap_or_else(|p| p.into_inner());
        for (at, name, help) in [
            (0, "keel_instances_created_total", "Component instances that served a first request."),
            (1, "keel_instances_reused_total", "Requests served by an instance that had served one before."),
        ] {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n");
            for (component, counts) in instances.iter() {
                let _ = writeln!(out, "{name}{{component=\"{}\"}} {}", escape(component), counts[at]);
            }
        }
        drop(instances);
        out.push_str("# HELP keel_host_call_duration_seconds Host calls of guests (SQL, key-value, outbound HTTP).\n");
        out.push_str("# TYPE keel_host_call_duration_seconds histogram\n");
        for ((kind, system, operation), calls) in self.host_calls.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let labels = format!("kind=\"{kind}\",system=\"{system}\",operation=\"{operation}\"");
            histogram(
                &mut out,
                "keel_host_call_duration_seconds",
                &labels,
                &calls.buckets,
                calls.count,
                calls.sum_nanos,
            );
        }
        out.push_str("# HELP keel_cron_runs_total Firings of cron triggers, by component and outcome.\n");
        out.push_str("# TYPE keel_cron_runs_total counter\n");
        for ((component, outcome), count) in self.cron_runs.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "keel_cron_runs_total{{component=\"{}\",outcome=\"{outcome}\"}} {count}",
                escape(component)
            );
        }
        for (name, help, value) in [
            ("keel_requests_in_flight", "Requests holding a slot (an instance) now.", in_flight),
            ("keel_requests_queued", "Requests waiting for a slot now.", queued),
            ("keel_request_slots", "Requests served at once at most.", slots),
        ] {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");
        }
        out
    }
}

/// The samples of one histogram series: `buckets` per bound of [`BUCKETS`]
/// (not cumulative), `count` in all, `sum_nanos` their total.
fn histogram(out: &mut String, name: &str, labels: &str, buckets: &[u64], count: u64, sum_nanos: u64) {
    let mut cumulative = 0;
    for (bound, bucket) in BUCKETS.iter().zip(buckets) {
        cumulative += bucket;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", sum_nanos as f64 / 1e9);
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

fn labels(route: &RouteMetrics) -> String {
    format!("route=\"{}\",component=\"{}\"", escape(&route.route), escape(&route.component))
}

/// A label value escaped as the text format requires.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::new([("/...".to_string(), "web".to_string())]);
        metrics.record(Some(0), 200, Duration::from_micros(300));
        metrics.record(Some(0), 200, Duration::from_millis(20));
        metrics.record(Some(0), 404, Duration::from_secs(9));
        metrics.record(None, 404, Duration::from_micros(10));
        metrics.record_instance("web", false);
        metrics.record_instance("web", true);
        metrics.record_instance("web", true);
        metrics.record_host_call(("sql", "sqlite", "execute"), Duration::from_micros(700));
        metrics.record_cron_run("web", "ok");
        metrics.record_cron_run("web", "ok");
        metrics.record_cron_run("web", "skipped");
        let text = metrics.render(1, 2, 64);
        for line in [
            r#"keel_http_requests_total{route="/...",component="web",status="200"} 2"#,
            r#"keel_http_requests_total{route="/...",component="web",status="404"} 1"#,
            r#"keel_http_requests_total{route="",component="",status="404"} 1"#,
            r#"keel_http_request_duration_seconds_bucket{route="/...",component="web",le="0.0005"} 1"#,
            r#"keel_http_request_duration_seconds_bucket{route="/...",component="web",le="0.025"} 2"#,
            r#"keel_http_request_duration_seconds_bucket{route="/...",component="web",le="5"} 2"#,
            r#"keel_http_request_duration_seconds_bucket{route="/...",component="web",le="+Inf"} 3"#,
            r#"keel_http_request_duration_seconds_count{route="/...",component="web"} 3"#,
            r#"keel_instances_created_total{component="web"} 1"#,
            r#"keel_instances_reused_total{component="web"} 2"#,
            r#"keel_host_call_duration_seconds_bucket{kind="sql",system="sqlite",operation="execute",le="0.0005"} 0"#,
            r#"keel_host_call_duration_seconds_bucket{kind="sql",system="sqlite",operation="execute",le="0.001"} 1"#,
            r#"keel_host_call_duration_seconds_count{kind="sql",system="sqlite",operation="execute"} 1"#,
            r#"keel_cron_runs_total{component="web",outcome="ok"} 2"#,
            r#"keel_cron_runs_total{component="web",outcome="skipped"} 1"#,
            "keel_requests_in_flight 1",
            "keel_requests_queued 2",
            "keel_request_slots 64",
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
        }
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
