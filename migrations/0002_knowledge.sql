-- The knowledge base: FAQ entries with their phrasings and tags, and a change log that the
-- search index (derived state) follows, so edits made by any process reach it.

CREATE TABLE faq_entries (
    id              INTEGER PRIMARY KEY,
    external_id     TEXT    UNIQUE,
    question        TEXT    NOT NULL,
    question_key    TEXT    NOT NULL,
    answer_markdown TEXT    NOT NULL,
    answer_html     TEXT    NOT NULL,
    category        TEXT    NOT NULL DEFAULT '',
    language        TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('draft', 'published')),
    revision        INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (language, question_key)
) STRICT;

CREATE INDEX faq_entries_by_category ON faq_entries (category);

CREATE TABLE faq_variants (
    entry_id INTEGER NOT NULL REFERENCES faq_entries (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text     TEXT    NOT NULL,
    PRIMARY KEY (entry_id, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE faq_tags (
    entry_id INTEGER NOT NULL REFERENCES faq_entries (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    tag      TEXT    NOT NULL,
    PRIMARY KEY (entry_id, position)
) STRICT, WITHOUT ROWID;

-- One row per created, changed or deleted entry, in commit order. No foreign key: the row
-- must outlive a deleted entry so the index learns about the deletion.
CREATE TABLE knowledge_changes (
    sequence   INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id   INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
) STRICT;
