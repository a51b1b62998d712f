-- Website chat: inboxes (one per site that embeds the widget), the customers who write in,
-- their conversations and messages, and which agents are available to take a handoff.

CREATE TABLE inboxes (
    id                        INTEGER PRIMARY KEY,
    name                      TEXT    NOT NULL,
    -- In the snippet the shop pastes; identifies the inbox, grants nothing by itself.
    public_token              TEXT    NOT NULL UNIQUE,
    -- HMAC-SHA256 key for `setUser` identity hashes; shown to admins only.
    identity_secret           TEXT    NOT NULL,
    require_identity          INTEGER NOT NULL DEFAULT 0,
    -- Origins allowed to frame the widget, one per line ("https://shop.example").
    allowed_origins           TEXT    NOT NULL,
    greeting                  TEXT    NOT NULL,
    color                     TEXT    NOT NULL,
    position                  TEXT    NOT NULL CHECK (position IN ('right', 'left')),
    -- 'auto' follows each customer's messages; 'zh' / 'en' fixes the widget's language.
    language                  TEXT    NOT NULL,
    offline_message           TEXT    NOT NULL,
    -- "mon-fri 09:00-18:00" style lines and a UTC offset in minutes; empty hours = always open.
    business_hours            TEXT    NOT NULL DEFAULT '',
    utc_offset_minutes        INTEGER NOT NULL DEFAULT 0,
    unanswered_before_handoff INTEGER NOT NULL DEFAULT 2,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
) STRICT;

-- One person writing in. `external_id` is set only by a verified `setUser`, so it can be
-- trusted to join a person's history across devices.
CREATE TABLE customers (
    id            INTEGER PRIMARY KEY,
    external_id   TEXT UNIQUE,
    name          TEXT,
    email         TEXT,
    phone         TEXT,
    -- JSON object of attributes set by the shop's page.
    attributes    TEXT    NOT NULL DEFAULT '{}',
    language      TEXT,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL
) STRICT;

-- A browser's visitor token (sha256 of the 256-bit secret; the secret itself never leaves
-- the visitor's browser and is never in a URL).
CREATE TABLE visitor_tokens (
    token_sha256 BLOB    PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    inbox_id     INTEGER NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX visitor_tokens_by_customer ON visitor_tokens (customer_id);

CREATE TABLE conversations (
    id               INTEGER PRIMARY KEY,
    inbox_id         INTEGER NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    customer_id      INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    -- bot → waiting (handed off, queued) → assigned → resolved; pending = left a message
    -- while nobody was available.
    status           TEXT    NOT NULL
        CHECK (status IN ('bot', 'waiting', 'assigned', 'pending', 'resolved')),
    assignee_id      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    language         TEXT    NOT NULL,
    -- Consecutive customer messages the bot could not answer.
    unanswered       INTEGER NOT NULL DEFAULT 0,
    handoff_reason   TEXT,
    handed_off_at    INTEGER,
    contact          TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX conversations_by_customer ON conversations (customer_id, id);
CREATE INDEX conversations_queue ON conversations (status, handed_off_at);

-- Every message; its id is also the Server-Sent Events id, so a client resumes after the
-- last id it saw.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author          TEXT    NOT NULL CHECK (author IN ('customer', 'bot', 'agent', 'system')),
    author_user_id  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    -- Plain text as written (sensitive numbers already masked); a bot answer's Markdown is
    -- rendered again from its FAQ entry, recorded in `details`.
    body            TEXT    NOT NULL,
    -- JSON: the bot's decision, FAQ entry and confidence, suggestions, sentiment score.
    details         TEXT    NOT NULL DEFAULT '{}',
    -- Agents' notes: never shown to the customer.
    private         INTEGER NOT NULL DEFAULT 0,
    -- helpful / not_helpful, from the customer's buttons on a bot answer.
    feedback        TEXT,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX messages_by_conversation ON messages (conversation_id, id);

-- Events the shop's page tracks (`kefu('track', …)`), for the customer's timeline.
CREATE TABLE customer_events (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    properties  TEXT    NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX customer_events_by_customer ON customer_events (customer_id, id);

-- Agents who said they are available; a handoff with nobody available becomes a left message.
CREATE TABLE agent_presence (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    status     TEXT    NOT NULL CHECK (status IN ('online', 'away', 'offline')),
    updated_at INTEGER NOT NULL
) STRICT;
