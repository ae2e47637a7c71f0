//! The link in a notification e-mail: the page the conversation came from (or the site's first
//! allowed origin) with `#confab-resume=CODE`. The loader sees the fragment (never sent to any
//! server, so a mail scanner fetching the link can't use the code up), exchanges the code at
//! `POST /api/v1/sites/{key}/resume` for a visitor token of its own, and opens the thread.

use crate::state::AppState;
use crate::store::Site;

/// The URL the link starts from: the conversation's page without its fragment, else the origin.
pub fn link_base(page: Option<&str>, site_origin: Option<&str>) -> Option<url::Url> {
    let web = |u: url::Url| matches!(u.scheme(), "http" | "https").then_some(u);
    page.and_then(|p| url::Url::parse(p).ok()).and_then(web).or_else(|| site_origin.and_then(|o| url::Url::parse(o).ok()).and_then(web))
}

pub fn link(base: &url::Url, code: &str) -> String {
    let mut url = base.clone();
    url.set_fragment(Some(&format!("confab-resume={code}")));
    url.to_string()
}

/// Use up a resume code of this site: a new token for its visitor, or None for an unknown, used or
/// expired code.
pub async fn redeem(state: &AppState, site: &Site, code: &str) -> Result<Option<String>, crate::store::StoreError> {
    let code = code.trim();
    if code.is_empty() || code.len() > 128 {
        return Ok(None);
    }
    let token = crate::secret::new_token();
    let ok = state
        .store
        .redeem_resume_code(site.id, &crate::secret::token_hash(code), &crate::secret::token_hash(&token), crate::now_ms())
        .await?;
    Ok(ok.then_some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_is_the_page_with_the_code_in_its_fragment() {
        let base = link_base(Some("https://shop.test/tents?id=3#reviews"), Some("https://shop.test")).unwrap();
        assert_eq!(link(&base, "abc"), "https://shop.test/tents?id=3#confab-resume=abc");
        let base = link_base(None, Some("https://shop.test")).unwrap();
        assert_eq!(link(&base, "abc"), "https://shop.test/#confab-resume=abc");
        let base = link_base(Some("javascript:alert(1)"), Some("http://127.0.0.1:8081")).unwrap();
        assert_eq!(link(&base, "x"), "http://127.0.0.1:8081/#confab-resume=x");
        assert_eq!(link_base(None, None), None);
    }
}
