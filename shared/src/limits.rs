//! Limits enforced by the relay and respected by the clients. Changing one is a protocol change for
//! clients that check it before sending, so keep them generous and stable.

/// Largest WebSocket text frame the relay accepts from a client, in bytes. A larger frame is
/// refused with `frame_too_large`; the connection stays open.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

/// Longest message text, in Unicode scalar values (what a person would call characters).
pub const MAX_TEXT_CHARS: usize = 4000;

/// Longest client-generated message id, in bytes.
pub const MAX_CLIENT_ID_LEN: usize = 64;

/// Most messages the relay replays in one go on resume or when an advisor opens a thread.
pub const MAX_REPLAY: usize = 500;

/// Longest page URL or referrer the relay keeps, in bytes (longer ones are dropped).
pub const MAX_URL_BYTES: usize = 2048;

/// Longest IANA time zone name the relay accepts ("America/Argentina/ComodRivadavia" is 32).
pub const MAX_TIMEZONE_BYTES: usize = 64;

/// Longest customer e-mail address the relay accepts (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Longest visitor-chosen display name, in characters.
pub const MAX_NAME_CHARS: usize = 80;

/// Largest attachment the relay keeps, in bytes. A larger file from a platform ends `failed` with
/// a reason; the rest of its message is kept.
pub const MAX_ATTACHMENT_BYTES: u64 = 25 * 1024 * 1024;

/// Longest attachment file name the relay keeps, in characters (longer ones are shortened).
pub const MAX_FILE_NAME_CHARS: usize = 200;

/// Largest file a visitor or an advisor may upload, in bytes (10 MB). Checked by the clients before
/// they upload (a clear message at once) and enforced by the relay while it receives the bytes.
pub const MAX_UPLOAD_BYTES: u64 = 10 * 1024 * 1024;

/// The types a visitor or an advisor may upload: photos, videos and PDFs. The relay decides from
/// the file's bytes, never from its name or the type the browser claims.
pub const UPLOAD_TYPES: [&str; 8] = [
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "application/pdf",
];

/// The `accept` attribute of a file picker offering [`UPLOAD_TYPES`].
pub const UPLOAD_ACCEPT: &str = "image/jpeg,image/png,image/gif,image/webp,video/mp4,video/webm,video/quicktime,application/pdf";

/// Whether a file of this type may be uploaded.
pub fn upload_type_allowed(mime: &str) -> bool {
    UPLOAD_TYPES.contains(&mime)
}

/// Most files one message may carry.
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;

/// Count `text` as the limits do.
pub fn text_chars(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picker_offers_exactly_the_allowed_types() {
        assert_eq!(UPLOAD_ACCEPT.split(',').collect::<Vec<_>>(), UPLOAD_TYPES);
        assert!(upload_type_allowed("application/pdf") && upload_type_allowed("video/quicktime"));
        assert!(!upload_type_allowed("text/html") && !upload_type_allowed("image/svg+xml") && !upload_type_allowed(""));
    }
}
