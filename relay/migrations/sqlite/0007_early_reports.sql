-- A status can arrive before the send call that gave the message its id has returned
-- (CONTRACTS §3). It waits here until the outbox records that id.
CREATE TABLE early_reports (
    platform_id TEXT    PRIMARY KEY,
    state       TEXT    NOT NULL,
    error       TEXT,
    received_at INTEGER NOT NULL
);
