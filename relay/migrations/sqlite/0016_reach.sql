-- Reaching customers who left (e-mail when an advisor replies to a visitor who is away), and the
-- satisfaction survey after a conversation is resolved.

-- One row per conversation that has had a notification scheduled. `due_at` is set while one is
-- pending (the first reply of a burst sets it; later ones in the same burst leave it), cleared once
-- it went out; `notified_seq` is the newest message a notification covered, so a restart neither
-- loses a pending notification nor sends one twice for the same messages.
CREATE TABLE notifications (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    due_at          INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    notified_seq    INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
);
CREATE INDEX notifications_due ON notifications(due_at) WHERE due_at IS NOT NULL;

-- The code in an e-mail's link (SHA-256 of it): used once, it gives the browser that opens the
-- link a token of its own for the visitor (`visitor_tokens`).
CREATE TABLE resume_codes (
    code_hash       BLOB    PRIMARY KEY,
    visitor_id      INTEGER NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);

-- Further tokens of a visitor (beside visitors.token_hash): one per browser that opened a resume link.
CREATE TABLE visitor_tokens (
    token_hash BLOB    PRIMARY KEY,
    visitor_id INTEGER NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);

-- One survey per resolution (a conversation resolved again gets a new one); a later rating of the
-- same resolution replaces the earlier one.
CREATE TABLE surveys (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    resolved_at     INTEGER NOT NULL,
    resolved_by     INTEGER REFERENCES advisors(id) ON DELETE SET NULL,
    rating          INTEGER CHECK (rating BETWEEN 1 AND 5),
    comment         TEXT,
    rated_at        INTEGER,
    PRIMARY KEY (conversation_id, resolved_at)
);
CREATE INDEX surveys_rated ON surveys(rated_at) WHERE rating IS NOT NULL;

-- Web Push subscriptions of a visitor's browsers (PushSubscription: endpoint and keys, base64url).
CREATE TABLE push_subscriptions (
    endpoint   TEXT    PRIMARY KEY,
    visitor_id INTEGER NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    p256dh     TEXT    NOT NULL,
    auth       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX push_subscriptions_by_visitor ON push_subscriptions(visitor_id);
