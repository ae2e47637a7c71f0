-- Issue 13: a conversation is in the inbox (and the analytics, the search, routing) once someone
-- started it: the customer wrote, or an advisor did. A `hello` that says nothing, or only gets the
-- bot's greeting, leaves no row an advisor sees; silent visitors are forgotten a day later
-- (docs/SECURITY.md, "Limits on everything anonymous").
ALTER TABLE conversations ADD COLUMN started INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET started = 1
 WHERE EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id AND m.author_kind IN ('visitor', 'advisor'))
    OR with_bot = 0 AND queued_at IS NOT NULL;
-- The sweep of silent visitors: web visitors who never started a conversation, by when last seen.
CREATE INDEX conversations_unstarted ON conversations(visitor_id) WHERE started = 0;
