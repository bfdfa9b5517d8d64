//! `keel`: build and serve Spin applications on Keel's runtime.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use keel_runtime::config::manifest::Manifest;
use keel_runtime::{AdmissionLimits, App, ConnectionLimits, RuntimeOptions};

#[derive(Parser)]
#[command(name = "keel", version, about = "Build and serve Spin applications on Keel's runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run each component's build command, like `spin build`.
    Build {
        /// The application manifest.
        #[arg(short = 'f', long = "from", default_value = "spin.toml")]
        manifest: PathBuf,
    },
    /// Serve the application, like `spin up`.
    Up(UpArgs),
}

#[derive(clap::Args)]
struct UpArgs {
    /// The application manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    manifest: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: String,
    /// Spin-format runtime configuration (`[sqlite_database.*]`, `[key_value_store.*]`).
    #[arg(long)]
    runtime_config_file: Option<PathBuf>,
    /// Set an application variable (`name=value`); wins over the
    /// environment and `.env`.
    #[arg(long = "variable", value_parser = parse_variable)]
    variables: Vec<(String, String)>,
    /// Directory for default databases and the compile cache [default: <app dir>/.keel].
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Directory for precompiled components [default: <state dir>/cache].
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Requests one instance serves before it is replaced.
    #[arg(long, default_value_t = 128)]
    max_instance_reuse_count: usize,
    /// Requests one instance serves at once. Above 1, a trap also fails the
    /// other requests in flight on that instance.
    #[arg(long, default_value_t = 1)]
    max_instance_concurrent_reuse_count: usize,
    /// Time a request may run before it gets 504 (e.g. `10s`, `500ms`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Time an idle instance is kept for reuse.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    idle_instance_timeout: Duration,
    /// Linear-memory limit of one instance, in MiB.
    #[arg(long, default_value_t = 256)]
    instance_memory_mib: usize,
    /// Largest request body accepted, in KiB (413 beyond).
    #[arg(long, default_value_t = 1024)]
    max_request_body_kib: usize,
    /// Allocate instances on demand instead of from a pre-reserved pool.
    #[arg(long)]
    no_pooling: bool,
    /// Requests served at once, all components together [default: as many
    /// as the instance pool holds for the loaded components].
    #[arg(long)]
    max_concurrent_requests: Option<usize>,
    /// Requests that may wait for a turn; beyond that, 503 with Retry-After.
    #[arg(long, default_value_t = 4096)]
    max_queued_requests: usize,
    /// Longest wait for a turn before 503 with Retry-After.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    queue_timeout: Duration,
    /// Client connections open at once; more wait in the listen backlog.
    #[arg(long, default_value_t = 4096)]
    max_connections: usize,
    /// Time a client has to send a request's head (slow clients are closed).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    header_read_timeout: Duration,
    /// Time a client has to send a request's body (408 beyond).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    body_read_timeout: Duration,
    /// Time a connection may sit idle (no request, no traffic) before it is closed.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    connection_idle_timeout: Duration,
    /// On SIGTERM or Ctrl-C: time requests in flight get to finish.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    shutdown_grace: Duration,
    /// Write one JSON line per request to stdout: request id, method, path,
    /// component, status, duration, bytes, client.
    #[arg(long, env = "KEEL_ACCESS_LOG")]
    access_log: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: f64 = number.parse().map_err(|_| format!("invalid duration `{s}`"))?;
    let secs = match unit {
        "s" => n,
        "ms" => n / 1e3,
        "m" => n * 60.0,
        _ => return Err(format!("invalid duration unit in `{s}` (use ms, s or m)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn parse_variable(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("expected name=value, got `{s}`"))
}

fn build(manifest_path: &Path) -> anyhow::Result<()> {
    let manifest = Manifest::load(manifest_path)?;
    for component in manifest.components.values() {
        let Some(build) = &component.build else {
            println!("{}: no build command", component.id);
            continue;
        };
        let workdir = match &build.workdir {
            Some(dir) => manifest.app_dir.join(dir),
            None => manifest.app_dir.clone(),
        };
        for command in build.command.commands() {
            println!("Building component {} with `{command}`", component.id);
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(&workdir)
                .status()
                .with_context(|| format!("cannot run `{command}`"))?;
            if !status.success() {
                bail!("build command for component `{}` failed ({status})", component.id);
            }
        }
    }
    println!("Finished building all components");
    Ok(())
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let mut options = RuntimeOptions {
        runtime_config_file: args.runtime_config_file,
        state_dir: args.state_dir,
        cache_dir: args.cache_dir,
        variables: args.variables,
        pooling: !args.no_pooling,
        access_log: args.access_log,
        ..RuntimeOptions::default()
    };
    options.limits.max_reuse = args.max_instance_reuse_count.max(1);
    options.limits.max_concurrent = args.max_instance_concurrent_reuse_count.max(1);
    options.limits.request_timeout = args.request_timeout;
    options.limits.idle_timeout = args.idle_instance_timeout;
    options.limits.memory_limit = args.instance_memory_mib << 20;
    options.limits.max_body_bytes = args.max_request_body_kib << 10;
    options.admission = AdmissionLimits {
        max_concurrent: args.max_concurrent_requests,
        max_queued: args.max_queued_requests,
        queue_timeout: args.queue_timeout,
    };
    options.connections = ConnectionLimits {
        max_connections: args.max_connections,
        header_read_timeout: args.header_read_timeout,
        body_read_timeout: args.body_read_timeout,
        idle_timeout: args.connection_idle_timeout,
        shutdown_grace: args.shutdown_grace,
    };

    let app = App::load(&args.manifest, options).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("Serving http://{addr}");
    println!("Available Routes:");
    for (route, component) in app.routes() {
        println!("  {component}: http://{addr}{}", route.trim_end_matches("/..."));
        if route.ends_with("/...") {
            println!("    (wildcard)");
        }
    }
    app.serve(listener, shutdown_signal()).await?;
    println!("Stopped");
    Ok(())
}

/// Resolves on SIGTERM (what Kubernetes sends) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => println!("SIGTERM received: draining requests in flight"),
        _ = tokio::signal::ctrl_c() => println!("Interrupted: draining requests in flight"),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEEL_LOG")
                .unwrap_or_else(|_| "keel_runtime=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build { manifest } => build(&manifest),
        Command::Up(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
            .and_then(|rt| rt.block_on(up(args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("5h").is_err());
    }
}
