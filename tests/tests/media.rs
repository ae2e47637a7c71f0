//! Photos and files from WhatsApp and Messenger customers: committed with their message as
//! `pending`, fetched from the Graph API sandbox with the platform's flow (retried when it fails
//! for a while), and served to logged-in advisors only, with headers that keep a file from running.

use std::time::Duration;

use confab_tests::*;
use relay::config::MetaArgs;
use relay::sandbox::{MediaFailure, Sandbox, SandboxConfig};
use shared::*;
use tokio_util::sync::CancellationToken;

const WA_ID: &str = "5511987654321";
const PSID: &str = "6543210987654321";

async fn bridged() -> (TestRelay, Sandbox, MetaArgs, CancellationToken) {
    start_with_sandbox(|_, _| {}).await
}

/// The next `attachment` frame for message `seq` of `conversation` that is no longer pending.
async fn settled(advisor: &mut AdvisorClient, conversation: ConversationId, seq: Seq) -> Attachment {
    advisor
        .wait_for(|f| match f {
            AdvisorServerFrame::Attachment { conversation: c, seq: s, attachment }
                if *c == conversation && *s == seq && attachment.state != AttachmentState::Pending =>
            {
                Some(attachment.clone())
            }
            _ => None,
        })
        .await
}

async fn get(relay: &TestRelay, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(relay.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
}

/// The bytes the sandbox customer sent in their last webhook (`kind`: "image", "document").
async fn sent_bytes(sandbox: &Sandbox, kind: &str) -> Vec<u8> {
    let last = sandbox.webhooks().last().cloned().expect("a webhook was posted");
    let url = match last.payload["object"].as_str() {
        Some("page") => {
            last.payload["entry"][0]["messaging"][0]["message"]["attachments"][0]["payload"]["url"].as_str().unwrap().to_owned()
        }
        _ => {
            let id = last.payload["entry"][0]["changes"][0]["value"]["messages"][0][kind]["id"].as_str().unwrap();
            format!("{}/phone/media/{id}", sandbox.base_url())
        }
    };
    reqwest::get(url).await.unwrap().bytes().await.unwrap().to_vec()
}

/// The Graph calls of the media flow: (look-ups, downloads), as HTTP statuses in order.
fn media_calls(sandbox: &Sandbox) -> (Vec<u16>, Vec<u16>) {
    let calls = sandbox.requests();
    let lookups = calls.iter().filter(|c| c.method == "GET" && c.path.matches('/').count() == 2 && !c.path.contains("lookaside"));
    let downloads = calls.iter().filter(|c| c.path.starts_with("/lookaside/"));
    (lookups.map(|c| c.status).collect(), downloads.map(|c| c.status).collect())
}

#[tokio::test]
async fn a_whatsapp_photo_shows_as_downloading_then_ready_and_is_served_to_advisors_only() {
    let (relay, sandbox, _meta, _stop) = bridged().await;
    let (mut advisor, _) = relay.advisor().await;

    sandbox.whatsapp_image(WA_ID, "Ana Souza", Some("The scratch on the sleeve")).await.unwrap();
    let message = advisor.next_message().await;
    assert_eq!(message.text, "The scratch on the sleeve");
    let [pending] = message.attachments.clone().try_into().expect("one attachment");
    assert_eq!((pending.kind, pending.state, pending.mime.as_str(), pending.size), (AttachmentKind::Image, AttachmentState::Pending, "", 0));

    let ready = settled(&mut advisor, message.conversation, message.seq).await;
    let png = sent_bytes(&sandbox, "image").await;
    assert_eq!(ready.id, pending.id);
    assert_eq!(ready.state, AttachmentState::Ready, "{ready:?}");
    assert_eq!((ready.mime.as_str(), ready.size), ("image/png", png.len() as u64));

    // Both steps carried the bearer token (the sandbox refuses the download without it).
    let calls = sandbox.requests();
    let bearer = format!("Bearer {}", SandboxConfig::default().access_token);
    let lookup = calls.iter().find(|c| c.path.ends_with(&format!("/{}", last_media_id(&sandbox)))).expect("looked up");
    assert_eq!(lookup.authorization.as_deref(), Some(bearer.as_str()));
    assert!(lookup.query.as_deref().unwrap_or_default().contains("phone_number_id="));
    let download = calls.iter().find(|c| c.path.starts_with("/lookaside/")).expect("downloaded");
    assert_eq!((download.status, download.authorization.as_deref()), (200, Some(bearer.as_str())));

    let cookie = relay.login().await;
    let path = format!("/dashboard/api/attachments/{}", ready.id);
    let response = get(&relay, &path, Some(&cookie)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "image/png");
    assert!(header(&response, "content-disposition").starts_with("inline; filename=\"photo.png\""));
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert!(header(&response, "cache-control").starts_with("private"));
    assert!(header(&response, "content-security-policy").starts_with("sandbox"));
    let etag = header(&response, "etag").to_owned();
    assert_eq!(response.bytes().await.unwrap().to_vec(), png, "exactly the customer's bytes");

    let cached = reqwest::Client::new()
        .get(relay.url(&path))
        .header("cookie", &cookie)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);

    let anonymous = get(&relay, &path, None).await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.json::<ErrorFrame>().await.unwrap().code, ErrorCode::NotAuthenticated);
    assert_eq!(get(&relay, &path, Some("confab_session=forged")).await.status(), 401);
    assert_eq!(get(&relay, "/dashboard/api/attachments/AAAAAAAAAAAAAAAAAAAAAAAA", Some(&cookie)).await.status(), 404);
    assert_eq!(get(&relay, "/dashboard/api/attachments/..%2F..%2Fconfab.sqlite3", Some(&cookie)).await.status(), 404);

    // The thread, loaded again, has the file ready.
    let history = advisor.open(message.conversation).await;
    assert_eq!(history[0].attachments, vec![ready]);
}

fn last_media_id(sandbox: &Sandbox) -> String {
    let last = sandbox.webhooks().last().cloned().unwrap();
    let message = &last.payload["entry"][0]["changes"][0]["value"]["messages"][0];
    let kind = message["type"].as_str().unwrap();
    message[kind]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_document_keeps_its_file_name_and_is_served_as_a_download() {
    let (relay, sandbox, _meta, _stop) = bridged().await;
    let (mut advisor, _) = relay.advisor().await;

    sandbox.whatsapp_document(WA_ID, "Ana Souza", "Garantía \"Trailhead\" 2024.pdf", None).await.unwrap();
    let message = advisor.next_message().await;
    assert_eq!(message.text, "📄 Garantía \"Trailhead\" 2024.pdf");
    assert_eq!(message.attachments[0].name.as_deref(), Some("Garantía \"Trailhead\" 2024.pdf"));
    assert_eq!(message.attachments[0].kind, AttachmentKind::Document);

    let ready = settled(&mut advisor, message.conversation, message.seq).await;
    assert_eq!((ready.state, ready.mime.as_str()), (AttachmentState::Ready, "application/pdf"));
    assert_eq!(ready.name.as_deref(), Some("Garantía \"Trailhead\" 2024.pdf"));

    let cookie = relay.login().await;
    let response = get(&relay, &format!("/dashboard/api/attachments/{}", ready.id), Some(&cookie)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/pdf");
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"Garant_a _Trailhead_ 2024.pdf\"; filename*=UTF-8''Garant%C3%ADa%20%22Trailhead%22%202024.pdf"
    );
    assert_eq!(response.bytes().await.unwrap().to_vec(), sent_bytes(&sandbox, "document").await);
}

#[tokio::test]
async fn a_download_that_fails_for_a_while_is_retried_and_an_expired_url_is_looked_up_again() {
    let (relay, sandbox, _meta, _stop) = bridged().await;
    let (mut advisor, _) = relay.advisor().await;

    sandbox.fail_next_media(2, MediaFailure::ServerError);
    sandbox.fail_next_media(1, MediaFailure::ExpiredUrl);
    sandbox.whatsapp_image(WA_ID, "Ana Souza", None).await.unwrap();
    let message = advisor.next_message().await;
    assert_eq!(message.attachments[0].state, AttachmentState::Pending);

    let ready = settled(&mut advisor, message.conversation, message.seq).await;
    assert_eq!(ready.state, AttachmentState::Ready, "{ready:?}");
    assert_eq!(media_calls(&sandbox), (vec![500, 500, 200, 200], vec![404, 200]));
    let cookie = relay.login().await;
    let response = get(&relay, &format!("/dashboard/api/attachments/{}", ready.id), Some(&cookie)).await;
    assert_eq!(response.bytes().await.unwrap().to_vec(), sent_bytes(&sandbox, "image").await);
}

#[tokio::test]
async fn a_download_that_arrives_damaged_is_fetched_again() {
    let (relay, sandbox, _meta, _stop) = bridged().await;
    let (mut advisor, _) = relay.advisor().await;

    sandbox.fail_next_media(1, MediaFailure::Corrupted);
    sandbox.whatsapp_image(WA_ID, "Ana Souza", None).await.unwrap();
    let message = advisor.next_message().await;
    let ready = settled(&mut advisor, message.conversation, message.seq).await;
    assert_eq!(ready.state, AttachmentState::Ready, "{ready:?}");
    assert_eq!(media_calls(&sandbox), (vec![200, 200], vec![200, 200]), "the damaged copy was not kept");
    let cookie = relay.login().await;
    let response = get(&relay, &format!("/dashboard/api/attachments/{}", ready.id), Some(&cookie)).await;
    assert_eq!(response.bytes().await.unwrap().to_vec(), sent_bytes(&sandbox, "image").await);
}

#[tokio::test]
async fn a_file_whatsapp_no_longer_has_ends_failed_with_a_reason() {
    let (relay, sandbox, _meta, _stop) = bridged().await;
    let (mut advisor, _) = relay.advisor().await;

    sandbox.fail_next_media(1, MediaFailure::Deleted);
    sandbox.whatsapp_image(WA_ID, "Ana Souza", None).await.unwrap();
    let message = advisor.next_message().await;
    let failed = settled(&mut advisor, message.conversation, message.seq).await;
    assert_eq!(failed.state, AttachmentState::Failed);
    let reason = failed.error.clone().expect("a reason");
    assert!(reason.contains("WhatsApp no longer has this file"), "{reason}");
    assert_eq!(media_calls(&sandbox), (vec![400], vec![]), "not retried");

    let cookie = relay.login().await;
    let response = get(&relay, &format!("/dashboard/api/attachments/{}", failed.id), Some(&cookie)).await;
    assert_eq!(response.status(), 404);
    let history = advisor.open(message.conversation).await;
    assert_eq!(history[0].attachments, vec![failed]);
}

#[tokio::test]
async fn a_messenger_photo_is_fetched_from_its_url() {
    let (relay, sandbox, _meta, _stop) = bridged().await;
    let (mut advisor, _) = relay.advisor().await;

    sandbox.messenger_image(PSID).await.unwrap();
    let message = advisor.next_message().await;
    assert_eq!(message.channel, Channel::Messenger);
    assert_eq!(message.attachments[0].state, AttachmentState::Pending);
    let ready = settled(&mut advisor, message.conversation, message.seq).await;
    assert_eq!((ready.state, ready.kind, ready.mime.as_str()), (AttachmentState::Ready, AttachmentKind::Image, "image/png"));

    let cookie = relay.login().await;
    let response = get(&relay, &format!("/dashboard/api/attachments/{}", ready.id), Some(&cookie)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().to_vec(), sent_bytes(&sandbox, "image").await);
}

#[tokio::test]
async fn a_download_interrupted_by_a_restart_is_finished_by_the_next_relay() {
    let (relay, sandbox, meta, _stop) = bridged().await;
    let (mut advisor, _) = relay.advisor().await;

    sandbox.fail_next_media(3, MediaFailure::ServerError);
    sandbox.whatsapp_image(WA_ID, "Ana Souza", None).await.unwrap();
    let message = advisor.next_message().await;
    sandbox.wait_for(|c| c.status == 500, WAIT).await.expect("a first attempt failed");
    drop(advisor);
    let dir = relay.data_dir.clone();
    let temp = relay.stop().await;

    let relay = TestRelay::start_bridged_in(&dir, meta).await;
    let (mut advisor, _) = relay.advisor().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let ready = loop {
        let history = advisor.open(message.conversation).await;
        let attachment = history[0].attachments[0].clone();
        if attachment.state != AttachmentState::Pending {
            break attachment;
        }
        assert!(tokio::time::Instant::now() < deadline, "still pending: {attachment:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(ready.state, AttachmentState::Ready, "{ready:?}");
    let (lookups, downloads) = media_calls(&sandbox);
    assert_eq!((&lookups[..3], &downloads[..]), (&[500, 500, 500][..], &[200][..]));
    let cookie = relay.login().await;
    let response = get(&relay, &format!("/dashboard/api/attachments/{}", ready.id), Some(&cookie)).await;
    assert_eq!(response.bytes().await.unwrap().to_vec(), sent_bytes(&sandbox, "image").await);
    relay.stop().await;
    drop(temp);
}
