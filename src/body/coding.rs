//! Compressed request bodies: the `Content-Encoding` a DynamoDB request names (`gzip` or
//! `deflate`, as DynamoDB accepts them) and the decompression of a body already read,
//! bounded by the route's limit and taking its share of the process's body budget as
//! the decompressed bytes appear, so that a small body that inflates without end (a
//! zip bomb) costs at most the limit, in memory and in work.
//!
//! Owns [`coding`], [`decode`] and [`CodingError`]. Like the rest of `body`, it does not
//! know what a body means or which error shape a client reads.

use std::io::Read;

use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};
use flate2::bufread::{MultiGzDecoder, ZlibDecoder};

use super::{BodyBudget, BodyError, Buffered, Patience, budget};

/// Decompressed bytes produced at a time: the budget is taken, and other requests get
/// their turn on the runtime, between two steps of this size.
pub const DECODE_STEP_BYTES: usize = 64 * 1024;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// Not encoded (no `Content-Encoding`, or `identity`).
    Identity,
    /// `gzip` (RFC 1952); several members one after the other are one body, as the
    /// format allows and DynamoDB accepts.
    Gzip,
    /// `deflate`: a zlib stream (RFC 1950), exactly one, as DynamoDB accepts it.
    Deflate,
}

/// Why a compressed body was not decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CodingError {
    /// The `Content-Encoding` names a coding Eddy does not decode.
    Unsupported(String),
    /// The body is not what its coding says (corrupt, cut short, or followed by bytes
    /// that are not part of it).
    Broken { coding: &'static str, why: String },
    /// The decompressed body is over the limit, or its share of the budget did not come
    /// free in time.
    Body(BodyError),
}

impl std::fmt::Display for CodingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodingError::Unsupported(name) => write!(
                f,
                "the request body's Content-Encoding '{name}' is not supported (gzip and \
                 deflate are)"
            ),
            CodingError::Broken { coding, why } => {
                write!(f, "the request body is not valid {coding} data: {why}")
            }
            CodingError::Body(e) => e.fmt(f),
        }
    }
}

/// The coding a request's `Content-Encoding` names. Names are case-insensitive; a list
/// of codings (`gzip, identity`) is refused unless all but one are `identity`, since no
/// SDK stacks two compressions.
pub(crate) fn coding(headers: &HeaderMap) -> Result<Coding, CodingError> {
    let mut found = Coding::Identity;
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let Ok(value) = value.to_str() else {
            return Err(CodingError::Unsupported(
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        };
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let this = if name.eq_ignore_ascii_case("identity") {
                continue;
            } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                Coding::Gzip
            } else if name.eq_ignore_ascii_case("deflate") {
                Coding::Deflate
            } else {
                return Err(CodingError::Unsupported(name.to_owned()));
            };
            if found != Coding::Identity {
                return Err(CodingError::Unsupported(value.trim().to_owned()));
            }
            found = this;
        }
    }
    Ok(found)
}

/// Decompresses a body read whole into at most `limit_bytes`, taking the process's
/// budget for the decompressed bytes (the compressed body's share is given back when
/// it is dropped, once decoded).
pub(crate) async fn decode(
    body: Buffered,
    coding: Coding,
    limit_bytes: usize,
) -> Result<Buffered, CodingError> {
    decode_within(budget(), Patience::EDGE, body, coding, limit_bytes).await
}

/// [`decode`] with a given budget and patience.
pub(crate) async fn decode_within(
    budget: &'static BodyBudget,
    patience: Patience,
    body: Buffered,
    coding: Coding,
    limit_bytes: usize,
) -> Result<Buffered, CodingError> {
    let name = match coding {
        Coding::Identity => return Ok(body),
        Coding::Gzip => "gzip",
        Coding::Deflate => "deflate",
    };
    let broken = |why: String| CodingError::Broken { coding: name, why };
    // An empty body is not a compressed anything (DynamoDB refuses it too).
    if body.bytes.is_empty() {
        return Err(broken("the body is empty".into()));
    }
    let mut decoder = match coding {
        Coding::Gzip => Decoder::Gzip(MultiGzDecoder::new(&body.bytes[..])),
        _ => Decoder::Zlib(ZlibDecoder::new(&body.bytes[..])),
    };
    let mut out = BytesMut::new();
    let mut share: Option<tokio::sync::SemaphorePermit<'static>> = None;
    let mut step = vec![0u8; DECODE_STEP_BYTES];
    loop {
        // At most one step more than the limit is ever decoded: the step that shows the
        // body is over it.
        let n = decoder.read(&mut step).map_err(|e| broken(e.to_string()))?;
        if n == 0 {
            break;
        }
        if out.len() + n > limit_bytes {
            return Err(CodingError::Body(BodyError::TooLarge { limit_bytes }));
        }
        let more = budget
            .take(n, patience.budget_wait)
            .await
            .map_err(CodingError::Body)?;
        match &mut share {
            Some(share) => share.merge(more),
            None => share = Some(more),
        }
        out.extend_from_slice(&step[..n]);
        // Decompression is work on the runtime's thread: let other requests run.
        tokio::task::yield_now().await;
    }
    if let Decoder::Zlib(zlib) = decoder
        && !zlib.into_inner().is_empty()
    {
        return Err(broken("bytes follow the end of the zlib stream".into()));
    }
    drop(body);
    Ok(Buffered {
        bytes: Bytes::from(out),
        _budget: share,
    })
}

/// The decoder of a body being decoded.
enum Decoder<'a> {
    Gzip(MultiGzDecoder<&'a [u8]>),
    Zlib(ZlibDecoder<&'a [u8]>),
}

impl Read for Decoder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zlib(d) => d.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use axum::http::HeaderValue;
    use flate2::Compression;
    use flate2::write::{GzEncoder, ZlibEncoder};

    use super::*;

    fn leaked(total_bytes: usize) -> &'static BodyBudget {
        Box::leak(Box::new(BodyBudget::new(total_bytes)))
    }

    fn patience() -> Patience {
        Patience {
            budget_wait: Duration::from_millis(20),
            grace: Duration::from_millis(200),
            bytes_per_s_min: 1_000_000,
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn buffered(bytes: Vec<u8>) -> Buffered {
        Buffered {
            bytes: Bytes::from(bytes),
            _budget: None,
        }
    }

    fn headers(encoding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_str(encoding).unwrap(),
        );
        h
    }

    #[test]
    fn codings_are_read_from_content_encoding() {
        assert_eq!(coding(&HeaderMap::new()), Ok(Coding::Identity));
        assert_eq!(coding(&headers("GZIP")), Ok(Coding::Gzip));
        assert_eq!(coding(&headers("deflate")), Ok(Coding::Deflate));
        assert_eq!(coding(&headers("identity, gzip")), Ok(Coding::Gzip));
        assert_eq!(
            coding(&headers("br")),
            Err(CodingError::Unsupported("br".into()))
        );
        assert!(matches!(
            coding(&headers("gzip, deflate")),
            Err(CodingError::Unsupported(_))
        ));
    }

    #[tokio::test]
    async fn gzip_with_several_members_and_deflate_are_decoded() {
        let budget = leaked(1000);
        let mut two = gzip(b"{\"a\":");
        two.extend(gzip(b"1}"));
        let out = decode_within(budget, patience(), buffered(two), Coding::Gzip, 100)
            .await
            .unwrap();
        assert_eq!(&out.bytes[..], b"{\"a\":1}");
        assert_eq!(
            budget.available_bytes(),
            1000 - 7,
            "the decoded body holds its share"
        );
        drop(out);
        assert_eq!(budget.available_bytes(), 1000);
        let out = decode_within(
            budget,
            patience(),
            buffered(zlib(b"{}")),
            Coding::Deflate,
            100,
        )
        .await
        .unwrap();
        assert_eq!(&out.bytes[..], b"{}");
    }

    #[tokio::test]
    async fn broken_or_trailing_or_empty_data_is_refused() {
        let budget = leaked(1000);
        for (bytes, coding) in [
            (b"{}".to_vec(), Coding::Gzip),
            (b"{}".to_vec(), Coding::Deflate),
            (Vec::new(), Coding::Gzip),
            (gzip(b"{}")[..10].to_vec(), Coding::Gzip),
            ([zlib(b"{}"), zlib(b"{}")].concat(), Coding::Deflate),
        ] {
            let err = decode_within(budget, patience(), buffered(bytes.clone()), coding, 100)
                .await
                .unwrap_err();
            assert!(
                matches!(err, CodingError::Broken { .. }),
                "{bytes:?} as {coding:?}: {err:?}"
            );
        }
        assert_eq!(budget.available_bytes(), 1000);
    }

    #[tokio::test]
    async fn a_bomb_is_cut_off_at_the_limit_and_gives_its_share_back() {
        let budget = leaked(10 * DECODE_STEP_BYTES);
        // 64 MiB of zeros compress to about 64 KiB.
        let bomb = gzip(&vec![0u8; 64 * 1024 * 1024]);
        assert!(bomb.len() < 100 * 1024);
        let limit = 3 * DECODE_STEP_BYTES;
        let err = decode_within(budget, patience(), buffered(bomb), Coding::Gzip, limit)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            CodingError::Body(BodyError::TooLarge { limit_bytes: limit })
        );
        assert_eq!(budget.available_bytes(), 10 * DECODE_STEP_BYTES);
    }

    #[tokio::test]
    async fn a_decoded_body_beyond_the_budget_is_refused_as_busy() {
        let budget = leaked(DECODE_STEP_BYTES);
        let big = gzip(&vec![1u8; 2 * DECODE_STEP_BYTES]);
        let err = decode_within(
            budget,
            patience(),
            buffered(big),
            Coding::Gzip,
            4 * DECODE_STEP_BYTES,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, CodingError::Body(BodyError::Busy { .. })),
            "{err:?}"
        );
        assert_eq!(budget.available_bytes(), DECODE_STEP_BYTES);
    }
}
