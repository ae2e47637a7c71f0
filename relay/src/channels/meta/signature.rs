//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw request body, keyed with the Meta app secret
//! (CONTRACTS §2). Checked on the exact bytes received, before any JSON parsing: Meta escapes
//! non-ASCII as `\uXXXX` and `/` as `\/`, which re-serialised JSON would not reproduce.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::SignatureError;

/// The header Meta signs every webhook POST with (lower case, as `http::HeaderName` stores it).
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

const PREFIX: &str = "sha256=";

type HmacSha256 = Hmac<Sha256>;

fn mac(app_secret: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(app_secret).expect("HMAC takes a key of any length");
    mac.update(body);
    mac
}

/// The `X-Hub-Signature-256` value Meta would send for `body`: `sha256=` and 64 lowercase hex
/// characters. For tests and the local Graph API stand-in.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    format!("{PREFIX}{}", hex::encode(mac(app_secret, body).finalize().into_bytes()))
}

/// Checks the `X-Hub-Signature-256` header against the raw body, in constant time.
///
/// Only the SHA-256 header is accepted; the legacy `X-Hub-Signature` (SHA-1) Meta may send
/// alongside it is ignored. An empty app secret is refused rather than used, since anyone can
/// compute an HMAC under the empty key.
pub fn verify_signature(app_secret: &[u8], header: Option<&str>, raw_body: &[u8]) -> Result<(), SignatureError> {
    if app_secret.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let header = header.ok_or(SignatureError::MissingHeader)?.trim();
    let hex_digest = header.strip_prefix(PREFIX).ok_or(SignatureError::MalformedHeader)?;
    if hex_digest.len() != 64 {
        return Err(SignatureError::MalformedHeader);
    }
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::MalformedHeader)?;
    mac(app_secret, raw_body).verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GITHUB_SECRET: &[u8] = b"It's a Secret to Everybody";
    const GITHUB_BODY: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn signing_reproduces_the_published_github_vector() {
        assert_eq!(sign(GITHUB_SECRET, GITHUB_BODY), GITHUB_SIGNATURE);
    }

    #[test]
    fn the_published_github_vector_verifies() {
        assert_eq!(verify_signature(GITHUB_SECRET, Some(GITHUB_SIGNATURE), GITHUB_BODY), Ok(()));
    }

    #[test]
    fn an_uppercase_hex_digest_still_verifies() {
        let upper = format!("sha256={}", GITHUB_SIGNATURE["sha256=".len()..].to_uppercase());
        assert_eq!(verify_signature(GITHUB_SECRET, Some(&upper), GITHUB_BODY), Ok(()));
    }

    #[test]
    fn a_missing_header_is_refused_as_missing() {
        assert_eq!(verify_signature(GITHUB_SECRET, None, GITHUB_BODY), Err(SignatureError::MissingHeader));
    }

    #[test]
    fn a_header_without_the_sha256_prefix_is_malformed() {
        let bare = &GITHUB_SIGNATURE["sha256=".len()..];
        assert_eq!(verify_signature(GITHUB_SECRET, Some(bare), GITHUB_BODY), Err(SignatureError::MalformedHeader));
        let sha1 = format!("sha1={bare}");
        assert_eq!(verify_signature(GITHUB_SECRET, Some(&sha1), GITHUB_BODY), Err(SignatureError::MalformedHeader));
    }

    #[test]
    fn a_digest_of_the_wrong_length_or_not_hex_is_malformed() {
        for bad in
            ["sha256=", "sha256=abc", &GITHUB_SIGNATURE[..GITHUB_SIGNATURE.len() - 1], &format!("{GITHUB_SIGNATURE}00")]
        {
            assert_eq!(
                verify_signature(GITHUB_SECRET, Some(bad), GITHUB_BODY),
                Err(SignatureError::MalformedHeader),
                "{bad}"
            );
        }
        let not_hex = format!("sha256={}", "z".repeat(64));
        assert_eq!(verify_signature(GITHUB_SECRET, Some(&not_hex), GITHUB_BODY), Err(SignatureError::MalformedHeader));
    }

    #[test]
    fn a_wrong_secret_or_altered_body_is_a_mismatch() {
        assert_eq!(
            verify_signature(b"another secret", Some(GITHUB_SIGNATURE), GITHUB_BODY),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(GITHUB_SECRET, Some(GITHUB_SIGNATURE), b"Hello, World?"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_empty_app_secret_is_refused_even_with_a_matching_signature() {
        let forged = sign(b"", GITHUB_BODY);
        assert_eq!(verify_signature(b"", Some(&forged), GITHUB_BODY), Err(SignatureError::NoSecret));
    }

    #[test]
    fn the_signature_covers_the_raw_bytes_not_the_reparsed_json() {
        // Meta's wire form: non-ASCII as \uXXXX and "/" as "\/". Re-serialising the parsed JSON gives
        // different bytes (and so a different signature) for the same document.
        let raw: &[u8] = br#"{"text":"Ol\u00e1 \u2615","url":"https:\/\/example.com\/a"}"#;
        let header = sign(b"app-secret", raw);
        assert_eq!(verify_signature(b"app-secret", Some(&header), raw), Ok(()));

        let reserialised = serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(raw).unwrap()).unwrap();
        assert_ne!(reserialised, raw);
        assert_eq!(verify_signature(b"app-secret", Some(&header), &reserialised), Err(SignatureError::Mismatch));
    }

    #[test]
    fn fixtures_verify_against_the_values_sign_py_prints_including_the_final_newline() {
        // `python3 sign.py my-app-secret <fixture>` in relay/tests/fixtures/meta.
        let cases = [
            (
                include_str!("../../../tests/fixtures/meta/whatsapp_text.json"),
                "sha256=112ac646b86d9cccd52b60936204a794fb87b971e8e1b2d1eb06dac3ae97cb9d",
            ),
            (
                include_str!("../../../tests/fixtures/meta/messenger_attachment_image.json"),
                "sha256=6448a2d29be81a7be513e3ce1436383e3793747e94ec99266701814f770e43b0",
            ),
        ];
        for (raw, header) in cases {
            let raw = raw.as_bytes();
            assert_eq!(sign(b"my-app-secret", raw), header);
            assert_eq!(verify_signature(b"my-app-secret", Some(header), raw), Ok(()));
            let without_newline = raw.strip_suffix(b"\n").unwrap();
            assert_eq!(
                verify_signature(b"my-app-secret", Some(header), without_newline),
                Err(SignatureError::Mismatch)
            );
        }
    }
}
