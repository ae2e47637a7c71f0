//! The customer-service window (CONTRACTS §6.1, §8): how long after a customer's last message the
//! business may still write freely.
//!
//! - WhatsApp: 24 hours; after that only approved templates.
//! - Messenger: 24 hours with `RESPONSE`; after that, up to 7 days, replies a person wrote may go
//!   out with the `HUMAN_AGENT` tag; after that nothing until the customer writes again.
//!
//! A window covers `[last_inbound, last_inbound + length)`: at exactly 24 hours it is closed.
//! Clocks and webhook latency differ, so Meta may still refuse a send this says is allowed
//! (131047, `(#10)`); the send path must handle that anyway.

use serde::{Deserialize, Serialize};
use shared::Channel;

use super::messenger::MessagingType;

pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
pub const HUMAN_AGENT_WINDOW_MS: i64 = 7 * 24 * 60 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WindowState {
    /// Any message may be sent until `closes_at_ms`.
    Open { closes_at_ms: i64 },
    /// Messenger only: a person's reply may be sent with the `HUMAN_AGENT` tag until `until_ms`;
    /// automated messages may not.
    HumanAgent { until_ms: i64 },
    /// WhatsApp: templates only. Messenger: wait for the customer.
    Closed,
}

/// The window of a conversation whose customer last wrote at `last_inbound_ms` (their message's
/// own timestamp, not when the webhook arrived), seen at `now_ms`. `None` (never wrote) is closed.
/// The web chat has no window (always open); a channel this relay doesn't know is closed.
pub fn window_state(channel: Channel, last_inbound_ms: Option<i64>, now_ms: i64) -> WindowState {
    let human_agent = match channel {
        Channel::Whatsapp => false,
        Channel::Messenger => true,
        Channel::Web => return WindowState::Open { closes_at_ms: i64::MAX },
        _ => return WindowState::Closed,
    };
    let Some(last) = last_inbound_ms else { return WindowState::Closed };
    let closes_at_ms = last.saturating_add(WINDOW_MS);
    if now_ms < closes_at_ms {
        return WindowState::Open { closes_at_ms };
    }
    let until_ms = last.saturating_add(HUMAN_AGENT_WINDOW_MS);
    if human_agent && now_ms < until_ms {
        WindowState::HumanAgent { until_ms }
    } else {
        WindowState::Closed
    }
}

impl WindowState {
    /// Whether a free-form (non-template) message may be sent. `written_by_a_person` matters only
    /// in the human-agent extension, which bots must never use.
    pub fn allows_free_form(&self, written_by_a_person: bool) -> bool {
        match self {
            WindowState::Open { .. } => true,
            WindowState::HumanAgent { .. } => written_by_a_person,
            WindowState::Closed => false,
        }
    }

    /// The `messaging_type` a Messenger send needs now, or `None` when it may not be sent.
    pub fn messenger_messaging_type(&self, written_by_a_person: bool) -> Option<MessagingType> {
        match self {
            WindowState::Open { .. } => Some(MessagingType::Response),
            WindowState::HumanAgent { .. } if written_by_a_person => Some(MessagingType::HUMAN_AGENT),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_767_263_405_000;

    #[test]
    fn a_whatsapp_window_is_open_until_one_millisecond_before_24_hours() {
        assert_eq!(window_state(Channel::Whatsapp, Some(T), T), WindowState::Open { closes_at_ms: T + WINDOW_MS });
        assert_eq!(
            window_state(Channel::Whatsapp, Some(T), T + WINDOW_MS - 1),
            WindowState::Open { closes_at_ms: T + WINDOW_MS }
        );
    }

    #[test]
    fn a_whatsapp_window_is_closed_at_exactly_24_hours_and_never_extends_to_a_human_agent() {
        assert_eq!(window_state(Channel::Whatsapp, Some(T), T + WINDOW_MS), WindowState::Closed);
        assert_eq!(window_state(Channel::Whatsapp, Some(T), T + 2 * WINDOW_MS), WindowState::Closed);
    }

    #[test]
    fn a_messenger_window_becomes_human_agent_at_24_hours_until_7_days() {
        assert_eq!(
            window_state(Channel::Messenger, Some(T), T + WINDOW_MS - 1),
            WindowState::Open { closes_at_ms: T + WINDOW_MS }
        );
        let human = WindowState::HumanAgent { until_ms: T + HUMAN_AGENT_WINDOW_MS };
        assert_eq!(window_state(Channel::Messenger, Some(T), T + WINDOW_MS), human);
        assert_eq!(window_state(Channel::Messenger, Some(T), T + HUMAN_AGENT_WINDOW_MS - 1), human);
        assert_eq!(window_state(Channel::Messenger, Some(T), T + HUMAN_AGENT_WINDOW_MS), WindowState::Closed);
    }

    #[test]
    fn a_customer_who_never_wrote_has_a_closed_window() {
        assert_eq!(window_state(Channel::Whatsapp, None, T), WindowState::Closed);
        assert_eq!(window_state(Channel::Messenger, None, T), WindowState::Closed);
    }

    #[test]
    fn a_last_message_stamped_in_the_future_keeps_the_window_open() {
        assert_eq!(
            window_state(Channel::Whatsapp, Some(T + 5_000), T),
            WindowState::Open { closes_at_ms: T + 5_000 + WINDOW_MS }
        );
    }

    #[test]
    fn the_web_channel_has_no_window() {
        assert!(window_state(Channel::Web, None, T).allows_free_form(false));
    }

    #[test]
    fn only_a_person_may_write_in_the_human_agent_extension() {
        let human = window_state(Channel::Messenger, Some(T), T + 2 * WINDOW_MS);
        assert!(human.allows_free_form(true));
        assert!(!human.allows_free_form(false));
        assert_eq!(human.messenger_messaging_type(true), Some(MessagingType::HUMAN_AGENT));
        assert_eq!(human.messenger_messaging_type(false), None);
    }

    #[test]
    fn an_open_window_answers_with_response_and_a_closed_one_with_nothing() {
        let open = window_state(Channel::Messenger, Some(T), T + 1);
        assert_eq!(open.messenger_messaging_type(false), Some(MessagingType::Response));
        let closed = window_state(Channel::Messenger, Some(T), T + HUMAN_AGENT_WINDOW_MS);
        assert_eq!(closed.messenger_messaging_type(true), None);
        assert!(!closed.allows_free_form(true));
    }

    #[test]
    fn a_window_state_round_trips_through_json() {
        for state in
            [WindowState::Open { closes_at_ms: 5 }, WindowState::HumanAgent { until_ms: 6 }, WindowState::Closed]
        {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(serde_json::from_str::<WindowState>(&json).unwrap(), state);
        }
        assert_eq!(serde_json::to_value(WindowState::Closed).unwrap(), serde_json::json!({ "state": "closed" }));
    }
}
