//! Creating sites and advisors: used by the CLI, the demo and the tests, so all three validate the
//! same way.

use shared::AdvisorInfo;

use crate::origin;
use crate::secret;
use crate::store::{Site, SiteSettings, Store, StoreError};

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
        let n = origin::normalize(o)
            .ok_or_else(|| AdminError::Invalid(format!("{o:?} is not an origin like https://shop.example")))?;
        if !origins.contains(&n) {
            origins.push(n);
        }
    }
    site.allowed_origins = origins;
    Ok(site)
}

/// Create the site, or update it when its key exists. Returns the site and whether it was new.
pub async fn put_site(store: &dyn Store, site: SiteSettings) -> Result<(Site, bool), AdminError> {
    let site = check_site(site)?;
    match store.create_site(&site, crate::now_ms()).await {
        Ok(created) => Ok((created, true)),
        Err(StoreError::Duplicate(_)) => Ok((store.update_site(&site).await?, false)),
        Err(e) => Err(e.into()),
    }
}

pub async fn create_advisor(store: &dyn Store, email: &str, name: &str, password: &str) -> Result<AdvisorInfo, AdminError> {
    let email = email.trim();
    if !email.contains('@') || email.len() > 254 {
        return Err(AdminError::Invalid(format!("{email:?} is not an e-mail address")));
    }
    if name.trim().is_empty() {
        return Err(AdminError::Invalid("advisor name is empty".into()));
    }
    if password.chars().count() < secret::MIN_PASSWORD_CHARS {
        return Err(AdminError::Invalid(format!(
            "password must have at least {} characters",
            secret::MIN_PASSWORD_CHARS
        )));
    }
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || secret::hash_password(&password))
        .await
        .map_err(|e| AdminError::Invalid(format!("hashing failed: {e}")))?
        .map_err(|e| AdminError::Invalid(format!("hashing failed: {e}")))?;
    match store.create_advisor(email, name.trim(), &hash, crate::now_ms()).await {
        Ok(a) => Ok(a),
        Err(StoreError::Duplicate(what)) => Err(AdminError::Duplicate(what)),
        Err(e) => Err(e.into()),
    }
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
}
