//! `POST /{v}/{phone-number-id}/messages` (§6): sends and mark-as-read, checked like the Cloud
//! API checks them. An accepted send answers 200 + wamid, then reports by status webhook (§4.3):
//! `sent` and `delivered` with `auto_statuses`, or `failed` with 131047 outside the 24 h window
//! (§6.1) — Meta accepts those too and fails them afterwards.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::graph::{self, GraphError, Product};
use super::phone::{Bubble, Choice, Tick};
use super::{digits, webhook, Channel, Failure, Sandbox, StatusUpdate, DAY_MS};

/// Between an accepted send and its first status, and between statuses.
const STATUS_GAP: Duration = Duration::from_millis(30);

const MEDIA_TYPES: [&str; 5] = ["image", "document", "audio", "video", "sticker"];
const TYPES: [&str; 11] =
    ["text", "template", "image", "document", "audio", "video", "sticker", "location", "interactive", "reaction", "contacts"];

pub(super) fn send(sandbox: &Sandbox, body: Value) -> Result<Response, GraphError> {
    match body.get("messaging_product").and_then(Value::as_str) {
        Some("whatsapp") => {}
        None => return Err(GraphError::parameter_required(Product::WhatsApp, "messaging_product")),
        Some(other) => {
            return Err(GraphError::invalid_parameter(Product::WhatsApp, format!("messaging_product must be \"whatsapp\", not {other:?}")))
        }
    }
    if body.get("status").is_some() {
        return mark_read(sandbox, &body);
    }
    let failure = sandbox.take_failure();
    if let Some(error) = failure.and_then(|f| GraphError::for_failure(f, Product::WhatsApp)) {
        return Err(error);
    }
    let message = validate(&body)?;
    let wa_id = digits(&message.to);
    let wamid = graph::wamid(&wa_id, true);
    let now = crate::now_ms();
    let refused = failure == Some(Failure::OutsideWindow) || (!message.template && !sandbox.within_window(&wa_id, now, DAY_MS));
    {
        let mut world = sandbox.world();
        world.outbound.insert(wamid.clone(), (Channel::WhatsApp, wa_id.clone()));
        if !refused {
            let mut bubble = message.bubble;
            bubble.id = wamid.clone();
            bubble.at = now;
            let thread = world.threads.entry((Channel::WhatsApp, wa_id.clone())).or_default();
            thread.typing_until = 0; // a reply dismisses the typing indicator (§6)
            thread.messages.push(bubble);
        }
    }
    let statuses = if refused {
        vec![StatusUpdate::re_engagement()]
    } else if sandbox.config().auto_statuses {
        vec![StatusUpdate::Sent, StatusUpdate::Delivered]
    } else {
        vec![]
    };
    if !statuses.is_empty() {
        let (sandbox, wamid) = (sandbox.clone(), wamid.clone());
        sandbox.clone().spawn(async move {
            for status in statuses {
                tokio::time::sleep(STATUS_GAP).await;
                // A refused status webhook is recorded and logged; the next status still goes.
                let _ = sandbox.whatsapp_status(&wamid, status).await;
            }
        });
    }
    let answer = json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": message.to, "wa_id": wa_id}],
        "messages": [{"id": wamid, "message_status": "accepted"}],
    });
    Ok(Json(answer).into_response())
}

/// `{"status":"read","message_id":…}`: marks that customer message and the earlier ones read.
fn mark_read(sandbox: &Sandbox, body: &Value) -> Result<Response, GraphError> {
    let p = Product::WhatsApp;
    if body.get("status").and_then(Value::as_str) != Some("read") {
        return Err(GraphError::invalid_parameter(p, "status must be \"read\""));
    }
    let Some(message_id) = body.get("message_id").and_then(Value::as_str) else {
        return Err(GraphError::parameter_required(p, "message_id"));
    };
    let typing = match body.get("typing_indicator") {
        None => false,
        Some(t) if t.get("type").and_then(Value::as_str) == Some("text") => true,
        Some(_) => return Err(GraphError::invalid_parameter(p, "typing_indicator.type must be \"text\"")),
    };
    let now = crate::now_ms();
    let mut world = sandbox.world();
    let thread = world
        .threads
        .iter_mut()
        .filter(|((channel, _), _)| *channel == Channel::WhatsApp)
        .map(|(_, thread)| thread)
        .find(|thread| thread.messages.iter().any(|b| b.mine && b.id == message_id));
    let Some(thread) = thread else {
        return Err(GraphError::invalid_parameter(p, format!("message_id {message_id} is not a message this number received")));
    };
    let upto = thread.messages.iter().position(|b| b.mine && b.id == message_id).unwrap_or(0);
    for bubble in thread.messages[..=upto].iter_mut().filter(|b| b.mine) {
        bubble.tick.raise(Tick::Read);
    }
    if typing {
        // Dismissed by the next send, or after 25 s (§6).
        thread.typing_until = now + 25_000;
    }
    drop(world);
    sandbox.inner.changed.send_modify(|v| *v += 1);
    Ok(Json(json!({"success": true})).into_response())
}

/// A send that passed the checks.
struct Checked {
    to: String,
    template: bool,
    bubble: Bubble,
}

fn validate(body: &Value) -> Result<Checked, GraphError> {
    let p = Product::WhatsApp;
    let to = match body.get("to").and_then(Value::as_str) {
        Some(to) if !digits(to).is_empty() && to.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)) => to,
        Some(to) => return Err(GraphError::invalid_parameter(p, format!("to {to:?} is not a phone number or wa_id"))),
        None => return Err(GraphError::parameter_required(p, "to")),
    };
    if let Some(kind) = body.get("recipient_type") {
        if kind.as_str() != Some("individual") {
            return Err(GraphError::invalid_parameter(p, "recipient_type must be \"individual\""));
        }
    }
    // Meta defaults a missing type to text.
    let kind = body.get("type").map_or(Some("text"), Value::as_str).unwrap_or("");
    if !TYPES.contains(&kind) {
        return Err(GraphError::invalid_parameter(p, format!("type {kind:?} must be one of {}", TYPES.join(", "))));
    }
    // `contacts` is the one type whose object is an array.
    let Some(object) = body.get(kind).filter(|o| o.is_object() || (kind == "contacts" && o.is_array())) else {
        return Err(GraphError::parameter_required(p, kind));
    };
    if let Some(context) = body.get("context") {
        if kind == "reaction" {
            return Err(GraphError::invalid_parameter(p, "context is not allowed on reactions"));
        }
        if !context.get("message_id").is_some_and(Value::is_string) {
            return Err(GraphError::parameter_required(p, "context.message_id"));
        }
    }
    let mut bubble = Bubble::business(kind, "");
    match kind {
        "text" => {
            let text = required_str(object, "text.body", "body")?;
            if text.chars().count() > 4096 {
                return Err(GraphError::invalid_parameter(p, "text.body is longer than 4096 characters"));
            }
            if object.get("preview_url").is_some_and(|v| !v.is_boolean()) {
                return Err(GraphError::invalid_parameter(p, "text.preview_url must be a boolean"));
            }
            bubble.text = text.to_owned();
        }
        "template" => {
            let name = required_str(object, "template.name", "name")?;
            let language = object.get("language").and_then(|l| l.get("code")).and_then(Value::as_str);
            if language.is_none_or(str::is_empty) {
                return Err(GraphError::parameter_required(p, "template.language.code"));
            }
            let mut parameters = Vec::new();
            if let Some(components) = object.get("components") {
                let Some(components) = components.as_array() else {
                    return Err(GraphError::invalid_parameter(p, "template.components must be an array"));
                };
                for component in components {
                    if !component.get("type").is_some_and(Value::is_string) {
                        return Err(GraphError::parameter_required(p, "template.components[].type"));
                    }
                    for parameter in component.get("parameters").and_then(Value::as_array).into_iter().flatten() {
                        match parameter.get("type").and_then(Value::as_str) {
                            Some("text") => parameters.push(required_str(parameter, "parameters[].text", "text")?.to_owned()),
                            Some(_) => parameters.push("…".into()),
                            None => return Err(GraphError::parameter_required(p, "parameters[].type")),
                        }
                    }
                }
            }
            bubble.text = if parameters.is_empty() { format!("[{name}]") } else { format!("[{name}] {}", parameters.join(" · ")) };
        }
        kind if MEDIA_TYPES.contains(&kind) => {
            let link = object.get("link").and_then(Value::as_str);
            let id = object.get("id").and_then(Value::as_str);
            match (link, id) {
                (Some(link), None) if link.starts_with("https://") || link.starts_with("http://") => {}
                (Some(_), None) => return Err(GraphError::invalid_parameter(p, format!("{kind}.link must be an http(s) URL"))),
                (None, Some(id)) if !id.is_empty() => {}
                (Some(_), Some(_)) => return Err(GraphError::invalid_parameter(p, format!("{kind} takes link or id, not both"))),
                _ => return Err(GraphError::parameter_required(p, &format!("{kind}.link or {kind}.id"))),
            }
            let caption = object.get("caption").and_then(Value::as_str);
            if caption.is_some() && matches!(kind, "audio" | "sticker") {
                return Err(GraphError::invalid_parameter(p, format!("{kind} messages have no caption")));
            }
            if caption.is_some_and(|c| c.chars().count() > 1024) {
                return Err(GraphError::invalid_parameter(p, "caption is longer than 1024 characters"));
            }
            if object.get("filename").is_some() && kind != "document" {
                return Err(GraphError::invalid_parameter(p, "filename is only for documents"));
            }
            let filename = object.get("filename").and_then(Value::as_str);
            bubble.text = caption.unwrap_or_default().to_owned();
            bubble.media = Some(super::phone::MediaView {
                url: link.map(str::to_owned),
                mime_type: None,
                filename: filename.map(str::to_owned).or_else(|| Some(kind.to_owned())),
            });
        }
        "location" => {
            let (Some(lat), Some(lon)) =
                (object.get("latitude").and_then(Value::as_f64), object.get("longitude").and_then(Value::as_f64))
            else {
                return Err(GraphError::parameter_required(p, "location.latitude and location.longitude"));
            };
            let name = object.get("name").and_then(Value::as_str).unwrap_or("Location");
            bubble.text = format!("📍 {name} ({lat:.5}, {lon:.5})");
        }
        "interactive" => {
            let (text, choices) = interactive(object)?;
            bubble.text = text;
            bubble.choices = choices;
        }
        "reaction" => {
            required_str(object, "reaction.message_id", "message_id")?;
            let Some(emoji) = object.get("emoji").and_then(Value::as_str) else {
                return Err(GraphError::parameter_required(p, "reaction.emoji"));
            };
            bubble.text = if emoji.is_empty() { "removed a reaction".into() } else { format!("reacted {emoji}") };
        }
        _ => {
            if object.as_array().is_none_or(Vec::is_empty) {
                return Err(GraphError::parameter_required(p, "contacts[]"));
            }
            bubble.text = "👤 contact card".into();
        }
    }
    Ok(Checked { to: to.to_owned(), template: kind == "template", bubble })
}

/// Interactive buttons / list (§6): the body text and the choices the customer can tap.
fn interactive(object: &Value) -> Result<(String, Vec<Choice>), GraphError> {
    let p = Product::WhatsApp;
    let kind = required_str(object, "interactive.type", "type")?;
    let text = object.pointer("/body/text").and_then(Value::as_str);
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Err(GraphError::parameter_required(p, "interactive.body.text"));
    };
    let Some(action) = object.get("action") else {
        return Err(GraphError::parameter_required(p, "interactive.action"));
    };
    let mut choices = Vec::new();
    match kind {
        "button" => {
            let buttons = action.get("buttons").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(GraphError::invalid_parameter(p, "interactive.action.buttons must hold 1 to 3 buttons"));
            }
            for button in buttons {
                let reply = button.get("reply").unwrap_or(&Value::Null);
                choices.push(Choice {
                    id: required_str(reply, "buttons[].reply.id", "id")?.to_owned(),
                    title: required_str(reply, "buttons[].reply.title", "title")?.to_owned(),
                    description: None,
                    list: false,
                });
            }
        }
        "list" => {
            let sections = action.get("sections").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            for row in sections.iter().flat_map(|s| s.get("rows").and_then(Value::as_array).into_iter().flatten()) {
                choices.push(Choice {
                    id: required_str(row, "rows[].id", "id")?.to_owned(),
                    title: required_str(row, "rows[].title", "title")?.to_owned(),
                    description: row.get("description").and_then(Value::as_str).map(str::to_owned),
                    list: true,
                });
            }
            if choices.is_empty() || choices.len() > 10 {
                return Err(GraphError::invalid_parameter(p, "interactive.action.sections must hold 1 to 10 rows"));
            }
        }
        // CTA URLs, flows, product lists: shown as text only.
        _ => {}
    }
    Ok((text.to_owned(), choices))
}

fn required_str<'a>(object: &'a Value, name: &str, key: &str) -> Result<&'a str, GraphError> {
    match object.get(key).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(GraphError::parameter_required(Product::WhatsApp, name)),
    }
}

/// A `statuses[]` item (§4.3).
pub(super) fn status_object(wamid: &str, recipient: &str, status: &StatusUpdate, at_ms: i64) -> Value {
    use StatusUpdate::*;
    let name = match status {
        Sent => "sent",
        Delivered => "delivered",
        Read => "read",
        Played => "played",
        Failed { .. } => "failed",
    };
    let mut object = json!({"id": wamid, "status": name, "timestamp": (at_ms / 1000).to_string(), "recipient_id": recipient});
    match status {
        Sent | Delivered => {
            object["conversation"] = json!({"id": conversation_id(recipient), "origin": {"type": "service"}});
            object["pricing"] = json!({"billable": true, "pricing_model": "CBP", "category": "service"});
        }
        Failed { code, title, details } => {
            object["errors"] = json!([{
                "code": code,
                "title": title,
                "message": title,
                "error_data": {"details": details},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }]);
        }
        Read | Played => {}
    }
    object
}

/// A stable per-customer conversation id (opaque to the relay).
fn conversation_id(recipient: &str) -> String {
    let hash = webhook::signature("conversation", recipient.as_bytes());
    hash["sha256=".len().."sha256=".len() + 32].to_owned()
}
