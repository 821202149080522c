//! Sending one `/v1` request to the server a client command names and reading the
//! whole answer: the connection (plain or TLS), the signature when credentials are in
//! the environment, the deadline, and errors that name the likely cause.
//!
//! Owns the transport. Must not know what the commands mean or how answers are shown.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

use super::{ApiRequest, ENDPOINT_ENV, Endpoint, REQUEST_TIMEOUT_MS};

/// Why a connection could not be opened, naming the likely cause: for a refused
/// connection, that no Eddy is running there.
fn unreachable(base: &str, host: &str, port: u16, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::ConnectionRefused {
        format!(
            "cannot reach Eddy at {base}: nothing is listening at {host}:{port} (connection \
             refused). Is Eddy running there? Start it with `eddy serve`, or give its address \
             with --endpoint or {ENDPOINT_ENV}"
        )
    } else {
        format!(
            "cannot reach Eddy at {base}: {e}; is it running there, and is the address \
             right (--endpoint or {ENDPOINT_ENV})?"
        )
    }
}

/// Sends one request on a connection of its own (plain, or TLS for `https://`) and
/// reads the whole response.
pub(super) async fn send(
    endpoint: &Endpoint,
    request: ApiRequest,
) -> Result<(hyper::StatusCode, Bytes), String> {
    let base = endpoint.base()?;
    let base = base.as_str();
    let uri: hyper::Uri = format!("{base}{}", request.path)
        .parse()
        .map_err(|e| format!("invalid endpoint {base}: {e}"))?;
    let tls = match uri.scheme_str() {
        Some("https") => Some(crate::tls::client_config(
            crate::tls::ca_cert_path(endpoint.ca_cert.as_deref()).as_deref(),
        )?),
        Some("http") => None,
        _ => {
            return Err(format!(
                "invalid endpoint {base}: it must start with http:// or https://"
            ));
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| format!("invalid endpoint {base}: no host"))?
        .to_owned();
    let port = uri
        .port_u16()
        .unwrap_or(if tls.is_some() { 443 } else { 80 });
    let authority = uri
        .authority()
        .map_or_else(|| host.clone(), ToString::to_string);
    let path = uri
        .path_and_query()
        .map_or("/", hyper::http::uri::PathAndQuery::as_str)
        .to_owned();
    let mut builder = Request::builder()
        .method(request.method.clone())
        .uri(&path)
        .header(hyper::header::HOST, &authority)
        .header(hyper::header::CONTENT_TYPE, request.content_type);
    if let Some(target) = &request.amz_target {
        builder = builder.header("x-amz-target", target);
    }
    // With credentials in the environment (as the AWS CLI reads them) the request is
    // signed, for a server that verifies signatures.
    if let (Ok(id), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        let token = std::env::var("AWS_SESSION_TOKEN").ok();
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".to_owned());
        for (name, value) in crate::auth::sign::sign_headers(
            request.method.as_str(),
            &path,
            &authority,
            &request.body,
            &id,
            &secret,
            token.as_deref(),
            &region,
            std::time::SystemTime::now(),
            // The server buffers a signed /v1 body up to its limit to check it; a
            // larger one is sent unbound.
            request.body.len() > crate::auth::V1_SIGNED_BODY_BYTES_MAX,
        ) {
            builder = builder.header(name, value);
        }
    }
    let http = builder
        .body(Full::new(Bytes::from(request.body)))
        .map_err(|e| format!("invalid request to {uri}: {e}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let exchange = async {
        // The connection opened, but what answered is not an HTTP server that finished
        // its answer: another kind of server, or one that went away mid-request.
        let no_answer = |e: &dyn std::fmt::Display| {
            format!(
                "no HTTP answer from {base} ({e}): is Eddy running there, and does it speak {scheme}?"
            )
        };
        let io = crate::tls::connect(&host, port, tls)
            .await
            .map_err(|e| match e {
                crate::tls::ConnectError::Unreachable(e) => unreachable(base, &host, port, &e),
                crate::tls::ConnectError::Tls(e) => format!("cannot talk to Eddy at {base}: {e}"),
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| no_answer(&e))?;
        tokio::spawn(connection);
        let response = sender.send_request(http).await.map_err(|e| no_answer(&e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the response from {base}: {e}"))?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(Duration::from_millis(REQUEST_TIMEOUT_MS), exchange)
        .await
        .map_err(|_| format!("no response from {base} within {REQUEST_TIMEOUT_MS} ms"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_asks_whether_eddy_runs_there() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let m = unreachable("http://127.0.0.1:9", "127.0.0.1", 9, &refused);
        assert!(
            m.starts_with(
                "cannot reach Eddy at http://127.0.0.1:9: nothing is listening at \
                 127.0.0.1:9 (connection refused). Is Eddy running there?"
            ),
            "{m}"
        );
        let other = std::io::Error::other("failed to lookup address information");
        let m = unreachable("http://nohost:9", "nohost", 9, &other);
        assert!(
            m.starts_with("cannot reach Eddy at http://nohost:9: failed to lookup address"),
            "{m}"
        );
    }
}
