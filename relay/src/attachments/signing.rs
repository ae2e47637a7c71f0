//! Short-lived signed links to attachment bytes: `/files/{id}?exp=UNIX_SECONDS&sig=MAC`, where MAC
//! is HMAC-SHA-256 (base64url) of `id.exp` under the relay's link key. Whoever holds a link may
//! fetch that one file until it expires; nobody can make one for another file or a later time.
//!
//! The key is 32 random bytes in `<data dir>/link-signing.key`, made on first start, so links
//! survive a restart and every node sharing the data directory agrees on them.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How long a link works: long enough to look at a thread, short enough that a link copied out of
/// it soon stops working.
pub const LINK_LIFETIME_SECS: i64 = 15 * 60;

#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(…)")
    }
}

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    Expired,
    BadSignature,
}

impl Signer {
    pub fn new(key: [u8; 32]) -> Self {
        Signer { key }
    }

    /// The key in `path`, made (readable by the relay's user only) when there is none. If it can't
    /// be read or written, a key for this process only (links then end with it), with a warning.
    pub fn load_or_create(path: &Path) -> Self {
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() == 32 => {
                // An older relay's key may be readable by others.
                if let Err(e) = crate::owner_only::tighten(path) {
                    tracing::warn!(error = %e, path = %path.display(), "could not make the link-signing key private");
                }
                return Signer::new(bytes.try_into().expect("32 bytes"));
            }
            Ok(_) => tracing::warn!(path = %path.display(), "the link-signing key is not 32 bytes; making a new one"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, path = %path.display(), "could not read the link-signing key"),
        }
        let key: [u8; 32] = rand::random();
        if let Err(e) = write_private(path, &key) {
            tracing::warn!(error = %e, path = %path.display(), "could not store the link-signing key; file links end when this relay stops");
        }
        Signer::new(key)
    }

    fn mac(&self, id: &str, exp: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(exp.to_string().as_bytes());
        mac
    }

    /// The link to file `id`, valid until `exp` (Unix seconds).
    pub fn link(&self, id: &str, exp: i64) -> String {
        let sig = URL_SAFE_NO_PAD.encode(self.mac(id, exp).finalize().into_bytes());
        format!("/files/{id}?exp={exp}&sig={sig}")
    }

    /// Whether `sig` is this relay's signature of `id` until `exp`, and `exp` is still ahead of
    /// `now` (Unix seconds). Compared in constant time.
    pub fn check(&self, id: &str, exp: i64, sig: &str, now: i64) -> Result<(), LinkError> {
        let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else { return Err(LinkError::BadSignature) };
        self.mac(id, exp).verify_slice(&sig).map_err(|_| LinkError::BadSignature)?;
        if exp <= now {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

fn write_private(path: &Path, key: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        crate::owner_only::create_dir(dir)?;
    }
    let mut file = crate::owner_only::open_options().write(true).create_new(true).open(path)?;
    crate::owner_only::set_file_mode(&file)?;
    file.write_all(key)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "aBcDeFgHiJkLmNoPqRsTuVwX";

    fn parts(link: &str) -> (i64, String) {
        let query = link.split_once('?').unwrap().1;
        let mut exp = 0;
        let mut sig = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("exp", v) => exp = v.parse().unwrap(),
                ("sig", v) => sig = v.to_owned(),
                _ => {}
            }
        }
        (exp, sig)
    }

    #[test]
    fn a_link_works_for_its_file_until_it_expires() {
        let signer = Signer::new([7; 32]);
        let link = signer.link(ID, 1_000);
        assert!(link.starts_with(&format!("/files/{ID}?exp=1000&sig=")));
        let (exp, sig) = parts(&link);
        assert_eq!(signer.check(ID, exp, &sig, 999), Ok(()));
        assert_eq!(signer.check(ID, exp, &sig, 1_000), Err(LinkError::Expired));
    }

    #[test]
    fn a_link_can_not_be_moved_to_another_file_a_later_time_or_another_relay() {
        let signer = Signer::new([7; 32]);
        let (exp, sig) = parts(&signer.link(ID, 1_000));
        assert_eq!(signer.check("zzzzzzzzzzzzzzzzzzzzzzzz", exp, &sig, 0), Err(LinkError::BadSignature));
        assert_eq!(signer.check(ID, exp + 1, &sig, 0), Err(LinkError::BadSignature));
        assert_eq!(signer.check(ID, exp, "not base64!", 0), Err(LinkError::BadSignature));
        assert_eq!(Signer::new([8; 32]).check(ID, exp, &sig, 0), Err(LinkError::BadSignature));
    }

    #[test]
    fn the_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("link-signing.key");
        let first = Signer::load_or_create(&path);
        let again = Signer::load_or_create(&path);
        assert_eq!(first.link(ID, 5), again.link(ID, 5));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
