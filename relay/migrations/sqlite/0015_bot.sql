-- Bot first, a person at any time: a per-site bot answers new conversations until it hands them to
-- routing's queue (docs/BOT.md).

-- The site's bot: `config` is relay::bot::BotConfig as JSON. `token_hash`: SHA-256 of the token an
-- outside (webhook) bot answers with through /api/v1/bot/… (NULL: none issued).
CREATE TABLE bots (
    site_id    INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    config     TEXT    NOT NULL,
    token_hash BLOB,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX bots_by_token ON bots(token_hash) WHERE token_hash IS NOT NULL;

-- 1 while the bot has the conversation: a customer's message does not queue it (see the group
-- commit), and the inbox shows it "with bot". Cleared by the hand-off or an advisor's reply.
ALTER TABLE conversations ADD COLUMN with_bot INTEGER NOT NULL DEFAULT 0;

-- What the bot remembers of a conversation (relay::bot::Memory as JSON: misses, what it is asking,
-- the customer's question, the quick replies of its newest message).
CREATE TABLE bot_memory (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    memory          TEXT    NOT NULL
);
