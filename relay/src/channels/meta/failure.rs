//! What a refused Graph API call (or a failed WhatsApp status) means for the outbox and for the
//! advisor (CONTRACTS §6 and §8 error tables). Classification branches on Meta's `code` (and
//! `error_subcode` where Messenger needs it), never on message text; the HTTP status is only the
//! fallback when the body says nothing.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What to do about a message Meta refused or failed to deliver. `reason` is in words an advisor
/// understands; Meta's own text is in [`GraphError`] for the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SendFailure {
    /// Try again later with backoff and jitter (rate limits, Meta having a bad moment). Timeouts
    /// and connection errors never reach this module: the caller treats them as retryable itself.
    Retryable {
        code: Option<i64>,
        reason: String,
        /// The least time to wait, when Meta said so (a `Retry-After` header).
        #[serde(default, with = "duration_ms", skip_serializing_if = "Option::is_none")]
        retry_after: Option<Duration>,
    },
    /// The access token expired or was revoked (code 190): nothing will send on this channel until
    /// an administrator reconnects it. Alert them.
    TokenExpired { code: Option<i64>, reason: String },
    /// Free-form messages are no longer allowed: WhatsApp needs a template, Messenger needs the
    /// human-agent tag (human replies, within 7 days) or a new message from the customer.
    OutsideWindow { code: Option<i64>, reason: String },
    /// A permission or account problem (permissions missing, account restricted): stop sending on
    /// this channel and alert an administrator.
    NeedsAdmin { code: Option<i64>, reason: String },
    /// This message will not go through as it is; don't retry it.
    Permanent { code: Option<i64>, reason: String },
}

impl SendFailure {
    pub fn reason(&self) -> &str {
        match self {
            SendFailure::Retryable { reason, .. }
            | SendFailure::TokenExpired { reason, .. }
            | SendFailure::OutsideWindow { reason, .. }
            | SendFailure::NeedsAdmin { reason, .. }
            | SendFailure::Permanent { reason, .. } => reason,
        }
    }

    /// Meta's error code, when there was one.
    pub fn code(&self) -> Option<i64> {
        match self {
            SendFailure::Retryable { code, .. }
            | SendFailure::TokenExpired { code, .. }
            | SendFailure::OutsideWindow { code, .. }
            | SendFailure::NeedsAdmin { code, .. }
            | SendFailure::Permanent { code, .. } => *code,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, SendFailure::Retryable { .. })
    }

    /// Whether an administrator has to act before this channel sends again.
    pub fn needs_admin(&self) -> bool {
        matches!(self, SendFailure::TokenExpired { .. } | SendFailure::NeedsAdmin { .. })
    }

    /// Adds the wait a `Retry-After` header asked for (delta-seconds form) to a retryable failure.
    pub fn with_retry_after_header(self, header: Option<&str>) -> Self {
        match self {
            SendFailure::Retryable { code, reason, retry_after } => {
                let parsed = header.and_then(|h| h.trim().parse::<u64>().ok()).map(Duration::from_secs);
                SendFailure::Retryable { code, reason, retry_after: parsed.or(retry_after) }
            }
            other => other,
        }
    }
}

/// The Graph API error envelope:
/// `{"error":{"message","type","code","error_subcode"?,"error_data":{"details"}?,"fbtrace_id"}}`.
/// Log it (with `fbtrace_id`, which Meta support asks for); show advisors the classified reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphError {
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub message: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub details: Option<String>,
    pub fbtrace_id: Option<String>,
    pub is_transient: bool,
}

/// Reads the error envelope of a Graph API answer; `None` when the body isn't one.
pub fn parse_graph_error(body: &[u8]) -> Option<GraphError> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    if !error.is_object() {
        return None;
    }
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
    let int = |v: Option<&serde_json::Value>| {
        v.and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
    };
    Some(GraphError {
        code: int(error.get("code")),
        subcode: int(error.get("error_subcode")),
        message: text(error.get("message")),
        kind: text(error.get("type")),
        details: text(error.get("error_data").and_then(|d| d.get("details"))),
        fbtrace_id: text(error.get("fbtrace_id")),
        is_transient: error.get("is_transient").and_then(|v| v.as_bool()).unwrap_or(false),
    })
}

/// Classifies a refused send (or mark-as-read, or sender action) call from its HTTP status and body.
pub fn classify_failure(http_status: u16, body: &[u8]) -> SendFailure {
    match parse_graph_error(body) {
        Some(e) => classify_code(
            e.code,
            e.subcode,
            e.message.as_deref(),
            e.details.as_deref(),
            e.is_transient,
            Some(http_status),
        ),
        None => classify_code(None, None, None, None, false, Some(http_status)),
    }
}

/// The shared table behind [`classify_failure`] and failed WhatsApp statuses.
pub(crate) fn classify_code(
    code: Option<i64>,
    subcode: Option<i64>,
    meta_message: Option<&str>,
    details: Option<&str>,
    is_transient: bool,
    http_status: Option<u16>,
) -> SendFailure {
    use SendFailure::*;
    let retry = |reason: &str| Retryable { code, reason: reason.to_owned(), retry_after: None };
    let permanent = |reason: &str| Permanent { code, reason: reason.to_owned() };
    let admin = |reason: &str| NeedsAdmin { code, reason: reason.to_owned() };

    match (code, subcode) {
        (Some(190), _) => TokenExpired {
            code,
            reason: "The access token for this channel has expired or was revoked. An administrator must reconnect \
                     the channel before messages can be sent."
                .to_owned(),
        },
        (Some(131047), _) => OutsideWindow {
            code,
            reason: "The customer's last message was more than 24 hours ago, so WhatsApp only accepts an approved \
                     template now. Send a template, or wait for the customer to write again."
                .to_owned(),
        },
        (Some(10), Some(2018278)) => OutsideWindow {
            code,
            reason: "The customer's last message was more than 24 hours ago, so Messenger refused this message. A \
                     personal reply can still be sent as a human agent within 7 days of their last message; \
                     otherwise wait for the customer to write again."
                .to_owned(),
        },
        (Some(130429), _) => retry(
            "WhatsApp's sending limit for this business number was reached. The message will be sent again shortly.",
        ),
        (Some(131056), _) => retry(
            "Too many messages were sent to this customer in a short time. The message will be sent again shortly.",
        ),
        (Some(4 | 80007 | 613), _) => {
            retry("Meta's request limit for this channel was reached. The message will be sent again shortly.")
        }
        (Some(1 | 2 | 131000 | 131016), _) => {
            retry("Meta had a temporary problem sending this message. It will be sent again shortly.")
        }
        (Some(131026), _) => permanent(
            "WhatsApp could not deliver this message: the number may not be on WhatsApp, the customer's app may be \
             out of date, or they may not accept messages from this business.",
        ),
        (Some(131049), _) => permanent(
            "WhatsApp chose not to deliver this message, to limit how many business messages the customer receives. \
             Try again later rather than right away.",
        ),
        (Some(131053), _) => permanent(
            "WhatsApp could not fetch or process the attachment. Check the file's type and size, then send it again.",
        ),
        (Some(551), _) | (_, Some(1545041)) => permanent(
            "This person isn't available right now: they may have blocked the Page or deactivated their account.",
        ),
        (Some(100), Some(2018001)) => {
            permanent("Messenger found no such customer: they may have deleted their account or this conversation.")
        }
        (Some(100), _) => permanent(
            "Meta refused the message as invalid. This is probably a bug in the relay; please tell your administrator.",
        ),
        (Some(368 | 131031), _) => admin(
            "Meta has restricted this account for a policy reason. An administrator must review it in Meta Business \
             Suite before messages can be sent.",
        ),
        (Some(0 | 10 | 200..=299), _) => admin(
            "This channel is missing a permission Meta requires for sending. An administrator must check the app's \
             permissions.",
        ),
        (Some(_), _) if is_transient => {
            retry("Meta had a temporary problem sending this message. It will be sent again shortly.")
        }
        _ => {
            let meta_words = details.or(meta_message).map(strip_code_prefix).filter(|s| !s.is_empty());
            match http_status {
                Some(429) => {
                    retry("Meta's request limit for this channel was reached. The message will be sent again shortly.")
                }
                Some(s) if s >= 500 || s == 408 => {
                    retry("Meta had a temporary problem sending this message. It will be sent again shortly.")
                }
                Some(401) if code.is_none() => {
                    admin("Meta did not accept this channel's credentials. An administrator must check the channel.")
                }
                _ => match meta_words {
                    Some(words) => Permanent { code, reason: format!("Meta refused the message: {words}") },
                    None => match http_status {
                        Some(s) => Permanent { code, reason: format!("Meta refused the message (HTTP {s}).") },
                        None => permanent("Meta could not deliver the message."),
                    },
                },
            }
        }
    }
}

/// `"(#131051) Unsupported message type"` → `"Unsupported message type"`.
fn strip_code_prefix(message: &str) -> &str {
    let trimmed = message.trim();
    if let Some(rest) = trimmed.strip_prefix("(#") {
        if let Some(end) = rest.find(") ") {
            if rest[..end].bytes().all(|b| b.is_ascii_digit()) {
                return rest[end + 2..].trim();
            }
        }
    }
    trimmed
}

/// `Option<Duration>` as whole milliseconds, readable when stored.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ERR_131047: &str = include_str!("../../../tests/fixtures/meta/err_whatsapp_131047.json");
    const ERR_130429: &str = include_str!("../../../tests/fixtures/meta/err_whatsapp_130429.json");
    const ERR_MESSENGER_WINDOW: &str = include_str!("../../../tests/fixtures/meta/err_messenger_outside_window.json");

    fn envelope(code: i64, subcode: Option<i64>, message: &str) -> Vec<u8> {
        let mut error =
            serde_json::json!({ "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "T" });
        if let Some(sub) = subcode {
            error["error_subcode"] = sub.into();
        }
        serde_json::to_vec(&serde_json::json!({ "error": error })).unwrap()
    }

    #[test]
    fn the_whatsapp_131047_fixture_is_outside_the_window_and_not_retryable() {
        let failure = classify_failure(400, ERR_131047.as_bytes());
        assert!(matches!(failure, SendFailure::OutsideWindow { code: Some(131047), .. }), "{failure:?}");
        assert!(failure.reason().contains("template"));
        assert!(!failure.is_retryable());
        assert!(!failure.needs_admin());
    }

    #[test]
    fn the_whatsapp_131047_fixture_envelope_is_read_in_full() {
        assert_eq!(
            parse_graph_error(ERR_131047.as_bytes()),
            Some(GraphError {
                code: Some(131047),
                subcode: None,
                message: Some("(#131047) Re-engagement message".into()),
                kind: Some("OAuthException".into()),
                details: Some("Free-form send refused: the customer's last message is older than 24 hours.".into()),
                fbtrace_id: Some("AqZ3fixtureTrace01".into()),
                is_transient: false,
            })
        );
    }

    #[test]
    fn the_whatsapp_130429_fixture_is_a_retryable_rate_limit() {
        let failure = classify_failure(400, ERR_130429.as_bytes());
        assert_eq!(
            failure,
            SendFailure::Retryable {
                code: Some(130429),
                reason:
                    "WhatsApp's sending limit for this business number was reached. The message will be sent again \
                         shortly."
                        .into(),
                retry_after: None,
            }
        );
        let e = parse_graph_error(ERR_130429.as_bytes()).unwrap();
        assert_eq!(
            e.details.as_deref(),
            Some("Throughput limit for this business number reached; slow down and retry.")
        );
        assert_eq!(e.fbtrace_id.as_deref(), Some("AqZ3fixtureTrace02"));
    }

    #[test]
    fn the_messenger_outside_window_fixture_points_to_the_human_agent_tag() {
        let failure = classify_failure(400, ERR_MESSENGER_WINDOW.as_bytes());
        assert!(matches!(failure, SendFailure::OutsideWindow { code: Some(10), .. }), "{failure:?}");
        assert!(failure.reason().contains("human agent within 7 days"));
        let e = parse_graph_error(ERR_MESSENGER_WINDOW.as_bytes()).unwrap();
        assert_eq!((e.code, e.subcode), (Some(10), Some(2018278)));
        assert_eq!(e.details, None);
    }

    #[test]
    fn code_10_without_the_window_subcode_is_a_permission_problem() {
        let failure =
            classify_failure(403, &envelope(10, None, "(#10) Application does not have permission for this action"));
        assert!(matches!(failure, SendFailure::NeedsAdmin { code: Some(10), .. }), "{failure:?}");
        assert!(failure.needs_admin());
    }

    #[test]
    fn an_expired_token_needs_an_administrator() {
        let failure =
            classify_failure(401, &envelope(190, Some(463), "Error validating access token: Session has expired"));
        assert!(matches!(failure, SendFailure::TokenExpired { code: Some(190), .. }));
        assert!(failure.needs_admin());
        assert!(!failure.is_retryable());
    }

    #[test]
    fn every_rate_limit_and_temporary_code_is_retryable() {
        for code in [130429, 131056, 4, 80007, 613, 1, 2, 131000, 131016] {
            assert!(classify_failure(400, &envelope(code, None, "x")).is_retryable(), "code {code}");
        }
    }

    #[test]
    fn undeliverable_media_invalid_and_unavailable_codes_are_permanent() {
        for (code, sub) in
            [(131026, None), (131049, None), (131053, None), (100, None), (100, Some(2018001)), (551, Some(1545041))]
        {
            let failure = classify_failure(400, &envelope(code, sub, "x"));
            assert!(matches!(failure, SendFailure::Permanent { .. }), "code {code}: {failure:?}");
            assert!(!failure.reason().contains("Meta refused the message: x"), "code {code} has its own words");
        }
    }

    #[test]
    fn permission_and_restriction_codes_alert_an_administrator() {
        for code in [0, 10, 200, 230, 299, 368, 131031] {
            assert!(classify_failure(403, &envelope(code, None, "x")).needs_admin(), "code {code}");
        }
    }

    #[test]
    fn an_unknown_code_falls_back_to_metas_details_without_the_code_prefix() {
        let body = br#"{"error":{"message":"(#131051) Unsupported message type","code":131051,
            "error_data":{"messaging_product":"whatsapp","details":"Message type is not currently supported."}}}"#;
        assert_eq!(
            classify_failure(400, body),
            SendFailure::Permanent {
                code: Some(131051),
                reason: "Meta refused the message: Message type is not currently supported.".into()
            }
        );
        let no_details = envelope(131051, None, "(#131051) Unsupported message type");
        assert_eq!(classify_failure(400, &no_details).reason(), "Meta refused the message: Unsupported message type");
    }

    #[test]
    fn an_unknown_code_on_a_server_error_or_429_is_retryable() {
        assert!(classify_failure(503, &envelope(987654, None, "x")).is_retryable());
        assert!(classify_failure(429, &envelope(987654, None, "x")).is_retryable());
    }

    #[test]
    fn an_unknown_code_marked_transient_is_retryable() {
        let body = br#"{"error":{"message":"Please retry","code":987654,"is_transient":true}}"#;
        assert!(classify_failure(400, body).is_retryable());
    }

    #[test]
    fn a_body_that_is_not_an_error_envelope_is_classified_by_http_status() {
        assert!(classify_failure(502, b"<html>Bad Gateway</html>").is_retryable());
        assert!(classify_failure(429, b"").is_retryable());
        assert!(classify_failure(500, b"{}").is_retryable());
        assert!(classify_failure(401, b"").needs_admin());
        assert_eq!(
            classify_failure(404, b"not found"),
            SendFailure::Permanent { code: None, reason: "Meta refused the message (HTTP 404).".into() }
        );
    }

    #[test]
    fn a_retry_after_header_sets_the_wait_of_a_retryable_failure_only() {
        let retry = classify_failure(429, b"").with_retry_after_header(Some(" 30 "));
        assert!(matches!(retry, SendFailure::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(30)));
        let unparsable = classify_failure(429, b"").with_retry_after_header(Some("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert!(matches!(unparsable, SendFailure::Retryable { retry_after: None, .. }));
        let permanent = classify_failure(404, b"").with_retry_after_header(Some("30"));
        assert!(matches!(permanent, SendFailure::Permanent { .. }));
    }

    #[test]
    fn a_send_failure_round_trips_through_json_with_the_wait_in_milliseconds() {
        let failure = SendFailure::Retryable {
            code: Some(4),
            reason: "r".into(),
            retry_after: Some(Duration::from_millis(1500)),
        };
        let json = serde_json::to_value(&failure).unwrap();
        assert_eq!(json, serde_json::json!({ "kind": "retryable", "code": 4, "reason": "r", "retry_after": 1500 }));
        assert_eq!(serde_json::from_value::<SendFailure>(json).unwrap(), failure);

        let outside = classify_failure(400, ERR_131047.as_bytes());
        let json = serde_json::to_value(&outside).unwrap();
        assert_eq!(json["kind"], "outside_window");
        assert_eq!(serde_json::from_value::<SendFailure>(json).unwrap(), outside);

        let no_wait: SendFailure = serde_json::from_str(r#"{"kind":"retryable","code":null,"reason":"r"}"#).unwrap();
        assert_eq!(no_wait, SendFailure::Retryable { code: None, reason: "r".into(), retry_after: None });
    }
}
