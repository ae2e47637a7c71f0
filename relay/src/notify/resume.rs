//! The link in a notification e-mail: the page the conversation came from (or the site's first
//! allowed origin) with `#confab-resume=CODE`. The loader sees the fragment (never sent to any
//! server, so a mail scanner fetching the link can't use the code up), exchanges the code at
//! `POST /api/v1/sites/{key}/resume` for a visitor token of its own, and opens the thread.

use crate::state::AppState;
use crate::store::Site;

/// The URL the link starts from: the conversation's page, else the site's first allowed origin.
///
/// The page is what the visitor's widget said in `hello`, so anyone can claim any page: it is used
/// only when it lies on one of the site's allowed origins (or the relay's own, the webview page
/// `/c/KEY`), else the shop's sender would mail links to wherever a script asked.
pub fn link_base(page: Option<&str>, site_origins: &[String], relay_origin: Option<&str>) -> Option<url::Url> {
    let web = |u: url::Url| matches!(u.scheme(), "http" | "https").then_some(u);
    let trusted = |u: &url::Url| {
        let origin = u.origin().ascii_serialization();
        crate::origin::is_allowed(&origin, site_origins) || relay_origin.is_some_and(|r| crate::origin::is_allowed(&origin, &[r.to_owned()]))
    };
    let page = page.and_then(|p| url::Url::parse(p).ok()).and_then(web).filter(|u| trusted(u) && u.username().is_empty() && u.password().is_none());
    page.or_else(|| site_origins.first().and_then(|o| url::Url::parse(o).ok()).and_then(web))
}

pub fn link(base: &url::Url, code: &str) -> String {
    let mut url = base.clone();
    url.set_fragment(Some(&format!("confab-resume={code}")));
    url.to_string()
}

/// What opening a resume link in a browser gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// A new token of this browser's own for the link's visitor.
    Token(String),
    /// Unknown, used or expired.
    Gone,
    /// The browser holds another visitor's thread with messages: nothing changed, the code still
    /// works. `email`: the address the link was sent to, masked (`a•••@shop.example`), so the
    /// person can tell whose conversation the link continues.
    Conflict { email: Option<String> },
}

/// The request body: `{"code", "token"?}` (the browser's current visitor token, if any), or, from
/// an older loader, the bare code.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ResumeRequest {
    pub code: String,
    #[serde(default)]
    pub token: Option<String>,
}

impl ResumeRequest {
    pub fn parse(body: &str) -> ResumeRequest {
        let body = body.trim();
        if body.starts_with('{') {
            serde_json::from_str(body).unwrap_or_default()
        } else {
            ResumeRequest { code: body.to_owned(), token: None }
        }
    }
}

/// Use up a resume code of this site, unless the browser already holds another visitor's thread
/// with messages: a link someone sent must never silently replace a person's own conversation
/// (and then, with the site's `identify`, hand them the sender's thread). A browser with no thread,
/// an empty one, or this very visitor's may open it.
pub async fn redeem(state: &AppState, site: &Site, request: &ResumeRequest) -> Result<Redeemed, crate::store::StoreError> {
    let code = request.code.trim();
    if code.is_empty() || code.len() > 128 {
        return Ok(Redeemed::Gone);
    }
    let (store, now) = (&state.store, crate::now_ms());
    let code_hash = crate::secret::token_hash(code);
    let Some(owner) = store.resume_code_owner(site.id, &code_hash, now).await? else { return Ok(Redeemed::Gone) };
    if let Some(mine) = request.token.as_deref().filter(|t| !t.is_empty() && t.len() <= 128) {
        if let Some(thread) = store.visitor_by_token(site.id, &crate::secret::token_hash(mine)).await? {
            if thread.visitor != owner.visitor && store.last_visitor_message(thread.conversation).await?.is_some() {
                return Ok(Redeemed::Conflict { email: owner.email.as_deref().map(mask_email) });
            }
        }
    }
    let token = crate::secret::new_token();
    let ok = store.redeem_resume_code(site.id, &code_hash, &crate::secret::token_hash(&token), now).await?;
    Ok(if ok { Redeemed::Token(token) } else { Redeemed::Gone })
}

/// `ana@shop.example` → `a•••@shop.example`: enough for its owner to recognise it.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_is_the_page_with_the_code_in_its_fragment() {
        let shop = vec!["https://shop.test".to_owned(), "https://www.shop.test".to_owned()];
        let base = link_base(Some("https://shop.test/tents?id=3#reviews"), &shop, None).unwrap();
        assert_eq!(link(&base, "abc"), "https://shop.test/tents?id=3#confab-resume=abc");
        let base = link_base(Some("https://www.shop.test/cart"), &shop, None).unwrap();
        assert_eq!(link(&base, "abc"), "https://www.shop.test/cart#confab-resume=abc");
        let base = link_base(None, &shop, None).unwrap();
        assert_eq!(link(&base, "abc"), "https://shop.test/#confab-resume=abc");
        let demo = vec!["http://127.0.0.1:8081".to_owned()];
        let base = link_base(Some("javascript:alert(1)"), &demo, None).unwrap();
        assert_eq!(link(&base, "x"), "http://127.0.0.1:8081/#confab-resume=x");
        assert_eq!(link_base(None, &[], None), None);
    }

    #[test]
    fn the_request_is_json_or_a_bare_code() {
        let r = ResumeRequest::parse(r#"{"code":"abc","token":"t"}"#);
        assert_eq!((r.code.as_str(), r.token.as_deref()), ("abc", Some("t")));
        let r = ResumeRequest::parse(" abc\n");
        assert_eq!((r.code.as_str(), r.token), ("abc", None));
        assert_eq!(ResumeRequest::parse("{not json").code, "");
        assert_eq!(mask_email("ana@shop.example"), "a•••@shop.example");
    }

    #[test]
    fn a_page_off_the_sites_origins_is_never_linked() {
        let shop = vec!["https://shop.test".to_owned()];
        for claimed in ["https://evil.test/login", "http://shop.test/", "https://shop.test.evil.test/", "https://user@shop.test/x"] {
            let base = link_base(Some(claimed), &shop, None).unwrap();
            assert_eq!(link(&base, "c"), "https://shop.test/#confab-resume=c", "{claimed}");
        }
        // The relay's own webview page is the relay's, not a stranger's.
        let base = link_base(Some("https://chat.shop.test/c/shop"), &shop, Some("https://chat.shop.test")).unwrap();
        assert_eq!(link(&base, "c"), "https://chat.shop.test/c/shop#confab-resume=c");
    }
}
