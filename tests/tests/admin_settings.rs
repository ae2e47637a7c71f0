//! The admin API's settings side: advisors' role and capacity, team targets, sites, routing delays,
//! business hours and the two-factor policy. The seeded advisor (Ada) is the first account, so an admin.

use confab_tests::*;
use reqwest::{Method, Response};
use serde_json::{json, Value};

/// A JSON request as the dashboard sends it: same origin, JSON body, the session cookie.
async fn call(relay: &TestRelay, cookie: Option<&str>, method: Method, path: &str, body: Value) -> Response {
    relay.request(cookie, method, path, Some(&body)).await
}

async fn get(relay: &TestRelay, cookie: &str, path: &str) -> Response {
    reqwest::Client::new().get(relay.url(path)).header("cookie", cookie).send().await.unwrap()
}

async fn json_of(response: Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

/// The public site info the loader reads, asked from a page on `origin`.
async fn public_site(relay: &TestRelay, key: &str, origin: &str) -> Value {
    let r = reqwest::Client::new().get(relay.url(&format!("/api/v1/sites/{key}"))).header("origin", origin).send().await.unwrap();
    r.json().await.unwrap()
}

/// As the admin, create an account with a password; returns its id and a session cookie.
async fn new_account(relay: &TestRelay, admin: &str, email: &str, role: &str) -> (i64, String) {
    let body = json!({"email": email, "name": "Bo", "password": "bo's long password", "role": role});
    let created = json_of(call(relay, Some(admin), Method::POST, "/api/v1/admin/advisors", body).await, 201).await;
    let login = relay.post_login(email, "bo's long password", Some(&relay.origin())).await;
    assert_eq!(login.status(), 200);
    (created["advisor"]["id"].as_i64().unwrap(), cookie_of(&login))
}

async fn setting_in_database(relay: &TestRelay, key: &str) -> String {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=ro", relay.data_dir.join("confab.sqlite3").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open database read-only");
    let value: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?").bind(key).fetch_one(&mut conn).await.unwrap();
    conn.close().await.ok();
    value
}

#[tokio::test]
async fn an_admin_changes_name_role_and_capacity_and_the_list_shows_them() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let (bo, bo_session) = new_account(&relay, &admin, "bo@shop.test", "advisor").await;

    let path = format!("/api/v1/admin/advisors/{bo}");
    let patched = json_of(call(&relay, Some(&admin), Method::PATCH, &path, json!({"capacity": 2})).await, 200).await;
    assert_eq!((patched["capacity"].as_i64(), patched["role"].as_str()), (Some(2), Some("advisor")));
    let patched =
        json_of(call(&relay, Some(&admin), Method::PATCH, &path, json!({"name": " Bo B. ", "role": "admin"})).await, 200).await;
    assert_eq!((patched["name"].as_str(), patched["role"].as_str(), patched["capacity"].as_i64()), (Some("Bo B."), Some("admin"), Some(2)));

    let listed = json_of(get(&relay, &admin, "/api/v1/admin/advisors").await, 200).await;
    let row = listed.as_array().unwrap().iter().find(|a| a["id"] == bo).unwrap().clone();
    assert_eq!(row["capacity"], 2);
    assert_eq!(row["two_factor"], false);
    // Bo is an admin now: the admin routes open to his session.
    json_of(get(&relay, &bo_session, "/api/v1/admin/advisors").await, 200).await;

    for (bad, needle) in [
        (json!({"capacity": 101}), "capacity must be between 0 and 100"),
        (json!({"capacity": -1}), "capacity"),
        (json!({"name": "  "}), "name must be 1-100"),
        (json!({"role": "owner"}), "role"),
        (json!({"colour": "red"}), "unknown field"),
    ] {
        let body = json_of(call(&relay, Some(&admin), Method::PATCH, &path, bad.clone()).await, 400).await;
        assert!(body["message"].as_str().unwrap().contains(needle), "{bad}: {body}");
    }
    json_of(call(&relay, Some(&admin), Method::PATCH, "/api/v1/admin/advisors/999", json!({"capacity": 1})).await, 404).await;
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_but_one_of_two_can() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let me = json_of(get(&relay, &admin, "/api/v1/admin/me").await, 200).await["id"].as_i64().unwrap();
    let my_path = format!("/api/v1/admin/advisors/{me}");

    let refused = json_of(call(&relay, Some(&admin), Method::PATCH, &my_path, json!({"role": "advisor"})).await, 409).await;
    assert!(refused["message"].as_str().unwrap().contains("last active admin"), "{refused}");
    // Nothing else in a refused request is applied either.
    let refused =
        call(&relay, Some(&admin), Method::PATCH, &my_path, json!({"role": "advisor", "capacity": 9})).await;
    assert_eq!(refused.status(), 409);
    assert_eq!(json_of(get(&relay, &admin, "/api/v1/admin/me").await, 200).await["capacity"], 5);

    // A deactivated second admin doesn't count.
    let (other, _) = new_account(&relay, &admin, "cy@shop.test", "admin").await;
    json_of(call(&relay, Some(&admin), Method::POST, &format!("/api/v1/admin/advisors/{other}/deactivate"), json!({})).await, 200).await;
    json_of(call(&relay, Some(&admin), Method::PATCH, &my_path, json!({"role": "advisor"})).await, 409).await;
    json_of(call(&relay, Some(&admin), Method::POST, &format!("/api/v1/admin/advisors/{other}/reactivate"), json!({})).await, 200).await;

    let demoted = json_of(call(&relay, Some(&admin), Method::PATCH, &my_path, json!({"role": "advisor"})).await, 200).await;
    assert_eq!(demoted["role"], "advisor");
    assert_eq!(get(&relay, &admin, "/api/v1/admin/advisors").await.status(), 403, "no admin rights left");
}

#[tokio::test]
async fn a_team_target_is_set_on_create_changed_and_cleared_with_null() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let team =
        json_of(call(&relay, Some(&admin), Method::POST, "/api/v1/admin/teams", json!({"name": "Sales", "first_response_target_ms": 300000})).await, 201)
            .await;
    assert_eq!(team["first_response_target_ms"], 300000);
    let path = format!("/api/v1/admin/teams/{}", team["id"]);
    let t = json_of(call(&relay, Some(&admin), Method::PATCH, &path, json!({"first_response_target_ms": 60000})).await, 200).await;
    assert_eq!((t["name"].as_str(), t["first_response_target_ms"].as_i64()), (Some("Sales"), Some(60000)));
    // Renaming alone leaves the target.
    let t = json_of(call(&relay, Some(&admin), Method::PATCH, &path, json!({"name": "Sales EU"})).await, 200).await;
    assert_eq!((t["name"].as_str(), t["first_response_target_ms"].as_i64()), (Some("Sales EU"), Some(60000)));
    let t = json_of(call(&relay, Some(&admin), Method::PATCH, &path, json!({"first_response_target_ms": null})).await, 200).await;
    assert!(t["first_response_target_ms"].is_null());
    let listed = json_of(get(&relay, &admin, "/api/v1/admin/teams").await, 200).await;
    assert!(listed[0]["first_response_target_ms"].is_null());
    let bad = json_of(call(&relay, Some(&admin), Method::PATCH, &path, json!({"first_response_target_ms": 0})).await, 400).await;
    assert!(bad["message"].as_str().unwrap().contains("first-response target"), "{bad}");
}

#[tokio::test]
async fn sites_are_listed_created_with_a_generated_key_and_patched_with_validation() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let sites = json_of(get(&relay, &admin, "/api/v1/admin/sites").await, 200).await;
    assert_eq!(sites.as_array().unwrap().len(), 1);
    assert_eq!((sites[0]["key"].as_str(), sites[0]["allowed_origins"][0].as_str()), (Some(SITE), Some(SHOP_ORIGIN)));

    let team = json_of(call(&relay, Some(&admin), Method::POST, "/api/v1/admin/teams", json!({"name": "Support"})).await, 201).await;
    let created = json_of(
        call(
            &relay,
            Some(&admin),
            Method::POST,
            "/api/v1/admin/sites",
            json!({"name": "Blog", "allowed_origins": ["https://Blog.example/"], "team_id": team["id"]}),
        )
        .await,
        201,
    )
    .await;
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("site-") && key.len() > 10, "{key}");
    assert_eq!(created["allowed_origins"], json!(["https://blog.example"]));
    assert_eq!(created["team_id"], team["id"]);
    assert_eq!(created["color"], "#4f46e5");
    let dup = call(&relay, Some(&admin), Method::POST, "/api/v1/admin/sites", json!({"key": key, "name": "Again"})).await;
    assert_eq!(dup.status(), 409);

    let path = format!("/api/v1/admin/sites/{key}");
    let patched = json_of(
        call(&relay, Some(&admin), Method::PATCH, &path, json!({"greeting": "Hi!", "color": "#123", "team_id": null})).await,
        200,
    )
    .await;
    assert_eq!((patched["greeting"].as_str(), patched["color"].as_str(), patched["name"].as_str()), (Some("Hi!"), Some("#123"), Some("Blog")));
    assert!(patched["team_id"].is_null());
    // The public site info (what the widget reads) follows.
    let public = public_site(&relay, &key, "https://blog.example").await;
    assert_eq!(public["greeting"], "Hi!");

    for (bad, needle) in [
        (json!({"color": "teal"}), "colour"),
        (json!({"allowed_origins": ["blog.example"]}), "not an origin"),
        (json!({"allowed_origins": ["https://blog.example/path"]}), "not an origin"),
        (json!({"name": ""}), "site name"),
        (json!({"team_id": 999}), "No such team"),
        (json!({"key": "other"}), "unknown field"),
    ] {
        let body = json_of(call(&relay, Some(&admin), Method::PATCH, &path, bad.clone()).await, 400).await;
        assert!(body["message"].as_str().unwrap().contains(needle), "{bad}: {body}");
    }
    let bad_key = json_of(call(&relay, Some(&admin), Method::POST, "/api/v1/admin/sites", json!({"key": "a b", "name": "X"})).await, 400).await;
    assert!(bad_key["message"].as_str().unwrap().contains("site key"), "{bad_key}");
    json_of(call(&relay, Some(&admin), Method::PATCH, "/api/v1/admin/sites/nope", json!({"name": "X"})).await, 404).await;
}

#[tokio::test]
async fn a_sites_texts_in_another_language_reach_the_widget_and_bad_ones_are_refused() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let path = format!("/api/v1/admin/sites/{SITE}");
    let patch = json!({"reply_time": "usually replies within a day", "translations": [
        {"lang": "FR", "greeting": "  Bonjour de la boutique  ", "reply_time": "répond en général dans la journée"},
        {"lang": "en", "greeting": "", "reply_time": ""},
    ]});
    let site = json_of(call(&relay, Some(&admin), Method::PATCH, &path, patch).await, 200).await;
    assert_eq!(
        site["translations"],
        json!([{"lang": "fr", "greeting": "Bonjour de la boutique", "reply_time": "répond en général dans la journée"}]),
        "trimmed, the tag lower-cased, the empty English dropped"
    );

    // The widget gets them in the welcome, and the loader in the public site info.
    let (_, welcome) = relay.new_visitor().await;
    assert_eq!(welcome.site.texts("fr"), ("Bonjour de la boutique", "répond en général dans la journée"));
    assert_eq!(welcome.site.texts("en"), ("Hello from the test shop", "usually replies within a day"));
    assert_eq!(public_site(&relay, SITE, SHOP_ORIGIN).await["translations"][0]["lang"], "fr");

    // A patch without translations keeps them; an empty list clears them.
    let site = json_of(call(&relay, Some(&admin), Method::PATCH, &path, json!({"color": "#0f766e"})).await, 200).await;
    assert_eq!(site["translations"].as_array().map(Vec::len), Some(1));
    for (bad, why) in [
        (json!({"translations": [{"lang": "de", "greeting": "Hallo"}]}), "not a language the widget speaks"),
        (json!({"translations": [{"lang": "fr", "greeting": "a"}, {"lang": "fr", "greeting": "b"}]}), "given twice"),
        (json!({"translations": [{"lang": "fr", "greeting": "x".repeat(501)}]}), "at most 500"),
        (json!({"translations": [{"lang": "fr", "reply_time": "x".repeat(101)}]}), "at most 100"),
    ] {
        let e = json_of(call(&relay, Some(&admin), Method::PATCH, &path, bad.clone()).await, 400).await;
        assert!(e["message"].as_str().unwrap().contains(why), "{bad}: {e}");
    }
    let site = json_of(call(&relay, Some(&admin), Method::PATCH, &path, json!({"translations": []})).await, 200).await;
    assert_eq!(site["translations"], json!([]));
    let (_, welcome) = relay.new_visitor().await;
    assert!(welcome.site.translations.is_empty());
}

#[tokio::test]
async fn routing_and_business_hours_settings_round_trip_and_refuse_bad_values() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let routing = json_of(get(&relay, &admin, "/api/v1/admin/settings/routing").await, 200).await;
    assert_eq!(routing, json!({"away_after_ms": 180000, "requeue_delay_ms": 600000, "warn_before_ms": 300000}));
    let new = json!({"away_after_ms": 60000, "requeue_delay_ms": 0, "warn_before_ms": 120000});
    json_of(call(&relay, Some(&admin), Method::PUT, "/api/v1/admin/settings/routing", new.clone()).await, 200).await;
    assert_eq!(json_of(get(&relay, &admin, "/api/v1/admin/settings/routing").await, 200).await, new);
    // What the router reads: the stored row parses as its settings type.
    let stored: relay::settings::RoutingSettings = serde_json::from_str(&setting_in_database(&relay, "routing").await).unwrap();
    assert_eq!(stored.away_after_ms, 60000);
    let bad = json_of(
        call(&relay, Some(&admin), Method::PUT, "/api/v1/admin/settings/routing", json!({"away_after_ms": 5})).await,
        400,
    )
    .await;
    assert!(bad["message"].as_str().unwrap().contains("away after must be between 10 and 86400 seconds"), "{bad}");
    assert_eq!(json_of(get(&relay, &admin, "/api/v1/admin/settings/routing").await, 200).await, new, "unchanged");

    let hours = json_of(get(&relay, &admin, "/api/v1/admin/settings/business-hours").await, 200).await;
    assert_eq!(hours["timezone"], "UTC");
    assert_eq!(hours["days"].as_array().unwrap().len(), 7);
    let paris = json!({"timezone": "Europe/Paris", "days": [
        {"open": "08:30", "close": "18:00"}, {"open": "08:30", "close": "18:00"}, null, null,
        {"open": "10:00", "close": "16:00"}, null, null]});
    json_of(call(&relay, Some(&admin), Method::PUT, "/api/v1/admin/settings/business-hours", paris.clone()).await, 200).await;
    assert_eq!(json_of(get(&relay, &admin, "/api/v1/admin/settings/business-hours").await, 200).await, paris);
    for (bad, needle) in [
        (json!({"timezone": "Paris", "days": paris["days"]}), "IANA time zone"),
        (json!({"timezone": "UTC", "days": [null]}), "7 days"),
        (json!({"timezone": "UTC", "days": [{"open": "18:00", "close": "09:00"}, null, null, null, null, null, null]}), "Monday"),
        (json!({"timezone": "UTC", "days": [{"open": "9am", "close": "17:00"}, null, null, null, null, null, null]}), "must look like"),
    ] {
        let body = json_of(call(&relay, Some(&admin), Method::PUT, "/api/v1/admin/settings/business-hours", bad.clone()).await, 400).await;
        assert!(body["message"].as_str().unwrap().contains(needle), "{bad}: {body}");
    }

    let security = json_of(get(&relay, &admin, "/api/v1/admin/settings/security").await, 200).await;
    assert_eq!(security, json!({"require_two_factor": false}));
}

#[tokio::test]
async fn an_advisor_gets_403_on_every_settings_route_and_state_changes_need_same_origin_json() {
    let relay = TestRelay::start().await;
    let admin = relay.login().await;
    let (bo, advisor) = new_account(&relay, &admin, "bo@shop.test", "advisor").await;

    let writes = [
        (Method::PATCH, format!("/api/v1/admin/advisors/{bo}"), json!({"capacity": 50})),
        (Method::POST, "/api/v1/admin/sites".into(), json!({"name": "Mine"})),
        (Method::PATCH, format!("/api/v1/admin/sites/{SITE}"), json!({"greeting": "hacked"})),
        (Method::PUT, "/api/v1/admin/settings/routing".into(), json!({"away_after_ms": 60000})),
        (Method::PUT, "/api/v1/admin/settings/business-hours".into(), json!({"timezone": "UTC", "days": [null, null, null, null, null, null, null]})),
        (Method::PUT, "/api/v1/admin/settings/security".into(), json!({"require_two_factor": true})),
    ];
    for path in ["/api/v1/admin/sites", "/api/v1/admin/settings/routing", "/api/v1/admin/settings/business-hours", "/api/v1/admin/settings/security"] {
        assert_eq!(json_of(get(&relay, &advisor, path).await, 403).await["code"], "forbidden", "{path}");
    }
    for (method, path, body) in &writes {
        let r = call(&relay, Some(&advisor), method.clone(), path, body.clone()).await;
        assert_eq!(json_of(r, 403).await["code"], "forbidden", "{method} {path}");
    }
    // Nothing changed.
    let me = json_of(get(&relay, &admin, "/api/v1/admin/advisors").await, 200).await;
    assert_eq!(me.as_array().unwrap().iter().find(|a| a["id"] == bo).unwrap()["capacity"], 5);
    let sites = json_of(get(&relay, &admin, "/api/v1/admin/sites").await, 200).await;
    assert_eq!(sites.as_array().unwrap().len(), 1);
    assert_ne!(sites[0]["greeting"], "hacked");

    // The admin's own session, from another origin or as a form, is refused too.
    for (method, path, body) in &writes {
        let foreign = reqwest::Client::new()
            .request(method.clone(), relay.url(path))
            .header("origin", "http://evil.test")
            .header("cookie", &admin)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(foreign.status(), 403, "cross-origin {method} {path}");
        let form = reqwest::Client::new()
            .request(method.clone(), relay.url(path))
            .header("origin", relay.origin())
            .header("cookie", &admin)
            .header("content-type", "text/plain")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let message = json_of(form, 403).await["message"].as_str().unwrap().to_owned();
        assert!(message.contains("Content-Type: application/json"), "{method} {path}: {message}");
    }
    let security = json_of(get(&relay, &admin, "/api/v1/admin/settings/security").await, 200).await;
    assert_eq!(security["require_two_factor"], false);
}
