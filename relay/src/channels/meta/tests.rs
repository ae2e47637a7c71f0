//! Every fixture in `relay/tests/fixtures/meta`, plus the batching, tolerance and ordering cases
//! CONTRACTS §3 and §14 warn about.

use serde_json::{json, Value};
use shared::Channel;

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/meta/", $name))
    };
}

const PHONE_NUMBER_ID: &str = "208765432109876";
const PAGE_ID: &str = "104455667788990";
const PSID: &str = "7012345678901234";

fn parse(raw: &str) -> InboundBatch {
    parse_webhook(raw.as_bytes()).expect("the body parses")
}

/// The events of a batch that must have skipped nothing.
fn events(raw: &str) -> Vec<InboundEvent> {
    let batch = parse(raw);
    assert_eq!(batch.skipped, vec![], "nothing skipped");
    batch.events
}

fn only_message(raw: &str) -> InboundMessage {
    match events(raw).as_slice() {
        [InboundEvent::Message(m)] => m.clone(),
        other => panic!("expected one message, got {other:?}"),
    }
}

/// The one event of a batch that must have skipped nothing.
fn one(raw: &str) -> InboundEvent {
    let mut events = events(raw);
    assert_eq!(events.len(), 1, "{events:?}");
    events.remove(0)
}

fn json_of(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap()
}

/// A WhatsApp webhook with one change holding `value` (metadata added).
fn wa_body(mut value: Value) -> String {
    value["messaging_product"] = "whatsapp".into();
    value["metadata"] = json!({ "display_phone_number": "15550142277", "phone_number_id": PHONE_NUMBER_ID });
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "310987654321098", "changes": [{ "field": "messages", "value": value }] }]
    })
    .to_string()
}

fn wa_message(id: &str, kind: &str, content: Value) -> Value {
    let mut m = json!({ "from": "447700900456", "id": id, "timestamp": "1767264000", "type": kind });
    m[kind] = content;
    m
}

/// A Page webhook with one entry holding `messaging`.
fn page_body(messaging: Value) -> String {
    json!({ "object": "page", "entry": [{ "id": PAGE_ID, "time": 1767263000999_i64, "messaging": messaging }] })
        .to_string()
}

fn page_message(mid: &str, message: Value) -> Value {
    let mut message = message;
    message["mid"] = mid.into();
    json!({ "sender": { "id": PSID }, "recipient": { "id": PAGE_ID }, "timestamp": 1767263000123_i64, "message": message })
}

// ---------------------------------------------------------------------------------------------
// WhatsApp inbound fixtures

#[test]
fn the_whatsapp_text_fixture_is_a_quoted_reply_with_non_ascii_text() {
    assert_eq!(
        only_message(fixture!("whatsapp_text.json")),
        InboundMessage {
            channel: Channel::Whatsapp,
            account: PHONE_NUMBER_ID.into(),
            sender: "61491570156".into(),
            sender_name: Some("Tomás Ferreira".into()),
            platform_id: "wamid.HBgMNjE0OTE1NzAxNTYVAgASGBQzQTdDOTJFMUY0MDg1QjZEMjM5OAA=".into(),
            timestamp_ms: 1_767_263_405_000,
            body: InboundBody::Text {
                text: "Olá! Is the blue kettle back in stock? It's for order A-5521 ☕".into()
            },
            reply_to: Some("wamid.HBgMNjE0OTE1NzAxNTYVAgARGBI5QjdFNDQwQzFBODNEMjJGMEUA".into()),
            referral: None,
        }
    );
}

#[test]
fn the_whatsapp_image_fixture_is_a_captioned_photo_fetched_by_media_id() {
    let m = only_message(fixture!("whatsapp_image.json"));
    assert_eq!(
        m.body,
        InboundBody::Media {
            kind: MediaKind::Image,
            source: MediaSource::WhatsAppId("1290384756102938".into()),
            mime: Some("image/jpeg".into()),
            caption: Some("The lid arrived cracked".into()),
            filename: None,
            sha256: Some("07AXvqJAlr81mOwriPkKH3PgcI7ooUgCulfaSTaB9+g=".into()),
        }
    );
    assert_eq!(m.body.display_text(), "The lid arrived cracked");
    assert_eq!(m.platform_id, "wamid.HBgMNDQ3NzAwOTAwNDU2FQIAEhgUM0IxRDg4QzA1RTdGNjJBOTQ0MEEA");
    assert_eq!((m.sender.as_str(), m.sender_name.as_deref()), ("447700900456", Some("Priya Raman")));
    assert_eq!(m.timestamp_ms, 1_767_263_611_000);
    assert_eq!(m.reply_to, None);
}

#[test]
fn the_whatsapp_document_fixture_keeps_its_filename_and_caption() {
    let m = only_message(fixture!("whatsapp_document.json"));
    assert_eq!(
        m.body,
        InboundBody::Media {
            kind: MediaKind::Document,
            source: MediaSource::WhatsAppId("1384756102938475".into()),
            mime: Some("application/pdf".into()),
            caption: Some("Warranty card, front and back".into()),
            filename: Some("warranty-card.pdf".into()),
            sha256: Some("/5C5O4wGJe71zKhu2PGW6sY2fj5s8iCLEYQzb8loUxw=".into()),
        }
    );
    assert_eq!(m.platform_id, "wamid.HBgMNDQ3NzAwOTAwNDU2FQIAEhgUM0M1NTIwRjlCOTA2MTdEQTgzRTEA");
    assert_eq!(m.timestamp_ms, 1_767_263_702_000);
}

#[test]
fn the_whatsapp_location_fixture_reads_as_a_named_place() {
    let m = only_message(fixture!("whatsapp_location.json"));
    assert_eq!(
        m.body,
        InboundBody::Location {
            lat: 52.3791283,
            lon: 4.8980833,
            name: Some("Depot Noord (pick-up desk)".into()),
            address: Some("Kraanspoor 12, 1033 SE Amsterdam".into()),
        }
    );
    assert_eq!(m.body.display_text(), "📍 Depot Noord (pick-up desk), Kraanspoor 12, 1033 SE Amsterdam");
    assert_eq!(m.platform_id, "wamid.HBgMNDQ3NzAwOTAwNDU2FQIAEhgUM0Q5OTQxQTdCMkM4RTUwNjFGNzIA");
}

#[test]
fn the_whatsapp_interactive_fixture_yields_a_button_reply_and_a_list_reply() {
    let events = events(fixture!("whatsapp_interactive_reply.json"));
    let interactive = "wamid.HBgMNDQ3NzAwOTAwNDU2FQIAERgSQzNGMDFBOUU3RDIyQjQ1NkUxAA==";
    let summary: Vec<_> = events
        .iter()
        .map(|e| match e {
            InboundEvent::Message(m) => (m.platform_id.as_str(), m.timestamp_ms, m.body.clone(), m.reply_to.as_deref()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "wamid.HBgMNDQ3NzAwOTAwNDU2FQIAEhgUM0Y2MTBEOEE0RTIyQjk3QzE1NTMA",
                1_767_264_010_000,
                InboundBody::Reply { title: "Refund please".into(), payload: "btn-refund".into() },
                Some(interactive),
            ),
            (
                "wamid.HBgMNDQ3NzAwOTAwNDU2FQIAEhgUNDA3N0MzMkYxOUIwQTRFODVENjYA",
                1_767_264_043_000,
                InboundBody::Reply { title: "Thursday morning".into(), payload: "slot-thu-am".into() },
                Some(interactive),
            ),
        ]
    );
}

#[test]
fn the_whatsapp_delivered_fixture_is_a_delivered_status() {
    assert_eq!(
        events(fixture!("whatsapp_status_delivered.json")),
        vec![InboundEvent::Status(StatusUpdate {
            channel: Channel::Whatsapp,
            account: PHONE_NUMBER_ID.into(),
            platform_id: "wamid.HBgMNDQ3NzAwOTAwNDU2FQIAERgSQzNGMDFBOUU3RDIyQjQ1NkUxAA==".into(),
            recipient: "447700900456".into(),
            status: DeliveryStatus::Delivered,
            timestamp_ms: 1_767_262_950_000,
        })]
    );
}

#[test]
fn the_whatsapp_read_fixture_is_a_read_status() {
    assert_eq!(
        events(fixture!("whatsapp_status_read.json")),
        vec![InboundEvent::Status(StatusUpdate {
            channel: Channel::Whatsapp,
            account: PHONE_NUMBER_ID.into(),
            platform_id: "wamid.HBgMNDQ3NzAwOTAwNDU2FQIAERgSQzNGMDFBOUU3RDIyQjQ1NkUxAA==".into(),
            recipient: "447700900456".into(),
            status: DeliveryStatus::Read,
            timestamp_ms: 1_767_263_004_000,
        })]
    );
}

#[test]
fn the_whatsapp_failed_fixture_is_a_failed_status_outside_the_window() {
    let events = events(fixture!("whatsapp_status_failed.json"));
    let [InboundEvent::Status(status)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(
        status,
        &StatusUpdate {
            channel: Channel::Whatsapp,
            account: PHONE_NUMBER_ID.into(),
            platform_id: "wamid.HBgMNjE0OTE1NzAxNTYVAgARGBI5QjdFNDQwQzFBODNEMjJGMEUA".into(),
            recipient: "61491570156".into(),
            status: DeliveryStatus::Failed {
                code: Some(131047),
                title: Some("Re-engagement message".into()),
                details: Some("Free-form send refused: the customer's last message is older than 24 hours.".into()),
            },
            timestamp_ms: 1_767_350_011_000,
        }
    );
    let failure = status.failure().unwrap();
    assert!(matches!(failure, SendFailure::OutsideWindow { code: Some(131047), .. }), "{failure:?}");
    assert_eq!(failure, classify_failure(400, fixture!("err_whatsapp_131047.json").as_bytes()));
}

#[test]
fn the_whatsapp_batch_fixture_yields_both_messages_in_payload_order_with_their_own_names() {
    let events = events(fixture!("whatsapp_batch_two_messages.json"));
    let summary: Vec<_> = events
        .iter()
        .map(|e| match e {
            InboundEvent::Message(m) => {
                (m.sender.as_str(), m.sender_name.as_deref(), m.timestamp_ms, m.body.display_text())
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "447700900456",
                Some("Priya Raman"),
                1_767_264_402_000,
                "Also, can I change the delivery address?".to_owned()
            ),
            (
                "61491570156",
                Some("Tomás Ferreira"),
                1_767_264_398_000,
                "Obrigado, I'll wait for the restock.".to_owned()
            ),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Messenger inbound fixtures

#[test]
fn the_messenger_text_fixture_is_a_reply_with_an_emoji_from_a_surrogate_pair() {
    assert_eq!(
        only_message(fixture!("messenger_text.json")),
        InboundMessage {
            channel: Channel::Messenger,
            account: PAGE_ID.into(),
            sender: PSID.into(),
            sender_name: None,
            platform_id: "m_Qk9yZWxheS1maXh0dXJlLXRleHQtMDAwMQ".into(),
            timestamp_ms: 1_767_263_412_881,
            body: InboundBody::Text { text: "Hi, my parcel shows delivered but nothing came 😕".into() },
            reply_to: Some("m_Qk9yZWxheS1maXh0dXJlLW91dC0wMDA5".into()),
            referral: None,
        }
    );
}

#[test]
fn the_messenger_image_fixture_unescapes_its_cdn_url() {
    let m = only_message(fixture!("messenger_attachment_image.json"));
    assert_eq!(
        m.body,
        InboundBody::Media {
            kind: MediaKind::Image,
            source: MediaSource::Url(
                "https://scontent.xx.fbcdn.net/v/t1.15752-9/fixture_kettle_box_n.jpg?_nc_cat=1&ccb=1-7&oh=00_AfFIXTUREoh&oe=69A1B2C3"
                    .into()
            ),
            mime: None,
            caption: None,
            filename: None,
            sha256: None,
        }
    );
    assert_eq!(m.body.display_text(), "📷 Photo");
    assert_eq!(m.platform_id, "m_Qk9yZWxheS1maXh0dXJlLWltZy0wMDA0");
    assert_eq!(m.timestamp_ms, 1_767_263_480_212);
}

#[test]
fn the_messenger_quick_reply_fixture_is_a_reply_with_its_payload() {
    let m = only_message(fixture!("messenger_quick_reply.json"));
    assert_eq!(m.body, InboundBody::Reply { title: "Track my order".into(), payload: "QR_TRACK_ORDER".into() });
    assert_eq!(m.body.display_text(), "Track my order");
    assert_eq!(m.platform_id, "m_Qk9yZWxheS1maXh0dXJlLXFyLTAwMDI");
    assert_eq!(m.timestamp_ms, 1_767_263_520_114);
}

#[test]
fn the_messenger_postback_fixture_is_a_reply_keyed_on_its_mid() {
    assert_eq!(
        only_message(fixture!("messenger_postback.json")),
        InboundMessage {
            channel: Channel::Messenger,
            account: PAGE_ID.into(),
            sender: PSID.into(),
            sender_name: None,
            platform_id: "m_Qk9yZWxheS1maXh0dXJlLXBiLTAwMDM".into(),
            timestamp_ms: 1_767_263_601_552,
            body: InboundBody::Reply { title: "Talk to an advisor".into(), payload: "HANDOFF_HUMAN".into() },
            reply_to: None,
            referral: None,
        }
    );
}

#[test]
fn the_messenger_delivery_fixture_is_a_delivered_watermark_with_its_mids() {
    assert_eq!(
        events(fixture!("messenger_delivery.json")),
        vec![InboundEvent::Watermark(Watermark {
            channel: Channel::Messenger,
            account: PAGE_ID.into(),
            sender: PSID.into(),
            kind: WatermarkKind::Delivered,
            watermark_ms: 1_767_263_700_123,
            mids: vec!["m_Qk9yZWxheS1maXh0dXJlLW91dC0wMDEw".into()],
            timestamp_ms: None,
        })]
    );
}

#[test]
fn the_messenger_read_fixture_is_a_read_watermark() {
    assert_eq!(
        events(fixture!("messenger_read.json")),
        vec![InboundEvent::Watermark(Watermark {
            channel: Channel::Messenger,
            account: PAGE_ID.into(),
            sender: PSID.into(),
            kind: WatermarkKind::Read,
            watermark_ms: 1_767_263_700_123,
            mids: vec![],
            timestamp_ms: Some(1_767_263_755_873),
        })]
    );
}

#[test]
fn the_messenger_echo_fixture_is_an_echo_the_relay_can_match_to_its_send() {
    let echo = Echo {
        channel: Channel::Messenger,
        account: PAGE_ID.into(),
        recipient: PSID.into(),
        platform_id: "m_Qk9yZWxheS1maXh0dXJlLW91dC0wMDEw".into(),
        app_id: Some("2233445566778899".into()),
        metadata: Some("relay-out:9c41e2".into()),
        timestamp_ms: 1_767_263_699_990,
        body: InboundBody::Text { text: "Sorry about that! I've opened a claim for you.".into() },
    };
    assert_eq!(events(fixture!("messenger_echo.json")), vec![InboundEvent::Echo(echo)]);
}

#[test]
fn the_echoed_mid_is_the_one_the_delivery_receipt_names() {
    let InboundEvent::Echo(echo) = one(fixture!("messenger_echo.json")) else { panic!() };
    let InboundEvent::Watermark(receipt) = one(fixture!("messenger_delivery.json")) else { panic!() };
    assert_eq!(receipt.mids, vec![echo.platform_id.clone()]);
    assert!(echo.timestamp_ms <= receipt.watermark_ms);
}

// ---------------------------------------------------------------------------------------------
// Bodies that are not WhatsApp or Page webhooks

#[test]
fn an_instagram_webhook_is_refused_as_an_object_not_handled_yet() {
    assert_eq!(
        parse_webhook(fixture!("instagram_text.json").as_bytes()),
        Err(PayloadError::UnknownObject("instagram".into()))
    );
}

#[test]
fn a_telegram_update_is_refused_as_not_a_meta_webhook() {
    assert_eq!(parse_webhook(fixture!("telegram_text_update.json").as_bytes()), Err(PayloadError::MissingObject));
}

#[test]
fn a_form_encoded_twilio_body_is_refused_as_not_json() {
    assert!(matches!(parse_webhook(fixture!("twilio_sms_inbound.txt").as_bytes()), Err(PayloadError::NotJson(_))));
}

#[test]
fn a_body_that_is_not_a_json_object_is_refused() {
    assert!(matches!(parse_webhook(b""), Err(PayloadError::NotJson(_))));
    assert!(matches!(parse_webhook(b"{\"object\":\"page\""), Err(PayloadError::NotJson(_))));
    assert!(matches!(parse_webhook(b"[{\"object\":\"page\"}]"), Err(PayloadError::NotJson(_))));
    assert_eq!(parse_webhook(br#"{"object":42}"#), Err(PayloadError::MissingObject));
}

#[test]
fn a_known_object_without_entries_parses_to_nothing_but_a_skipped_note() {
    let batch = parse(r#"{"object":"page"}"#);
    assert_eq!(batch.events, vec![]);
    assert_eq!(batch.skipped.len(), 1);
    assert_eq!(batch.skipped[0].reason, SkipReason::Malformed("no entry array".into()));
    assert_eq!(parse(r#"{"object":"whatsapp_business_account","entry":[]}"#), InboundBatch::default());
}

// ---------------------------------------------------------------------------------------------
// Signature and parsing together

#[test]
fn a_signed_body_with_unicode_escapes_and_escaped_slashes_verifies_and_parses() {
    let raw = concat!(
        r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"#,
        r#""messaging_product":"whatsapp","metadata":{"display_phone_number":"15550142277","phone_number_id":"208765432109876"},"#,
        r#""contacts":[{"profile":{"name":"Zo\u00eb \u5f20"},"wa_id":"447700900456"}],"#,
        r#""messages":[{"from":"447700900456","id":"wamid.X","timestamp":"1767264000","type":"text","#,
        r#""text":{"body":"see https:\/\/shop.example\/a \u2014 ok? \ud83d\udc4d"}}]}}]}]}"#
    );
    let header = sign(b"app-secret", raw.as_bytes());
    assert_eq!(verify_signature(b"app-secret", Some(&header), raw.as_bytes()), Ok(()));

    let m = only_message(raw);
    assert_eq!(m.sender_name.as_deref(), Some("Zoë 张"));
    assert_eq!(m.body, InboundBody::Text { text: "see https://shop.example/a — ok? 👍".into() });
}

#[test]
fn the_signed_fixtures_verify_over_their_raw_bytes_and_parse() {
    for raw in
        [fixture!("whatsapp_text.json"), fixture!("messenger_attachment_image.json"), fixture!("messenger_text.json")]
    {
        let header = sign(b"my-app-secret", raw.as_bytes());
        assert_eq!(verify_signature(b"my-app-secret", Some(&header), raw.as_bytes()), Ok(()));
        assert_eq!(verify_signature(b"my-app-secret", None, raw.as_bytes()), Err(SignatureError::MissingHeader));
        assert_eq!(parse(raw).events.len(), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Batches and failure isolation

#[test]
fn a_bad_message_inside_a_good_batch_is_skipped_and_the_rest_are_kept() {
    let raw = wa_body(json!({
        "contacts": [{ "profile": { "name": "Priya Raman" }, "wa_id": "447700900456" }],
        "messages": [
            { "from": "447700900456", "timestamp": "1767264000", "type": "text", "text": { "body": "no id" } },
            wa_message("wamid.GOOD", "text", json!({ "body": "fine" })),
            wa_message("wamid.NOIMAGEID", "image", json!({ "mime_type": "image/jpeg" })),
            { "from": "447700900456", "id": "wamid.BADTIME", "timestamp": "yesterday", "type": "text", "text": { "body": "x" } },
            "not even an object"
        ],
        "statuses": [
            { "id": "wamid.OUT", "status": "sent", "timestamp": "1767264001", "recipient_id": "447700900456" }
        ]
    }));
    let batch = parse(&raw);
    let ids: Vec<_> = batch
        .events
        .iter()
        .map(|e| match e {
            InboundEvent::Message(m) => m.platform_id.clone(),
            InboundEvent::Status(s) => format!("status {}", s.platform_id),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(ids, vec!["wamid.GOOD".to_owned(), "status wamid.OUT".to_owned()]);

    let reasons: Vec<_> = batch.skipped.iter().map(|s| s.reason.to_string()).collect();
    assert_eq!(
        reasons,
        vec![
            "malformed item: message without id",
            "malformed item: image message without image.id",
            "malformed item: message without a timestamp",
            "malformed item: message without id",
        ]
    );
    assert!(batch
        .skipped
        .iter()
        .all(|s| s.account.as_deref() == Some(PHONE_NUMBER_ID) && s.channel == Channel::Whatsapp));
    assert_eq!(batch.skipped[1].raw["id"], "wamid.NOIMAGEID");
}

#[test]
fn messages_and_statuses_mixed_across_entries_and_changes_are_all_read() {
    let metadata = json!({ "display_phone_number": "15550142277", "phone_number_id": PHONE_NUMBER_ID });
    let other_metadata = json!({ "display_phone_number": "15550142288", "phone_number_id": "208765432100000" });
    let raw = json!({
        "object": "whatsapp_business_account",
        "entry": [
            { "id": "310987654321098", "changes": [
                { "field": "messages", "value": { "metadata": metadata, "statuses": [
                    { "id": "wamid.OUT1", "status": "delivered", "timestamp": "1767264005", "recipient_id": "447700900456" },
                    { "id": "wamid.OUT1", "status": "read", "timestamp": "1767264009", "recipient_id": "447700900456" }
                ] } },
                { "field": "messages", "value": { "metadata": metadata,
                    "contacts": [{ "profile": { "name": "Priya Raman" }, "wa_id": "447700900456" }],
                    "messages": [wa_message("wamid.IN1", "text", json!({ "body": "one" })), wa_message("wamid.IN2", "text", json!({ "body": "two" }))]
                } }
            ] },
            { "id": "310987654321099", "changes": [
                { "field": "messages", "value": { "metadata": other_metadata,
                    "messages": [wa_message("wamid.IN3", "text", json!({ "body": "three" }))],
                    "statuses": [{ "id": "wamid.OUT2", "status": "sent", "timestamp": 1767264001, "recipient_id": "447700900456" }]
                } }
            ] }
        ]
    })
    .to_string();
    let keys: Vec<_> = events(&raw).iter().map(InboundEvent::dedup_key).collect();
    assert_eq!(
        keys,
        vec![
            "whatsapp:status:wamid.OUT1:delivered",
            "whatsapp:status:wamid.OUT1:read",
            "whatsapp:message:wamid.IN1",
            "whatsapp:message:wamid.IN2",
            "whatsapp:message:wamid.IN3",
            "whatsapp:status:wamid.OUT2:sent",
        ]
    );
    let accounts: Vec<_> = events(&raw)
        .iter()
        .filter_map(|e| match e {
            InboundEvent::Message(m) => Some(m.account.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(accounts, vec![PHONE_NUMBER_ID, PHONE_NUMBER_ID, "208765432100000"]);
}

#[test]
fn a_contact_is_matched_to_its_message_by_wa_id_not_by_position() {
    let raw = wa_body(json!({
        "contacts": [
            { "profile": { "name": "Tomás Ferreira" }, "wa_id": "61491570156" },
            { "profile": { "name": "Priya Raman" }, "wa_id": "447700900456" }
        ],
        "messages": [
            wa_message("wamid.P", "text", json!({ "body": "from Priya" })),
            { "from": "61491570156", "id": "wamid.T", "timestamp": "1767264001", "type": "text", "text": { "body": "from Tomás" } },
            { "from": "5511999990000", "id": "wamid.U", "timestamp": "1767264002", "type": "text", "text": { "body": "no contact" } }
        ]
    }));
    let names: Vec<_> = events(&raw)
        .into_iter()
        .map(|e| match e {
            InboundEvent::Message(m) => (m.sender, m.sender_name),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("447700900456".to_owned(), Some("Priya Raman".to_owned())),
            ("61491570156".to_owned(), Some("Tomás Ferreira".to_owned())),
            ("5511999990000".to_owned(), None),
        ]
    );
}

#[test]
fn a_change_for_another_field_is_skipped_as_not_handled_and_account_errors_become_events() {
    let raw = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "310987654321098", "changes": [
            { "field": "message_template_status_update", "value": { "event": "APPROVED", "message_template_name": "x" } },
            { "field": "messages", "value": {
                "metadata": { "phone_number_id": PHONE_NUMBER_ID },
                "errors": [{ "code": 131042, "title": "Business eligibility payment issue",
                             "error_data": { "details": "Add a payment method." } }]
            } },
            { "field": "messages", "value": { "messaging_product": "whatsapp", "messages": [] } }
        ] }]
    })
    .to_string();
    let batch = parse(&raw);
    assert_eq!(
        batch.events,
        vec![InboundEvent::AccountError(AccountError {
            channel: Channel::Whatsapp,
            account: PHONE_NUMBER_ID.into(),
            code: Some(131042),
            title: Some("Business eligibility payment issue".into()),
            details: Some("Add a payment method.".into()),
        })]
    );
    let reasons: Vec<_> = batch.skipped.iter().map(|s| s.reason.clone()).collect();
    assert_eq!(
        reasons,
        vec![
            SkipReason::NotHandled("change field \"message_template_status_update\"".into()),
            SkipReason::Malformed("change without metadata.phone_number_id".into()),
        ]
    );
}

#[test]
fn an_entry_without_changes_is_skipped_while_the_next_entry_is_read() {
    let good = json_of(fixture!("whatsapp_text.json"))["entry"][0].clone();
    let raw =
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "310987654321098" }, good] }).to_string();
    let batch = parse(&raw);
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.skipped.len(), 1);
    assert_eq!(batch.skipped[0].reason, SkipReason::Malformed("entry without a changes array".into()));
}

// ---------------------------------------------------------------------------------------------
// WhatsApp message types

#[test]
fn unknown_and_placeholder_whatsapp_types_are_kept_as_unsupported() {
    let raw = wa_body(json!({ "messages": [
        wa_message("wamid.1", "order", json!({ "catalog_id": "1", "product_items": [] })),
        { "from": "447700900456", "id": "wamid.2", "timestamp": "1767264000", "type": "unsupported",
          "errors": [{ "code": 131051, "title": "Message type unknown",
                       "error_data": { "details": "Message type is currently not supported." } }] },
        wa_message("wamid.3", "system", json!({ "body": "User A changed from 447700900456 to 447700900457", "type": "user_changed_number" })),
        { "from": "447700900456", "id": "wamid.4", "timestamp": "1767264000", "type": "contacts",
          "contacts": [{ "name": { "formatted_name": "Ana Lima", "first_name": "Ana" }, "phones": [] }] },
        wa_message("wamid.5", "interactive", json!({ "type": "nfm_reply", "nfm_reply": { "response_json": "{}" } })),
        wa_message("wamid.6", "hologram", json!({}))
    ] }));
    let bodies: Vec<_> = events(&raw)
        .into_iter()
        .map(|e| match e {
            InboundEvent::Message(m) => m.body,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let unsupported = |kind: &str, detail: Option<&str>| InboundBody::Unsupported {
        kind: kind.into(),
        detail: detail.map(Into::into),
    };
    assert_eq!(
        bodies,
        vec![
            unsupported("order", None),
            unsupported("unsupported", Some("Message type is currently not supported.")),
            unsupported("system", Some("User A changed from 447700900456 to 447700900457")),
            unsupported("contacts", Some("Ana Lima")),
            unsupported("interactive/nfm_reply", None),
            unsupported("hologram", None),
        ]
    );
    assert_eq!(bodies[0].display_text(), "Unsupported message (type: order)");
    assert_eq!(bodies[3].display_text(), "Unsupported message (type: contacts): Ana Lima");
}

#[test]
fn a_whatsapp_reaction_names_the_message_it_reacts_to_and_may_be_removed() {
    let raw = wa_body(json!({ "messages": [
        wa_message("wamid.R1", "reaction", json!({ "message_id": "wamid.OUT", "emoji": "\u{1F44D}" })),
        wa_message("wamid.R2", "reaction", json!({ "message_id": "wamid.OUT" }))
    ] }));
    let messages: Vec<_> = events(&raw)
        .into_iter()
        .map(|e| match e {
            InboundEvent::Message(m) => m,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(messages[0].body, InboundBody::Reaction { to: "wamid.OUT".into(), emoji: "👍".into() });
    assert_eq!(messages[0].body.display_text(), "Reacted 👍");
    assert_eq!(messages[1].body, InboundBody::Reaction { to: "wamid.OUT".into(), emoji: String::new() });
    assert_eq!(messages[1].body.display_text(), "Removed a reaction");
    assert!(messages.iter().all(|m| m.reply_to.is_none()));
}

#[test]
fn a_template_quick_reply_button_is_a_reply() {
    let mut button = wa_message("wamid.B", "button", json!({ "text": "Yes, reschedule", "payload": "RESCHEDULE_YES" }));
    button["context"] = json!({ "from": "15550142277", "id": "wamid.TEMPLATE" });
    let m = only_message(&wa_body(json!({ "messages": [button] })));
    assert_eq!(m.body, InboundBody::Reply { title: "Yes, reschedule".into(), payload: "RESCHEDULE_YES".into() });
    assert_eq!(m.reply_to.as_deref(), Some("wamid.TEMPLATE"));
}

#[test]
fn voice_notes_videos_and_stickers_are_media_by_id() {
    let raw = wa_body(json!({ "messages": [
        wa_message("wamid.A", "audio", json!({ "id": "11", "mime_type": "audio/ogg; codecs=opus", "sha256": "h", "voice": true })),
        wa_message("wamid.V", "video", json!({ "id": "12", "mime_type": "video/mp4" })),
        wa_message("wamid.S", "sticker", json!({ "id": "13", "mime_type": "image/webp", "animated": false }))
    ] }));
    let bodies: Vec<_> = events(&raw)
        .into_iter()
        .map(|e| match e {
            InboundEvent::Message(m) => (m.body.display_text(), m.body),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(bodies[0].0, "🎤 Audio");
    assert_eq!(
        bodies[0].1,
        InboundBody::Media {
            kind: MediaKind::Audio,
            source: MediaSource::WhatsAppId("11".into()),
            mime: Some("audio/ogg; codecs=opus".into()),
            caption: None,
            filename: None,
            sha256: Some("h".into()),
        }
    );
    assert_eq!(bodies[1].0, "🎥 Video");
    assert_eq!(bodies[2].0, "Sticker");
    assert!(
        matches!(&bodies[2].1, InboundBody::Media { kind: MediaKind::Sticker, source: MediaSource::WhatsAppId(id), .. } if id == "13")
    );
}

#[test]
fn a_forwarded_message_has_no_reply_to() {
    let mut m = wa_message("wamid.F", "text", json!({ "body": "fwd" }));
    m["context"] = json!({ "forwarded": true });
    assert_eq!(only_message(&wa_body(json!({ "messages": [m] }))).reply_to, None);
}

#[test]
fn played_counts_as_read_and_unknown_statuses_are_skipped() {
    let raw = wa_body(json!({ "statuses": [
        { "id": "wamid.V", "status": "played", "timestamp": "1767264010", "recipient_id": "447700900456" },
        { "id": "wamid.V", "status": "deleted", "timestamp": "1767264011", "recipient_id": "447700900456" },
        { "id": "wamid.V", "status": "read", "recipient_id": "447700900456" }
    ] }));
    let batch = parse(&raw);
    assert!(matches!(
        batch.events.as_slice(),
        [InboundEvent::Status(StatusUpdate { status: DeliveryStatus::Read, .. })]
    ));
    let reasons: Vec<_> = batch.skipped.iter().map(|s| s.reason.clone()).collect();
    assert_eq!(
        reasons,
        vec![
            SkipReason::NotHandled("status \"deleted\"".into()),
            SkipReason::Malformed("status without a timestamp".into()),
        ]
    );
}

#[test]
fn a_failed_status_with_a_code_the_table_lacks_falls_back_to_metas_words() {
    let raw = wa_body(json!({ "statuses": [{
        "id": "wamid.OUT", "status": "failed", "timestamp": "1767264010", "recipient_id": "447700900456",
        "errors": [{ "code": 131051, "title": "Unsupported message type", "message": "Unsupported message type" }]
    }] }));
    let InboundEvent::Status(status) = one(&raw) else { panic!() };
    assert_eq!(
        status.failure(),
        Some(SendFailure::Permanent {
            code: Some(131051),
            reason: "Meta refused the message: Unsupported message type".into()
        })
    );
    let undeliverable = StatusUpdate {
        status: DeliveryStatus::Failed {
            code: Some(131026),
            title: Some("Message undeliverable".into()),
            details: None,
        },
        ..status.clone()
    };
    assert!(undeliverable.failure().unwrap().reason().starts_with("WhatsApp could not deliver this message"));
    let delivered = StatusUpdate { status: DeliveryStatus::Delivered, ..status };
    assert_eq!(delivered.failure(), None);
}

// ---------------------------------------------------------------------------------------------
// Messenger message shapes

#[test]
fn a_messenger_message_with_several_attachments_becomes_one_message_per_attachment() {
    let raw = page_body(json!([page_message(
        "m_MULTI",
        json!({
            "text": "two photos and a pdf",
            "attachments": [
                { "type": "image", "payload": { "url": "https://cdn.example/1.jpg" } },
                { "type": "image", "payload": { "url": "https://cdn.example/2.jpg" } },
                { "type": "file", "payload": { "url": "https://cdn.example/claim.pdf" } }
            ]
        })
    )]));
    let parts: Vec<_> = events(&raw)
        .into_iter()
        .map(|e| match e {
            InboundEvent::Message(m) => (m.platform_id, m.body.display_text()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        parts,
        vec![
            ("m_MULTI".to_owned(), "two photos and a pdf".to_owned()),
            ("m_MULTI#2".to_owned(), "📷 Photo".to_owned()),
            ("m_MULTI#3".to_owned(), "📷 Photo".to_owned()),
            ("m_MULTI#4".to_owned(), "📄 Document".to_owned()),
        ]
    );
}

#[test]
fn a_sticker_sent_as_both_sticker_and_image_attachments_is_one_sticker() {
    let raw = page_body(json!([page_message(
        "m_STICKER",
        json!({
            "attachments": [
                { "type": "image", "payload": { "url": "https://cdn.example/s.png", "sticker_id": 369239263222822_i64 } },
                { "type": "sticker", "payload": { "url": "https://cdn.example/s.png", "sticker_id": 369239263222822_i64 } }
            ]
        })
    )]));
    let m = only_message(&raw);
    assert_eq!(m.platform_id, "m_STICKER");
    assert_eq!(
        m.body,
        InboundBody::Media {
            kind: MediaKind::Sticker,
            source: MediaSource::Url("https://cdn.example/s.png".into()),
            mime: None,
            caption: None,
            filename: None,
            sha256: None,
        }
    );
}

#[test]
fn a_shared_link_fallback_reads_as_its_title_and_url_and_a_reel_as_unsupported() {
    let raw = page_body(json!([
        page_message(
            "m_LINK",
            json!({ "attachments": [{ "type": "fallback", "title": "Kettle review", "URL": "https://blog.example/kettle" }] })
        ),
        page_message(
            "m_REEL",
            json!({ "attachments": [{ "type": "ig_reel", "payload": { "url": "https://cdn.example/r.mp4", "title": "x" } }] })
        )
    ]));
    let bodies: Vec<_> = events(&raw)
        .into_iter()
        .map(|e| match e {
            InboundEvent::Message(m) => m.body,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        bodies,
        vec![
            InboundBody::Text { text: "Kettle review\nhttps://blog.example/kettle".into() },
            InboundBody::Unsupported { kind: "ig_reel".into(), detail: Some("https://cdn.example/r.mp4".into()) },
        ]
    );
}

#[test]
fn referral_refs_come_from_postbacks_messages_and_standalone_referral_events() {
    let raw = page_body(json!([
        { "sender": { "id": PSID }, "recipient": { "id": PAGE_ID }, "timestamp": 1767263000001_i64,
          "postback": { "mid": "m_GS", "title": "Get Started", "payload": "GET_STARTED",
                        "referral": { "ref": "order-A-5521", "source": "SHORTLINK", "type": "OPEN_THREAD" } } },
        { "sender": { "id": PSID }, "recipient": { "id": PAGE_ID }, "timestamp": 1767263000002_i64,
          "referral": { "ref": "spring-sale", "source": "SHORTLINK", "type": "OPEN_THREAD" } },
        { "sender": { "id": PSID }, "recipient": { "id": PAGE_ID }, "timestamp": 1767263000003_i64,
          "message": { "mid": "m_AD", "text": "Is this in stock?", "referral": { "ref": "ad-ref", "source": "ADS" } } }
    ]));
    let events = events(&raw);
    let InboundEvent::Message(get_started) = &events[0] else { panic!() };
    assert_eq!(get_started.referral.as_deref(), Some("order-A-5521"));
    assert_eq!(
        events[1],
        InboundEvent::Referral(Referral {
            channel: Channel::Messenger,
            account: PAGE_ID.into(),
            sender: PSID.into(),
            ref_param: Some("spring-sale".into()),
            source: Some("SHORTLINK".into()),
            timestamp_ms: 1_767_263_000_002,
        })
    );
    assert_eq!(events[1].customer_activity(), Some((PAGE_ID, PSID, 1_767_263_000_002)));
    let InboundEvent::Message(from_ad) = &events[2] else { panic!() };
    assert_eq!(from_ad.referral.as_deref(), Some("ad-ref"));
}

#[test]
fn a_postback_without_a_mid_gets_an_id_stable_across_redeliveries() {
    let raw =
        page_body(json!([{ "sender": { "id": PSID }, "recipient": { "id": PAGE_ID }, "timestamp": 1767263000001_i64,
        "postback": { "title": "Menu", "payload": "MENU" } }]));
    assert_eq!(only_message(&raw).platform_id, format!("postback:{PSID}:1767263000001"));
    assert_eq!(only_message(&raw).platform_id, only_message(&raw).platform_id);
}

#[test]
fn standby_unknown_and_malformed_messenger_items_are_skipped_without_losing_the_good_ones() {
    let raw = json!({ "object": "page", "entry": [
        { "id": PAGE_ID, "time": 1767263000999_i64,
          "messaging": [
              { "recipient": { "id": PAGE_ID }, "timestamp": 1767263000001_i64, "message": { "mid": "m_NOSENDER", "text": "?" } },
              { "sender": { "id": PSID }, "recipient": { "id": PAGE_ID }, "timestamp": 1767263000002_i64,
                "reaction": { "mid": "m_OUT", "action": "react", "emoji": "\u{2764}", "reaction": "love" } },
              { "sender": { "id": PSID }, "recipient": { "id": PAGE_ID }, "timestamp": 1767263000003_i64, "message": { "text": "no mid" } },
              page_message("m_OK", json!({ "text": "still here" }))
          ],
          "standby": [page_message("m_STANDBY", json!({ "text": "for the other app" }))] },
        { "id": PAGE_ID, "time": 1767263000999_i64, "changes": [{ "field": "feed", "value": {} }] },
        { "id": PAGE_ID, "time": 1767263000999_i64 }
    ] })
    .to_string();
    let batch = parse(&raw);
    assert!(matches!(batch.events.as_slice(), [InboundEvent::Message(m)] if m.platform_id == "m_OK"));
    let reasons: Vec<_> = batch.skipped.iter().map(|s| s.reason.to_string()).collect();
    assert_eq!(
        reasons,
        vec![
            "malformed item: event without sender.id",
            "not handled: messaging event reaction",
            "malformed item: message without mid",
            "not handled: standby event: another app controls this thread (handover protocol)",
            "not handled: page change field \"feed\"",
            "malformed item: entry without a messaging array",
        ]
    );
    assert!(batch.skipped.iter().all(|s| s.channel == Channel::Messenger && s.account.as_deref() == Some(PAGE_ID)));
}

#[test]
fn an_echo_from_the_page_inbox_carries_another_app_id_and_no_metadata() {
    let raw = page_body(
        json!([{ "sender": { "id": PAGE_ID }, "recipient": { "id": PSID }, "timestamp": 1767263000001_i64,
        "message": { "is_echo": true, "app_id": "263902037430900", "mid": "m_INBOX", "text": "typed in the Page inbox" } }]),
    );
    let InboundEvent::Echo(echo) = one(&raw) else { panic!() };
    assert_eq!(echo.app_id.as_deref(), Some("263902037430900"));
    assert_eq!(echo.metadata, None);
    assert_eq!((echo.account.as_str(), echo.recipient.as_str()), (PAGE_ID, PSID));
    assert_eq!(InboundEvent::Echo(echo).customer_activity(), None);
}

// ---------------------------------------------------------------------------------------------
// Dedup keys and status ordering

#[test]
fn each_kind_of_event_has_a_stable_dedup_key() {
    let key = |raw: &str| parse(raw).events.iter().map(InboundEvent::dedup_key).collect::<Vec<_>>();
    assert_eq!(
        key(fixture!("whatsapp_text.json")),
        vec!["whatsapp:message:wamid.HBgMNjE0OTE1NzAxNTYVAgASGBQzQTdDOTJFMUY0MDg1QjZEMjM5OAA="]
    );
    assert_eq!(
        key(fixture!("whatsapp_status_failed.json")),
        vec!["whatsapp:status:wamid.HBgMNjE0OTE1NzAxNTYVAgARGBI5QjdFNDQwQzFBODNEMjJGMEUA:failed"]
    );
    assert_eq!(key(fixture!("messenger_postback.json")), vec!["messenger:message:m_Qk9yZWxheS1maXh0dXJlLXBiLTAwMDM"]);
    assert_eq!(key(fixture!("messenger_echo.json")), vec!["messenger:echo:m_Qk9yZWxheS1maXh0dXJlLW91dC0wMDEw"]);
    assert_eq!(
        key(fixture!("messenger_delivery.json")),
        vec![format!("messenger:delivered:{PAGE_ID}:{PSID}:1767263700123")]
    );
    assert_eq!(key(fixture!("messenger_read.json")), vec![format!("messenger:read:{PAGE_ID}:{PSID}:1767263700123")]);
}

#[test]
fn a_redelivered_batch_yields_the_same_dedup_keys() {
    for raw in [
        fixture!("whatsapp_batch_two_messages.json"),
        fixture!("whatsapp_status_read.json"),
        fixture!("messenger_text.json"),
    ] {
        let first: Vec<_> = parse(raw).events.iter().map(InboundEvent::dedup_key).collect();
        let again: Vec<_> = parse(raw).events.iter().map(InboundEvent::dedup_key).collect();
        assert_eq!(first, again);
    }
}

#[test]
fn the_delivered_and_read_statuses_of_one_message_have_different_dedup_keys() {
    let delivered = parse(fixture!("whatsapp_status_delivered.json")).events[0].dedup_key();
    let read = parse(fixture!("whatsapp_status_read.json")).events[0].dedup_key();
    assert_ne!(delivered, read);
}

#[test]
fn account_errors_with_different_details_have_different_dedup_keys() {
    let error = |details: &str| {
        InboundEvent::AccountError(AccountError {
            channel: Channel::Whatsapp,
            account: PHONE_NUMBER_ID.into(),
            code: Some(131042),
            title: Some("t".into()),
            details: Some(details.into()),
        })
    };
    assert_eq!(error("a").dedup_key(), error("a").dedup_key());
    assert_ne!(error("a").dedup_key(), error("b").dedup_key());
    assert!(error("a").dedup_key().starts_with("whatsapp:account-error:208765432109876:131042:"));
}

#[test]
fn a_late_sent_status_never_overwrites_read() {
    assert!(!should_apply(Some(&DeliveryStatus::Read), &DeliveryStatus::Sent));
    assert!(!should_apply(Some(&DeliveryStatus::Read), &DeliveryStatus::Delivered));
    assert!(!should_apply(Some(&DeliveryStatus::Delivered), &DeliveryStatus::Sent));
}

#[test]
fn statuses_move_forward_and_may_skip_delivered() {
    assert!(should_apply(None, &DeliveryStatus::Sent));
    assert!(should_apply(None, &DeliveryStatus::Read));
    assert!(should_apply(Some(&DeliveryStatus::Sent), &DeliveryStatus::Delivered));
    assert!(should_apply(Some(&DeliveryStatus::Sent), &DeliveryStatus::Read));
    assert!(should_apply(Some(&DeliveryStatus::Delivered), &DeliveryStatus::Read));
}

#[test]
fn a_repeated_status_changes_nothing() {
    for s in [DeliveryStatus::Sent, DeliveryStatus::Delivered, DeliveryStatus::Read] {
        assert!(!should_apply(Some(&s), &s.clone()));
    }
}

#[test]
fn failed_is_terminal_and_wins_over_any_earlier_status() {
    let failed = DeliveryStatus::Failed { code: Some(131026), title: None, details: None };
    for earlier in [DeliveryStatus::Sent, DeliveryStatus::Delivered, DeliveryStatus::Read] {
        assert!(should_apply(Some(&earlier), &failed), "{earlier:?}");
        assert!(!should_apply(Some(&failed), &earlier), "{earlier:?}");
    }
    assert!(!should_apply(Some(&failed), &failed.clone()));
    assert!(should_apply(None, &failed));
}

#[test]
fn a_status_arriving_before_its_send_returned_applies_to_nothing_yet() {
    // The integrator looks the wamid up; with no stored status yet, anything applies.
    let read = DeliveryStatus::Read;
    assert!(should_apply(None, &read));
}

#[test]
fn ranks_order_sent_delivered_read_failed() {
    let failed = DeliveryStatus::Failed { code: None, title: None, details: None };
    let ranks: Vec<u8> = [DeliveryStatus::Sent, DeliveryStatus::Delivered, DeliveryStatus::Read, failed]
        .iter()
        .map(DeliveryStatus::rank)
        .collect();
    assert_eq!(ranks, vec![1, 2, 3, 4]);
    assert_eq!(WatermarkKind::Read.as_status(), DeliveryStatus::Read);
}

// ---------------------------------------------------------------------------------------------
// Display text

#[test]
fn every_body_has_readable_display_text() {
    let media = |kind, caption: Option<&str>, filename: Option<&str>| InboundBody::Media {
        kind,
        source: MediaSource::WhatsAppId("1".into()),
        mime: None,
        caption: caption.map(Into::into),
        filename: filename.map(Into::into),
        sha256: None,
    };
    let cases = [
        (InboundBody::Text { text: "hi".into() }, "hi"),
        (media(MediaKind::Image, None, None), "📷 Photo"),
        (media(MediaKind::Image, Some("  "), None), "📷 Photo"),
        (media(MediaKind::Video, Some("look"), None), "look"),
        (media(MediaKind::Audio, None, None), "🎤 Audio"),
        (media(MediaKind::Document, None, Some("a.pdf")), "📄 a.pdf"),
        (media(MediaKind::Document, None, None), "📄 Document"),
        (media(MediaKind::Sticker, None, None), "Sticker"),
        (InboundBody::Location { lat: 52.5, lon: 4.25, name: None, address: None }, "📍 52.5, 4.25"),
        (
            InboundBody::Location { lat: 0.0, lon: 0.0, name: None, address: Some("Kraanspoor 12".into()) },
            "📍 Kraanspoor 12",
        ),
        (InboundBody::Reply { title: String::new(), payload: "P".into() }, "P"),
        (InboundBody::Unsupported { kind: "xyz".into(), detail: None }, "Unsupported message (type: xyz)"),
    ];
    for (body, text) in cases {
        assert_eq!(body.display_text(), text, "{body:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Outbound bodies

#[test]
fn the_whatsapp_text_builder_matches_its_fixture() {
    let body = WhatsAppMessage::text(
        "61491570156",
        "Hi Tomás, the blue kettle is back on Friday. I've reserved one for order A-5521.",
    )
    .reply_to("wamid.HBgMNjE0OTE1NzAxNTYVAgASGBQzQTdDOTJFMUY0MDg1QjZEMjM5OAA=");
    assert_eq!(body.to_json(), json_of(fixture!("out_whatsapp_text.json")));
}

#[test]
fn the_whatsapp_document_builder_matches_its_fixture() {
    let body = WhatsAppMessage::media(
        "447700900456",
        MediaKind::Document,
        OutboundMedia::Link("https://files.relay.example/outbox/claim-CL-30917.pdf".into()),
    )
    .with_caption("Your claim confirmation")
    .with_filename("claim-CL-30917.pdf");
    assert_eq!(body.to_json(), json_of(fixture!("out_whatsapp_document_link.json")));
}

#[test]
fn the_whatsapp_template_builder_matches_its_fixture() {
    let template = Template::new("support_followup_v2", "pt_BR").with_body_texts(["Tomás", "A-5521"]);
    let body = WhatsAppMessage::template("61491570156", template);
    assert_eq!(body.to_json(), json_of(fixture!("out_whatsapp_template.json")));
}

#[test]
fn the_whatsapp_mark_read_builder_matches_its_fixture() {
    let body = MarkRead::new("wamid.HBgMNDQ3NzAwOTAwNDU2FQIAEhgUM0IxRDg4QzA1RTdGNjJBOTQ0MEEA");
    assert_eq!(body.to_json(), json_of(fixture!("out_whatsapp_mark_read.json")));
}

#[test]
fn mark_read_can_show_a_typing_indicator() {
    let body = MarkRead::new("wamid.X").with_typing_indicator();
    assert_eq!(
        body.to_json(),
        json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X", "typing_indicator": { "type": "text" } })
    );
}

#[test]
fn a_whatsapp_text_with_a_link_asks_for_a_preview_unless_told_not_to() {
    let with_link = WhatsAppMessage::text("1", "Track it at https://track.example/A-5521.");
    assert_eq!(with_link.to_json()["text"]["preview_url"], true);
    assert_eq!(with_link.with_preview_url(false).to_json()["text"]["preview_url"], false);
    assert_eq!(WhatsAppMessage::text("1", "no link, just example.com").to_json()["text"]["preview_url"], false);
}

#[test]
fn whatsapp_media_by_id_keeps_only_what_each_kind_accepts() {
    let image = WhatsAppMessage::media("1", MediaKind::Image, OutboundMedia::Id("777".into()))
        .with_caption("lid")
        .with_filename("x.jpg");
    assert_eq!(
        image.to_json(),
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": "1", "type": "image",
                "image": { "id": "777", "caption": "lid" } })
    );
    let audio = WhatsAppMessage::media("1", MediaKind::Audio, OutboundMedia::Link("https://f.example/a.ogg".into()))
        .with_caption("c");
    assert_eq!(audio.to_json()["audio"], json!({ "link": "https://f.example/a.ogg" }));
}

#[test]
fn a_whatsapp_message_can_carry_callback_data_for_its_statuses() {
    let body = WhatsAppMessage::text("1", "hi").with_callback_data("relay-out:42");
    assert_eq!(body.to_json()["biz_opaque_callback_data"], "relay-out:42");
}

#[test]
fn the_messenger_text_builder_matches_its_fixture() {
    let body = MessengerMessage::text(
        PSID,
        "Thanks for the details. An advisor is checking with the courier now.",
        MessagingType::Response,
    )
    .with_metadata("relay-out:9c41e3");
    assert_eq!(body.to_json(), json_of(fixture!("out_messenger_text.json")));
}

#[test]
fn the_messenger_human_agent_builder_matches_its_fixture() {
    let body = MessengerMessage::text(
        PSID,
        "Following up: the courier confirmed a re-delivery for Monday.",
        MessagingType::HUMAN_AGENT,
    );
    assert_eq!(body.to_json(), json_of(fixture!("out_messenger_human_agent_tag.json")));
}

#[test]
fn the_window_picks_the_messaging_type_of_the_fixtures() {
    let last = 1_767_263_412_881;
    let open = window_state(Channel::Messenger, Some(last), last + 60_000).messenger_messaging_type(true).unwrap();
    let later = window_state(Channel::Messenger, Some(last), last + 3 * window::WINDOW_MS)
        .messenger_messaging_type(true)
        .unwrap();
    assert_eq!(MessengerMessage::text(PSID, "x", open).to_json()["messaging_type"], "RESPONSE");
    let tagged = MessengerMessage::text(PSID, "x", later).to_json();
    assert_eq!((tagged["messaging_type"].as_str(), tagged["tag"].as_str()), (Some("MESSAGE_TAG"), Some("HUMAN_AGENT")));
}

#[test]
fn messenger_attachments_and_update_messages_have_the_send_api_shape() {
    let file = MessengerMessage::attachment(
        PSID,
        MediaKind::Document,
        "https://files.relay.example/c.pdf",
        MessagingType::Update,
    );
    assert_eq!(
        file.to_json(),
        json!({ "recipient": { "id": PSID }, "messaging_type": "UPDATE",
                "message": { "attachment": { "type": "file", "payload": { "url": "https://files.relay.example/c.pdf" } } } })
    );
}

#[test]
fn sender_actions_carry_only_the_recipient_and_the_action() {
    assert_eq!(
        SenderAction::new(PSID, Action::MarkSeen).to_json(),
        json!({ "recipient": { "id": PSID }, "sender_action": "mark_seen" })
    );
    assert_eq!(
        SenderAction::new(PSID, Action::TypingOn).to_json(),
        json!({ "recipient": { "id": PSID }, "sender_action": "typing_on" })
    );
    assert_eq!(SenderAction::new(PSID, Action::TypingOff).to_json()["sender_action"], "typing_off");
}

#[test]
fn outbound_bodies_round_trip_through_json_for_the_outbox() {
    let wa = [
        WhatsAppMessage::text("1", "hi").reply_to("wamid.Q"),
        WhatsAppMessage::media("1", MediaKind::Document, OutboundMedia::Id("9".into()))
            .with_caption("c")
            .with_filename("f.pdf"),
        WhatsAppMessage::media("1", MediaKind::Sticker, OutboundMedia::Link("https://s.example/a.webp".into())),
        WhatsAppMessage::template("1", Template::new("t", "en_US").with_body_texts(["a"])),
        WhatsAppMessage::template("1", Template::new("no_params", "en_US")),
    ];
    for body in wa {
        let back: WhatsAppMessage = serde_json::from_value(body.to_json()).unwrap();
        assert_eq!(back, body);
    }
    let fb = [
        MessengerMessage::text(PSID, "a", MessagingType::Response).with_metadata("m"),
        MessengerMessage::text(PSID, "b", MessagingType::HUMAN_AGENT),
        MessengerMessage::attachment(PSID, MediaKind::Image, "https://i.example/a.png", MessagingType::Update),
    ];
    for body in fb {
        let back: MessengerMessage = serde_json::from_value(body.to_json()).unwrap();
        assert_eq!(back, body);
    }
    let read = MarkRead::new("wamid.X").with_typing_indicator();
    assert_eq!(serde_json::from_value::<MarkRead>(read.to_json()).unwrap(), read);
    let fixture: WhatsAppMessage = serde_json::from_str(fixture!("out_whatsapp_template.json")).unwrap();
    assert_eq!(fixture.to(), "61491570156");
}

// ---------------------------------------------------------------------------------------------
// Answers

#[test]
fn the_whatsapp_send_answer_fixture_gives_the_wamid_and_canonical_wa_id() {
    assert_eq!(
        whatsapp::parse_send_response(fixture!("resp_whatsapp_send_ok.json").as_bytes()),
        Ok(whatsapp::WhatsAppSent {
            message_id: "wamid.HBgMNjE0OTE1NzAxNTYVAgARGBI5QjdFNDQwQzFBODNEMjJGMEUA".into(),
            wa_id: Some("61491570156".into()),
            input: Some("61491570156".into()),
            message_status: Some("accepted".into()),
        })
    );
}

#[test]
fn the_wamid_a_send_returns_is_the_one_its_failed_status_names() {
    let sent = whatsapp::parse_send_response(fixture!("resp_whatsapp_send_ok.json").as_bytes()).unwrap();
    let InboundEvent::Status(status) = one(fixture!("whatsapp_status_failed.json")) else { panic!() };
    assert_eq!(status.platform_id, sent.message_id);
}

#[test]
fn a_whatsapp_send_answer_without_a_message_id_is_an_error() {
    assert_eq!(
        whatsapp::parse_send_response(br#"{"messaging_product":"whatsapp","messages":[]}"#),
        Err(ResponseError::Missing("messages[0].id"))
    );
    assert!(matches!(whatsapp::parse_send_response(b"<html>"), Err(ResponseError::NotJson(_))));
    let minimal = whatsapp::parse_send_response(br#"{"messages":[{"id":"wamid.M"}]}"#).unwrap();
    assert_eq!((minimal.message_id.as_str(), minimal.wa_id, minimal.message_status), ("wamid.M", None, None));
}

#[test]
fn the_mark_read_answer_fixture_is_success() {
    assert_eq!(whatsapp::parse_mark_read_response(fixture!("resp_whatsapp_mark_read_ok.json").as_bytes()), Ok(()));
    assert_eq!(whatsapp::parse_mark_read_response(br#"{"success":false}"#), Err(ResponseError::NotSuccessful));
    assert_eq!(whatsapp::parse_mark_read_response(b"{}"), Err(ResponseError::NotSuccessful));
}

#[test]
fn the_messenger_send_answer_fixture_gives_the_mid() {
    assert_eq!(
        messenger::parse_send_response(fixture!("resp_messenger_send_ok.json").as_bytes()),
        Ok(messenger::MessengerSent {
            recipient_id: Some(PSID.into()),
            message_id: "m_Qk9yZWxheS1maXh0dXJlLW91dC0wMDEx".into(),
        })
    );
    assert_eq!(messenger::parse_send_response(br#"{"recipient_id":"1"}"#), Err(ResponseError::Missing("message_id")));
}

#[test]
fn a_media_lookup_answer_gives_the_url_to_fetch_with_the_token() {
    let body = br#"{"messaging_product":"whatsapp","url":"https:\/\/lookaside.fbsbx.com\/whatsapp_business\/attachments\/?mid=1290384756102938",
        "mime_type":"image/jpeg","sha256":"07AXvqJAlr81mOwriPkKH3PgcI7ooUgCulfaSTaB9+g=","file_size":"303833","id":"1290384756102938"}"#;
    assert_eq!(
        whatsapp::parse_media_info(body),
        Ok(whatsapp::MediaInfo {
            url: "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1290384756102938".into(),
            mime_type: Some("image/jpeg".into()),
            sha256: Some("07AXvqJAlr81mOwriPkKH3PgcI7ooUgCulfaSTaB9+g=".into()),
            file_size: Some(303_833),
            id: Some("1290384756102938".into()),
        })
    );
    assert_eq!(whatsapp::parse_media_info(br#"{"file_size":12}"#), Err(ResponseError::Missing("url")));
    assert_eq!(
        whatsapp::parse_media_info(br#"{"url":"https://x.example/f","file_size":12}"#).unwrap().file_size,
        Some(12)
    );
}

// ---------------------------------------------------------------------------------------------
// Storage

#[test]
fn a_parsed_batch_round_trips_through_json() {
    for raw in [
        fixture!("whatsapp_batch_two_messages.json"),
        fixture!("whatsapp_image.json"),
        fixture!("whatsapp_location.json"),
        fixture!("whatsapp_status_failed.json"),
        fixture!("messenger_attachment_image.json"),
        fixture!("messenger_delivery.json"),
        fixture!("messenger_echo.json"),
    ] {
        let batch = parse(raw);
        let json = serde_json::to_string(&batch).unwrap();
        assert_eq!(serde_json::from_str::<InboundBatch>(&json).unwrap(), batch);
    }
}

#[test]
fn a_stored_message_is_tagged_readably() {
    let m = only_message(fixture!("whatsapp_document.json"));
    let json = serde_json::to_value(InboundEvent::Message(m)).unwrap();
    assert_eq!(json["event"], "message");
    assert_eq!(json["channel"], "whatsapp");
    assert_eq!(json["body"]["type"], "media");
    assert_eq!(json["body"]["kind"], "document");
    assert_eq!(json["body"]["source"], json!({ "kind": "whatsapp_id", "value": "1384756102938475" }));
}

#[test]
fn a_customer_message_opens_the_window_and_a_status_does_not() {
    let m = &parse(fixture!("whatsapp_text.json")).events[0];
    assert_eq!(m.customer_activity(), Some((PHONE_NUMBER_ID, "61491570156", 1_767_263_405_000)));
    assert_eq!(parse(fixture!("whatsapp_status_read.json")).events[0].customer_activity(), None);
    assert_eq!(parse(fixture!("messenger_read.json")).events[0].customer_activity(), None);
    assert_eq!(m.channel(), Channel::Whatsapp);
}
