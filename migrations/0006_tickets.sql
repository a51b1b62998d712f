-- Tickets: follow-up work that outlives a chat, their comments and attachments, the SLA
-- policy and business calendar, recorded breaches, API tokens and outgoing webhooks.

CREATE TABLE tickets (
    id                 INTEGER PRIMARY KEY,
    subject            TEXT    NOT NULL,
    description        TEXT    NOT NULL DEFAULT '',
    requester_id       INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    status             TEXT    NOT NULL
        CHECK (status IN ('new', 'open', 'pending', 'solved', 'closed')),
    priority           TEXT    NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    -- 0 low … 3 urgent, for sorting by priority.
    priority_rank      INTEGER NOT NULL,
    assignee_id        INTEGER REFERENCES users (id) ON DELETE SET NULL,
    team_id            INTEGER REFERENCES teams (id) ON DELETE SET NULL,
    -- The inbox the customer wrote in: its agents see the ticket when it has no team.
    inbox_id           INTEGER REFERENCES inboxes (id) ON DELETE SET NULL,
    -- Space-separated, with a space at each end, so one tag matches `LIKE '% tag %'`.
    tags               TEXT    NOT NULL DEFAULT ' ',
    source             TEXT    NOT NULL CHECK (source IN ('conversation', 'widget', 'api', 'agent')),
    first_response_due INTEGER,
    resolution_due     INTEGER,
    first_responded_at INTEGER,
    solved_at          INTEGER,
    -- The nearest deadline still to meet (first reply, then solve); NULL when none. Sorting
    -- and "overdue" filters use it.
    next_due_at        INTEGER,
    -- 1 once any deadline was missed; kept after the ticket is solved, for the analytics.
    breached           INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;

CREATE INDEX tickets_by_updated ON tickets (updated_at DESC, id DESC);
-- Counting a list reads only this: status, the columns an agent's scope looks at, and the
-- usual filters.
CREATE INDEX tickets_scope ON tickets (status, team_id, assignee_id, inbox_id, priority,
    breached, next_due_at);
CREATE INDEX tickets_by_assignee ON tickets (assignee_id, status);
CREATE INDEX tickets_by_team ON tickets (team_id, status);
CREATE INDEX tickets_by_requester ON tickets (requester_id, id);
CREATE INDEX tickets_by_next_due ON tickets (next_due_at) WHERE next_due_at IS NOT NULL;
-- The list agents open most: unsolved tickets, last changed first.
CREATE INDEX tickets_unsolved_by_updated ON tickets (updated_at DESC, id DESC)
    WHERE status IN ('new', 'open', 'pending');

-- Conversations a ticket came from or continues.
CREATE TABLE ticket_conversations (
    ticket_id       INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    linked_at       INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, conversation_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX ticket_conversations_by_conversation ON ticket_conversations (conversation_id);

CREATE TABLE ticket_comments (
    id             INTEGER PRIMARY KEY,
    ticket_id      INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author         TEXT    NOT NULL CHECK (author IN ('agent', 'customer', 'system')),
    author_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    body           TEXT    NOT NULL,
    -- 0: an internal note, never shown to the customer.
    public         INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX ticket_comments_by_ticket ON ticket_comments (ticket_id, id);

-- Files on ticket comments or widget messages. The bytes live under the data dir as
-- `attachments/<storage_name>`; the name is random, never the uploader's.
CREATE TABLE attachments (
    id               INTEGER PRIMARY KEY,
    ticket_id        INTEGER REFERENCES tickets (id) ON DELETE CASCADE,
    comment_id       INTEGER REFERENCES ticket_comments (id) ON DELETE CASCADE,
    conversation_id  INTEGER REFERENCES conversations (id) ON DELETE CASCADE,
    message_id       INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    -- As uploaded, for the download's file name only.
    file_name        TEXT    NOT NULL,
    -- Sniffed from the bytes, never taken from the upload.
    content_type     TEXT    NOT NULL,
    size_bytes       INTEGER NOT NULL,
    sha256           TEXT    NOT NULL,
    storage_name     TEXT    NOT NULL UNIQUE,
    -- A re-encoded small PNG for images, beside the original.
    thumbnail_name   TEXT,
    created_at       INTEGER NOT NULL,
    CHECK ((ticket_id IS NOT NULL) OR (conversation_id IS NOT NULL))
) STRICT;

CREATE INDEX attachments_by_comment ON attachments (comment_id);
CREATE INDEX attachments_by_message ON attachments (message_id);

-- What the ticket index must apply, in order (like knowledge_changes).
CREATE TABLE ticket_changes (
    sequence   INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id  INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
) STRICT;

-- One row per priority: the SLA targets in business minutes (NULL: no target).
CREATE TABLE sla_targets (
    priority               TEXT    PRIMARY KEY CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    first_response_minutes INTEGER,
    resolution_minutes     INTEGER
) STRICT, WITHOUT ROWID;

INSERT INTO sla_targets (priority, first_response_minutes, resolution_minutes) VALUES
    ('low', 960, 4800),
    ('normal', 480, 2400),
    ('high', 240, 960),
    ('urgent', 60, 480);

-- The SLA clock's calendar: one row.
CREATE TABLE sla_calendar (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    -- "mon-fri 09:00-18:00" lines, as for inboxes; empty: always running.
    business_hours     TEXT    NOT NULL DEFAULT '',
    utc_offset_minutes INTEGER NOT NULL DEFAULT 0,
    -- "YYYY-MM-DD name" lines.
    holidays           TEXT    NOT NULL DEFAULT ''
) STRICT;

INSERT INTO sla_calendar (id) VALUES (1);

-- Each missed deadline, recorded once, for the analytics.
CREATE TABLE sla_breaches (
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    target      TEXT    NOT NULL CHECK (target IN ('first_response', 'resolution')),
    priority    TEXT    NOT NULL,
    due_at      INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, target)
) STRICT, WITHOUT ROWID;

-- REST API tokens: only the SHA-256 of the secret is kept.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    token_sha256 BLOB    NOT NULL UNIQUE,
    -- The first characters of the token, to tell tokens apart in the admin page.
    prefix       TEXT    NOT NULL,
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'write')),
    created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;

CREATE TABLE webhooks (
    id            INTEGER PRIMARY KEY,
    url           TEXT    NOT NULL,
    secret        TEXT    NOT NULL,
    -- Space-separated event names ("ticket.created message.created").
    events        TEXT    NOT NULL,
    -- 1: the admin allowed private, loopback and link-local addresses for this URL.
    allow_private INTEGER NOT NULL DEFAULT 0,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
) STRICT;

-- Every event to send, with its retries: delivered, given up, or due at `next_attempt_at`.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id DESC);
