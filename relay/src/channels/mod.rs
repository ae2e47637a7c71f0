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
