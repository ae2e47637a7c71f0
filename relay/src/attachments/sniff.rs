//! What a file is, from its bytes, and how to serve it safely. The platform's claimed type is
//! never trusted: a "photo" that is really an HTML page must not become a page on the relay's
//! origin.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use shared::limits::MAX_FILE_NAME_CHARS;
use shared::AttachmentKind;

/// How many leading bytes [`sniff`] looks at (enough for every signature `infer` knows that
/// matters here, including the zip entries of Office documents).
pub const HEAD_BYTES: usize = 64 * 1024;

/// A file's type as its bytes show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    pub mime: &'static str,
    /// Without the dot, for a file name when the sender gave none.
    pub extension: &'static str,
}

pub const UNKNOWN: Sniffed = Sniffed { mime: "application/octet-stream", extension: "bin" };
const PLAIN_TEXT: Sniffed = Sniffed { mime: "text/plain", extension: "txt" };

/// The type of a file from its first bytes (at most [`HEAD_BYTES`] are looked at). Text without
/// a signature is `text/plain`; anything else unrecognised is `application/octet-stream`.
pub fn sniff(head: &[u8]) -> Sniffed {
    let head = &head[..head.len().min(HEAD_BYTES)];
    if let Some(t) = infer::get(head) {
        return Sniffed { mime: t.mime_type(), extension: t.extension() };
    }
    if looks_like_text(head) {
        PLAIN_TEXT
    } else {
        UNKNOWN
    }
}

/// UTF-8 (possibly cut mid-character at the end of `head`) without NULs or other binary control
/// characters.
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() {
        return false;
    }
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    };
    valid && !head.iter().any(|&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c))
}

/// The kind to show: the platform's, unless the bytes contradict it (a "photo" that is a PDF is
/// shown as a document). A document stays a document whatever it holds: the sender chose to send
/// it as a file.
pub fn kind_for(declared: AttachmentKind, mime: &str) -> AttachmentKind {
    let image = mime.starts_with("image/");
    let moving = mime.starts_with("video/") || mime.starts_with("audio/");
    match declared {
        AttachmentKind::Image | AttachmentKind::Sticker if image => declared,
        AttachmentKind::Video | AttachmentKind::Audio if moving => declared,
        AttachmentKind::Unknown if image => AttachmentKind::Image,
        AttachmentKind::Unknown if mime.starts_with("video/") => AttachmentKind::Video,
        AttachmentKind::Unknown if mime.starts_with("audio/") => AttachmentKind::Audio,
        _ => AttachmentKind::Document,
    }
}

/// Types a browser would run or render as a page (script, markup): served as opaque bytes.
fn is_active(mime: &str) -> bool {
    mime.contains("html") || mime.contains("xml") || mime.contains("script") || mime == "image/svg+xml"
}

/// The `Content-Type` to serve a stored file with.
pub fn served_type(mime: &str) -> String {
    if mime.is_empty() || is_active(mime) {
        UNKNOWN.mime.to_owned()
    } else if mime == PLAIN_TEXT.mime {
        "text/plain; charset=utf-8".to_owned()
    } else {
        mime.to_owned()
    }
}

/// Pictures, video and sound are shown in the page; everything else is downloaded.
pub fn shows_inline(mime: &str) -> bool {
    (mime.starts_with("image/") || mime.starts_with("video/") || mime.starts_with("audio/")) && !is_active(mime)
}

/// RFC 5987 `attr-char`: what may stand unencoded in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Disposition` (RFC 6266): an ASCII `filename` for old clients and the exact name,
/// percent-encoded, in `filename*`. Nothing from `name` can break out of the header.
pub fn content_disposition(inline: bool, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if (c.is_ascii_graphic() || c == ' ') && !matches!(c, '"' | '\\' | '%' | ';' | ',') { c } else { '_' })
        .collect();
    let encoded = utf8_percent_encode(name, ATTR_CHAR);
    let disposition = if inline { "inline" } else { "attachment" };
    format!("{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The name to download a file under: the sender's, or one made from its kind and type.
pub fn download_name(name: Option<&str>, kind: AttachmentKind, mime: &str) -> String {
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        return name.to_owned();
    }
    let stem = match kind {
        AttachmentKind::Image => "photo",
        AttachmentKind::Video => "video",
        AttachmentKind::Audio => "audio",
        AttachmentKind::Sticker => "sticker",
        _ => "document",
    };
    format!("{stem}.{}", extension_for(mime))
}

/// A usual extension for a sniffed type.
fn extension_for(mime: &str) -> &str {
    match mime {
        "image/jpeg" => "jpg",
        "text/plain" => "txt",
        "audio/mpeg" => "mp3",
        "video/quicktime" => "mov",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => "pptx",
        _ => match mime.split_once('/') {
            // image/png, application/pdf, video/mp4, audio/ogg, image/webp…
            Some((_, sub)) if (2..=4).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric()) => sub,
            _ => "bin",
        },
    }
}

/// A sender's file name made safe to keep and show: no directories, no control or bidirectional
/// override characters (which can make "invoice", U+202E, "fdp.exe" read as `invoiceexe.pdf`), at most
/// [`MAX_FILE_NAME_CHARS`] characters (the extension is kept). `None` when nothing is left.
pub fn clean_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        return None;
    }
    if cleaned.chars().count() <= MAX_FILE_NAME_CHARS {
        return Some(cleaned.to_owned());
    }
    let extension = cleaned.rsplit_once('.').map(|(_, e)| e).filter(|e| !e.is_empty() && e.chars().count() <= 16);
    let keep = MAX_FILE_NAME_CHARS - extension.map_or(0, |e| e.chars().count() + 1);
    let stem: String = cleaned.chars().take(keep).collect();
    Some(match extension {
        Some(e) => format!("{}.{e}", stem.trim_end()),
        None => stem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
    const HTML: &[u8] = b"<!DOCTYPE html><html><script>alert(1)</script></html>";

    #[test]
    fn the_type_comes_from_the_bytes() {
        assert_eq!(sniff(PNG), Sniffed { mime: "image/png", extension: "png" });
        assert_eq!(sniff(PDF).mime, "application/pdf");
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF\0").mime, "image/jpeg");
        assert_eq!(sniff("Olá, tudo bem?\nLinha dois".as_bytes()).mime, "text/plain");
        assert_eq!(sniff(b"\0\x01\x02\x03garbage").mime, "application/octet-stream");
        assert_eq!(sniff(b"").mime, "application/octet-stream");
    }

    #[test]
    fn text_cut_in_the_middle_of_a_character_is_still_text() {
        let text = "ação".as_bytes();
        assert_eq!(sniff(&text[..text.len() - 1]).mime, "text/plain");
    }

    #[test]
    fn a_photo_that_is_not_a_picture_becomes_a_document() {
        assert_eq!(kind_for(AttachmentKind::Image, "image/png"), AttachmentKind::Image);
        assert_eq!(kind_for(AttachmentKind::Image, "application/pdf"), AttachmentKind::Document);
        assert_eq!(kind_for(AttachmentKind::Sticker, "image/webp"), AttachmentKind::Sticker);
        assert_eq!(kind_for(AttachmentKind::Audio, "video/mp4"), AttachmentKind::Audio, "m4a voice notes sniff as mp4");
        assert_eq!(kind_for(AttachmentKind::Video, "text/html"), AttachmentKind::Document);
        assert_eq!(kind_for(AttachmentKind::Document, "image/png"), AttachmentKind::Document);
        assert_eq!(kind_for(AttachmentKind::Unknown, "audio/ogg"), AttachmentKind::Audio);
    }

    #[test]
    fn markup_and_script_are_never_served_as_such() {
        let html = sniff(HTML).mime;
        assert_eq!(served_type(html), "application/octet-stream");
        assert!(!shows_inline(html));
        assert_eq!(served_type("image/svg+xml"), "application/octet-stream");
        assert!(!shows_inline("image/svg+xml"));
        assert_eq!(served_type("image/png"), "image/png");
        assert!(shows_inline("image/png") && shows_inline("video/mp4") && shows_inline("audio/ogg"));
        assert!(!shows_inline("application/pdf"));
        assert_eq!(served_type("text/plain"), "text/plain; charset=utf-8");
    }

    #[test]
    fn the_disposition_header_carries_any_name_safely() {
        assert_eq!(
            content_disposition(false, "Garantía 2024.pdf"),
            "attachment; filename=\"Garant_a 2024.pdf\"; filename*=UTF-8''Garant%C3%ADa%202024.pdf"
        );
        let nasty = content_disposition(true, "a\"; filename=evil.html\r\nX: y");
        assert!(nasty.starts_with("inline; filename=\"a_"), "{nasty}");
        assert!(!nasty.contains('\r') && !nasty.contains('\n') && nasty.matches('"').count() == 2, "{nasty}");
        assert!(axum::http::HeaderValue::from_str(&nasty).is_ok());
    }

    #[test]
    fn file_names_lose_directories_control_characters_and_bidi_overrides() {
        assert_eq!(clean_file_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(clean_file_name("C:\\Users\\ana\\recibo.pdf").as_deref(), Some("recibo.pdf"));
        assert_eq!(clean_file_name("invoice\u{202e}fdp.exe").as_deref(), Some("invoicefdp.exe"));
        assert_eq!(clean_file_name("line\nbreak.txt").as_deref(), Some("linebreak.txt"));
        assert_eq!(clean_file_name("  ..  "), None);
        assert_eq!(clean_file_name(""), None);
        let long = format!("{}.pdf", "x".repeat(500));
        let kept = clean_file_name(&long).unwrap();
        assert_eq!(kept.chars().count(), MAX_FILE_NAME_CHARS);
        assert!(kept.ends_with(".pdf"));
    }

    #[test]
    fn a_file_without_a_name_gets_one_from_its_kind_and_type() {
        assert_eq!(download_name(None, AttachmentKind::Image, "image/png"), "photo.png");
        assert_eq!(download_name(None, AttachmentKind::Document, "application/pdf"), "document.pdf");
        assert_eq!(download_name(Some("menu.pdf"), AttachmentKind::Document, "application/pdf"), "menu.pdf");
        assert_eq!(download_name(None, AttachmentKind::Document, "application/x-unknown"), "document.bin");
    }
}
