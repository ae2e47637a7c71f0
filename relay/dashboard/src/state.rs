//! The dashboard's model of the advisor socket: the inbox, the open thread and the replies not yet
//! acknowledged. Pure: every input (a frame from the relay, a click, the socket going up or down)
//! is a method that updates the model and returns the frames to send, so the protocol logic runs in
//! native unit tests. `lib.rs` keeps one `Model` in a signal and hands the returned frames to the
//! socket.

use shared::limits::{text_chars, MAX_REPLAY, MAX_TEXT_CHARS};
use shared::{
    AdvisorClientFrame as Out, AdvisorInfo, AdvisorServerFrame as In, Attachment, AttachmentState, Author, Channel,
    ChannelStatus, ClientMsgId, ConversationId, ConversationStatus, ConversationSummary, Message, PlatformDelivery, PlatformState, Seq,
    TemplateInfo, TemplateSend, PROTOCOL_VERSION,
};
use shared::{AdvisorId, Presence, RosterEntry, TeamInfo};

pub use crate::views::{Breach, View};

/// Where a reply of ours stands before the relay has committed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Sent (or waiting for the socket); no `ack` yet.
    Sending,
    /// The relay refused it; the readable reason. Retrying re-sends the same id.
    Failed(String),
}

/// A reply written here and not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: ClientMsgId,
    pub conversation: ConversationId,
    /// What the thread shows: the text, or the template filled in.
    pub text: String,
    pub created_at: i64,
    pub delivery: Delivery,
    /// The channel the advisor chose (None: where the customer last wrote).
    pub via: Option<Channel>,
    pub template: Option<TemplateSend>,
    /// A private note (sent as `note`, never to the customer).
    pub note: bool,
    /// Files uploaded for this reply (sent by id).
    pub files: Vec<Attachment>,
}

/// The conversation on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenThread {
    pub id: ConversationId,
    /// Committed messages, ascending by seq, each seq once.
    pub messages: Vec<Message>,
    /// The first `history` has arrived.
    pub loaded: bool,
    /// Why the thread could not be loaded.
    pub error: Option<String>,
    /// The `ref` of the `open` we are waiting on.
    pending_ref: Option<String>,
    /// Highest seq we have told the relay we read.
    read_up_to: Seq,
    /// Delivery and attachment updates for messages not held yet (they arrived before the
    /// `history` that has the message), applied when it comes.
    early: Vec<(Seq, Update)>,
}

/// Enough for every status of a page of replies; more would only come from a misbehaving relay.
const MAX_EARLY: usize = 256;

/// A live change to a committed message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Update {
    Delivery(PlatformDelivery),
    Attachment(Attachment),
}

impl OpenThread {
    fn new(id: ConversationId) -> Self {
        OpenThread {
            id,
            messages: Vec::new(),
            loaded: false,
            error: None,
            pending_ref: None,
            read_up_to: 0,
            early: Vec::new(),
        }
    }

    pub fn highest_seq(&self) -> Seq {
        self.messages.last().map_or(0, |m| m.seq)
    }

    /// Insert keeping seq order. A seq we already hold is not duplicated: the relay's copy only
    /// brings its channel, platform state and attachments forward (see [`merge`]).
    fn insert(&mut self, message: Message) {
        let seq = message.seq;
        match self.messages.binary_search_by_key(&seq, |m| m.seq) {
            Ok(at) => merge(&mut self.messages[at], message),
            Err(at) => self.messages.insert(at, message),
        }
        if self.early.iter().any(|(s, _)| *s == seq) {
            let (now, later) = std::mem::take(&mut self.early).into_iter().partition(|(s, _)| *s == seq);
            self.early = later;
            for (_, update) in now {
                self.update(seq, update);
            }
        }
    }

    /// Apply a live update to message `seq`, or keep it until the message arrives.
    fn update(&mut self, seq: Seq, update: Update) {
        let Ok(at) = self.messages.binary_search_by_key(&seq, |m| m.seq) else {
            if self.early.len() < MAX_EARLY {
                self.early.push((seq, update));
            }
            return;
        };
        let message = &mut self.messages[at];
        match update {
            Update::Delivery(d) => advance(&mut message.delivery, d),
            Update::Attachment(a) => put_attachment(&mut message.attachments, a),
        }
    }
}

/// How far along a platform state is; `failed` is final and outranks everything.
fn rank(state: PlatformState) -> Option<u8> {
    Some(match state {
        PlatformState::Received => 0,
        PlatformState::Queued => 1,
        PlatformState::Sent => 2,
        PlatformState::Delivered => 3,
        PlatformState::Read => 4,
        PlatformState::Failed => 5,
        _ => return None,
    })
}

/// Move a message's platform state forward to `new`, never back: statuses arrive out of order
/// (a late "delivered" after "read"), and a failure is final.
pub fn advance(current: &mut Option<PlatformDelivery>, new: PlatformDelivery) {
    let Some(to) = rank(new.state) else { return };
    let from = current.as_ref().and_then(|d| rank(d.state));
    if from.is_none_or(|from| from < to) {
        *current = Some(new);
    }
}

/// Replace the attachment with the same id (a pending one never replaces one already fetched or
/// failed), or add it.
fn put_attachment(list: &mut Vec<Attachment>, new: Attachment) {
    match list.iter_mut().find(|a| a.id == new.id) {
        Some(old) if new.state == AttachmentState::Pending && old.state != AttachmentState::Pending => {}
        Some(old) => *old = new,
        None => list.push(new),
    }
}

/// Bring what we hold of a message up to date with the relay's copy of it.
fn merge(held: &mut Message, newer: Message) {
    held.channel = newer.channel;
    // The relay rewrites one kind of message in place: the note showing a survey's rating, when
    // the visitor rates the same resolution again.
    if held.note && newer.note {
        held.text = newer.text;
    }
    if let Some(d) = newer.delivery {
        advance(&mut held.delivery, d);
    }
    for a in newer.attachments {
        put_attachment(&mut held.attachments, a);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    Empty,
    TooLong,
    NoConversation,
    /// A template placeholder has no value.
    MissingParam,
}

/// An `unlink` sent and not answered yet, or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlinking {
    pub reference: String,
    pub conversation: ConversationId,
    pub identity: i64,
    /// The relay's refusal; None while waiting.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub me: Option<AdvisorInfo>,
    /// The inbox, newest activity first.
    pub conversations: Vec<ConversationSummary>,
    pub open: Option<OpenThread>,
    /// Replies not yet acknowledged, oldest first, in any conversation.
    pub outbox: Vec<Outgoing>,
    /// Conversations whose visitor is typing, each with the stamp of the latest "on" frame (see
    /// `expire_typing`).
    pub typing: Vec<(ConversationId, u64)>,
    typing_stamp: u64,
    /// A relay error that answers nothing on screen (shown in a banner until dismissed).
    pub notice: Option<String>,
    /// The connected platforms, their alerts and WhatsApp templates (the latest `channels` frame).
    pub channels: Vec<ChannelStatus>,
    /// Unlinks waiting for their answer, or refused.
    pub unlinking: Vec<Unlinking>,
    /// The socket has been greeted (`welcome` received) and frames can be sent.
    pub ready: bool,
    /// The tab is visible: an open thread counts as read.
    pub visible: bool,
    /// The inbox shows conversations with this status (None: all).
    pub filter: Option<ConversationStatus>,
    /// Mine, Unassigned or All; and optional channel and team filters.
    pub view: View,
    pub channel_filter: Option<Channel>,
    pub team_filter: Option<i64>,
    /// This advisor manages accounts, teams and settings.
    pub admin: bool,
    pub teams: Vec<TeamInfo>,
    /// Every advisor's status and load (for assigning, and for my own status).
    pub roster: Vec<RosterEntry>,
    next_ref: u64,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            me: None,
            conversations: Vec::new(),
            open: None,
            outbox: Vec::new(),
            typing: Vec::new(),
            typing_stamp: 0,
            notice: None,
            channels: Vec::new(),
            unlinking: Vec::new(),
            ready: false,
            visible: true,
            filter: Some(ConversationStatus::Open),
            view: View::All,
            channel_filter: None,
            team_filter: None,
            admin: false,
            teams: Vec::new(),
            roster: Vec::new(),
            next_ref: 0,
        }
    }
}

impl Model {
    pub fn new(me: Option<AdvisorInfo>) -> Self {
        Model { me, ..Model::default() }
    }

    // ---- socket lifecycle ----

    /// The socket opened: greet.
    pub fn connected(&mut self) -> Vec<Out> {
        self.ready = false;
        vec![Out::Hello { v: PROTOCOL_VERSION }]
    }

    /// The socket closed. Unacknowledged replies stay "sending" and go again after the next
    /// `welcome`; the open thread is re-opened from the highest seq held.
    pub fn disconnected(&mut self) {
        self.ready = false;
        self.typing.clear();
        if let Some(open) = &mut self.open {
            open.pending_ref = None;
        }
        for u in self.unlinking.iter_mut().filter(|u| u.error.is_none()) {
            u.error = Some("The connection dropped before the server answered. Check the list, then try again.".into());
        }
    }

    // ---- frames from the relay ----

    pub fn apply(&mut self, frame: In) -> Vec<Out> {
        let mut out = Vec::new();
        match frame {
            In::Welcome {
                advisor,
                mut conversations,
                admin,
                teams,
                roster,
                ..
            } => {
                self.me = Some(advisor);
                self.admin = admin;
                self.teams = teams;
                self.roster = roster;
                sort_inbox(&mut conversations);
                self.conversations = conversations;
                self.ready = true;
                out.extend(self.request_open());
                for item in &self.outbox {
                    if item.delivery == Delivery::Sending {
                        out.push(send_frame(item));
                    }
                }
                self.mask_unread();
            }
            In::Conversation { conversation } => {
                // The relay's answer to an unlink is the row without that identity.
                self.unlinking.retain(|u| {
                    u.conversation != conversation.id
                        || u.error.is_some()
                        || conversation.identities.iter().any(|i| i.id == u.identity)
                });
                if let (Some(open), Some(last)) = (&mut self.open, &conversation.last_message) {
                    if open.id == conversation.id && open.messages.iter().any(|m| m.seq == last.seq) {
                        open.insert(last.clone());
                    }
                }
                self.upsert(conversation);
                self.mask_unread();
            }
            In::Delivery {
                conversation,
                seq,
                delivery,
            } => {
                if let Some(row) = self.conversations.iter_mut().find(|c| c.id == conversation) {
                    if let Some(last) = row.last_message.as_mut().filter(|m| m.seq == seq) {
                        advance(&mut last.delivery, delivery.clone());
                    }
                }
                if let Some(open) = self.open.as_mut().filter(|o| o.id == conversation) {
                    open.update(seq, Update::Delivery(delivery));
                }
            }
            In::Attachment {
                conversation,
                seq,
                attachment,
            } => {
                if let Some(open) = self.open.as_mut().filter(|o| o.id == conversation) {
                    open.update(seq, Update::Attachment(attachment));
                }
            }
            In::Channels { channels } => self.channels = channels,
            In::History {
                reference,
                conversation,
                messages,
                last_seq,
            } => {
                let Some(open) = &mut self.open else { return out };
                if open.id != conversation || open.pending_ref.as_deref() != Some(reference.as_str()) {
                    return out; // the answer to an `open` we have since moved away from
                }
                open.pending_ref = None;
                open.loaded = true;
                open.error = None;
                let full_page = messages.len() >= MAX_REPLAY;
                for message in messages {
                    self.outbox
                        .retain(|o| o.id != message.id || o.conversation != message.conversation);
                    open.insert(message);
                }
                if full_page && open.highest_seq() < last_seq {
                    out.extend(self.request_open()); // the relay replays at most MAX_REPLAY at once
                }
                out.extend(self.maybe_read());
            }
            In::Message { message } => {
                self.outbox
                    .retain(|o| o.id != message.id || o.conversation != message.conversation);
                self.note_in_row(&message, true);
                let from_visitor = message.is_from_visitor();
                let conversation = message.conversation;
                if let Some(open) = &mut self.open {
                    if open.id == message.conversation {
                        let gap = open.loaded && open.pending_ref.is_none() && message.seq > open.highest_seq() + 1;
                        if gap {
                            out.extend(self.request_open());
                        }
                        if let Some(open) = &mut self.open {
                            open.insert(message);
                        }
                        out.extend(self.maybe_read());
                    }
                }
                if from_visitor {
                    // A visitor who just sent has stopped typing, whatever the last typing frame said.
                    self.typing.retain(|(c, _)| *c != conversation);
                }
            }
            In::Ack {
                id,
                conversation,
                seq,
                sent_at,
            } => {
                let Some(at) = self
                    .outbox
                    .iter()
                    .position(|o| o.id == id && o.conversation == conversation)
                else {
                    return out; // a duplicate ack, or the message frame came first
                };
                let item = self.outbox.remove(at);
                let author = match &self.me {
                    Some(me) => Author::Advisor {
                        id: me.id,
                        name: me.name.clone(),
                    },
                    None => Author::Unknown,
                };
                // The ack says nothing of the channel: it is the one asked for, else the row's reply
                // channel; a platform reply waits in the relay's outbox until the platform answers.
                let channel = item.via.unwrap_or_else(|| {
                    self.conversation(conversation)
                        .map_or(Channel::Web, |c| c.reply_channel)
                });
                let channel = if item.note { Channel::Web } else { channel };
                let delivery = is_platform(channel).then_some(PlatformDelivery {
                    state: PlatformState::Queued,
                    error: None,
                });
                let message = Message {
                    delivery,
                    attachments: item.files,
                    id,
                    conversation,
                    seq,
                    author,
                    channel,
                    text: item.text,
                    sent_at,
                    note: item.note,
                };
                self.note_in_row(&message, false);
                if let Some(open) = &mut self.open {
                    if open.id == conversation {
                        open.insert(message);
                        out.extend(self.maybe_read());
                    }
                }
            }
            In::Roster { roster, teams } => {
                self.roster = roster;
                self.teams = teams;
            }
            In::Removed { conversation } => {
                self.conversations.retain(|c| c.id != conversation);
                if self.open.as_ref().is_some_and(|o| o.id == conversation) {
                    self.open = None;
                    self.notice = Some("That conversation moved to a team you are not in.".into());
                }
            }
            In::Typing { conversation, on } => {
                self.typing.retain(|(c, _)| *c != conversation);
                if on {
                    self.typing_stamp += 1;
                    self.typing.push((conversation, self.typing_stamp));
                }
            }
            In::Error(error) => {
                let reference = error.reference.as_deref();
                if let Some(item) = self.outbox.iter_mut().find(|o| Some(o.id.as_str()) == reference) {
                    item.delivery = Delivery::Failed(error.message);
                } else if let Some(u) = self
                    .unlinking
                    .iter_mut()
                    .find(|u| u.error.is_none() && Some(u.reference.as_str()) == reference)
                {
                    u.error = Some(error.message);
                } else if let Some(open) = self
                    .open
                    .as_mut()
                    .filter(|o| o.pending_ref.is_some() && o.pending_ref.as_deref() == reference)
                {
                    open.pending_ref = None;
                    open.loaded = true;
                    open.error = Some(error.message);
                } else {
                    self.notice = Some(error.message);
                }
            }
            _ => {}
        }
        out
    }

    // ---- what the advisor does ----

    /// Show a conversation and load its thread.
    pub fn select(&mut self, id: ConversationId) -> Vec<Out> {
        if self.open.as_ref().is_some_and(|o| o.id == id) {
            return Vec::new();
        }
        self.open = Some(OpenThread::new(id));
        self.request_open().into_iter().collect()
    }

    /// Queue a reply to the open conversation with the client id `id`, on channel `via` (None:
    /// where the customer last wrote); returns the frames to send.
    pub fn compose(&mut self, id: ClientMsgId, text: &str, via: Option<Channel>, now: i64) -> Result<Vec<Out>, SendError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SendError::Empty);
        }
        if text_chars(text) > MAX_TEXT_CHARS {
            return Err(SendError::TooLong);
        }
        self.queue(id, text.to_owned(), via, None, false, now)
    }

    /// Queue a reply made of files uploaded to the relay (`POST …/uploads`), with the words
    /// written beside them, if any (the relay names the file otherwise).
    pub fn compose_files(
        &mut self,
        id: ClientMsgId,
        text: &str,
        files: Vec<Attachment>,
        via: Option<Channel>,
        now: i64,
    ) -> Result<Vec<Out>, SendError> {
        let text = text.trim();
        if text_chars(text) > MAX_TEXT_CHARS {
            return Err(SendError::TooLong);
        }
        if files.is_empty() {
            return Err(SendError::Empty);
        }
        self.queue(id, text.to_owned(), via, None, false, now)?;
        let item = self.outbox.last_mut().expect("just queued");
        item.files = files;
        Ok(if self.ready { vec![send_frame(item)] } else { Vec::new() })
    }

    /// Queue a private note to the open conversation: like a reply, but only advisors see it.
    pub fn compose_note(&mut self, id: ClientMsgId, text: &str, now: i64) -> Result<Vec<Out>, SendError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SendError::Empty);
        }
        if text_chars(text) > MAX_TEXT_CHARS {
            return Err(SendError::TooLong);
        }
        self.queue(id, text.to_owned(), None, None, true, now)
    }

    /// Resolve, reopen or snooze a conversation; the relay answers with its row.
    pub fn set_status(&mut self, conversation: ConversationId, status: ConversationStatus, snoozed_until: Option<i64>) -> Vec<Out> {
        if !self.ready {
            self.notice = Some("Not connected; try again in a moment.".into());
            return Vec::new();
        }
        self.next_ref += 1;
        let reference = format!("status-{}", self.next_ref);
        vec![Out::SetStatus { reference, conversation, status, snoozed_until }]
    }

    /// Give the conversation to me (the `a` shortcut); the relay answers with its row.
    pub fn assign_to_me(&mut self, conversation: ConversationId) -> Vec<Out> {
        let Some(me) = self.me.as_ref().map(|m| m.id) else { return Vec::new() };
        self.assign(conversation, Some(me), None)
    }

    /// The conversation after (or before) the open one among the rows shown, for `j` and `k`:
    /// the first (or last) row when none is open, None past either end.
    pub fn step(&self, forward: bool) -> Option<ConversationId> {
        let ids: Vec<ConversationId> = self.shown().map(|c| c.id).collect();
        let at = self.open.as_ref().and_then(|o| ids.iter().position(|id| *id == o.id));
        match (at, forward) {
            (None, true) => ids.first().copied(),
            (None, false) => ids.last().copied(),
            (Some(i), true) => ids.get(i + 1).copied(),
            (Some(i), false) => i.checked_sub(1).and_then(|i| ids.get(i).copied()),
        }
    }

    /// The inbox rows the view and filters let through.
    pub fn shown(&self) -> impl Iterator<Item = &ConversationSummary> {
        let filter = self.filter;
        let me = self.me.as_ref().map(|a| a.id);
        let (view, channel, team) = (self.view, self.channel_filter, self.team_filter);
        self.conversations.iter().filter(move |c| {
            filter.is_none_or(|f| c.status == f)
                && view.admits(c, me)
                && channel.is_none_or(|ch| c.channel == ch || c.identities.iter().any(|i| i.channel == ch))
                && team.is_none_or(|t| c.team == Some(t))
        })
    }

    /// Give a conversation to an advisor, or to a team's queue (`advisor` None), or back to the
    /// queue (both None). The relay answers with the row.
    pub fn assign(&mut self, conversation: ConversationId, advisor: Option<AdvisorId>, team: Option<i64>) -> Vec<Out> {
        if !self.ready {
            self.notice = Some("Not connected; try again in a moment.".into());
            return Vec::new();
        }
        self.next_ref += 1;
        let reference = format!("assign-{}", self.next_ref);
        vec![Out::Assign { reference, conversation, advisor, team }]
    }

    /// Choose my status: online, away or offline.
    pub fn set_presence(&mut self, presence: Presence) -> Vec<Out> {
        if !self.ready {
            self.notice = Some("Not connected; try again in a moment.".into());
            return Vec::new();
        }
        vec![Out::SetPresence { presence }]
    }

    /// My own roster entry.
    pub fn my_roster(&self) -> Option<&RosterEntry> {
        let me = self.me.as_ref()?.id;
        self.roster.iter().find(|r| r.id == me)
    }

    /// Queue an approved WhatsApp template with its placeholders filled in by `params` (in order).
    pub fn compose_template(
        &mut self,
        id: ClientMsgId,
        template: &TemplateInfo,
        params: &[String],
        via: Option<Channel>,
        now: i64,
    ) -> Result<Vec<Out>, SendError> {
        let params: Vec<String> = params.iter().map(|p| p.trim().to_owned()).collect();
        if params.len() < template.param_count() || params.iter().any(String::is_empty) {
            return Err(SendError::MissingParam);
        }
        let send = TemplateSend {
            name: template.name.clone(),
            language: template.language.clone(),
            params,
        };
        self.queue(id, template.render(&send.params), via, Some(send), false, now)
    }

    fn queue(
        &mut self,
        id: ClientMsgId,
        text: String,
        via: Option<Channel>,
        template: Option<TemplateSend>,
        note: bool,
        now: i64,
    ) -> Result<Vec<Out>, SendError> {
        let conversation = self.open.as_ref().ok_or(SendError::NoConversation)?.id;
        let item = Outgoing {
            id,
            conversation,
            text,
            created_at: now,
            delivery: Delivery::Sending,
            via,
            template,
            note,
            files: Vec::new(),
        };
        let out = if self.ready {
            vec![send_frame(&item)]
        } else {
            Vec::new()
        };
        self.outbox.push(item);
        Ok(out)
    }

    /// Undo the channel link of `identity` (a customer's WhatsApp or Messenger identity joined to
    /// `conversation`). Nothing is sent while the socket is down.
    pub fn unlink(&mut self, conversation: ConversationId, identity: i64) -> Vec<Out> {
        if !self.ready {
            return Vec::new();
        }
        self.next_ref += 1;
        let reference = format!("unlink-{}", self.next_ref);
        self.unlinking
            .retain(|u| (u.conversation, u.identity) != (conversation, identity));
        self.unlinking.push(Unlinking {
            reference: reference.clone(),
            conversation,
            identity,
            error: None,
        });
        vec![Out::Unlink {
            reference,
            conversation,
            identity,
        }]
    }

    /// Where an unlink of `identity` stands: None (none asked), Some(None) waiting, Some(Some(e)) refused.
    pub fn unlink_state(&self, conversation: ConversationId, identity: i64) -> Option<Option<&str>> {
        self.unlinking
            .iter()
            .find(|u| (u.conversation, u.identity) == (conversation, identity))
            .map(|u| u.error.as_deref())
    }

    /// The channel alerts to show, in the order of the latest `channels` frame.
    pub fn alerts(&self) -> impl Iterator<Item = (Channel, &str)> {
        self.channels
            .iter()
            .filter_map(|c| c.alert.as_deref().map(|a| (c.channel, a)))
    }

    /// The approved WhatsApp templates (empty when none are configured).
    pub fn templates(&self) -> &[TemplateInfo] {
        self.channels
            .iter()
            .find(|c| c.channel == Channel::Whatsapp)
            .map_or(&[], |c| c.templates.as_slice())
    }

    /// Send a failed reply again, with the same id.
    pub fn retry(&mut self, id: &ClientMsgId) -> Vec<Out> {
        let Some(item) = self.outbox.iter_mut().find(|o| &o.id == id) else {
            return Vec::new();
        };
        item.delivery = Delivery::Sending;
        if self.ready {
            vec![send_frame(item)]
        } else {
            Vec::new()
        }
    }

    /// Drop a failed reply.
    pub fn discard(&mut self, id: &ClientMsgId) {
        self.outbox.retain(|o| &o.id != id);
    }

    pub fn set_visible(&mut self, visible: bool) -> Vec<Out> {
        self.visible = visible;
        self.maybe_read().into_iter().collect()
    }

    // ---- reading the model ----

    pub fn total_unread(&self) -> u32 {
        self.conversations.iter().map(|c| c.unread).sum()
    }

    pub fn conversation(&self, id: ConversationId) -> Option<&ConversationSummary> {
        self.conversations.iter().find(|c| c.id == id)
    }

    pub fn is_typing(&self, id: ConversationId) -> bool {
        self.typing_stamp_of(id).is_some()
    }

    /// The stamp of the "typing" frame that shows `id` as typing, if it is.
    pub fn typing_stamp_of(&self, id: ConversationId) -> Option<u64> {
        self.typing.iter().find(|(c, _)| *c == id).map(|(_, s)| *s)
    }

    /// A few seconds after a "typing" frame: the relay repeats "on" every 3 s while the visitor types,
    /// so if `stamp` is still the latest, they went quiet (or their "stopped" was lost).
    pub fn expire_typing(&mut self, id: ConversationId, stamp: u64) {
        self.typing.retain(|t| *t != (id, stamp));
    }

    /// Replies of the open conversation still in the outbox.
    pub fn pending_in(&self, id: ConversationId) -> impl Iterator<Item = &Outgoing> {
        self.outbox.iter().filter(move |o| o.conversation == id)
    }

    // ---- internals ----

    fn request_open(&mut self) -> Option<Out> {
        if !self.ready {
            return None;
        }
        let open = self.open.as_mut()?;
        self.next_ref += 1;
        let reference = format!("open-{}", self.next_ref);
        open.pending_ref = Some(reference.clone());
        Some(Out::Open {
            reference,
            conversation: open.id,
            after_seq: open.highest_seq(),
        })
    }

    /// Tell the relay the open thread has been seen, when the tab is visible.
    fn maybe_read(&mut self) -> Option<Out> {
        if !self.ready || !self.visible {
            return None;
        }
        let open = self.open.as_mut().filter(|o| o.loaded)?;
        let up_to = open.highest_seq();
        let conversation = open.id;
        let out = if up_to > open.read_up_to {
            open.read_up_to = up_to;
            Some(Out::Read { conversation, up_to })
        } else {
            None
        };
        self.mask_unread();
        out
    }

    /// The relay's unread count of the open, visible conversation may lag behind our `read`: show 0
    /// as soon as everything the row counts has been read.
    fn mask_unread(&mut self) {
        if !self.visible {
            return;
        }
        let Some(open) = &self.open else { return };
        if let Some(row) = self.conversations.iter_mut().find(|c| c.id == open.id) {
            if open.read_up_to >= row.last_seq {
                row.unread = 0;
            }
        }
    }

    fn upsert(&mut self, summary: ConversationSummary) {
        self.conversations.retain(|c| c.id != summary.id);
        self.conversations.push(summary);
        sort_inbox(&mut self.conversations);
    }

    /// Reflect a newer message in its inbox row until the relay's `conversation` frame replaces it.
    fn note_in_row(&mut self, message: &Message, count_unread: bool) {
        let Some(row) = self.conversations.iter_mut().find(|c| c.id == message.conversation) else {
            return;
        };
        if message.seq <= row.last_seq {
            return;
        }
        row.last_seq = message.seq;
        row.last_activity_at = row.last_activity_at.max(message.sent_at);
        row.last_message = Some(message.clone());
        if count_unread && message.is_from_visitor() {
            row.unread += 1;
        }
        sort_inbox(&mut self.conversations);
    }
}

/// Newest activity first; ties broken by id so the order is stable.
pub fn sort_inbox(rows: &mut [ConversationSummary]) {
    rows.sort_by(|a, b| b.last_activity_at.cmp(&a.last_activity_at).then(b.id.cmp(&a.id)));
}

/// WhatsApp or Messenger: a platform that reports on delivery and has a reply window.
pub fn is_platform(channel: Channel) -> bool {
    matches!(channel, Channel::Whatsapp | Channel::Messenger)
}

fn send_frame(item: &Outgoing) -> Out {
    if item.note {
        return Out::Note { id: item.id.clone(), conversation: item.conversation, text: item.text.clone() };
    }
    Out::Send {
        id: item.id.clone(),
        conversation: item.conversation,
        text: item.text.clone(),
        via: item.via,
        template: item.template.clone(),
        attachments: item.files.iter().map(|f| f.id.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{AdvisorId, ErrorCode, ErrorFrame};

    const C1: ConversationId = ConversationId(1);
    const C2: ConversationId = ConversationId(2);

    fn me() -> AdvisorInfo {
        AdvisorInfo {
            id: AdvisorId(7),
            name: "Dana".into(),
            email: "dana@shop.example".into(),
        }
    }

    #[test]
    fn j_and_k_step_through_the_rows_shown() {
        let mut m = Model::new(Some(me()));
        let mut resolved = row(ConversationId(3), 50, 1, 0);
        resolved.status = ConversationStatus::Resolved;
        m.conversations = vec![row(C1, 300, 1, 0), resolved, row(C2, 100, 1, 0)];
        assert_eq!(m.step(true), Some(C1), "nothing open: j opens the first");
        assert_eq!(m.step(false), Some(C2), "nothing open: k opens the last");
        m.open = Some(OpenThread::new(C1));
        assert_eq!(m.step(true), Some(C2), "the resolved row is filtered out, so skipped");
        assert_eq!(m.step(false), None);
        m.open = Some(OpenThread::new(C2));
        assert_eq!(m.step(true), None);
        assert_eq!(m.step(false), Some(C1));
    }

    #[test]
    fn assign_to_me_sends_assign_with_my_id() {
        let mut m = Model::new(Some(me()));
        assert!(m.assign_to_me(C1).is_empty(), "not connected");
        assert!(m.notice.is_some());
        m.ready = true;
        match m.assign_to_me(C1).as_slice() {
            [Out::Assign { conversation, advisor, team, .. }] => {
                assert_eq!((*conversation, *advisor, *team), (C1, Some(me().id), None));
            }
            other => panic!("expected one assign frame, got {other:?}"),
        }
    }

    fn row(id: ConversationId, at: i64, last_seq: Seq, unread: u32) -> ConversationSummary {
        ConversationSummary {
            window_closes_at: None,
            identities: Vec::new(),
            reply_channel: Default::default(),
            id,
            visitor_name: format!("Visitor {}", id.0),
            site_name: "Shop".into(),
            channel: Channel::Web,
            last_seq,
            last_message: None,
            last_activity_at: at,
            unread,
            page: None,
            visitor_online: false,
            visitor_delivered_seq: 0,
            visitor_read_seq: 0,
            status: shared::ConversationStatus::Open,
            snoozed_until: None,
            team: None,
            assignee: None,
            waiting_since: None,
            first_response_due: None,
            labels: Vec::new(),
            with_bot: false,
            unverified: false,
        }
    }

    fn visitor_msg(conversation: ConversationId, seq: Seq, text: &str) -> Message {
        Message {
            delivery: None,
            attachments: Vec::new(),
            id: ClientMsgId(format!("v-{}-{seq}", conversation.0)),
            conversation,
            seq,
            author: Author::Visitor,
            channel: Channel::Web,
            text: text.into(),
            sent_at: 1000 + seq as i64,
            note: false,
        }
    }

    fn welcomed(rows: Vec<ConversationSummary>) -> Model {
        let mut m = Model::default();
        assert_eq!(m.connected(), vec![Out::Hello { v: PROTOCOL_VERSION }]);
        m.apply(In::Welcome {
            v: PROTOCOL_VERSION,
            advisor: me(),
            conversations: rows,
            admin: false,
            teams: Vec::new(),
            roster: Vec::new(),
        });
        m
    }

    fn open_ref(frames: &[Out]) -> String {
        frames
            .iter()
            .find_map(|f| match f {
                Out::Open { reference, .. } => Some(reference.clone()),
                _ => None,
            })
            .expect("an open frame")
    }

    /// Select `id` and answer with a history of `messages`.
    fn opened(m: &mut Model, id: ConversationId, messages: Vec<Message>) -> Vec<Out> {
        let reference = open_ref(&m.select(id));
        let last_seq = messages.last().map_or(0, |x| x.seq);
        m.apply(In::History {
            reference,
            conversation: id,
            messages,
            last_seq,
        })
    }

    #[test]
    fn welcome_fills_the_inbox_newest_first() {
        let m = welcomed(vec![row(C1, 10, 1, 1), row(C2, 20, 3, 2)]);
        assert_eq!(m.me, Some(me()));
        assert!(m.ready);
        assert_eq!(m.conversations.iter().map(|c| c.id).collect::<Vec<_>>(), vec![C2, C1]);
        assert_eq!(m.total_unread(), 3);
    }

    #[test]
    fn conversation_frames_replace_rows_and_resort() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0), row(C2, 20, 1, 0)]);
        m.apply(In::Conversation {
            conversation: row(C1, 30, 2, 1),
        });
        assert_eq!(m.conversations.iter().map(|c| c.id).collect::<Vec<_>>(), vec![C1, C2]);
        assert_eq!(m.conversations[0].unread, 1);
        m.apply(In::Conversation {
            conversation: row(ConversationId(3), 40, 1, 1),
        });
        assert_eq!(m.conversations.len(), 3);
        assert_eq!(m.conversations[0].id, ConversationId(3));
    }

    #[test]
    fn opening_loads_history_and_marks_it_read() {
        let mut m = welcomed(vec![row(C1, 10, 2, 2)]);
        let frames = m.select(C1);
        assert!(matches!(
            &frames[..],
            [Out::Open {
                conversation: C1,
                after_seq: 0,
                ..
            }]
        ));
        let reference = open_ref(&frames);
        let out = m.apply(In::History {
            reference,
            conversation: C1,
            messages: vec![visitor_msg(C1, 1, "hi"), visitor_msg(C1, 2, "anyone?")],
            last_seq: 2,
        });
        assert_eq!(
            out,
            vec![Out::Read {
                conversation: C1,
                up_to: 2
            }]
        );
        let open = m.open.as_ref().unwrap();
        assert!(open.loaded);
        assert_eq!(open.messages.len(), 2);
        assert_eq!(m.conversations[0].unread, 0, "unread clears at once");
    }

    #[test]
    fn history_for_a_thread_we_left_is_ignored() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0), row(C2, 20, 1, 0)]);
        let r1 = open_ref(&m.select(C1));
        m.select(C2);
        m.apply(In::History {
            reference: r1,
            conversation: C1,
            messages: vec![visitor_msg(C1, 1, "x")],
            last_seq: 1,
        });
        let open = m.open.as_ref().unwrap();
        assert_eq!(open.id, C2);
        assert!(open.messages.is_empty() && !open.loaded);
    }

    #[test]
    fn live_messages_append_once_and_are_read_when_visible() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "hi")]);
        let out = m.apply(In::Message {
            message: visitor_msg(C1, 2, "hello?"),
        });
        assert_eq!(
            out,
            vec![Out::Read {
                conversation: C1,
                up_to: 2
            }]
        );
        assert_eq!(
            m.apply(In::Message {
                message: visitor_msg(C1, 2, "hello?")
            }),
            vec![]
        );
        assert_eq!(m.open.as_ref().unwrap().messages.len(), 2);
        assert_eq!(m.conversations[0].last_seq, 2);
        assert_eq!(m.conversations[0].unread, 0);
    }

    #[test]
    fn a_private_note_is_sent_as_a_note_and_shown_as_one_after_its_ack() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "hi")]);
        let out = m.compose_note(ClientMsgId("n-1".into()), "  VIP  ", 50).unwrap();
        assert_eq!(out, vec![Out::Note { id: "n-1".into(), conversation: C1, text: "VIP".into() }]);
        assert_eq!(m.compose_note(ClientMsgId("n-2".into()), " ", 50), Err(SendError::Empty));
        m.apply(In::Ack { id: "n-1".into(), conversation: C1, seq: 2, sent_at: 60 });
        let held = &m.open.as_ref().unwrap().messages[1];
        assert!(held.note && held.seq == 2 && held.text == "VIP");
        assert_eq!(m.conversations[0].unread, 0);
    }

    #[test]
    fn the_inbox_filter_shows_one_status_or_all() {
        let mut resolved = row(C2, 5, 1, 0);
        resolved.status = ConversationStatus::Resolved;
        let mut m = welcomed(vec![row(C1, 10, 1, 0), resolved.clone()]);
        assert_eq!(m.shown().map(|c| c.id).collect::<Vec<_>>(), vec![C1], "open by default");
        m.filter = Some(ConversationStatus::Resolved);
        assert_eq!(m.shown().map(|c| c.id).collect::<Vec<_>>(), vec![C2]);
        m.filter = None;
        assert_eq!(m.shown().count(), 2);
        // The relay reopens it (the customer wrote): the row moves back under "Open".
        m.filter = Some(ConversationStatus::Open);
        resolved.status = ConversationStatus::Open;
        m.apply(In::Conversation { conversation: resolved });
        assert_eq!(m.shown().count(), 2);
        let out = m.set_status(C1, ConversationStatus::Snoozed, Some(99));
        assert!(matches!(
            out.as_slice(),
            [Out::SetStatus { conversation: C1, status: ConversationStatus::Snoozed, snoozed_until: Some(99), .. }]
        ));
    }

    #[test]
    fn a_hidden_tab_does_not_read_until_it_is_visible_again() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "hi")]);
        m.set_visible(false);
        assert_eq!(
            m.apply(In::Message {
                message: visitor_msg(C1, 2, "there?")
            }),
            vec![]
        );
        assert_eq!(m.conversations[0].unread, 1);
        assert_eq!(
            m.set_visible(true),
            vec![Out::Read {
                conversation: C1,
                up_to: 2
            }]
        );
        assert_eq!(m.conversations[0].unread, 0);
    }

    #[test]
    fn a_rating_note_sent_again_with_new_text_replaces_the_one_shown() {
        let mut m = welcomed(vec![row(C1, 10, 2, 0)]);
        let note = |text: &str| Message {
            id: ClientMsgId("csat-5".into()),
            author: Author::System,
            note: true,
            ..visitor_msg(C1, 2, text)
        };
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "thanks"), note("Customer rating: ★★★☆☆ 3/5")]);
        m.apply(In::Message { message: note("Customer rating: ★★★★★ 5/5") });
        let shown: Vec<&str> = m.open.as_ref().unwrap().messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(shown, ["thanks", "Customer rating: ★★★★★ 5/5"]);
    }

    #[test]
    fn messages_of_other_conversations_update_their_row_only() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0), row(C2, 5, 1, 0)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "hi")]);
        let out = m.apply(In::Message {
            message: visitor_msg(C2, 2, "me too"),
        });
        assert_eq!(out, vec![]);
        assert_eq!(m.conversations[0].id, C2, "moved to the top");
        assert_eq!(m.conversations[0].unread, 1);
        assert_eq!(m.conversations[0].last_message.as_ref().unwrap().text, "me too");
        assert_eq!(m.open.as_ref().unwrap().messages.len(), 1);
    }

    #[test]
    fn a_gap_in_live_messages_reloads_from_the_highest_seq() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "a")]);
        let out = m.apply(In::Message {
            message: visitor_msg(C1, 4, "d"),
        });
        assert!(
            out.iter().any(|f| matches!(f, Out::Open { after_seq: 1, .. })),
            "{out:?}"
        );
    }

    #[test]
    fn an_uploaded_file_goes_as_a_reply_by_its_id_and_stays_with_the_committed_message() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "the invoice please")]);
        let pdf = Attachment {
            id: "up-1".into(),
            kind: shared::AttachmentKind::Document,
            mime: "application/pdf".into(),
            name: Some("Invoice.pdf".into()),
            size: 2048,
            state: AttachmentState::Ready,
            error: None,
            url: Some("/files/up-1?exp=1&sig=x".into()),
        };
        assert_eq!(m.compose_files("f-0".into(), "", vec![], None, 5), Err(SendError::Empty));
        let out = m.compose_files("f-1".into(), "", vec![pdf.clone()], None, 5).unwrap();
        assert_eq!(
            out,
            vec![Out::Send {
                id: "f-1".into(),
                conversation: C1,
                text: String::new(),
                via: None,
                template: None,
                attachments: vec!["up-1".into()],
            }]
        );
        assert_eq!(m.pending_in(C1).next().unwrap().files, vec![pdf.clone()]);
        m.apply(In::Ack { id: "f-1".into(), conversation: C1, seq: 2, sent_at: 6 });
        let last = m.open.as_ref().unwrap().messages.last().unwrap().clone();
        assert_eq!((last.seq, last.attachments), (2, vec![pdf]));
    }

    #[test]
    fn a_reply_is_sending_until_acked_then_committed() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "hi")]);
        let id = ClientMsgId::from("c-1");
        let out = m.compose(id.clone(), "  Hello! ", None, 2000).unwrap();
        assert_eq!(
            out,
            vec![Out::Send {
                id: id.clone(),
                conversation: C1,
                text: "Hello!".into(),
                via: None,
                template: None,
                attachments: vec![],
            }]
        );
        assert_eq!(m.pending_in(C1).count(), 1);
        m.apply(In::Ack {
            id: id.clone(),
            conversation: C1,
            seq: 2,
            sent_at: 2001,
        });
        assert_eq!(m.outbox, vec![]);
        let last = m.open.as_ref().unwrap().messages.last().unwrap().clone();
        assert_eq!(
            (last.seq, last.text.as_str(), last.id.clone()),
            (2, "Hello!", id.clone())
        );
        assert_eq!(
            last.author,
            Author::Advisor {
                id: AdvisorId(7),
                name: "Dana".into()
            }
        );
        assert_eq!(m.conversations[0].last_message.as_ref().unwrap().seq, 2);
        // The relay's broadcast of the same message changes nothing.
        m.apply(In::Message { message: last.clone() });
        assert_eq!(m.open.as_ref().unwrap().messages.len(), 2);
    }

    #[test]
    fn empty_and_too_long_replies_are_refused_locally() {
        let mut m = welcomed(vec![row(C1, 10, 0, 0)]);
        assert_eq!(m.compose("a".into(), "x", None, 0), Err(SendError::NoConversation));
        opened(&mut m, C1, vec![]);
        assert_eq!(m.compose("a".into(), " \n ", None, 0), Err(SendError::Empty));
        assert_eq!(
            m.compose("a".into(), &"x".repeat(MAX_TEXT_CHARS + 1), None, 0),
            Err(SendError::TooLong)
        );
        assert!(m.compose("a".into(), &"é".repeat(MAX_TEXT_CHARS), None, 0).is_ok());
    }

    #[test]
    fn an_error_for_a_reply_marks_it_failed_and_retry_resends_the_same_id() {
        let mut m = welcomed(vec![row(C1, 10, 0, 0)]);
        opened(&mut m, C1, vec![]);
        let id = ClientMsgId::from("c-9");
        m.compose(id.clone(), "hi", None, 0).unwrap();
        m.apply(In::Error(
            ErrorFrame::new(ErrorCode::RateLimited, "Slow down.").with_ref(Some("c-9".into())),
        ));
        assert_eq!(m.outbox[0].delivery, Delivery::Failed("Slow down.".into()));
        assert_eq!(m.notice, None);
        let out = m.retry(&id);
        assert_eq!(
            out,
            vec![Out::Send {
                id,
                conversation: C1,
                text: "hi".into(),
                via: None,
                template: None,
                attachments: vec![],
            }]
        );
        assert_eq!(m.outbox[0].delivery, Delivery::Sending);
    }

    #[test]
    fn replies_unsent_when_the_socket_drops_go_again_after_welcome_with_the_same_id() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "hi")]);
        m.compose("c-1".into(), "first", None, 0).unwrap();
        m.disconnected();
        assert_eq!(
            m.compose("c-2".into(), "second", None, 1).unwrap(),
            vec![],
            "queued while offline"
        );
        assert_eq!(m.connected(), vec![Out::Hello { v: PROTOCOL_VERSION }]);
        let out = m.apply(In::Welcome {
            v: 1,
            advisor: me(),
            conversations: vec![row(C1, 10, 1, 0)],
            admin: false,
            teams: Vec::new(),
            roster: Vec::new(),
        });
        assert!(
            matches!(
                &out[0],
                Out::Open {
                    conversation: C1,
                    after_seq: 1,
                    ..
                }
            ),
            "{out:?}"
        );
        let sends: Vec<_> = out
            .iter()
            .filter_map(|f| match f {
                Out::Send { id, .. } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(sends, vec!["c-1", "c-2"]);
    }

    #[test]
    fn history_after_reconnect_settles_replies_the_relay_already_had() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "hi")]);
        m.compose("c-1".into(), "sent before the drop", None, 0).unwrap();
        m.disconnected();
        m.connected();
        let out = m.apply(In::Welcome {
            v: 1,
            advisor: me(),
            conversations: vec![row(C1, 10, 2, 0)],
            admin: false,
            teams: Vec::new(),
            roster: Vec::new(),
        });
        let reference = open_ref(&out);
        let mut mine = visitor_msg(C1, 2, "sent before the drop");
        mine.id = "c-1".into();
        mine.author = Author::Advisor {
            id: AdvisorId(7),
            name: "Dana".into(),
        };
        m.apply(In::History {
            reference,
            conversation: C1,
            messages: vec![mine],
            last_seq: 2,
        });
        assert_eq!(m.outbox, vec![]);
        assert_eq!(m.open.as_ref().unwrap().messages.len(), 2);
    }

    #[test]
    fn a_full_replay_page_asks_for_the_rest() {
        let mut m = welcomed(vec![row(C1, 10, 600, 0)]);
        let reference = open_ref(&m.select(C1));
        let page: Vec<_> = (1..=MAX_REPLAY as u64).map(|s| visitor_msg(C1, s, "x")).collect();
        let out = m.apply(In::History {
            reference,
            conversation: C1,
            messages: page,
            last_seq: 600,
        });
        assert!(out
            .iter()
            .any(|f| matches!(f, Out::Open { after_seq, .. } if *after_seq == MAX_REPLAY as u64)));
    }

    #[test]
    fn an_error_for_the_open_request_is_shown_in_the_thread_and_others_in_a_notice() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0)]);
        let reference = open_ref(&m.select(C1));
        m.apply(In::Error(
            ErrorFrame::new(ErrorCode::NotFound, "No such conversation.").with_ref(Some(reference)),
        ));
        assert_eq!(m.open.as_ref().unwrap().error.as_deref(), Some("No such conversation."));
        m.apply(In::Error(ErrorFrame::new(ErrorCode::Internal, "Try again.")));
        assert_eq!(m.notice.as_deref(), Some("Try again."));
    }

    #[test]
    fn typing_frames_toggle_the_indicator() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0)]);
        m.apply(In::Typing {
            conversation: C1,
            on: true,
        });
        assert!(m.is_typing(C1));
        m.apply(In::Typing {
            conversation: C1,
            on: false,
        });
        assert!(!m.is_typing(C1));
    }

    #[test]
    fn typing_expires_unless_refreshed() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0)]);
        m.apply(In::Typing { conversation: C1, on: true });
        let first = m.typing_stamp_of(C1).unwrap();
        m.apply(In::Typing { conversation: C1, on: true });
        m.expire_typing(C1, first);
        assert!(m.is_typing(C1), "refreshed since");
        let second = m.typing_stamp_of(C1).unwrap();
        m.expire_typing(C1, second);
        assert!(!m.is_typing(C1));
    }

    #[test]
    fn nothing_is_sent_before_welcome() {
        let mut m = Model::default();
        m.connected();
        assert_eq!(m.select(C1), vec![]);
        assert_eq!(m.compose("c".into(), "hi", None, 0).unwrap(), vec![]);
        let out = m.apply(In::Welcome {
            v: 1,
            advisor: me(),
            conversations: vec![row(C1, 1, 0, 0)],
            admin: false,
            teams: Vec::new(),
            roster: Vec::new(),
        });
        assert_eq!(out.len(), 2, "open + the queued send: {out:?}");
    }

    // ---- WhatsApp and Messenger ----

    fn wa_row(id: ConversationId) -> ConversationSummary {
        ConversationSummary {
            channel: Channel::Whatsapp,
            reply_channel: Channel::Whatsapp,
            window_closes_at: Some(10_000_000),
            identities: vec![shared::ChannelIdentity {
                id: 5,
                channel: Channel::Whatsapp,
                label: "Ana Souza · +55 11 98765 4321".into(),
                linked: false,
                window_closes_at: Some(10_000_000),
            }],
            ..row(id, 10, 1, 0)
        }
    }

    fn delivery(state: PlatformState) -> PlatformDelivery {
        PlatformDelivery { state, error: None }
    }

    fn thread_msg(m: &Model, seq: Seq) -> &Message {
        m.open.as_ref().unwrap().messages.iter().find(|x| x.seq == seq).unwrap()
    }

    /// A reply composed and acked as seq 2 in C1.
    fn replied(m: &mut Model, via: Option<Channel>) {
        m.compose("c-1".into(), "Olá!", via, 0).unwrap();
        m.apply(In::Ack { id: "c-1".into(), conversation: C1, seq: 2, sent_at: 5 });
    }

    #[test]
    fn a_reply_to_a_whatsapp_customer_waits_queued_then_moves_forward_only() {
        let mut m = welcomed(vec![wa_row(C1)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "oi")]);
        replied(&mut m, None);
        let mine = thread_msg(&m, 2);
        assert_eq!((mine.channel, mine.delivery.clone()), (Channel::Whatsapp, Some(delivery(PlatformState::Queued))));
        let frame = |state| In::Delivery { conversation: C1, seq: 2, delivery: delivery(state) };
        m.apply(frame(PlatformState::Sent));
        m.apply(frame(PlatformState::Read));
        m.apply(frame(PlatformState::Delivered)); // late: ignored
        assert_eq!(thread_msg(&m, 2).delivery, Some(delivery(PlatformState::Read)));
        assert_eq!(
            m.conversations[0].last_message.as_ref().unwrap().delivery,
            Some(delivery(PlatformState::Read)),
            "the row's newest message follows too"
        );
    }

    #[test]
    fn a_platform_failure_is_final_and_keeps_its_reason() {
        let mut m = welcomed(vec![wa_row(C1)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "oi")]);
        replied(&mut m, None);
        let failed = PlatformDelivery {
            state: PlatformState::Failed,
            error: Some("WhatsApp refused it: the customer's number is not on WhatsApp.".into()),
        };
        m.apply(In::Delivery { conversation: C1, seq: 2, delivery: failed.clone() });
        m.apply(In::Delivery { conversation: C1, seq: 2, delivery: delivery(PlatformState::Delivered) });
        assert_eq!(thread_msg(&m, 2).delivery, Some(failed));
    }

    #[test]
    fn a_reply_sent_to_the_web_thread_only_has_no_platform_state() {
        let mut m = welcomed(vec![wa_row(C1)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "oi")]);
        m.compose("c-1".into(), "see the chat", Some(Channel::Web), 0).unwrap();
        assert!(matches!(
            &m.retry(&"c-1".into())[..],
            [Out::Send { via: Some(Channel::Web), template: None, .. }]
        ), "the choice goes with every send of it");
        m.apply(In::Ack { id: "c-1".into(), conversation: C1, seq: 2, sent_at: 5 });
        let mine = thread_msg(&m, 2);
        assert_eq!((mine.channel, mine.delivery.clone()), (Channel::Web, None));
    }

    #[test]
    fn updates_that_come_before_the_history_are_applied_to_it() {
        let mut m = welcomed(vec![wa_row(C1)]);
        let reference = open_ref(&m.select(C1));
        m.apply(In::Delivery { conversation: C1, seq: 2, delivery: delivery(PlatformState::Delivered) });
        let mut mine = visitor_msg(C1, 2, "Olá!");
        mine.author = Author::Advisor { id: AdvisorId(7), name: "Dana".into() };
        mine.channel = Channel::Whatsapp;
        mine.delivery = Some(delivery(PlatformState::Sent));
        m.apply(In::History { reference, conversation: C1, messages: vec![visitor_msg(C1, 1, "oi"), mine], last_seq: 2 });
        assert_eq!(thread_msg(&m, 2).delivery, Some(delivery(PlatformState::Delivered)));
        // Other conversations' updates are not kept.
        m.apply(In::Delivery { conversation: C2, seq: 1, delivery: delivery(PlatformState::Read) });
        assert!(m.open.as_ref().unwrap().early.is_empty());
    }

    fn photo(state: AttachmentState) -> Attachment {
        Attachment {
            id: "att-1".into(),
            kind: shared::AttachmentKind::Image,
            mime: if state == AttachmentState::Ready { "image/jpeg".into() } else { String::new() },
            name: None,
            size: if state == AttachmentState::Ready { 48_000 } else { 0 },
            state,
            error: None,
            url: None,
        }
    }

    #[test]
    fn an_attachment_frame_replaces_that_attachment_and_never_goes_back_to_pending() {
        let mut m = welcomed(vec![wa_row(C1)]);
        let mut pic = visitor_msg(C1, 1, "");
        pic.attachments = vec![photo(AttachmentState::Pending)];
        opened(&mut m, C1, vec![pic]);
        let frame = |a| In::Attachment { conversation: C1, seq: 1, attachment: a };
        m.apply(frame(photo(AttachmentState::Ready)));
        assert_eq!(thread_msg(&m, 1).attachments, vec![photo(AttachmentState::Ready)]);
        m.apply(frame(photo(AttachmentState::Pending)));
        assert_eq!(thread_msg(&m, 1).attachments, vec![photo(AttachmentState::Ready)]);
    }

    #[test]
    fn the_relays_copy_of_a_held_message_corrects_its_channel_and_state() {
        let mut m = welcomed(vec![row(C1, 10, 1, 0)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "hi")]);
        replied(&mut m, None);
        assert_eq!(thread_msg(&m, 2).channel, Channel::Web, "a web row: guessed web");
        let mut relays = thread_msg(&m, 2).clone();
        relays.channel = Channel::Messenger;
        relays.delivery = Some(delivery(PlatformState::Sent));
        m.apply(In::Conversation {
            conversation: ConversationSummary { last_seq: 2, last_message: Some(relays.clone()), ..row(C1, 20, 2, 0) },
        });
        assert_eq!(thread_msg(&m, 2), &relays);
        assert_eq!(m.open.as_ref().unwrap().messages.len(), 2);
    }

    fn template() -> TemplateInfo {
        TemplateInfo {
            name: "order_update".into(),
            language: "en_US".into(),
            text: "Hi {{1}}, your order {{2}} has shipped.".into(),
        }
    }

    #[test]
    fn a_template_is_sent_with_its_params_and_shown_filled_in() {
        let mut m = welcomed(vec![wa_row(C1)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "oi")]);
        let params = vec![" Ana ".to_owned(), "#1042".to_owned()];
        let out = m.compose_template("t-1".into(), &template(), &params, None, 0).unwrap();
        assert_eq!(
            out,
            vec![Out::Send {
                id: "t-1".into(),
                conversation: C1,
                text: "Hi Ana, your order #1042 has shipped.".into(),
                via: None,
                template: Some(TemplateSend {
                    name: "order_update".into(),
                    language: "en_US".into(),
                    params: vec!["Ana".into(), "#1042".into()],
                }),
                attachments: vec![],
            }]
        );
        assert_eq!(m.pending_in(C1).next().unwrap().text, "Hi Ana, your order #1042 has shipped.");
        assert_eq!(
            m.compose_template("t-2".into(), &template(), &["Ana".into(), " ".into()], None, 0),
            Err(SendError::MissingParam)
        );
        assert_eq!(
            m.compose_template("t-3".into(), &template(), &["Ana".into()], None, 0),
            Err(SendError::MissingParam)
        );
    }

    #[test]
    fn a_closed_window_refusal_shows_on_the_reply() {
        let mut m = welcomed(vec![wa_row(C1)]);
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "oi")]);
        m.compose("c-1".into(), "late", None, 0).unwrap();
        let reason = "The customer last wrote more than 24 hours ago: WhatsApp only accepts a template now.";
        m.apply(In::Error(ErrorFrame::new(ErrorCode::ChannelWindowClosed, reason).with_ref(Some("c-1".into()))));
        assert_eq!(m.outbox[0].delivery, Delivery::Failed(reason.into()));
        assert_eq!(m.notice, None);
    }

    #[test]
    fn channels_frames_raise_and_clear_alerts_and_carry_the_templates() {
        let mut m = welcomed(vec![]);
        assert_eq!(m.templates(), &[]);
        m.apply(In::Channels {
            channels: vec![
                ChannelStatus {
                    channel: Channel::Whatsapp,
                    alert: Some("WhatsApp: the access token has expired.".into()),
                    templates: vec![template()],
                },
                ChannelStatus { channel: Channel::Messenger, alert: None, templates: vec![] },
            ],
        });
        assert_eq!(m.alerts().collect::<Vec<_>>(), vec![(Channel::Whatsapp, "WhatsApp: the access token has expired.")]);
        assert_eq!(m.templates(), &[template()]);
        m.apply(In::Channels {
            channels: vec![ChannelStatus { channel: Channel::Whatsapp, alert: None, templates: vec![template()] }],
        });
        assert_eq!(m.alerts().count(), 0);
    }

    #[test]
    fn unlink_is_answered_by_the_row_without_the_identity() {
        let mut linked = wa_row(C1);
        linked.channel = Channel::Web;
        linked.identities[0].linked = true;
        let mut m = welcomed(vec![linked.clone()]);
        let out = m.unlink(C1, 5);
        let reference = match &out[..] {
            [Out::Unlink { reference, conversation: C1, identity: 5 }] => reference.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(m.unlink_state(C1, 5), Some(None), "waiting");
        m.apply(In::Conversation { conversation: linked.clone() }); // some other change first
        assert_eq!(m.unlink_state(C1, 5), Some(None));
        m.apply(In::Conversation { conversation: ConversationSummary { identities: vec![], ..linked.clone() } });
        assert_eq!(m.unlink_state(C1, 5), None);
        assert!(m.conversations[0].identities.is_empty());

        // Refused: the reason shows by the identity, not in the notice.
        m.apply(In::Conversation { conversation: linked });
        let out = m.unlink(C1, 5);
        let Out::Unlink { reference: second, .. } = &out[0] else { panic!() };
        assert_ne!(second, &reference);
        m.apply(In::Error(ErrorFrame::new(ErrorCode::Forbidden, "Only an administrator can unlink.").with_ref(Some(second.clone()))));
        assert_eq!(m.unlink_state(C1, 5), Some(Some("Only an administrator can unlink.")));
        assert_eq!(m.notice, None);
    }

    #[test]
    fn no_unlink_is_sent_while_offline() {
        let mut m = welcomed(vec![wa_row(C1)]);
        m.disconnected();
        assert_eq!(m.unlink(C1, 5), vec![]);
        assert_eq!(m.unlink_state(C1, 5), None);
    }

    #[test]
    fn views_filters_roster_and_removal() {
        let mut mine = row(C1, 20, 1, 0);
        mine.assignee = Some(AdvisorId(7));
        mine.team = Some(3);
        let mut waiting = row(C2, 10, 1, 1);
        waiting.channel = Channel::Whatsapp;
        let mut m = welcomed(vec![mine, waiting]);
        let ids = |m: &Model| m.shown().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(&m), [C1, C2]);
        m.view = View::Mine;
        assert_eq!(ids(&m), [C1]);
        m.view = View::Unassigned;
        assert_eq!(ids(&m), [C2]);
        m.view = View::All;
        m.channel_filter = Some(Channel::Whatsapp);
        assert_eq!(ids(&m), [C2]);
        m.channel_filter = None;
        m.team_filter = Some(3);
        assert_eq!(ids(&m), [C1]);
        m.team_filter = None;

        let entry = RosterEntry {
            id: AdvisorId(7),
            name: "Dana".into(),
            presence: Presence::Away,
            chosen: Presence::Online,
            open: 1,
            capacity: 4,
            teams: vec![3],
        };
        m.apply(In::Roster { roster: vec![entry.clone()], teams: vec![] });
        assert_eq!(m.my_roster(), Some(&entry));

        // Handing over and choosing a status are frames; the relay answers with rows and rosters.
        assert!(matches!(&m.assign(C2, Some(AdvisorId(7)), None)[..],
            [Out::Assign { conversation: C2, advisor: Some(AdvisorId(7)), team: None, .. }]));
        assert_eq!(m.set_presence(Presence::Offline), vec![Out::SetPresence { presence: Presence::Offline }]);

        // A conversation transferred out of sight leaves the inbox, and the thread if it was open.
        opened(&mut m, C1, vec![visitor_msg(C1, 1, "hi")]);
        m.apply(In::Removed { conversation: C1 });
        assert_eq!(ids(&m), [C2]);
        assert!(m.open.is_none());
        assert!(m.notice.as_deref().is_some_and(|n| n.contains("team you are not in")));
    }
}
