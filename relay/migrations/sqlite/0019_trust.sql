-- Issue 13 (safe on the open internet): what the customer said about themselves is marked as such,
-- and notification e-mails are capped per address and per site.

-- 1: the name / e-mail was typed by the visitor (the widget, the bot's questions, an identify without a
-- valid user_hash); the dashboard marks it unverified and "previous conversations" never joins on it.
-- 0: it came from the site's verified identify, an advisor, or a platform.
ALTER TABLE visitors ADD COLUMN name_by_visitor  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE visitors ADD COLUMN email_by_visitor INTEGER NOT NULL DEFAULT 0;
-- Until now only a verified identify set user_id: a web visitor's name or e-mail without one was the
-- visitor's own word.
UPDATE visitors SET name_by_visitor = 1
 WHERE name IS NOT NULL AND user_id IS NULL
   AND id NOT IN (SELECT c.visitor_id FROM channel_identities i JOIN conversations c ON c.id = i.conversation_id);
UPDATE visitors SET email_by_visitor = 1 WHERE email IS NOT NULL AND user_id IS NULL;

-- One row per notification e-mail sent: SHA-256 of the lower-cased address (not the address again),
-- for the per-address burst rule and the daily caps.
CREATE TABLE notification_mails (
    id           INTEGER PRIMARY KEY,
    site_id      INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    address_hash BLOB    NOT NULL,
    sent_at      INTEGER NOT NULL
);
CREATE INDEX notification_mails_by_address ON notification_mails(address_hash, sent_at);
CREATE INDEX notification_mails_by_site ON notification_mails(site_id, sent_at);
