//! Webhook signatures: `X-Aicp-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//! `"<t>.<body>"` with the webhook's secret. Signing the timestamp with the body lets a receiver
//! refuse replays of an old delivery; the hex digest is compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=…,v1=…`.
    #[error("malformed signature header")]
    Malformed,
    /// The digest does not match the body and timestamp under this secret.
    #[error("signature does not match")]
    Mismatch,
    /// The timestamp is further from now than the tolerance.
    #[error("signature timestamp outside the tolerance")]
    Stale,
}

/// Hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The `X-Aicp-Signature` value for `body` sent at `timestamp`.
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", sign(secret, timestamp, body))
}

/// Verifies a `X-Aicp-Signature` value as a receiver would: the digest must match and the
/// timestamp be within `tolerance_secs` of `now`.
///
/// # Errors
/// [`SignatureError`] saying why not.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return Err(SignatureError::Malformed) };
    let want = sign(secret, t, body);
    if !bool::from(want.as_bytes().ct_eq(v1.as_bytes())) {
        return Err(SignatureError::Mismatch);
    }
    if (now - t).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_secret_and_fails_with_another() {
        let body = br#"{"id":"a","type":"budget.threshold"}"#;
        let header = signature_header("whsec_right", 1_700_000_000, body);
        assert_eq!(verify("whsec_right", &header, body, 1_700_000_010, 300), Ok(()));
        assert_eq!(
            verify("whsec_wrong", &header, body, 1_700_000_010, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_changed_body_or_timestamp_or_an_old_delivery_fails() {
        let body = b"{}";
        let header = signature_header("s", 1_700_000_000, body);
        assert_eq!(verify("s", &header, b"{ }", 1_700_000_000, 300), Err(SignatureError::Mismatch));
        let moved = header.replace("t=1700000000", "t=1700000001");
        assert_eq!(verify("s", &moved, body, 1_700_000_000, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify("s", &header, body, 1_700_001_000, 300), Err(SignatureError::Stale));
        assert_eq!(verify("s", "v1=abc", body, 0, 300), Err(SignatureError::Malformed));
    }

    #[test]
    fn the_digest_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: printf '1.{}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            sign("key", 1, b"{}"),
            "1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }
}
