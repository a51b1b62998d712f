-- The local AI's stored state.

-- Sentence embeddings of texts the bot compares messages with (FAQ questions and their
-- phrasings, intent phrases), keyed by the model's weights checksum and the text's sha256:
-- a changed text or another model misses and is embedded again; rows of a model no longer
-- in use are deleted when a model loads.
CREATE TABLE text_embeddings (
    model_checksum TEXT NOT NULL,
    text_sha256    TEXT NOT NULL,
    model_id       TEXT NOT NULL,
    -- little-endian f32 × the model's dimension
    vector         BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (model_checksum, text_sha256)
) STRICT, WITHOUT ROWID;

-- Phrases admins teach the built-in intents (the seed phrases ship in the binary).
CREATE TABLE intent_phrases (
    id         INTEGER PRIMARY KEY,
    intent     TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    text_key   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (intent, text_key)
) STRICT;
