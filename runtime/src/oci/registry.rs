//! A client for the OCI distribution API: what `keel registry push` and
//! `keel up --from-registry` need (blobs and manifests, monolithic uploads,
//! Basic and Bearer token authentication as Docker registries, GHCR and
//! Docker Hub answer it).

use anyhow::{Context as _, bail};
use base64::Engine as _;
use bytes::Bytes;
use reqwest::{Method, StatusCode, header};

use super::reference::Reference;
use super::{Descriptor, MANIFEST_MEDIA_TYPE, sha256_digest};

/// Largest manifest accepted (the distribution spec's suggested limit).
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Registry credentials.
#[derive(Clone)]
pub enum Credentials {
    /// None: pulls of public repositories (and bearer tokens for them).
    Anonymous,
    /// A user name and password (or token), sent as Basic or exchanged for
    /// a bearer token, as the registry asks.
    Basic {
        /// The user name.
        username: String,
        /// The password or access token (never printed).
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            // Never print a password.
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
        }
    }
}

impl Credentials {
    /// `KEEL_REGISTRY_USERNAME`/`KEEL_REGISTRY_PASSWORD`, else the entry for
    /// the registry in Docker's `config.json` (`$DOCKER_CONFIG` or
    /// `~/.docker`, as `docker login` and GitHub's login action write it),
    /// else anonymous.
    pub fn lookup(registry: &str) -> anyhow::Result<Credentials> {
        if let (Ok(username), Ok(password)) =
            (std::env::var("KEEL_REGISTRY_USERNAME"), std::env::var("KEEL_REGISTRY_PASSWORD"))
        {
            return Ok(Credentials::Basic { username, password });
        }
        let dir = match std::env::var_os("DOCKER_CONFIG") {
            Some(dir) => std::path::PathBuf::from(dir),
            None => match std::env::var_os("HOME") {
                Some(home) => std::path::Path::new(&home).join(".docker"),
                None => return Ok(Credentials::Anonymous),
            },
        };
        let path = dir.join("config.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(Credentials::Anonymous);
        };
        #[derive(serde::Deserialize)]
        struct DockerConfig {
            #[serde(default)]
            auths: std::collections::BTreeMap<String, DockerAuth>,
        }
        #[derive(serde::Deserialize)]
        struct DockerAuth {
            auth: Option<String>,
        }
        let config: DockerConfig =
            serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
        let wanted = |key: &str| {
            let key = key.trim_start_matches("https://").trim_start_matches("http://");
            let key = key.split('/').next().unwrap_or(key);
            key == registry || (registry == "docker.io" && key == "index.docker.io")
        };
        let Some(auth) = config.auths.iter().find(|(k, _)| wanted(k)).and_then(|(_, a)| a.auth.as_deref()) else {
            return Ok(Credentials::Anonymous);
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())))
            .with_context(|| {
                format!("{}: the `auth` of `{registry}` is not base64 of user:password", path.display())
            })?;
        Ok(Credentials::Basic { username: decoded.0, password: decoded.1 })
    }
}

/// One repository of one registry.
pub struct Registry {
    http: reqwest::Client,
    base: String,
    repository: String,
    credentials: Credentials,
    /// The `Authorization` value that last worked (a Bearer token or Basic).
    authorization: Option<String>,
    push: bool,
}

impl Registry {
    /// A client for `reference`'s repository; plain HTTP when `insecure` or
    /// when the registry is on loopback.
    pub fn new(
        reference: &Reference,
        credentials: Credentials,
        insecure: bool,
        push: bool,
    ) -> anyhow::Result<Registry> {
        let scheme = if insecure || reference.is_loopback() { "http" } else { "https" };
        let http = reqwest::Client::builder()
            .user_agent(concat!("keel/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(300))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Registry {
            http,
            base: format!("{scheme}://{}", reference.api_host()),
            repository: reference.repository.clone(),
            credentials,
            authorization: None,
            push,
        })
    }

    /// Send a request, answering one authentication challenge if the
    /// registry asks for it.
    async fn send(
        &mut self,
        method: Method,
        url: &str,
        headers: header::HeaderMap,
        body: Option<Bytes>,
    ) -> anyhow::Result<reqwest::Response> {
        for attempt in 0..2 {
            let mut request = self.http.request(method.clone(), url).headers(headers.clone());
            if let Some(authorization) = &self.authorization {
                request = request.header(header::AUTHORIZATION, authorization);
            }
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            let response = request.send().await.with_context(|| format!("{method} {url}"))?;
            if response.status() != StatusCode::UNAUTHORIZED || attempt == 1 {
                return Ok(response);
            }
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            self.authorization = Some(self.answer(&challenge).await?);
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// The `Authorization` value for a `WWW-Authenticate` challenge.
    async fn answer(&self, challenge: &str) -> anyhow::Result<String> {
        let basic = match &self.credentials {
            Credentials::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            Credentials::Anonymous => None,
        };
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return basic.context(
                "the registry needs credentials: set KEEL_REGISTRY_USERNAME and KEEL_REGISTRY_PASSWORD, or `docker login`",
            );
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            bail!("the registry asks for unsupported authentication `{challenge}`");
        }
        let params = parse_challenge(params);
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.as_str())
            .context("the Bearer challenge has no realm")?;
        let actions = if self.push { "pull,push" } else { "pull" };
        let mut query = vec![("scope".to_string(), format!("repository:{}:{actions}", self.repository))];
        if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
            query.push(("service".into(), service.clone()));
        }
        let mut request = self.http.get(realm).query(&query);
        if let Some(basic) = basic {
            request = request.header(header::AUTHORIZATION, basic);
        }
        let response = request.send().await.with_context(|| format!("token request to {realm}"))?;
        if !response.status().is_success() {
            bail!("the token service {realm} refused the credentials ({})", response.status());
        }
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let token: Token = response.json().await.with_context(|| format!("token response from {realm}"))?;
        let token = token.token.or(token.access_token).context("the token response holds no token")?;
        Ok(format!("Bearer {token}"))
    }

    fn url(&self, kind: &str, reference: &str) -> String {
        format!("{}/v2/{}/{kind}/{reference}", self.base, self.repository)
    }

    /// Upload a blob unless the registry has it already.
    pub async fn push_blob(&mut self, descriptor: &Descriptor, content: Bytes) -> anyhow::Result<()> {
        let url = self.url("blobs", &descriptor.digest);
        let head = self.send(Method::HEAD, &url, header::HeaderMap::new(), None).await?;
        if head.status().is_success() {
            return Ok(());
        }
        let start = self.send(Method::POST, &self.url("blobs", "uploads/"), header::HeaderMap::new(), None).await?;
        if start.status() != StatusCode::ACCEPTED {
            bail!("starting the upload of {} failed: {}", descriptor.digest, describe(start).await);
        }
        let location = start
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .context("the registry started an upload without a Location")?;
        let location = reqwest::Url::parse(&self.base)?.join(location).context("the upload Location is not a URL")?;
        let mut put = location.clone();
        put.query_pairs_mut().append_pair("digest", &descriptor.digest);
        let mut headers = header::HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/octet-stream"));
        let done = self.send(Method::PUT, put.as_str(), headers, Some(content)).await?;
        if done.status() != StatusCode::CREATED {
            bail!("uploading {} failed: {}", descriptor.digest, describe(done).await);
        }
        Ok(())
    }

    /// Store a manifest under `tag`; returns its digest as the registry computed it.
    pub async fn push_manifest(&mut self, tag: &str, manifest: Bytes) -> anyhow::Result<String> {
        let mut headers = header::HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(MANIFEST_MEDIA_TYPE));
        let digest = sha256_digest(&manifest);
        let response = self.send(Method::PUT, &self.url("manifests", tag), headers, Some(manifest)).await?;
        if response.status() != StatusCode::CREATED {
            bail!("storing the manifest failed: {}", describe(response).await);
        }
        if let Some(answered) = response.headers().get("docker-content-digest").and_then(|v| v.to_str().ok())
            && answered != digest
        {
            bail!("the registry stored the manifest as {answered}, not {digest}");
        }
        Ok(digest)
    }

    /// Fetch the OCI image manifest `reference` names; a digest reference
    /// is checked against the content.
    pub async fn pull_manifest(&mut self, reference: &str) -> anyhow::Result<Bytes> {
        let mut headers = header::HeaderMap::new();
        headers.insert(header::ACCEPT, header::HeaderValue::from_static(MANIFEST_MEDIA_TYPE));
        let response = self.send(Method::GET, &self.url("manifests", reference), headers, None).await?;
        if !response.status().is_success() {
            bail!("fetching manifest `{reference}` failed: {}", describe(response).await);
        }
        if response.content_length().is_some_and(|n| n > MAX_MANIFEST_BYTES as u64) {
            bail!("manifest `{reference}` is larger than {MAX_MANIFEST_BYTES} bytes");
        }
        let body = response.bytes().await.context("reading the manifest")?;
        if reference.starts_with("sha256:") && sha256_digest(&body) != reference {
            bail!("the manifest served for {reference} has another digest");
        }
        Ok(body)
    }

    /// Fetch a blob and check its digest and size.
    pub async fn pull_blob(&mut self, descriptor: &Descriptor) -> anyhow::Result<Bytes> {
        let url = self.url("blobs", &descriptor.digest);
        let response = self.send(Method::GET, &url, header::HeaderMap::new(), None).await?;
        if !response.status().is_success() {
            bail!("fetching blob {} failed: {}", descriptor.digest, describe(response).await);
        }
        let body = response.bytes().await.with_context(|| format!("reading blob {}", descriptor.digest))?;
        descriptor.check(&body)?;
        Ok(body)
    }
}

/// `key="value", key=value` pairs of an authentication challenge.
fn parse_challenge(params: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = params.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            quoted.split_once('"').unwrap_or((quoted, ""))
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        pairs.push((key, value.to_string()));
        rest = next.trim_start_matches(',').trim();
    }
    pairs
}

/// A short description of a failed registry answer: the status and the
/// first error the distribution API reports.
async fn describe(response: reqwest::Response) -> String {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_str::<Errors>(&body).ok().and_then(|e| e.errors.into_iter().next()) {
        Some(e) => format!("{status}: {} {}", e.code, e.message),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_challenge;

    #[test]
    fn parses_bearer_challenges() {
        let pairs = parse_challenge(r#"realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull""#);
        assert_eq!(pairs[0], ("realm".into(), "https://ghcr.io/token".into()));
        assert_eq!(pairs[1], ("service".into(), "ghcr.io".into()));
        assert_eq!(pairs[2], ("scope".into(), "repository:a/b:pull".into()));
    }
}
