//! Graph API request URLs. The base URL is configurable so tests and the sandbox can point the
//! relay at a local stand-in; the version is configurable because Meta retires versions.

use url::Url;

use super::error::GraphConfigError;

/// Where the Graph API lives and which version to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphApi {
    base: Url,
    version: String,
}

impl GraphApi {
    pub const DEFAULT_BASE_URL: &'static str = "https://graph.facebook.com";
    pub const DEFAULT_VERSION: &'static str = "v23.0";

    /// `base_url` may carry a path prefix (`http://127.0.0.1:9000/graph`); `version` looks like
    /// `v23.0` (a bare `23.0` gets its `v`).
    pub fn new(base_url: &str, version: &str) -> Result<Self, GraphConfigError> {
        let bad_base = || GraphConfigError::BadBaseUrl(base_url.to_owned());
        let mut base = Url::parse(base_url.trim()).map_err(|_| bad_base())?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() || base.host_str().is_none() {
            return Err(bad_base());
        }
        base.set_query(None);
        base.set_fragment(None);

        let v = version.trim();
        let v = if v.starts_with('v') { v.to_owned() } else { format!("v{v}") };
        let digits = &v[1..];
        let well_formed = !digits.is_empty()
            && digits.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
        if !well_formed {
            return Err(GraphConfigError::BadVersion(version.to_owned()));
        }
        Ok(GraphApi { base, version: v })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// `{base}/{version}/{segments…}`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().expect("checked in new: the base URL can be a base");
            path.pop_if_empty().push(&self.version);
            for s in segments {
                path.push(s);
            }
        }
        url
    }

    /// WhatsApp sends and mark-as-read: `POST {base}/{version}/{phone_number_id}/messages`.
    pub fn whatsapp_messages_url(&self, phone_number_id: &str) -> Url {
        self.url(&[phone_number_id, "messages"])
    }

    /// WhatsApp media look-up: `GET {base}/{version}/{media_id}`, with `?phone_number_id=` to make
    /// Meta check the media belongs to that number. The answer's URL is then fetched with the same
    /// bearer token ([`super::whatsapp::parse_media_info`]).
    pub fn whatsapp_media_url(&self, media_id: &str, phone_number_id: Option<&str>) -> Url {
        let mut url = self.url(&[media_id]);
        if let Some(id) = phone_number_id {
            url.query_pairs_mut().append_pair("phone_number_id", id);
        }
        url
    }

    /// Messenger sends and sender actions: `POST {base}/{version}/{page_id}/messages`, or
    /// `/me/messages` (the Page the token belongs to) without a page id.
    pub fn messenger_messages_url(&self, page_id: Option<&str>) -> Url {
        self.url(&[page_id.unwrap_or("me"), "messages"])
    }

    /// A Messenger customer's public profile: `GET {base}/{version}/{psid}?fields=first_name,last_name`
    /// (with the Page token). Answers `{"first_name": …, "last_name": …, "id": …}`.
    pub fn messenger_profile_url(&self, psid: &str) -> Url {
        let mut url = self.url(&[psid]);
        url.query_pairs_mut().append_pair("fields", "first_name,last_name");
        url
    }
}

impl Default for GraphApi {
    fn default() -> Self {
        GraphApi::new(Self::DEFAULT_BASE_URL, Self::DEFAULT_VERSION).expect("the defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_points_at_graph_facebook_com() {
        let graph = GraphApi::default();
        assert_eq!(
            graph.whatsapp_messages_url("208765432109876").as_str(),
            "https://graph.facebook.com/v23.0/208765432109876/messages"
        );
        assert_eq!(graph.messenger_messages_url(None).as_str(), "https://graph.facebook.com/v23.0/me/messages");
        assert_eq!(
            graph.messenger_messages_url(Some("104455667788990")).as_str(),
            "https://graph.facebook.com/v23.0/104455667788990/messages"
        );
    }

    #[test]
    fn a_local_stand_in_with_a_path_prefix_and_trailing_slash_keeps_its_prefix() {
        let graph = GraphApi::new("http://127.0.0.1:9400/graph/", "v21.0").unwrap();
        assert_eq!(graph.whatsapp_messages_url("1").as_str(), "http://127.0.0.1:9400/graph/v21.0/1/messages");
    }

    #[test]
    fn the_media_lookup_url_may_assert_the_phone_number() {
        let graph = GraphApi::default();
        assert_eq!(
            graph.whatsapp_media_url("1290384756102938", None).as_str(),
            "https://graph.facebook.com/v23.0/1290384756102938"
        );
        assert_eq!(
            graph.whatsapp_media_url("1290384756102938", Some("208765432109876")).as_str(),
            "https://graph.facebook.com/v23.0/1290384756102938?phone_number_id=208765432109876"
        );
    }

    #[test]
    fn ids_are_percent_encoded_as_single_path_segments() {
        let graph = GraphApi::default();
        assert_eq!(
            graph.whatsapp_messages_url("../x?y").as_str(),
            "https://graph.facebook.com/v23.0/..%2Fx%3Fy/messages"
        );
    }

    #[test]
    fn a_bare_version_number_gets_its_v() {
        assert_eq!(GraphApi::new("https://graph.facebook.com", "24.0").unwrap().version(), "v24.0");
    }

    #[test]
    fn bad_base_urls_and_versions_are_refused() {
        for base in ["graph.facebook.com", "ftp://graph.facebook.com", "mailto:x@y", ""] {
            assert_eq!(GraphApi::new(base, "v23.0"), Err(GraphConfigError::BadBaseUrl(base.to_owned())), "{base}");
        }
        for version in ["", "v", "v23.", "latest", "v23.0/../x"] {
            assert_eq!(
                GraphApi::new("https://graph.facebook.com", version),
                Err(GraphConfigError::BadVersion(version.to_owned())),
                "{version}"
            );
        }
    }
}
