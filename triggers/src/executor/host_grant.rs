//! A deployment's outbound HTTP host grants: their syntax (checked at deploy time, so a
//! malformed grant is a 400 naming `hosts`) and how a request's URI is matched against
//! them.
//!
//! Grants are exact: `name` allows only the scheme's default port of that host (80 for
//! `http`, 443 for `https`), `name:port` exactly that port. Wildcards (`*`, `*.domain`)
//! are only honoured when the deployment opted in with `allow_any_host`, which the
//! server must permit. Must not know how requests are sent nor which addresses are
//! refused after resolution (that is `outbound.rs`).

use std::net::Ipv6Addr;

/// A host grant is at most this long: a DNS name (253) with `:port`.
pub(crate) const HOST_GRANT_BYTES_MAX: usize = 253 + 6;

/// A granted host, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostGrant {
    /// The host name (lowercase), an IP literal without brackets, or a wildcard pattern.
    name: String,
    /// `None`: the scheme's default port only.
    port: Option<u16>,
}

/// Why a host grant is refused at deploy time (the message of a 400 naming `hosts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostGrantError {
    /// Not of the form `name`, `name:port`, `[ipv6]` or `[ipv6]:port`.
    Malformed(String),
    /// A wildcard, without `allow_any_host`.
    Wildcard(String),
}

impl HostGrant {
    /// Parses `granted`: `name`, `name:port`, an IPv6 literal bare or in brackets, with
    /// or without `:port`. A name is letters, digits, `-`, `_` and `.`; `*` alone or a
    /// leading `*.` makes it a wildcard, refused unless `wildcards_allowed`.
    pub(crate) fn parse(granted: &str, wildcards_allowed: bool) -> Result<Self, HostGrantError> {
        let malformed = |why: &str| {
            Err(HostGrantError::Malformed(format!(
                "{granted:?} is not a host grant ({why}); use name, name:port, [ipv6] or \
                 [ipv6]:port"
            )))
        };
        if granted.is_empty() || granted.len() > HOST_GRANT_BYTES_MAX {
            return malformed("empty or too long");
        }
        // A bare IPv6 literal (`::1`) has colons but no port.
        if let Ok(ip) = granted.parse::<Ipv6Addr>() {
            return Ok(Self {
                name: ip.to_string(),
                port: None,
            });
        }
        let (host, port) = if let Some(rest) = granted.strip_prefix('[') {
            let Some((inside, after)) = rest.split_once(']') else {
                return malformed("an unclosed '['");
            };
            let Ok(ip) = inside.parse::<Ipv6Addr>() else {
                return malformed("not an IPv6 address inside brackets");
            };
            let port = match after {
                "" => None,
                _ => match after.strip_prefix(':') {
                    Some(p) => Some(p),
                    None => return malformed("text after ']' that is not :port"),
                },
            };
            (ip.to_string(), port)
        } else {
            match granted.split_once(':') {
                Some((host, port)) => (host.to_ascii_lowercase(), Some(port)),
                None => (granted.to_ascii_lowercase(), None),
            }
        };
        let port = match port {
            None => None,
            // `u16::from_str` takes a leading `+`; a grant's port is digits only.
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => return malformed("the port is not 1-65535"),
            },
        };
        if host.is_empty() {
            return malformed("no host name");
        }
        if host.contains('*') {
            let suffix = host.strip_prefix("*.").unwrap_or(&host);
            if host != "*" && (!host.starts_with("*.") || suffix.contains('*') || !is_name(suffix))
            {
                return malformed("'*' is only allowed alone or as a leading '*.'");
            }
            if !wildcards_allowed {
                return Err(HostGrantError::Wildcard(format!(
                    "{granted:?} is a wildcard: grant exact hosts, or deploy with \
                     allow_any_host (which the server must permit with \
                     --permit-any-host-grants)"
                )));
            }
        } else if !host.contains(':') && !is_name(&host) {
            return malformed("a name is letters, digits, '-', '_' and '.'");
        }
        Ok(Self { name: host, port })
    }

    /// Whether this grant allows `host` (as in the URI, brackets removed) on `port`
    /// under `scheme`'s default port rule.
    fn allows(&self, host: &str, port: u16, default_port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        let host = match host.parse::<Ipv6Addr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => host.trim_end_matches('.').to_owned(),
        };
        let name_ok = if self.name == "*" {
            true
        } else if let Some(suffix) = self.name.strip_prefix("*.") {
            host.strip_suffix(suffix)
                .is_some_and(|head| head.len() > 1 && head.ends_with('.'))
        } else {
            self.name == host
        };
        name_ok && port == self.port.unwrap_or(default_port)
    }
}

/// Whether `name` is a host name or IPv4 literal: 1 or more dot-separated labels of
/// letters, digits, `-` and `_`.
fn is_name(name: &str) -> bool {
    name.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    })
}

/// Whether `uri`'s authority is granted by one of `hosts` (wildcards only count when
/// `wildcards_allowed`, so a deployment stored before wildcards were refused gains
/// nothing from them). A grant that does not parse allows nothing.
pub(crate) fn host_allowed<'a>(
    hosts: impl IntoIterator<Item = &'a String>,
    wildcards_allowed: bool,
    uri: &http::Uri,
) -> bool {
    let Some(host) = uri.host() else {
        return false;
    };
    let default_port = match uri.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return false,
    };
    let port = uri.port_u16().unwrap_or(default_port);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    hosts.into_iter().any(|granted| {
        HostGrant::parse(granted, wildcards_allowed)
            .is_ok_and(|grant| grant.allows(host, port, default_port))
    })
}

#[cfg(test)]
mod tests {
    use super::{HostGrant, HostGrantError, host_allowed};

    fn allowed_with(granted: &[&str], any: bool, uri: &str) -> bool {
        let granted: Vec<String> = granted.iter().map(|h| (*h).to_owned()).collect();
        host_allowed(&granted, any, &uri.parse().expect("a URI"))
    }

    fn allowed(granted: &[&str], uri: &str) -> bool {
        allowed_with(granted, false, uri)
    }

    #[test]
    fn a_bare_name_allows_only_the_default_port_and_a_port_only_that_port() {
        assert!(allowed(&["api.example.com"], "https://api.example.com/x"));
        assert!(allowed(&["api.example.com"], "http://api.example.com/x"));
        assert!(allowed(&["api.example.com"], "http://api.example.com:80/x"));
        assert!(!allowed(
            &["api.example.com"],
            "http://api.example.com:8080/x"
        ));
        assert!(!allowed(
            &["api.example.com"],
            "http://api.example.com:443/x"
        ));
        assert!(!allowed(
            &["localhost"],
            "http://localhost:8000/v1/functions"
        ));
        assert!(allowed(&["localhost:8000"], "http://localhost:8000/"));
        assert!(allowed(&["127.0.0.1:8001"], "http://127.0.0.1:8001/"));
        assert!(!allowed(&["127.0.0.1:8001"], "http://127.0.0.1:8002/"));
        // Without a port in the URI, the scheme's default port is the one compared.
        assert!(allowed(&["example.com:443"], "https://example.com/"));
        assert!(!allowed(&["example.com:443"], "http://example.com/"));
        assert!(allowed(&["example.com:80"], "http://example.com/"));
        assert!(!allowed(&["example.com"], "ftp://example.com/"));
    }

    #[test]
    fn names_compare_exactly_but_case_insensitively() {
        assert!(allowed(&["Example.COM"], "https://example.com/"));
        assert!(!allowed(&["example.com"], "https://api.example.com/"));
        assert!(!allowed(&["example.com"], "https://example.com.evil.test/"));
        assert!(!allowed(&["localhost"], "http://127.0.0.1/"));
        assert!(!allowed(&[], "http://127.0.0.1/"));
    }

    #[test]
    fn ipv6_literals_match_with_or_without_brackets() {
        assert!(allowed(&["[::1]:8001"], "http://[::1]:8001/"));
        assert!(allowed(&["::1"], "http://[::1]/"));
        assert!(!allowed(&["::1"], "http://[::1]:8001/"));
        assert!(allowed(&["[0:0::1]"], "http://[::1]/"));
        assert!(!allowed(&["[::1]:8001"], "http://[::1]:8002/"));
    }

    #[test]
    fn wildcards_count_only_when_allowed() {
        assert!(!allowed(&["*"], "https://example.com/"));
        assert!(!allowed(&["*.example.com"], "https://api.example.com/"));
        assert!(allowed_with(&["*"], true, "https://example.com/"));
        assert!(!allowed_with(&["*"], true, "https://example.com:8443/"));
        assert!(allowed_with(&["*:8443"], true, "https://example.com:8443/"));
        assert!(allowed_with(
            &["*.example.com"],
            true,
            "https://api.example.com/"
        ));
        assert!(allowed_with(
            &["*.example.com"],
            true,
            "https://a.b.example.com/"
        ));
        assert!(!allowed_with(
            &["*.example.com"],
            true,
            "https://example.com/"
        ));
        assert!(!allowed_with(
            &["*.example.com"],
            true,
            "https://evilexample.com/"
        ));
    }

    #[test]
    fn malformed_grants_and_wildcards_are_refused_with_a_reason() {
        for bad in [
            "",
            "http://example.com",
            "example.com/path",
            "user@example.com",
            "example.com:",
            "example.com:0",
            "example.com:65536",
            "example.com:80x",
            "example.com:+80",
            "a..b",
            "exa mple.com",
            "[::1",
            "[nothost]:80",
            "[::1]80",
            "ex*ample.com",
            "*example.com",
            "a.*.com",
        ] {
            assert!(
                matches!(
                    HostGrant::parse(bad, true),
                    Err(HostGrantError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        for wildcard in ["*", "*.example.com", "*:8080"] {
            match HostGrant::parse(wildcard, false) {
                Err(HostGrantError::Wildcard(message)) => {
                    assert!(message.contains("allow_any_host"), "{message}");
                }
                other => panic!("{wildcard}: {other:?}"),
            }
            assert!(HostGrant::parse(wildcard, true).is_ok(), "{wildcard}");
        }
        for good in [
            "example.com",
            "EXAMPLE.com:8080",
            "10.0.0.1:1",
            "::1",
            "[::1]:65535",
        ] {
            assert!(HostGrant::parse(good, false).is_ok(), "{good}");
        }
    }
}
