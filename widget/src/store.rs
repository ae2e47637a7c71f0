//! The thread as the widget knows it: committed messages in seq order, then the visitor's messages the
//! relay has not acknowledged yet. Pure data, tested natively; the UI keeps one in a signal.

use shared::{Attachment, Author, Message, Seq};

/// Where one of the visitor's messages stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Committed by the relay (it has a seq).
    Sent,
    /// Waiting for an `ack`; (re)sent whenever the socket is greeted.
    Sending,
    /// Refused by the relay, with its readable reason. Not resent until the visitor taps retry.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The client id (idempotency key).
    pub id: String,
    pub seq: Option<Seq>,
    pub author: Author,
    pub text: String,
    /// Server time once committed, else the local time it was written (ms since the epoch, UTC).
    pub at: i64,
    pub delivery: Delivery,
    /// Files the message carries (the visitor's own: as their upload answered).
    pub files: Vec<Attachment>,
}

impl Entry {
    fn committed(m: Message) -> Entry {
        Entry {
            id: m.id.0,
            seq: Some(m.seq),
            author: m.author,
            text: m.text,
            at: m.sent_at,
            delivery: Delivery::Sent,
            files: m.attachments,
        }
    }

    /// Whether the text only names the one file shown ("📷 Photo"): then it isn't shown.
    pub fn text_is_label(&self) -> bool {
        match self.files.as_slice() {
            [f] => self.text == shared::text::attachment_label(f.kind, f.name.as_deref()),
            _ => false,
        }
    }

    /// A key that changes whenever the entry's rendering does.
    pub fn key(&self) -> String {
        let state = match &self.delivery {
            Delivery::Sent => "s",
            Delivery::Sending => "p",
            Delivery::Failed(_) => "f",
        };
        let mut k = self.id.clone();
        k.push('|');
        k.push_str(state);
        k.push_str(&self.seq.unwrap_or(0).to_string());
        k
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Thread {
    entries: Vec<Entry>,
}

impl Thread {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The resume cursor: the highest committed seq.
    pub fn last_seq(&self) -> Seq {
        self.entries.iter().filter_map(|e| e.seq).max().unwrap_or(0)
    }

    fn committed_len(&self) -> usize {
        self.entries.iter().take_while(|e| e.seq.is_some()).count()
    }

    /// Adds a committed message, ignoring a seq already known, and replacing the pending entry with the
    /// same client id (our own message, echoed before its ack). Returns whether anything changed.
    pub fn apply(&mut self, m: Message) -> bool {
        let n = self.committed_len();
        if self.entries[..n]
            .iter()
            .any(|e| e.seq == Some(m.seq) || e.id == m.id.0)
        {
            return false;
        }
        if let Some(p) = self.entries[n..].iter().position(|e| e.id == m.id.0) {
            self.entries.remove(n + p);
        }
        let at = self.entries[..n].partition_point(|e| e.seq < Some(m.seq));
        self.entries.insert(at, Entry::committed(m));
        true
    }

    /// Shows a message the visitor just wrote.
    pub fn push_pending(&mut self, id: String, text: String, now: i64) {
        self.push_files(id, text, now, Vec::new());
    }

    /// Shows a message the visitor just wrote, with files already uploaded.
    pub fn push_files(&mut self, id: String, text: String, now: i64, files: Vec<Attachment>) {
        self.entries.push(Entry {
            id,
            seq: None,
            author: Author::Visitor,
            text,
            at: now,
            delivery: Delivery::Sending,
            files,
        });
    }

    /// The relay committed our message `id` as `seq`.
    pub fn ack(&mut self, id: &str, seq: Seq, sent_at: i64) -> bool {
        let n = self.committed_len();
        let Some(p) = self.entries[n..].iter().position(|e| e.id == id) else {
            return false;
        };
        let mut e = self.entries.remove(n + p);
        if self.entries[..n].iter().any(|c| c.seq == Some(seq)) {
            return true; // the echo arrived first
        }
        e.seq = Some(seq);
        e.at = sent_at;
        e.delivery = Delivery::Sent;
        let at = self.entries[..n].partition_point(|c| c.seq < Some(seq));
        self.entries.insert(at, e);
        true
    }

    /// The relay refused the pending message `id`.
    pub fn fail(&mut self, id: &str, reason: String) -> bool {
        match self
            .entries
            .iter_mut()
            .find(|e| e.seq.is_none() && e.id == id)
        {
            Some(e) => {
                e.delivery = Delivery::Failed(reason);
                true
            }
            None => false,
        }
    }

    /// Tap to retry: the failed message `id` goes back to sending. Returns what to send.
    pub fn retry(&mut self, id: &str) -> Option<Outgoing> {
        let e = self
            .entries
            .iter_mut()
            .find(|e| e.seq.is_none() && e.id == id)?;
        e.delivery = Delivery::Sending;
        Some(outgoing(e))
    }

    /// Messages to (re)send once the socket is greeted, oldest first.
    pub fn sends(&self) -> Vec<Outgoing> {
        self.entries
            .iter()
            .filter(|e| e.delivery == Delivery::Sending)
            .map(outgoing)
            .collect()
    }

    /// The text messages still to send, kept across a reload: (id, text), oldest first. (A file
    /// message isn't kept: its upload, never sent, is forgotten by the relay.)
    pub fn outbox(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .filter(|e| e.delivery == Delivery::Sending && e.files.is_empty())
            .map(|e| (e.id.clone(), e.text.clone()))
            .collect()
    }

    /// The seq of the visitor's newest message once committed (0 while it is still on its way): the
    /// one the receipt line goes under.
    pub fn last_own(&self) -> Seq {
        match self
            .entries
            .iter()
            .rev()
            .find(|e| e.author == Author::Visitor)
        {
            Some(Entry { seq: Some(seq), .. }) => *seq,
            _ => 0,
        }
    }

    /// The visitor wrote and nobody has answered since (system lines aside).
    pub fn awaiting_reply(&self) -> bool {
        self.entries
            .iter()
            .rev()
            .filter(|e| e.seq.is_some())
            .find(|e| e.author != Author::System)
            .is_some_and(|e| e.author == Author::Visitor)
    }

    /// Advisor and bot messages after `read_seq`.
    pub fn unread(&self, read_seq: Seq) -> usize {
        self.entries
            .iter()
            .filter(|e| e.seq.is_some_and(|s| s > read_seq))
            .filter(|e| matches!(e.author, Author::Advisor { .. } | Author::Bot))
            .count()
    }

    /// A new conversation (after a refused token): keep only what the visitor has not got through yet.
    pub fn restart(&mut self) {
        self.entries.retain(|e| e.seq.is_none());
    }
}

/// A message to send: (id, text, uploaded file ids). A file message's text is sent empty: the relay
/// names the file itself.
pub type Outgoing = (String, String, Vec<String>);

fn outgoing(e: &Entry) -> Outgoing {
    let text = if e.text_is_label() { String::new() } else { e.text.clone() };
    (e.id.clone(), text, e.files.iter().map(|f| f.id.clone()).collect())
}

/// Where a committed message of the visitor's stands, from the advisors' cursors: `read` (an advisor
/// read it), `delivered` (it reached an advisor's dashboard) or `sent` (committed by the relay).
pub fn receipt(seq: Seq, delivered: Seq, read: Seq) -> &'static str {
    if seq <= read {
        "read"
    } else if seq <= delivered {
        "delivered"
    } else {
        "sent"
    }
}

/// One row of the rendered thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    Day { day: i64 },
    Msg(Entry),
}

/// The thread with a day separator before the first message of each local day. `local_day` maps a UTC
/// millisecond timestamp to the local day number (see `text::day_of`).
pub fn rows(thread: &Thread, local_day: impl Fn(i64) -> i64) -> Vec<Row> {
    let mut out = Vec::with_capacity(thread.entries.len() + 4);
    let mut last = None;
    for e in &thread.entries {
        let day = local_day(e.at);
        if last != Some(day) {
            out.push(Row::Day { day });
            last = Some(day);
        }
        out.push(Row::Msg(e.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{AdvisorId, Channel, ClientMsgId, ConversationId};

    fn msg(id: &str, seq: Seq, author: Author, at: i64) -> Message {
        Message {
            delivery: None,
            attachments: Vec::new(),
            note: false,
            id: ClientMsgId(id.into()),
            conversation: ConversationId(1),
            seq,
            author,
            channel: Channel::Web,
            text: format!("text {id}"),
            sent_at: at,
        }
    }

    fn advisor() -> Author {
        Author::Advisor {
            id: AdvisorId(7),
            name: "Ada".into(),
        }
    }

    fn seqs(t: &Thread) -> Vec<Option<Seq>> {
        t.entries().iter().map(|e| e.seq).collect()
    }

    #[test]
    fn the_visitor_awaits_a_reply_until_an_advisor_or_the_bot_answers() {
        let mut t = Thread::default();
        assert!(!t.awaiting_reply());
        t.push_pending("p".into(), "hello?".into(), 5);
        assert!(!t.awaiting_reply(), "not before the relay has it");
        t.ack("p", 1, 10);
        assert!(t.awaiting_reply());
        t.apply(msg("s", 2, Author::System, 20));
        assert!(t.awaiting_reply(), "a system line is no answer");
        t.apply(msg("b", 3, advisor(), 30));
        assert!(!t.awaiting_reply());
    }

    #[test]
    fn messages_are_kept_in_seq_order_and_duplicates_are_dropped() {
        let mut t = Thread::default();
        assert!(t.apply(msg("b", 2, advisor(), 20)));
        assert!(t.apply(msg("a", 1, Author::Visitor, 10)));
        assert!(!t.apply(msg("b", 2, advisor(), 20)));
        assert!(!t.apply(msg("other-id", 1, Author::Bot, 10)));
        assert!(t.apply(msg("c", 3, Author::Bot, 30)));
        assert_eq!(seqs(&t), vec![Some(1), Some(2), Some(3)]);
        assert_eq!(t.last_seq(), 3);
    }

    #[test]
    fn a_pending_message_becomes_sent_on_ack_and_stays_after_committed_ones() {
        let mut t = Thread::default();
        t.apply(msg("a", 1, advisor(), 10));
        t.push_pending("mine".into(), "hello".into(), 15);
        assert_eq!(t.outbox(), vec![("mine".to_string(), "hello".to_string())]);
        t.apply(msg("b", 2, advisor(), 20));
        assert_eq!(seqs(&t), vec![Some(1), Some(2), None]);
        assert!(t.ack("mine", 3, 30));
        assert_eq!(seqs(&t), vec![Some(1), Some(2), Some(3)]);
        assert_eq!(t.entries()[2].delivery, Delivery::Sent);
        assert_eq!(t.entries()[2].at, 30);
        assert!(t.outbox().is_empty());
        assert!(!t.ack("mine", 3, 30));
    }

    #[test]
    fn an_echo_of_our_own_message_replaces_the_pending_one() {
        let mut t = Thread::default();
        t.push_pending("mine".into(), "hello".into(), 15);
        assert!(t.apply(msg("mine", 1, Author::Visitor, 20)));
        assert_eq!(t.entries().len(), 1);
        assert!(!t.ack("mine", 1, 20));
        assert_eq!(t.entries().len(), 1);
        assert_eq!(t.entries()[0].delivery, Delivery::Sent);
    }

    #[test]
    fn an_ack_after_the_echo_does_not_duplicate() {
        let mut t = Thread::default();
        t.push_pending("mine".into(), "hello".into(), 15);
        t.entries
            .push(Entry::committed(msg("x", 1, Author::Visitor, 1))); // corrupt order on purpose
        t.entries.sort_by_key(|e| e.seq.is_none());
        assert!(t.ack("mine", 1, 20));
        assert_eq!(t.entries().len(), 1);
    }

    #[test]
    fn a_refused_message_fails_and_goes_back_to_the_outbox_on_retry() {
        let mut t = Thread::default();
        t.push_pending("m1".into(), "too long".into(), 1);
        assert!(t.fail("m1", "Message is too long".into()));
        assert!(t.outbox().is_empty());
        assert_eq!(
            t.entries()[0].delivery,
            Delivery::Failed("Message is too long".into())
        );
        assert_eq!(t.retry("m1"), Some(("m1".into(), "too long".into(), vec![])));
        assert_eq!(t.outbox().len(), 1);
        assert!(!t.fail("nope", String::new()));
    }

    #[test]
    fn unread_counts_advisor_and_bot_messages_after_the_read_cursor() {
        let mut t = Thread::default();
        t.apply(msg("a", 1, Author::Visitor, 1));
        t.apply(msg("b", 2, advisor(), 2));
        t.apply(msg("c", 3, Author::Bot, 3));
        t.apply(msg("d", 4, Author::System, 4));
        t.apply(msg("e", 5, Author::Visitor, 5));
        assert_eq!(t.unread(0), 2);
        assert_eq!(t.unread(2), 1);
        assert_eq!(t.unread(5), 0);
    }

    #[test]
    fn restart_keeps_only_unsent_messages() {
        let mut t = Thread::default();
        t.apply(msg("a", 1, advisor(), 1));
        t.push_pending("p".into(), "hi".into(), 2);
        t.restart();
        assert_eq!(t.entries().len(), 1);
        assert_eq!(t.last_seq(), 0);
    }

    #[test]
    fn a_day_separator_precedes_each_new_day() {
        let mut t = Thread::default();
        let day = 86_400_000;
        t.apply(msg("a", 1, advisor(), day + 5));
        t.apply(msg("b", 2, advisor(), day + 10));
        t.apply(msg("c", 3, advisor(), 3 * day + 1));
        let rows = rows(&t, crate::text::day_of);
        let shape: Vec<&str> = rows
            .iter()
            .map(|r| {
                if matches!(r, Row::Day { .. }) {
                    "day"
                } else {
                    "msg"
                }
            })
            .collect();
        assert_eq!(shape, ["day", "msg", "msg", "day", "msg"]);
        assert_eq!(rows[0], Row::Day { day: 1 });
        assert_eq!(rows[3], Row::Day { day: 3 });
    }

    #[test]
    fn receipts_follow_the_advisors_cursors() {
        assert_eq!(receipt(3, 2, 1), "sent");
        assert_eq!(receipt(3, 3, 1), "delivered");
        assert_eq!(receipt(3, 5, 3), "read");
        assert_eq!(
            receipt(3, 0, 4),
            "read",
            "read without a delivery receipt is still read"
        );
    }

    #[test]
    fn the_receipt_goes_under_the_newest_own_message_once_committed() {
        let mut t = Thread::default();
        assert_eq!(t.last_own(), 0);
        t.apply(msg("a", 1, Author::Visitor, 1));
        t.apply(msg("b", 2, advisor(), 2));
        assert_eq!(
            t.last_own(),
            1,
            "an advisor's reply after it doesn't move it"
        );
        t.push_pending("p".into(), "hi".into(), 3);
        assert_eq!(t.last_own(), 0, "the pending message shows its own state");
        t.ack("p", 3, 4);
        assert_eq!(t.last_own(), 3);
    }

    #[test]
    fn entry_keys_change_with_delivery() {
        let mut t = Thread::default();
        t.push_pending("m".into(), "x".into(), 1);
        let before = t.entries()[0].key();
        t.ack("m", 1, 2);
        assert_ne!(before, t.entries()[0].key());
    }

    fn photo(id: &str) -> Attachment {
        Attachment {
            id: id.into(),
            kind: shared::AttachmentKind::Image,
            mime: "image/png".into(),
            name: Some("beach.png".into()),
            size: 10,
            state: shared::AttachmentState::Ready,
            error: None,
            url: Some("/files/x".into()),
        }
    }

    #[test]
    fn a_file_message_is_sent_with_its_upload_and_no_words_and_is_not_kept_across_a_reload() {
        let mut t = Thread::default();
        t.push_files("f1".into(), "📷 Photo".into(), 5, vec![photo("up-1")]);
        t.push_pending("t1".into(), "and a caption".into(), 6);
        assert!(t.entries()[0].text_is_label());
        assert_eq!(
            t.sends(),
            vec![
                ("f1".to_string(), String::new(), vec!["up-1".to_string()]),
                ("t1".to_string(), "and a caption".to_string(), vec![])
            ]
        );
        assert_eq!(t.outbox(), vec![("t1".to_string(), "and a caption".to_string())]);
        assert!(t.ack("f1", 1, 7));
        assert_eq!(t.entries()[0].files[0].id, "up-1", "the file stays with the committed message");
    }

    #[test]
    fn words_written_with_a_file_are_shown() {
        let mut m = msg("a", 1, advisor(), 0);
        m.attachments = vec![photo("x")];
        m.text = "Here is the label".into();
        let mut t = Thread::default();
        t.apply(m.clone());
        assert!(!t.entries()[0].text_is_label());
        m.text = "📷 Photo".into();
        m.seq = 2;
        m.id = ClientMsgId("b".into());
        t.apply(m);
        assert!(t.entries()[1].text_is_label());
    }
}
