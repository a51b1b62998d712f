-- Customers beyond the chat: the shop's catalog with its embeddings, proactive-message rules
-- and their sends, and the log of data-rights actions (export, erase).

-- `item_id` is the shop's own id, the one its pages track in events.
CREATE TABLE catalog_items (
    id          INTEGER PRIMARY KEY,
    item_id     TEXT    NOT NULL UNIQUE,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    category    TEXT    NOT NULL DEFAULT '',
    -- JSON array of strings.
    tags        TEXT    NOT NULL DEFAULT '[]',
    -- Hundredths of the shop's currency.
    price_cents INTEGER,
    url         TEXT    NOT NULL DEFAULT '',
    image_url   TEXT    NOT NULL DEFAULT '',
    language    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- One vector per item and model; `text_sha256` tells when the item's text changed.
CREATE TABLE catalog_embeddings (
    item_id        INTEGER NOT NULL REFERENCES catalog_items (id) ON DELETE CASCADE,
    model_checksum TEXT    NOT NULL,
    text_sha256    TEXT    NOT NULL,
    vector         BLOB    NOT NULL,
    PRIMARY KEY (item_id, model_checksum)
) STRICT, WITHOUT ROWID;

CREATE INDEX customer_events_by_name ON customer_events (name, customer_id);

-- Tags derived from a customer's history (interests, new/returning, value band), each with
-- its reason; rewritten whenever the history changes, so lists can filter by them.
CREATE TABLE customer_tags (
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag         TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    PRIMARY KEY (customer_id, tag)
) STRICT, WITHOUT ROWID;

CREATE INDEX customer_tags_by_tag ON customer_tags (tag, customer_id);

CREATE TABLE proactive_rules (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL,
    -- JSON: the trigger ({"kind":"event","name":…} or {"kind":"page",…}), conditions, cap.
    trigger              TEXT    NOT NULL,
    conditions           TEXT    NOT NULL,
    message              TEXT    NOT NULL,
    with_recommendations INTEGER NOT NULL DEFAULT 0,
    max_sends            INTEGER NOT NULL CHECK (max_sends > 0),
    per_days             INTEGER NOT NULL CHECK (per_days > 0),
    paused               INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) STRICT;

-- Every proactive message sent: the frequency cap counts these.
CREATE TABLE proactive_sends (
    id              INTEGER PRIMARY KEY,
    rule_id         INTEGER NOT NULL REFERENCES proactive_rules (id) ON DELETE CASCADE,
    customer_id     INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    conversation_id INTEGER REFERENCES conversations (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX proactive_sends_by_customer ON proactive_sends (customer_id, rule_id, created_at);

-- Who exported or erased whose data, and when. Kept when the customer row goes: it is the
-- record that the erasure happened.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    actor_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    action        TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    details       TEXT    NOT NULL DEFAULT '{}',
    created_at    INTEGER NOT NULL
) STRICT;

-- Set when an admin erased the customer: contact details gone, messages anonymised.
ALTER TABLE customers ADD COLUMN erased_at INTEGER;
