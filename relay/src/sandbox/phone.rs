//! The phone page (`GET /phone`): a person plays a WhatsApp or Messenger user. The page talks to a
//! small JSON API here, which turns what they do into the webhooks of [`super::customer`] and shows
//! what the relay sent through the Graph routes. `wa.me` / `m.me` links are simulated by
//! `/wa.me/<number>?text=…` and `/m.me/<page>?ref=…`, which open the page prefilled.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::customer::{InteractiveReply, Location, WaMessage};
use super::{digits, meta_json, Channel, Sandbox, WebhookError};

const PAGE: &str = include_str!("phone.html");

/// The default customers of the page.
const WHATSAPP_NAME: &str = "Ana Souza";
const WHATSAPP_NUMBER: &str = "+55 11 98765 4321";
const MESSENGER_NAME: &str = "Jules Martin";
const MESSENGER_PSID: &str = "7012345678905678";

/// One customer's conversation with the business, as their phone shows it.
#[derive(Debug, Default)]
pub(super) struct Thread {
    pub name: Option<String>,
    pub messages: Vec<Bubble>,
    /// The business is "typing…" until then (ms).
    pub typing_until: i64,
}

/// One message on the phone. `mine` = sent by the customer.
#[derive(Clone, Debug, Serialize)]
pub(super) struct Bubble {
    pub id: String,
    pub mine: bool,
    pub at: i64,
    pub kind: String,
    pub text: String,
    /// Customer messages: sent (posted), delivered (the relay acknowledged), read (marked read).
    /// Business messages: what the sandbox reported back.
    pub tick: Tick,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
}

impl Bubble {
    pub fn business(kind: &str, text: &str) -> Self {
        Bubble {
            id: String::new(),
            mine: false,
            at: 0,
            kind: kind.into(),
            text: text.into(),
            tick: Tick::Sent,
            media: None,
            choices: Vec::new(),
        }
    }

    pub fn customer(id: &str, kind: &str, text: &str, at: i64) -> Self {
        Bubble { id: id.into(), mine: true, at, ..Bubble::business(kind, text) }
    }
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct MediaView {
    pub url: Option<String>,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
}

/// A button, list row or quick reply the customer can tap.
#[derive(Clone, Debug, Serialize)]
pub(super) struct Choice {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A list row (WhatsApp `list_reply`) rather than a button.
    pub list: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Tick {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl Tick {
    /// Statuses only go up, and `failed` is terminal (§3 Ordering).
    pub fn raise(&mut self, to: Tick) {
        if *self != Tick::Failed && to > *self {
            *self = to;
        }
    }
}

pub(super) fn router(sandbox: Sandbox) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/phone") }))
        .route("/phone", get(page))
        .route("/phone/api/thread", get(thread))
        .route("/phone/api/send", post(send))
        .route("/phone/api/read", post(read))
        .route("/phone/media/{id}", get(media))
        .route("/wa.me/{number}", get(wa_me))
        .route("/m.me/{page}", get(m_me))
        .with_state(sandbox)
}

async fn page(State(sandbox): State<Sandbox>) -> Html<String> {
    let config = sandbox.config();
    let settings = json!({
        "business": config.business_name,
        "number": config.display_phone_number,
        "page_id": config.page_id,
        "whatsapp": {"name": WHATSAPP_NAME, "number": WHATSAPP_NUMBER},
        "messenger": {"name": MESSENGER_NAME, "psid": MESSENGER_PSID},
    });
    // Meta's escaping writes `/` as `\/` and non-ASCII as `\u…`; `<` is escaped too, so the blob
    // cannot end the script element.
    let settings = String::from_utf8(meta_json(&settings)).unwrap_or_default().replace('<', "\\u003c");
    Html(PAGE.replace("/*SETTINGS*/null", &settings))
}

#[derive(Deserialize)]
struct ThreadQuery {
    channel: Channel,
    user: String,
}

impl ThreadQuery {
    fn key(&self) -> (Channel, String) {
        match self.channel {
            Channel::WhatsApp => (Channel::WhatsApp, digits(&self.user)),
            Channel::Messenger => (Channel::Messenger, self.user.trim().to_owned()),
        }
    }
}

async fn thread(State(sandbox): State<Sandbox>, Query(query): Query<ThreadQuery>) -> Json<serde_json::Value> {
    let now = crate::now_ms();
    let world = sandbox.world();
    let thread = world.threads.get(&query.key());
    // A failed send never reached the customer's phone.
    let messages: Vec<&Bubble> =
        thread.map(|t| t.messages.iter().filter(|b| b.mine || b.tick != Tick::Failed).collect()).unwrap_or_default();
    Json(json!({
        "name": thread.and_then(|t| t.name.clone()),
        "typing": thread.is_some_and(|t| t.typing_until > now),
        "messages": messages,
    }))
}

#[derive(Deserialize)]
struct SendRequest {
    channel: Channel,
    user: String,
    name: String,
    /// The `ref` of an `m.me` link, sent with the customer's first Messenger message.
    #[serde(default, rename = "ref")]
    referral: Option<String>,
    #[serde(flatten)]
    action: PhoneAction,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum PhoneAction {
    Text {
        text: String,
    },
    Image {
        #[serde(default)]
        caption: Option<String>,
    },
    Document {
        #[serde(default)]
        caption: Option<String>,
    },
    Location,
    /// A tap on a button, list row or quick reply of the business's message `message_id`.
    Choice {
        message_id: String,
        id: String,
        title: String,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        list: bool,
    },
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

async fn send(State(sandbox): State<Sandbox>, Json(request): Json<SendRequest>) -> Response {
    let name = request.name.trim();
    let name = if name.is_empty() { "Customer" } else { name };
    let result: Result<String, WebhookError> = match request.channel {
        Channel::WhatsApp => {
            let wa_id = digits(&request.user);
            if wa_id.len() < 6 {
                return bad_request("Enter a phone number with its country code.");
            }
            let message = match request.action {
                PhoneAction::Text { text } if !text.trim().is_empty() => WaMessage::Text(text),
                PhoneAction::Text { .. } => return bad_request("Type a message first."),
                PhoneAction::Image { caption } => WaMessage::Image { caption },
                PhoneAction::Document { caption } => WaMessage::Document { filename: "warranty-card.pdf".into(), caption },
                PhoneAction::Location => WaMessage::Location(Location {
                    latitude: -23.5613991,
                    longitude: -46.6565712,
                    name: Some("Avenida Paulista, 1578".into()),
                    address: Some("Bela Vista, São Paulo - SP, 01310-200".into()),
                }),
                PhoneAction::Choice { message_id, id, title, description, list } => WaMessage::InteractiveReply {
                    context: message_id,
                    reply: if list { InteractiveReply::List { id, title, description } } else { InteractiveReply::Button { id, title } },
                },
            };
            sandbox.whatsapp(&wa_id, name, message).await
        }
        Channel::Messenger => {
            let psid = request.user.trim().to_owned();
            if psid.is_empty() {
                return bad_request("Enter a PSID.");
            }
            sandbox.set_messenger_name(&psid, name);
            sandbox.world().threads.entry((Channel::Messenger, psid.clone())).or_default().name = Some(name.to_owned());
            match request.action {
                PhoneAction::Text { text } if !text.trim().is_empty() => {
                    sandbox.messenger_text(&psid, &text, request.referral.as_deref().filter(|r| !r.is_empty())).await
                }
                PhoneAction::Text { .. } => return bad_request("Type a message first."),
                PhoneAction::Image { .. } => sandbox.messenger_attachment(&psid, "image").await,
                PhoneAction::Document { .. } => sandbox.messenger_attachment(&psid, "file").await,
                PhoneAction::Location => return bad_request("Messenger no longer shares locations."),
                PhoneAction::Choice { id, title, .. } => sandbox.messenger_quick_reply(&psid, &title, &id).await,
            }
        }
    };
    match result {
        Ok(id) => Json(json!({"id": id})).into_response(),
        // Shown on the page: the sandbox's own delivery report, nothing from inside the relay.
        Err(e) => (StatusCode::BAD_GATEWAY, Json(json!({"error": e.to_string()}))).into_response(),
    }
}

#[derive(Deserialize)]
struct ReadRequest {
    channel: Channel,
    user: String,
}

/// The customer looked at the thread: mark the business's messages read and tell the relay.
async fn read(State(sandbox): State<Sandbox>, Json(request): Json<ReadRequest>) -> Response {
    let key = ThreadQuery { channel: request.channel, user: request.user }.key();
    let unread: Vec<(String, i64)> = {
        let mut world = sandbox.world();
        let Some(thread) = world.threads.get_mut(&key) else { return Json(json!({"read": 0})).into_response() };
        thread
            .messages
            .iter_mut()
            .filter(|b| !b.mine && b.tick < Tick::Read)
            .map(|b| {
                b.tick = Tick::Read;
                (b.id.clone(), b.at)
            })
            .collect()
    };
    if unread.is_empty() {
        return Json(json!({"read": 0})).into_response();
    }
    let (channel, user) = key;
    let result = match channel {
        Channel::WhatsApp => {
            let wamids: Vec<String> = unread.iter().map(|(id, _)| id.clone()).collect();
            sandbox.whatsapp_read_all(&user, &wamids).await
        }
        Channel::Messenger => {
            let watermark = unread.iter().map(|(_, at)| *at).max().unwrap_or_default();
            sandbox.messenger_read(&user, watermark).await
        }
    };
    match result {
        Ok(_) => Json(json!({"read": unread.len()})).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, Json(json!({"error": e.to_string()}))).into_response(),
    }
}

/// The customer's own copy of a file (and Messenger's public attachment URL).
async fn media(State(sandbox): State<Sandbox>, Path(id): Path<String>) -> Response {
    use super::media::{MediaFailure, MediaRequest};
    let failure = sandbox.take_media_failure(MediaRequest::PublicUrl);
    match failure {
        Some(MediaFailure::ServerError) => return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response(),
        Some(MediaFailure::Deleted) => return (StatusCode::NOT_FOUND, "no such media").into_response(),
        _ => {}
    }
    let item = sandbox.world().media.get(&id).cloned();
    match item {
        Some(item) if failure == Some(MediaFailure::Corrupted) => {
            ([(header::CONTENT_TYPE, item.mime_type)], item.corrupted_bytes()).into_response()
        }
        Some(item) => ([(header::CONTENT_TYPE, item.mime_type)], item.bytes).into_response(),
        None => (StatusCode::NOT_FOUND, "no such media").into_response(),
    }
}

/// `https://wa.me/<number>?text=…` → the page as a WhatsApp user, composer prefilled.
async fn wa_me(Path(number): Path<String>, Query(query): Query<HashMap<String, String>>) -> Redirect {
    let mut target = url::form_urlencoded::Serializer::new(String::new());
    target.append_pair("channel", "whatsapp").append_pair("to", &number);
    if let Some(text) = query.get("text") {
        target.append_pair("text", text);
    }
    Redirect::to(&format!("/phone?{}", target.finish()))
}

/// `https://m.me/<page>?ref=…` → the page as a Messenger user, `ref` carried into the first message.
async fn m_me(Path(page): Path<String>, Query(query): Query<HashMap<String, String>>) -> Redirect {
    let mut target = url::form_urlencoded::Serializer::new(String::new());
    target.append_pair("channel", "messenger").append_pair("to", &page);
    if let Some(referral) = query.get("ref") {
        target.append_pair("ref", referral);
    }
    Redirect::to(&format!("/phone?{}", target.finish()))
}
