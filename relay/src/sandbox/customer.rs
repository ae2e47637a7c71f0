//! Acting as the customer: what a WhatsApp or Messenger user does, posted to the relay as the
//! signed webhooks Meta would send (§4, §7). Each customer message opens or refreshes that user's
//! window and shows on the phone page; each helper returns once the relay accepted the webhook (or
//! gave up after Meta-style retries) and gives the new message's id.

use serde_json::{json, Value};

use super::graph;
use super::media::Item;
use super::phone::{Bubble, MediaView, Tick};
use super::webhook::{self, page_envelope, page_event, whatsapp_contact, whatsapp_envelope, whatsapp_value};
use super::{Channel, Sandbox, WebhookDelivery, WebhookError};

/// What a WhatsApp user sends (§4.2).
#[derive(Clone, Debug)]
pub enum WaMessage {
    Text(String),
    /// A text quoting one of the business's messages (`context.id` = its wamid).
    Quoting { text: String, wamid: String },
    /// The built-in PNG.
    Image { caption: Option<String> },
    /// The built-in PDF, under `filename`.
    Document { filename: String, caption: Option<String> },
    Location(Location),
    /// `emoji: None` removes the reaction (the field is omitted, §4.2).
    Reaction { message_id: String, emoji: Option<String> },
    /// A tap on a button or list row of the business's interactive message `context`.
    InteractiveReply { context: String, reply: InteractiveReply },
}

#[derive(Clone, Debug)]
pub enum InteractiveReply {
    Button { id: String, title: String },
    List { id: String, title: String, description: Option<String> },
}

#[derive(Clone, Debug)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

/// One customer message of a [`Sandbox::whatsapp_batch`].
#[derive(Clone, Debug)]
pub struct WaInbound {
    pub wa_id: String,
    pub name: String,
    pub message: WaMessage,
}

impl WaInbound {
    pub fn new(wa_id: &str, name: &str, message: WaMessage) -> Self {
        WaInbound { wa_id: wa_id.into(), name: name.into(), message }
    }
}

/// How a batch spreads its messages over the envelope's levels (§3 Batching).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batching {
    /// One `entry` per message (as `whatsapp_batch_two_messages.json`).
    EntryEach,
    /// One `entry`, one `change` per message.
    ChangeEach,
    /// One `change` whose `messages[]` (and `contacts[]`) hold them all.
    OneChange,
}

/// A WhatsApp message status (§4.3).
#[derive(Clone, Debug, PartialEq)]
pub enum StatusUpdate {
    Sent,
    Delivered,
    Read,
    Played,
    Failed { code: i64, title: String, details: String },
}

impl StatusUpdate {
    /// The 131047 failure of a free-form send outside the 24 h window (`whatsapp_status_failed.json`).
    pub fn re_engagement() -> Self {
        StatusUpdate::Failed {
            code: 131047,
            title: "Re-engagement message".into(),
            details: "Free-form send refused: the customer's last message is older than 24 hours.".into(),
        }
    }

    fn tick(&self) -> Tick {
        match self {
            StatusUpdate::Sent => Tick::Sent,
            StatusUpdate::Delivered => Tick::Delivered,
            StatusUpdate::Read | StatusUpdate::Played => Tick::Read,
            StatusUpdate::Failed { .. } => Tick::Failed,
        }
    }
}

impl Sandbox {
    /// Post one WhatsApp customer message; returns its wamid.
    pub async fn whatsapp(&self, wa_id: &str, name: &str, message: WaMessage) -> Result<String, WebhookError> {
        let mut ids = self.whatsapp_batch(vec![WaInbound::new(wa_id, name, message)], Batching::EntryEach).await?;
        Ok(ids.remove(0))
    }

    pub async fn whatsapp_text(&self, wa_id: &str, name: &str, text: &str) -> Result<String, WebhookError> {
        self.whatsapp(wa_id, name, WaMessage::Text(text.into())).await
    }

    /// The built-in PNG; its media id can be looked up and downloaded (§5).
    pub async fn whatsapp_image(&self, wa_id: &str, name: &str, caption: Option<&str>) -> Result<String, WebhookError> {
        self.whatsapp(wa_id, name, WaMessage::Image { caption: caption.map(Into::into) }).await
    }

    /// The built-in PDF under `filename`.
    pub async fn whatsapp_document(
        &self,
        wa_id: &str,
        name: &str,
        filename: &str,
        caption: Option<&str>,
    ) -> Result<String, WebhookError> {
        self.whatsapp(wa_id, name, WaMessage::Document { filename: filename.into(), caption: caption.map(Into::into) }).await
    }

    pub async fn whatsapp_location(&self, wa_id: &str, name: &str, location: Location) -> Result<String, WebhookError> {
        self.whatsapp(wa_id, name, WaMessage::Location(location)).await
    }

    pub async fn whatsapp_reaction(
        &self,
        wa_id: &str,
        name: &str,
        message_id: &str,
        emoji: Option<&str>,
    ) -> Result<String, WebhookError> {
        self.whatsapp(wa_id, name, WaMessage::Reaction { message_id: message_id.into(), emoji: emoji.map(Into::into) }).await
    }

    pub async fn whatsapp_interactive_reply(
        &self,
        wa_id: &str,
        name: &str,
        context: &str,
        reply: InteractiveReply,
    ) -> Result<String, WebhookError> {
        self.whatsapp(wa_id, name, WaMessage::InteractiveReply { context: context.into(), reply }).await
    }

    /// Several customer messages in one POST, spread over `entry`/`changes`/`messages` as `batching`
    /// says. Returns their wamids in the order given.
    pub async fn whatsapp_batch(&self, messages: Vec<WaInbound>, batching: Batching) -> Result<Vec<String>, WebhookError> {
        let now = crate::now_ms();
        let mut built = Vec::with_capacity(messages.len());
        for inbound in &messages {
            let wamid = graph::wamid(&inbound.wa_id, false);
            let object = self.whatsapp_object(inbound, &wamid, now);
            built.push((inbound, wamid, object));
        }
        let config = self.config();
        let one = |inbound: &WaInbound, object: &Value| {
            whatsapp_value(config, vec![whatsapp_contact(&inbound.wa_id, &inbound.name)], vec![object.clone()], vec![])
        };
        let entries = match batching {
            Batching::EntryEach => built.iter().map(|(inbound, _, object)| vec![one(inbound, object)]).collect(),
            Batching::ChangeEach => vec![built.iter().map(|(inbound, _, object)| one(inbound, object)).collect()],
            Batching::OneChange => {
                let mut contacts: Vec<Value> = Vec::new();
                for (inbound, _, _) in &built {
                    if !contacts.iter().any(|c| c["wa_id"] == inbound.wa_id.as_str()) {
                        contacts.push(whatsapp_contact(&inbound.wa_id, &inbound.name));
                    }
                }
                let objects = built.iter().map(|(_, _, object)| object.clone()).collect();
                vec![vec![whatsapp_value(config, contacts, objects, vec![])]]
            }
        };
        let ids: Vec<(String, String)> = built.iter().map(|(inbound, wamid, _)| (inbound.wa_id.clone(), wamid.clone())).collect();
        let result = self.post_webhook(Channel::WhatsApp, whatsapp_envelope(config, entries)).await;
        if result.is_ok() {
            for (wa_id, wamid) in &ids {
                self.raise_tick(Channel::WhatsApp, wa_id, wamid, Tick::Delivered);
            }
        }
        result.map(|_| ids.into_iter().map(|(_, wamid)| wamid).collect())
    }

    /// Builds one `messages[]` item, registers its media, and puts it on the phone's thread.
    fn whatsapp_object(&self, inbound: &WaInbound, wamid: &str, now: i64) -> Value {
        let mut object = json!({"from": inbound.wa_id, "id": wamid, "timestamp": (now / 1000).to_string()});
        let mut bubble = Bubble::customer(wamid, "text", "", now);
        let (kind, body) = match &inbound.message {
            WaMessage::Text(text) => {
                bubble.text = text.clone();
                ("text", json!({"body": text}))
            }
            WaMessage::Quoting { text, wamid: quoted } => {
                object["context"] = json!({"from": self.config().display_phone_number, "id": quoted});
                bubble.text = text.clone();
                ("text", json!({"body": text}))
            }
            WaMessage::Image { caption } => {
                let item = self.register_media("image/png", None);
                let mut image = self.whatsapp_media_object(&item);
                if let Some(caption) = caption {
                    image["caption"] = caption.as_str().into();
                }
                bubble = bubble.with_media(&item, caption.as_deref(), "image");
                ("image", image)
            }
            WaMessage::Document { filename, caption } => {
                let item = self.register_media("application/pdf", Some(filename));
                let mut document = self.whatsapp_media_object(&item);
                document["filename"] = filename.as_str().into();
                if let Some(caption) = caption {
                    document["caption"] = caption.as_str().into();
                }
                bubble = bubble.with_media(&item, caption.as_deref(), "document");
                ("document", document)
            }
            WaMessage::Location(location) => {
                let mut body = json!({"latitude": location.latitude, "longitude": location.longitude});
                if let Some(name) = &location.name {
                    body["name"] = name.as_str().into();
                }
                if let Some(address) = &location.address {
                    body["address"] = address.as_str().into();
                }
                bubble.kind = "location".into();
                bubble.text = format!("📍 {}", location.name.as_deref().unwrap_or("Shared location"));
                ("location", body)
            }
            WaMessage::Reaction { message_id, emoji } => {
                let mut body = json!({"message_id": message_id});
                if let Some(emoji) = emoji {
                    body["emoji"] = emoji.as_str().into();
                }
                bubble.kind = "reaction".into();
                bubble.text = emoji.as_ref().map_or_else(|| "removed a reaction".into(), |e| format!("reacted {e}"));
                ("reaction", body)
            }
            WaMessage::InteractiveReply { context, reply } => {
                object["context"] = json!({"from": self.config().display_phone_number, "id": context});
                let body = match reply {
                    InteractiveReply::Button { id, title } => {
                        bubble.text = title.clone();
                        json!({"type": "button_reply", "button_reply": {"id": id, "title": title}})
                    }
                    InteractiveReply::List { id, title, description } => {
                        bubble.text = title.clone();
                        let mut row = json!({"id": id, "title": title});
                        if let Some(description) = description {
                            row["description"] = description.as_str().into();
                        }
                        json!({"type": "list_reply", "list_reply": row})
                    }
                };
                ("interactive", body)
            }
        };
        object["type"] = kind.into();
        object[kind] = body;
        self.note_inbound(&inbound.wa_id, now);
        self.add_customer_bubble(Channel::WhatsApp, &inbound.wa_id, Some(&inbound.name), bubble);
        object
    }

    /// `{id, mime_type, sha256, url}` of an inbound media message (§4.2).
    fn whatsapp_media_object(&self, item: &Item) -> Value {
        json!({"id": item.id, "mime_type": item.mime_type, "sha256": item.sha256, "url": self.download_url(&item.id)})
    }

    fn register_media(&self, mime_type: &'static str, filename: Option<&str>) -> Item {
        let bytes = if mime_type == "application/pdf" { self.inner.files.pdf.clone() } else { self.inner.files.png.clone() };
        let item = Item::new(graph::media_id(), mime_type, filename.map(str::to_owned), bytes);
        self.world().media.insert(item.id.clone(), item.clone());
        item
    }

    /// Post a status of the business's message `wamid` (the recipient is the customer it was sent
    /// to; empty for a wamid the sandbox never accepted).
    pub async fn whatsapp_status(&self, wamid: &str, status: StatusUpdate) -> Result<WebhookDelivery, WebhookError> {
        let recipient = self.world().outbound.get(wamid).map(|(_, user)| user.clone()).unwrap_or_default();
        self.raise_tick(Channel::WhatsApp, &recipient, wamid, status.tick());
        let object = super::whatsapp::status_object(wamid, &recipient, &status, crate::now_ms());
        let config = self.config();
        self.post_webhook(Channel::WhatsApp, whatsapp_envelope(config, vec![vec![whatsapp_value(config, vec![], vec![], vec![object])]]))
            .await
    }

    /// Several `read` statuses in one POST (what the phone page sends when the customer looks).
    pub(super) async fn whatsapp_read_all(&self, wa_id: &str, wamids: &[String]) -> Result<WebhookDelivery, WebhookError> {
        let now = crate::now_ms();
        let statuses = wamids.iter().map(|id| super::whatsapp::status_object(id, wa_id, &StatusUpdate::Read, now)).collect();
        let config = self.config();
        self.post_webhook(Channel::WhatsApp, whatsapp_envelope(config, vec![vec![whatsapp_value(config, vec![], vec![], statuses)]])).await
    }

    /// A Messenger text. With `referral_ref` (the user came through `m.me/<page>?ref=…`), the
    /// referral goes first in the same POST: on a first contact as the Get Started postback's
    /// `referral` (§7 `postback`), otherwise as a `referral` event; then the message.
    pub async fn messenger_text(&self, psid: &str, text: &str, referral_ref: Option<&str>) -> Result<String, WebhookError> {
        let now = crate::now_ms();
        let config = self.config();
        let mut events = Vec::new();
        let mut ids = Vec::new();
        if let Some(referral) = referral_ref {
            let referral = json!({"ref": referral, "source": "SHORTLINK", "type": "OPEN_THREAD"});
            let first_contact = !self.world().last_inbound.contains_key(psid);
            if first_contact {
                let mid = graph::mid();
                let postback = json!({"mid": mid, "title": "Get Started", "payload": "GET_STARTED", "referral": referral});
                events.push(page_event(config, psid, now, "postback", postback));
                self.add_customer_bubble(Channel::Messenger, psid, None, Bubble::customer(&mid, "postback", "Get Started", now));
                ids.push(mid);
            } else {
                events.push(page_event(config, psid, now, "referral", referral));
            }
        }
        let mid = graph::mid();
        events.push(page_event(config, psid, now, "message", json!({"mid": mid, "text": text})));
        self.add_customer_bubble(Channel::Messenger, psid, None, Bubble::customer(&mid, "text", text, now));
        ids.push(mid.clone());
        self.messenger_post(psid, now, events, &ids).await?;
        Ok(mid)
    }

    /// A tap on one of the business's quick replies: the title as text, plus its payload.
    pub async fn messenger_quick_reply(&self, psid: &str, text: &str, payload: &str) -> Result<String, WebhookError> {
        let now = crate::now_ms();
        let mid = graph::mid();
        let body = json!({"mid": mid, "text": text, "quick_reply": {"payload": payload}});
        let event = page_event(self.config(), psid, now, "message", body);
        self.add_customer_bubble(Channel::Messenger, psid, None, Bubble::customer(&mid, "text", text, now));
        self.messenger_post(psid, now, vec![event], std::slice::from_ref(&mid)).await?;
        Ok(mid)
    }

    /// A tap on a button, Get Started or persistent-menu item.
    pub async fn messenger_postback(&self, psid: &str, title: &str, payload: &str) -> Result<String, WebhookError> {
        let now = crate::now_ms();
        let mid = graph::mid();
        let event = page_event(self.config(), psid, now, "postback", json!({"mid": mid, "title": title, "payload": payload}));
        self.add_customer_bubble(Channel::Messenger, psid, None, Bubble::customer(&mid, "postback", title, now));
        self.messenger_post(psid, now, vec![event], std::slice::from_ref(&mid)).await?;
        Ok(mid)
    }

    /// The built-in PNG as an image attachment; its URL is public, like Meta's CDN URLs.
    pub async fn messenger_image(&self, psid: &str) -> Result<String, WebhookError> {
        self.messenger_attachment(psid, "image").await
    }

    pub(super) async fn messenger_attachment(&self, psid: &str, kind: &str) -> Result<String, WebhookError> {
        let now = crate::now_ms();
        let mid = graph::mid();
        let item = if kind == "file" {
            self.register_media("application/pdf", Some("warranty-card.pdf"))
        } else {
            self.register_media("image/png", None)
        };
        let url = format!("{}/phone/media/{}", self.base_url(), item.id);
        let body = json!({"mid": mid, "attachments": [{"type": kind, "payload": {"url": url}}]});
        let event = page_event(self.config(), psid, now, "message", body);
        let bubble = Bubble::customer(&mid, kind, "", now).with_media(&item, None, kind);
        self.add_customer_bubble(Channel::Messenger, psid, None, bubble);
        self.messenger_post(psid, now, vec![event], std::slice::from_ref(&mid)).await?;
        Ok(mid)
    }

    /// The user has read everything the page sent at or before `watermark` (ms).
    pub async fn messenger_read(&self, psid: &str, watermark: i64) -> Result<WebhookDelivery, WebhookError> {
        let now = crate::now_ms();
        {
            let mut world = self.world();
            if let Some(thread) = world.threads.get_mut(&(Channel::Messenger, psid.to_owned())) {
                for bubble in thread.messages.iter_mut().filter(|b| !b.mine && b.at <= watermark) {
                    bubble.tick.raise(Tick::Read);
                }
            }
        }
        let event = page_event(self.config(), psid, now, "read", json!({"watermark": watermark}));
        self.post_webhook(Channel::Messenger, page_envelope(self.config(), now, vec![event])).await
    }

    /// The page's messages `mids` (and everything before `watermark`) reached the user. Like the
    /// reference example, the event has no `timestamp`.
    pub async fn messenger_delivery(&self, psid: &str, mids: &[&str], watermark: i64) -> Result<WebhookDelivery, WebhookError> {
        for mid in mids {
            self.raise_tick(Channel::Messenger, psid, mid, Tick::Delivered);
        }
        let config = self.config();
        let event = json!({
            "sender": {"id": psid},
            "recipient": {"id": config.page_id},
            "delivery": {"mids": mids, "watermark": watermark},
        });
        self.post_webhook(Channel::Messenger, page_envelope(config, crate::now_ms(), vec![event])).await
    }

    async fn messenger_post(&self, psid: &str, now: i64, events: Vec<Value>, mids: &[String]) -> Result<WebhookDelivery, WebhookError> {
        self.note_inbound(psid, now);
        let delivery = self.post_webhook(Channel::Messenger, webhook::page_envelope(self.config(), now, events)).await?;
        for mid in mids {
            self.raise_tick(Channel::Messenger, psid, mid, Tick::Delivered);
        }
        Ok(delivery)
    }

    fn add_customer_bubble(&self, channel: Channel, user: &str, name: Option<&str>, bubble: Bubble) {
        {
            let mut world = self.world();
            let thread = world.threads.entry((channel, user.to_owned())).or_default();
            if let Some(name) = name {
                thread.name = Some(name.to_owned());
            }
            thread.messages.push(bubble);
        }
        self.inner.changed.send_modify(|v| *v += 1);
    }

    /// Move message `id` of `user`'s thread up to `tick` (never down: §3 Ordering).
    fn raise_tick(&self, channel: Channel, user: &str, id: &str, tick: Tick) {
        let mut world = self.world();
        if let Some(thread) = world.threads.get_mut(&(channel, user.to_owned())) {
            if let Some(bubble) = thread.messages.iter_mut().find(|b| b.id == id) {
                bubble.tick.raise(tick);
            }
        }
    }
}

impl Bubble {
    fn with_media(mut self, item: &Item, caption: Option<&str>, kind: &str) -> Self {
        self.kind = kind.to_owned();
        self.text = caption.unwrap_or_default().to_owned();
        self.media = Some(MediaView {
            url: Some(format!("/phone/media/{}", item.id)),
            mime_type: Some(item.mime_type.to_owned()),
            filename: item.filename.clone(),
        });
        self
    }
}
