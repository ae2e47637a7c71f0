-- Routing (issue 5): teams own sites, conversations wait in their team's queue and are assigned to
-- one advisor at a time. docs/ROUTING.md has the rules.

-- What the advisor chose (online / away / offline); the relay adds auto-away from their tabs.
ALTER TABLE advisors ADD COLUMN presence TEXT NOT NULL DEFAULT 'online' CHECK (presence IN ('online', 'away', 'offline'));
-- The most open conversations they take at once.
ALTER TABLE advisors ADD COLUMN capacity INTEGER NOT NULL DEFAULT 5 CHECK (capacity >= 0);

-- Answer the customer's first waiting message within this many ms (NULL: no target).
ALTER TABLE teams ADD COLUMN first_response_target_ms INTEGER;

-- The team that answers this site's customers (NULL: every advisor).
ALTER TABLE sites ADD COLUMN team_id INTEGER REFERENCES teams(id) ON DELETE SET NULL;

-- Copied from the site when the conversation starts; a transfer to a team changes it.
ALTER TABLE conversations ADD COLUMN team_id INTEGER REFERENCES teams(id) ON DELETE SET NULL;
ALTER TABLE conversations ADD COLUMN assignee_id INTEGER REFERENCES advisors(id) ON DELETE SET NULL;
ALTER TABLE conversations ADD COLUMN assigned_at INTEGER;
-- In the team's queue since (NULL: assigned, or not waiting for anyone). A conversation returned to
-- the queue keeps its original time.
ALTER TABLE conversations ADD COLUMN queued_at INTEGER;
-- The customer's oldest message no advisor has answered yet (NULL: nothing unanswered): the
-- first-response target counts from here.
ALTER TABLE conversations ADD COLUMN waiting_since INTEGER;
-- The advisor who last answered this customer (the sticky routing rule).
ALTER TABLE conversations ADD COLUMN last_helped_by INTEGER REFERENCES advisors(id) ON DELETE SET NULL;

CREATE INDEX conversations_queue ON conversations(queued_at) WHERE queued_at IS NOT NULL;
CREATE INDEX conversations_by_assignee ON conversations(assignee_id) WHERE assignee_id IS NOT NULL;

-- Every change of hands, for the expected wait (how often a place frees up in a team's queue) and
-- for analytics (per-advisor load).
CREATE TABLE assignments (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    -- NULL: returned to the queue.
    advisor_id      INTEGER REFERENCES advisors(id) ON DELETE SET NULL,
    team_id         INTEGER REFERENCES teams(id) ON DELETE SET NULL,
    -- auto (routing) | manual (an advisor assigned or transferred it) | requeue (its advisor left)
    kind            TEXT    NOT NULL,
    -- Who did it by hand (NULL for routing).
    by_advisor      INTEGER REFERENCES advisors(id) ON DELETE SET NULL,
    -- With kind = auto: it had been waiting in the queue (not taken at once).
    from_queue      INTEGER NOT NULL DEFAULT 0,
    at              INTEGER NOT NULL
);
CREATE INDEX assignments_by_time ON assignments(at);
CREATE INDEX assignments_by_conversation ON assignments(conversation_id);

-- Relay-wide settings an admin edits from the dashboard (routing delays, business hours…), each a
-- JSON value under its key.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
