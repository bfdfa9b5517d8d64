//! `keel-bench`: hammer one URL over N keep-alive connections for a while
//! and print requests per second and latency percentiles.
//!
//! ```text
//! keel-bench --url http://127.0.0.1:3000/healthz --connections 32 --seconds 10
//! keel-bench --url http://…/messages --method POST --body '{"text":"hi"}' \
//!            --header 'authorization: Bearer …' --expect 201
//! keel-bench --url http://127.0.0.1:3000/healthz --pid "$(pidof keel)"   # and server CPU per request
//! ```

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

#[derive(Parser, Clone)]
struct Args {
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "GET")]
    method: String,
    #[arg(long)]
    body: Option<String>,
    /// `name: value`; repeatable.
    #[arg(long = "header")]
    headers: Vec<String>,
    #[arg(long, default_value_t = 1)]
    connections: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Status every response must have.
    #[arg(long, default_value_t = 200)]
    expect: u16,
    /// Label printed in front of the result line.
    #[arg(long, default_value = "")]
    label: String,
    /// Also print how many requests fell in each latency bucket.
    #[arg(long)]
    histogram: bool,
    /// The server's process id: also print the CPU time it spent per
    /// request (user and system, all its threads), which varies far less
    /// from run to run than latency on a shared machine.
    #[arg(long)]
    pid: Option<u32>,
}

/// CPU time process `pid` has used so far, in seconds (`utime` + `stime`
/// of `/proc/PID/stat`).
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("no process {pid}"))?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: the 3rd field (state) first, so `utime` (14th) is at 11.
    let fields: Vec<&str> = stat.rsplit_once(')').context("malformed /proc stat")?.1.split_whitespace().collect();
    let ticks = |index: usize| -> anyhow::Result<f64> {
        Ok(fields.get(index).context("malformed /proc stat")?.parse::<u64>()? as f64)
    };
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((ticks(11)? + ticks(12)?) / per_second)
}

struct Outcome {
    latencies: Vec<Duration>,
    unexpected: usize,
}

async fn connection(args: Args, deadline: Instant) -> anyhow::Result<Outcome> {
    let uri: hyper::Uri = args.url.parse().context("invalid --url")?;
    let authority = uri.authority().context("--url needs host:port")?.clone();
    let stream = tokio::net::TcpStream::connect(authority.as_str()).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let headers: Vec<(String, String)> = args
        .headers
        .iter()
        .map(|h| {
            let (k, v) = h.split_once(':').unwrap_or((h, ""));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let body = Bytes::from(args.body.clone().unwrap_or_default());
    let mut outcome = Outcome { latencies: Vec::with_capacity(100_000), unexpected: 0 };
    while Instant::now() < deadline {
        let mut request = Request::builder()
            .method(args.method.as_str())
            .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .header("host", authority.as_str());
        if args.body.is_some() {
            request = request.header("content-type", "application/json");
        }
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        let request = request.body(Full::new(body.clone()))?;
        let started = Instant::now();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        response.into_body().collect().await?;
        outcome.latencies.push(started.elapsed());
        if status != args.expect {
            outcome.unexpected += 1;
        }
    }
    Ok(outcome)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Requests per latency bucket (upper bounds doubling from 0.25 ms), sorted
/// input; empty buckets past the last request are left out.
fn print_histogram(sorted: &[Duration]) {
    let mut bound = Duration::from_micros(250);
    let mut from = 0;
    while from < sorted.len() {
        let to = sorted.partition_point(|d| *d <= bound);
        let share = (to - from) as f64 * 100.0 / sorted.len() as f64;
        println!("    <= {:>9.2} ms {:>8} {:>6.2}%", bound.as_secs_f64() * 1e3, to - from, share);
        from = to;
        bound *= 2;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cpu_before = args.pid.map(cpu_seconds).transpose()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(connection(args.clone(), deadline)))
        .collect();
    let mut latencies = Vec::new();
    let mut unexpected = 0;
    for task in tasks {
        let outcome = task.await??;
        latencies.extend(outcome.latencies);
        unexpected += outcome.unexpected;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = match (args.pid, cpu_before) {
        (Some(pid), Some(before)) if !latencies.is_empty() => {
            format!("  server_cpu={:.0} us/req", (cpu_seconds(pid)? - before) * 1e6 / latencies.len() as f64)
        }
        _ => String::new(),
    };
    if latencies.is_empty() {
        bail!("no request completed");
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{:<34} conns={:<3} {:>9.0} req/s  p50={:>7.3} ms  p99={:>7.3} ms  max={:>8.3} ms  requests={} unexpected_status={}{}",
        args.label,
        args.connections,
        latencies.len() as f64 / elapsed,
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies[latencies.len() - 1]),
        latencies.len(),
        unexpected,
        server_cpu,
    );
    if args.histogram {
        print_histogram(&latencies);
    }
    if unexpected > 0 {
        bail!("{unexpected} responses did not have status {}", args.expect);
    }
    Ok(())
}
