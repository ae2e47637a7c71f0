//! A hand-written JSON codec for the visitor frames of `shared`.
//!
//! Why not serde: the widget's size budget. serde's derived `Deserialize` for internally tagged enums
//! (plus serde_json and float formatting) was a quarter of the wasm. The frames stay `shared`'s types;
//! only the bytes are produced here, and the tests check this codec against serde's on every variant,
//! so a change to `shared`'s wire format fails `cargo test -p confab-widget`.

use shared::{
    AdvisorId, Attachment, AttachmentKind, AttachmentState, Author, Channel, ClientMsgId,
    ContinueLink, ConversationId, ErrorCode, ErrorFrame, Message, SiteInfo, SiteTexts, VisitorClientFrame,
    VisitorServerFrame,
};

/// A parsed JSON value. Numbers are integers: the protocol has no others.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map_or(&Json::Null, |(_, v)| v),
            _ => &Json::Null,
        }
    }
    pub fn str(&self, key: &str) -> String {
        match self.get(key) {
            Json::Str(s) => s.clone(),
            _ => String::new(),
        }
    }
    pub fn num(&self, key: &str) -> i64 {
        match self.get(key) {
            Json::Num(n) => *n,
            _ => 0,
        }
    }
}

pub fn parse(text: &str) -> Option<Json> {
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    (p.i == p.b.len()).then_some(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        let ok = self.b[self.i..].starts_with(lit);
        if ok {
            self.i += lit.len();
        }
        ok
    }

    fn value(&mut self, depth: u32) -> Option<Json> {
        if depth > 32 {
            return None;
        }
        self.ws();
        let c = *self.b.get(self.i)?;
        Some(match c {
            b'{' => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if !self.eat(b"}") {
                    loop {
                        self.ws();
                        let k = self.string()?;
                        self.ws();
                        if !self.eat(b":") {
                            return None;
                        }
                        fields.push((k, self.value(depth + 1)?));
                        self.ws();
                        if self.eat(b"}") {
                            break;
                        }
                        if !self.eat(b",") {
                            return None;
                        }
                    }
                }
                Json::Obj(fields)
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if !self.eat(b"]") {
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        if self.eat(b"]") {
                            break;
                        }
                        if !self.eat(b",") {
                            return None;
                        }
                    }
                }
                Json::Arr(items)
            }
            b'"' => Json::Str(self.string()?),
            b't' if self.eat(b"true") => Json::Bool(true),
            b'f' if self.eat(b"false") => Json::Bool(false),
            b'n' if self.eat(b"null") => Json::Null,
            b'-' | b'0'..=b'9' => {
                let neg = self.eat(b"-");
                let mut n: i64 = 0;
                let start = self.i;
                while let Some(d) = self.b.get(self.i).filter(|d| d.is_ascii_digit()) {
                    n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
                    self.i += 1;
                }
                if self.i == start {
                    return None;
                }
                // A fraction or exponent is skipped: no field of the protocol has one.
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|d| matches!(d, b'.' | b'e' | b'E' | b'+' | b'-' | b'0'..=b'9'))
                {
                    self.i += 1;
                }
                Json::Num(if neg { -n } else { n })
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let s = self.b.get(self.i..self.i + 4)?;
        self.i += 4;
        let mut n = 0;
        for &c in s {
            n = n * 16 + (c as char).to_digit(16)?;
        }
        Some(n)
    }

    fn string(&mut self) -> Option<String> {
        if !self.eat(b"\"") {
            return None;
        }
        let mut out = Vec::new();
        loop {
            let c = *self.b.get(self.i)?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = *self.b.get(self.i)?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) && self.eat(b"\\u") {
                                let lo = self.hex4()?;
                                0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                            } else {
                                hi
                            };
                            char::from_u32(code).unwrap_or('\u{FFFD}')
                        }
                        _ => return None,
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(c),
            }
        }
    }
}

/// Appends `s` as a JSON string literal.
pub fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An object under construction: `{"type":…` then fields.
struct Obj(String);

impl Obj {
    fn new(kind: &str) -> Obj {
        let mut o = Obj(String::from("{\"type\":"));
        quote(&mut o.0, kind);
        o
    }
    fn key(&mut self, k: &str) -> &mut String {
        self.0.push_str(",\"");
        self.0.push_str(k);
        self.0.push_str("\":");
        &mut self.0
    }
    fn str(mut self, k: &str, v: &str) -> Obj {
        quote(self.key(k), v);
        self
    }
    fn raw(mut self, k: &str, v: &str) -> Obj {
        self.key(k).push_str(v);
        self
    }
    fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

pub fn encode(frame: &VisitorClientFrame) -> String {
    match frame {
        VisitorClientFrame::Hello {
            v,
            token,
            last_seq,
            page,
            referrer,
            timezone,
            locale,
        } => {
            let mut o = Obj::new("hello").raw("v", &v.to_string());
            if let Some(t) = token {
                o = o.str("token", t);
            }
            o = o.raw("last_seq", &last_seq.to_string());
            for (k, v) in [
                ("page", page),
                ("referrer", referrer),
                ("timezone", timezone),
                ("locale", locale),
            ] {
                if let Some(v) = v {
                    o = o.str(k, v);
                }
            }
            o.end()
        }
        VisitorClientFrame::Send {
            id,
            text,
            attachments,
        } => {
            let mut o = Obj::new("send").str("id", id.as_str()).str("text", text);
            if !attachments.is_empty() {
                let list = o.key("attachments");
                list.push('[');
                for (n, a) in attachments.iter().enumerate() {
                    if n > 0 {
                        list.push(',');
                    }
                    quote(list, a);
                }
                list.push(']');
            }
            o.end()
        }
        VisitorClientFrame::Read { up_to } => {
            Obj::new("read").raw("up_to", &up_to.to_string()).end()
        }
        VisitorClientFrame::Typing { on } => Obj::new("typing")
            .raw("on", if *on { "true" } else { "false" })
            .end(),
        VisitorClientFrame::Identify {
            user_id,
            user_hash,
            name,
            email,
        } => {
            let mut o = Obj::new("identify").str("user_id", user_id);
            for (k, v) in [("user_hash", user_hash), ("name", name), ("email", email)] {
                if let Some(v) = v {
                    o = o.str(k, v);
                }
            }
            o.end()
        }
        VisitorClientFrame::Handoff => Obj::new("handoff").end(),
        VisitorClientFrame::SetEmail { email } => Obj::new("set_email").str("email", email).end(),
        VisitorClientFrame::PushSubscribe {
            endpoint,
            p256dh,
            auth,
        } => Obj::new("push_subscribe")
            .str("endpoint", endpoint)
            .str("p256dh", p256dh)
            .str("auth", auth)
            .end(),
        VisitorClientFrame::Rate { rating, comment } => {
            let o = Obj::new("rate").raw("rating", &u32::from(*rating).to_string());
            match comment {
                Some(c) => o.str("comment", c),
                None => o,
            }
            .end()
        }
        _ => String::new(),
    }
}

fn author(j: &Json) -> Author {
    match j.str("kind").as_str() {
        "visitor" => Author::Visitor,
        "advisor" => Author::Advisor {
            id: AdvisorId(j.num("id")),
            name: j.str("name"),
        },
        "bot" => Author::Bot,
        "system" => Author::System,
        _ => Author::Unknown,
    }
}

fn channel(s: &str) -> Channel {
    match s {
        "web" | "" => Channel::Web,
        "whatsapp" => Channel::Whatsapp,
        "messenger" => Channel::Messenger,
        _ => Channel::Unknown,
    }
}

/// The error codes the widget acts on; the rest are shown by their message.
const CODES: [ErrorCode; 7] = [
    ErrorCode::BadToken,
    ErrorCode::ThreadMoved,
    ErrorCode::IdentityRejected,
    ErrorCode::TextTooLong,
    ErrorCode::TextEmpty,
    ErrorCode::UnsupportedVersion,
    ErrorCode::RateLimited,
];

fn opt(j: &Json, key: &str) -> Option<String> {
    match j.get(key) {
        Json::Str(s) => Some(s.clone()),
        _ => None,
    }
}

/// A file on a message, or the relay's answer to an upload.
pub fn attachment(j: &Json) -> Attachment {
    Attachment {
        id: j.str("id"),
        kind: match j.str("kind").as_str() {
            "image" => AttachmentKind::Image,
            "video" => AttachmentKind::Video,
            "audio" => AttachmentKind::Audio,
            "document" => AttachmentKind::Document,
            "sticker" => AttachmentKind::Sticker,
            _ => AttachmentKind::Unknown,
        },
        mime: j.str("mime"),
        name: opt(j, "name"),
        size: j.num("size") as u64,
        state: match j.str("state").as_str() {
            "pending" => AttachmentState::Pending,
            "ready" => AttachmentState::Ready,
            "failed" => AttachmentState::Failed,
            _ => AttachmentState::Unknown,
        },
        error: opt(j, "error"),
        url: opt(j, "url"),
    }
}

fn message(j: &Json) -> Message {
    Message {
        delivery: None,
        attachments: match j.get("attachments") {
            Json::Arr(list) => list.iter().map(attachment).collect(),
            _ => Vec::new(),
        },
        // A visitor is never sent a private note.
        note: false,
        id: ClientMsgId(j.str("id")),
        conversation: ConversationId(j.num("conversation")),
        seq: j.num("seq") as u64,
        author: author(j.get("author")),
        channel: channel(&j.str("channel")),
        text: j.str("text"),
        sent_at: j.num("sent_at"),
    }
}

/// Decodes a relay → widget frame; `None` for what isn't one (a frame type this version doesn't know
/// decodes to `Unknown`, as with serde).
pub fn decode(text: &str) -> Option<VisitorServerFrame> {
    let j = parse(text)?;
    let Json::Str(kind) = j.get("type") else {
        return None;
    };
    Some(match kind.as_str() {
        "welcome" => {
            let s = j.get("site");
            VisitorServerFrame::Welcome {
                v: j.num("v") as u32,
                token: j.str("token"),
                conversation: ConversationId(j.num("conversation")),
                last_seq: j.num("last_seq") as u64,
                read_seq: j.num("read_seq") as u64,
                site: SiteInfo {
                    key: s.str("key"),
                    name: s.str("name"),
                    greeting: s.str("greeting"),
                    color: s.str("color"),
                    reply_time: s.str("reply_time"),
                    position: s.str("position"),
                    launcher: s.str("launcher"),
                    avatar: s.str("avatar"),
                    translations: match s.get("translations") {
                        Json::Arr(all) => all
                            .iter()
                            .map(|t| SiteTexts { lang: t.str("lang"), greeting: t.str("greeting"), reply_time: t.str("reply_time") })
                            .collect(),
                        _ => Vec::new(),
                    },
                },
                advisors_online: j.get("advisors_online") == &Json::Bool(true),
                delivered_seq: j.num("delivered_seq") as u64,
                advisors_read_seq: j.num("advisors_read_seq") as u64,
                continue_on: match j.get("continue_on") {
                    Json::Arr(links) => links
                        .iter()
                        .map(|l| ContinueLink {
                            channel: channel(&l.str("channel")),
                            url: l.str("url"),
                        })
                        .collect(),
                    _ => Vec::new(),
                },
            }
        }
        "message" => VisitorServerFrame::Message {
            message: message(j.get("message")),
        },
        "ack" => VisitorServerFrame::Ack {
            id: ClientMsgId(j.str("id")),
            seq: j.num("seq") as u64,
            sent_at: j.num("sent_at"),
        },
        "typing" => VisitorServerFrame::Typing {
            on: j.get("on") == &Json::Bool(true),
            name: j.str("name"),
        },
        "read" => VisitorServerFrame::Read {
            up_to: j.num("up_to") as u64,
        },
        "delivered" => VisitorServerFrame::Delivered {
            up_to: j.num("up_to") as u64,
        },
        "presence" => VisitorServerFrame::Presence {
            advisors_online: j.get("advisors_online") == &Json::Bool(true),
        },
        "queue" => VisitorServerFrame::Queue {
            position: j.num("position") as u32,
            wait_ms: match j.get("wait_ms") {
                Json::Num(n) => Some(*n),
                _ => None,
            },
        },
        "identified" => VisitorServerFrame::Identified {
            verified: j.get("verified") == &Json::Bool(true),
            switched: j.get("switched") == &Json::Bool(true),
            token: opt(&j, "token"),
        },
        "bot" => VisitorServerFrame::Bot {
            active: j.get("active") == &Json::Bool(true),
            seq: j.num("seq") as u64,
            replies: match j.get("replies") {
                Json::Arr(r) => r
                    .iter()
                    .filter_map(|r| match r {
                        Json::Str(r) => Some(r.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            },
        },
        "email" => VisitorServerFrame::Email {
            email: j.str("email"),
        },
        "survey" => VisitorServerFrame::Survey {
            rating: j.num("rating") as u8,
        },
        "error" => {
            let code = j.str("code");
            VisitorServerFrame::Error(ErrorFrame {
                code: CODES
                    .into_iter()
                    .find(|c| c.as_str() == code)
                    .unwrap_or(ErrorCode::Unknown),
                message: j.str("message"),
                reference: opt(&j, "ref"),
                retry_after_ms: match j.get("retry_after_ms") {
                    Json::Num(n) if *n > 0 => Some(*n as u64),
                    _ => None,
                },
            })
        }
        _ => VisitorServerFrame::Unknown,
    })
}

/// The offline outbox as stored in localStorage: `[[id, text], …]`.
pub fn encode_pairs(items: &[(String, String)]) -> String {
    let mut out = String::from("[");
    for (n, (a, b)) in items.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('[');
        quote(&mut out, a);
        out.push(',');
        quote(&mut out, b);
        out.push(']');
    }
    out.push(']');
    out
}

pub fn decode_pairs(text: &str) -> Vec<(String, String)> {
    let Some(Json::Arr(items)) = parse(text) else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| match item {
            Json::Arr(mut pair) if pair.len() == 2 => match (pair.pop(), pair.pop()) {
                (Some(Json::Str(b)), Some(Json::Str(a))) => Some((a, b)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn client_frames() -> Vec<VisitorClientFrame> {
        vec![
            VisitorClientFrame::Hello {
                v: 1,
                token: None,
                last_seq: 0,
                page: None,
                referrer: None,
                timezone: None,
                locale: None,
            },
            VisitorClientFrame::Hello {
                v: 1,
                token: Some("tok\"en".into()),
                last_seq: 42,
                page: Some("https://shop.example/a?b=\"c\"&d=é\n\u{1}".into()),
                referrer: Some("https://search.example/?q=tent".into()),
                timezone: Some("America/Argentina/Buenos_Aires".into()),
                locale: Some("fr-CA".into()),
            },
            VisitorClientFrame::Send {
                id: ClientMsgId("m-1".into()),
                text: "hi \\ there\t😀\r\n</script>".into(),
                attachments: Vec::new(),
            },
            VisitorClientFrame::Send {
                id: ClientMsgId("m-2".into()),
                text: String::new(),
                attachments: vec!["up-1".into(), "up\"2".into()],
            },
            VisitorClientFrame::Read { up_to: 7 },
            VisitorClientFrame::Typing { on: true },
            VisitorClientFrame::Typing { on: false },
            VisitorClientFrame::Identify {
                user_id: "u-\"42\"".into(),
                user_hash: Some("ab12".into()),
                name: Some("Zoë".into()),
                email: Some("z@example.com".into()),
            },
            VisitorClientFrame::Identify {
                user_id: "u".into(),
                user_hash: None,
                name: None,
                email: None,
            },
            VisitorClientFrame::Handoff,
            VisitorClientFrame::SetEmail {
                email: "ana\"@shop.example".into(),
            },
            VisitorClientFrame::Rate {
                rating: 4,
                comment: Some("Quick, \"kind\"\n😀".into()),
            },
            VisitorClientFrame::Rate {
                rating: 1,
                comment: None,
            },
            VisitorClientFrame::PushSubscribe {
                endpoint: "https://push.example/send/a?b=\"c\"".into(),
                p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM".into(),
                auth: "tBHItJI5svbpez7KI4CCXg".into(),
            },
        ]
    }

    #[test]
    fn client_frames_encode_exactly_as_serde_does() {
        for f in client_frames() {
            let ours: Value = serde_json::from_str(&encode(&f)).expect("valid JSON");
            assert_eq!(ours, serde_json::to_value(&f).unwrap(), "{f:?}");
        }
    }

    fn server_frames() -> Vec<VisitorServerFrame> {
        let msg = |seq, author| Message {
            delivery: None,
            attachments: Vec::new(),
            note: false,
            id: ClientMsgId(format!("id-{seq}")),
            conversation: ConversationId(3),
            seq,
            author,
            channel: Channel::Web,
            text: "Hello \"you\" \\ ünïcödé 😀 \n<b>x</b>".into(),
            sent_at: 1_763_683_200_123,
        };
        vec![
            VisitorServerFrame::Welcome {
                v: 1,
                token: "t0k".into(),
                conversation: ConversationId(3),
                last_seq: 9,
                read_seq: 4,
                site: SiteInfo {
                    key: "demo".into(),
                    name: "Demo Shop".into(),
                    greeting: "Hi!".into(),
                    color: "#4f46e5".into(),
                    reply_time: "usually replies within an hour".into(),
                    position: "left".into(),
                    launcher: "message".into(),
                    avatar: "https://cdn.example/a \"b\".png".into(),
                    translations: vec![SiteTexts {
                        lang: "fr".into(),
                        greeting: "Bonjour « vous » !".into(),
                        reply_time: String::new(),
                    }],
                },
                advisors_online: true,
                delivered_seq: 7,
                advisors_read_seq: 6,
                continue_on: vec![
                    ContinueLink {
                        channel: Channel::Whatsapp,
                        url: "https://wa.me/15550001111?text=Hi%21%20My%20code%3A%20K7Q2-9XPL"
                            .into(),
                    },
                    ContinueLink {
                        channel: Channel::Messenger,
                        url: "https://m.me/demo.shop?ref=K7Q2-9XPL&x=\"é\"".into(),
                    },
                ],
            },
            VisitorServerFrame::Welcome {
                v: 1,
                token: "t1".into(),
                conversation: ConversationId(5),
                last_seq: 0,
                read_seq: 0,
                site: SiteInfo::default(),
                advisors_online: false,
                delivered_seq: 0,
                advisors_read_seq: 0,
                continue_on: vec![ContinueLink {
                    channel: Channel::Messenger,
                    url: "https://m.me/x?ref=only-messenger".into(),
                }],
            },
            VisitorServerFrame::Welcome {
                v: 1,
                token: "t".into(),
                conversation: ConversationId(4),
                last_seq: 0,
                read_seq: 0,
                site: SiteInfo::default(),
                advisors_online: false,
                delivered_seq: 0,
                advisors_read_seq: 0,
                continue_on: Vec::new(),
            },
            VisitorServerFrame::Message {
                message: msg(1, Author::Visitor),
            },
            VisitorServerFrame::Message {
                message: msg(
                    2,
                    Author::Advisor {
                        id: AdvisorId(5),
                        name: "Ada".into(),
                    },
                ),
            },
            VisitorServerFrame::Message {
                message: msg(3, Author::Bot),
            },
            VisitorServerFrame::Message {
                message: msg(4, Author::System),
            },
            VisitorServerFrame::Message {
                message: Message {
                    channel: Channel::Whatsapp,
                    ..msg(5, Author::Visitor)
                },
            },
            VisitorServerFrame::Message {
                message: Message {
                    attachments: vec![
                        Attachment {
                            id: "att-1".into(),
                            kind: AttachmentKind::Image,
                            mime: "image/png".into(),
                            name: Some("Plage \"été\".png".into()),
                            size: 48_213,
                            state: AttachmentState::Ready,
                            error: None,
                            url: Some("/files/att-1?exp=1763683800&sig=a-b_c".into()),
                        },
                        Attachment {
                            id: "att-2".into(),
                            kind: AttachmentKind::Document,
                            mime: String::new(),
                            name: None,
                            size: 0,
                            state: AttachmentState::Failed,
                            error: Some("gone".into()),
                            url: None,
                        },
                        Attachment {
                            id: "att-3".into(),
                            kind: AttachmentKind::Video,
                            mime: "video/mp4".into(),
                            name: None,
                            size: 9,
                            state: AttachmentState::Pending,
                            error: None,
                            url: None,
                        },
                    ],
                    ..msg(6, Author::Visitor)
                },
            },
            VisitorServerFrame::Ack {
                id: ClientMsgId("m-1".into()),
                seq: 12,
                sent_at: 1_763_683_200_000,
            },
            VisitorServerFrame::Typing {
                on: true,
                name: "Ada".into(),
            },
            VisitorServerFrame::Read { up_to: 8 },
            VisitorServerFrame::Delivered { up_to: 9 },
            VisitorServerFrame::Presence {
                advisors_online: true,
            },
            VisitorServerFrame::Presence {
                advisors_online: false,
            },
            VisitorServerFrame::Queue {
                position: 3,
                wait_ms: Some(240_000),
            },
            VisitorServerFrame::Queue {
                position: 0,
                wait_ms: None,
            },
            VisitorServerFrame::Bot {
                active: true,
                seq: 3,
                replies: vec!["Shipping".into(), "Retours \"€\"".into()],
            },
            VisitorServerFrame::Bot {
                active: false,
                seq: 9,
                replies: Vec::new(),
            },
            VisitorServerFrame::Error(ErrorFrame {
                code: ErrorCode::TextTooLong,
                message: "Message is too long (4001 characters; the limit is 4000).".into(),
                reference: Some("m-1".into()),
                retry_after_ms: None,
            }),
            VisitorServerFrame::Error(ErrorFrame {
                code: ErrorCode::RateLimited,
                message: "Slow down".into(),
                reference: Some("m-2".into()),
                retry_after_ms: Some(1500),
            }),
            VisitorServerFrame::Email {
                email: "ana@shop.example".into(),
            },
            VisitorServerFrame::Survey { rating: 0 },
            VisitorServerFrame::Survey { rating: 5 },
            VisitorServerFrame::Error(ErrorFrame {
                code: ErrorCode::BadToken,
                message: "Unknown token".into(),
                reference: None,
                retry_after_ms: None,
            }),
            VisitorServerFrame::Identified {
                verified: true,
                switched: true,
                token: Some("fresh".into()),
            },
            VisitorServerFrame::Identified {
                verified: false,
                switched: false,
                token: None,
            },
            VisitorServerFrame::Error(ErrorFrame {
                code: ErrorCode::IdentityRejected,
                message: "user_hash does not match".into(),
                reference: None,
                retry_after_ms: None,
            }),
        ]
    }

    #[test]
    fn server_frames_decode_to_what_serde_encoded() {
        for f in server_frames() {
            let text = serde_json::to_string(&f).unwrap();
            assert_eq!(decode(&text), Some(f.clone()), "{text}");
            let pretty = serde_json::to_string_pretty(&f).unwrap();
            assert_eq!(decode(&pretty), Some(f), "{pretty}");
        }
    }

    #[test]
    fn unknown_types_and_fields_are_tolerated_and_garbage_is_refused() {
        assert_eq!(
            decode(r#"{"type":"brand_new","x":[1,{"y":null}]}"#),
            Some(VisitorServerFrame::Unknown)
        );
        assert_eq!(
            decode(r#"{"type":"read","up_to":3,"extra":{"a":[true,false,1.5e3]}}"#),
            Some(VisitorServerFrame::Read { up_to: 3 })
        );
        for bad in [
            "",
            "{",
            "[1,2]",
            r#"{"type":3}"#,
            r#"{"type":"read"} x"#,
            r#"{"type":"read","up_to":}"#,
            "\"\\x\"",
        ] {
            assert!(
                matches!(decode(bad), None | Some(VisitorServerFrame::Unknown)),
                "{bad}"
            );
        }
        assert_eq!(decode(r#"{"type":"read" "up_to":3}"#), None);
    }

    #[test]
    fn fields_added_to_welcome_default_when_an_older_relay_leaves_them_out() {
        let old = r#"{"type":"welcome","v":1,"token":"t","conversation":2,"last_seq":3,"read_seq":1,"site":{"key":"k","name":"N"}}"#;
        let theirs: VisitorServerFrame = serde_json::from_str(old).unwrap();
        assert_eq!(decode(old), Some(theirs));
    }

    #[test]
    fn continue_links_on_a_channel_this_version_does_not_know_decode_as_serde_does() {
        let text = r#"{"type":"welcome","v":1,"token":"t","conversation":2,"last_seq":0,"read_seq":0,"site":{"key":"k","name":"N"},"continue_on":[{"channel":"telegram","url":"https://t.me/x"},{"channel":"whatsapp","url":"https://wa.me/1","label":"new field"}]}"#;
        let theirs: VisitorServerFrame = serde_json::from_str(text).unwrap();
        assert_eq!(decode(text), Some(theirs));
    }

    #[test]
    fn surrogate_pair_escapes_decode() {
        assert_eq!(
            parse(r#""\ud83d\ude00 \u00e9""#),
            Some(Json::Str("😀 é".into()))
        );
    }

    #[test]
    fn an_unknown_error_code_keeps_its_message() {
        let f = decode(r#"{"type":"error","code":"brand_new","message":"Something new"}"#).unwrap();
        assert_eq!(
            f,
            VisitorServerFrame::Error(ErrorFrame::new(ErrorCode::Unknown, "Something new"))
        );
    }

    #[test]
    fn the_outbox_round_trips() {
        let items = vec![
            ("a".to_string(), "x\"y\n".to_string()),
            ("b".into(), "😀".into()),
        ];
        assert_eq!(decode_pairs(&encode_pairs(&items)), items);
        assert_eq!(decode_pairs("nonsense"), vec![]);
    }
}
