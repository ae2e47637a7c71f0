//! Every frame type survives JSON encode → decode unchanged, and has the wire shape we document.

use serde::{de::DeserializeOwned, Serialize};
use serde_json::json;
use shared::*;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: T) -> serde_json::Value {
    let text = serde_json::to_string(&value).unwrap();
    let back: T = serde_json::from_str(&text).unwrap();
    assert_eq!(back, value, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn message(seq: Seq, author: Author) -> Message {
    Message {
        delivery: None,
        attachments: Vec::new(),
        id: ClientMsgId("c-1".into()),
        conversation: ConversationId(7),
        seq,
        author,
        channel: Channel::Web,
        text: "hello <b>there</b>".into(),
        sent_at: 1_700_000_000_000,
        note: false,
    }
}

fn summary() -> ConversationSummary {
    ConversationSummary {
        window_closes_at: None,
        id: ConversationId(7),
        visitor_name: "Visitor 7".into(),
        site_name: "Demo".into(),
        channel: Channel::Web,
        last_seq: 3,
        last_message: Some(message(3, Author::Visitor)),
        last_activity_at: 5,
        unread: 2,
        page: Some("https://shop.example/p/1".into()),
        visitor_online: true,
        visitor_delivered_seq: 3,
        visitor_read_seq: 2,
        identities: Vec::new(),
        reply_channel: Channel::Web,
        status: ConversationStatus::Open,
        snoozed_until: None,
        team: None,
        assignee: None,
        waiting_since: None,
        first_response_due: None,
        labels: Vec::new(),
        with_bot: false,
        unverified: false,
    }
}

#[test]
fn visitor_client_frames_round_trip() {
    let hello = round_trip(VisitorClientFrame::Hello {
        v: 1,
        token: Some("t".into()),
        last_seq: 4,
        page: None,
        referrer: None,
        timezone: None,
        locale: None,
    });
    assert_eq!(hello, json!({"type":"hello","v":1,"token":"t","last_seq":4}));
    let full = round_trip(VisitorClientFrame::Hello {
        v: 1,
        token: None,
        last_seq: 0,
        page: Some("https://shop.example/".into()),
        referrer: Some("https://search.example/?q=tents".into()),
        timezone: Some("Europe/Paris".into()),
        locale: Some("fr".into()),
    });
    assert_eq!(full["referrer"], "https://search.example/?q=tents");
    assert_eq!(full["locale"], "fr");
    assert_eq!(full["timezone"], "Europe/Paris");
    let send = round_trip(VisitorClientFrame::Send { id: "m1".into(), text: "hi".into(), attachments: vec![] });
    assert_eq!(send, json!({"type":"send","id":"m1","text":"hi"}));
    let with_file = round_trip(VisitorClientFrame::Send { id: "m2".into(), text: String::new(), attachments: vec!["up-1".into()] });
    assert_eq!(with_file, json!({"type":"send","id":"m2","text":"","attachments":["up-1"]}));
    round_trip(VisitorClientFrame::Read { up_to: 9 });
    round_trip(VisitorClientFrame::Typing { on: true });
    let identify = round_trip(VisitorClientFrame::Identify {
        user_id: "u-42".into(),
        user_hash: Some("ab12".into()),
        name: Some("Ada".into()),
        email: None,
    });
    assert_eq!(identify, json!({"type":"identify","user_id":"u-42","user_hash":"ab12","name":"Ada"}));
    round_trip(VisitorClientFrame::SetEmail { email: "ana@example.com".into() });
    let rate = round_trip(VisitorClientFrame::Rate { rating: 4, comment: Some("Quick and kind".into()) });
    assert_eq!(rate, serde_json::json!({"type": "rate", "rating": 4, "comment": "Quick and kind"}));
    round_trip(VisitorClientFrame::Rate { rating: 1, comment: None });
    round_trip(VisitorClientFrame::PushSubscribe {
        endpoint: "https://push.example/send/abc".into(),
        p256dh: "BNc…".into(),
        auth: "tBH…".into(),
    });
}

#[test]
fn visitor_server_frames_round_trip() {
    let welcome = round_trip(VisitorServerFrame::Welcome {
        v: PROTOCOL_VERSION,
        token: "tok".into(),
        conversation: ConversationId(7),
        last_seq: 3,
        read_seq: 1,
        site: SiteInfo {
            key: "demo".into(),
            name: "Demo".into(),
            greeting: "Hi".into(),
            color: "#123456".into(),
            reply_time: "usually replies within a few hours".into(),
            position: "left".into(),
            launcher: "help".into(),
            avatar: "https://cdn.example/logo.png".into(),
            translations: vec![SiteTexts { lang: "fr".into(), greeting: "Salut".into(), reply_time: String::new() }],
        },
        advisors_online: true,
        delivered_seq: 3,
        advisors_read_seq: 2,
        continue_on: vec![ContinueLink { channel: Channel::Whatsapp, url: "https://wa.me/15550001111?text=x".into() }],
    });
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["site"]["position"], "left");
    assert_eq!(welcome["site"]["translations"][0]["greeting"], "Salut");
    assert_eq!(
        round_trip(VisitorServerFrame::Identified { verified: true, switched: false, token: None }),
        json!({"type":"identified","verified":true,"switched":false})
    );
    assert_eq!(
        round_trip(VisitorServerFrame::Identified { verified: true, switched: true, token: Some("fresh".into()) }),
        json!({"type":"identified","verified":true,"switched":true,"token":"fresh"})
    );
    assert_eq!(round_trip(ErrorFrame::new(ErrorCode::ThreadMoved, "moved"))["code"], "thread_moved");
    assert_eq!(round_trip(ErrorFrame::new(ErrorCode::ResumeConflict, "yours"))["code"], "resume_conflict");
    let rejected = round_trip(VisitorServerFrame::Error(ErrorFrame::new(ErrorCode::IdentityRejected, "no")));
    assert_eq!(rejected["code"], "identity_rejected");
    assert_eq!(welcome["continue_on"], json!([{"channel":"whatsapp","url":"https://wa.me/15550001111?text=x"}]));
    let msg = round_trip(VisitorServerFrame::Message {
        message: message(2, Author::Advisor { id: AdvisorId(1), name: "Ada".into() }),
    });
    assert_eq!(msg["message"]["author"], json!({"kind":"advisor","id":1,"name":"Ada"}));
    let ack = round_trip(VisitorServerFrame::Ack { id: "m1".into(), seq: 2, sent_at: 9 });
    assert_eq!(ack, json!({"type":"ack","id":"m1","seq":2,"sent_at":9}));
    round_trip(VisitorServerFrame::Typing { on: true, name: "Ada".into() });
    round_trip(VisitorServerFrame::Email { email: "ana@example.com".into() });
    let survey = round_trip(VisitorServerFrame::Survey { rating: 0 });
    assert_eq!(survey, serde_json::json!({"type": "survey", "rating": 0}));
    round_trip(VisitorServerFrame::Survey { rating: 5 });
    round_trip(VisitorServerFrame::Read { up_to: 2 });
    assert_eq!(round_trip(VisitorServerFrame::Delivered { up_to: 3 }), json!({"type":"delivered","up_to":3}));
    assert_eq!(
        round_trip(VisitorServerFrame::Presence { advisors_online: false }),
        json!({"type":"presence","advisors_online":false})
    );
    let err = round_trip(VisitorServerFrame::Error(
        ErrorFrame::new(ErrorCode::TextTooLong, "too long").with_ref(Some("m1".into())),
    ));
    assert_eq!(err, json!({"type":"error","code":"text_too_long","message":"too long","ref":"m1"}));
}

#[test]
fn bot_frames_round_trip() {
    assert_eq!(round_trip(VisitorClientFrame::Handoff), json!({"type":"handoff"}));
    let bot = round_trip(VisitorServerFrame::Bot { active: true, seq: 4, replies: vec!["Shipping".into(), "Returns".into()] });
    assert_eq!(bot, json!({"type":"bot","active":true,"seq":4,"replies":["Shipping","Returns"]}));
    assert_eq!(round_trip(VisitorServerFrame::Bot { active: false, seq: 0, replies: vec![] }), json!({"type":"bot","active":false,"seq":0}));
    let with_bot = round_trip(ConversationSummary { with_bot: true, ..summary() });
    assert_eq!(with_bot["with_bot"], true);
    assert!(round_trip(summary()).get("with_bot").is_none(), "left out when false");
}

#[test]
fn unverified_identities_are_marked_in_rows_and_profiles() {
    assert_eq!(round_trip(ConversationSummary { unverified: true, ..summary() })["unverified"], true);
    assert!(round_trip(summary()).get("unverified").is_none(), "left out when false");
    let profile: CustomerProfile = serde_json::from_value(json!({
        "conversation": 3, "display_name": "Eve", "name": "Eve", "email": "eve@x.test",
        "name_unverified": true, "email_unverified": true, "first_seen": 1
    }))
    .unwrap();
    assert!(profile.name_unverified && profile.email_unverified);
    let back = serde_json::to_value(&profile).unwrap();
    assert_eq!(back["email_unverified"], true);
}

#[test]
fn advisor_frames_round_trip() {
    round_trip(AdvisorClientFrame::Hello { v: 1 });
    let open = round_trip(AdvisorClientFrame::Open { reference: "r1".into(), conversation: ConversationId(7), after_seq: 0 });
    assert_eq!(open, json!({"type":"open","ref":"r1","conversation":7,"after_seq":0}));
    let plain = round_trip(AdvisorClientFrame::Send {
        id: "a1".into(),
        conversation: ConversationId(7),
        text: "yes".into(),
        via: None,
        template: None,
        attachments: vec![],
    });
    assert_eq!(plain, json!({"type":"send","id":"a1","conversation":7,"text":"yes"}));
    let file = round_trip(AdvisorClientFrame::Send {
        id: "a3".into(),
        conversation: ConversationId(7),
        text: String::new(),
        via: None,
        template: None,
        attachments: vec!["up-2".into()],
    });
    assert_eq!(file["attachments"], json!(["up-2"]));
    let template = round_trip(AdvisorClientFrame::Send {
        id: "a2".into(),
        conversation: ConversationId(7),
        text: String::new(),
        via: Some(Channel::Whatsapp),
        template: Some(TemplateSend { name: "follow_up".into(), language: "en_US".into(), params: vec!["Ada".into()] }),
        attachments: vec![],
    });
    assert_eq!(template["via"], "whatsapp");
    assert_eq!(template["template"], json!({"name":"follow_up","language":"en_US","params":["Ada"]}));
    let unlink = round_trip(AdvisorClientFrame::Unlink { reference: "u1".into(), conversation: ConversationId(7), identity: 3 });
    assert_eq!(unlink, json!({"type":"unlink","ref":"u1","conversation":7,"identity":3}));
    round_trip(AdvisorClientFrame::Read { conversation: ConversationId(7), up_to: 3 });
    round_trip(AdvisorClientFrame::Typing { conversation: ConversationId(7), on: false });

    let advisor = AdvisorInfo { id: AdvisorId(1), name: "Ada".into(), email: "ada@example.com".into() };
    round_trip(AdvisorServerFrame::Welcome { v: 1, advisor, conversations: vec![summary()], admin: false, teams: Vec::new(), roster: Vec::new() });
    round_trip(AdvisorServerFrame::Conversation { conversation: summary() });
    let mut linked = summary();
    linked.channel = Channel::Whatsapp;
    linked.reply_channel = Channel::Whatsapp;
    linked.identities = vec![ChannelIdentity {
        id: 3,
        channel: Channel::Whatsapp,
        label: "Ada · +44 7700 900123".into(),
        linked: true,
        window_closes_at: Some(99),
    }];
    let row = round_trip(AdvisorServerFrame::Conversation { conversation: linked });
    assert_eq!(row["conversation"]["identities"][0]["channel"], "whatsapp");
    assert_eq!(row["conversation"]["reply_channel"], "whatsapp");
    let channels = round_trip(AdvisorServerFrame::Channels {
        channels: vec![ChannelStatus {
            channel: Channel::Whatsapp,
            alert: Some("The access token has expired".into()),
            templates: vec![TemplateInfo { name: "follow_up".into(), language: "en_US".into(), text: "Hi {{1}}".into() }],
        }],
    });
    assert_eq!(channels["type"], "channels");
    let mut photo = message(5, Author::Visitor);
    photo.attachments = vec![Attachment {
        id: "att-1".into(),
        kind: AttachmentKind::Image,
        mime: "image/jpeg".into(),
        name: None,
        size: 1234,
        state: AttachmentState::Ready,
        error: None,
        url: None,
    }];
    let m = round_trip(AdvisorServerFrame::Message { message: photo.clone() });
    assert_eq!(m["message"]["attachments"][0], json!({"id":"att-1","kind":"image","mime":"image/jpeg","size":1234,"state":"ready"}));
    round_trip(AdvisorServerFrame::Attachment { conversation: ConversationId(7), seq: 5, attachment: photo.attachments[0].clone() });
    round_trip(AdvisorServerFrame::History {
        reference: "r1".into(),
        conversation: ConversationId(7),
        messages: vec![message(1, Author::Visitor), message(2, Author::Bot), message(3, Author::System)],
        last_seq: 3,
    });
    round_trip(AdvisorServerFrame::Message { message: message(1, Author::Visitor) });
    round_trip(AdvisorServerFrame::Ack { id: "a1".into(), conversation: ConversationId(7), seq: 4, sent_at: 1 });
    round_trip(AdvisorServerFrame::Typing { conversation: ConversationId(7), on: true });
    round_trip(AdvisorServerFrame::Error(ErrorFrame::new(ErrorCode::Forbidden, "no")));
}

#[test]
fn status_and_note_frames_round_trip() {
    let resolve = round_trip(AdvisorClientFrame::SetStatus {
        reference: "s1".into(),
        conversation: ConversationId(7),
        status: ConversationStatus::Resolved,
        snoozed_until: None,
    });
    assert_eq!(resolve, json!({"type":"set_status","ref":"s1","conversation":7,"status":"resolved"}));
    let snooze = round_trip(AdvisorClientFrame::SetStatus {
        reference: "s2".into(),
        conversation: ConversationId(7),
        status: ConversationStatus::Snoozed,
        snoozed_until: Some(99),
    });
    assert_eq!(snooze["snoozed_until"], 99);
    let note = round_trip(AdvisorClientFrame::Note { id: "n1".into(), conversation: ConversationId(7), text: "VIP".into() });
    assert_eq!(note, json!({"type":"note","id":"n1","conversation":7,"text":"VIP"}));

    let mut m = message(4, Author::Advisor { id: AdvisorId(1), name: "Ada".into() });
    assert!(round_trip(m.clone()).get("note").is_none(), "a plain message carries no note field");
    m.note = true;
    assert_eq!(round_trip(AdvisorServerFrame::Message { message: m })["message"]["note"], true);

    let mut snoozed = summary();
    snoozed.status = ConversationStatus::Snoozed;
    snoozed.snoozed_until = Some(5);
    let row = round_trip(AdvisorServerFrame::Conversation { conversation: snoozed });
    assert_eq!(row["conversation"]["status"], "snoozed");
    // Rows from a relay before statuses are open; a status from a newer relay is not an error.
    let mut old = serde_json::to_value(summary()).unwrap();
    old.as_object_mut().unwrap().remove("status");
    assert_eq!(serde_json::from_value::<ConversationSummary>(old.clone()).unwrap().status, ConversationStatus::Open);
    old["status"] = json!("archived");
    assert_eq!(serde_json::from_value::<ConversationSummary>(old).unwrap().status, ConversationStatus::Unknown);
}

#[test]
fn frames_from_before_receipts_and_presence_still_decode() {
    let old = r#"{"type":"welcome","v":1,"token":"t","conversation":1,"last_seq":0,"read_seq":0,
                  "site":{"key":"k","name":"N"}}"#;
    match serde_json::from_str::<VisitorServerFrame>(old).unwrap() {
        VisitorServerFrame::Welcome { advisors_online, delivered_seq, site, .. } => {
            assert!(!advisors_online);
            assert_eq!(delivered_seq, 0);
            assert_eq!(site.reply_time, "");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn newer_relays_frames_and_codes_decode_to_fallbacks() {
    let f: VisitorServerFrame = serde_json::from_str(r#"{"type":"cobrowse","session":5}"#).unwrap();
    assert_eq!(f, VisitorServerFrame::Unknown);
    let f: VisitorServerFrame =
        serde_json::from_str(r#"{"type":"error","code":"cobrowse_refused","message":"m"}"#).unwrap();
    assert!(matches!(f, VisitorServerFrame::Error(ErrorFrame { code: ErrorCode::Unknown, .. })));
    let m: Message = serde_json::from_str(
        r#"{"id":"x","conversation":1,"seq":1,"author":{"kind":"robot"},"channel":"telegram","text":"t","sent_at":0}"#,
    )
    .unwrap();
    assert_eq!(m.author, Author::Unknown);
    assert_eq!(m.channel, Channel::Unknown);
}

#[test]
fn templates_count_and_fill_their_placeholders() {
    let t = TemplateInfo { name: "n".into(), language: "en".into(), text: "Hi {{1}}, order {{2}} is {{ 2 }} ready".into() };
    assert_eq!(t.param_count(), 2);
    assert_eq!(t.render(&["Ada".into(), "42".into()]), "Hi Ada, order 42 is {{ 2 }} ready");
    let none = TemplateInfo { name: "n".into(), language: "en".into(), text: "No placeholders {{x}}".into() };
    assert_eq!(none.param_count(), 0);
}

#[test]
fn client_message_ids_are_checked() {
    assert!(ClientMsgId::from("0b6c1c8e-2f0a-4c4e-9a57-1f1f9d7a3b21").is_valid());
    assert!(!ClientMsgId::from("").is_valid());
    assert!(!ClientMsgId::from("has space").is_valid());
    assert!(!ClientMsgId("x".repeat(65)).is_valid());
}

#[test]
fn an_attachment_given_to_a_visitor_carries_its_signed_link() {
    let mut pdf = message(6, Author::Advisor { id: AdvisorId(2), name: "Ada".into() });
    pdf.attachments = vec![Attachment {
        id: "att-2".into(),
        kind: AttachmentKind::Document,
        mime: "application/pdf".into(),
        name: Some("Invoice.pdf".into()),
        size: 2048,
        state: AttachmentState::Ready,
        error: None,
        url: Some("/files/att-2?exp=1700000600&sig=abc".into()),
    }];
    let m = round_trip(VisitorServerFrame::Message { message: pdf });
    assert_eq!(m["message"]["attachments"][0]["url"], "/files/att-2?exp=1700000600&sig=abc");
    let refused = round_trip(ErrorFrame::new(ErrorCode::FileTypeRefused, "no"));
    assert_eq!(refused["code"], "file_type_refused");
    assert_eq!(ErrorCode::FileTooLarge.as_str(), "file_too_large");
    assert_eq!(ErrorCode::UnknownUpload.as_str(), "unknown_upload");
}
