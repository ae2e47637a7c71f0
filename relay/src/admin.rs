//! Creating sites and advisors: used by the CLI, the demo and the tests, so all three validate the
//! same way.

use shared::{AdvisorId, AdvisorInfo};

use crate::origin;
use crate::secret;
use crate::store::{Account, Role, Site, SiteSettings, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Duplicate(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 64 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_color(color: &str) -> bool {
    let hex = color.strip_prefix('#').unwrap_or("");
    matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `scheme://host[:port]`, normalised; a trailing `/` is tolerated, a path, query, fragment or
/// user name is not (a browser's `Origin` never has one, so such an entry could never match).
fn strict_origin(o: &str) -> Option<String> {
    let url = url::Url::parse(o.trim()).ok()?;
    let bare = matches!(url.path(), "" | "/") && url.query().is_none() && url.fragment().is_none() && url.username().is_empty() && url.password().is_none();
    if bare { origin::normalize(o) } else { None }
}

/// Check and normalise site settings.
pub fn check_site(mut site: SiteSettings) -> Result<SiteSettings, AdminError> {
    if !valid_key(&site.key) {
        return Err(AdminError::Invalid(format!(
            "site key {:?} must be 1-64 letters, digits, '-' or '_'",
            site.key
        )));
    }
    if site.reply_time.chars().count() > 80 {
        return Err(AdminError::Invalid("reply time must be at most 80 characters".into()));
    }
    if site.name.trim().is_empty() {
        return Err(AdminError::Invalid("site name is empty".into()));
    }
    if !valid_color(&site.color) {
        return Err(AdminError::Invalid(format!("colour {:?} must look like #4f46e5", site.color)));
    }
    let mut origins = Vec::new();
    for o in &site.allowed_origins {
        let n = strict_origin(o)
            .ok_or_else(|| AdminError::Invalid(format!("{o:?} is not an origin like https://shop.example or http://localhost:3000 (scheme://host[:port], no path)")))?;
        if !origins.contains(&n) {
            origins.push(n);
        }
    }
    site.allowed_origins = origins;
    Ok(site)
}

/// Create the site, or update it when its key exists. Returns the site and whether it was new.
/// An update keeps the team an admin gave the site when `site.team_id` is None (the CLI and the
/// demo don't know teams).
pub async fn put_site(store: &dyn Store, site: SiteSettings) -> Result<(Site, bool), AdminError> {
    let mut site = check_site(site)?;
    match store.create_site(&site, crate::now_ms()).await {
        Ok(created) => Ok((created, true)),
        Err(StoreError::Duplicate(_)) => {
            if site.team_id.is_none() {
                site.team_id = store.site_by_key(&site.key).await?.and_then(|s| s.team_id);
            }
            Ok((store.update_site(&site).await?, false))
        }
        Err(e) => Err(e.into()),
    }
}

/// Create an advisor account (an admin if it is the very first account).
pub async fn create_advisor(store: &dyn Store, email: &str, name: &str, password: &str) -> Result<AdvisorInfo, AdminError> {
    Ok(create_account(store, email, name, password, Role::Advisor).await?.info)
}

/// Create an account with a role; the very first account is always an admin (see `Account::role`).
pub async fn create_account(store: &dyn Store, email: &str, name: &str, password: &str, role: Role) -> Result<Account, AdminError> {
    let email = email.trim();
    if !email.contains('@') || email.len() > 254 {
        return Err(AdminError::Invalid(format!("{email:?} is not an e-mail address")));
    }
    let name = name.trim();
    if name.is_empty() {
        return Err(AdminError::Invalid("advisor name is empty".into()));
    }
    if name.chars().count() > 100 {
        return Err(AdminError::Invalid("advisor name must be at most 100 characters".into()));
    }
    let hash = hash_password(password).await?;
    match store.create_account(email, name, &hash, role, crate::now_ms()).await {
        Ok(a) => Ok(a),
        Err(StoreError::Duplicate(what)) => Err(AdminError::Duplicate(what)),
        Err(e) => Err(e.into()),
    }
}

/// A one-time password for a new account or a reset: 120 random bits, URL-safe.
pub fn generate_password() -> String {
    secret::new_token()[..20].to_owned()
}

/// Give the advisor a new generated password and end their sessions; returns the password, which
/// is shown once and stored only as its hash.
pub async fn reset_password(store: &dyn Store, advisor: AdvisorId) -> Result<String, AdminError> {
    let password = generate_password();
    let hash = hash_password(&password).await?;
    store.set_advisor_password(advisor, &hash).await?;
    Ok(password)
}

/// Check the length and hash with argon2id off the async threads.
async fn hash_password(password: &str) -> Result<String, AdminError> {
    if password.chars().count() < secret::MIN_PASSWORD_CHARS {
        return Err(AdminError::Invalid(format!(
            "password must have at least {} characters",
            secret::MIN_PASSWORD_CHARS
        )));
    }
    if password.len() > secret::MAX_PASSWORD_BYTES {
        return Err(AdminError::Invalid(format!("password must be at most {} bytes", secret::MAX_PASSWORD_BYTES)));
    }
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || secret::hash_password(&password))
        .await
        .map_err(|e| AdminError::Invalid(format!("hashing failed: {e}")))?
        .map_err(|e| AdminError::Invalid(format!("hashing failed: {e}")))
}

/// Check and tidy a team name.
pub fn check_team_name(name: &str) -> Result<&str, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AdminError::Invalid("team name must be 1-80 characters".into()));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    fn settings(key: &str, origins: &[&str]) -> SiteSettings {
        SiteSettings {
            key: key.into(),
            name: "Shop".into(),
            greeting: String::new(),
            color: "#112233".into(),
            reply_time: String::new(),
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            team_id: None,
        }
    }

    #[tokio::test]
    async fn put_site_creates_then_updates_and_normalises_origins() {
        let store = SqliteStore::temporary().await.unwrap();
        let (site, new) = put_site(&store, settings("shop", &["https://Shop.example/"])).await.unwrap();
        assert!(new);
        assert_eq!(site.allowed_origins, vec!["https://shop.example"]);
        let (site, new) = put_site(&store, settings("shop", &["http://localhost:3000"])).await.unwrap();
        assert!(!new);
        assert_eq!(site.allowed_origins, vec!["http://localhost:3000"]);
    }

    #[tokio::test]
    async fn bad_site_settings_are_refused_with_the_reason() {
        let store = SqliteStore::temporary().await.unwrap();
        for (s, needle) in [
            (settings("no spaces", &[]), "site key"),
            (settings("ok", &["shop.example"]), "not an origin"),
            (settings("ok", &["https://shop.example/cart"]), "not an origin"),
            (settings("ok", &["ftp://shop.example"]), "not an origin"),
            (SiteSettings { color: "blue".into(), ..settings("ok", &[]) }, "colour"),
        ] {
            let err = put_site(&store, s).await.unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[tokio::test]
    async fn advisors_need_a_real_password_and_a_unique_email() {
        let store = SqliteStore::temporary().await.unwrap();
        assert!(create_advisor(&store, "a@b.c", "A", "short").await.unwrap_err().to_string().contains("at least 8"));
        create_advisor(&store, "a@b.c", "A", "long enough").await.unwrap();
        let dup = create_advisor(&store, "A@B.C", "A", "long enough").await.unwrap_err();
        assert!(matches!(dup, AdminError::Duplicate(_)), "{dup}");
    }

    #[tokio::test]
    async fn the_first_account_is_an_admin_and_later_ones_get_their_role() {
        let store = SqliteStore::temporary().await.unwrap();
        let first = create_account(&store, "a@b.c", "A", "long enough", Role::Advisor).await.unwrap();
        assert_eq!(first.role, Role::Admin);
        let second = create_account(&store, "b@b.c", "B", "long enough", Role::Advisor).await.unwrap();
        assert_eq!(second.role, Role::Advisor);
        let third = create_account(&store, "c@b.c", "C", "long enough", Role::Admin).await.unwrap();
        assert_eq!(third.role, Role::Admin);
        let listed = store.list_accounts().await.unwrap();
        assert_eq!(listed.iter().map(|a| a.role).collect::<Vec<_>>(), [Role::Admin, Role::Advisor, Role::Admin]);
    }

    #[tokio::test]
    async fn sessions_end_when_expired_idle_or_deactivated() {
        use crate::store::{SESSION_IDLE_MS, SESSION_TOUCH_MS};
        let store = SqliteStore::temporary().await.unwrap();
        let a = create_advisor(&store, "a@b.c", "A", "long enough").await.unwrap();
        let t0 = 1_000_000_000_000;
        let day = 24 * 3600 * 1000;
        store.create_session(b"s1", a.id, t0, t0 + 14 * day).await.unwrap();
        // Used every few days, it lives until its absolute expiry and no longer.
        let mut now = t0;
        while now + 5 * day < t0 + 14 * day {
            now += 5 * day;
            assert!(store.session_advisor(b"s1", now).await.unwrap().is_some(), "day {}", (now - t0) / day);
        }
        assert!(store.session_advisor(b"s1", t0 + 14 * day).await.unwrap().is_none());
        // Unused for the idle time, it ends.
        store.create_session(b"s2", a.id, t0, t0 + 14 * day).await.unwrap();
        assert!(store.session_advisor(b"s2", t0 + SESSION_TOUCH_MS / 2).await.unwrap().is_some());
        assert!(store.session_advisor(b"s2", t0 + SESSION_IDLE_MS + 1).await.unwrap().is_none());
        // Deactivation ends it at once.
        store.create_session(b"s3", a.id, t0, t0 + 14 * day).await.unwrap();
        store.set_advisor_active(a.id, false).await.unwrap();
        assert!(store.session_advisor(b"s3", t0 + 1).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn teams_have_unique_names_and_members_that_exist() {
        let store = SqliteStore::temporary().await.unwrap();
        let a = create_advisor(&store, "a@b.c", "A", "long enough").await.unwrap();
        let sales = store.create_team("Sales", 1).await.unwrap();
        assert!(matches!(store.create_team("sales", 2).await, Err(StoreError::Duplicate(_))));
        let team = store.set_team_members(sales.id, &[a.id, a.id]).await.unwrap();
        assert_eq!(team.members, vec![a.id]);
        assert!(matches!(store.set_team_members(sales.id, &[AdvisorId(999)]).await, Err(StoreError::NotFound)));
        assert_eq!(store.account(a.id).await.unwrap().unwrap().teams, vec![sales.id]);
        store.delete_team(sales.id).await.unwrap();
        assert!(store.account(a.id).await.unwrap().unwrap().teams.is_empty());
    }
}
