//! Bad input gets a precise error; the connection and the relay keep working.

use confab_tests::*;
use shared::limits::{MAX_FRAME_BYTES, MAX_TEXT_CHARS};
use shared::*;

#[tokio::test]
async fn a_forbidden_origin_is_refused_before_the_upgrade_with_a_reason() {
    let relay = TestRelay::start().await;
    let refused = relay.visitor_socket(SITE, Some("https://evil.example")).await.unwrap_err();
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["code"], "forbidden_origin");
    assert!(refused.body["message"].as_str().unwrap().contains("https://evil.example"));

    let no_origin = relay.visitor_socket(SITE, None).await.unwrap_err();
    assert_eq!(no_origin.status, 403);
    assert_eq!(no_origin.body["code"], "forbidden_origin");

    // The public site API applies the same rule, and answers allowed origins with CORS.
    let client = reqwest::Client::new();
    let r = client.get(relay.url("/api/v1/sites/shop")).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(r.status(), 403);
    // The refusal is readable by the page, so the widget can say why.
    assert_eq!(r.headers()["access-control-allow-origin"], "https://evil.example");
    let body: ErrorFrame = r.json().await.unwrap();
    assert_eq!(body.code, ErrorCode::ForbiddenOrigin);
    let r = client.get(relay.url("/api/v1/sites/shop")).header("origin", SHOP_ORIGIN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], SHOP_ORIGIN);
    let info: SiteInfo = r.json().await.unwrap();
    assert_eq!(info.name, "Test Shop");
}

#[tokio::test]
async fn an_unknown_site_key_is_refused_with_unknown_site() {
    let relay = TestRelay::start().await;
    let refused = relay.visitor_socket("nope", Some(SHOP_ORIGIN)).await.unwrap_err();
    assert_eq!(refused.status, 404);
    assert_eq!(refused.body["code"], "unknown_site");
    assert!(refused.body["message"].as_str().unwrap().contains("data-site"));
}

#[tokio::test]
async fn each_bad_frame_gets_its_error_and_the_connection_stays_up() {
    let relay = TestRelay::start().await;
    let mut v = relay.visitor().await;

    v.send_raw(r#"{"type":"send","id":"early","text":"hi"}"#).await;
    assert_eq!(v.expect_error().await.code, ErrorCode::HelloRequired);

    v.send(&VisitorClientFrame::Hello { v: 99, token: None, last_seq: 0, page: None, referrer: None, timezone: None, locale: None }).await;
    let e = v.expect_error().await;
    assert_eq!(e.code, ErrorCode::UnsupportedVersion);
    assert!(e.message.contains(&PROTOCOL_VERSION.to_string()));

    let welcome = v.hello(None, 0).await.unwrap();

    let cases: Vec<(String, ErrorCode)> = vec![
        ("{this is not json".into(), ErrorCode::MalformedFrame),
        ("[1,2,3]".into(), ErrorCode::MalformedFrame),
        (r#"{"type":"teleport","ref":"r1"}"#.into(), ErrorCode::UnknownFrameType),
        (r#"{"type":"send","id":"x1"}"#.into(), ErrorCode::InvalidFrame),
        (format!(r#"{{"type":"send","id":"big","text":"{}"}}"#, "a".repeat(MAX_FRAME_BYTES)), ErrorCode::FrameTooLarge),
        (r#"{"type":"send","id":"sp","text":"   "}"#.into(), ErrorCode::TextEmpty),
        (r#"{"type":"send","id":"bad id","text":"hi"}"#.into(), ErrorCode::InvalidMessageId),
        (r#"{"type":"hello","v":1}"#.into(), ErrorCode::AlreadyGreeted),
    ];
    for (frame, code) in cases {
        v.send_raw(&frame).await;
        let e = v.expect_error().await;
        assert_eq!(e.code, code, "for {}", &frame[..frame.len().min(60)]);
        assert!(!e.message.is_empty());
    }

    // Text over the limit (but within the frame size): text_too_long, pointing at the message id.
    let long = "é".repeat(MAX_TEXT_CHARS + 1);
    let e = v.say("long-1", &long).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::TextTooLong);
    assert_eq!(e.reference.as_deref(), Some("long-1"));

    v.ws.send(tokio_tungstenite::tungstenite::Message::Binary(vec![1u8, 2, 3].into())).await.unwrap();
    assert_eq!(v.expect_error().await.code, ErrorCode::MalformedFrame);

    // Nothing bad was stored, and the same connection still works.
    let (seq, _) = v.say("ok-1", "still here").await.unwrap();
    assert_eq!(seq, 1);
    assert_eq!(messages_in_database(&relay.data_dir, welcome.conversation).await.len(), 1);

    // And the relay serves everyone else.
    let (mut other, _) = relay.new_visitor().await;
    other.say("o-1", "hello").await.unwrap();
    let health: serde_json::Value = reqwest::get(relay.url("/healthz")).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
}

use futures_util::SinkExt;

#[tokio::test]
async fn advisor_frames_are_checked_too() {
    let relay = TestRelay::start().await;
    let (mut advisor, _) = relay.advisor().await;
    advisor.send_raw(r#"{"type":"nonsense"}"#).await;
    assert_eq!(advisor.expect_error().await.code, ErrorCode::UnknownFrameType);
    let e = advisor.reply(ConversationId(424242), "r-1", "hello?").await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
    advisor.send(&AdvisorClientFrame::Open { reference: "o-1".into(), conversation: ConversationId(424242), after_seq: 0 }).await;
    let e = advisor.expect_error().await;
    assert_eq!((e.code, e.reference.as_deref()), (ErrorCode::NotFound, Some("o-1")));
}

#[tokio::test]
async fn an_unwritable_data_directory_is_a_clear_start_up_error() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    // A directory can't be created below a regular file, even by root.
    let config = relay::Config::new(file.join("data"));
    let err = match config.open_store().await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened a store below a file"),
    };
    assert!(err.contains("cannot use data directory"), "{err}");
    assert!(err.contains("--data-dir"), "{err}");
}
