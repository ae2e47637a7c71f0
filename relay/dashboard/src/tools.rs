//! The advisor's tools beside the socket model (issue 5): canned responses, labels, search and
//! emoji. The pure parts (what `/` finds, `{{name}}`, inserting at the cursor) are here with their
//! tests; [`Tools`] holds what the relay's HTTP API answered, shared by the components.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use shared::{ConversationSummary, Seq};

use crate::api;

/// A canned response as `GET /api/v1/canned` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Canned {
    pub id: i64,
    pub shortcut: String,
    pub text: String,
    /// Shared with every advisor (else only mine).
    pub shared: bool,
    /// I may edit and delete it.
    pub can_edit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LabelInfo {
    pub id: i64,
    pub name: String,
    pub color: String,
    #[serde(default)]
    pub conversations: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SearchResult {
    pub conversation: ConversationSummary,
    #[serde(default)]
    pub snippet: Option<Snippet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Snippet {
    pub seq: Seq,
    pub text: String,
    #[serde(default)]
    pub note: bool,
}

/// Where a search stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Search {
    #[default]
    Idle,
    Loading,
    Done(Vec<SearchResult>),
    Failed(String),
}

/// The shortest query the relay searches.
pub const MIN_QUERY_CHARS: usize = 2;
/// Most replies the `/` menu lists.
pub const MENU_SIZE: usize = 8;

/// What follows `/` when the draft is a canned-response query: it starts with `/` and is one line.
pub fn canned_query(draft: &str) -> Option<&str> {
    draft.strip_prefix('/').filter(|rest| !rest.contains('\n'))
}

/// The replies matching `query`, best first: shortcuts starting with it, then shortcuts containing
/// it, then texts containing it (ignoring case); ties by shortcut. At most [`MENU_SIZE`].
pub fn filter_canned<'a>(list: &'a [Canned], query: &str) -> Vec<&'a Canned> {
    let query = query.trim().to_lowercase();
    let mut ranked: Vec<(u8, &Canned)> = list
        .iter()
        .filter_map(|c| {
            let shortcut = c.shortcut.to_lowercase();
            let rank = if shortcut.starts_with(&query) {
                0
            } else if shortcut.contains(&query) {
                1
            } else if c.text.to_lowercase().contains(&query) {
                2
            } else {
                return None;
            };
            Some((rank, c))
        })
        .collect();
    ranked.sort_by(|(ra, a), (rb, b)| ra.cmp(rb).then_with(|| a.shortcut.to_lowercase().cmp(&b.shortcut.to_lowercase())));
    ranked.into_iter().take(MENU_SIZE).map(|(_, c)| c).collect()
}

/// The customer's first name, if the relay knows their name (not the "Visitor 12" stand-in).
pub fn first_name(visitor_name: &str) -> Option<&str> {
    let placeholder = visitor_name
        .strip_prefix("Visitor ")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    if placeholder {
        return None;
    }
    visitor_name.split_whitespace().next()
}

/// A canned text as inserted for this customer: `{{name}}` (spaces inside the braces allowed)
/// becomes their first name, or "there" when it is unknown ("Hi {{name}}" → "Hi there").
pub fn expand(text: &str, visitor_name: &str) -> String {
    let name = first_name(visitor_name).unwrap_or("there");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) if after[..end].trim() == "name" => {
                out.push_str(name);
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `insert` put into `value` in place of the selection `start..end` (UTF-16 offsets, as a
/// textarea reports them); returns the new value and the cursor after the insert (UTF-16).
pub fn insert_at(value: &str, start: u32, end: u32, insert: &str) -> (String, u32) {
    let byte_at = |utf16: u32| {
        let mut units = 0u32;
        for (i, c) in value.char_indices() {
            if units >= utf16 {
                return i;
            }
            units += c.len_utf16() as u32;
        }
        value.len()
    };
    let (start, end) = (start.min(end), start.max(end));
    let (a, b) = (byte_at(start), byte_at(end));
    let new = format!("{}{}{}", &value[..a], insert, &value[b..]);
    let cursor = value[..a].encode_utf16().count() as u32 + insert.encode_utf16().count() as u32;
    (new, cursor)
}

/// Whether a conversation carries `label` (names compare without regard to case).
pub fn has_label(labels: &[String], label: &str) -> bool {
    labels.iter().any(|l| l.to_lowercase() == label.to_lowercase())
}

/// `labels` with `name` added (unless it is there in any case), or removed.
pub fn with_label(labels: &[String], name: &str, add: bool) -> Vec<String> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: Vec<String> = labels.iter().filter(|l| l.to_lowercase() != name.to_lowercase()).cloned().collect();
    if add && !name.is_empty() {
        out.push(name);
    }
    out
}

/// The emoji grid: common ones in support conversations.
pub const EMOJI: [&str; 40] = [
    "😀", "😃", "😄", "😁", "😊", "🙂", "😉", "😍", "🤩", "😎", "🤔", "😅", "😂", "🙃", "😌", "😢", "😮", "😬", "🙏", "👍",
    "👎", "👌", "👋", "👏", "🙌", "💪", "🤝", "❤️", "💙", "🎉", "✨", "🔥", "⭐", "✅", "❌", "⚠️", "📦", "🚚", "💳", "⏰",
];

/// What the tools' components share: the replies and labels as last loaded, the inbox's label
/// filter and the search.
#[derive(Clone, Copy)]
pub struct Tools {
    pub canned: RwSignal<Vec<Canned>>,
    pub labels: RwSignal<Vec<LabelInfo>>,
    /// The inbox shows only conversations with this label.
    pub label_filter: RwSignal<Option<String>>,
    pub query: RwSignal<String>,
    pub search: RwSignal<Search>,
    /// The "Manage replies" dialog is open.
    pub managing: RwSignal<bool>,
}

impl Tools {
    /// Provide the tools to the inbox's components and load the replies and labels.
    pub fn start() -> Tools {
        let tools = Tools {
            canned: RwSignal::new(Vec::new()),
            labels: RwSignal::new(Vec::new()),
            label_filter: RwSignal::new(None),
            query: RwSignal::new(String::new()),
            search: RwSignal::new(Search::Idle),
            managing: RwSignal::new(false),
        };
        provide_context(tools);
        tools.reload_canned();
        tools.reload_labels();
        tools
    }

    pub fn reload_canned(self) {
        spawn_local(async move {
            if let Ok(list) = api::canned().await {
                self.canned.try_set(list);
            }
        });
    }

    pub fn reload_labels(self) {
        spawn_local(async move {
            if let Ok(list) = api::labels().await {
                self.labels.try_set(list);
            }
        });
    }

    /// A label's colour, if it is a known label.
    pub fn color_of(&self, name: &str) -> Option<String> {
        self.labels.with(|l| l.iter().find(|l| l.name.to_lowercase() == name.to_lowercase()).map(|l| l.color.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canned(shortcut: &str, text: &str) -> Canned {
        Canned { id: 0, shortcut: shortcut.into(), text: text.into(), shared: true, can_edit: false }
    }

    #[test]
    fn a_slash_at_the_start_of_a_one_line_draft_is_a_query() {
        assert_eq!(canned_query("/"), Some(""));
        assert_eq!(canned_query("/ref"), Some("ref"));
        assert_eq!(canned_query("/return policy"), Some("return policy"));
        assert_eq!(canned_query("see /ref"), None);
        assert_eq!(canned_query("/ref\nmore"), None);
        assert_eq!(canned_query(""), None);
    }

    #[test]
    fn the_menu_lists_shortcut_prefixes_then_shortcut_and_text_matches() {
        let list = [
            canned("thanks", "Thank you for waiting!"),
            canned("refund", "Your refund is on its way."),
            canned("hours", "We're open 9 to 5; refunds take a day."),
            canned("late-refund", "Sorry the refund is late."),
        ];
        let shortcuts = |q: &str| filter_canned(&list, q).iter().map(|c| c.shortcut.as_str()).collect::<Vec<_>>();
        assert_eq!(shortcuts(""), ["hours", "late-refund", "refund", "thanks"]);
        assert_eq!(shortcuts("REF"), ["refund", "late-refund", "hours"]);
        assert_eq!(shortcuts("waiting"), ["thanks"]);
        assert_eq!(shortcuts("zzz"), Vec::<&str>::new());
        let many: Vec<Canned> = (0..20).map(|i| canned(&format!("r{i:02}"), "x")).collect();
        assert_eq!(filter_canned(&many, "r").len(), MENU_SIZE);
    }

    #[test]
    fn name_is_the_customers_first_name_or_there() {
        assert_eq!(expand("Hi {{name}}, thanks!", "Marta Silva"), "Hi Marta, thanks!");
        assert_eq!(expand("Hi {{ name }} / {{name}}", "Jules"), "Hi Jules / Jules");
        assert_eq!(expand("Hi {{name}}!", "Visitor 12"), "Hi there!");
        assert_eq!(expand("Keep {{order}} and {{", "Ana"), "Keep {{order}} and {{");
        assert_eq!(first_name("Visitor Services"), Some("Visitor"));
        assert_eq!(first_name("Visitor 7"), None);
    }

    #[test]
    fn emoji_go_in_at_the_cursor_in_utf16_offsets() {
        assert_eq!(insert_at("Hello world", 5, 5, "👋"), ("Hello👋 world".to_owned(), 7));
        // "é" is one UTF-16 unit, "😀" two: the cursor after "😀é" is 3.
        assert_eq!(insert_at("😀é!", 3, 3, "🎉"), ("😀é🎉!".to_owned(), 5));
        assert_eq!(insert_at("replace me", 0, 7, "✅"), ("✅ me".to_owned(), 1));
        assert_eq!(insert_at("end", 99, 99, "!"), ("end!".to_owned(), 4));
    }

    #[test]
    fn labels_add_and_remove_without_regard_to_case() {
        let labels = vec!["VIP".to_owned()];
        assert_eq!(with_label(&labels, " refund ", true), ["VIP", "refund"]);
        assert_eq!(with_label(&labels, "vip", true), ["vip"]);
        assert_eq!(with_label(&labels, "vip", false), Vec::<String>::new());
        assert!(has_label(&labels, "vip"));
        assert!(!has_label(&labels, "refund"));
    }

    #[test]
    fn search_results_parse_with_and_without_a_snippet() {
        let row = r#"{"id":3,"visitor_name":"Ana","site_name":"Shop","last_seq":2,"last_activity_at":1,"unread":0}"#;
        let json = format!(r#"[{{"conversation":{row},"snippet":{{"seq":2,"text":"…refund…","note":true}}}},{{"conversation":{row}}}]"#);
        let results: Vec<SearchResult> = serde_json::from_str(&json).unwrap();
        assert_eq!(results[0].snippet.as_ref().map(|s| (s.seq, s.note)), Some((2, true)));
        assert!(results[1].snippet.is_none());
    }
}
