//! `allowed_outbound_hosts`: which URLs a component may reach.
//!
//! Deny by default: a component with an empty list reaches nothing. Entries
//! follow Spin's syntax, `scheme://host[:port]`, where the scheme, host
//! (or its leftmost labels, `*.example.com`) and port may be `*`. As in
//! Spin, an entry may be a template over application variables
//! (`"{{ api_base }}"`), rendered when the app loads.

/// One parsed `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: Option<String>,
    host: HostPattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com` stored as `.example.com`.
    Suffix(String),
}

impl AllowedHost {
    pub fn parse(entry: &str) -> Result<AllowedHost, String> {
        let (scheme, rest) = entry
            .split_once("://")
            .ok_or("expected `scheme://host[:port]`, e.g. `https://api.example.com`")?;
        let scheme = match scheme {
            "*" => None,
            s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) => {
                Some(s.to_ascii_lowercase())
            }
            _ => return Err(format!("invalid scheme `{scheme}`")),
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err("paths are not allowed; give only scheme, host and port".into());
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, "*")) => (h, None),
            Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| format!("invalid port `{p}`"))?)),
            None => {
                let default = scheme.as_deref().and_then(default_port);
                if default.is_none() {
                    return Err("a port is required for this scheme (use `:*` for any port)".into());
                }
                (rest, default)
            }
        };
        let host = match host {
            "" => return Err("missing host".into()),
            "*" => HostPattern::Any,
            h if h.starts_with("*.") => HostPattern::Suffix(h[1..].to_ascii_lowercase()),
            h if h.contains('*') => return Err(format!("invalid wildcard in host `{h}`")),
            h => HostPattern::Exact(h.to_ascii_lowercase()),
        };
        Ok(AllowedHost { scheme, host, port })
    }

    /// Whether a request to `scheme://host:port` is allowed by this entry.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.scheme.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(scheme))
            && self.port.is_none_or(|p| p == port)
            && match &self.host {
                HostPattern::Any => true,
                HostPattern::Exact(h) => *h == host,
                HostPattern::Suffix(s) => host.ends_with(s.as_str()),
            }
    }
}

pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "redis" => Some(6379),
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "mqtt" => Some(1883),
        _ => None,
    }
}

/// The allow list of one component.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy(Vec<AllowedHost>);

impl OutboundPolicy {
    /// Parse `entries`, rendering templated ones with `render` first.
    pub fn new(
        entries: &[String],
        render: impl Fn(&str) -> Result<String, String>,
    ) -> Result<OutboundPolicy, String> {
        entries
            .iter()
            .map(|entry| {
                let rendered = if entry.contains("{{") {
                    render(entry).map_err(|m| format!("`{entry}`: {m}"))?
                } else {
                    entry.clone()
                };
                AllowedHost::parse(&rendered).map_err(|m| match rendered == *entry {
                    true => format!("`{entry}`: {m}"),
                    false => format!("`{entry}` (rendered `{rendered}`): {m}"),
                })
            })
            .collect::<Result<_, _>>()
            .map(OutboundPolicy)
    }

    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let Some(port) = port.or_else(|| default_port(scheme)) else {
            return false;
        };
        self.0.iter().any(|a| a.allows(scheme, host, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> OutboundPolicy {
        OutboundPolicy::new(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>(), |t| Ok(t.into())).unwrap()
    }

    #[test]
    fn renders_templated_entries() {
        let render = |template: &str| Ok(template.replace("{{ api_base }}", "http://127.0.0.1:8025"));
        let p = OutboundPolicy::new(&["{{ api_base }}".to_string()], render).unwrap();
        assert!(p.allows("http", "127.0.0.1", Some(8025)));
        assert!(!p.allows("http", "127.0.0.1", Some(8026)));
        let bad = |_: &str| Ok("127.0.0.1".to_string());
        let err = OutboundPolicy::new(&["{{ api_base }}".to_string()], bad).unwrap_err();
        assert!(err.contains("`{{ api_base }}` (rendered `127.0.0.1`)"), "{err}");
    }

    #[test]
    fn denies_everything_by_default() {
        assert!(!policy(&[]).allows("https", "example.com", None));
    }

    #[test]
    fn matches_scheme_host_and_default_port() {
        let p = policy(&["https://api.example.com"]);
        assert!(p.allows("https", "API.example.com", None));
        assert!(p.allows("https", "api.example.com", Some(443)));
        assert!(!p.allows("https", "api.example.com", Some(8443)));
        assert!(!p.allows("http", "api.example.com", None));
        assert!(!p.allows("https", "evil.com", None));
    }

    #[test]
    fn supports_wildcards() {
        let p = policy(&["https://*.example.com", "http://localhost:*", "*://*:6379"]);
        assert!(p.allows("https", "a.b.example.com", None));
        assert!(!p.allows("https", "example.com.evil.net", None));
        assert!(p.allows("http", "localhost", Some(3001)));
        assert!(p.allows("redis", "cache", Some(6379)));
    }

    #[test]
    fn rejects_malformed_entries() {
        for bad in ["example.com", "https://a.com/path", "https://a*.com", "https://a.com:x", "custom://h"] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
