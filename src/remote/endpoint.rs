//! Which server a client command talks to: `--endpoint`, else `EDDY_ENDPOINT`, else the
//! local default, with `http://` understood when no scheme is written.
//!
//! Owns reading and normalising the endpoint text. Must not know how requests are sent.

/// The server the client commands talk to by default (`eddy serve`'s default address).
pub const ENDPOINT_DEFAULT: &str = "http://127.0.0.1:8000";
/// The environment variable naming the endpoint when `--endpoint` is not given, so a
/// shell (or a container) set up once reaches its Eddy from every command.
pub const ENDPOINT_ENV: &str = "EDDY_ENDPOINT";

/// The endpoint to use: `flag`, else the value of [`ENDPOINT_ENV`] (`env`, when set and
/// not empty), else [`ENDPOINT_DEFAULT`]; normalised by [`with_scheme`].
pub fn resolve(flag: Option<&str>, env: Option<&str>) -> Result<String, String> {
    let (text, from) = match (flag, env.filter(|e| !e.trim().is_empty())) {
        (Some(flag), _) => (flag, "--endpoint"),
        (None, Some(env)) => (env, ENDPOINT_ENV),
        (None, None) => (ENDPOINT_DEFAULT, "the default endpoint"),
    };
    with_scheme(text).map_err(|e| format!("{from} {text:?}: {e}"))
}

/// `host:port` (or a bare host) means `http://host:port`, since `eddy serve` speaks
/// plain HTTP unless it is given a certificate: `127.0.0.1:8000` is what `eddy serve`
/// and DynamoDB Local users type. A written scheme must be `http` or `https`. A
/// trailing `/` is dropped, so that API paths can be appended.
pub fn with_scheme(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty".into());
    }
    let full = match text.split_once("://") {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("http") => text.to_owned(),
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => text.to_owned(),
        Some((scheme, _)) => {
            return Err(format!(
                "the scheme {scheme}:// is not one Eddy speaks: use http:// or https:// \
                 (or host:port, which means http://)"
            ));
        }
        None => format!("http://{text}"),
    };
    let full = full.trim_end_matches('/').to_owned();
    let uri: hyper::Uri = full
        .parse()
        .map_err(|e| format!("is not a URL ({e}); write it as host:port or http://host:port"))?;
    let Some(host) = uri.host().filter(|h| !h.is_empty()) else {
        return Err("names no host; write it as host:port or http://host:port".into());
    };
    // The URL parser keeps a port that is not a number and only `port_u16` refuses it,
    // so it is checked here rather than failing later with an opaque message.
    let authority = uri.authority().map_or("", |a| a.as_str());
    let after_host = authority.rsplit_once(host).map_or("", |(_, rest)| rest);
    if let Some(port) = after_host.strip_prefix(':')
        && port.parse::<u16>().is_err()
    {
        return Err(format!(
            "has the port {port:?}, which is not a number from 0 to 65535"
        ));
    }
    if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
        return Err(
            "has a path; give only the server (http://host:port), the API paths are added".into(),
        );
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_environment_which_wins_over_the_default() {
        assert_eq!(
            resolve(Some("http://a:1"), Some("http://b:2")).unwrap(),
            "http://a:1"
        );
        assert_eq!(resolve(None, Some("http://b:2")).unwrap(), "http://b:2");
        assert_eq!(resolve(None, None).unwrap(), ENDPOINT_DEFAULT);
        // An empty variable (`EDDY_ENDPOINT= eddy …`) is no choice at all.
        assert_eq!(resolve(None, Some("")).unwrap(), ENDPOINT_DEFAULT);
    }

    #[test]
    fn an_endpoint_without_a_scheme_is_http() {
        assert_eq!(
            with_scheme("127.0.0.1:8000").unwrap(),
            "http://127.0.0.1:8000"
        );
        assert_eq!(with_scheme("localhost").unwrap(), "http://localhost");
        assert_eq!(with_scheme("[::1]:8000").unwrap(), "http://[::1]:8000");
        assert_eq!(
            with_scheme("HTTPS://eddy.example:8443/").unwrap(),
            "HTTPS://eddy.example:8443"
        );
        assert_eq!(with_scheme(" http://h:1 ").unwrap(), "http://h:1");
    }

    #[test]
    fn what_cannot_be_an_endpoint_is_refused_with_the_reason() {
        let e = with_scheme("ftp://h:21").unwrap_err();
        assert!(e.contains("ftp:// is not one Eddy speaks"), "{e}");
        let e = with_scheme("http://h:1/v1/functions").unwrap_err();
        assert!(e.contains("has a path"), "{e}");
        assert!(with_scheme("").unwrap_err().contains("empty"));
        let e = with_scheme("h:port").unwrap_err();
        assert!(
            e.contains("the port \"port\", which is not a number"),
            "{e}"
        );
        assert!(with_scheme("h:99999").unwrap_err().contains("99999"));
        let e = resolve(None, Some("ftp://x")).unwrap_err();
        assert!(e.starts_with("EDDY_ENDPOINT \"ftp://x\": "), "{e}");
    }
}
