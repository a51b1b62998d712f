-- The agents' desk: who works which inbox, teams and the rules that route handoffs to
-- them, each agent's capacity, and canned responses.

-- Agents of an inbox see and act on its conversations; admins act on every inbox.
CREATE TABLE inbox_members (
    inbox_id INTEGER NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (inbox_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX inbox_members_by_user ON inbox_members (user_id);

CREATE TABLE teams (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE team_members (
    team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
) STRICT, WITHOUT ROWID;

-- Checked in `position` order; the first rule whose every set condition matches names the
-- team. A NULL condition matches anything.
CREATE TABLE routing_rules (
    id         INTEGER PRIMARY KEY,
    position   INTEGER NOT NULL,
    team_id    INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    inbox_id   INTEGER REFERENCES inboxes (id) ON DELETE CASCADE,
    language   TEXT,
    category   TEXT COLLATE NOCASE,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE canned_responses (
    id         INTEGER PRIMARY KEY,
    -- What an agent types after "/" to find it, e.g. "refund".
    shortcut   TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Most conversations an agent is given at once by routing.
ALTER TABLE users ADD COLUMN capacity INTEGER NOT NULL DEFAULT 5;

-- When routing last gave the agent a conversation: ties go to the longest idle.
ALTER TABLE agent_presence ADD COLUMN last_assigned_at INTEGER;

ALTER TABLE conversations ADD COLUMN team_id INTEGER REFERENCES teams (id) ON DELETE SET NULL;
-- The knowledge-base category of what the customer last asked (routing by topic).
ALTER TABLE conversations ADD COLUMN topic TEXT;

CREATE INDEX conversations_by_assignee ON conversations (assignee_id, status);
