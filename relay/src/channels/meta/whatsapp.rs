//! WhatsApp Cloud API: inbound webhooks (`object = "whatsapp_business_account"`, CONTRACTS §4),
//! outbound request bodies (§6), and the answers to send, mark-as-read and media look-up calls
//! (§5, §6).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::Channel;

use super::error::ResponseError;
use super::event::{
    AccountError, DeliveryStatus, InboundBatch, InboundBody, InboundEvent, InboundMessage, MediaKind, MediaSource,
    SkipReason, Skipped, StatusUpdate,
};
use super::wire;

/// Longest text body WhatsApp accepts, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Longest media caption WhatsApp accepts, in characters.
pub const MAX_CAPTION_CHARS: usize = 1024;

// ---------------------------------------------------------------------------------------------
// Inbound

/// Reads every `entry[].changes[]` of a WhatsApp webhook into `batch`.
pub(crate) fn parse_entries(body: &Value, batch: &mut InboundBatch) {
    let Some(entries) = body.get("entry").and_then(Value::as_array) else {
        batch.skipped.push(skip(None, SkipReason::Malformed("no entry array".into()), body));
        return;
    };
    for entry in entries {
        let Some(changes) = entry.get("changes").and_then(Value::as_array) else {
            batch.skipped.push(skip(None, SkipReason::Malformed("entry without a changes array".into()), entry));
            continue;
        };
        for change in changes {
            parse_change(change, batch);
        }
    }
}

fn skip(account: Option<&str>, reason: SkipReason, raw: &Value) -> Skipped {
    Skipped { channel: Channel::Whatsapp, account: account.map(str::to_owned), reason, raw: raw.clone() }
}

fn parse_change(change: &Value, batch: &mut InboundBatch) {
    // Other fields (template status, account updates…) are subscribed separately and not relayed.
    match change.get("field").and_then(Value::as_str) {
        Some("messages") | None => {}
        Some(other) => {
            batch.skipped.push(skip(None, SkipReason::NotHandled(format!("change field {other:?}")), change));
            return;
        }
    }
    let Some(value) = change.get("value").filter(|v| v.is_object()) else {
        batch.skipped.push(skip(None, SkipReason::Malformed("change without a value object".into()), change));
        return;
    };
    let Some(account) = wire::non_empty(value.get("metadata").and_then(|m| m.get("phone_number_id"))) else {
        batch.skipped.push(skip(None, SkipReason::Malformed("change without metadata.phone_number_id".into()), change));
        return;
    };
    let contacts = wire::items(value, "contacts");

    for message in wire::items(value, "messages") {
        match parse_message(&account, contacts, message) {
            Ok(m) => batch.events.push(InboundEvent::Message(m)),
            Err(reason) => batch.skipped.push(skip(Some(&account), reason, message)),
        }
    }
    for status in wire::items(value, "statuses") {
        match parse_status(&account, status) {
            Ok(s) => batch.events.push(InboundEvent::Status(s)),
            Err(reason) => batch.skipped.push(skip(Some(&account), reason, status)),
        }
    }
    for error in wire::items(value, "errors") {
        batch.events.push(InboundEvent::AccountError(AccountError {
            channel: Channel::Whatsapp,
            account: account.clone(),
            code: wire::int(error.get("code")),
            title: wire::non_empty(error.get("title")).or_else(|| wire::non_empty(error.get("message"))),
            details: wire::non_empty(error.get("error_data").and_then(|d| d.get("details"))),
        }));
    }
}

fn malformed(what: &str) -> SkipReason {
    SkipReason::Malformed(what.to_owned())
}

fn seconds_to_ms(v: Option<&Value>) -> Option<i64> {
    wire::int(v).and_then(|s| s.checked_mul(1000))
}

fn parse_message(account: &str, contacts: &[Value], m: &Value) -> Result<InboundMessage, SkipReason> {
    let platform_id = wire::non_empty(m.get("id")).ok_or_else(|| malformed("message without id"))?;
    let sender = wire::non_empty(m.get("from")).ok_or_else(|| malformed("message without from"))?;
    let timestamp_ms = seconds_to_ms(m.get("timestamp")).ok_or_else(|| malformed("message without a timestamp"))?;
    let kind = wire::non_empty(m.get("type")).ok_or_else(|| malformed("message without type"))?;

    // Matched by wa_id, never by position (CONTRACTS §4).
    let sender_name = contacts
        .iter()
        .find(|c| wire::string(c.get("wa_id")).as_deref() == Some(sender.as_str()))
        .and_then(|c| wire::non_empty(c.get("profile").and_then(|p| p.get("name"))));

    let body = parse_body(&kind, m)?;
    let reply_to = match body {
        InboundBody::Reaction { .. } => None,
        _ => wire::non_empty(m.get("context").and_then(|c| c.get("id"))),
    };

    Ok(InboundMessage {
        channel: Channel::Whatsapp,
        account: account.to_owned(),
        sender,
        sender_name,
        platform_id,
        timestamp_ms,
        body,
        reply_to,
        referral: None,
    })
}

fn parse_body(kind: &str, m: &Value) -> Result<InboundBody, SkipReason> {
    let obj = m.get(kind);
    let field = |key: &str| wire::non_empty(obj.and_then(|o| o.get(key)));
    let media_kind = match kind {
        "image" => Some(MediaKind::Image),
        "video" => Some(MediaKind::Video),
        "audio" => Some(MediaKind::Audio),
        "document" => Some(MediaKind::Document),
        "sticker" => Some(MediaKind::Sticker),
        _ => None,
    };
    if let Some(media_kind) = media_kind {
        let id = field("id").ok_or_else(|| malformed(&format!("{kind} message without {kind}.id")))?;
        return Ok(InboundBody::Media {
            kind: media_kind,
            source: MediaSource::WhatsAppId(id),
            mime: field("mime_type"),
            caption: field("caption"),
            filename: field("filename"),
            sha256: field("sha256"),
        });
    }
    Ok(match kind {
        "text" => InboundBody::Text { text: field("body").ok_or_else(|| malformed("text message without text.body"))? },
        "location" => {
            let lat = wire::float(obj.and_then(|o| o.get("latitude")));
            let lon = wire::float(obj.and_then(|o| o.get("longitude")));
            let (Some(lat), Some(lon)) = (lat, lon) else {
                return Err(malformed("location message without latitude and longitude"));
            };
            InboundBody::Location { lat, lon, name: field("name"), address: field("address") }
        }
        "interactive" => {
            let sub = wire::non_empty(obj.and_then(|o| o.get("type"))).unwrap_or_default();
            match sub.as_str() {
                "button_reply" | "list_reply" => {
                    let reply = obj.and_then(|o| o.get(&sub));
                    let id = wire::string(reply.and_then(|r| r.get("id")));
                    let title = wire::string(reply.and_then(|r| r.get("title")));
                    if id.is_none() && title.is_none() {
                        return Err(malformed(&format!("interactive {sub} without id or title")));
                    }
                    InboundBody::Reply { title: title.unwrap_or_default(), payload: id.unwrap_or_default() }
                }
                _ => InboundBody::Unsupported { kind: format!("interactive/{sub}"), detail: None },
            }
        }
        "button" => {
            let text = field("text");
            let payload = field("payload");
            if text.is_none() && payload.is_none() {
                return Err(malformed("button message without text or payload"));
            }
            InboundBody::Reply { title: text.unwrap_or_default(), payload: payload.unwrap_or_default() }
        }
        "reaction" => InboundBody::Reaction {
            to: field("message_id").ok_or_else(|| malformed("reaction without reaction.message_id"))?,
            // Omitted (or empty) when the customer removes their reaction.
            emoji: field("emoji").unwrap_or_default(),
        },
        "unsupported" | "unknown" => {
            let error = wire::items(m, "errors").first();
            let detail = error.and_then(|e| {
                wire::non_empty(e.get("error_data").and_then(|d| d.get("details")))
                    .or_else(|| wire::non_empty(e.get("title")))
                    .or_else(|| wire::non_empty(e.get("message")))
            });
            InboundBody::Unsupported { kind: kind.to_owned(), detail }
        }
        "system" => InboundBody::Unsupported { kind: kind.to_owned(), detail: field("body") },
        "contacts" => {
            let names: Vec<String> = wire::items(m, "contacts")
                .iter()
                .filter_map(|c| wire::non_empty(c.get("name").and_then(|n| n.get("formatted_name"))))
                .collect();
            InboundBody::Unsupported { kind: kind.to_owned(), detail: (!names.is_empty()).then(|| names.join(", ")) }
        }
        other => InboundBody::Unsupported { kind: other.to_owned(), detail: None },
    })
}

fn parse_status(account: &str, s: &Value) -> Result<StatusUpdate, SkipReason> {
    let platform_id = wire::non_empty(s.get("id")).ok_or_else(|| malformed("status without id"))?;
    let name = wire::non_empty(s.get("status")).ok_or_else(|| malformed("status without status"))?;
    let timestamp_ms = seconds_to_ms(s.get("timestamp")).ok_or_else(|| malformed("status without a timestamp"))?;
    let recipient = wire::non_empty(s.get("recipient_id")).ok_or_else(|| malformed("status without recipient_id"))?;
    let status = match name.as_str() {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" | "played" => DeliveryStatus::Read,
        "failed" => {
            let error = wire::items(s, "errors").first();
            DeliveryStatus::Failed {
                code: error.and_then(|e| wire::int(e.get("code"))),
                title: error
                    .and_then(|e| wire::non_empty(e.get("title")).or_else(|| wire::non_empty(e.get("message")))),
                details: error.and_then(|e| wire::non_empty(e.get("error_data").and_then(|d| d.get("details")))),
            }
        }
        other => return Err(SkipReason::NotHandled(format!("status {other:?}"))),
    };
    Ok(StatusUpdate {
        channel: Channel::Whatsapp,
        account: account.to_owned(),
        platform_id,
        recipient,
        status,
        timestamp_ms,
    })
}

// ---------------------------------------------------------------------------------------------
// Outbound

/// A `POST /{version}/{phone_number_id}/messages` body. Build one with [`WhatsAppMessage::text`],
/// [`WhatsAppMessage::media`] or [`WhatsAppMessage::template`]; serialise it with `serde_json`.
/// It deserialises too, so an outbox can store it as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatsAppMessage {
    messaging_product: String,
    recipient_type: String,
    to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    context: Option<ReplyContext>,
    #[serde(flatten)]
    content: WhatsAppContent,
    /// Echoed back in this message's status webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    biz_opaque_callback_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ReplyContext {
    message_id: String,
}

/// What a [`WhatsAppMessage`] carries; the variant is the body's `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WhatsAppContent {
    Text { text: TextContent },
    Image { image: MediaContent },
    Video { video: MediaContent },
    Audio { audio: MediaContent },
    Document { document: MediaContent },
    Sticker { sticker: MediaContent },
    Template { template: Template },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextContent {
    pub preview_url: bool,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaContent {
    #[serde(flatten)]
    pub source: OutboundMedia,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// The file of an outbound media message: exactly one of an uploaded media id (what Meta
/// recommends) or a public link Meta's fetcher can download (else error 131053).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundMedia {
    Link(String),
    Id(String),
}

/// An approved message template with its parameters, the only kind of message WhatsApp accepts
/// outside the 24-hour window. Parameter count and order must match the approved template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub language: TemplateLanguage,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<TemplateComponent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateLanguage {
    /// As approved, e.g. `en_US` or `pt_BR`.
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateComponent {
    /// `header`, `body` or `button`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For buttons: `quick_reply` or `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// For buttons: the button's position, as a string ("0", "1"…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    #[serde(default)]
    pub parameters: Vec<TemplateParameter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TemplateParameter {
    Text { text: String },
    Payload { payload: String },
    Image { image: MediaContent },
    Document { document: MediaContent },
    Video { video: MediaContent },
}

impl Template {
    pub fn new(name: impl Into<String>, language_code: impl Into<String>) -> Self {
        Template {
            name: name.into(),
            language: TemplateLanguage { code: language_code.into() },
            components: Vec::new(),
        }
    }

    /// Adds a `body` component whose `{{1}}`, `{{2}}`… are these texts, in order.
    pub fn with_body_texts<S: Into<String>>(mut self, texts: impl IntoIterator<Item = S>) -> Self {
        self.components.push(TemplateComponent {
            kind: "body".into(),
            sub_type: None,
            index: None,
            parameters: texts.into_iter().map(|t| TemplateParameter::Text { text: t.into() }).collect(),
        });
        self
    }

    pub fn with_component(mut self, component: TemplateComponent) -> Self {
        self.components.push(component);
        self
    }
}

impl WhatsAppMessage {
    fn new(to: impl Into<String>, content: WhatsAppContent) -> Self {
        WhatsAppMessage {
            messaging_product: "whatsapp".into(),
            recipient_type: "individual".into(),
            to: to.into(),
            context: None,
            content,
            biz_opaque_callback_data: None,
        }
    }

    /// A text message to a `wa_id`. Link previews are asked for when the text contains an
    /// http(s) link, and not otherwise; [`Self::with_preview_url`] overrides that.
    pub fn text(to: impl Into<String>, body: impl Into<String>) -> Self {
        let body = body.into();
        let preview_url = has_link(&body);
        Self::new(to, WhatsAppContent::Text { text: TextContent { preview_url, body } })
    }

    /// A media message; add a caption or filename with [`Self::with_caption`] and
    /// [`Self::with_filename`].
    pub fn media(to: impl Into<String>, kind: MediaKind, source: OutboundMedia) -> Self {
        let media = MediaContent { source, caption: None, filename: None };
        let content = match kind {
            MediaKind::Image => WhatsAppContent::Image { image: media },
            MediaKind::Video => WhatsAppContent::Video { video: media },
            MediaKind::Audio => WhatsAppContent::Audio { audio: media },
            MediaKind::Document => WhatsAppContent::Document { document: media },
            MediaKind::Sticker => WhatsAppContent::Sticker { sticker: media },
        };
        Self::new(to, content)
    }

    /// A template message: the only kind allowed outside the 24-hour window.
    pub fn template(to: impl Into<String>, template: Template) -> Self {
        Self::new(to, WhatsAppContent::Template { template })
    }

    /// Quotes the customer's message `wamid` (shown as a reply bubble on their phone).
    pub fn reply_to(mut self, wamid: impl Into<String>) -> Self {
        self.context = Some(ReplyContext { message_id: wamid.into() });
        self
    }

    /// For images, videos and documents (≤ 1024 characters); WhatsApp takes no caption on other
    /// messages, so there it has no effect.
    pub fn with_caption(mut self, caption: impl Into<String>) -> Self {
        match &mut self.content {
            WhatsAppContent::Image { image: m }
            | WhatsAppContent::Video { video: m }
            | WhatsAppContent::Document { document: m } => {
                m.caption = Some(caption.into());
            }
            _ => {}
        }
        self
    }

    /// The name the customer sees for a document; no effect on other messages.
    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        if let WhatsAppContent::Document { document } = &mut self.content {
            document.filename = Some(filename.into());
        }
        self
    }

    /// For text messages; no effect on others.
    pub fn with_preview_url(mut self, preview: bool) -> Self {
        if let WhatsAppContent::Text { text } = &mut self.content {
            text.preview_url = preview;
        }
        self
    }

    /// A string WhatsApp echoes back in this message's status webhooks (≤ 512 characters).
    pub fn with_callback_data(mut self, data: impl Into<String>) -> Self {
        self.biz_opaque_callback_data = Some(data.into());
        self
    }

    pub fn to(&self) -> &str {
        &self.to
    }

    pub fn content(&self) -> &WhatsAppContent {
        &self.content
    }

    /// The body as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a WhatsApp message serialises")
    }
}

fn has_link(text: &str) -> bool {
    shared::text::linkify(text).iter().any(|s| matches!(s, shared::text::Segment::Link(_)))
}

/// A mark-as-read request (`POST /{version}/{phone_number_id}/messages`): marks the customer's
/// message `wamid`, and every earlier one, as read; optionally shows a typing indicator until the
/// next reply or for 25 seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRead {
    messaging_product: String,
    status: String,
    message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typing_indicator: Option<TypingIndicator>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TypingIndicator {
    #[serde(rename = "type")]
    kind: String,
}

impl MarkRead {
    pub fn new(wamid: impl Into<String>) -> Self {
        MarkRead {
            messaging_product: "whatsapp".into(),
            status: "read".into(),
            message_id: wamid.into(),
            typing_indicator: None,
        }
    }

    pub fn with_typing_indicator(mut self) -> Self {
        self.typing_indicator = Some(TypingIndicator { kind: "text".into() });
        self
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a mark-as-read request serialises")
    }
}

// ---------------------------------------------------------------------------------------------
// Answers

/// What a successful send call answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhatsAppSent {
    /// The wamid: store it to match this message's status webhooks.
    pub message_id: String,
    /// The canonical `wa_id` of the recipient, which may differ from the number sent to.
    pub wa_id: Option<String>,
    /// The `to` as sent.
    pub input: Option<String>,
    /// `accepted` (or `held_for_quality_assessment`…); often absent. Acceptance is not delivery.
    pub message_status: Option<String>,
}

/// Reads the answer to a successful send call (`messages[0].id`).
pub fn parse_send_response(body: &[u8]) -> Result<WhatsAppSent, ResponseError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ResponseError::NotJson(e.to_string()))?;
    let message = wire::items(&v, "messages").first();
    let contact = wire::items(&v, "contacts").first();
    Ok(WhatsAppSent {
        message_id: wire::non_empty(message.and_then(|m| m.get("id")))
            .ok_or(ResponseError::Missing("messages[0].id"))?,
        wa_id: wire::non_empty(contact.and_then(|c| c.get("wa_id"))),
        input: wire::non_empty(contact.and_then(|c| c.get("input"))),
        message_status: wire::non_empty(message.and_then(|m| m.get("message_status"))),
    })
}

/// Reads the answer to a mark-as-read call: `{"success": true}`.
pub fn parse_mark_read_response(body: &[u8]) -> Result<(), ResponseError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ResponseError::NotJson(e.to_string()))?;
    match v.get("success").and_then(Value::as_bool) {
        Some(true) => Ok(()),
        _ => Err(ResponseError::NotSuccessful),
    }
}

/// The answer to a media look-up (`GET /{version}/{media-id}`, CONTRACTS §5). Fetch `url` with
/// the same `Authorization: Bearer` header, within 5 minutes; on 401/403/404 look it up again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub url: String,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub file_size: Option<u64>,
    pub id: Option<String>,
}

pub fn parse_media_info(body: &[u8]) -> Result<MediaInfo, ResponseError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ResponseError::NotJson(e.to_string()))?;
    Ok(MediaInfo {
        url: wire::non_empty(v.get("url")).ok_or(ResponseError::Missing("url"))?,
        mime_type: wire::non_empty(v.get("mime_type")),
        sha256: wire::non_empty(v.get("sha256")),
        file_size: wire::int(v.get("file_size")).and_then(|n| u64::try_from(n).ok()),
        id: wire::non_empty(v.get("id")),
    })
}
