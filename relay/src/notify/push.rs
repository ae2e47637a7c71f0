//! Web Push behind a trait: the payload encrypted for the browser (RFC 8291, `aes128gcm`) and the
//! request signed for the push service with the relay's VAPID key (RFC 8292, ES256 JWT), sent under
//! the outbound policy (`crate::outbound`): the endpoint is the visitor's to choose, so it must be an
//! https URL of a public host. Tests point subscriptions at a local fake push service that decrypts.

use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::elliptic_curve::sec1::ToEncodedPoint;

use crate::outbound::{Outbound, OutboundError};

/// Browsers (push subscriptions) one visitor keeps at most; a new one replaces the oldest.
pub const MAX_SUBSCRIPTIONS_PER_VISITOR: usize = 5;
/// The longest endpoint accepted (the push services' own are well under 600 bytes).
pub const MAX_ENDPOINT_BYTES: usize = 1024;

/// A browser's push subscription (`PushSubscription.toJSON()`): where to post, and its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub endpoint: String,
    /// The browser's P-256 public key, uncompressed, base64url.
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url.
    pub auth: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The subscription's keys are not what RFC 8291 needs.
    #[error("the subscription's keys are unusable: {0}")]
    BadKeys(&'static str),
    /// The push service says the subscription is gone (404/410): forget it.
    #[error("the subscription has expired")]
    Gone,
    #[error("the push service refused the message: {0}")]
    Refused(String),
    /// The outbound policy refuses the endpoint (not https, a private or local address): forget it.
    #[error("the endpoint is not pushed to: {0}")]
    NotAllowed(OutboundError),
    #[error("the push service: {0}")]
    Unreachable(OutboundError),
}

#[async_trait]
pub trait Pusher: Send + Sync {
    /// The VAPID public key (uncompressed point, base64url) browsers subscribe with.
    fn public_key(&self) -> String;
    async fn push(&self, subscription: &Subscription, payload: &[u8], ttl_secs: u32) -> Result<(), PushError>;
}

/// The relay's VAPID key pair, and the outbound policy its requests go under.
pub struct WebPusher {
    key: p256::ecdsa::SigningKey,
    /// The `sub` claim: how the push service can reach the operator (`mailto:` or `https:`).
    subject: String,
    outbound: Arc<Outbound>,
}

impl WebPusher {
    pub fn new(private_key: &[u8; 32], subject: String, outbound: Arc<Outbound>) -> Result<WebPusher, String> {
        let key = p256::ecdsa::SigningKey::from_bytes(private_key.into()).map_err(|e| format!("bad VAPID key: {e}"))?;
        Ok(WebPusher { key, subject, outbound })
    }

    /// A new private key (32 bytes), to store once.
    pub fn generate_key() -> [u8; 32] {
        p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng).to_bytes().into()
    }

    /// `vapid t=JWT, k=PUBLIC_KEY` for a push service at `audience` (its origin).
    fn authorization(&self, audience: &str, now_secs: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": audience, "exp": now_secs + 12 * 3600, "sub": self.subject });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature: p256::ecdsa::Signature = self.key.sign(signing_input.as_bytes());
        format!("vapid t={signing_input}.{}, k={}", URL_SAFE_NO_PAD.encode(signature.to_bytes()), self.public_key())
    }
}

#[async_trait]
impl Pusher for WebPusher {
    fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.verifying_key().to_encoded_point(false).as_bytes())
    }

    async fn push(&self, subscription: &Subscription, payload: &[u8], ttl_secs: u32) -> Result<(), PushError> {
        let url = self.outbound.check_url(&subscription.endpoint).map_err(PushError::NotAllowed)?;
        let body = encrypt(subscription, payload)?;
        let authorization = self.authorization(&url.origin().ascii_serialization(), crate::now_ms() / 1000);
        let sent = self
            .outbound
            .send(reqwest::Method::POST, url.as_str(), |request| {
                request
                    .header("TTL", ttl_secs.to_string())
                    .header("Content-Encoding", "aes128gcm")
                    .header("Content-Type", "application/octet-stream")
                    .header("Urgency", "normal")
                    .header("Authorization", authorization)
                    .body(body)
            })
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) if e.is_refusal() => return Err(PushError::NotAllowed(e)),
            Err(OutboundError::Redirected(status)) => return Err(PushError::Refused(format!("a redirect (HTTP {status}), not followed"))),
            Err(e) => return Err(PushError::Unreachable(e)),
        };
        match response.status().as_u16() {
            200..=299 => Ok(()),
            404 | 410 => Err(PushError::Gone),
            status => Err(PushError::Refused(format!("HTTP {status}"))),
        }
    }
}

/// Whether a subscription from a browser is one the relay can push to: an endpoint of sane length
/// that the outbound policy allows (https, not a private or local address), a P-256 point and a
/// 16-byte secret. The answer is for the visitor, in plain words.
pub fn check(s: &Subscription, outbound: &Outbound) -> Result<(), String> {
    if s.endpoint.len() > MAX_ENDPOINT_BYTES {
        return Err(format!("the endpoint is longer than {MAX_ENDPOINT_BYTES} bytes"));
    }
    match outbound.check_url(&s.endpoint) {
        Ok(_) => {}
        Err(OutboundError::SchemeNotAllowed(_)) if !outbound.config().allow_http => return Err("the endpoint is not an https:// URL".into()),
        Err(OutboundError::SchemeNotAllowed(_)) => return Err("the endpoint is not an http(s) URL".into()),
        Err(OutboundError::ForbiddenAddress(_)) => {
            return Err("the endpoint is on a private or local network, which the relay does not reach".into())
        }
        Err(_) => return Err("the endpoint is not a URL".into()),
    }
    if s.p256dh.len() > 128 || s.auth.len() > 32 {
        return Err("the subscription's keys are too long".into());
    }
    let point = URL_SAFE_NO_PAD.decode(s.p256dh.trim_end_matches('=')).map_err(|_| "p256dh is not base64url")?;
    p256::PublicKey::from_sec1_bytes(&point).map_err(|_| "p256dh is not a P-256 public key")?;
    let auth = URL_SAFE_NO_PAD.decode(s.auth.trim_end_matches('=')).map_err(|_| "auth is not base64url")?;
    if auth.len() != 16 {
        return Err("auth is not 16 bytes".into());
    }
    Ok(())
}

/// RFC 8291 §3.4: one `aes128gcm` record (RFC 8188) for the subscription's keys.
pub fn encrypt(subscription: &Subscription, payload: &[u8]) -> Result<Vec<u8>, PushError> {
    use aes_gcm::aead::{Aead, KeyInit};
    use rand::RngCore;

    let ua_public_bytes = URL_SAFE_NO_PAD.decode(subscription.p256dh.trim_end_matches('=')).map_err(|_| PushError::BadKeys("p256dh is not base64url"))?;
    let ua_public = p256::PublicKey::from_sec1_bytes(&ua_public_bytes).map_err(|_| PushError::BadKeys("p256dh is not a P-256 point"))?;
    let auth = URL_SAFE_NO_PAD.decode(subscription.auth.trim_end_matches('=')).map_err(|_| PushError::BadKeys("auth is not base64url"))?;
    if auth.len() != 16 {
        return Err(PushError::BadKeys("auth is not 16 bytes"));
    }
    let as_secret = p256::ecdh::EphemeralSecret::random(&mut rand::rngs::OsRng);
    let as_public = as_secret.public_key().to_encoded_point(false);
    let shared = as_secret.diffie_hellman(&ua_public);

    // IKM = HKDF(auth, ecdh_secret, "WebPush: info" 0x00 ua_public as_public, 32)
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(&ua_public.to_encoded_point(false).as_bytes());
    key_info.extend_from_slice(as_public.as_bytes());
    let mut ikm = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|_| PushError::BadKeys("key derivation"))?;

    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let prk = hkdf::Hkdf::<sha2::Sha256>::new(Some(&salt), &ikm);
    let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).map_err(|_| PushError::BadKeys("key derivation"))?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce).map_err(|_| PushError::BadKeys("key derivation"))?;

    // One record: the payload, then the last-record delimiter 0x02 (no padding).
    let mut plaintext = payload.to_vec();
    plaintext.push(2);
    let cipher = aes_gcm::Aes128Gcm::new_from_slice(&cek).map_err(|_| PushError::BadKeys("key length"))?;
    let ciphertext = cipher.encrypt((&nonce).into(), plaintext.as_slice()).map_err(|_| PushError::BadKeys("encryption"))?;

    let mut body = Vec::with_capacity(16 + 4 + 1 + 65 + ciphertext.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&4096u32.to_be_bytes());
    body.push(as_public.as_bytes().len() as u8);
    body.extend_from_slice(as_public.as_bytes());
    body.extend_from_slice(&ciphertext);
    Ok(body)
}
