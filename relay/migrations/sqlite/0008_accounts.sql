-- Accounts and access: roles, deactivation, teams, and idle session expiry.

-- Accounts that existed before roles are the ones an operator created by hand: they become admins.
ALTER TABLE advisors ADD COLUMN role TEXT NOT NULL DEFAULT 'advisor' CHECK (role IN ('admin', 'advisor'));
UPDATE advisors SET role = 'admin';
ALTER TABLE advisors ADD COLUMN active INTEGER NOT NULL DEFAULT 1;

CREATE TABLE teams (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id    INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    advisor_id INTEGER NOT NULL REFERENCES advisors(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, advisor_id)
);
CREATE INDEX team_members_by_advisor ON team_members (advisor_id);

-- When the session was last used: a session idle for too long ends before its absolute expiry.
ALTER TABLE advisor_sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE advisor_sessions SET last_seen_at = created_at;
