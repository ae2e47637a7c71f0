//! A local SMTP sink: a small tokio SMTP server that takes every message and records it, for tests
//! of the e-mails the relay sends. It speaks just enough of RFC 5321 for an SMTP client (EHLO,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT), and decodes what tests read (subject, text body).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A message the sink received.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and encoded body).
    pub raw: String,
    /// When the sink had the whole message.
    pub received_at: std::time::Instant,
}

impl ReceivedMail {
    /// The code of the resume link in a notification e-mail.
    pub fn resume_code(&self) -> String {
        let text = self.text();
        let at = text.find("#confab-resume=").unwrap_or_else(|| panic!("no resume link in {text}"));
        text[at + "#confab-resume=".len()..].split_whitespace().next().unwrap().to_owned()
    }

    /// A header's (unfolded, RFC 2047-decoded) value.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| decode_words(v.trim()))
        })
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The text body, its transfer encoding undone.
    pub fn text(&self) -> String {
        let body = self.raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        match self.header("Content-Transfer-Encoding").map(|e| e.to_ascii_lowercase()).as_deref() {
            Some("quoted-printable") => quoted_printable(body),
            Some("base64") => {
                let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(clean).unwrap_or_default()).into_owned()
            }
            _ => body.to_owned(),
        }
        .replace("\r\n", "\n")
    }
}

/// `=?utf-8?b?…?=` and `=?utf-8?q?…?=` words, decoded; other text as it is.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("=?") {
        let Some(end) = rest[start + 2..].find("?=").map(|e| start + 2 + e) else { break };
        let word = &rest[start + 2..end];
        let mut parts = word.splitn(3, '?');
        let (_charset, enc, text) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        // White space between two encoded words is not part of the text.
        let before = &rest[..start];
        if !(before.trim().is_empty() && !out.is_empty()) {
            out.push_str(before);
        }
        let decoded = if enc.eq_ignore_ascii_case("b") {
            String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default()).into_owned()
        } else {
            quoted_printable(&text.replace('_', " "))
        };
        out.push_str(&decoded);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn quoted_printable(text: &str) -> String {
    let bytes = text.replace("=\r\n", "").replace("=\n", "").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the SMTP sink");
        let addr = listener.local_addr().unwrap();
        let mails: Arc<Mutex<Vec<ReceivedMail>>> = Arc::default();
        let kept = mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, kept.clone()));
            }
        });
        SmtpSink { addr, mails }
    }

    /// What to give the relay's `--smtp-url`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits until at least `n` mails arrived (failing after `within`); returns all of them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            assert!(tokio::time::Instant::now() < deadline, "the SMTP sink got {} mail(s), expected {n}, within {within:?}", mails.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn session(stream: tokio::net::TcpStream, mails: Arc<Mutex<Vec<ReceivedMail>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP test sink\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command[10..]);
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&command[8..]));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
            let mut raw = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                // Dot-stuffing (RFC 5321 §4.5.2).
                raw.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            mails.lock().unwrap().push(ReceivedMail { from: from.clone(), to: to.clone(), raw, received_at: std::time::Instant::now() });
            b"250 OK: queued\r\n"
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 Command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// `<a@b.c> SIZE=…` → `a@b.c`.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_owned(),
        _ => arg.split_whitespace().next().unwrap_or("").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_subjects_and_bodies_are_decoded() {
        assert_eq!(decode_words("=?utf-8?b?Tm91dmVsbGUgcsOpcG9uc2U=?="), "Nouvelle réponse");
        assert_eq!(decode_words("Plain"), "Plain");
        assert_eq!(quoted_printable("r=C3=A9ponse =\r\nsuite"), "réponse suite");
    }
}
