-- Files that came with a message (a WhatsApp photo, a Messenger attachment). The row is written in
-- the same commit as its message, `pending`; a worker fetches the bytes from the platform into
-- `<data dir>/attachments/` and marks it `ready` (or `failed`, with a reason in plain words).
CREATE TABLE attachments (
    id              TEXT    PRIMARY KEY,          -- random and unguessable: it is in the download URL
    conversation_id INTEGER NOT NULL,
    seq             INTEGER NOT NULL,             -- the message it belongs to
    position        INTEGER NOT NULL DEFAULT 0,   -- order within the message
    kind            TEXT    NOT NULL,             -- image | video | audio | document | sticker
    mime            TEXT    NOT NULL DEFAULT '',  -- sniffed from the bytes ('' until ready)
    name            TEXT,                         -- the sender's file name, if any
    size            INTEGER NOT NULL DEFAULT 0,
    sha256          TEXT,                         -- hex, of the stored bytes
    state           TEXT    NOT NULL DEFAULT 'pending',  -- pending | ready | failed
    error           TEXT,                         -- why it failed, for advisors
    channel         TEXT    NOT NULL,             -- whatsapp | messenger
    account         TEXT    NOT NULL,             -- our phone_number_id or page id (whose token fetches it)
    source_kind     TEXT    NOT NULL,             -- whatsapp_id | url
    source          TEXT    NOT NULL,             -- the media id or the URL
    declared_mime   TEXT,                         -- what the platform said (a hint, never trusted)
    declared_sha256 TEXT,                         -- what the platform said (hex or base64)
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    leased_until    INTEGER,                      -- a fetch is under way until then
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX attachments_by_message ON attachments(conversation_id, seq);
CREATE INDEX attachments_due ON attachments(next_attempt_at) WHERE state = 'pending';
