//! The accept loop and the life of each connection: at most [`CONNECTIONS_MAX`] at once,
//! the TLS handshake when the listener has a certificate, the header read timeout, the
//! idle keep-alive timeout, and graceful shutdown.
//!
//! Owns sockets, TLS sessions (tokio-rustls, configured by `tls.rs`) and HTTP/1.1
//! framing (hyper); what a request means is the business of the service it is given.
//! It does not know DynamoDB, `/v1` or the engine.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// Connections served at once. At the cap the server stops accepting until one closes:
/// further clients wait in the kernel's listen backlog (their connect succeeds, their
/// request is read once a place is free) rather than being accepted and dropped, and
/// the timeouts below make every place come free in bounded time unless it is serving
/// a request.
pub const CONNECTIONS_MAX: usize = 4096;
/// A request's headers must arrive within this long of its first byte, and a new
/// connection's first request within this long of the connection: a client that opens
/// connections and never finishes a request holds them this long at most.
pub const HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// A keep-alive connection with no request in flight and nothing sent or received for
/// this long is closed (SDK clients reopen a connection when they need one).
pub const IDLE_TIMEOUT_MS: u64 = 60_000;
/// The first byte of every TLS connection (a handshake record). A connection to a TLS
/// listener that starts with anything else is a plain-HTTP client at the wrong scheme.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// What a plain-HTTP client at a TLS listener is told before the connection closes (the
/// words of Go's net/http, which answers the same mistake the same way).
const PLAIN_HTTP_REFUSAL: &str = "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 48\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
/// Bytes of a plain-HTTP request read (and dropped) after its refusal, at most.
const PLAIN_HTTP_DRAIN_BYTES_MAX: usize = 64 * 1024;
/// After an accept error other than a failed handshake (out of file descriptors), the
/// loop pauses this long before accepting again, so that it does not spin.
const ACCEPT_ERROR_PAUSE_MS: u64 = 100;

/// What a connection serves: one future per request, which resolves when the response
/// is ready. `busy` must live until then (it is how the connection knows a request is
/// in flight, when the idle and header timeouts do not apply).
pub(crate) trait Serve: Clone + Send + Sync + 'static {
    fn serve(&self, request: Request, busy: Busy)
    -> Pin<Box<dyn Future<Output = Response> + Send>>;
}

/// Accepts connections on `listener` (over TLS when `tls` is given) and serves each
/// with `service` until `shutdown` resolves; then stops accepting, lets every
/// connection finish its request in flight and close, and returns when all have.
pub(crate) async fn serve<S: Serve>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    service: S,
    shutdown: impl Future<Output = ()>,
) {
    serve_at_most(listener, tls, service, shutdown, CONNECTIONS_MAX).await;
}

/// [`serve`] with a given connection cap.
pub(crate) async fn serve_at_most<S: Serve>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    service: S,
    shutdown: impl Future<Output = ()>,
    connections_max: usize,
) {
    let places = Arc::new(Semaphore::new(connections_max));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let place = tokio::select! {
            biased;
            () = &mut shutdown => break,
            place = places.clone().acquire_owned() => match place {
                Ok(place) => place,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
        };
        // Responses are written whole; Nagle's algorithm would only delay them.
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            peer,
            tls.clone(),
            service.clone(),
            place,
            stopping.clone(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a place until it is closed.
    let all = u32::try_from(connections_max).unwrap_or(u32::MAX);
    let _ = places.acquire_many(all).await;
}

async fn accept_error(e: io::Error) {
    // A client that gave up during the handshake is no concern of the server's.
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection; pausing");
    tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_PAUSE_MS)).await;
}

/// Serves one connection until it closes, the client is too slow or idle too long, or
/// the server shuts down; a TLS one after its handshake, which runs on this task so
/// that a slow handshake holds up no one else, and holds the connection's place.
async fn connection<S: Serve>(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    service: S,
    _place: OwnedSemaphorePermit,
    mut stopping: watch::Receiver<bool>,
) {
    let clock = Arc::new(Clock::new());
    let Some(acceptor) = tls else {
        return http(stream, peer, clock, service, stopping).await;
    };
    // The handshake counts against the first request's header timeout, which runs from
    // the connection's opening: a client that never finishes it holds its place no
    // longer than one that never sends a request.
    let deadline = clock.opened + Duration::from_millis(HEADER_READ_TIMEOUT_MS);
    let secured = tokio::select! {
        secured = tokio::time::timeout_at(deadline, handshake(stream, acceptor)) => secured,
        _ = stopping.changed() => return,
    };
    match secured {
        Ok(Some(stream)) => http(stream, peer, clock, service, stopping).await,
        Ok(None) => {}
        Err(_) => tracing::debug!("closing a connection whose TLS handshake was too slow"),
    }
}

/// The server's side of a TLS handshake; `None` when the client left, sent plain HTTP
/// (answered with a 400 that says so, in plain HTTP), or failed the handshake.
async fn handshake(
    mut stream: TcpStream,
    acceptor: TlsAcceptor,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let mut first = [0_u8; 1];
    if !matches!(stream.peek(&mut first).await, Ok(1)) {
        return None;
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _ = stream.write_all(PLAIN_HTTP_REFUSAL.as_bytes()).await;
        let _ = stream.shutdown().await;
        // The request is read and dropped before the socket closes: closing with unread
        // bytes would reset the connection, and the client could lose the answer.
        let mut drained = 0;
        let mut buf = [0_u8; 4096];
        while drained < PLAIN_HTTP_DRAIN_BYTES_MAX {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
        return None;
    }
    match acceptor.accept(stream).await {
        Ok(stream) => Some(stream),
        Err(e) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
    }
}

/// Serves HTTP/1.1 on a connection (plain, or a TLS session after its handshake).
async fn http<S, I>(
    stream: I,
    peer: SocketAddr,
    clock: Arc<Clock>,
    service: S,
    mut stopping: watch::Receiver<bool>,
) where
    S: Serve,
    I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let io = TokioIo::new(Watched {
        io: stream,
        clock: clock.clone(),
    });
    let handler = Handler {
        service,
        clock: clock.clone(),
        peer: ConnectInfo(peer),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The header timeout is this module's (it also covers a new connection that sends
    // nothing, and leaves the idle timeout its own length).
    builder.header_read_timeout(None);
    let mut conn = pin!(builder.serve_connection(io, handler));
    let mut stopped = false;
    loop {
        // Checked at least every header timeout, so that a deadline set while this task
        // sleeps is never missed: a deadline set later (a request that arrives or ends)
        // is at least a header timeout after it was set.
        let check = Instant::now() + Duration::from_millis(HEADER_READ_TIMEOUT_MS);
        let wake = clock.deadline().map_or(check, |d| d.min(check));
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake) => {
                if clock.deadline().is_some_and(|d| d <= Instant::now()) {
                    // No request is in flight: closing loses nothing.
                    tracing::debug!("closing a connection that was idle or too slow");
                    return;
                }
            }
            changed = stopping.changed(), if !stopped => {
                stopped = true;
                if changed.is_ok() {
                    if clock.idle() {
                        // Nothing in flight (at most the start of a request that was
                        // never handled): closing now loses nothing.
                        return;
                    }
                    // The request in flight is answered, then the connection closes.
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The hyper service of one connection: marks each request in flight and hands it on,
/// with the client's address in its extensions (axum's [`ConnectInfo`]: the audit log
/// records it, and policies may test it).
struct Handler<S> {
    service: S,
    clock: Arc<Clock>,
    peer: ConnectInfo<SocketAddr>,
}

impl<S: Serve> hyper::service::Service<hyper::Request<Incoming>> for Handler<S> {
    type Response = Response;
    type Error = Infallible;
    type Future = WithInfallible;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let busy = self.clock.busy();
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(self.peer);
        WithInfallible(self.service.serve(request, busy))
    }
}

/// A response future as hyper wants it: a `Result` that is never an error.
pub(crate) struct WithInfallible(Pin<Box<dyn Future<Output = Response> + Send>>);

impl Future for WithInfallible {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx).map(Ok)
    }
}

/// The times one connection's timeouts are measured from, in milliseconds since it was
/// opened (atomics: the connection's I/O and its request futures share it).
#[derive(Debug)]
pub(crate) struct Clock {
    opened: Instant,
    /// Requests whose responses are not ready yet.
    in_flight: AtomicU32,
    /// Requests answered so far.
    answered: AtomicU64,
    /// When the last response became ready, or bytes were last written.
    last_activity_ms: AtomicU64,
    /// When the first byte of the next request arrived; 0 while none did (stored + 1).
    head_started_ms: AtomicU64,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            opened: Instant::now(),
            in_flight: AtomicU32::new(0),
            answered: AtomicU64::new(0),
            last_activity_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(0),
        }
    }

    fn ms(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.opened).as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    /// A request's head was read: it is in flight until the returned guard drops.
    fn busy(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started_ms.store(0, Ordering::Release);
        Busy(Some(self.clone()))
    }

    /// Bytes arrived: the first of a request that is not in flight yet starts its
    /// header timeout.
    fn read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_started_ms.load(Ordering::Acquire) == 0
        {
            let now = self.ms(Instant::now()) + 1;
            let _ =
                self.head_started_ms
                    .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    fn wrote(&self) {
        self.last_activity_ms
            .fetch_max(self.ms(Instant::now()), Ordering::AcqRel);
    }

    /// Whether no request is in flight.
    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// When the connection is to be closed if nothing changes; `None` while a request
    /// is in flight (its body has its own deadline, its handler is not timed here).
    fn deadline(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let header = Duration::from_millis(HEADER_READ_TIMEOUT_MS);
        if self.answered.load(Ordering::Acquire) == 0 {
            return Some(self.opened + header);
        }
        match self.head_started_ms.load(Ordering::Acquire) {
            0 => Some(
                self.at(self.last_activity_ms.load(Ordering::Acquire))
                    + Duration::from_millis(IDLE_TIMEOUT_MS),
            ),
            started => Some(self.at(started - 1) + header),
        }
    }
}

/// A request in flight on its connection (see [`Serve::serve`]).
#[derive(Debug)]
pub(crate) struct Busy(Option<Arc<Clock>>);

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(clock) = self.0.take() {
            clock.answered.fetch_add(1, Ordering::AcqRel);
            clock
                .last_activity_ms
                .fetch_max(clock.ms(Instant::now()), Ordering::AcqRel);
            clock.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A socket (or a TLS session, whose decrypted bytes it then watches) that tells its
/// connection's [`Clock`] when bytes come and go.
struct Watched<I> {
    io: I,
    clock: Arc<Clock>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.read();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
