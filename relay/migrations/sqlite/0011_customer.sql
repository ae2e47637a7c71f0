-- The customer panel (issue 5): what advisors know about a customer, and search by e-mail.
ALTER TABLE visitors ADD COLUMN email TEXT;
-- From the visitor's last connection: the browser's User-Agent and Accept-Language, and the IANA
-- time zone the widget reports.
ALTER TABLE visitors ADD COLUMN user_agent TEXT;
ALTER TABLE visitors ADD COLUMN language TEXT;
ALTER TABLE visitors ADD COLUMN timezone TEXT;
ALTER TABLE visitors ADD COLUMN last_seen_at INTEGER;
-- Where the visitor came from (document.referrer when the conversation's first page loaded).
ALTER TABLE conversations ADD COLUMN referrer TEXT;
CREATE INDEX visitors_by_email ON visitors(email COLLATE NOCASE) WHERE email IS NOT NULL;
