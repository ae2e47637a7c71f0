//! Identity verification: the site's server signs its user's id, the widget passes the signature on
//! `identify`, the relay checks it. `user_hash` = hex(HMAC-SHA256(site identity secret, user_id)),
//! the scheme of Intercom's and Crisp's "identity verification", so one snippet per language
//! (README, "Identity verification") computes it.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// A new identity secret: 32 random bytes, hex (what an admin pastes into their server's config).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// hex(HMAC-SHA256(secret, user_id)), as the site's server computes it.
pub fn user_hash(secret: &str, user_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(user_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `hash` (hex, either case) is `user_id`'s HMAC under `secret`. Constant time in the hash's
/// content (`Mac::verify_slice`).
pub fn verify(secret: &str, user_id: &str, hash: &str) -> bool {
    let Ok(given) = hex::decode(hash.trim()) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(user_id.as_bytes());
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_for_its_user_and_secret() {
        let secret = new_secret();
        assert_eq!(secret.len(), 64);
        let hash = user_hash(&secret, "user-42");
        assert!(verify(&secret, "user-42", &hash));
        assert!(verify(&secret, "user-42", &hash.to_uppercase()));
        assert!(!verify(&secret, "user-43", &hash));
        assert!(!verify(&new_secret(), "user-42", &hash));
        assert!(!verify(&secret, "user-42", &hash[..62]));
        assert!(!verify(&secret, "user-42", "not hex"));
        assert!(!verify(&secret, "user-42", ""));
    }

    #[test]
    fn the_hash_is_the_standard_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            user_hash("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
