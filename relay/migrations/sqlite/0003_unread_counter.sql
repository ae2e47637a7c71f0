-- The inbox's unread count is kept on the conversation instead of counted per inbox row: the
-- writer adds one per visitor message and recounts when the advisors' read cursor moves.
ALTER TABLE conversations ADD COLUMN advisor_unread INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET advisor_unread = (
    SELECT COUNT(*) FROM messages m
     WHERE m.conversation_id = conversations.id AND m.author_kind = 'visitor' AND m.seq > conversations.advisor_read_seq);
