//! The files a sandbox customer can send: a small PNG and a one-page PDF, generated at start so
//! they are valid files without checking binaries in. Each send registers a fresh media id for them.
//! Media requests can be scripted to fail ([`Sandbox::fail_next_media`]).

use std::io::Write;

use axum::body::Bytes;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::Sandbox;

/// A scripted failure for the next media requests (see [`Sandbox::fail_next_media`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaFailure {
    /// HTTP 500 (Graph code 2, `is_transient`) on the next media request of any kind.
    ServerError,
    /// The next download URL is refused with 404, as an expired lookaside URL is (§5): the relay
    /// has to look the media up again.
    ExpiredUrl,
    /// The media is gone: the next look-up answers "object does not exist" (WhatsApp), or the next
    /// attachment URL 404 (Messenger).
    Deleted,
    /// The next download (WhatsApp or Messenger) answers 200 with one byte of the file changed, as
    /// a download damaged on the way would.
    Corrupted,
}

/// The kinds of media request a failure can hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MediaRequest {
    /// `GET /{v}/{media-id}` (§5 step 1).
    Lookup,
    /// `GET <lookaside url>` (§5 step 2).
    Download,
    /// A Messenger attachment URL (`/phone/media/{id}`).
    PublicUrl,
}

impl MediaFailure {
    fn hits(self, request: MediaRequest) -> bool {
        match self {
            MediaFailure::ServerError => true,
            MediaFailure::ExpiredUrl => request == MediaRequest::Download,
            MediaFailure::Corrupted => matches!(request, MediaRequest::Download | MediaRequest::PublicUrl),
            MediaFailure::Deleted => matches!(request, MediaRequest::Lookup | MediaRequest::PublicUrl),
        }
    }
}

impl Sandbox {
    /// Make the next `n` media requests that `failure` applies to fail that way (in order, after
    /// failures already scripted).
    pub fn fail_next_media(&self, n: usize, failure: MediaFailure) {
        self.world().media_failures.extend(std::iter::repeat_n(failure, n));
    }

    /// The scripted failure for this request, if the next one applies to it (it is then used up).
    pub(super) fn take_media_failure(&self, request: MediaRequest) -> Option<MediaFailure> {
        let mut world = self.world();
        let next = *world.media_failures.front()?;
        next.hits(request).then(|| world.media_failures.pop_front()).flatten()
    }
}

/// A media object as the Graph API knows it (§5).
#[derive(Clone, Debug)]
pub(super) struct Item {
    pub id: String,
    pub mime_type: &'static str,
    pub filename: Option<String>,
    pub bytes: Bytes,
    /// Base64 of the SHA-256, as real captures show (§4.2: treat as opaque).
    pub sha256: String,
}

pub(super) struct Files {
    pub png: Bytes,
    pub pdf: Bytes,
}

impl Files {
    pub fn generate() -> Self {
        let pdf = one_page_pdf("Warranty card", "Northwind Outfitters - sandbox document");
        Files { png: Bytes::from(postcard_png()), pdf: Bytes::from(pdf) }
    }
}

impl Item {
    /// The file with its last byte changed.
    pub fn corrupted_bytes(&self) -> Bytes {
        let mut bytes = self.bytes.to_vec();
        if let Some(last) = bytes.last_mut() {
            *last ^= 0xff;
        }
        Bytes::from(bytes)
    }

    pub fn new(id: String, mime_type: &'static str, filename: Option<String>, bytes: Bytes) -> Self {
        let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
        Item { id, mime_type, filename, bytes, sha256 }
    }
}

/// A 96×72 RGB picture (sky, sun, hills) as a PNG.
fn postcard_png() -> Vec<u8> {
    const W: usize = 96;
    const H: usize = 72;
    let mut raw = Vec::with_capacity(H * (1 + W * 3));
    for y in 0..H {
        raw.push(0); // filter: none
        for x in 0..W {
            let (fx, fy) = (x as f32, y as f32);
            let hill = 50.0 + 8.0 * ((fx / 14.0).sin()) - fx * 0.05;
            let sun = (fx - 70.0).powi(2) + (fy - 20.0).powi(2) < 100.0;
            let rgb = if fy > hill {
                [37, 140 - (fy as u8 / 3), 77]
            } else if sun {
                [252, 196, 58]
            } else {
                [110 + (fy as u8), 170 + (fy as u8 / 2), 230]
            };
            raw.extend_from_slice(&rgb);
        }
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(W as u32).to_be_bytes());
    ihdr.extend_from_slice(&(H as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, truecolour, deflate, no filter set, no interlace
    png_chunk(&mut png, b"IHDR", &ihdr);
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&raw).expect("writing to a Vec cannot fail");
    png_chunk(&mut png, b"IDAT", &zlib.finish().expect("writing to a Vec cannot fail"));
    png_chunk(&mut png, b"IEND", &[]);
    png
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

/// A one-page PDF with a title and a line of text (ASCII only: PDF string escaping kept out of it).
fn one_page_pdf(title: &str, line: &str) -> Vec<u8> {
    let content = format!("BT /F1 20 Tf 36 140 Td ({title}) Tj ET\nBT /F1 11 Tf 36 110 Td ({line}) Tj ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 420 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref_at = pdf.len();
    let mut xref = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        xref.push_str(&format!("{offset:010} 00000 n \n"));
    }
    pdf.extend_from_slice(xref.as_bytes());
    pdf.extend_from_slice(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n", objects.len() + 1).as_bytes());
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_png_has_a_valid_signature_and_chunk_checksums() {
        let png = postcard_png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut at = 8;
        let mut kinds = Vec::new();
        while at < png.len() {
            let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let kind = &png[at + 4..at + 8];
            let data = &png[at + 8..at + 8 + len];
            let mut crc = flate2::Crc::new();
            crc.update(kind);
            crc.update(data);
            assert_eq!(crc.sum().to_be_bytes(), png[at + 8 + len..at + 12 + len]);
            kinds.push(String::from_utf8_lossy(kind).into_owned());
            at += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
    }

    #[test]
    fn the_built_in_pdf_has_an_xref_that_points_at_its_objects() {
        let pdf = one_page_pdf("Title", "line");
        let text = String::from_utf8(pdf.clone()).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        let startxref: usize = text.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        assert!(text[startxref..].starts_with("xref\n"));
        for (i, line) in text[startxref..].lines().skip(3).take(5).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            assert!(text[offset..].starts_with(&format!("{} 0 obj", i + 1)), "object {} at {offset}", i + 1);
        }
    }
}
