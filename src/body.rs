//! Request bodies at the edge: the one budget of body bytes this process buffers at once,
//! size limits checked against `Content-Length` before any byte is read (and while a
//! chunked body arrives), and the body read deadline.
//!
//! Compressed bodies (`Content-Encoding`) are decoded by [`coding`], after they are read.
//!
//! Owns [`read`] and its [`BodyError`]. It does not know what a body means or which
//! error shape a client expects: the DynamoDB edge and the `/v1` API each turn a
//! `BodyError` into their own response.

pub(crate) mod coding;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};
use eddy_triggers::COMPONENT_BYTES_MAX;
use http_body_util::BodyExt;
use tokio::sync::{Semaphore, SemaphorePermit, TryAcquireError};

/// Request-body bytes the whole process buffers at once, unless the memory budget sets
/// it ([`configure`], from `--memory-budget-mib`). A body takes its share when it
/// starts to arrive (all of its `Content-Length` at once, or chunk by chunk when it is
/// chunked) and gives it back when its request is answered, so that many large bodies
/// at once wait or are refused instead of growing memory without a bound.
pub const REQUEST_BODY_BYTES_IN_FLIGHT_MAX: usize = 128 * 1024 * 1024;
/// The smallest budget: the largest single body must fit, or it would wait forever.
pub const REQUEST_BODY_BYTES_IN_FLIGHT_MIN: usize = DEPLOY_JSON_BYTES_MAX;
/// The largest body any route reads: a function deployed as JSON (`PUT
/// /v1/functions/{name}`), the component in base64 (4 characters per 3 bytes) plus room
/// for the configuration. Defined here, below the routes, because the budget must always
/// hold one.
pub const DEPLOY_JSON_BYTES_MAX: usize = COMPONENT_BYTES_MAX / 3 * 4 + 1024 * 1024;
/// How long a body waits for its share of [`REQUEST_BODY_BYTES_IN_FLIGHT_MAX`] before its
/// request is refused with a retryable error.
pub const BODY_BUDGET_WAIT_MS: u64 = 2_000;
/// Every body may take this long to arrive, whatever its size…
pub const BODY_READ_TIMEOUT_MS: u64 = 10_000;
/// …plus the time its bytes take at this rate: a 16 MB DynamoDB request gets 74 s, a
/// 64 MiB component 266 s. A slower body is cut off (408) and its budget given back.
pub const BODY_READ_BYTES_PER_S_MIN: u64 = 256 * 1024;

// Every single body must fit in the budget, or it would wait for it forever.
const _: () = assert!(REQUEST_BODY_BYTES_IN_FLIGHT_MIN <= REQUEST_BODY_BYTES_IN_FLIGHT_MAX);
const _: () = assert!(REQUEST_BODY_BYTES_IN_FLIGHT_MAX <= u32::MAX as usize);

/// A budget of body bytes (a semaphore whose permits are bytes).
#[derive(Debug)]
pub(crate) struct BodyBudget {
    bytes: Semaphore,
    total_bytes: usize,
}

impl BodyBudget {
    pub(crate) const fn new(total_bytes: usize) -> BodyBudget {
        BodyBudget {
            bytes: Semaphore::const_new(total_bytes),
            total_bytes,
        }
    }

    /// Bytes of the budget not taken now.
    pub(crate) fn available_bytes(&self) -> usize {
        self.bytes.available_permits()
    }

    /// Takes `bytes` of the budget, waiting up to `wait` for them.
    async fn take(
        &'static self,
        bytes: usize,
        wait: Duration,
    ) -> Result<SemaphorePermit<'static>, BodyError> {
        let busy = || BodyError::Busy {
            budget_bytes: self.total_bytes,
        };
        // A share larger than the whole budget could never be granted.
        let n = u32::try_from(bytes)
            .ok()
            .filter(|_| bytes <= self.total_bytes)
            .ok_or_else(busy)?;
        match self.bytes.try_acquire_many(n) {
            Ok(permit) => return Ok(permit),
            Err(TryAcquireError::NoPermits) => {}
            Err(TryAcquireError::Closed) => return Err(busy()),
        }
        match tokio::time::timeout(wait, self.bytes.acquire_many(n)).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(busy()),
        }
    }
}

/// The process's budget: it is one per process, not per router, because what it bounds
/// is this process's memory.
static BUDGET: std::sync::OnceLock<BodyBudget> = std::sync::OnceLock::new();

/// Sets the process's budget of body bytes (raised to
/// [`REQUEST_BODY_BYTES_IN_FLIGHT_MIN`], capped at `u32::MAX`), before the first
/// request; returns false if the budget was already in use.
pub fn configure(total_bytes: u64) -> bool {
    let bytes = usize::try_from(total_bytes)
        .unwrap_or(usize::MAX)
        .clamp(REQUEST_BODY_BYTES_IN_FLIGHT_MIN, u32::MAX as usize);
    BUDGET.set(BodyBudget::new(bytes)).is_ok()
}

fn budget() -> &'static BodyBudget {
    BUDGET.get_or_init(|| BodyBudget::new(REQUEST_BODY_BYTES_IN_FLIGHT_MAX))
}

/// Request-body bytes buffered now (for `/metrics`).
pub(crate) fn bytes_in_flight() -> usize {
    budget().total_bytes - budget().available_bytes()
}

/// A body read whole, with its share of the budget: keep it until the request is
/// answered (the parsed request lives that long too).
#[derive(Debug)]
pub(crate) struct Buffered {
    pub(crate) bytes: Bytes,
    _budget: Option<SemaphorePermit<'static>>,
}

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// It is, or announced itself as, larger than the route's limit (413).
    TooLarge { limit_bytes: usize },
    /// Its share of the budget did not come free in time: retryable.
    Busy { budget_bytes: usize },
    /// It did not arrive before its deadline (408; the connection is closed).
    TimedOut { timeout_ms: u64 },
    /// The client broke it off or sent malformed chunks.
    Unreadable(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge { limit_bytes } => write!(
                f,
                "the request body is over the limit of {limit_bytes} bytes"
            ),
            BodyError::Busy { budget_bytes } => write!(
                f,
                "the server is already reading its limit of {budget_bytes} request-body \
                 bytes; retry with backoff"
            ),
            BodyError::TimedOut { timeout_ms } => {
                write!(f, "the request body did not arrive within {timeout_ms} ms")
            }
            BodyError::Unreadable(e) => write!(f, "the request body cannot be read: {e}"),
        }
    }
}

/// The `Content-Length` a request announces, if any.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// [`BodyError::TooLarge`] if the request announces a body over `limit_bytes`: a check
/// to make before anything else, so that an oversized request is refused before any of
/// it is read.
pub(crate) fn check_declared(headers: &HeaderMap, limit_bytes: usize) -> Result<(), BodyError> {
    match content_length(headers) {
        Some(len) if len > limit_bytes as u64 => Err(BodyError::TooLarge { limit_bytes }),
        _ => Ok(()),
    }
}

/// How long a body may wait for its budget and take to arrive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Patience {
    /// [`BODY_BUDGET_WAIT_MS`].
    pub(crate) budget_wait: Duration,
    /// [`BODY_READ_TIMEOUT_MS`].
    pub(crate) grace: Duration,
    /// [`BODY_READ_BYTES_PER_S_MIN`].
    pub(crate) bytes_per_s_min: u64,
}

impl Patience {
    const EDGE: Patience = Patience {
        budget_wait: Duration::from_millis(BODY_BUDGET_WAIT_MS),
        grace: Duration::from_millis(BODY_READ_TIMEOUT_MS),
        bytes_per_s_min: BODY_READ_BYTES_PER_S_MIN,
    };

    /// How long `bytes` may take to arrive.
    fn read_time(&self, bytes: usize) -> Duration {
        self.grace + Duration::from_secs_f64(bytes as f64 / self.bytes_per_s_min.max(1) as f64)
    }
}

/// Reads a whole body of at most `limit_bytes` within its deadline, taking its share of
/// the process's budget.
pub(crate) async fn read(
    headers: &HeaderMap,
    body: Body,
    limit_bytes: usize,
) -> Result<Buffered, BodyError> {
    read_within(budget(), Patience::EDGE, headers, body, limit_bytes).await
}

/// [`read`] with a given budget and patience.
pub(crate) async fn read_within(
    budget: &'static BodyBudget,
    patience: Patience,
    headers: &HeaderMap,
    mut body: Body,
    limit_bytes: usize,
) -> Result<Buffered, BodyError> {
    check_declared(headers, limit_bytes)?;
    let declared = content_length(headers).map(|len| len as usize);
    if declared == Some(0) {
        return Ok(Buffered {
            bytes: Bytes::new(),
            _budget: None,
        });
    }
    let mut share = match declared {
        Some(len) => Some(budget.take(len, patience.budget_wait).await?),
        None => None,
    };
    let started = Instant::now();
    let mut deadline = started + patience.read_time(declared.unwrap_or(0));
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    let mut received = 0usize;
    loop {
        let frame = match tokio::time::timeout_at(deadline.into(), body.frame()).await {
            Err(_) => {
                return Err(BodyError::TimedOut {
                    timeout_ms: u64::try_from(deadline.duration_since(started).as_millis())
                        .unwrap_or(u64::MAX),
                });
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(BodyError::Unreadable(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            // Trailers carry nothing a handler reads.
            continue;
        };
        if data.is_empty() {
            continue;
        }
        received += data.len();
        if received > limit_bytes {
            return Err(BodyError::TooLarge { limit_bytes });
        }
        if declared.is_none() {
            // A chunked body takes its share as it arrives, and its deadline grows with it.
            let more = budget.take(data.len(), patience.budget_wait).await?;
            match &mut share {
                Some(share) => share.merge(more),
                None => share = Some(more),
            }
            deadline = started + patience.read_time(received);
        }
        // A body that arrives in one frame (the common case) is not copied.
        match first.take() {
            None if rest.is_empty() => first = Some(data),
            None => rest.extend_from_slice(&data),
            Some(earlier) => {
                rest.reserve(declared.unwrap_or(received).saturating_sub(rest.len()));
                rest.extend_from_slice(&earlier);
                rest.extend_from_slice(&data);
            }
        }
    }
    let bytes = match first {
        Some(only) => only,
        None => rest.freeze(),
    };
    Ok(Buffered {
        bytes,
        _budget: share,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use axum::body::HttpBody;
    use axum::http::HeaderValue;
    use hyper::body::Frame;

    fn headers(content_length: Option<usize>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(len) = content_length {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        h
    }

    fn leaked(total_bytes: usize) -> &'static BodyBudget {
        Box::leak(Box::new(BodyBudget::new(total_bytes)))
    }

    /// Short waits, so that the tests wait for real without taking long.
    fn patience(budget_wait_ms: u64) -> Patience {
        Patience {
            budget_wait: Duration::from_millis(budget_wait_ms),
            grace: Duration::from_millis(200),
            bytes_per_s_min: 1_000_000,
        }
    }

    /// A body that sends its chunks and then never ends, as a slow client's.
    struct Stalled(Vec<Bytes>);

    impl HttpBody for Stalled {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            match self.0.pop() {
                Some(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
                None => Poll::Pending,
            }
        }
    }

    fn stalled(chunks: &[&'static [u8]]) -> Body {
        Body::new(Stalled(
            chunks.iter().rev().map(|c| Bytes::from_static(c)).collect(),
        ))
    }

    #[tokio::test]
    async fn an_announced_oversized_body_is_refused_before_it_is_read() {
        let budget = leaked(1000);
        let err = read_within(budget, patience(0), &headers(Some(101)), stalled(&[]), 100)
            .await
            .unwrap_err();
        assert_eq!(err, BodyError::TooLarge { limit_bytes: 100 });
        assert_eq!(budget.available_bytes(), 1000, "nothing was taken");
    }

    #[tokio::test]
    async fn a_chunked_body_is_cut_off_at_the_limit() {
        let budget = leaked(1000);
        let body = stalled(&[&[1; 60], &[2; 60]]);
        let err = read_within(budget, patience(0), &headers(None), body, 100)
            .await
            .unwrap_err();
        assert_eq!(err, BodyError::TooLarge { limit_bytes: 100 });
        assert_eq!(budget.available_bytes(), 1000, "the share was given back");
    }

    #[tokio::test]
    async fn the_budget_is_held_until_the_body_is_dropped_and_a_request_beyond_it_is_refused() {
        let budget = leaked(100);
        let first = read_within(
            budget,
            patience(0),
            &headers(Some(80)),
            Body::from(vec![7u8; 80]),
            1000,
        )
        .await
        .unwrap();
        assert_eq!(first.bytes.len(), 80);
        assert_eq!(budget.available_bytes(), 20);
        let err = read_within(
            budget,
            patience(50),
            &headers(Some(30)),
            Body::from(vec![7u8; 30]),
            1000,
        )
        .await
        .unwrap_err();
        assert_eq!(err, BodyError::Busy { budget_bytes: 100 });
        drop(first);
        assert_eq!(budget.available_bytes(), 100);
        let second = read_within(
            budget,
            patience(0),
            &headers(Some(30)),
            Body::from(vec![7u8; 30]),
            1000,
        )
        .await
        .unwrap();
        assert_eq!(&second.bytes[..], &[7u8; 30][..]);
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_times_out_and_gives_its_share_back() {
        let budget = leaked(1_000_000);
        let err = read_within(
            budget,
            patience(0),
            &headers(Some(100_000)),
            stalled(&[b"thirteen byte"]),
            1_000_000,
        )
        .await
        .unwrap_err();
        let BodyError::TimedOut { timeout_ms } = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            u128::from(timeout_ms),
            patience(0).read_time(100_000).as_millis()
        );
        assert_eq!(budget.available_bytes(), 1_000_000);
    }
}
