//! Spin application manifests (`spin.toml`, `spin_manifest_version = 2`).
//!
//! Every field Spin's manifest v2 defines is known: the ones Keel acts on
//! are modelled, descriptive ones (`description`, `authors`, `tool`, …)
//! are accepted, and the ones Keel cannot honour (`dependencies`,
//! `ai_models`, trigger types other than `http` and `cron`) are refused with
//! the reason rather than silently ignored. Unknown keys (a typo such as
//! `sqlite_database`) are errors naming the file and line, as in Spin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use serde::Deserialize;

use super::{ConfigError, parse_toml};

/// A validated application manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Directory holding the manifest; relative paths resolve against it.
    pub app_dir: PathBuf,
    /// `[application] name`.
    pub name: String,
    /// `[application] version`.
    pub version: Option<String>,
    /// `[application] description`.
    pub description: Option<String>,
    /// `[application] authors`.
    pub authors: Vec<String>,
    /// The application variables (`[variables]`), by name.
    pub variables: BTreeMap<String, VariableDecl>,
    /// The components (`[component.<id>]`), by id.
    pub components: BTreeMap<String, Component>,
    /// The HTTP triggers, in manifest order.
    pub http_routes: Vec<HttpRoute>,
    /// The cron triggers (`[[trigger.cron]]`), in manifest order.
    pub cron_triggers: Vec<CronTrigger>,
}

/// An application variable's declaration: `required` or with a `default`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    /// The value when no provider has one.
    #[serde(default)]
    pub default: Option<String>,
    /// Whether start-up fails when no provider has a value.
    #[serde(default)]
    pub required: bool,
    /// Whether the value is a secret (never logged; from a Secret when deployed).
    #[serde(default)]
    pub secret: bool,
    /// What the variable is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// A component (`[component.<id>]`), its paths resolved.
#[derive(Debug, Clone)]
pub struct Component {
    /// The component id.
    pub id: String,
    /// Absolute path of the component's `.wasm`.
    pub source: PathBuf,
    /// The SQLite database labels it may open.
    pub sqlite_databases: Vec<String>,
    /// The key-value store labels it may open.
    pub key_value_stores: Vec<String>,
    /// Where it may connect (`scheme://host[:port]` entries, maybe templates).
    pub allowed_outbound_hosts: Vec<String>,
    /// Component variable name → template such as `"{{ token_secret }}"`.
    pub variables: BTreeMap<String, String>,
    /// Environment variables its WASI environment holds.
    pub environment: BTreeMap<String, String>,
    /// The files it reads through WASI (`files`), mounted read-only.
    pub files: Vec<FileMount>,
    /// Glob patterns, relative to the manifest, of files that no `files`
    /// pattern mounts (`exclude_files`).
    pub exclude_files: Vec<String>,
    /// How `keel build` builds it (`[component.<id>.build]`).
    pub build: Option<BuildDecl>,
}

/// One entry of a component's `files`, as Spin's manifest defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileMount {
    /// A glob pattern relative to the manifest (`"static/**/*"`): every
    /// file it matches, at the same relative path under the guest's `/`.
    Pattern(String),
    /// A directory (resolved against the manifest's directory, as Spin
    /// joins it) mounted at an absolute guest path (`{ source = "web", destination = "/" }`).
    Directory {
        /// The host directory.
        source: PathBuf,
        /// Where the guest sees it.
        destination: String,
    },
}

/// `files` entries as written.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawFileMount {
    Pattern(String),
    Placement(RawPlacement),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlacement {
    source: String,
    destination: String,
}

impl FileMount {
    /// Check one `files` entry of a manifest in `app_dir`.
    fn parse(raw: toml::Value, app_dir: &Path) -> Result<FileMount, String> {
        let shown = raw.to_string();
        let entry: RawFileMount = raw.try_into().map_err(|_| {
            format!("`files` entry {shown} must be a glob pattern (\"static/**/*\") or {{ source = \"dir\", destination = \"/\" }}")
        })?;
        let inside = |path: &str| {
            Path::new(path).is_relative() && !Path::new(path).components().any(|c| c == std::path::Component::ParentDir)
        };
        match entry {
            RawFileMount::Pattern(pattern) => {
                if !inside(&pattern) {
                    return Err(format!(
                        "`files` pattern `{pattern}` must be relative to the manifest's directory and stay inside it"
                    ));
                }
                glob::Pattern::new(&pattern).map_err(|e| format!("`files` pattern `{pattern}`: {e}"))?;
                Ok(FileMount::Pattern(pattern))
            }
            RawFileMount::Placement(RawPlacement { source, destination }) => {
                if !destination.starts_with('/') || destination.split('/').any(|s| s == "..") {
                    return Err(format!(
                        "`files` destination `{destination}` must be an absolute guest path such as \"/\" or \"/assets\""
                    ));
                }
                Ok(FileMount::Directory { source: app_dir.join(source), destination })
            }
        }
    }
}

/// A component's build settings, as `spin build` reads them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildDecl {
    /// The command(s) to run.
    pub command: BuildCommand,
    /// Where to run them, relative to the manifest.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Files `spin watch` would watch (accepted, unused).
    #[serde(default)]
    pub watch: Vec<String>,
}

/// One build command or several, run in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BuildCommand {
    /// `command = "…"`.
    One(String),
    /// `command = ["…", "…"]`.
    Many(Vec<String>),
}

impl BuildCommand {
    /// The commands, in order.
    pub fn commands(&self) -> Vec<&str> {
        match self {
            BuildCommand::One(c) => vec![c.as_str()],
            BuildCommand::Many(cs) => cs.iter().map(String::as_str).collect(),
        }
    }
}

/// An HTTP trigger: requests matching `route` go to `component`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// The route it matches.
    pub route: Route,
    /// The id of the component it invokes.
    pub component: String,
}

/// A cron trigger, the shape of Spin's cron trigger plugin: `component`
/// runs at each time `schedule` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronTrigger {
    /// The id of the component it runs.
    pub component: String,
    /// When: `cron_expression`, seconds first (`sec min hour day-of-month
    /// month day-of-week [year]`); [`cron::Schedule::source`] gives it back.
    pub schedule: cron::Schedule,
}

/// A Spin HTTP route: an exact path or a prefix ending in `/...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A path that must match exactly.
    Exact(String),
    /// `/api/...`, stored without `/...`: the path and everything under it.
    Prefix(String),
}

impl Route {
    /// Parse a `route` value; `None` unless it starts with `/`.
    pub fn parse(raw: &str) -> Option<Route> {
        if !raw.starts_with('/') {
            return None;
        }
        Some(match raw.strip_suffix("/...") {
            Some(prefix) => Route::Prefix(prefix.trim_end_matches('/').to_string()),
            None => Route::Exact(raw.trim_end_matches('/').to_string()),
        })
    }

    /// Whether `path` matches; returns the matched base (for `spin-path-info`).
    pub fn matches<'p>(&self, path: &'p str) -> Option<&'p str> {
        let path_trimmed = path.trim_end_matches('/');
        match self {
            Route::Exact(p) => (path_trimmed == p).then_some(""),
            Route::Prefix(p) => {
                if p.is_empty() {
                    Some(path)
                } else if path_trimmed == p {
                    Some("")
                } else {
                    path.strip_prefix(p.as_str()).filter(|rest| rest.starts_with('/'))
                }
            }
        }
    }

    /// Longer, exact routes win over shorter and wildcard ones.
    pub fn specificity(&self) -> (usize, bool) {
        match self {
            Route::Exact(p) => (p.len(), true),
            Route::Prefix(p) => (p.len(), false),
        }
    }

    /// The route as `spin.toml` writes it (`/`, `/healthz`, `/api/...`).
    pub fn as_spin_str(&self) -> String {
        match self {
            Route::Exact(p) if p.is_empty() => "/".to_string(),
            Route::Exact(p) => p.clone(),
            Route::Prefix(p) => format!("{p}/..."),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

/// `[[trigger.<type>]]` tables: the types Keel runs, typed, and the names
/// of the others (refused once the file has parsed).
#[derive(Default)]
struct RawTriggers {
    http: Vec<RawTrigger>,
    cron: Vec<RawCronTrigger>,
    unsupported: Vec<String>,
}

impl<'de> Deserialize<'de> for RawTriggers {
    /// By hand rather than with `#[serde(flatten)]`, which would buffer the
    /// tables and lose the line of an error inside one.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawTriggers;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table of trigger types")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawTriggers, A::Error> {
                let mut triggers = RawTriggers::default();
                while let Some(kind) = map.next_key::<String>()? {
                    match kind.as_str() {
                        "http" => triggers.http.extend(map.next_value::<Vec<RawTrigger>>()?),
                        "cron" => triggers.cron.extend(map.next_value::<Vec<RawCronTrigger>>()?),
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            triggers.unsupported.push(kind);
                        }
                    }
                }
                Ok(triggers)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    authors: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    /// Application-wide trigger settings (`[application.trigger.http]`).
    #[serde(default)]
    trigger: BTreeMap<String, toml::Table>,
    #[serde(default, rename = "tool")]
    _tool: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrigger {
    #[serde(default, rename = "id")]
    _id: Option<String>,
    #[serde(default)]
    route: Option<toml::Value>,
    #[serde(default)]
    component: Option<toml::Value>,
    #[serde(default)]
    executor: Option<toml::Table>,
    #[serde(default)]
    static_response: Option<toml::Table>,
}

/// `[[trigger.cron]]`, as Spin's cron trigger plugin defines it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCronTrigger {
    /// Any Spin trigger may have one; a locked app always does.
    #[serde(default, rename = "id")]
    _id: Option<String>,
    component: String,
    cron_expression: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    #[serde(default, rename = "description")]
    _description: Option<String>,
    #[serde(default)]
    files: Vec<toml::Value>,
    #[serde(default)]
    exclude_files: Vec<String>,
    #[serde(default)]
    allowed_http_hosts: Vec<String>,
    #[serde(default)]
    ai_models: Vec<String>,
    #[serde(default)]
    dependencies: Option<toml::Table>,
    #[serde(default, rename = "dependencies_inherit_configuration")]
    _dependencies_inherit_configuration: bool,
    #[serde(default, rename = "tool")]
    _tool: Option<toml::Table>,
    source: toml::Value,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    build: Option<BuildDecl>,
}

impl Manifest {
    /// Read and validate a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            source: e,
        })?;
        let app_dir = path
            .parent()
            .map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p })
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let app_dir = std::path::absolute(&app_dir).unwrap_or(app_dir);
        Self::parse(path, &text, app_dir)
    }

    /// Parse and validate `text`, the manifest at `path`; relative paths
    /// resolve against `app_dir`.
    pub fn parse(path: &Path, text: &str, app_dir: PathBuf) -> Result<Manifest, ConfigError> {
        Self::validate(path, parse_toml(path, text)?, app_dir)
    }

    /// Validate a manifest given as JSON of `spin.toml`'s shape (a locked
    /// application, translated by [`super::locked`]): the same rules as a
    /// file, errors naming `origin`.
    pub(super) fn from_json(origin: &Path, value: serde_json::Value, app_dir: PathBuf) -> Result<Manifest, ConfigError> {
        let raw = serde_json::from_value(value)
            .map_err(|e| ConfigError::Invalid { path: origin.to_path_buf(), message: e.to_string() })?;
        Self::validate(origin, raw, app_dir)
    }

    fn validate(path: &Path, raw: RawManifest, app_dir: PathBuf) -> Result<Manifest, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if raw.spin_manifest_version.as_integer() != Some(2)
            && raw.spin_manifest_version.as_str() != Some("2")
        {
            return Err(invalid(format!(
                "spin_manifest_version must be 2 (found {})",
                raw.spin_manifest_version
            )));
        }
        for (name, decl) in &raw.variables {
            validate_variable_name(name).map_err(|m| invalid(format!("variable `{name}`: {m}")))?;
            // Spin's loader: exactly one of the two.
            if decl.required == decl.default.is_some() {
                return Err(invalid(format!("variable `{name}`: must be `required` OR have a `default`")));
            }
        }

        if let Some(base) = raw.application.trigger.get("http").and_then(|http| http.get("base"))
            && base.as_str() != Some("/")
        {
            return Err(invalid(format!(
                "[application.trigger.http] base = {base}: keel serves at `/` only; remove `base` or set it to \"/\""
            )));
        }

        let mut components = BTreeMap::new();
        for (id, c) in raw.component {
            let ctx = |m: String| invalid(format!("component `{id}`: {m}"));
            let unsupported = [
                (c.dependencies.is_some(), "`dependencies`: compose the component ahead of time (tools/keel-compose) and point `source` at the result"),
                (!c.ai_models.is_empty(), "`ai_models`: keel has no Serverless AI host"),
                (!c.allowed_http_hosts.is_empty(), "`allowed_http_hosts` is Spin 1's name: use `allowed_outbound_hosts` (with the scheme, e.g. \"https://api.example.com\")"),
            ];
            if let Some((_, why)) = unsupported.iter().find(|(present, _)| *present) {
                return Err(ctx(format!("unsupported {why}")));
            }
            let files = c
                .files
                .into_iter()
                .map(|entry| FileMount::parse(entry, &app_dir))
                .collect::<Result<Vec<_>, _>>()
                .map_err(&ctx)?;
            for pattern in &c.exclude_files {
                glob::Pattern::new(pattern).map_err(|e| ctx(format!("`exclude_files` pattern `{pattern}`: {e}")))?;
            }
            let source = match &c.source {
                toml::Value::String(s) => app_dir.join(s),
                other => {
                    return Err(ctx(format!(
                        "source must be a local file path (found {other}); remote sources are not supported"
                    )));
                }
            };
            for label in c.sqlite_databases.iter().chain(&c.key_value_stores) {
                validate_label(label).map_err(|m| ctx(format!("label `{label}`: {m}")))?;
            }
            for host in &c.allowed_outbound_hosts {
                // A templated entry is checked once rendered, at load time.
                let referenced = super::variables::template_references(host)
                    .map_err(|m| ctx(format!("allowed_outbound_hosts `{host}`: {m}")))?;
                if referenced.is_empty() {
                    super::outbound::AllowedHost::parse(host)
                        .map_err(|m| ctx(format!("allowed_outbound_hosts `{host}`: {m}")))?;
                }
                if let Some(undeclared) = referenced.iter().find(|name| !raw.variables.contains_key(*name)) {
                    return Err(ctx(format!(
                        "allowed_outbound_hosts `{host}` refers to undeclared application variable `{undeclared}`"
                    )));
                }
            }
            for (name, template) in &c.variables {
                validate_variable_name(name).map_err(|m| ctx(format!("variable `{name}`: {m}")))?;
                for referenced in super::variables::template_references(template)
                    .map_err(|m| ctx(format!("variable `{name}`: {m}")))?
                {
                    if !raw.variables.contains_key(&referenced) {
                        return Err(ctx(format!(
                            "variable `{name}` refers to undeclared application variable `{referenced}`"
                        )));
                    }
                }
            }
            components.insert(
                id.clone(),
                Component {
                    id,
                    source,
                    sqlite_databases: c.sqlite_databases,
                    key_value_stores: c.key_value_stores,
                    allowed_outbound_hosts: c.allowed_outbound_hosts,
                    variables: c.variables,
                    environment: c.environment,
                    files,
                    exclude_files: c.exclude_files,
                    build: c.build,
                },
            );
        }

        if let Some(kind) = raw.trigger.unsupported.first() {
            return Err(invalid(format!("trigger type `{kind}` is not supported by keel (only `http` and `cron`)")));
        }
        let cron_triggers =
            cron_triggers(raw.trigger.cron, &components).map_err(|problems| invalid(problems.join("\n  ")))?;

        let mut http_routes = Vec::new();
        for (i, t) in raw.trigger.http.into_iter().enumerate() {
            let ctx = |m: String| invalid(format!("trigger.http[{i}]: {m}"));
            let component = match t.component {
                Some(toml::Value::String(s)) => s,
                _ => return Err(ctx("`component` must name a component".into())),
            };
            if !components.contains_key(&component) {
                return Err(ctx(format!("component `{component}` is not defined")));
            }
            if t.static_response.is_some() {
                return Err(ctx("`static_response` is not supported by keel; serve the response from a component".into()));
            }
            if let Some(executor) = &t.executor {
                // `spin` in spin.toml; a locked app writes its alias `http`.
                if !matches!(executor.get("type").and_then(toml::Value::as_str), Some("spin" | "http")) {
                    return Err(ctx(format!("executor {executor}: keel runs only Spin components (`type = \"spin\"`)")));
                }
            }
            let route = match t.route {
                Some(toml::Value::String(r)) => Route::parse(&r)
                    .ok_or_else(|| ctx(format!("route `{r}` must start with `/`")))?,
                // `route = { private = true }`: reachable only internally.
                Some(toml::Value::Table(_)) => continue,
                _ => return Err(ctx("`route` is required".into())),
            };
            if let Some(taken) = http_routes.iter().find(|r: &&HttpRoute| r.route == route) {
                return Err(ctx(format!(
                    "route `{}` is already served by component `{}`; give each component its own route",
                    route.as_spin_str(),
                    taken.component
                )));
            }
            http_routes.push(HttpRoute { route, component });
        }

        Ok(Manifest {
            app_dir,
            name: raw.application.name,
            version: raw.application.version,
            description: raw.application.description,
            authors: raw.application.authors,
            variables: raw.variables,
            components,
            http_routes,
            cron_triggers,
        })
    }
}

/// The cron triggers, each expression parsed and component checked; every
/// problem at once, naming `trigger.cron[i]` and the fix.
fn cron_triggers(
    raw: Vec<RawCronTrigger>,
    components: &BTreeMap<String, Component>,
) -> Result<Vec<CronTrigger>, Vec<String>> {
    let mut triggers = Vec::new();
    let mut problems = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        if !components.contains_key(&t.component) {
            problems.push(format!(
                "trigger.cron[{i}]: component `{}` is not defined; add [component.{}] or name one of: {}",
                t.component,
                t.component,
                components.keys().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        match cron::Schedule::from_str(&t.cron_expression) {
            Ok(schedule) => triggers.push(CronTrigger { component: t.component, schedule }),
            Err(e) => problems.push(format!(
                "trigger.cron[{i}]: cron_expression `{}` is not a valid cron expression ({e}); write six or seven \
                 fields, seconds first: `sec min hour day-of-month month day-of-week [year]`, e.g. \"0 */5 * * * *\" \
                 for every five minutes",
                t.cron_expression
            )),
        }
    }
    if problems.is_empty() { Ok(triggers) } else { Err(problems) }
}

fn validate_variable_name(name: &str) -> Result<(), String> {
    super::variables::validate_name(name).map_err(|reason| format!("{name:?}: {reason}"))
}

fn validate_label(label: &str) -> Result<(), String> {
    if !label.is_empty()
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err("labels use only letters, digits, `_` and `-`".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ConfigError> {
        Manifest::parse(Path::new("spin.toml"), text, PathBuf::from("/app"))
    }

    const MINIMAL: &str = r#"
spin_manifest_version = 2
[application]
name = "demo"
[variables]
secret = { required = true, secret = true }
[[trigger.http]]
route = "/..."
component = "web"
[component.web]
source = "dist/web.wasm"
sqlite_databases = ["default"]
allowed_outbound_hosts = ["https://api.example.com"]
[component.web.variables]
key = "{{ secret }}"
"#;

    #[test]
    fn parses_a_spin_v2_manifest() {
        let m = parse(MINIMAL).unwrap();
        assert_eq!(m.name, "demo");
        let web = &m.components["web"];
        assert_eq!(web.source, PathBuf::from("/app/dist/web.wasm"));
        assert_eq!(web.sqlite_databases, vec!["default"]);
        assert_eq!(m.http_routes[0].route, Route::Prefix(String::new()));
    }

    #[test]
    fn a_misspelled_component_key_names_its_line() {
        let text = MINIMAL.replace("sqlite_databases", "sqlite_database");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.starts_with("spin.toml:12:") && err.contains("sqlite_database"), "{err}");
    }

    #[test]
    fn spin_fields_keel_cannot_honour_are_refused_with_the_reason() {
        let ai = MINIMAL.replace("sqlite_databases = [\"default\"]", "ai_models = [\"llama2-chat\"]");
        let err = parse(&ai).unwrap_err().to_string();
        assert!(err.contains("component `web`: unsupported `ai_models`"), "{err}");
        let described = MINIMAL.replace("[component.web]\n", "[component.web]\ndescription = \"the web\"\n");
        assert!(parse(&described).is_ok());
    }

    #[test]
    fn files_are_patterns_or_directories_placed_at_guest_paths() {
        let files = MINIMAL.replace(
            "sqlite_databases = [\"default\"]",
            "files = [\"static/**/*\", { source = \"web\", destination = \"/app\" }]\nexclude_files = [\"**/*.map\"]",
        );
        let web = &parse(&files).unwrap().components["web"];
        assert_eq!(
            web.files,
            [
                FileMount::Pattern("static/**/*".into()),
                FileMount::Directory { source: PathBuf::from("/app/web"), destination: "/app".into() }
            ]
        );
        assert_eq!(web.exclude_files, ["**/*.map"]);
        for (entry, expected) in [
            (
                "\"../secrets/*\"",
                "pattern `../secrets/*` must be relative to the manifest's directory and stay inside it",
            ),
            ("\"/etc/*\"", "pattern `/etc/*` must be relative"),
            ("\"static/[\"", "`files` pattern `static/[`:"),
            ("{ source = \"web\", destination = \"app\" }", "destination `app` must be an absolute guest path"),
            ("{ source = \"web\", destination = \"/\", mode = \"rw\" }", "must be a glob pattern"),
            ("3", "`files` entry 3 must be a glob pattern"),
        ] {
            let text = MINIMAL.replace("sqlite_databases = [\"default\"]", &format!("files = [{entry}]"));
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains("component `web`: ") && err.contains(expected), "{entry}: {err}");
        }
    }

    #[test]
    fn variables_follow_spins_naming_and_declaration_rules() {
        for (text, expected) in [
            (MINIMAL.replace("secret = { required", "secret_ = { required"), "variable `secret_`: \"secret_\": must end with a lowercase ASCII letter or digit"),
            (MINIMAL.replace("secret = { required", "a__b = { required"), "variable `a__b`: \"a__b\": must not contain multiple consecutive underscores"),
            (MINIMAL.replace("secret = { required = true, secret = true }", "secret = {}"), "variable `secret`: must be `required` OR have a `default`"),
            (MINIMAL.replace("secret = { required = true,", "secret = { required = true, default = \"x\","), "variable `secret`: must be `required` OR have a `default`"),
            (MINIMAL.replace("key = \"{{ secret }}\"", "Key = \"{{ secret }}\""), "component `web`: variable `Key`: \"Key\": invalid character 'K'"),
        ] {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn a_route_served_twice_is_an_error() {
        let text = format!("{MINIMAL}\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"web\"\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("route `/...` is already served by component `web`"), "{err}");
    }

    #[test]
    fn names_the_component_of_an_invalid_variable_reference() {
        let text = MINIMAL.replace("{{ secret }}", "{{ missing }}");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("component `web`") && err.contains("missing"), "{err}");
    }

    #[test]
    fn templated_outbound_hosts_must_name_declared_variables() {
        let declared = MINIMAL.replace("\"https://api.example.com\"", "\"{{ secret }}\"");
        assert!(parse(&declared).is_ok());
        let undeclared = MINIMAL.replace("\"https://api.example.com\"", "\"https://{{ api_host }}\"");
        let err = parse(&undeclared).unwrap_err().to_string();
        assert!(err.contains("component `web`") && err.contains("`api_host`"), "{err}");
    }

    #[test]
    fn reports_the_line_of_a_syntax_error() {
        let err = parse("spin_manifest_version = 2\n[application\n").unwrap_err().to_string();
        assert!(err.starts_with("spin.toml:2:13:"), "{err}");
    }

    #[test]
    fn rejects_triggers_for_unknown_components() {
        let text = MINIMAL.replace("component = \"web\"", "component = \"nope\"");
        assert!(parse(&text).unwrap_err().to_string().contains("`nope` is not defined"));
    }

    #[test]
    fn cron_triggers_parse_and_share_components_with_http() {
        let text = format!("{MINIMAL}\n[[trigger.cron]]\ncomponent = \"web\"\ncron_expression = \"*/5 * * * * *\"\n");
        let m = parse(&text).unwrap();
        assert_eq!(m.http_routes[0].component, "web");
        assert_eq!(m.cron_triggers[0].component, "web");
        assert_eq!(m.cron_triggers[0].schedule.source(), "*/5 * * * * *");
    }

    #[test]
    fn every_bad_cron_trigger_is_named_with_the_fix() {
        let text = format!(
            "{MINIMAL}\n[[trigger.cron]]\ncomponent = \"nope\"\ncron_expression = \"0 * * * * *\"\n\
             [[trigger.cron]]\ncomponent = \"web\"\ncron_expression = \"every minute\"\n"
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("spin.toml: trigger.cron[0]: component `nope` is not defined; add [component.nope]"),
            "{err}"
        );
        assert!(
            err.contains("\n  trigger.cron[1]: cron_expression `every minute` is not a valid cron expression"),
            "{err}"
        );
        let unknown = format!("{MINIMAL}\n[[trigger.cron]]\ncomponent = \"web\"\nroute = \"/\"\n");
        let err = parse(&unknown).unwrap_err().to_string();
        assert!(err.starts_with("spin.toml:19:") && err.contains("unknown field `route`"), "{err}");
    }

    #[test]
    fn other_trigger_types_are_refused_by_name() {
        let text = format!("{MINIMAL}\n[[trigger.redis]]\ncomponent = \"web\"\nchannel = \"jobs\"\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("trigger type `redis` is not supported by keel (only `http` and `cron`)"), "{err}");
    }

    #[test]
    fn routes_match_like_spin() {
        let all = Route::parse("/...").unwrap();
        let api = Route::parse("/api/...").unwrap();
        let exact = Route::parse("/healthz").unwrap();
        assert_eq!(all.matches("/x/y"), Some("/x/y"));
        assert_eq!(api.matches("/api/users"), Some("/users"));
        assert_eq!(api.matches("/api"), Some(""));
        assert_eq!(api.matches("/apix"), None);
        assert_eq!(exact.matches("/healthz"), Some(""));
        assert_eq!(exact.matches("/healthz/more"), None);
        assert!(api.specificity() > all.specificity());
    }
}
