//! Getting a file from the platform (CONTRACTS §5, §7), one attempt at a time:
//!
//! - **WhatsApp**: `GET /{version}/{media-id}?phone_number_id=…` with the bearer token → JSON with
//!   a short-lived `url` → `GET url` with the *same* bearer token. A 401/403/404 on the URL means it
//!   expired: look the media up again (once per attempt).
//! - **Messenger**: `GET` the CDN URL from the webhook, without credentials.
//!
//! The look-up goes to the operator's Graph API base URL with the bridge's own client; the download
//! URL is the platform's to choose, so it is fetched under the outbound policy (`crate::outbound`):
//! https to a public address, no redirects, a stalled read given up after its short timeout.
//!
//! The bytes stream to a temporary file (never more than [`MAX_ATTACHMENT_BYTES`]), their type
//! is sniffed, the platform's checksum checked when it gave one, and only then is the file put in
//! place. Every failure says whether another attempt could help, in words an advisor understands.

use std::time::Duration;

use base64::Engine;
use shared::limits::MAX_ATTACHMENT_BYTES;

use super::files::{Files, WriteError, Written};
use super::sniff;
use crate::channels::bridge::MetaConfig;
use crate::channels::meta::{self, whatsapp::MediaInfo};
use crate::outbound::{Outbound, OutboundError};
use crate::store::attachments::{AttachmentJob, FetchedFile, MediaRef};

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Another attempt later may work (network, the platform having a bad moment, an expired token
    /// an administrator may renew).
    Temporary(String),
    /// Trying again will not help (the platform no longer has the file, it is too large).
    Permanent(String),
}

impl FetchError {
    pub fn reason(&self) -> &str {
        match self {
            FetchError::Temporary(r) | FetchError::Permanent(r) => r,
        }
    }
}

fn temporary(reason: impl Into<String>) -> FetchError {
    FetchError::Temporary(reason.into())
}

fn permanent(reason: impl Into<String>) -> FetchError {
    FetchError::Permanent(reason.into())
}

/// Attempts that a checksum mismatch fails before the file is kept anyway.
const CHECKSUM_ATTEMPTS: u32 = 3;

/// The HTTP client for the media look-up at the Graph API (the operator's URL).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// A whole download may take this long (a 25 MB video on a slow link); each read still has the
/// outbound policy's short timeout, so a stalled one is given up soon.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// One attempt at fetching `job`'s file into `files`: `http` for the Graph API look-up, `outbound`
/// for the download.
pub async fn fetch(
    http: &reqwest::Client,
    outbound: &Outbound,
    config: &MetaConfig,
    files: &Files,
    job: &AttachmentJob,
) -> Result<FetchedFile, FetchError> {
    let (written, platform_sha256) = match &job.source {
        MediaRef::WhatsAppId(media_id) => whatsapp(http, outbound, config, files, job, media_id).await?,
        MediaRef::Url(url) => {
            let written = download(outbound, url, None, files, &job.id).await.map_err(|e| match e {
                Download::Refused(_) => permanent(
                    "Messenger's link to this file no longer works, so it could not be downloaded. Ask the customer to send it again.",
                ),
                Download::Failed(e) => e,
            })?;
            (written, None)
        }
        // Uploads are stored ready and never claimed by the worker.
        MediaRef::Upload { .. } => return Err(permanent("This file was uploaded to the relay; there is nothing to fetch.")),
    };
    if written.size == 0 {
        return Err(temporary(format!("{} sent an empty file.", crate::channels::platform_name(job.channel))));
    }
    let declared = platform_sha256.as_deref().or(job.declared_sha256.as_deref());
    if declared.and_then(decode_sha256).is_some_and(|d| d != written.sha256) {
        // A damaged download is fetched again. But what Meta's `sha256` covers and how it is
        // encoded are not confirmed (CONTRACTS §12): after a few mismatches, keep the file rather
        // than lose every one of them to a misreading of the field.
        if job.attempts < CHECKSUM_ATTEMPTS {
            return Err(temporary("The file arrived damaged (its checksum did not match)."));
        }
        tracing::warn!(attachment = %job.id, declared, "the platform's checksum never matched the file; keeping it anyway");
    }
    let sniffed = sniff::sniff(&written.head);
    let file = FetchedFile {
        mime: sniffed.mime.to_owned(),
        kind: sniff::kind_for(job.kind, sniffed.mime),
        size: written.size,
        sha256: hex::encode(written.sha256),
    };
    written.keep(files, &job.id).await.map_err(|e| {
        tracing::error!(error = %e, attachment = %job.id, "could not put a downloaded file in place");
        temporary("The relay could not save the file (its disk may be full).")
    })?;
    Ok(file)
}

/// Look the media up, download it; look it up again if the URL has expired.
async fn whatsapp(
    http: &reqwest::Client,
    outbound: &Outbound,
    config: &MetaConfig,
    files: &Files,
    job: &AttachmentJob,
    media_id: &str,
) -> Result<(Written, Option<String>), FetchError> {
    let Some(account) = &config.whatsapp else {
        return Err(permanent("WhatsApp is no longer connected to the relay, so the file can't be fetched."));
    };
    let mut looked_up_again = false;
    loop {
        let info = lookup(http, config, &account.token, &job.account, media_id).await?;
        if let Some(size) = info.file_size.filter(|&s| s > MAX_ATTACHMENT_BYTES) {
            return Err(too_large(Some(size)));
        }
        match download(outbound, &info.url, Some(&account.token), files, &job.id).await {
            Ok(written) => return Ok((written, info.sha256)),
            Err(Download::Refused(status)) if !looked_up_again => {
                tracing::info!(status, attachment = %job.id, "the WhatsApp media URL was refused; looking the media up again");
                looked_up_again = true;
            }
            Err(Download::Refused(_)) => return Err(temporary("WhatsApp's download link for the file stopped working.")),
            Err(Download::Failed(e)) => return Err(e),
        }
    }
}

/// Step 1: the media id's short-lived URL.
async fn lookup(
    http: &reqwest::Client,
    config: &MetaConfig,
    token: &str,
    phone_number_id: &str,
    media_id: &str,
) -> Result<MediaInfo, FetchError> {
    let url = config.graph.whatsapp_media_url(media_id, Some(phone_number_id));
    let response = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| temporary(format!("WhatsApp could not be reached ({}).", crate::channels::network_error(&e))))?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| temporary(format!("WhatsApp's answer was cut off ({}).", crate::channels::network_error(&e))))?;
    if !(200..300).contains(&status) {
        return Err(lookup_failure(status, &body));
    }
    meta::whatsapp::parse_media_info(&body).map_err(|e| {
        tracing::warn!(error = %e, "unreadable WhatsApp media look-up answer");
        temporary("WhatsApp's answer about the file could not be read.")
    })
}

/// What a refused media look-up means (Graph error codes first, the HTTP status as a fallback).
fn lookup_failure(status: u16, body: &[u8]) -> FetchError {
    let error = meta::parse_graph_error(body).unwrap_or_default();
    if let Some(message) = &error.message {
        tracing::info!(status, code = ?error.code, fbtrace_id = ?error.fbtrace_id, %message, "WhatsApp refused a media look-up");
    }
    match (status, error.code) {
        (_, Some(190)) => temporary(
            "The WhatsApp access token has expired or was revoked; an administrator must reconnect WhatsApp.",
        ),
        (429, _) | (_, Some(4 | 80007 | 130429)) => temporary("WhatsApp is limiting requests right now."),
        _ if error.is_transient || status >= 500 => temporary("WhatsApp had a temporary problem."),
        (_, Some(10 | 200..=299)) | (403, _) => temporary(
            "The relay is not allowed to download this file from WhatsApp; an administrator should check the app's permissions.",
        ),
        (_, Some(100)) | (404, _) => permanent(
            "WhatsApp no longer has this file (it keeps media only for a limited time), so it could not be downloaded.",
        ),
        _ => permanent(format!("WhatsApp refused to hand over the file (HTTP {status}).")),
    }
}

enum Download {
    /// 401, 403, 404 or 410: the URL is not (or no longer) valid.
    Refused(u16),
    Failed(FetchError),
}

impl From<FetchError> for Download {
    fn from(e: FetchError) -> Self {
        Download::Failed(e)
    }
}

/// Step 2 (or Messenger's only step): stream `url` into a temporary file.
async fn download(outbound: &Outbound, url: &str, token: Option<&str>, files: &Files, id: &str) -> Result<Written, Download> {
    let sent = outbound
        .send(reqwest::Method::GET, url, |request| {
            let request = request.timeout(DOWNLOAD_TIMEOUT);
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        })
        .await;
    let mut response = sent.map_err(|e| outbound_failure(&e, id))?;
    let status = response.status().as_u16();
    match status {
        200..=299 => {}
        401 | 403 | 404 | 410 => return Err(Download::Refused(status)),
        408 | 425 | 429 | 500..=599 => return Err(temporary(format!("The file's server had a temporary problem (HTTP {status})."),).into()),
        _ => return Err(permanent(format!("The file's server refused the download (HTTP {status}).")).into()),
    }
    if let Some(length) = response.content_length().filter(|&l| l > MAX_ATTACHMENT_BYTES) {
        return Err(too_large(Some(length)).into());
    }
    let mut incoming = files.create(id, MAX_ATTACHMENT_BYTES).await.map_err(disk)?;
    while let Some(chunk) = response.chunk().await.map_err(|e| temporary(format!("The download was cut off ({e}).")))? {
        incoming.write(&chunk).await.map_err(|e| match e {
            WriteError::TooLarge { .. } => too_large(None),
            WriteError::Io(e) => disk(e),
        })?;
    }
    Ok(incoming.finish().await.map_err(disk)?)
}

/// A download the outbound policy refused, or that did not get an answer, in words for an advisor.
fn outbound_failure(e: &OutboundError, id: &str) -> FetchError {
    match e {
        e if e.is_refusal() => {
            tracing::warn!(reason = %e, attachment = %id, "the platform's download link is refused by the outbound policy");
            permanent("The platform's link to this file points to an address the relay does not download from, so it was not fetched.")
        }
        OutboundError::Redirected(_) => {
            tracing::warn!(reason = %e, attachment = %id, "the platform's download link redirected; not followed");
            permanent("The platform's link to this file sent the relay elsewhere, which it does not follow, so it was not fetched.")
        }
        e => temporary(format!("The file could not be downloaded ({e}).")),
    }
}

fn disk(e: std::io::Error) -> FetchError {
    tracing::error!(error = %e, "could not write a downloaded file");
    temporary("The relay could not save the file (its disk may be full).")
}

fn too_large(size: Option<u64>) -> FetchError {
    let limit = MAX_ATTACHMENT_BYTES / (1024 * 1024);
    match size {
        Some(size) => permanent(format!(
            "The file is {:.1} MB; Confab keeps files up to {limit} MB. Ask the customer for a smaller one.",
            size as f64 / (1024.0 * 1024.0)
        )),
        None => permanent(format!("The file is larger than {limit} MB, the most Confab keeps. Ask the customer for a smaller one.")),
    }
}

/// A SHA-256 the platform gave: hex, or base64 as real captures show (CONTRACTS §4.2). `None`
/// when it is neither (then it is not checked).
fn decode_sha256(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 {
        hex::decode(text).ok()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
            .ok()
    }?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_checksums_are_read_as_hex_or_base64() {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(b"abc").into();
        let hex = hex::encode(digest);
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        assert_eq!(decode_sha256(&hex), Some(digest));
        assert_eq!(decode_sha256(&b64), Some(digest));
        assert_eq!(decode_sha256("not a digest"), None);
        assert_eq!(decode_sha256("c2hvcnQ="), None, "base64 of the wrong length");
    }

    #[test]
    fn a_refused_lookup_says_whether_to_try_again() {
        let graph = |code: i64| format!(r#"{{"error":{{"message":"m","type":"OAuthException","code":{code},"fbtrace_id":"x"}}}}"#);
        assert!(matches!(lookup_failure(401, graph(190).as_bytes()), FetchError::Temporary(r) if r.contains("access token")));
        assert!(matches!(lookup_failure(429, graph(130429).as_bytes()), FetchError::Temporary(_)));
        assert!(matches!(lookup_failure(500, b"oops"), FetchError::Temporary(_)));
        assert!(matches!(lookup_failure(400, graph(100).as_bytes()), FetchError::Permanent(r) if r.contains("no longer has")));
        assert!(matches!(lookup_failure(404, b""), FetchError::Permanent(_)));
        assert!(matches!(lookup_failure(400, graph(12345).as_bytes()), FetchError::Permanent(r) if r.contains("HTTP 400")));
    }

    #[test]
    fn the_size_limit_is_stated_in_megabytes() {
        assert_eq!(
            too_large(Some(40 * 1024 * 1024)).reason(),
            "The file is 40.0 MB; Confab keeps files up to 25 MB. Ask the customer for a smaller one."
        );
    }
}
