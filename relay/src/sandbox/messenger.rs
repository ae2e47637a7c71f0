//! `POST /{v}/me/messages` and `/{v}/{page-id}/messages` (§8): messages and sender actions,
//! checked like the Send API checks them, with the 24 h standard window and the 7-day
//! `HUMAN_AGENT` tag. An accepted message is echoed back by webhook (`is_echo`, same mid) and, with
//! `auto_statuses`, followed by a delivery watermark.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::graph::{self, GraphError, Product};
use super::phone::{Bubble, Choice, MediaView, Tick};
use super::{webhook, Channel, Sandbox, DAY_MS};

const ECHO_DELAY: Duration = Duration::from_millis(30);
const TAGS: [&str; 4] = ["HUMAN_AGENT", "ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE"];

pub(super) fn send(sandbox: &Sandbox, body: Value) -> Result<Response, GraphError> {
    let p = Product::Messenger;
    let Some(psid) = body.pointer("/recipient/id").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
        return Err(GraphError::parameter_required(p, "recipient.id"));
    };
    if let Some(action) = body.get("sender_action") {
        if body.get("message").is_some() {
            return Err(GraphError::invalid_parameter(p, "sender_action cannot be sent with message"));
        }
        return sender_action(sandbox, psid, action.as_str().unwrap_or_default());
    }
    let Some(message) = body.get("message").filter(|m| m.is_object()) else {
        return Err(GraphError::parameter_required(p, "message"));
    };
    let failure = sandbox.take_failure();
    if let Some(error) = failure.and_then(|f| GraphError::for_failure(f, p)) {
        return Err(error);
    }
    let window = match (body.get("messaging_type").and_then(Value::as_str), body.get("tag").and_then(Value::as_str)) {
        (None, _) => return Err(GraphError::parameter_required(p, "messaging_type")),
        (Some("RESPONSE" | "UPDATE"), None) => Some(DAY_MS),
        (Some("RESPONSE" | "UPDATE"), Some(_)) => return Err(GraphError::invalid_parameter(p, "tag is only allowed with MESSAGE_TAG")),
        (Some("MESSAGE_TAG"), None) => return Err(GraphError::parameter_required(p, "tag")),
        (Some("MESSAGE_TAG"), Some("HUMAN_AGENT")) => Some(7 * DAY_MS),
        (Some("MESSAGE_TAG"), Some(tag)) if TAGS.contains(&tag) => None,
        (Some("MESSAGE_TAG"), Some(tag)) => return Err(GraphError::invalid_parameter(p, format!("tag {tag} is not a valid message tag"))),
        (Some(other), _) => {
            return Err(GraphError::invalid_parameter(p, format!("messaging_type {other} must be RESPONSE, UPDATE or MESSAGE_TAG")))
        }
    };
    let mut bubble = validate(message)?;
    let now = crate::now_ms();
    let known = sandbox.world().last_inbound.contains_key(psid);
    if !known {
        return Err(GraphError::no_matching_user());
    }
    if window.is_some_and(|w| !sandbox.within_window(psid, now, w)) {
        return Err(GraphError::messenger_outside_window());
    }

    let mid = graph::mid();
    bubble.id = mid.clone();
    bubble.at = now;
    let echo_body = echo_message(sandbox, message, &mid);
    {
        let mut world = sandbox.world();
        world.outbound.insert(mid.clone(), (Channel::Messenger, psid.to_owned()));
        let thread = world.threads.entry((Channel::Messenger, psid.to_owned())).or_default();
        thread.typing_until = 0; // a message clears the typing indicator
        thread.messages.push(bubble);
    }
    sandbox.inner.changed.send_modify(|v| *v += 1);

    let (background, psid_owned, mid_owned) = (sandbox.clone(), psid.to_owned(), mid.clone());
    sandbox.spawn(async move {
        tokio::time::sleep(ECHO_DELAY).await;
        let config = background.config();
        // An echo goes from the page to the user (§7): sender and recipient swapped.
        let echo = json!({
            "sender": {"id": config.page_id},
            "recipient": {"id": psid_owned},
            "timestamp": now,
            "message": echo_body,
        });
        let _ = background.post_webhook(Channel::Messenger, webhook::page_envelope(config, crate::now_ms(), vec![echo])).await;
        if config.auto_statuses {
            tokio::time::sleep(ECHO_DELAY).await;
            let _ = background.messenger_delivery(&psid_owned, &[mid_owned.as_str()], now).await;
        }
    });
    Ok(Json(json!({"recipient_id": psid, "message_id": mid})).into_response())
}

/// `mark_seen`, `typing_on`, `typing_off`: shown on the phone page; answered with the recipient.
fn sender_action(sandbox: &Sandbox, psid: &str, action: &str) -> Result<Response, GraphError> {
    let now = crate::now_ms();
    {
        let mut world = sandbox.world();
        let thread = world.threads.entry((Channel::Messenger, psid.to_owned())).or_default();
        match action {
            "mark_seen" => thread.messages.iter_mut().filter(|b| b.mine).for_each(|b| b.tick.raise(Tick::Read)),
            // Typing clears itself after 20 s (§8).
            "typing_on" => thread.typing_until = now + 20_000,
            "typing_off" => thread.typing_until = 0,
            other => {
                return Err(GraphError::invalid_parameter(
                    Product::Messenger,
                    format!("sender_action {other:?} must be mark_seen, typing_on or typing_off"),
                ))
            }
        }
    }
    sandbox.inner.changed.send_modify(|v| *v += 1);
    Ok(Json(json!({"recipient_id": psid})).into_response())
}

fn validate(message: &Value) -> Result<Bubble, GraphError> {
    let p = Product::Messenger;
    let text = message.get("text");
    let attachment = message.get("attachment");
    let mut bubble = Bubble::business("text", "");
    match (text, attachment) {
        (Some(_), Some(_)) => return Err(GraphError::invalid_parameter(p, "message takes text or attachment, not both")),
        (None, None) => return Err(GraphError::invalid_parameter(p, "param message must have text or attachment")),
        (Some(text), None) => {
            let Some(text) = text.as_str().filter(|t| !t.is_empty()) else {
                return Err(GraphError::invalid_parameter(p, "message.text must be a non-empty string"));
            };
            if text.chars().count() >= 2000 {
                return Err(GraphError::invalid_parameter(p, "message.text must be shorter than 2000 characters"));
            }
            bubble.text = text.to_owned();
        }
        (None, Some(attachment)) => {
            let kind = attachment.get("type").and_then(Value::as_str).unwrap_or_default();
            if !["image", "audio", "video", "file", "template"].contains(&kind) {
                return Err(GraphError::invalid_parameter(p, "attachment.type must be image, audio, video, file or template"));
            }
            let payload = attachment.get("payload").unwrap_or(&Value::Null);
            let url = payload.get("url").and_then(Value::as_str);
            if kind != "template" && url.is_none() && payload.get("attachment_id").is_none() {
                return Err(GraphError::parameter_required(p, "attachment.payload.url or attachment.payload.attachment_id"));
            }
            bubble.kind = kind.to_owned();
            bubble.media = Some(MediaView {
                url: url.map(str::to_owned),
                mime_type: None,
                filename: url.and_then(|u| u.rsplit('/').next()).map(str::to_owned).or_else(|| Some(kind.to_owned())),
            });
        }
    }
    if let Some(metadata) = message.get("metadata") {
        if metadata.as_str().is_none_or(|m| m.chars().count() > 1000) {
            return Err(GraphError::invalid_parameter(p, "message.metadata must be a string of at most 1000 characters"));
        }
    }
    if let Some(replies) = message.get("quick_replies") {
        let replies = replies.as_array().map(Vec::as_slice).unwrap_or_default();
        if replies.is_empty() || replies.len() > 13 {
            return Err(GraphError::invalid_parameter(p, "message.quick_replies must hold 1 to 13 replies"));
        }
        for reply in replies {
            let kind = reply.get("content_type").and_then(Value::as_str);
            let title = reply.get("title").and_then(Value::as_str);
            let payload = reply.get("payload").and_then(Value::as_str).or_else(|| reply.get("payload").map(|_| ""));
            match (kind, title) {
                (Some("text"), Some(title)) if !title.is_empty() => bubble.choices.push(Choice {
                    id: payload.unwrap_or(title).to_owned(),
                    title: title.to_owned(),
                    description: None,
                    list: false,
                }),
                // Phone-number / email quick replies: not shown on the sandbox phone.
                (Some("user_phone_number" | "user_email"), _) => {}
                _ => return Err(GraphError::invalid_parameter(p, "each quick reply needs content_type text and a title")),
            }
        }
    }
    Ok(bubble)
}

/// The `message` of an echo: the content as sent, plus `is_echo`, `app_id`, the mid and `metadata`.
fn echo_message(sandbox: &Sandbox, message: &Value, mid: &str) -> Value {
    let app_id: Value = sandbox.config().app_id.parse::<u64>().map(Value::from).unwrap_or_else(|_| sandbox.config().app_id.clone().into());
    let mut echo = json!({"is_echo": true, "app_id": app_id, "mid": mid});
    if let Some(metadata) = message.get("metadata") {
        echo["metadata"] = metadata.clone();
    }
    if let Some(text) = message.get("text") {
        echo["text"] = text.clone();
    }
    if let Some(attachment) = message.get("attachment") {
        let kind = attachment.get("type").cloned().unwrap_or(Value::Null);
        let url = attachment.pointer("/payload/url").cloned().unwrap_or(Value::Null);
        echo["attachments"] = json!([{"type": kind, "payload": {"url": url}}]);
    }
    echo
}
