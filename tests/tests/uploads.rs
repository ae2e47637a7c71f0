//! Files sent from the widget and the dashboard: uploaded first (type from the bytes, 10 MB at
//! most), then named by a message; served to the conversation's visitor through short-lived signed
//! links and to its advisors through the dashboard, with headers that keep a file inert.

use confab_tests::*;
use relay::attachments::signing::Signer;
use shared::*;

/// A real 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\x89\x99=\x1d\0\0\0\0IEND\xaeB`\x82";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
const HTML: &[u8] = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>";
/// The start of a Windows executable.
const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x00";

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// A visitor's upload from the shop's page.
async fn visitor_upload(relay: &TestRelay, token: Option<&str>, origin: &str, name: &str, bytes: &[u8]) -> reqwest::Response {
    let mut request = client()
        .post(relay.url(&format!("/api/v1/uploads?site={SITE}&name={name}")))
        .header("origin", origin)
        .header("content-type", "image/png")
        .body(bytes.to_vec());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.send().await.unwrap()
}

async fn uploaded(response: reqwest::Response) -> Attachment {
    assert_eq!(response.status(), 201, "upload accepted");
    response.json().await.unwrap()
}

async fn advisor_upload(relay: &TestRelay, cookie: Option<&str>, origin: &str, conversation: ConversationId, name: &str, bytes: &[u8]) -> reqwest::Response {
    let mut request = client()
        .post(relay.url(&format!("/dashboard/api/conversations/{}/uploads?name={name}", conversation.0)))
        .header("origin", origin)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec());
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

async fn error_of(response: reqwest::Response) -> (u16, ErrorFrame) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("an ErrorFrame body"))
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
}

/// Send a message with files from the visitor; the ack's seq or the error.
async fn visitor_sends(v: &mut VisitorClient, id: &str, text: &str, files: Vec<String>) -> Result<Seq, ErrorFrame> {
    v.send(&VisitorClientFrame::Send { id: id.into(), text: text.into(), attachments: files }).await;
    v.wait_for(|f| match f {
        VisitorServerFrame::Ack { id: acked, seq, .. } if acked.0 == id => Some(Ok(*seq)),
        VisitorServerFrame::Error(e) if e.reference.as_deref() == Some(id) => Some(Err(e.clone())),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_visitors_photo_reaches_the_advisor_and_is_served_to_them_inert() {
    let relay = TestRelay::start().await;
    let (mut advisor, _) = relay.advisor().await;
    let (mut visitor, welcome) = relay.new_visitor().await;

    let response = visitor_upload(&relay, Some(&welcome.token), SHOP_ORIGIN, "beach.png", PNG).await;
    assert_eq!(header(&response, "access-control-allow-origin"), SHOP_ORIGIN);
    let photo = uploaded(response).await;
    assert_eq!((photo.kind, photo.mime.as_str(), photo.size), (AttachmentKind::Image, "image/png", PNG.len() as u64));
    assert_eq!(photo.name.as_deref(), Some("beach.png"));
    assert!(photo.url.as_deref().is_some_and(|u| u.starts_with(&format!("/files/{}?exp=", photo.id))), "{photo:?}");

    let seq = visitor_sends(&mut visitor, "v-1", "", vec![photo.id.clone()]).await.expect("sent");
    let message = advisor.next_message().await;
    assert_eq!(message.seq, seq);
    assert_eq!(message.text, "📷 Photo", "a file alone has words for previews");
    let [got] = message.attachments.as_slice() else { panic!("one attachment: {message:?}") };
    assert_eq!((got.id.as_str(), got.state, got.mime.as_str()), (photo.id.as_str(), AttachmentState::Ready, "image/png"));

    let cookie = relay.login().await;
    let served = client()
        .get(relay.url(&format!("/dashboard/api/attachments/{}", photo.id)))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(header(&served, "content-type"), "image/png");
    assert_eq!(header(&served, "x-content-type-options"), "nosniff");
    assert!(header(&served, "content-disposition").starts_with("inline; filename=\"beach.png\""));
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);
}

#[tokio::test]
async fn an_advisors_pdf_reaches_the_visitor_through_a_short_lived_signed_link() {
    let relay = TestRelay::start().await;
    let (mut visitor, welcome) = relay.new_visitor().await;
    visitor.say("v-1", "Can I have the invoice?").await.unwrap();
    let cookie = relay.login().await;
    let (mut advisor, _) = relay.advisor_as(&cookie).await;

    let pdf = uploaded(advisor_upload(&relay, Some(&cookie), &relay.origin(), welcome.conversation, "Invoice 42.pdf", PDF).await).await;
    assert_eq!((pdf.kind, pdf.mime.as_str()), (AttachmentKind::Document, "application/pdf"));
    advisor
        .send(&AdvisorClientFrame::Send {
            id: "a-1".into(),
            conversation: welcome.conversation,
            text: "Here it is".into(),
            via: None,
            template: None,
            attachments: vec![pdf.id.clone()],
        })
        .await;
    advisor.wait_for(|f| matches!(f, AdvisorServerFrame::Ack { id, .. } if id.0 == "a-1").then_some(())).await;

    let message = visitor.next_message().await;
    assert_eq!(message.text, "Here it is");
    let [got] = message.attachments.as_slice() else { panic!("one attachment: {message:?}") };
    assert_eq!(got.name.as_deref(), Some("Invoice 42.pdf"));
    let link = got.url.clone().expect("a visitor gets a signed link");
    let exp: i64 = link.split("exp=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
    let now = relay::now_ms() / 1000;
    assert!(exp > now && exp <= now + 15 * 60 + 5, "expires within minutes: {exp} vs {now}");

    // No cookie, another origin: the link alone opens it.
    let served = client().get(relay.url(&link)).header("origin", SHOP_ORIGIN).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(header(&served, "content-type"), "application/pdf");
    assert_eq!(header(&served, "x-content-type-options"), "nosniff");
    assert_eq!(
        header(&served, "content-disposition"),
        "attachment; filename=\"Invoice 42.pdf\"; filename*=UTF-8''Invoice%2042.pdf"
    );
    assert!(header(&served, "content-security-policy").starts_with("sandbox"));
    assert_eq!(header(&served, "cross-origin-resource-policy"), "cross-origin");
    assert_eq!(served.bytes().await.unwrap().as_ref(), PDF);

    // On a fresh connection the thread comes back with fresh links.
    let mut again = relay.visitor().await;
    let back = again.hello(Some(&welcome.token), 0).await.unwrap();
    let replayed = back.replay.iter().find(|m| m.seq == message.seq).unwrap();
    assert!(replayed.attachments[0].url.is_some());
}

#[tokio::test]
async fn the_type_is_read_from_the_bytes_so_a_disguised_page_or_program_is_refused() {
    let relay = TestRelay::start().await;
    let (_visitor, welcome) = relay.new_visitor().await;
    for (name, bytes) in [("holiday.png", HTML), ("photo.png", EXE), ("notes.pdf", b"just some text".as_slice())] {
        let (status, e) = error_of(visitor_upload(&relay, Some(&welcome.token), SHOP_ORIGIN, name, bytes).await).await;
        assert_eq!((status, e.code), (415, ErrorCode::FileTypeRefused), "{name}");
        assert_eq!(e.message, "This file type can't be sent: only photos, videos and PDFs.");
    }
    // And the other way: a real PNG named like a document is kept as the picture it is.
    let photo = uploaded(visitor_upload(&relay, Some(&welcome.token), SHOP_ORIGIN, "report.pdf", PNG).await).await;
    assert_eq!(photo.mime, "image/png");
    let leftovers: Vec<_> = std::fs::read_dir(relay.data_dir.join("attachments").join("tmp")).unwrap().collect();
    assert!(leftovers.is_empty(), "refused files leave nothing behind");
}

#[tokio::test]
async fn a_file_larger_than_ten_mb_is_refused_with_a_clear_message() {
    let relay = TestRelay::start().await;
    let (_visitor, welcome) = relay.new_visitor().await;
    let mut big = PNG.to_vec();
    big.resize(shared::limits::MAX_UPLOAD_BYTES as usize + 1, 0);
    let (status, e) = error_of(visitor_upload(&relay, Some(&welcome.token), SHOP_ORIGIN, "huge.png", &big).await).await;
    assert_eq!((status, e.code), (413, ErrorCode::FileTooLarge));
    assert_eq!(e.message, "This file can't be sent: it is larger than 10 MB.");
    big.truncate(shared::limits::MAX_UPLOAD_BYTES as usize);
    let at_limit = uploaded(visitor_upload(&relay, Some(&welcome.token), SHOP_ORIGIN, "big.png", &big).await).await;
    assert_eq!(at_limit.size, shared::limits::MAX_UPLOAD_BYTES);
}

#[tokio::test]
async fn uploads_need_the_visitors_token_and_a_page_the_site_allows() {
    let relay = TestRelay::start().await;
    let (_visitor, welcome) = relay.new_visitor().await;
    let (status, e) = error_of(visitor_upload(&relay, None, SHOP_ORIGIN, "a.png", PNG).await).await;
    assert_eq!((status, e.code), (401, ErrorCode::BadToken));
    let (status, e) = error_of(visitor_upload(&relay, Some("not-a-token"), SHOP_ORIGIN, "a.png", PNG).await).await;
    assert_eq!((status, e.code), (401, ErrorCode::BadToken));
    let (status, e) = error_of(visitor_upload(&relay, Some(&welcome.token), "https://evil.test", "a.png", PNG).await).await;
    assert_eq!((status, e.code), (403, ErrorCode::ForbiddenOrigin));

    let preflight = client()
        .request(reqwest::Method::OPTIONS, relay.url(&format!("/api/v1/uploads?site={SITE}")))
        .header("origin", SHOP_ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(header(&preflight, "access-control-allow-origin"), SHOP_ORIGIN);
    assert!(header(&preflight, "access-control-allow-headers").contains("authorization"));
}

#[tokio::test]
async fn another_visitor_can_neither_send_nor_fetch_someone_elses_file() {
    let relay = TestRelay::start().await;
    let (_owner, welcome) = relay.new_visitor().await;
    let photo = uploaded(visitor_upload(&relay, Some(&welcome.token), SHOP_ORIGIN, "me.png", PNG).await).await;

    let (mut other, _) = relay.new_visitor().await;
    let e = visitor_sends(&mut other, "o-1", "look", vec![photo.id.clone()]).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownUpload);
    // Nothing of the refused message was stored, and their thread goes on.
    assert_eq!(other.say("o-2", "hello").await.unwrap().0, 1);

    // Without a link or a session, the id alone opens nothing.
    let bare = client().get(relay.url(&format!("/files/{}", photo.id))).send().await.unwrap();
    assert_eq!(bare.status(), 403);
    let dashboard = client().get(relay.url(&format!("/dashboard/api/attachments/{}", photo.id))).send().await.unwrap();
    assert_eq!(dashboard.status(), 401);
}

#[tokio::test]
async fn an_expired_or_tampered_link_gets_nothing() {
    let relay = TestRelay::start().await;
    let (_visitor, welcome) = relay.new_visitor().await;
    let photo = uploaded(visitor_upload(&relay, Some(&welcome.token), SHOP_ORIGIN, "me.png", PNG).await).await;
    let link = photo.url.clone().unwrap();
    assert_eq!(client().get(relay.url(&link)).send().await.unwrap().status(), 200);

    let key: [u8; 32] = std::fs::read(relay.data_dir.join("link-signing.key")).unwrap().try_into().unwrap();
    let signer = Signer::new(key);
    let expired = signer.link(&photo.id, relay::now_ms() / 1000 - 1);
    let (status, e) = error_of(client().get(relay.url(&expired)).send().await.unwrap()).await;
    assert_eq!((status, e.code), (403, ErrorCode::Forbidden));
    assert!(e.message.contains("expired"), "{}", e.message);

    let later = link.replace("exp=", "exp=9");
    let (status, _) = error_of(client().get(relay.url(&later)).send().await.unwrap()).await;
    assert_eq!(status, 403, "a later expiry breaks the signature");
    let mut tampered = link.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(client().get(relay.url(&tampered)).send().await.unwrap().status(), 403);
    let other = uploaded(visitor_upload(&relay, Some(&welcome.token), SHOP_ORIGIN, "two.png", PNG).await).await;
    let moved = link.replace(&photo.id, &other.id);
    assert_eq!(client().get(relay.url(&moved)).send().await.unwrap().status(), 403, "a link opens only its own file");
}

#[tokio::test]
async fn a_file_is_sent_once_and_resending_the_same_message_is_a_retry() {
    let relay = TestRelay::start().await;
    let (mut visitor, welcome) = relay.new_visitor().await;
    let photo = uploaded(visitor_upload(&relay, Some(&welcome.token), SHOP_ORIGIN, "me.png", PNG).await).await;
    let seq = visitor_sends(&mut visitor, "v-1", "my photo", vec![photo.id.clone()]).await.unwrap();
    assert_eq!(visitor_sends(&mut visitor, "v-1", "my photo", vec![photo.id.clone()]).await.unwrap(), seq, "same message: same seq");
    let e = visitor_sends(&mut visitor, "v-2", "again", vec![photo.id.clone()]).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownUpload);
    let e = visitor_sends(&mut visitor, "v-3", "", vec!["no-such-upload-aaaaaaaaaa".into()]).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::UnknownUpload);
}

#[tokio::test]
async fn an_advisor_uploads_only_with_a_session_from_the_dashboard_into_a_conversation_they_see() {
    let relay = TestRelay::start().await;
    let (_visitor, welcome) = relay.new_visitor().await;
    let cookie = relay.login().await;
    let (status, e) = error_of(advisor_upload(&relay, None, &relay.origin(), welcome.conversation, "a.pdf", PDF).await).await;
    assert_eq!((status, e.code), (401, ErrorCode::NotAuthenticated));
    let (status, e) = error_of(advisor_upload(&relay, Some(&cookie), SHOP_ORIGIN, welcome.conversation, "a.pdf", PDF).await).await;
    assert_eq!((status, e.code), (403, ErrorCode::Forbidden));
    let (status, _) = error_of(advisor_upload(&relay, Some(&cookie), &relay.origin(), ConversationId(999), "a.pdf", PDF).await).await;
    assert_eq!(status, 404);
    let (status, e) = error_of(advisor_upload(&relay, Some(&cookie), &relay.origin(), welcome.conversation, "x.pdf", HTML).await).await;
    assert_eq!((status, e.code), (415, ErrorCode::FileTypeRefused));

    // A file the visitor uploaded is not the advisor's to send.
    let theirs = uploaded(visitor_upload(&relay, Some(&welcome.token), SHOP_ORIGIN, "me.png", PNG).await).await;
    let (mut advisor, _) = relay.advisor_as(&cookie).await;
    advisor
        .send(&AdvisorClientFrame::Send {
            id: "a-1".into(),
            conversation: welcome.conversation,
            text: "mine now".into(),
            via: None,
            template: None,
            attachments: vec![theirs.id],
        })
        .await;
    let e = advisor.expect_error().await;
    assert_eq!((e.code, e.reference.as_deref()), (ErrorCode::UnknownUpload, Some("a-1")));
}
