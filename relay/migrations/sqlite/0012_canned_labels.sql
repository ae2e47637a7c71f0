-- Canned responses and labels (issue 5, "Conversation").

-- A reply advisors insert by its shortcut (`/shortcut` in the composer). owner_id NULL: shared with
-- every advisor; otherwise only its owner sees it.
CREATE TABLE canned_responses (
    id         INTEGER PRIMARY KEY,
    shortcut   TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    owner_id   INTEGER REFERENCES advisors(id) ON DELETE CASCADE,
    created_by INTEGER REFERENCES advisors(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX canned_by_owner ON canned_responses(owner_id);

-- Labels are named once (the same name in any case is the same label) and put on conversations.
CREATE TABLE labels (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    color      TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE conversation_labels (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    label_id        INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
    added_by        INTEGER REFERENCES advisors(id) ON DELETE SET NULL,
    added_at        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, label_id)
);
CREATE INDEX conversation_labels_by_label ON conversation_labels(label_id);
