//! Sends one outbound HTTP request of a function (`wasi:http`), refusing this server's
//! own listener (the guest gets `wasi:http`'s `destination-IP-prohibited` error): a function reaches this Eddy only through its DynamoDB capability,
//! never through the HTTP API (where it could deploy a function with wider grants).
//!
//! The check is made after DNS resolution, on each address before connecting to it and
//! again on the connected socket's peer address, and the connection is made to exactly
//! the address that was checked, so a name that resolves to loopback (or changes its
//! answer between two lookups) cannot get past it. Derived from wasmtime-wasi-http's
//! `default_send_request`, whose connect step cannot be hooked.
//!
//! Owns the connection (TCP, TLS, HTTP/1.1) and its timeouts. Must not know the
//! deployment's grants (checked before, in `host.rs`).

use std::future::poll_fn;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// The timeouts a request gets when the guest sets none (the invocation's deadline cuts
/// them further, in `host.rs`).
const OUTBOUND_TIMEOUT_MS_DEFAULT: u64 = 600_000;

/// What outbound HTTP may reach beyond a deployment's grants, server-wide.
#[derive(Debug, Clone)]
pub(crate) struct OutboundPolicy {
    /// Whether a deployment's wildcard grants count (with its own `allow_any_host`).
    pub(crate) any_host_grants_permitted: bool,
    /// This server's listening addresses, which no request may reach.
    pub(crate) listeners: Arc<[SocketAddr]>,
}

/// Whether connecting to `peer` would reach one of `listeners` (this server's bound
/// addresses): the same port on the listener's own IP, on loopback, on the unspecified
/// address, or on any IP of a local interface. A listener on `0.0.0.0` / `[::]` answers
/// on every local address, so every local address counts, whatever the listener's IP.
pub(crate) fn is_own_listener(peer: SocketAddr, listeners: &[SocketAddr]) -> bool {
    let ip = peer.ip().to_canonical();
    listeners.iter().any(|listener| {
        listener.port() == peer.port() && (listener.ip().to_canonical() == ip || is_local(ip))
    })
}

/// Whether `ip` is an address of this machine. Binding a socket to an address succeeds
/// only for local ones, which covers every interface without enumerating them.
fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

trait TokioStream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T> TokioStream for T where T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}

/// Sends `request` (absolute URI, already granted) and returns the response and the
/// future that drives the connection to its end, as `default_send_request` does.
pub(crate) async fn send(
    mut request: Request<WasiBody>,
    options: RequestOptions,
    listeners: Arc<[SocketAddr]>,
) -> Result<
    (
        Response<impl http_body::Body<Data = Bytes, Error = Error> + use<>>,
        impl Future<Output = Result<(), Error>> + Send + use<>,
    ),
    Error,
> {
    let uri = request.uri();
    let host = uri
        .host()
        .ok_or(Error::HttpRequestUriInvalid)?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let use_tls = uri.scheme() == Some(&Scheme::HTTPS);
    let port = uri.port_u16().unwrap_or(if use_tls { 443 } else { 80 });
    let default_timeout = Duration::from_millis(OUTBOUND_TIMEOUT_MS_DEFAULT);
    let connect_timeout = options.connect_timeout.unwrap_or(default_timeout);
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(default_timeout);
    let between_bytes_timeout = options.between_bytes_timeout.unwrap_or(default_timeout);

    let stream = tokio::time::timeout(connect_timeout, connect(&host, port, &listeners))
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
    let stream: Box<dyn TokioStream> = if use_tls {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::from(ip),
            Err(_) => rustls::pki_types::ServerName::try_from(host)?,
        };
        let tls = tokio::time::timeout(connect_timeout, connector.connect(name, stream))
            .await
            .map_err(|_| Error::ConnectionTimeout)?
            .map_err(Error::Tls)?;
        Box::new(tls)
    } else {
        Box::new(stream)
    };
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    // The request line carries only the path: the scheme and authority are for proxies.
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(request.uri().path_and_query().map_or("/", |p| p.as_str()))
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;

    let send = async move {
        let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)?
            .map_err(Error::from)?;
        // Tokio panics on a zero interval; a nanosecond is as good as zero.
        let mut timeout = tokio::time::interval(between_bytes_timeout.max(Duration::new(0, 1)));
        timeout.reset();
        Ok::<_, Error>(response.map(|incoming| IncomingBody { incoming, timeout }))
    };
    let mut send = pin!(send);
    let mut conn = Some(conn);
    // Wait for the response while driving the connection's I/O.
    let response = poll_fn(|cx| match send.as_mut().poll(cx) {
        Poll::Ready(result) => Poll::Ready(result),
        Poll::Pending => {
            let Some(fut) = conn.as_mut() else {
                return Poll::Pending;
            };
            let done = ready!(Pin::new(fut).poll(cx));
            conn = None;
            match done {
                Ok(()) => send.as_mut().poll(cx),
                Err(err) => Poll::Ready(Err(Error::from(err))),
            }
        }
    })
    .await?;
    Ok((response, async move {
        let Some(conn) = conn.take() else {
            return Ok(());
        };
        conn.await.map_err(|err| {
            if err.is_timeout() {
                Error::HttpResponseTimeout
            } else {
                err.into()
            }
        })
    }))
}

/// Connects to the first address of `host:port` that is not this server's listener.
/// Every address is checked before connecting and the connected peer after, so the
/// address checked is the address used.
async fn connect(host: &str, port: u16, listeners: &[SocketAddr]) -> Result<TcpStream, Error> {
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| Error::DnsError {
            rcode: Some("address not available".to_owned()),
            info_code: None,
        })?;
    let mut refused_own = false;
    let mut last_error = None;
    for address in addresses {
        if is_own_listener(address, listeners) {
            refused_own = true;
            continue;
        }
        match TcpStream::connect(address).await {
            Ok(stream) => {
                let peer = stream.peer_addr().map_err(Error::Connect)?;
                if is_own_listener(peer, listeners) {
                    return Err(Error::DestinationIpProhibited);
                }
                return Ok(stream);
            }
            Err(e) => last_error = Some(e),
        }
    }
    match last_error {
        Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(Error::ConnectionRefused)
        }
        Some(e) => Err(Error::Connect(e)),
        None if refused_own => Err(Error::DestinationIpProhibited),
        None => Err(Error::DestinationNotFound),
    }
}

/// A response body that fails when no data arrives for the between-bytes timeout.
struct IncomingBody {
    incoming: hyper::body::Incoming,
    timeout: tokio::time::Interval,
}

impl http_body::Body for IncomingBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(if err.is_timeout() {
                Error::HttpResponseTimeout
            } else {
                Error::from(err)
            }))),
            Poll::Ready(Some(Ok(frame))) => {
                self.timeout.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(self.timeout.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::is_own_listener;

    fn own(peer: &str, listeners: &[&str]) -> bool {
        let listeners: Vec<SocketAddr> =
            listeners.iter().map(|l| l.parse().expect("addr")).collect();
        is_own_listener(peer.parse().expect("addr"), &listeners)
    }

    #[test]
    fn the_listener_is_refused_on_every_local_address_of_its_port() {
        assert!(own("127.0.0.1:8000", &["127.0.0.1:8000"]));
        assert!(own("127.0.0.2:8000", &["127.0.0.1:8000"]));
        assert!(own("[::1]:8000", &["127.0.0.1:8000"]));
        assert!(own("[::ffff:127.0.0.1]:8000", &["0.0.0.0:8000"]));
        assert!(own("0.0.0.0:8000", &["0.0.0.0:8000"]));
        assert!(own("127.0.0.1:8000", &["[::]:8000"]));
        // A public listener address is refused even if it is not this machine's.
        assert!(own("203.0.113.7:8000", &["203.0.113.7:8000"]));
    }

    #[test]
    fn other_ports_and_remote_addresses_are_not_the_listener() {
        assert!(!own("127.0.0.1:8001", &["127.0.0.1:8000"]));
        assert!(!own("203.0.113.7:8000", &["0.0.0.0:8000"]));
        assert!(!own("127.0.0.1:8000", &[]));
    }
}
