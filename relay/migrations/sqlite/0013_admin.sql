-- Admin screens and optional TOTP two-factor (issue 5, "Accounts and access").

-- The advisor's confirmed TOTP secret (raw bytes; NULL: no two-factor). It never leaves the relay
-- after the setup answer that shows it once.
ALTER TABLE advisors ADD COLUMN totp_secret BLOB;
-- A secret handed out by setup and not yet confirmed with a code: login ignores it.
ALTER TABLE advisors ADD COLUMN totp_pending BLOB;
-- The last time step a code was accepted for: a code can't be used twice.
ALTER TABLE advisors ADD COLUMN totp_last_step INTEGER;

-- A session that may only enrol in two-factor (given at login when an admin requires two-factor and
-- the advisor has none yet): it opens no dashboard, socket or API until enrolment upgrades it.
ALTER TABLE advisor_sessions ADD COLUMN enrol_only INTEGER NOT NULL DEFAULT 0;
