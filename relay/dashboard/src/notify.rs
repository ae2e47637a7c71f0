//! Desktop notifications and the sound: whether a frame from the relay should raise one. Pure;
//! `components::notifications` shows them (Web Notifications, WebAudio) and keeps the toggles.

use shared::{AdvisorId, AdvisorServerFrame, Author, ConversationId};

use crate::state::Model;
use crate::text::preview;

/// The advisor's choices (kept in localStorage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prefs {
    pub desktop: bool,
    pub sound: bool,
}

/// What to raise for one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub conversation: ConversationId,
    pub title: String,
    pub body: String,
    pub desktop: bool,
    pub sound: bool,
}

/// Whether `frame`, about to be applied to `model`, should notify. A customer's message does, when
/// the conversation is mine or still unassigned (the relay only sends conversations this advisor
/// may see), and the advisor isn't looking at it: the tab is hidden or another conversation is open.
/// A new conversation is its first message (the inbox row comes with it, so rows never notify: one
/// alert per message). Private notes, our own replies and the history of an opened thread don't.
pub fn should_notify(frame: &AdvisorServerFrame, model: &Model, prefs: Prefs, tab_hidden: bool) -> Option<Alert> {
    if !prefs.desktop && !prefs.sound {
        return None;
    }
    let AdvisorServerFrame::Message { message } = frame else { return None };
    if message.author != Author::Visitor || message.note {
        return None;
    }
    let me: Option<AdvisorId> = model.me.as_ref().map(|a| a.id);
    let row = model.conversation(message.conversation);
    if row.and_then(|r| r.assignee).is_some_and(|a| Some(a) != me) {
        return None;
    }
    let looking = !tab_hidden && model.open.as_ref().is_some_and(|o| o.id == message.conversation);
    if looking {
        return None;
    }
    let name = row.map_or_else(|| "A new customer".to_owned(), |r| r.visitor_name.clone());
    let new = row.is_none_or(|r| r.last_seq == 0) || message.seq <= 1;
    let title = if new { format!("New conversation: {name}") } else { name };
    Some(Alert {
        conversation: message.conversation,
        title,
        body: preview(Some(message), me),
        desktop: prefs.desktop,
        sound: prefs.sound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{AdvisorInfo, Channel, ClientMsgId, ConversationSummary, Message};

    const C1: ConversationId = ConversationId(1);
    const ME: AdvisorId = AdvisorId(7);
    const ON: Prefs = Prefs { desktop: true, sound: true };

    fn model(assignee: Option<AdvisorId>) -> Model {
        let mut m = Model::new(Some(AdvisorInfo { id: ME, name: "Dana".into(), email: "dana@shop.example".into() }));
        let row: ConversationSummary = serde_json::from_value(serde_json::json!({
            "id": 1, "visitor_name": "Ana", "site_name": "Shop", "last_seq": 3, "last_activity_at": 1, "unread": 0,
        }))
        .unwrap();
        m.conversations = vec![ConversationSummary { assignee, ..row }];
        m
    }

    fn from(author: Author, conversation: ConversationId, seq: u64) -> AdvisorServerFrame {
        AdvisorServerFrame::Message {
            message: Message {
                id: ClientMsgId("m".into()),
                conversation,
                seq,
                author,
                channel: Channel::Web,
                text: "Do you ship to Spain?".into(),
                sent_at: 1,
                attachments: Vec::new(),
                delivery: None,
                note: false,
            },
        }
    }

    #[test]
    fn a_customer_message_in_an_unassigned_or_my_conversation_notifies_in_a_hidden_tab() {
        for assignee in [None, Some(ME)] {
            let alert = should_notify(&from(Author::Visitor, C1, 4), &model(assignee), ON, true).expect("notifies");
            assert_eq!((alert.conversation, alert.title.as_str(), alert.body.as_str()), (C1, "Ana", "Do you ship to Spain?"));
            assert!(alert.desktop && alert.sound);
        }
    }

    #[test]
    fn another_advisors_conversation_does_not_notify() {
        assert_eq!(should_notify(&from(Author::Visitor, C1, 4), &model(Some(AdvisorId(8))), ON, true), None);
    }

    #[test]
    fn the_open_conversation_in_a_visible_tab_does_not_notify_but_another_does() {
        let mut m = model(None);
        m.select(C1);
        assert_eq!(should_notify(&from(Author::Visitor, C1, 4), &m, ON, false), None);
        assert!(should_notify(&from(Author::Visitor, C1, 4), &m, ON, true).is_some(), "hidden tab");
        let mut m = model(None);
        m.select(ConversationId(2));
        assert!(should_notify(&from(Author::Visitor, C1, 4), &m, ON, false).is_some(), "another is open");
    }

    #[test]
    fn a_first_message_is_a_new_conversation() {
        let alert = should_notify(&from(Author::Visitor, ConversationId(9), 1), &model(None), ON, true).unwrap();
        assert_eq!(alert.title, "New conversation: A new customer");
    }

    #[test]
    fn advisors_bots_and_notes_do_not_notify() {
        let m = model(None);
        let advisor = Author::Advisor { id: AdvisorId(8), name: "Bo".into() };
        for author in [advisor, Author::Bot, Author::System] {
            assert_eq!(should_notify(&from(author, C1, 4), &m, ON, true), None);
        }
        let mut note = from(Author::Visitor, C1, 4);
        if let AdvisorServerFrame::Message { message } = &mut note {
            message.note = true;
        }
        assert_eq!(should_notify(&note, &m, ON, true), None);
        assert_eq!(should_notify(&AdvisorServerFrame::Typing { conversation: C1, on: true }, &m, ON, true), None);
    }

    #[test]
    fn each_toggle_is_honoured() {
        let m = model(None);
        let frame = from(Author::Visitor, C1, 4);
        assert_eq!(should_notify(&frame, &m, Prefs::default(), true), None);
        let sound_only = should_notify(&frame, &m, Prefs { desktop: false, sound: true }, true).unwrap();
        assert!(!sound_only.desktop && sound_only.sound);
    }
}
