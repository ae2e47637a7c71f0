-- WhatsApp and Messenger: who a customer is on each platform, the raw webhooks as received, what
-- the platforms say about each relayed message, and the outbox of replies to send them.

-- A customer's identity on a platform (WhatsApp wa_id, Messenger PSID), tied to their conversation.
CREATE TABLE channel_identities (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    channel         TEXT    NOT NULL,             -- whatsapp | messenger
    account         TEXT    NOT NULL,             -- our phone_number_id or page id
    external_id     TEXT    NOT NULL,             -- wa_id or PSID
    name            TEXT,
    last_inbound_at INTEGER,                      -- the customer's last message: the platform's window
    created_at      INTEGER NOT NULL,
    UNIQUE (channel, account, external_id)
);
CREATE INDEX channel_identities_by_conversation ON channel_identities(conversation_id);

-- Every signed webhook, stored before the platform gets its 200 and processed after.
CREATE TABLE webhook_events (
    id           INTEGER PRIMARY KEY,
    channel      TEXT    NOT NULL,
    body         BLOB    NOT NULL,
    received_at  INTEGER NOT NULL,
    processed_at INTEGER,
    error        TEXT
);
CREATE INDEX webhook_events_pending ON webhook_events(id) WHERE processed_at IS NULL;

-- What the platform reported about a relayed message.
ALTER TABLE messages ADD COLUMN platform_id TEXT;
ALTER TABLE messages ADD COLUMN platform_state TEXT;
ALTER TABLE messages ADD COLUMN platform_error TEXT;
CREATE INDEX messages_by_platform_id ON messages(platform_id) WHERE platform_id IS NOT NULL;

-- Replies waiting to go out to a platform; written in the same commit as the message.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    channel         TEXT    NOT NULL,
    account         TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    tagged          INTEGER NOT NULL DEFAULT 0,   -- Messenger HUMAN_AGENT tag (outside 24 h)
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending',  -- pending | sent | failed
    last_error      TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state = 'pending';
