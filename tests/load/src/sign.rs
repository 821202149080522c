//! SigV4 signing of the load generator's DynamoDB requests (`--sign`), to measure what
//! verification costs the server: each request is signed when it is built, as an AWS SDK
//! signs it (its `X-Amz-Date` is the current second, so a signature cannot be reused),
//! and the signing key (four HMACs of the secret) is derived once per day and kept, as
//! SDKs keep it.
//!
//! The canonical request is built here for the one shape this program sends (`POST /`
//! with `content-type`, `host`, `x-amz-date`, `x-amz-target` and, with a session token,
//! `x-amz-security-token`); the signing key and the HMAC are `aws-sigv4`'s, the AWS
//! SDK's own, and a test checks the whole signature against `aws-sigv4`'s signer.

use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// The signing name of DynamoDB and DynamoDB Streams.
const SERVICE: &str = "dynamodb";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SECONDS_PER_DAY: u64 = 86_400;

/// Credentials and the signing key of the current day.
pub struct Signer {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    region: String,
    /// The day (days since the epoch) and its signing key.
    key: RwLock<Option<(u64, Vec<u8>)>>,
}

/// The headers a signed request carries, besides the ones it was signed over.
pub struct Signed {
    pub amz_date: String,
    pub authorization: String,
}

impl Signer {
    pub fn new(
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        region: String,
    ) -> Signer {
        Signer {
            access_key_id,
            secret_access_key,
            session_token,
            region,
            key: RwLock::new(None),
        }
    }

    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// The signing key of `now`'s day, derived once per day.
    fn signing_key(&self, day: u64, now: SystemTime) -> Vec<u8> {
        if let Ok(cached) = self.key.read()
            && let Some((d, key)) = cached.as_ref()
            && *d == day
        {
            return key.clone();
        }
        let key = aws_sigv4::sign::v4::generate_signing_key(
            &self.secret_access_key,
            now,
            &self.region,
            SERVICE,
        )
        .as_ref()
        .to_vec();
        if let Ok(mut cached) = self.key.write() {
            *cached = Some((day, key.clone()));
        }
        key
    }

    /// Signs `POST /` of `body` to `host` as DynamoDB operation `target` at `now`.
    pub fn sign(
        &self,
        host: &str,
        content_type: &str,
        target: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Signed {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let day = secs / SECONDS_PER_DAY;
        let amz_date = amz_date(secs);
        let scope = format!("{}/{}/{SERVICE}/aws4_request", &amz_date[..8], self.region);
        let (token_header, token_name) = match &self.session_token {
            Some(token) => (
                format!("x-amz-security-token:{token}\n"),
                ";x-amz-security-token",
            ),
            None => (String::new(), ""),
        };
        let signed_headers = format!("content-type;host;x-amz-date{token_name};x-amz-target");
        let canonical = format!(
            "POST\n/\n\ncontent-type:{content_type}\nhost:{host}\nx-amz-date:{amz_date}\n\
             {token_header}x-amz-target:{target}\n\n{signed_headers}\n{}",
            hex::encode(Sha256::digest(body))
        );
        let string_to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let signature = aws_sigv4::sign::v4::calculate_signature(
            self.signing_key(day, now),
            string_to_sign.as_bytes(),
        );
        Signed {
            authorization: format!(
                "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                self.access_key_id
            ),
            amz_date,
        }
    }
}

/// ISO 8601 basic (`20261207T055248Z`) of `secs` since the epoch.
fn amz_date(secs: u64) -> String {
    let (y, m, d) = civil_from_days(secs / SECONDS_PER_DAY);
    let rem = secs % SECONDS_PER_DAY;
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// The civil date of a day number (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_iso_8601_basic() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_796_622_768), "20261207T055248Z");
        assert_eq!(amz_date(951_782_400 + 3661), "20000229T010101Z");
    }

    /// The signature is the one the AWS SDK's signer computes for the same request.
    fn matches_the_sdk(token: Option<&str>) {
        let now = UNIX_EPOCH + Duration::from_secs(1_796_622_768);
        let signer = Signer::new(
            "EDDYLOADKEY".into(),
            "load-secret".into(),
            token.map(str::to_owned),
            "us-east-1".into(),
        );
        let body = br#"{"TableName":"loadbench","Key":{"pk":{"S":"g000001"},"sk":{"S":"s"}}}"#;
        let (host, ct, target) = (
            "127.0.0.1:8000",
            "application/x-amz-json-1.0",
            "DynamoDB_20120810.GetItem",
        );
        let ours = signer.sign(host, ct, target, body, now);
        // Twice: the second uses the cached signing key.
        assert_eq!(
            signer.sign(host, ct, target, body, now).authorization,
            ours.authorization
        );

        let identity = aws_credential_types::Credentials::new(
            "EDDYLOADKEY",
            "load-secret",
            token.map(str::to_owned),
            None,
            "test",
        )
        .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(SERVICE)
            .time(now)
            .settings(aws_sigv4::http_request::SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let headers = [
            ("host", host),
            ("content-type", ct),
            ("x-amz-target", target),
        ];
        let signable = aws_sigv4::http_request::SignableRequest::new(
            "POST",
            "http://127.0.0.1:8000/",
            headers.iter().copied(),
            aws_sigv4::http_request::SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
            .unwrap()
            .into_parts();
        let (sdk_headers, _) = instructions.into_parts();
        let header = |name: &str| {
            sdk_headers
                .iter()
                .find(|h| h.name() == name)
                .map(|h| h.value().to_owned())
        };
        assert_eq!(header("x-amz-date"), Some(ours.amz_date.clone()));
        assert_eq!(header("authorization"), Some(ours.authorization));
    }

    #[test]
    fn signatures_match_the_aws_sdks_signer() {
        matches_the_sdk(None);
    }

    #[test]
    fn signatures_with_a_session_token_match_the_aws_sdks_signer() {
        matches_the_sdk(Some("a-session-token"));
    }
}
