//! E-mail behind a trait (tests swap in a recording stand-in or a local SMTP sink); SMTP with lettre.

use async_trait::async_trait;

/// One plain-text e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// A stable `Message-ID` (without the angle brackets): a mail sent again after a crash carries
    /// the same id, so mail systems can tell it is the same one.
    pub message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The address or the message could not be built (not worth retrying).
    #[error("the e-mail could not be built: {0}")]
    Build(String),
    /// The server refused or could not be reached (worth retrying).
    #[error("the SMTP server did not take the e-mail: {0}")]
    Send(String),
}

impl MailError {
    pub fn retryable(&self) -> bool {
        matches!(self, MailError::Send(_))
    }
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: Mail) -> Result<(), MailError>;
}

/// SMTP through lettre: `smtp://host:port` (plain, for a local relay or a test sink),
/// `smtp://…?tls=required` (STARTTLS) or `smtps://user:pass@host` (TLS).
pub struct SmtpMailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> Result<SmtpMailer, String> {
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| format!("--smtp-url {:?} is not an SMTP URL: {e}", redacted(url)))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        let from = from.parse().map_err(|e| format!("--mail-from {from:?} is not an e-mail address: {e}"))?;
        Ok(SmtpMailer { transport, from })
    }
}

/// The URL as it may be shown in an error or a log: a password in it (`user:password@`) becomes
/// `***`. Works on strings that are not valid URLs too (that is when they get shown), so it cuts
/// by hand: the user information is everything between `://` and the last `@`.
pub fn redacted(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let Some(at) = rest.rfind('@') else { return url.to_owned() };
    let (userinfo, host) = rest.split_at(at);
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}{user}:***{host}"),
        None => url.to_owned(),
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        use lettre::AsyncTransport;
        let to: lettre::message::Mailbox = mail.to.parse().map_err(|e| MailError::Build(format!("recipient: {e}")))?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .message_id(Some(format!("<{}>", mail.message_id)))
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| MailError::Build(e.to_string()))?;
        self.transport.send(message).await.map(drop).map_err(|e| MailError::Send(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_an_smtp_url_is_never_shown() {
        assert_eq!(redacted("smtps://ana:s3cret@mail.example:465"), "smtps://ana:***@mail.example:465");
        assert_eq!(redacted("smtp://ana:p@ss:w0rd@mail.example?tls=required"), "smtp://ana:***@mail.example?tls=required");
        // Not a URL at all, still cut: a bad port, a space, no scheme.
        assert_eq!(redacted("smtp://ana:s3cret@mail.example:notaport"), "smtp://ana:***@mail.example:notaport");
        assert_eq!(redacted("smtp://ana:se cret/x@host"), "smtp://ana:***@host");
        assert_eq!(redacted("ana:s3cret@mail.example"), "ana:***@mail.example");
        // Nothing secret: shown as given.
        assert_eq!(redacted("smtp://localhost:2525"), "smtp://localhost:2525");
        assert_eq!(redacted("smtp://ana@mail.example"), "smtp://ana@mail.example");
    }

    #[test]
    fn an_invalid_smtp_url_is_refused_without_its_password() {
        let Err(e) = SmtpMailer::new("smtps://ana:s3cret@mail.example:notaport", "a@b.example") else { panic!("accepted") };
        assert!(!e.contains("s3cret"), "{e}");
        assert!(e.contains("ana:***@mail.example"), "{e}");
    }
}
