//! `keel-live`: live-event delivery, measured at the subscriber. Opens
//! `--subscribers` Server-Sent Event streams of one channel, posts
//! `--messages` messages to it (one every `--interval` seconds), and for each
//! (stream, message) takes the time from sending the POST to reading the
//! event's bytes off the stream's socket.
//!
//! ```text
//! keel-live --base http://127.0.0.1:3000 --channel /v1/workspaces/W/channels/C \
//!           --header 'authorization: Bearer …' --subscribers 1000 --messages 20 --pid 1234
//! ```
//!
//! Prints one line: subscribers, deliveries, p50/p99/max in ms, deliveries
//! missing, and (with `--pid`) the server's RSS before and with the streams
//! open. Exits non-zero when a delivery is missing. The streams are read by
//! a multi-threaded Tokio runtime that only looks for each event's marker, so
//! on a machine shared with the server the measurement adds little of its
//! own time to what it measures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

#[derive(Parser)]
struct Args {
    /// The server, `http://host:port`.
    #[arg(long)]
    base: String,
    /// The channel's path (`/v1/workspaces/{id}/channels/{id}`).
    #[arg(long)]
    channel: String,
    /// `name: value` sent with every request (the bearer token); repeatable.
    #[arg(long = "header")]
    headers: Vec<String>,
    #[arg(long, default_value_t = 1)]
    subscribers: usize,
    #[arg(long, default_value_t = 20)]
    messages: usize,
    /// Seconds between posts.
    #[arg(long, default_value_t = 0.25)]
    interval: f64,
    /// The server's process id, for its RSS.
    #[arg(long)]
    pid: Option<u32>,
}

/// What every stream's text holds for message `n`.
fn marker(n: usize) -> String {
    format!("\"text\":\"live {n}\"")
}

fn head(method: &str, host: &str, path: &str, headers: &[String], extra: &str) -> String {
    let mut text = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\n");
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str(extra);
    text.push_str("\r\n");
    text
}

/// When each message's event arrived on one stream.
type Arrivals = Arc<Mutex<Vec<Option<Instant>>>>;

/// Read one stream until every message's event arrived, noting when each did.
async fn subscribe(
    host: String,
    path: String,
    headers: Arc<Vec<String>>,
    seen: Arrivals,
    opened: Arc<Semaphore>,
) -> anyhow::Result<()> {
    let messages = seen.lock().unwrap().len();
    let mut stream = TcpStream::connect(&host).await?;
    stream.set_nodelay(true)?;
    stream.write_all(head("GET", &host, &path, &headers, "accept: text/event-stream\r\n").as_bytes()).await?;
    let mut pending = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut started = false;
    let markers: Vec<Vec<u8>> = (0..messages).map(|n| marker(n).into_bytes()).collect();
    let mut next = 0;
    while next < messages {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            bail!("the stream ended after {next} of {messages} events");
        }
        let now = Instant::now();
        pending.extend_from_slice(&buffer[..read]);
        if !started {
            let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
            if !pending.starts_with(b"HTTP/1.1 200") {
                bail!("the stream was refused: {}", String::from_utf8_lossy(&pending[..end]));
            }
            started = true;
            opened.add_permits(1);
            pending.drain(..end + 4);
        }
        // Events arrive in order: look for the next ones' markers.
        while next < messages {
            let Some(at) = pending.windows(markers[next].len()).position(|w| w == markers[next]) else { break };
            seen.lock().unwrap()[next] = Some(now);
            pending.drain(..at + markers[next].len());
            next += 1;
        }
        // Keep only what could start a marker cut by the read's end.
        let keep = pending.len().min(64);
        pending.drain(..pending.len() - keep);
    }
    Ok(())
}

/// One request on its own connection; the response's body.
async fn call(host: &str, method: &str, path: &str, headers: &[String], body: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(host).await?;
    stream.set_nodelay(true)?;
    let extra = format!("content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    stream.write_all(format!("{}{body}", head(method, host, path, headers, &extra)).as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).into_owned();
    if !text.starts_with("HTTP/1.1 2") {
        bail!("{method} {path}: {}", text.lines().next().unwrap_or_default());
    }
    Ok(text)
}

fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")?;
    Ok(kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let host = args.base.strip_prefix("http://").context("--base must be http://host:port")?.trim_end_matches('/');
    let host = host.to_string();
    let headers = Arc::new(args.headers);
    let before = args.pid.map(rss_mb).transpose()?;

    let opened = Arc::new(Semaphore::new(0));
    let arrivals: Vec<Arrivals> =
        (0..args.subscribers).map(|_| Arc::new(Mutex::new(vec![None; args.messages]))).collect();
    let streams: Vec<_> = arrivals
        .iter()
        .map(|seen| {
            let path = format!("{}/events", args.channel);
            tokio::spawn(subscribe(host.clone(), path, headers.clone(), seen.clone(), opened.clone()))
        })
        .collect();
    let all_open = opened.acquire_many(u32::try_from(args.subscribers)?);
    let _all_open = tokio::time::timeout(Duration::from_secs(60), all_open)
        .await
        .context("streams did not all open within 60 s")??;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let with_streams = args.pid.map(rss_mb).transpose()?;

    let mut sent = Vec::with_capacity(args.messages);
    for n in 0..args.messages {
        sent.push(Instant::now());
        let body = format!("{{\"text\":\"live {n}\"}}");
        call(&host, "POST", &format!("{}/messages", args.channel), &headers, &body).await?;
        tokio::time::sleep(Duration::from_secs_f64(args.interval)).await;
    }

    // What has not arrived 10 s after the last post is missing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for stream in streams {
        match tokio::time::timeout_at(deadline, stream).await {
            Ok(Ok(Err(err))) => eprintln!("a stream failed: {err:#}"),
            Ok(Err(err)) => eprintln!("a stream panicked: {err}"),
            Ok(Ok(Ok(()))) | Err(_) => {}
        }
    }
    let mut latencies: Vec<f64> = arrivals
        .iter()
        .flat_map(|seen| {
            let seen = seen.lock().unwrap().clone();
            seen.into_iter()
                .zip(&sent)
                .filter_map(|(at, sent)| at.map(|at| at.duration_since(*sent).as_secs_f64() * 1000.0))
                .collect::<Vec<_>>()
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let missing = args.subscribers * args.messages - latencies.len();
    let mut line = format!(
        "{} subscribers, {} deliveries: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, missing {missing}",
        args.subscribers,
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    if let (Some(before), Some(with_streams)) = (before, with_streams) {
        line.push_str(&format!("; RSS {before:.1} MB before, {with_streams:.1} MB with the streams open"));
        if args.subscribers >= 100 {
            line.push_str(&format!(
                " ({:.1} KB per stream)",
                (with_streams - before) * 1024.0 / args.subscribers as f64
            ));
        }
    }
    println!("{line}");
    if missing > 0 {
        bail!("{missing} deliveries missing");
    }
    Ok(())
}
