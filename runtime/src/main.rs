//! `keel`: build and serve Spin applications on Keel's runtime.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use keel_runtime::bundle::{self, Embedded};
use keel_runtime::config::manifest::Manifest;
use keel_runtime::oci::reference::Reference;
use keel_runtime::oci::{AppSource, Artifact};
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
    /// Write ONE executable holding Keel's runtime and the application
    /// (every component, precompiled for this host); it takes `up`'s flags.
    Bundle {
        /// The application manifest; each component's `source` must be its
        /// built (composed) component.
        #[arg(short = 'f', long = "from", default_value = "spin.toml")]
        manifest: PathBuf,
        /// The executable to write.
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// Sign the bundle with this Ed25519 private key (PKCS#8 PEM, as
        /// `openssl genpkey -algorithm ed25519` writes it).
        #[arg(long)]
        sign: Option<PathBuf>,
    },
    /// Push and pull applications as OCI artifacts, like `spin registry`.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Deployment manifests.
    #[command(subcommand)]
    Deploy(DeployCommand),
}

#[derive(Subcommand)]
enum DeployCommand {
    /// Write SpinKube manifests for the application (like `spin kube
    /// scaffold`, plus runtime configuration, secret variables, probes,
    /// a LoadBalancer Service, autoscaling and per-region overlays).
    Scaffold {
        /// The application manifest the image was pushed from.
        #[arg(short = 'f', long = "from", default_value = "spin.toml")]
        manifest: PathBuf,
        /// The app's OCI reference (`keel registry push`).
        #[arg(long)]
        image: String,
        /// The SpinAppExecutor that runs it.
        #[arg(long, default_value = "spin-4-1")]
        executor: String,
        /// A fixed number of replicas (instead of autoscaling).
        #[arg(long, conflicts_with_all = ["autoscaler"])]
        replicas: Option<u32>,
        /// Autoscale on CPU with a HorizontalPodAutoscaler (`hpa`, the
        /// default) or a KEDA ScaledObject (`keda`).
        #[arg(long, value_parser = ["hpa", "keda"])]
        autoscaler: Option<String>,
        /// Fewest replicas the autoscaler keeps.
        #[arg(long, default_value_t = 2)]
        min_replicas: u32,
        /// Most replicas the autoscaler starts.
        #[arg(long, default_value_t = 10)]
        max_replicas: u32,
        /// Spin runtime configuration, mounted at /runtime-config.toml from a Secret.
        #[arg(long)]
        runtime_config: Option<PathBuf>,
        /// A Linode region to write an overlay for (repeatable).
        #[arg(long = "region")]
        regions: Vec<String>,
        /// The value of a non-secret variable (`name=value`, repeatable).
        #[arg(long = "variable", value_parser = parse_variable)]
        variables: Vec<(String, String)>,
        /// For an executor that runs no cron triggers (SpinKube's Spin shim):
        /// `component=/path`, an HTTP route of the component that a
        /// Kubernetes CronJob calls with POST on each of its cron schedules
        /// (repeatable).
        #[arg(long = "cron-route", value_parser = parse_variable)]
        cron_routes: Vec<(String, String)>,
        /// A secret variable the CronJobs send as their bearer token.
        #[arg(long)]
        cron_bearer: Option<String>,
        /// Directory to write into.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
}

#[derive(Subcommand)]
enum RegistryCommand {
    /// Push the application as the OCI artifact `spin registry push` makes:
    /// to REFERENCE's registry, or with `--oci-layout` into a directory.
    Push {
        /// The application manifest; each component's `source` must be its
        /// built (composed) component.
        #[arg(short = 'f', long = "from", default_value = "spin.toml")]
        manifest: PathBuf,
        /// Write an OCI image layout into this directory instead of pushing;
        /// REFERENCE (default `latest`) names the manifest in its index.
        #[arg(long)]
        oci_layout: Option<PathBuf>,
        /// Use plain HTTP (registries on loopback always do).
        #[arg(short = 'k', long)]
        insecure: bool,
        /// Where to push (`ghcr.io/acme/app:1.0`).
        reference: Option<String>,
    },
    /// Pull an application artifact into an OCI image layout.
    Pull {
        /// The layout directory to pull into.
        #[arg(long)]
        oci_layout: PathBuf,
        /// Use plain HTTP (registries on loopback always do).
        #[arg(short = 'k', long)]
        insecure: bool,
        /// What to pull (`ghcr.io/acme/app:1.0`).
        reference: String,
    },
}

#[derive(clap::Args)]
struct UpArgs {
    /// The application: a manifest (or a directory holding `spin.toml`), an
    /// OCI image layout (`oci-layout:DIR`), or a registry reference.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    from: String,
    /// Pull the application from this registry reference.
    #[arg(long, conflicts_with = "from")]
    from_registry: Option<String>,
    /// Use plain HTTP for the registry (registries on loopback always do).
    #[arg(short = 'k', long)]
    insecure: bool,
    #[command(flatten)]
    serve: ServeArgs,
}

/// A bundle (`keel bundle -o FILE`) run as `FILE [flags]`.
#[derive(Parser)]
#[command(disable_version_flag = true, about = "A Spin application bundled with Keel's runtime")]
struct BundleCli {
    /// Print the application, its version, Keel's version and each component's sha256.
    #[arg(long)]
    version: bool,
    /// Refuse to run unless the bundle is signed by this Ed25519 public key
    /// (PEM, as `openssl pkey -pubout` writes it).
    #[arg(long, env = "KEEL_TRUSTED_KEY")]
    trusted_key: Option<PathBuf>,
    #[command(flatten)]
    serve: ServeArgs,
}

/// How `keel up` and a bundle serve.
#[derive(clap::Args)]
struct ServeArgs {
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
    /// Time an instance may keep running after it has responded: writing a
    /// streamed body such as Server-Sent Events, or background work. A
    /// stream still open then is cut (the client reconnects).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    post_response_timeout: Duration,
    /// Time an idle instance is kept for reuse.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    idle_instance_timeout: Duration,
    /// Linear-memory limit of one instance, in MiB.
    #[arg(long, default_value_t = 256)]
    instance_memory_mib: usize,
    /// Largest request body accepted, in KiB (413 beyond). Bodies are read
    /// whole before the component sees them, so slow uploads never hold an
    /// instance.
    #[arg(long, default_value_t = 32768)]
    max_request_body_kib: usize,
    /// Request-body memory of all requests together, in MiB; a body beyond
    /// it is shed with 503 and Retry-After.
    #[arg(long, default_value_t = 512)]
    max_buffered_body_mib: usize,
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
    /// Serve `GET /metrics` (Prometheus text) on this separate address;
    /// off by default, so metrics never reach the app's clients.
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<String>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s.find(|c: char| !c.is_ascii_digit() && c != '.').map(|i| s.split_at(i)).unwrap_or((s, "s"));
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

/// `keel up`: find and load the application, then serve it.
async fn up(args: UpArgs) -> anyhow::Result<()> {
    let source = match &args.from_registry {
        Some(reference) => AppSource::Registry(Reference::parse(reference).map_err(anyhow::Error::msg)?),
        None => AppSource::parse(&args.from)?,
    };
    // An application from a layout or registry keeps its state in the
    // working directory, as one from a manifest does next to the manifest.
    let work_dir = std::env::current_dir().context("cannot read the working directory")?;
    let manifest = source.load(&cache_dir(&args.serve, &work_dir), &work_dir, args.insecure).await?;
    let origin = match &source {
        AppSource::Manifest(path) => path.clone(),
        _ => PathBuf::from(args.from_registry.as_deref().unwrap_or(&args.from)),
    };
    serve(manifest, &origin, args.serve, None).await
}

/// Where pulled artifacts and written-out files go: `--cache-dir`, else
/// `cache` in the state directory (`--state-dir`, else `.keel` in the
/// working directory).
fn cache_dir(serve: &ServeArgs, work_dir: &Path) -> PathBuf {
    let state_dir = serve.state_dir.clone().unwrap_or_else(|| work_dir.join(".keel"));
    serve.cache_dir.clone().unwrap_or_else(|| state_dir.join("cache"))
}

/// A bundle's entry point: serve the embedded application.
async fn run_bundle(bundle: Embedded, cli: BundleCli) -> anyhow::Result<()> {
    if let Some(key) = &cli.trusted_key {
        bundle.verify(key)?;
    }
    let work_dir = std::env::current_dir().context("cannot read the working directory")?;
    let manifest = bundle.manifest(&work_dir, &cache_dir(&cli.serve, &work_dir).join("files"))?;
    let origin = bundle::running_executable()?;
    serve(manifest, &origin, cli.serve, Some(Arc::new(bundle))).await
}

async fn serve(
    manifest: Manifest,
    origin: &Path,
    args: ServeArgs,
    bundle: Option<Arc<Embedded>>,
) -> anyhow::Result<()> {
    let mut options = RuntimeOptions {
        runtime_config_file: args.runtime_config_file,
        state_dir: args.state_dir,
        cache_dir: args.cache_dir,
        variables: args.variables,
        pooling: !args.no_pooling,
        access_log: args.access_log,
        bundle,
        otel_from_env: true,
        ..RuntimeOptions::default()
    };
    options.limits.max_reuse = args.max_instance_reuse_count.max(1);
    options.limits.max_concurrent = args.max_instance_concurrent_reuse_count.max(1);
    options.limits.request_timeout = args.request_timeout;
    options.limits.post_response_timeout = args.post_response_timeout;
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
        max_buffered_body_bytes: args.max_buffered_body_mib << 20,
        idle_timeout: args.connection_idle_timeout,
        shutdown_grace: args.shutdown_grace,
    };

    let app = App::from_manifest(manifest, origin, options).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    // Both listeners are bound before "Serving" is printed: whoever waits for
    // that line (a test, a supervisor) can reach the admin address too.
    let admin = match &args.admin_listen {
        Some(admin) => Some(
            tokio::net::TcpListener::bind(admin)
                .await
                .with_context(|| format!("cannot listen on {admin} (--admin-listen)"))?,
        ),
        None => None,
    };
    let addr = listener.local_addr()?;
    println!("Serving http://{addr}");
    println!("Available Routes:");
    for (route, component) in app.routes() {
        println!("  {component}: http://{addr}{}", route.trim_end_matches("/..."));
        if route.ends_with("/...") {
            println!("    (wildcard)");
        }
    }
    let schedules = app.schedules();
    if !schedules.is_empty() {
        println!("Cron triggers:");
        for (expression, component) in schedules {
            println!("  {component}: {expression}");
        }
    }
    if let Some(admin) = admin {
        println!("Metrics: http://{}/metrics", admin.local_addr()?);
        app.serve_admin(admin);
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

async fn registry(command: RegistryCommand) -> anyhow::Result<()> {
    match command {
        RegistryCommand::Push { manifest, oci_layout, insecure, reference } => {
            let artifact = Artifact::build(&Manifest::load(&manifest)?)?;
            match (oci_layout, reference) {
                (Some(dir), name) => {
                    let name = name.unwrap_or_else(|| "latest".into());
                    artifact.write_layout(&dir, &name)?;
                    println!("Wrote {} as `{name}` with digest {}", dir.display(), artifact.digest());
                }
                (None, Some(reference)) => {
                    let reference = Reference::parse(&reference).map_err(anyhow::Error::msg)?;
                    let digest = artifact.push(&reference, insecure).await?;
                    println!("Pushed with digest {digest}");
                }
                (None, None) => bail!("name a REFERENCE to push to, or --oci-layout DIR"),
            }
        }
        RegistryCommand::Pull { oci_layout, insecure, reference } => {
            let reference = Reference::parse(&reference).map_err(anyhow::Error::msg)?;
            let descriptor = keel_runtime::oci::pull(&reference, insecure, &oci_layout).await?;
            println!("Pulled {reference} into {} with digest {}", oci_layout.display(), descriptor.digest);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEEL_LOG").unwrap_or_else(|_| "keel_runtime=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Embedded::current() {
        Ok(Some(bundle)) => {
            let cli = BundleCli::parse();
            if cli.version {
                print!("{}", bundle.describe());
                return ExitCode::SUCCESS;
            }
            async_main(run_bundle(bundle, cli))
        }
        Ok(None) => run(Cli::parse()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Build { manifest } => build(&manifest),
        Command::Up(args) => async_main(up(args)),
        Command::Registry(command) => async_main(registry(command)),
        Command::Deploy(DeployCommand::Scaffold {
            manifest,
            image,
            executor,
            replicas,
            autoscaler,
            min_replicas,
            max_replicas,
            runtime_config,
            regions,
            variables,
            cron_routes,
            cron_bearer,
            output,
        }) => {
            let parsed = Manifest::load(&manifest)?;
            let runtime_config = runtime_config
                .map(|path| {
                    // Validated as `keel up` would read it.
                    keel_runtime::config::runtime_config::RuntimeConfig::load(&path)?;
                    let text =
                        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    anyhow::Ok((path, text))
                })
                .transpose()?;
            let options = keel_runtime::scaffold::Options {
                manifest_path: manifest.clone(),
                image,
                executor,
                scaling: match replicas {
                    Some(n) => keel_runtime::scaffold::Scaling::Replicas(n),
                    None => keel_runtime::scaffold::Scaling::Auto {
                        autoscaler: match autoscaler.as_deref() {
                            Some("keda") => keel_runtime::scaffold::Autoscaler::Keda,
                            _ => keel_runtime::scaffold::Autoscaler::Hpa,
                        },
                        min: min_replicas,
                        max: max_replicas,
                    },
                },
                runtime_config,
                regions,
                variables,
                cron_routes,
                cron_bearer,
            };
            let files = keel_runtime::scaffold::scaffold(&parsed, &options)
                .map_err(|problems| anyhow::anyhow!("{}: cannot scaffold:\n{problems}", manifest.display()))?;
            for (path, text) in &files {
                let path = output.join(path);
                std::fs::create_dir_all(path.parent().expect("files are in directories"))?;
                std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Bundle { manifest, output, sign } => {
            let written = bundle::write(&Manifest::load(&manifest)?, &output, sign.as_deref())?;
            println!(
                "Wrote {} ({:.1} MB, {} component(s){})",
                output.display(),
                written.size as f64 / 1e6,
                written.components.len(),
                if sign.is_some() { ", signed" } else { "" }
            );
            Ok(())
        }
    }
}

fn async_main(work: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(work))
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
