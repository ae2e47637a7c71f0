-- One customer across channels: the one-time codes of "Continue on WhatsApp / Messenger" links,
-- how an identity joined its customer (so an advisor can undo it), and template replies.

-- A code a visitor carries to a messaging app (in wa.me's prefilled text, or m.me's ref). The first
-- message that brings it back joins that app's identity to the visitor's conversation; then it is used.
CREATE TABLE link_codes (
    code            TEXT    PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    channel         TEXT    NOT NULL,             -- whatsapp | messenger
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    identity_id     INTEGER                       -- the identity it linked
);
CREATE INDEX link_codes_by_conversation ON link_codes(conversation_id, channel);

-- Set when a link code joined this identity to its conversation; the conversation it had before
-- (if it had one), where an unlink puts it back.
ALTER TABLE channel_identities ADD COLUMN linked_at INTEGER;
ALTER TABLE channel_identities ADD COLUMN previous_conversation_id INTEGER;

-- An approved WhatsApp template to send instead of the message's text (JSON: name, language, params).
ALTER TABLE outbox ADD COLUMN template TEXT;
