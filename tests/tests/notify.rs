//! Reaching customers who left, on a real relay with a local SMTP sink: one e-mail per burst of
//! replies, none for replies read or seen on the page, the visitor's language, a link whose code
//! reopens the thread in another browser, and a pending e-mail surviving a restart. Then the
//! satisfaction survey: asked at resolve, kept, and counted in analytics.

use std::time::Duration;

use confab_tests::smtp::SmtpSink;
use confab_tests::*;
use relay::Config;
use shared::*;

const BATCH: Duration = Duration::from_millis(1000);
const EMAIL: &str = "ana@customer.test";

async fn relay_with_mail(sink: &SmtpSink, dir: &std::path::Path, batch: Duration) -> TestRelay {
    let mut config = Config::new(dir);
    config.notify.smtp_url = Some(sink.url());
    config.notify.mail_from = "Test Shop <support@shop.test>".into();
    config.notify.batch = batch;
    TestRelay::start_with(dir, config).await
}

/// A visitor who wrote, gave their e-mail, and closed the page; the advisor sees them offline.
async fn visitor_who_left(relay: &TestRelay, advisor: &mut AdvisorClient, locale: Option<&str>) -> (ConversationId, String) {
    let mut v = relay.visitor().await;
    v.send(&VisitorClientFrame::Hello {
        v: PROTOCOL_VERSION,
        token: None,
        last_seq: 0,
        page: Some("http://shop.test:8000/tents?id=3".into()),
        referrer: None,
        timezone: None,
        locale: locale.map(str::to_owned),
    })
    .await;
    let (token, conversation) = match v.recv().await {
        VisitorServerFrame::Welcome { token, conversation, .. } => (token, conversation),
        other => panic!("expected welcome, got {other:?}"),
    };
    v.say("q1", "Where is my order?").await.unwrap();
    v.send(&VisitorClientFrame::SetEmail { email: format!("  {EMAIL} ") }).await;
    let saved = v.wait_for(|f| match f {
        VisitorServerFrame::Email { email } => Some(email.clone()),
        VisitorServerFrame::Error(e) => panic!("set_email refused: {e:?}"),
        _ => None,
    });
    assert_eq!(saved.await, EMAIL, "the e-mail is kept trimmed");
    drop(v);
    advisor.summary_where(conversation, |s| !s.visitor_online).await;
    (conversation, token)
}


async fn redeem(relay: &TestRelay, code: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(relay.url(&format!("/api/v1/sites/{SITE}/resume")))
        .header("origin", SHOP_ORIGIN)
        .header("content-type", "text/plain")
        .body(code.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn one_email_covers_a_burst_of_replies_to_a_visitor_who_left_and_its_link_reopens_the_thread() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_mail(&sink, dir.path(), BATCH).await;
    let (mut advisor, _) = relay.advisor().await;
    let (conversation, _token) = visitor_who_left(&relay, &mut advisor, None).await;

    let started = std::time::Instant::now();
    advisor.reply(conversation, "r1", "Hi! Let me check.").await.unwrap();
    advisor.reply(conversation, "r2", "It left our warehouse today.").await.unwrap();
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    println!("e-mail arrived {} ms after the first reply (batch window {} ms)", started.elapsed().as_millis(), BATCH.as_millis());
    tokio::time::sleep(BATCH * 2).await;
    let mails = if sink.mails().len() > mails.len() { sink.mails() } else { mails };
    assert_eq!(mails.len(), 1, "one e-mail for the burst: {mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.to, vec![EMAIL.to_owned()]);
    assert_eq!(mail.from, "support@shop.test");
    assert_eq!(mail.subject(), "2 new replies from Test Shop");
    let text = mail.text();
    assert!(text.contains("Hi! Let me check.") && text.contains("It left our warehouse today."), "{text}");
    assert!(text.contains("Ada:"), "the advisor's name: {text}");
    assert!(!text.contains("Where is my order?"), "the visitor's own message is not news to them: {text}");
    assert!(text.contains("http://shop.test:8000/tents?id=3#confab-resume="), "the link goes to the page they left: {text}");

    // A browser that never saw the conversation opens the link: the code becomes a token of its own.
    let code = mail.resume_code();
    let answer = redeem(&relay, &code).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["access-control-allow-origin"], SHOP_ORIGIN);
    let token = answer.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let mut fresh = relay.visitor().await;
    let welcome = fresh.hello(Some(&token), 0).await.expect("the new token is the visitor's");
    assert_eq!(welcome.conversation, conversation);
    let texts: Vec<&str> = welcome.replay.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["Where is my order?", "Hi! Let me check.", "It left our warehouse today."]);
    let email = fresh.wait_for(|f| match f {
        VisitorServerFrame::Email { email } => Some(email.clone()),
        _ => None,
    });
    assert_eq!(email.await, EMAIL, "the reopened thread knows where replies go");

    // The code works once, and only for its own site's pages.
    let again = redeem(&relay, &code).await;
    assert_eq!(again.status(), 404);
    assert_eq!(again.json::<ErrorFrame>().await.unwrap().code, ErrorCode::NotFound);
    let forged = redeem(&relay, "not-a-code").await;
    assert_eq!(forged.status(), 404);
}

#[tokio::test]
async fn no_email_goes_to_a_visitor_still_on_the_page_or_who_read_the_replies_in_time() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let batch = Duration::from_millis(2000);
    let relay = relay_with_mail(&sink, dir.path(), batch).await;
    let (mut advisor, _) = relay.advisor().await;

    // Still on the page: the reply reaches the widget, no e-mail.
    let (mut here, welcome) = relay.new_visitor().await;
    here.say("q", "Hello?").await.unwrap();
    here.send(&VisitorClientFrame::SetEmail { email: "here@customer.test".into() }).await;
    here.wait_for(|f| matches!(f, VisitorServerFrame::Email { .. }).then_some(())).await;
    advisor.reply(welcome.conversation, "r-here", "Hello, I'm here.").await.unwrap();
    assert_eq!(here.next_message().await.text, "Hello, I'm here.");

    // Left, got a reply, came back and read it before the e-mail was due, left again.
    let (conversation, token) = visitor_who_left(&relay, &mut advisor, None).await;
    let seq = advisor.reply(conversation, "r-read", "Found it!").await.unwrap();
    let mut back = relay.visitor().await;
    let again = back.hello(Some(&token), 0).await.unwrap();
    assert_eq!(again.replay.last().map(|m| m.seq), Some(seq));
    back.send(&VisitorClientFrame::Read { up_to: seq }).await;
    advisor.summary_where(conversation, |s| s.visitor_read_seq >= seq).await;
    drop(back);
    advisor.summary_where(conversation, |s| !s.visitor_online).await;

    tokio::time::sleep(batch * 2).await;
    assert!(sink.mails().is_empty(), "no e-mail: {:#?}", sink.mails());
    drop(here);
}

#[tokio::test]
async fn the_email_is_in_the_visitors_language() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = relay_with_mail(&sink, dir.path(), BATCH).await;
    let (mut advisor, _) = relay.advisor().await;
    let (conversation, _) = visitor_who_left(&relay, &mut advisor, Some("fr")).await;
    advisor.reply(conversation, "r1", "Votre colis est parti.").await.unwrap();
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].subject(), "Nouvelle réponse de Test Shop");
    let text = mails[0].text();
    assert!(text.starts_with("Bonjour,"), "{text}");
    assert!(text.contains("Continuer la conversation : http://shop.test:8000/"), "{text}");
}

#[tokio::test]
async fn a_pending_email_survives_a_restart_and_goes_out_once() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let batch = Duration::from_millis(1500);
    let relay = relay_with_mail(&sink, dir.path(), batch).await;
    let (mut advisor, _) = relay.advisor().await;
    let (conversation, _) = visitor_who_left(&relay, &mut advisor, None).await;
    advisor.reply(conversation, "r1", "Before the restart.").await.unwrap();
    drop(advisor);
    relay.stop().await;
    assert!(sink.mails().is_empty(), "the relay stopped before the e-mail was due");

    let relay = relay_with_mail(&sink, dir.path(), batch).await;
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert!(mails[0].text().contains("Before the restart."));
    tokio::time::sleep(batch * 2).await;
    assert_eq!(sink.mails().len(), 1, "sent once");
    relay.stop().await;
    let relay = relay_with_mail(&sink, dir.path(), batch).await;
    tokio::time::sleep(batch * 2).await;
    assert_eq!(sink.mails().len(), 1, "not again after another restart");
    drop(relay);
}

#[tokio::test]
async fn an_address_that_is_not_one_is_refused() {
    let relay = TestRelay::start().await;
    let (mut v, _) = relay.new_visitor().await;
    v.send(&VisitorClientFrame::SetEmail { email: "ana@nowhere".into() }).await;
    let e = v.expect_error().await;
    assert_eq!(e.code, ErrorCode::BadRequest);
}

async fn analytics_csat(relay: &TestRelay, cookie: &str) -> shared::analytics::Csat {
    let r = relay.request(Some(cookie), reqwest::Method::GET, "/api/v1/analytics", None).await;
    assert_eq!(r.status(), 200);
    r.json::<shared::analytics::AnalyticsReport>().await.unwrap().csat
}

#[tokio::test]
async fn a_resolved_conversation_asks_for_a_rating_which_is_kept_shown_to_advisors_and_counted() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let (mut advisor, _) = relay.advisor_as(&cookie).await;
    let (mut v, welcome) = relay.new_visitor().await;
    let conversation = welcome.conversation;
    v.say("q", "Can I return a tent?").await.unwrap();
    advisor.reply(conversation, "a", "Yes, within 30 days.").await.unwrap();

    // Nothing to rate while it is open.
    v.send(&VisitorClientFrame::Rate { rating: 5, comment: None }).await;
    assert_eq!(v.wait_for(|f| if let VisitorServerFrame::Error(e) = f { Some(e.code) } else { None }).await, ErrorCode::NotFound);

    let status = |status| AdvisorClientFrame::SetStatus { reference: "s".into(), conversation, status, snoozed_until: None };
    advisor.send(&status(ConversationStatus::Resolved)).await;
    assert_eq!(v.wait_for(|f| if let VisitorServerFrame::Survey { rating } = f { Some(*rating) } else { None }).await, 0);

    for bad in [0, 6] {
        v.send(&VisitorClientFrame::Rate { rating: bad, comment: None }).await;
        assert_eq!(v.expect_error().await.code, ErrorCode::BadRequest, "rating {bad}");
    }
    v.send(&VisitorClientFrame::Rate { rating: 3, comment: Some("  OK  ".into()) }).await;
    assert_eq!(v.wait_for(|f| if let VisitorServerFrame::Survey { rating } = f { Some(*rating) } else { None }).await, 3);
    // A second thought replaces the first rating of this resolution.
    v.send(&VisitorClientFrame::Rate { rating: 5, comment: Some("Quick and kind".into()) }).await;
    assert_eq!(v.wait_for(|f| if let VisitorServerFrame::Survey { rating } = f { Some(*rating) } else { None }).await, 5);

    let thread = advisor.open(conversation).await;
    let notes: Vec<&str> = thread.iter().filter(|m| m.note).map(|m| m.text.as_str()).collect();
    assert_eq!(notes.last().copied(), Some("Customer rating: ★★★★★ 5/5 — “Quick and kind”"), "{notes:?}");
    assert!(!v.try_recv(Duration::from_millis(300)).await.is_some_and(|f| matches!(f, VisitorServerFrame::Message { .. })), "the note stays with advisors");

    let stored: (i64, Option<String>, Option<i64>) = {
        let url = format!("sqlite://{}?mode=ro", relay.data_dir.join("confab.sqlite3").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let row = sqlx::query_as("SELECT rating, comment, resolved_by FROM surveys WHERE conversation_id = ?")
            .bind(conversation.0)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        row
    };
    assert_eq!(stored.0, 5);
    assert_eq!(stored.1.as_deref(), Some("Quick and kind"));
    assert!(stored.2.is_some(), "kept with the advisor who resolved");

    let csat = analytics_csat(&relay, &cookie).await;
    assert_eq!((csat.count, csat.sum, csat.distribution, csat.satisfied), (1, 5, [0, 0, 0, 0, 1], 1));

    // A visitor who comes back to the resolved conversation sees their rating, not a new question.
    let mut back = relay.visitor().await;
    back.hello(Some(&welcome.token), 0).await.unwrap();
    assert_eq!(back.wait_for(|f| if let VisitorServerFrame::Survey { rating } = f { Some(*rating) } else { None }).await, 5);
}

/// The next private note an advisor is sent (a new one, or one rewritten).
async fn next_note(advisor: &mut AdvisorClient) -> Message {
    advisor.wait_for(|f| if let AdvisorServerFrame::Message { message } = f { message.note.then(|| message.clone()) } else { None }).await
}

#[tokio::test]
async fn rating_the_same_resolution_again_rewrites_its_one_note_instead_of_adding_another() {
    let relay = TestRelay::start().await;
    let cookie = relay.login().await;
    let (mut advisor, _) = relay.advisor_as(&cookie).await;
    let (mut v, welcome) = relay.new_visitor().await;
    let conversation = welcome.conversation;
    v.say("q", "Is the tent waterproof?").await.unwrap();
    advisor.reply(conversation, "a", "Yes, to 3000 mm.").await.unwrap();
    advisor.send(&AdvisorClientFrame::SetStatus { reference: "s".into(), conversation, status: ConversationStatus::Resolved, snoozed_until: None }).await;
    assert_eq!(v.wait_for(|f| if let VisitorServerFrame::Survey { rating } = f { Some(*rating) } else { None }).await, 0);

    v.send(&VisitorClientFrame::Rate { rating: 2, comment: Some("Slow".into()) }).await;
    let first = next_note(&mut advisor).await;
    assert_eq!(first.text, "Customer rating: ★★☆☆☆ 2/5 — “Slow”");
    // Again and again: the same note (same seq) with the newest rating, never a second one.
    for (rating, text) in [(4, "Customer rating: ★★★★☆ 4/5"), (5, "Customer rating: ★★★★★ 5/5")] {
        v.send(&VisitorClientFrame::Rate { rating, comment: None }).await;
        let again = next_note(&mut advisor).await;
        assert_eq!((again.seq, again.id.0.as_str(), again.text.as_str()), (first.seq, first.id.0.as_str(), text));
    }
    let thread = advisor.open(conversation).await;
    let notes: Vec<(Seq, &str)> = thread.iter().filter(|m| m.note).map(|m| (m.seq, m.text.as_str())).collect();
    assert_eq!(notes, [(first.seq, "Customer rating: ★★★★★ 5/5")]);
    assert_eq!(
        sql_i64(&relay.data_dir, &format!("SELECT COUNT(*) FROM messages WHERE conversation_id = {} AND note = 1", conversation.0)).await,
        Some(1)
    );
    assert_eq!(sql_i64(&relay.data_dir, &format!("SELECT rating FROM surveys WHERE conversation_id = {}", conversation.0)).await, Some(5));
    let csat = analytics_csat(&relay, &cookie).await;
    assert_eq!((csat.count, csat.sum), (1, 5), "one rating counted");
}

/// A stand-in for a browser vendor's push service: records what it is sent; `/gone/…` answers 410.
async fn fake_push_service() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>) {
    use axum::routing::post;
    let got: std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>> = Default::default();
    let kept = got.clone();
    let app = axum::Router::new()
        .route(
            "/push/{id}",
            post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    kept.lock().unwrap().push((headers, body.to_vec()));
                    axum::http::StatusCode::CREATED
                }
            }),
        )
        .route("/gone/{id}", post(|| async { axum::http::StatusCode::GONE }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, got)
}

/// RFC 8291 from the browser's side: the one `aes128gcm` record, opened with the subscription's keys.
fn decrypt_push(body: &[u8], ua_secret: &p256::SecretKey, auth: &[u8; 16]) -> Vec<u8> {
    use aes_gcm::aead::{Aead, KeyInit};
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let (salt, rest) = body.split_at(16);
    let rs = u32::from_be_bytes(rest[..4].try_into().unwrap());
    let idlen = rest[4] as usize;
    let (keyid, ciphertext) = rest[5..].split_at(idlen);
    assert_eq!(rs, 4096, "record size");
    assert!(ciphertext.len() <= rs as usize, "one record");
    let as_public = p256::PublicKey::from_sec1_bytes(keyid).expect("the keyid is the relay's ephemeral public key");
    let shared = p256::ecdh::diffie_hellman(ua_secret.to_nonzero_scalar(), as_public.as_affine());
    let mut info = b"WebPush: info\0".to_vec();
    info.extend_from_slice(ua_secret.public_key().to_encoded_point(false).as_bytes());
    info.extend_from_slice(keyid);
    let mut ikm = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(auth), shared.raw_secret_bytes()).expand(&info, &mut ikm).unwrap();
    let prk = hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), &ikm);
    let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).unwrap();
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
    let mut plain = aes_gcm::Aes128Gcm::new_from_slice(&cek).unwrap().decrypt((&nonce).into(), ciphertext).expect("decrypts with the subscription's keys");
    assert_eq!(plain.pop(), Some(2), "the last record's delimiter");
    plain
}

/// `vapid t=JWT, k=KEY`: the JWT's claims, once its ES256 signature checks out against `k`.
fn verified_vapid(authorization: &str) -> (serde_json::Value, String) {
    use base64::Engine;
    use p256::ecdsa::signature::Verifier;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let rest = authorization.strip_prefix("vapid t=").expect("a vapid authorization");
    let (jwt, k) = rest.split_once(", k=").expect("t and k");
    let (signing_input, signature) = jwt.rsplit_once('.').unwrap();
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&b64.decode(k).unwrap()).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&b64.decode(signature).unwrap()).unwrap();
    key.verify(signing_input.as_bytes(), &signature).expect("the VAPID signature is the relay key's");
    let (header, claims) = signing_input.split_once('.').unwrap();
    let header: serde_json::Value = serde_json::from_slice(&b64.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    (serde_json::from_slice(&b64.decode(claims).unwrap()).unwrap(), k.to_owned())
}

#[tokio::test]
async fn a_push_reaches_the_visitors_browser_encrypted_for_it_and_signed_by_the_relay() {
    use base64::Engine;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (push_base, pushed) = fake_push_service().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = local_config(dir.path());
    config.notify.web_push = true;
    config.notify.vapid_subject = "mailto:ops@shop.test".into();
    config.notify.batch = BATCH;
    let relay = TestRelay::start_with(dir.path(), config).await;

    let key: serde_json::Value = reqwest::get(relay.url("/api/v1/push/key")).await.unwrap().json().await.unwrap();
    let public_key = key["public_key"].as_str().unwrap().to_owned();
    assert_eq!(b64.decode(&public_key).unwrap().len(), 65, "an uncompressed P-256 point");

    // The browser's side of a subscription: its key pair and secret.
    let ua_secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let auth: [u8; 16] = rand::random();
    let p256dh = b64.encode(ua_secret.public_key().to_encoded_point(false).as_bytes());
    let (mut advisor, _) = relay.advisor().await;
    let (mut v, welcome) = relay.new_visitor().await;
    v.say("q", "Is the tent waterproof?").await.unwrap();
    v.send(&VisitorClientFrame::PushSubscribe { endpoint: "not a url".into(), p256dh: p256dh.clone(), auth: b64.encode(auth) }).await;
    let refused = v.wait_for(|f| if let VisitorServerFrame::Error(e) = f { Some(e.code) } else { None }).await;
    assert_eq!(refused, ErrorCode::BadRequest);
    for endpoint in [format!("{push_base}/push/browser-1"), format!("{push_base}/gone/old-browser")] {
        v.send(&VisitorClientFrame::PushSubscribe { endpoint, p256dh: p256dh.clone(), auth: b64.encode(auth) }).await;
    }
    v.say("q2", "(subscribed)").await.unwrap();
    drop(v);
    advisor.summary_where(welcome.conversation, |s| !s.visitor_online).await;
    advisor.reply(welcome.conversation, "r1", "Yes: 3000 mm hydrostatic head.").await.unwrap();

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pushed.lock().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no push within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (headers, body) = pushed.lock().unwrap()[0].clone();
    assert_eq!(headers["content-encoding"], "aes128gcm");
    assert!(headers["ttl"].to_str().unwrap().parse::<u32>().unwrap() > 0);
    let (claims, k) = verified_vapid(headers["authorization"].to_str().unwrap());
    assert_eq!(k, public_key, "signed with the key the relay publishes");
    assert_eq!(claims["aud"], push_base, "the push service's origin");
    assert_eq!(claims["sub"], "mailto:ops@shop.test");
    assert!(claims["exp"].as_i64().unwrap() > relay::now_ms() / 1000);

    let payload: serde_json::Value = serde_json::from_slice(&decrypt_push(&body, &ua_secret, &auth)).unwrap();
    assert_eq!(payload["title"], "New reply from Test Shop");
    assert_eq!(payload["body"], "Yes: 3000 mm hydrostatic head.");
    assert!(payload["url"].as_str().unwrap().contains("#confab-resume="), "{payload}");

    // The push service said the other subscription is gone: the relay forgets it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = format!("sqlite://{}?mode=ro", relay.data_dir.join("confab.sqlite3").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let endpoints: Vec<String> = sqlx::query_scalar("SELECT endpoint FROM push_subscriptions").fetch_all(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(endpoints, [format!("{push_base}/push/browser-1")]);
    assert_eq!(pushed.lock().unwrap().len(), 1, "one push for the one reply");
}
