//! Connectors to the messaging platforms customers write from (other than the web widget).
//!
//! Each platform is a pure module: it checks a webhook's handshake and signature, parses inbound
//! payloads into normalised events (messages, delivery statuses, echoes of the business's own
//! sends), builds outbound request bodies and URLs, and classifies the platform's answers. It does
//! no I/O and touches no database: the HTTP handlers, the store and the outbox call it, so every
//! platform quirk can be tested against recorded payloads without a network.

pub mod bridge;
pub mod link;
pub mod meta;

/// A platform's name as customers know it ("WhatsApp"), for messages to advisors.
pub fn platform_name(channel: shared::Channel) -> &'static str {
    match channel {
        shared::Channel::Whatsapp => "WhatsApp",
        shared::Channel::Messenger => "Messenger",
        _ => "The platform",
    }
}

/// What went wrong with a request to a platform, in a few words for an advisor.
pub fn network_error(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "network error"
    }
}
