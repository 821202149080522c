//! Outbound HTTP over WASI's `wasi:http/outgoing-handler`, blocking, for handlers.
//!
//! The host lets a request through only to the hosts granted in the deployment (`hosts`);
//! any other host fails with [`HttpError::Denied`] without leaving the host. Requests also
//! end at the invocation's deadline.
//!
//! ```ignore
//! let response = eddy_sdk::http::Request::post("http://127.0.0.1:8001/")
//!     .header("content-type", "application/x-amz-json-1.0")
//!     .header("x-amz-target", "DynamoDB_20120810.PutItem")
//!     .body(body)
//!     .send()?;
//! assert_eq!(response.status, 200);
//! ```
//!
//! Must not know which hosts are granted: the host decides.

use std::fmt;

use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use wasi::io::streams::StreamError;

/// Bytes written to the request body stream per call (WASI's write permit is at least
/// this large for the host's default body).
const BODY_WRITE_CHUNK_BYTES: usize = 4096;
/// Bytes asked for per read of the response body.
const BODY_READ_CHUNK_BYTES: u64 = 64 * 1024;
/// A longer response body is an error rather than an out-of-memory trap.
pub const RESPONSE_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host is not granted to this deployment.
    Denied(String),
    /// The URL or a header is malformed.
    Invalid(String),
    /// The request failed on the way (connection refused, timeout, TLS, …).
    Transport(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Denied(m) => write!(f, "HTTP request denied: {m}"),
            Self::Invalid(m) => write!(f, "invalid HTTP request: {m}"),
            Self::Transport(m) => write!(f, "HTTP request failed: {m}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// A response, with its whole body read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A request being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Request {
    /// A request with `method` (`GET`, `POST`, …) to `url` (`http://host[:port]/path?query`
    /// or `https://…`).
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A `GET` request.
    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: &str) -> Self {
        Self::new("POST", url)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_bytes().to_vec()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, HttpError> {
        let (scheme, authority, path) = split_url(&self.url)?;
        let mut header_list = self.headers.clone();
        // A known length rather than chunked encoding: simpler servers need it.
        if !self.body.is_empty() && !header_list.iter().any(|(n, _)| n == "content-length") {
            header_list.push((
                "content-length".to_owned(),
                self.body.len().to_string().into_bytes(),
            ));
        }
        let headers = Fields::from_list(&header_list)
            .map_err(|e| HttpError::Invalid(format!("bad header: {e:?}")))?;
        let request = OutgoingRequest::new(headers);
        let method = match self.method.as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        };
        let invalid = |what: &str| HttpError::Invalid(format!("bad {what} in {:?}", self.url));
        request
            .set_method(&method)
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| invalid("authority"))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|()| invalid("path"))?;

        let body = request
            .body()
            .map_err(|()| HttpError::Invalid("the request body was taken twice".to_owned()))?;
        let future = outgoing_handler::handle(request, None).map_err(transport)?;
        {
            let stream = body
                .write()
                .map_err(|()| HttpError::Invalid("the body stream was taken twice".to_owned()))?;
            for chunk in self.body.chunks(BODY_WRITE_CHUNK_BYTES) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(stream_error)?;
            }
        }
        OutgoingBody::finish(body, None).map_err(transport)?;

        let response = loop {
            if let Some(result) = future.get() {
                break result
                    .map_err(|()| HttpError::Transport("the response was taken twice".into()))?
                    .map_err(transport)?;
            }
            future.subscribe().block();
        };
        let status = response.status();
        let headers = response.headers().entries();
        let incoming = response
            .consume()
            .map_err(|()| HttpError::Transport("the response body was taken twice".into()))?;
        let mut bytes = Vec::new();
        {
            let stream = incoming
                .stream()
                .map_err(|()| HttpError::Transport("the body stream was taken twice".into()))?;
            loop {
                match stream.blocking_read(BODY_READ_CHUNK_BYTES) {
                    Ok(chunk) => {
                        bytes.extend_from_slice(&chunk);
                        if bytes.len() > RESPONSE_BODY_BYTES_MAX {
                            return Err(HttpError::Transport(format!(
                                "the response body is over {RESPONSE_BODY_BYTES_MAX} bytes"
                            )));
                        }
                    }
                    Err(StreamError::Closed) => break,
                    Err(e) => return Err(stream_error(e)),
                }
            }
        }
        drop(IncomingBody::finish(incoming));
        Ok(Response {
            status,
            headers,
            body: bytes,
        })
    }
}

/// Splits `scheme://authority/path?query`.
fn split_url(url: &str) -> Result<(Scheme, &str, &str), HttpError> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else {
        return Err(HttpError::Invalid(format!(
            "{url:?} does not start with http:// or https://"
        )));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(HttpError::Invalid(format!("{url:?} has no host")));
    }
    if !path.starts_with('/') {
        return Err(HttpError::Invalid(format!(
            "{url:?}: put a / between the host and the query"
        )));
    }
    Ok((scheme, authority, path))
}

fn transport(error: ErrorCode) -> HttpError {
    match error {
        ErrorCode::HttpRequestDenied => {
            HttpError::Denied("the host is not granted to this function".to_owned())
        }
        ErrorCode::HttpRequestUriInvalid => HttpError::Invalid(format!("{error:?}")),
        other => HttpError::Transport(format!("{other:?}")),
    }
}

fn stream_error(error: StreamError) -> HttpError {
    match error {
        StreamError::LastOperationFailed(e) => HttpError::Transport(e.to_debug_string()),
        StreamError::Closed => HttpError::Transport("the stream closed early".to_owned()),
    }
}
