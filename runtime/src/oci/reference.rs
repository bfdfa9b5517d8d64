//! Image references as Docker and `spin registry` write them:
//! `[registry[:port]/]repository[:tag][@sha256:…]`.

use std::fmt;

/// Docker Hub's name in references, and the host that serves its API.
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host, with its port when given (`ghcr.io`, `localhost:5000`).
    pub registry: String,
    /// Repository path inside the registry (`acme/team-collab`).
    pub repository: String,
    /// Tag; `latest` when neither a tag nor a digest is given.
    pub tag: Option<String>,
    /// Content digest (`sha256:…`) pinning the manifest.
    pub digest: Option<String>,
}

impl Reference {
    /// Parse a reference. A first path segment that looks like a host (has a
    /// `.` or a `:`, or is `localhost`) names the registry; otherwise the
    /// registry is Docker Hub.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let bad = |why: &str| format!("`{text}` is not an image reference: {why}");
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                let hex = digest.strip_prefix("sha256:").ok_or_else(|| bad("the digest must start with `sha256:`"))?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    return Err(bad("a sha256 digest has 64 lower-case hex digits"));
                }
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => (first.to_string(), path),
            _ => (DOCKER_HUB.to_string(), rest),
        };
        // A `:` after the last `/` starts the tag.
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag.to_string())),
            _ => (path, None),
        };
        if repository.is_empty() {
            return Err(bad("the repository is missing"));
        }
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
                && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        };
        if !repository.split('/').all(component_ok) {
            return Err(bad("repository names use lower-case letters, digits and `.`, `_`, `-` between `/`"));
        }
        if let Some(tag) = &tag {
            let ok = tag.len() <= 128
                && tag.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && tag.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !ok {
                return Err(bad("tags use letters, digits, `.`, `_` and `-` (at most 128)"));
            }
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_string()
        };
        let tag = if tag.is_none() && digest.is_none() { Some("latest".to_string()) } else { tag };
        Ok(Reference { registry, repository, tag, digest })
    }

    /// What `GET /v2/<repository>/manifests/<reference>` takes: the digest
    /// when pinned, else the tag.
    pub fn manifest_reference(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }

    /// The host that serves the registry API.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB { DOCKER_HUB_API } else { &self.registry }
    }

    /// Whether the registry is on this machine (served over plain HTTP by default).
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => self.registry.as_str(),
        };
        matches!(host, "localhost" | "127.0.0.1" | "[::1]") || host.starts_with("127.")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Reference;

    #[test]
    fn parses_registry_repository_tag_and_digest() {
        let r = Reference::parse("ghcr.io/acme/team-collab:1.2.0").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("ghcr.io", "acme/team-collab", Some("1.2.0"))
        );
        let r = Reference::parse("localhost:5000/keel/app").unwrap();
        assert_eq!((r.registry.as_str(), r.tag.as_deref(), r.is_loopback()), ("localhost:5000", Some("latest"), true));
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("127.0.0.1:5000/app@{digest}")).unwrap();
        assert_eq!(
            (r.tag.as_deref(), r.digest.as_deref(), r.manifest_reference()),
            (None, Some(digest.as_str()), digest.as_str())
        );
        let r = Reference::parse("nginx").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.api_host()),
            ("docker.io", "library/nginx", "registry-1.docker.io")
        );
        assert_eq!(Reference::parse("ghcr.io/a/b:v1").unwrap().to_string(), "ghcr.io/a/b:v1");
    }

    #[test]
    fn refuses_malformed_references() {
        for bad in ["", "ghcr.io/", "ghcr.io/Acme/app", "ghcr.io/a//b", "app:bad tag", "app@sha256:xyz", "app@md5:00"] {
            assert!(Reference::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
