-- Conversation lifecycle: open / snoozed / resolved, and private notes between advisors.
ALTER TABLE conversations ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
-- With status 'snoozed': when it opens again (ms). The relay's snooze task reads the index below.
ALTER TABLE conversations ADD COLUMN snoozed_until INTEGER;
ALTER TABLE conversations ADD COLUMN resolved_at INTEGER;
CREATE INDEX conversations_snoozed ON conversations(snoozed_until) WHERE status = 'snoozed';
-- 1: a private note, never sent to the customer nor replayed to their socket.
ALTER TABLE messages ADD COLUMN note INTEGER NOT NULL DEFAULT 0;
