//! `keel deploy scaffold`: SpinKube manifests for an application, from its
//! `spin.toml` — what `spin kube scaffold` writes, plus what a production
//! deployment needs next to it: the runtime configuration as a Secret,
//! secret variables bound from a Secret (never inlined), `/healthz` probes,
//! a LoadBalancer Service, autoscaling, and one kustomize overlay per Linode
//! region with its data-residency label.
//!
//! ```text
//! <out>/base/        kustomization.yaml namespace.yaml spinapp.yaml service.yaml [hpa.yaml] [cron-N.yaml] [runtime-config.toml]
//! <out>/overlays/<region>/kustomization.yaml
//! ```
//!
//! Cron triggers (`[[trigger.cron]]`): Keel's runtime runs them itself, so
//! with the `keel` executor nothing more is needed. SpinKube's Spin shim runs
//! no cron trigger; for it, `--cron-route COMPONENT=PATH` names an HTTP route
//! of the component that does the same work, and each trigger becomes a
//! Kubernetes CronJob that calls `POST PATH` on the trigger's schedule
//! (optionally with a secret variable as its bearer token). A trigger left
//! without one is refused, never dropped silently.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cron::TimeUnitSpec as _;

use crate::config::manifest::{CronTrigger, Manifest};

/// Linode regions and the data-residency zone each keeps data in.
const REGIONS: &[(&str, &str)] = &[
    ("us-ord", "us"),
    ("us-east", "us"),
    ("us-central", "us"),
    ("us-west", "us"),
    ("us-southeast", "us"),
    ("us-iad", "us"),
    ("us-lax", "us"),
    ("us-mia", "us"),
    ("us-sea", "us"),
    ("ca-central", "ca"),
    ("br-gru", "br"),
    ("de-fra-2", "eu"),
    ("eu-central", "eu"),
    ("fr-par", "eu"),
    ("nl-ams", "eu"),
    ("se-sto", "eu"),
    ("it-mil", "eu"),
    ("es-mad", "eu"),
    ("gb-lon", "gb"),
    ("eu-west", "gb"),
    ("sg-sin-2", "sg"),
    ("ap-south", "sg"),
    ("jp-osa", "jp"),
    ("jp-tyo-3", "jp"),
    ("ap-northeast", "jp"),
    ("in-maa", "in"),
    ("in-bom-2", "in"),
    ("ap-west", "in"),
    ("id-cgk", "id"),
    ("au-mel", "au"),
    ("ap-southeast", "au"),
];

/// How many replicas of the app run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    /// A fixed number.
    Replicas(u32),
    /// Autoscaled on CPU between `min` and `max` replicas.
    Auto {
        /// What scales the app's Deployment.
        autoscaler: Autoscaler,
        /// The fewest replicas.
        min: u32,
        /// The most replicas.
        max: u32,
    },
}

/// What scales an autoscaled app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Autoscaler {
    /// Kubernetes' own HorizontalPodAutoscaler (`hpa.yaml`).
    Hpa,
    /// A KEDA `ScaledObject` (`scaledobject.yaml`), for clusters where KEDA
    /// manages autoscaling (KEDA refuses a workload an HPA already scales).
    Keda,
}

impl Autoscaler {
    /// The file in `base/` that holds it.
    fn file(self) -> &'static str {
        match self {
            Autoscaler::Hpa => "hpa.yaml",
            Autoscaler::Keda => "scaledobject.yaml",
        }
    }
}

/// The CPU utilization (percent of the request) both autoscalers aim at.
const CPU_TARGET_PERCENT: u32 = 70;

/// The SpinAppExecutor that runs Keel's runtime (deploy/spinkube/executors),
/// which runs cron triggers itself.
const KEEL_EXECUTOR: &str = "keel";

/// What `keel deploy scaffold` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The app manifest as the user named it (recorded in the SpinApp's
    /// `keel.dev/app-manifest` annotation).
    pub manifest_path: PathBuf,
    /// The OCI reference `keel registry push` published the app to.
    pub image: String,
    /// The SpinAppExecutor to run it with (`containerd-shim-spin`, `spin-4-1`, `keel`).
    pub executor: String,
    /// Replicas or autoscaling.
    pub scaling: Scaling,
    /// A Spin runtime configuration to mount at `/runtime-config.toml`.
    pub runtime_config: Option<(PathBuf, String)>,
    /// LKE regions to write an overlay for (e.g. `us-ord`).
    pub regions: Vec<String>,
    /// Values of non-secret variables.
    pub variables: Vec<(String, String)>,
    /// For executors that run no cron triggers: the HTTP route (`component`,
    /// path) a CronJob calls with `POST` on each of the component's cron
    /// schedules.
    pub cron_routes: Vec<(String, String)>,
    /// A secret variable those calls send as their bearer token.
    pub cron_bearer: Option<String>,
}

/// The files to write, relative to the output directory, or every problem
/// with the request at once.
pub fn scaffold(manifest: &Manifest, options: &Options) -> Result<Vec<(PathBuf, String)>, String> {
    let mut problems = Vec::new();
    let app = manifest.name.clone();
    if !is_dns_label(&app) {
        problems
            .push(format!("the application name `{app}` is not a Kubernetes name (lower-case letters, digits, `-`)"));
    }
    if !is_dns_label(&options.executor) {
        problems.push(format!("--executor `{}` is not a Kubernetes name", options.executor));
    }
    if options.image.is_empty() || options.image.contains(char::is_whitespace) {
        problems.push(format!("--image `{}` is not an image reference", options.image));
    }
    match options.scaling {
        Scaling::Replicas(0) => problems.push("--replicas must be at least 1".into()),
        // Scaling on CPU cannot wake a Deployment from zero replicas.
        Scaling::Auto { min, max, .. } if min == 0 || min > max => {
            problems.push(format!("--min-replicas {min} and --max-replicas {max}: need 1 ≤ min ≤ max"))
        }
        _ => {}
    }
    for (name, _) in &options.variables {
        match manifest.variables.get(name) {
            None => problems.push(format!("--variable {name}: the manifest declares no such variable")),
            Some(decl) if decl.secret => problems.push(format!(
                "--variable {name}: it is secret; it is bound from the Secret `{app}-secrets`, never written into a manifest"
            )),
            Some(_) => {}
        }
    }
    let unset: Vec<&str> = manifest
        .variables
        .iter()
        .filter(|(name, decl)| decl.required && !decl.secret && !options.variables.iter().any(|(n, _)| n == *name))
        .map(|(name, _)| name.as_str())
        .collect();
    if !unset.is_empty() {
        problems.push(format!("required variables need a value: {} (--variable NAME=VALUE)", unset.join(", ")));
    }
    for region in &options.regions {
        if !REGIONS.iter().any(|(r, _)| r == region) {
            let known: Vec<&str> = REGIONS.iter().map(|(r, _)| *r).collect();
            problems.push(format!("--region {region} is not a Linode region (known: {})", known.join(", ")));
        }
    }
    let cron_jobs = cron_jobs(manifest, options, &mut problems);
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }

    let secrets: Vec<&str> =
        manifest.variables.iter().filter(|(_, decl)| decl.secret).map(|(name, _)| name.as_str()).collect();
    let mut files = Vec::new();
    let base = Path::new("base");

    let mut resources = vec!["namespace.yaml", "spinapp.yaml", "service.yaml"];
    if let Scaling::Auto { autoscaler, .. } = options.scaling {
        resources.push(autoscaler.file());
    }
    let cron_files: Vec<String> = (1..=cron_jobs.len()).map(|n| format!("cron-{n}.yaml")).collect();
    resources.extend(cron_files.iter().map(String::as_str));
    let mut kustomization = format!(
        "# {app} on SpinKube, generated by `keel deploy scaffold` from {manifest_path}.\n",
        manifest_path = options.manifest_path.display()
    );
    if !secrets.is_empty() {
        let _ = writeln!(
            kustomization,
            "# The Secret `{app}-secrets` ({}) is created out of band and never committed:\n#   kubectl create secret generic {app}-secrets -n {app} {}",
            secrets.join(", "),
            secrets.iter().map(|s| format!("--from-literal={s}=…")).collect::<Vec<_>>().join(" ")
        );
    }
    let _ = writeln!(
        kustomization,
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {app}\nresources:"
    );
    for resource in &resources {
        let _ = writeln!(kustomization, "  - {resource}");
    }
    if let Some((_, text)) = &options.runtime_config {
        let _ = writeln!(
            kustomization,
            "secretGenerator:\n  - name: {app}-runtime-config\n    files:\n      - runtime-config.toml\ngeneratorOptions:\n  # The SpinApp names the Secret in a field kustomize does not rewrite.\n  disableNameSuffixHash: true"
        );
        files.push((base.join("runtime-config.toml"), text.clone()));
    }
    files.push((base.join("kustomization.yaml"), kustomization));
    files.push((base.join("namespace.yaml"), format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {app}\n")));

    let mut spinapp = format!(
        "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: {app}\n  labels:\n    app.kubernetes.io/name: {app}\n  annotations:\n    keel.dev/app-manifest: {manifest}\nspec:\n  image: {image}\n  executor: {executor}\n",
        manifest = quote(&options.manifest_path.display().to_string()),
        image = quote(&options.image),
        executor = options.executor,
    );
    match options.scaling {
        Scaling::Replicas(n) => {
            let _ = writeln!(spinapp, "  replicas: {n}");
        }
        Scaling::Auto { autoscaler, .. } => {
            let _ = writeln!(
                spinapp,
                "  # Replicas come from the autoscaler in {}.\n  enableAutoscaling: true",
                autoscaler.file()
            );
        }
    }
    spinapp.push_str(
        "  resources:\n    requests:\n      cpu: 100m\n      memory: 64Mi\n    limits:\n      cpu: \"1\"\n      memory: 256Mi\n  checks:\n    readiness:\n      httpGet:\n        path: /healthz\n    liveness:\n      httpGet:\n        path: /healthz\n",
    );
    if options.runtime_config.is_some() {
        let _ = writeln!(spinapp, "  runtimeConfig:\n    loadFromSecret: {app}-runtime-config");
    }
    let bound: Vec<(&str, Option<&str>)> = manifest
        .variables
        .iter()
        .filter_map(|(name, decl)| {
            let value = options.variables.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
            (decl.secret || value.is_some()).then_some((name.as_str(), value))
        })
        .collect();
    if !bound.is_empty() {
        spinapp.push_str("  variables:\n");
        for (name, value) in bound {
            match value {
                Some(value) => {
                    let _ = writeln!(spinapp, "    - name: {name}\n      value: {}", quote(value));
                }
                None => {
                    let _ = writeln!(
                        spinapp,
                        "    - name: {name}\n      valueFrom:\n        secretKeyRef:\n          name: {app}-secrets\n          key: {name}"
                    );
                }
            }
        }
    }
    files.push((base.join("spinapp.yaml"), spinapp));

    files.push((
        base.join("service.yaml"),
        format!(
            "# The public entry: on Linode LKE a LoadBalancer Service provisions a NodeBalancer.\napiVersion: v1\nkind: Service\nmetadata:\n  name: {app}-public\n  annotations:\n    service.beta.kubernetes.io/linode-loadbalancer-default-protocol: tcp\nspec:\n  type: LoadBalancer\n  # Keep clients' addresses (spin-client-addr) for per-client rate limits.\n  externalTrafficPolicy: Local\n  selector:\n    core.spinkube.dev/app-name: {app}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http-app\n      protocol: TCP\n"
        ),
    ));
    if let Scaling::Auto { autoscaler, min, max } = options.scaling {
        // Both scale the Deployment the operator creates for the SpinApp (same name).
        let text = match autoscaler {
            Autoscaler::Hpa => format!(
                "# Scales the Deployment the operator creates for the SpinApp (same name).\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {app}\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: {app}\n  minReplicas: {min}\n  maxReplicas: {max}\n  metrics:\n    - type: Resource\n      resource:\n        name: cpu\n        target:\n          type: Utilization\n          averageUtilization: {CPU_TARGET_PERCENT}\n"
            ),
            Autoscaler::Keda => format!(
                "# KEDA scales the Deployment the operator creates for the SpinApp (same name)\n# through an HPA of its own; needs KEDA ≥ 2.10 in the cluster.\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: {app}\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: {app}\n  minReplicaCount: {min}\n  maxReplicaCount: {max}\n  triggers:\n    - type: cpu\n      metricType: Utilization\n      metadata:\n        value: \"{CPU_TARGET_PERCENT}\"\n"
            ),
        };
        files.push((base.join(autoscaler.file()), text));
    }

    for (file, job) in cron_files.iter().zip(&cron_jobs) {
        files.push((base.join(file), job.cron_job(&app, file)));
    }

    for region in &options.regions {
        let residency = REGIONS.iter().find(|(r, _)| r == region).map(|(_, z)| *z).expect("checked above");
        files.push((
            Path::new("overlays").join(region).join("kustomization.yaml"),
            format!(
                "# {app} in Linode region {region}; its data stays in zone `{residency}`.\n#   kubectl apply -k overlays/{region}\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\nlabels:\n  - pairs:\n      keel.dev/region: {region}\n      keel.dev/data-residency: {residency}\npatches:\n  - target:\n      kind: SpinApp\n      name: {app}\n    patch: |-\n      - op: add\n        path: /spec/podLabels\n        value:\n          keel.dev/region: {region}\n          keel.dev/data-residency: {residency}\n"
            ),
        ));
    }
    Ok(files)
}

/// A cron trigger run by a Kubernetes CronJob that calls an HTTP route.
struct CronJob<'m> {
    trigger: &'m CronTrigger,
    path: &'m str,
    bearer: Option<&'m str>,
    /// The schedule in Kubernetes' five fields.
    schedule: String,
    /// Whether the trigger fires more often than once a minute.
    sub_minute: bool,
}

impl CronJob<'_> {
    fn cron_job(&self, app: &str, file: &str) -> String {
        let name = format!("{app}-{}", file.trim_end_matches(".yaml"));
        let source = self.trigger.schedule.source();
        let mut text = format!(
            "# [[trigger.cron]] component = \"{component}\", cron_expression = \"{source}\".\n# SpinKube's Spin shim runs no cron trigger: on its schedule this Job calls\n# POST {path}, the component's route that does the same work, through the\n# operator's in-cluster Service.\n",
            component = self.trigger.component,
            path = self.path,
        );
        if self.sub_minute {
            text.push_str(
                "# The trigger fires more often than once a minute; a CronJob cannot, so it\n# runs once a minute.\n",
            );
        }
        let _ = write!(
            text,
            "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/name: {name}\n    app.kubernetes.io/part-of: {app}\nspec:\n  schedule: {schedule}\n  # A run that outlives its slot is not joined by a second one.\n  concurrencyPolicy: Forbid\n  startingDeadlineSeconds: 30\n  successfulJobsHistoryLimit: 1\n  failedJobsHistoryLimit: 3\n  jobTemplate:\n    spec:\n      backoffLimit: 0\n      activeDeadlineSeconds: 55\n      template:\n        spec:\n          restartPolicy: Never\n          automountServiceAccountToken: false\n          securityContext:\n            runAsNonRoot: true\n            runAsUser: 65532\n            seccompProfile:\n              type: RuntimeDefault\n          containers:\n            - name: call\n              image: curlimages/curl:8.11.1\n              args:\n                - --fail-with-body\n                - --silent\n                - --show-error\n                - --max-time\n                - \"50\"\n                - --request\n                - POST\n",
            schedule = quote(&self.schedule),
        );
        if self.bearer.is_some() {
            text.push_str("                - --header\n                - \"authorization: Bearer $(CRON_BEARER)\"\n");
        }
        let _ = writeln!(
            text,
            "                - {}",
            quote(&format!("http://{app}.{app}.svc.cluster.local{}", self.path))
        );
        if let Some(variable) = self.bearer {
            let _ = writeln!(
                text,
                "              env:\n                - name: CRON_BEARER\n                  valueFrom:\n                    secretKeyRef:\n                      name: {app}-secrets\n                      key: {variable}"
            );
        }
        text.push_str("              resources:\n                requests:\n                  cpu: 10m\n                  memory: 16Mi\n                limits:\n                  cpu: 100m\n                  memory: 32Mi\n              securityContext:\n                allowPrivilegeEscalation: false\n                readOnlyRootFilesystem: true\n                capabilities:\n                  drop: [\"ALL\"]\n");
        text
    }
}

/// The CronJobs that stand in for the manifest's cron triggers, checking
/// `--cron-route` and `--cron-bearer` (problems go to `problems`).
fn cron_jobs<'m>(manifest: &'m Manifest, options: &'m Options, problems: &mut Vec<String>) -> Vec<CronJob<'m>> {
    if options.executor == KEEL_EXECUTOR {
        if !options.cron_routes.is_empty() || options.cron_bearer.is_some() {
            problems.push(format!(
                "--cron-route/--cron-bearer: the `{KEEL_EXECUTOR}` executor runs the cron triggers itself (in every replica); a CronJob would run them twice"
            ));
        }
        return Vec::new();
    }
    for (component, _) in &options.cron_routes {
        if !manifest.cron_triggers.iter().any(|trigger| &trigger.component == component) {
            problems.push(format!("--cron-route {component}=…: no [[trigger.cron]] runs component `{component}`"));
        }
    }
    let bearer = options.cron_bearer.as_deref();
    if let Some(variable) = bearer {
        match manifest.variables.get(variable) {
            Some(decl) if decl.secret => {}
            Some(_) => problems.push(format!(
                "--cron-bearer {variable}: the variable is not `secret = true`; a bearer token is a secret"
            )),
            None => problems.push(format!("--cron-bearer {variable}: the manifest declares no such variable")),
        }
    }
    let mut jobs = Vec::new();
    for trigger in &manifest.cron_triggers {
        let source = trigger.schedule.source();
        let Some((_, path)) = options.cron_routes.iter().find(|(component, _)| component == &trigger.component) else {
            problems.push(format!(
                "[[trigger.cron]] component = \"{component}\", cron_expression = \"{source}\": executor `{executor}` (SpinKube's Spin shim) runs no cron trigger; pass --cron-route {component}=PATH (an HTTP route of `{component}` doing the same work, called by a CronJob) or use --executor {KEEL_EXECUTOR}",
                component = trigger.component,
                executor = options.executor,
            ));
            continue;
        };
        let routed = manifest
            .http_routes
            .iter()
            .filter(|route| route.route.matches(path).is_some())
            .max_by_key(|route| route.route.specificity());
        if routed.is_none_or(|route| route.component != trigger.component) {
            problems.push(format!(
                "--cron-route {component}={path}: the manifest routes {path} to {}, not to `{component}`",
                routed.map_or("no component".to_string(), |route| format!("`{}`", route.component)),
                component = trigger.component,
            ));
            continue;
        }
        match kubernetes_schedule(&trigger.schedule) {
            Ok((schedule, sub_minute)) => jobs.push(CronJob { trigger, path, bearer, schedule, sub_minute }),
            Err(why) => problems.push(format!(
                "[[trigger.cron]] component = \"{}\", cron_expression = \"{source}\": {why}",
                trigger.component
            )),
        }
    }
    jobs
}

/// A Spin cron schedule (seconds first, optional years, Sunday = 1) as a
/// Kubernetes CronJob's five fields (no seconds, Sunday = 0), and whether it
/// fires more often than once a minute. Built from the parsed schedule, so
/// names, steps and ranges all come out as plain values.
fn kubernetes_schedule(schedule: &cron::Schedule) -> Result<(String, bool), String> {
    if !schedule.years().is_all() {
        return Err("it names years, which a Kubernetes CronJob cannot".into());
    }
    if !schedule.days_of_month().is_all() && !schedule.days_of_week().is_all() {
        // Spin's cron trigger fires when both match; a CronJob when either does.
        return Err("it restricts both the day of the month and the day of the week, which a Kubernetes CronJob reads as either one".into());
    }
    let days_of_week: Vec<u32> = schedule.days_of_week().iter().map(|day| day - 1).collect();
    let fields = [
        field(schedule.minutes().is_all(), schedule.minutes().iter()),
        field(schedule.hours().is_all(), schedule.hours().iter()),
        field(schedule.days_of_month().is_all(), schedule.days_of_month().iter()),
        field(schedule.months().is_all(), schedule.months().iter()),
        field(schedule.days_of_week().is_all(), days_of_week.into_iter()),
    ];
    Ok((fields.join(" "), schedule.seconds().count() > 1))
}

/// One field: `*`, or its values with runs folded into ranges (`1-5,10`).
fn field(all: bool, values: impl Iterator<Item = u32>) -> String {
    if all {
        return "*".into();
    }
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for value in values {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == value => *end = value,
            _ => runs.push((value, value)),
        }
    }
    let runs: Vec<String> = runs
        .iter()
        .map(|&(start, end)| if start == end { start.to_string() } else { format!("{start}-{end}") })
        .collect();
    runs.join(",")
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quote(value: &str) -> String {
    serde_json::to_string(value).expect("a string serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Manifest {
        Manifest::parse(Path::new("spin.toml"), text, PathBuf::from("/app")).unwrap()
    }

    fn manifest() -> Manifest {
        parse(
            r#"
spin_manifest_version = 2
[application]
name = "shop"
[variables]
token_secret = { required = true, secret = true }
base_url = { required = true }
mode = { default = "prod" }
[[trigger.http]]
route = "/..."
component = "web"
[component.web]
source = "web.wasm"
"#,
        )
    }

    fn options() -> Options {
        Options {
            manifest_path: "spin.toml".into(),
            image: "ghcr.io/acme/shop:1.0".into(),
            executor: "spin-4-1".into(),
            scaling: Scaling::Auto { autoscaler: Autoscaler::Hpa, min: 2, max: 5 },
            runtime_config: None,
            regions: vec!["us-ord".into()],
            variables: vec![("base_url".into(), "https://shop.example".into())],
            cron_routes: Vec::new(),
            cron_bearer: None,
        }
    }

    /// The shop with a nightly report and a sweeper every 10 seconds on
    /// weekdays, and the routes that do their work.
    fn with_cron() -> Manifest {
        parse(
            r#"
spin_manifest_version = 2
[application]
name = "shop"
[variables]
token_secret = { required = true, secret = true }
base_url = { default = "https://shop.example" }
[[trigger.http]]
route = "/..."
component = "web"
[[trigger.http]]
route = "/internal/sweep"
component = "jobs"
[[trigger.cron]]
component = "jobs"
cron_expression = "*/10 * * * * Mon-Fri"
[[trigger.cron]]
component = "web"
cron_expression = "0 30 2 1,2,3,15 * *"
[component.web]
source = "web.wasm"
[component.jobs]
source = "jobs.wasm"
"#,
        )
    }

    #[test]
    fn cron_triggers_become_cron_jobs_calling_their_routes() {
        let mut options = options();
        options.variables.clear();
        options.cron_routes = vec![("jobs".into(), "/internal/sweep".into()), ("web".into(), "/reports".into())];
        options.cron_bearer = Some("token_secret".into());
        let files = scaffold(&with_cron(), &options).unwrap();
        let file = |name: &str| files.iter().find(|(p, _)| p == &Path::new("base").join(name)).map(|(_, t)| t.as_str());
        let sweep = file("cron-1.yaml").unwrap();
        // Seconds dropped (it then runs once a minute, and says so), Monday-Friday as 1-5.
        assert!(sweep.contains("schedule: \"* * * * 1-5\""), "{sweep}");
        assert!(sweep.contains("runs once a minute"));
        assert!(sweep.contains("- \"http://shop.shop.svc.cluster.local/internal/sweep\""));
        assert!(sweep.contains("\"authorization: Bearer $(CRON_BEARER)\""));
        assert!(sweep.contains(
            "secretKeyRef:\n                      name: shop-secrets\n                      key: token_secret"
        ));
        let report = file("cron-2.yaml").unwrap();
        assert!(report.contains("name: shop-cron-2\n"));
        assert!(report.contains("schedule: \"30 2 1-3,15 * *\""), "{report}");
        assert!(!report.contains("once a minute"));
        assert!(file("kustomization.yaml").unwrap().contains("  - cron-1.yaml\n  - cron-2.yaml\n"));
    }

    #[test]
    fn a_cron_trigger_is_never_dropped_silently() {
        let mut options = options();
        options.variables.clear();
        let error = scaffold(&with_cron(), &options).unwrap_err();
        assert!(error.contains("component = \"jobs\""), "{error}");
        assert!(error.contains("component = \"web\""), "{error}");
        assert!(error.contains("--cron-route jobs=PATH") && error.contains("--executor keel"), "{error}");

        // Keel's runtime runs them itself: no CronJob, and none asked for.
        options.executor = KEEL_EXECUTOR.into();
        let files = scaffold(&with_cron(), &options).unwrap();
        assert!(!files.iter().any(|(p, _)| p.to_string_lossy().contains("cron")));
        options.cron_routes = vec![("jobs".into(), "/internal/sweep".into())];
        assert!(scaffold(&with_cron(), &options).unwrap_err().contains("would run them twice"));
    }

    #[test]
    fn cron_routes_are_checked_against_the_manifest() {
        let mut options = options();
        options.variables.clear();
        options.cron_routes = vec![
            ("jobs".into(), "/internal/nope".into()),
            ("web".into(), "/reports".into()),
            ("nobody".into(), "/x".into()),
        ];
        options.cron_bearer = Some("base_url".into());
        let error = scaffold(&with_cron(), &options).unwrap_err();
        for expected in [
            "--cron-route jobs=/internal/nope: the manifest routes /internal/nope to `web`, not to `jobs`",
            "--cron-route nobody=…: no [[trigger.cron]] runs component `nobody`",
            "--cron-bearer base_url: the variable is not `secret = true`",
        ] {
            assert!(error.contains(expected), "{error} does not mention {expected}");
        }
    }

    #[test]
    fn schedules_a_cron_job_cannot_express_are_refused() {
        for (expression, why) in [
            ("0 0 12 1 * * 2030", "names years"),
            ("0 0 12 1 * Mon", "both the day of the month and the day of the week"),
        ] {
            let schedule: cron::Schedule = expression.parse().unwrap();
            assert!(kubernetes_schedule(&schedule).unwrap_err().contains(why), "{expression}");
        }
        for (expression, expected) in [
            ("0 */15 * * * *", "0,15,30,45 * * * *"),
            ("0 0 9 * Jan,Dec Sun", "0 9 * 1,12 0"),
            ("30 0 0 * * *", "0 0 * * *"),
            ("0 0 0 * * Sun,Sat", "0 0 * * 0,6"),
        ] {
            let schedule: cron::Schedule = expression.parse().unwrap();
            assert_eq!(kubernetes_schedule(&schedule).unwrap(), (expected.to_string(), false), "{expression}");
        }
    }

    #[test]
    fn binds_secrets_from_the_secret_and_values_inline() {
        let files = scaffold(&manifest(), &options()).unwrap();
        let spinapp = &files.iter().find(|(p, _)| p.ends_with("spinapp.yaml")).unwrap().1;
        assert!(
            spinapp.contains(
                "- name: token_secret\n      valueFrom:\n        secretKeyRef:\n          name: shop-secrets"
            )
        );
        assert!(spinapp.contains("- name: base_url\n      value: \"https://shop.example\""));
        assert!(!spinapp.contains("mode"), "a defaulted variable is left to its default");
        assert!(spinapp.contains("enableAutoscaling: true") && !spinapp.contains("replicas:"));
        assert!(files.iter().any(|(p, _)| p == Path::new("overlays/us-ord/kustomization.yaml")));
        assert!(files.iter().any(|(p, _)| p == Path::new("base/hpa.yaml")));
    }

    #[test]
    fn keda_scales_the_app_instead_of_an_hpa() {
        let mut keda = options();
        keda.scaling = Scaling::Auto { autoscaler: Autoscaler::Keda, min: 1, max: 4 };
        let files = scaffold(&manifest(), &keda).unwrap();
        let file = |name: &str| files.iter().find(|(p, _)| p == &Path::new("base").join(name)).map(|(_, t)| t);
        assert!(file("hpa.yaml").is_none(), "KEDA refuses a Deployment an HPA already scales");
        let scaled = file("scaledobject.yaml").unwrap();
        assert!(scaled.contains("kind: ScaledObject") && scaled.contains("minReplicaCount: 1\n  maxReplicaCount: 4"));
        assert!(file("kustomization.yaml").unwrap().contains("  - scaledobject.yaml\n"));
        assert!(file("spinapp.yaml").unwrap().contains("enableAutoscaling: true"));
    }

    #[test]
    fn lists_every_problem_at_once() {
        let mut bad = options();
        bad.variables = vec![("token_secret".into(), "x".into()), ("nope".into(), "y".into())];
        bad.regions = vec!["mars-1".into()];
        bad.scaling = Scaling::Auto { autoscaler: Autoscaler::Keda, min: 5, max: 2 };
        let error = scaffold(&manifest(), &bad).unwrap_err();
        for expected in ["token_secret: it is secret", "nope: the manifest declares", "base_url", "mars-1", "min ≤ max"]
        {
            assert!(error.contains(expected), "{error} does not mention {expected}");
        }
    }
}
