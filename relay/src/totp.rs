//! TOTP two-factor codes (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1, 6 digits, 30-second steps,
//! one step of clock drift either way. The secret is 20 random bytes, shown to the advisor once as
//! base32 and as an `otpauth://` URI (and its QR code) for their authenticator app.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use subtle::ConstantTimeEq;

pub const STEP_MS: i64 = 30_000;
pub const DIGITS: u32 = 6;
/// Steps of drift accepted on each side of now.
pub const DRIFT: i64 = 1;
pub const ISSUER: &str = "Confab";

pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::thread_rng().fill_bytes(&mut secret);
    secret
}

/// The time step of a moment (ms since the epoch).
pub fn step_at(now_ms: i64) -> i64 {
    now_ms.div_euclid(STEP_MS)
}

/// The HOTP code of `secret` for counter `step`.
pub fn code(secret: &[u8], step: i64) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&(step as u64).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([digest[offset], digest[offset + 1], digest[offset + 2], digest[offset + 3]]) & 0x7fff_ffff;
    binary % 10u32.pow(DIGITS)
}

/// The step whose code `given` is, within the drift around `now_ms`; None when it matches none.
/// Spaces in the code (as apps show it, "123 456") are ignored.
pub fn verify(secret: &[u8], given: &str, now_ms: i64) -> Option<i64> {
    let given: String = given.chars().filter(|c| !c.is_whitespace()).collect();
    if given.len() != DIGITS as usize || !given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(now_ms);
    let mut found = None;
    // Every candidate is computed and compared in constant time, so timing tells nothing.
    for step in now - DRIFT..=now + DRIFT {
        let expected = format!("{:0width$}", code(secret, step), width = DIGITS as usize);
        if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// RFC 4648 base32 without padding, as authenticator apps take secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(account: &str, secret: &[u8]) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    let label = utf8_percent_encode(&format!("{ISSUER}:{account}"), NON_ALPHANUMERIC).to_string();
    format!(
        "otpauth://totp/{label}?secret={}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={}",
        base32(secret),
        STEP_MS / 1000
    )
}

/// The URI as an SVG QR code (black on white, with its quiet zone).
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M).ok()?;
    Some(code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (8-digit codes there; the last 6 digits are ours).
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (seconds, eight) in [(59, 94287082u32), (1111111109, 7081804), (1111111111, 14050471), (1234567890, 89005924), (2000000000, 69279037)] {
            assert_eq!(code(secret, step_at(seconds * 1000)), eight % 1_000_000, "t = {seconds}");
        }
    }

    #[test]
    fn verify_accepts_one_step_of_drift_and_nothing_else() {
        let secret = new_secret();
        let now = 1_700_000_000_000;
        let step = step_at(now);
        let at = |s: i64| format!("{:06}", code(&secret, s));
        assert_eq!(verify(&secret, &at(step), now), Some(step));
        assert_eq!(verify(&secret, &at(step - 1), now), Some(step - 1));
        assert_eq!(verify(&secret, &at(step + 1), now), Some(step + 1));
        let spaced = format!("{} {}", &at(step)[..3], &at(step)[3..]);
        assert_eq!(verify(&secret, &spaced, now), Some(step));
        for far in [step - 2, step + 2] {
            if at(far) != at(step) && at(far) != at(step - 1) && at(far) != at(step + 1) {
                assert_eq!(verify(&secret, &at(far), now), None);
            }
        }
        assert_eq!(verify(&secret, "12345", now), None);
        assert_eq!(verify(&secret, "abcdef", now), None);
    }

    #[test]
    fn base32_and_uri_follow_rfc_4648_and_the_key_uri_format() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        let uri = otpauth_uri("ana@shop.example", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/Confab%3Aana%40shop%2Eexample?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Confab&algorithm=SHA1&digits=6&period=30"
        );
        assert!(qr_svg(&uri).unwrap().starts_with("<?xml"));
    }
}
