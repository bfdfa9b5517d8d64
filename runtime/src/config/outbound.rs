//! `allowed_outbound_hosts`: which URLs a component may reach.
//!
//! Deny by default: a component with an empty list reaches nothing. Entries
//! follow Spin's grammar (`crates/outbound-networking-config/src/
//! allowed_hosts.rs`), with Spin's messages for entries it refuses:
//! `scheme://host[:port]`, where
//! - the scheme is letters or `*`;
//! - the host is a name, an IP address, `*`, `*.example.com` (any
//!   subdomain), a CIDR range (`10.0.0.0/8`, matching IP addresses), or
//!   `self` / `self.alt` (the app itself: relative URLs);
//! - the port is a number, `*`, or a half-open range `8000..8010`; when it is
//!   left out, the scheme's well-known port (`http` 80, `https` 443,
//!   `postgres` 5432, `mysql` 3306, `redis` 6379, `mqtt` 1883).
//!
//! As in Spin, an entry may be a template over application variables
//! (`"{{ api_base }}"`), rendered when the app loads.

use std::net::IpAddr;

/// One parsed `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com` stored as `.example.com`.
    Suffix(String),
    /// An IP network: the address with the host bits cleared, and the
    /// prefix length.
    Cidr(IpAddr, u8),
    /// `self` or `self.alt`: requests to the app's own address.
    ToSelf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    One(u16),
    /// `start..end`, `end` excluded.
    Range(u16, u16),
}

const LEARN_MORE: &str =
    "Learn more: https://spinframework.dev/v3/http-outbound#granting-http-permissions-to-components";

impl AllowedHost {
    /// Parse one entry, with Spin's message when it is refused.
    pub fn parse(entry: &str) -> Result<AllowedHost, String> {
        let entry = entry.trim();
        let Some((scheme, rest)) = entry.split_once("://") else {
            return Err(match entry {
                "*" | ":" | "" | "?" => format!(
                    "{entry:?} is not an allowed outbound host format.\nHosts must be in the form \
                     <scheme>://<host>[:<port>], with '*' wildcards allowed for each.\nIf you intended to allow \
                     all outbound networking, you can use '*://*:*' - this will obviate all network \
                     sandboxing.\n{LEARN_MORE}"
                ),
                _ => format!("{entry:?} does not contain a scheme (e.g., 'http://' or '*://')\n{LEARN_MORE}"),
            });
        };
        let scheme = match scheme.trim() {
            "*" => None,
            s if s.starts_with('{') => {
                return Err(format!("Invalid allowed host scheme {s:?}: scheme lists are not supported"));
            }
            s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()) => Some(s.to_ascii_lowercase()),
            s => return Err(format!("Invalid allowed host scheme {s:?}: only alphabetic characters are allowed")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        // The host, and what follows its last `:` (IPv6 addresses are in brackets).
        let (host, port) = match rest.strip_prefix('[') {
            Some(v6) => {
                let (addr, after) = v6.split_once(']').ok_or_else(|| format!("Invalid allowed host {rest:?}"))?;
                (&rest[..addr.len() + 2], after.strip_prefix(':').unwrap_or(after))
            }
            None => rest.rsplit_once(':').unwrap_or((rest, "")),
        };
        if port.contains('/') || (host.contains('/') && !is_cidr(host)) {
            return Err(format!("{entry:?} has a path but is not allowed to"));
        }
        let port = match port.trim() {
            "" => PortPattern::One(scheme.as_deref().and_then(default_port).ok_or_else(|| {
                format!(
                    "Invalid allowed host port \"\": no port was provided and the scheme {:?} does not have a known \
                     default port number",
                    scheme.as_deref().unwrap_or("*")
                )
            })?),
            "*" => PortPattern::Any,
            p if p.starts_with('{') => {
                return Err(format!("Invalid allowed host port {p:?}: port lists are not yet supported"));
            }
            p => match p.split_once("..") {
                Some((start, end)) => match (start.parse::<u16>(), end.parse::<u16>()) {
                    (Ok(start), Ok(end)) => PortPattern::Range(start, end),
                    _ => return Err(format!("Invalid allowed host port {p:?}: port range {p:?} contains non-number")),
                },
                None => PortPattern::One(
                    p.parse().map_err(|_| format!("Invalid allowed host port {p:?}: port {p:?} is not a number"))?,
                ),
            },
        };
        let host = match host.trim() {
            "" => return Err(format!("Invalid allowed host \"\": missing host in {entry:?}")),
            "*" => HostPattern::Any,
            "self" | "self.alt" => HostPattern::ToSelf,
            h if h.starts_with('{') => {
                return Err(format!("Invalid allowed host {h:?}: host lists are not yet supported"));
            }
            h if h.contains('/') => {
                let (addr, prefix) = cidr(h).ok_or_else(|| format!("Invalid allowed host {h:?}"))?;
                HostPattern::Cidr(addr, prefix)
            }
            h if h.starts_with("*.") && !h[2..].contains('*') => HostPattern::Suffix(h[1..].to_ascii_lowercase()),
            h if h.contains('*') => {
                return Err(format!("Invalid allowed host {h:?}: wildcards are allowed only as subdomains"));
            }
            h => HostPattern::Exact(h.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()),
        };
        Ok(AllowedHost { scheme, host, port })
    }

    /// Whether a request to `scheme://host:port` is allowed by this entry.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        self.scheme.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(scheme))
            && match self.port {
                PortPattern::Any => true,
                PortPattern::One(p) => p == port,
                PortPattern::Range(start, end) => (start..end).contains(&port),
            }
            && match &self.host {
                HostPattern::Any => true,
                HostPattern::Exact(h) => match (h.parse::<IpAddr>(), host.parse::<IpAddr>()) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => *h == host,
                },
                HostPattern::Suffix(s) => host.ends_with(s.as_str()),
                HostPattern::Cidr(network, prefix) => {
                    host.parse::<IpAddr>().is_ok_and(|ip| masked(ip, *prefix) == Some(*network))
                }
                HostPattern::ToSelf => false,
            }
    }

    /// Whether this entry lets the app call itself with a relative URL
    /// (host `*`, `self` or `self.alt`, over HTTP or HTTPS).
    fn allows_self(&self) -> bool {
        matches!(self.host, HostPattern::Any | HostPattern::ToSelf)
            && self.scheme.as_deref().is_none_or(|s| s == "http" || s == "https")
    }
}

fn is_cidr(host: &str) -> bool {
    cidr(host).is_some()
}

/// `10.0.0.0/8` as the network address (host bits cleared, as Spin's
/// `from_str_truncate` does) and the prefix length.
fn cidr(host: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = host.split_once('/')?;
    let addr: IpAddr = addr.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    Some((masked(addr, prefix)?, prefix))
}

/// `ip` with all but its first `prefix` bits cleared; `None` when the
/// prefix is longer than the address.
fn masked(ip: IpAddr, prefix: u8) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) if prefix <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            Some(IpAddr::V4((u32::from(v4) & mask).into()))
        }
        IpAddr::V6(v6) if prefix <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            Some(IpAddr::V6((u128::from(v6) & mask).into()))
        }
        _ => None,
    }
}

/// The well-known port of `scheme`, where Spin knows one.
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
    pub fn new(entries: &[String], render: impl Fn(&str) -> Result<String, String>) -> Result<OutboundPolicy, String> {
        if entries == ["insecure:allow-all"] {
            return Err("'insecure:allow-all' is not allowed - use '*://*:*' instead if you really want to allow all \
                        outbound traffic'"
                .into());
        }
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

    /// Whether a request to `scheme://host[:port]` is allowed (no port: the
    /// scheme's well-known one).
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let Some(port) = port.or_else(|| default_port(scheme)) else {
            return false;
        };
        self.0.iter().any(|a| a.allows(scheme, host, port))
    }

    /// Whether the app may call itself with a relative URL (or `self.alt`).
    pub fn allows_self(&self) -> bool {
        self.0.iter().any(AllowedHost::allows_self)
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
        for bad in
            ["example.com", "https://a.com/path", "https://a*.com", "https://a.com:x", "custom://h", "redis+tls://h:1"]
        {
            assert!(AllowedHost::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn refusals_carry_spins_messages() {
        let err = |entry: &str| AllowedHost::parse(entry).unwrap_err();
        assert!(
            err("example.com").starts_with("\"example.com\" does not contain a scheme (e.g., 'http://' or '*://')")
        );
        assert!(err("*").starts_with("\"*\" is not an allowed outbound host format."));
        assert_eq!(err("https://a.com/path"), "\"https://a.com/path\" has a path but is not allowed to");
        assert_eq!(err("https://a.com:x"), "Invalid allowed host port \"x\": port \"x\" is not a number");
        assert!(err("custom://h").contains("the scheme \"custom\" does not have a known default port number"));
        let all = OutboundPolicy::new(&["insecure:allow-all".to_string()], |t| Ok(t.into())).unwrap_err();
        assert!(all.starts_with("'insecure:allow-all' is not allowed - use '*://*:*'"), "{all}");
    }

    #[test]
    fn supports_cidr_ranges_port_ranges_and_ipv6() {
        let p =
            policy(&["*://10.0.0.0/8:*", "http://127.0.0.1:8000..8010", "https://[::1]", "tcp://192.168.1.77/24:5432"]);
        assert!(p.allows("postgres", "10.20.30.40", Some(5432)));
        assert!(!p.allows("postgres", "11.0.0.1", Some(5432)));
        assert!(!p.allows("http", "db.internal", Some(80)), "a CIDR range matches addresses, not names");
        assert!(p.allows("http", "127.0.0.1", Some(8000)) && p.allows("http", "127.0.0.1", Some(8009)));
        assert!(!p.allows("http", "127.0.0.1", Some(8010)), "the range's end is excluded, as in Spin");
        assert!(p.allows("https", "[::1]", None));
        assert!(p.allows("tcp", "192.168.1.5", Some(5432)), "host bits of the network are ignored");
        assert!(!p.allows("tcp", "192.168.2.5", Some(5432)));
    }

    #[test]
    fn self_entries_allow_only_the_app_itself() {
        let p = policy(&["http://self"]);
        assert!(p.allows_self());
        assert!(!p.allows("http", "self", None), "`self` is not a host name");
        assert!(policy(&["*://*:*"]).allows_self());
        assert!(!policy(&["https://api.example.com"]).allows_self());
        assert!(!policy(&["redis://self"]).allows_self());
        assert!(policy(&[" https://self.alt "]).allows_self(), "entries are trimmed");
    }
}
