-- Confab schema, SQLite flavour. Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE sites (
    id              INTEGER PRIMARY KEY,
    key             TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    greeting        TEXT    NOT NULL DEFAULT '',
    color           TEXT    NOT NULL DEFAULT '#4f46e5',
    -- JSON array of origins ("https://shop.example") allowed to embed the widget.
    allowed_origins TEXT    NOT NULL DEFAULT '[]',
    created_at      INTEGER NOT NULL
);

CREATE TABLE visitors (
    id         INTEGER PRIMARY KEY,
    site_id    INTEGER NOT NULL REFERENCES sites(id),
    -- SHA-256 of the visitor token; the token itself is only ever known to the visitor's browser.
    token_hash BLOB    NOT NULL UNIQUE,
    name       TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE conversations (
    id               INTEGER PRIMARY KEY,
    site_id          INTEGER NOT NULL REFERENCES sites(id),
    visitor_id       INTEGER NOT NULL REFERENCES visitors(id),
    channel          TEXT    NOT NULL DEFAULT 'web',
    last_seq         INTEGER NOT NULL DEFAULT 0,
    visitor_read_seq INTEGER NOT NULL DEFAULT 0,
    advisor_read_seq INTEGER NOT NULL DEFAULT 0,
    page             TEXT,
    created_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL
);
CREATE INDEX conversations_by_visitor ON conversations(visitor_id);
CREATE INDEX conversations_by_activity ON conversations(last_activity_at DESC);

CREATE TABLE advisors (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE messages (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    seq             INTEGER NOT NULL,
    client_id       TEXT    NOT NULL,
    author_kind     TEXT    NOT NULL,             -- visitor | advisor | bot | system
    advisor_id      INTEGER REFERENCES advisors(id),
    author_name     TEXT,
    channel         TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    sent_at         INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (conversation_id, client_id)
);

CREATE TABLE advisor_sessions (
    token_hash BLOB    PRIMARY KEY,
    advisor_id INTEGER NOT NULL REFERENCES advisors(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
