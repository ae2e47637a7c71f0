//! What a site's server does for identity verification, and the admin's side of it.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use crate::{TestRelay, SITE};

/// What the site's server computes: hex(HMAC-SHA256(secret, user_id)).
pub fn user_hash(secret: &str, user_id: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(user_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// As the admin: a new identity secret for the test shop, and whether a verified identity is required.
pub async fn identity_secret(relay: &TestRelay, cookie: &str, require: bool) -> String {
    let r = relay.request(Some(cookie), reqwest::Method::POST, &format!("/api/v1/admin/sites/{SITE}/identity-secret"), Some(&json!({}))).await;
    assert_eq!(r.status(), 200);
    let site: Value = r.json().await.unwrap();
    let secret = site["identity_secret"].as_str().expect("the secret is shown to the admin").to_owned();
    let r = relay
        .request(Some(cookie), reqwest::Method::PATCH, &format!("/api/v1/admin/sites/{SITE}"), Some(&json!({"require_identity": require})))
        .await;
    assert_eq!(r.status(), 200);
    secret
}

/// The customer panel of a conversation, as the advisor with `cookie` sees it.
pub async fn customer(relay: &TestRelay, cookie: &str, conversation: shared::ConversationId) -> shared::CustomerProfile {
    let r = relay.request(Some(cookie), reqwest::Method::GET, &format!("/api/v1/conversations/{}/customer", conversation.0), None).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}
