-- For the developer embedding the widget: appearance, identity verification (issue: "JS API,
-- identity verification, appearance, webview").

-- Appearance, sent to the widget in the welcome and cached by the loader.
ALTER TABLE sites ADD COLUMN position TEXT NOT NULL DEFAULT 'right';   -- right | left
ALTER TABLE sites ADD COLUMN launcher TEXT NOT NULL DEFAULT 'chat';    -- chat | help | message
ALTER TABLE sites ADD COLUMN avatar   TEXT NOT NULL DEFAULT '';        -- an https:// image URL, or ''
-- The key of HMAC-SHA256(secret, user_id) = user_hash (hex). Kept in clear: the relay must compute the
-- HMAC. NULL: identity verification never set up.
ALTER TABLE sites ADD COLUMN identity_secret TEXT;
-- 1: an identify without a valid user_hash is refused.
ALTER TABLE sites ADD COLUMN require_identity INTEGER NOT NULL DEFAULT 0;

-- The site's own user id, set only by a verified identify: one visitor per user and site.
ALTER TABLE visitors ADD COLUMN user_id TEXT;
CREATE UNIQUE INDEX visitors_by_user ON visitors(site_id, user_id) WHERE user_id IS NOT NULL;
-- An anonymous visitor merged into a user's visitor on identify: their token now opens that visitor's
-- thread (the token hash stays on this row; lookups follow merged_into).
ALTER TABLE visitors ADD COLUMN merged_into INTEGER REFERENCES visitors(id);
