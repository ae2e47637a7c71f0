//! What the bot does in a conversation: greet it, answer each customer message, hand it over.
//! Called by the visitor socket (`ws/visitor.rs`) and the outside bot's API (`api.rs`).
//!
//! The bot acts only while the conversation's `with_bot` is set; the hand-off clears it in the
//! store first (`bot_handoff` is conditional), so two hand-offs at once give one note.

use shared::{Author, Channel, ClientMsgId, ConversationId, Seq, VisitorServerFrame};

use super::hours;
use super::rules;
use super::text::{self, Lang};
use super::{Asking, BotConfig, Memory};
use crate::hub::Event;
use crate::settings::{self, BusinessHours};
use crate::state::AppState;
use crate::store::bot::BotConversation;
use crate::store::{NewMessage, Site, SiteId, StoreError};

/// A site's bot configuration, when it has one that is enabled.
pub async fn config(state: &AppState, site: SiteId) -> Option<BotConfig> {
    match state.store.bot(site).await {
        Ok(Some(row)) => match serde_json::from_str::<BotConfig>(&row.config) {
            Ok(config) if config.enabled => Some(config),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, site = site.0, "stored bot configuration doesn't parse; no bot");
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, site = site.0, "could not read the bot configuration; no bot");
            None
        }
    }
}

async fn closed_notice(state: &AppState, lang: Lang) -> Option<String> {
    let hours = settings::get::<BusinessHours>(state.store.as_ref()).await.unwrap_or_default();
    text::closed(lang, &hours::status(&hours, crate::now_ms()))
}

/// A new conversation on a site with a bot: the bot takes it and greets the visitor.
pub async fn start(state: &AppState, site: &Site, conversation: ConversationId, language: Option<&str>) -> Option<Seq> {
    let config = config(state, site.id).await?;
    let memory = Memory::default();
    if let Err(e) = state.store.start_bot(conversation, &to_json(&memory)).await {
        tracing::warn!(error = %e, %conversation, "the bot could not take a new conversation");
        return None;
    }
    let lang = Lang::of(language);
    let mut greeting = if config.greeting.is_empty() { text::greeting(lang).to_owned() } else { config.greeting.clone() };
    if let Some(closed) = closed_notice(state, lang).await {
        greeting.push_str("\n\n");
        greeting.push_str(&closed);
    }
    let replies = if config.webhook.is_some() { Vec::new() } else { config.suggestions.clone() };
    say(state, conversation, memory, &greeting, replies).await
}

/// The `bot` frame a visitor gets after the welcome's replay: whether the bot has their
/// conversation, and its newest quick replies. None for a conversation the bot never had.
pub async fn frame(state: &AppState, conversation: ConversationId) -> Option<VisitorServerFrame> {
    let conv = state.store.bot_conversation(conversation).await.ok()??;
    let memory = conv.memory.as_deref().map(memory_from)?;
    Some(VisitorServerFrame::Bot {
        active: conv.with_bot,
        seq: memory.seq,
        replies: if conv.with_bot { memory.replies } else { Vec::new() },
    })
}

/// A customer's message was committed: the bot answers it (or sends it to the outside bot).
pub async fn on_visitor_message(state: &AppState, site: &Site, conversation: ConversationId, seq: Seq, text: &str) {
    let Some((conv, mut memory)) = with_bot(state, conversation).await else { return };
    let lang = Lang::of(conv.language.as_deref());
    let Some(config) = config(state, site.id).await else {
        // Switched off since it took this conversation: routing gets it rather than nobody.
        return hand_off(state, conversation, &conv, memory, lang, "the bot was switched off").await;
    };
    if let Some(hook) = &config.webhook {
        super::webhook::post_message(state, hook, site, conversation, &conv, seq, text);
        return;
    }
    match memory.asking {
        Some(Asking::Name) => {
            let name = text.trim();
            if !plausible_name(name) {
                return tell(state, conversation, memory, text::bad_name(lang), Vec::new()).await;
            }
            let edit = crate::store::CustomerEdit { name: Some(Some(name.to_owned())), email: None, by_visitor: true };
            remember_customer(state, conversation, &edit).await;
            let conv = BotConversation { name: Some(name.to_owned()), ..conv };
            return hand_off_or_ask(state, conversation, conv, memory, lang, true, "asked for a person").await;
        }
        Some(Asking::Email) => {
            let email = text.trim();
            if !crate::customer::is_email(email) {
                return tell(state, conversation, memory, text::bad_email(lang), Vec::new()).await;
            }
            let edit = crate::store::CustomerEdit { name: None, email: Some(Some(email.to_owned())), by_visitor: true };
            remember_customer(state, conversation, &edit).await;
            let conv = BotConversation { email: Some(email.to_owned()), ..conv };
            return hand_off_or_ask(state, conversation, conv, memory, lang, true, "asked for a person").await;
        }
        None => {}
    }
    if memory.handoff_requested {
        return;
    }
    if rules::asks_for_a_person(text) {
        return hand_off_or_ask(state, conversation, conv, memory, lang, config.collect_contact, "asked for a person").await;
    }
    match rules::best_rule(&config.rules, text) {
        Some(i) => {
            let rule = &config.rules[i];
            memory.misses = 0;
            if !memory.unanswered {
                memory.question = Some(text.to_owned());
            }
            tell(state, conversation, memory, &rule.answer, rule.quick_replies.clone()).await;
        }
        None => {
            memory.misses += 1;
            if !memory.unanswered {
                memory.question = Some(text.to_owned());
                memory.unanswered = true;
            }
            if memory.misses >= 2 {
                hand_off_or_ask(state, conversation, conv, memory, lang, config.collect_contact, "it could not answer twice").await;
            } else {
                tell(state, conversation, memory, text::not_understood(lang), config.suggestions.clone()).await;
            }
        }
    }
}

/// "Talk to a person" (the widget's button, or the outside bot's `handoff`). Idempotent.
pub async fn request_handoff(state: &AppState, site: SiteId, conversation: ConversationId, why: &str) {
    let Some((conv, memory)) = with_bot(state, conversation).await else { return };
    if memory.handoff_requested {
        return;
    }
    let collect = config(state, site).await.is_some_and(|c| c.collect_contact && c.webhook.is_none());
    let lang = Lang::of(conv.language.as_deref());
    hand_off_or_ask(state, conversation, conv, memory, lang, collect, why).await;
}

/// The outside bot's message: said like the bot's own, with its quick replies.
pub async fn say_from_webhook(state: &AppState, conversation: ConversationId, text: &str, replies: Vec<String>) -> Option<Seq> {
    let (_, memory) = with_bot(state, conversation).await?;
    say(state, conversation, memory, text, replies).await
}

fn plausible_name(name: &str) -> bool {
    let chars = name.chars().count();
    (1..=shared::limits::MAX_NAME_CHARS).contains(&chars)
        && !name.chars().any(char::is_control)
        && name.chars().any(char::is_alphabetic)
        && !name.contains('@')
        && name.split_whitespace().count() <= 5
}

async fn remember_customer(state: &AppState, conversation: ConversationId, edit: &crate::store::CustomerEdit) {
    match state.store.edit_customer(conversation, edit).await {
        Ok(()) => crate::conversation::announce_conversation(state, conversation).await,
        Err(e) => tracing::warn!(error = %e, %conversation, "the bot could not store the customer's details"),
    }
}

async fn with_bot(state: &AppState, conversation: ConversationId) -> Option<(BotConversation, Memory)> {
    match state.store.bot_conversation(conversation).await {
        Ok(Some(conv)) if conv.with_bot => {
            let memory = conv.memory.as_deref().map(memory_from).unwrap_or_default();
            Some((conv, memory))
        }
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, %conversation, "could not read the bot's state");
            None
        }
    }
}

/// Ask what is missing (name, then e-mail) when `collect`, else hand over now.
async fn hand_off_or_ask(
    state: &AppState,
    conversation: ConversationId,
    conv: BotConversation,
    mut memory: Memory,
    lang: Lang,
    collect: bool,
    why: &str,
) {
    memory.handoff_requested = true;
    if collect && conv.name.as_deref().is_none_or(str::is_empty) {
        memory.asking = Some(Asking::Name);
        return tell(state, conversation, memory, text::ask_name(lang), Vec::new()).await;
    }
    if collect && conv.email.as_deref().is_none_or(str::is_empty) {
        memory.asking = Some(Asking::Email);
        return tell(state, conversation, memory, text::ask_email(lang), Vec::new()).await;
    }
    memory.asking = None;
    hand_off(state, conversation, &conv, memory, lang, why).await;
}

/// Give the conversation to routing's queue, leave the advisors a note with what the bot learned,
/// and tell the visitor. After this the bot stays quiet.
async fn hand_off(state: &AppState, conversation: ConversationId, conv: &BotConversation, mut memory: Memory, lang: Lang, why: &str) {
    let now = crate::now_ms();
    match state.store.bot_handoff(conversation, now).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(error = %e, %conversation, "the bot could not hand a conversation over");
            return;
        }
    }
    let note = text::handoff_note(conv.name.as_deref(), conv.email.as_deref(), memory.question.as_deref(), why);
    if let Err(e) = post(state, conversation, &note, true).await {
        tracing::warn!(error = %e, %conversation, "the bot's hand-off note was not stored");
    }
    let mut told = text::handed_over(lang).to_owned();
    if let Some(closed) = closed_notice(state, lang).await {
        told.push(' ');
        told.push_str(&closed);
    }
    memory.replies.clear();
    if let Ok(seq) = post(state, conversation, &told, false).await {
        memory.seq = seq;
    }
    save(state, conversation, &memory).await;
    state.hub.to_visitor(conversation, Event::Bot { active: false, seq: memory.seq, replies: Vec::new() });
    crate::routing::changed(state);
    crate::conversation::announce_conversation(state, conversation).await;
    tracing::info!(%conversation, why, "the bot handed a conversation over");
}

async fn tell(state: &AppState, conversation: ConversationId, memory: Memory, text: &str, replies: Vec<String>) {
    say(state, conversation, memory, text, replies).await;
}

/// Post a bot message with its quick replies, remember it, and tell the visitor's widget.
async fn say(state: &AppState, conversation: ConversationId, mut memory: Memory, text: &str, replies: Vec<String>) -> Option<Seq> {
    let seq = match post(state, conversation, text, false).await {
        Ok(seq) => seq,
        Err(e) => {
            tracing::warn!(error = %e, %conversation, "the bot's message was not stored");
            return None;
        }
    };
    memory.seq = seq;
    memory.replies = replies;
    save(state, conversation, &memory).await;
    state.hub.to_visitor(conversation, Event::Bot { active: true, seq, replies: memory.replies.clone() });
    Some(seq)
}

async fn post(state: &AppState, conversation: ConversationId, text: &str, note: bool) -> Result<Seq, StoreError> {
    let text: String = text.chars().take(shared::limits::MAX_TEXT_CHARS).collect();
    let new = NewMessage {
        conversation,
        id: ClientMsgId(format!("bot-{}", crate::secret::new_token().chars().take(24).collect::<String>())),
        author: Author::Bot,
        channel: Channel::Web,
        text,
        now: crate::now_ms(),
        delivered: !note && state.hub.visitor_online(conversation),
        platform: None,
        attachments: Vec::new(),
        note,
    };
    Ok(crate::conversation::commit(state, new, None).await?.message.seq)
}

async fn save(state: &AppState, conversation: ConversationId, memory: &Memory) {
    if let Err(e) = state.store.save_bot_memory(conversation, &to_json(memory)).await {
        tracing::warn!(error = %e, %conversation, "could not store the bot's memory");
    }
}

fn to_json(memory: &Memory) -> String {
    serde_json::to_string(memory).expect("memory serializes")
}

fn memory_from(json: &str) -> Memory {
    serde_json::from_str(json).unwrap_or_default()
}
