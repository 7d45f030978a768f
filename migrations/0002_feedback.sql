-- 0002_feedback: learning from feedback (issue 21). Applied once, inside a transaction, and
-- recorded in schema_migrations. Never edit this file once landed: add 0003_*.sql instead
-- (both dialects: migrations/pg/0002_feedback.sql is this file in PostgreSQL's).

-- A labelled instance a user sent back for a model (POST /models/<name>/feedback,
-- /spam-score/learn). hash is the instance's content hash: one row per instance and model,
-- whose label a later feedback replaces. Kept by model name: rows outlive the versions.
CREATE TABLE feedback (
    id         INTEGER PRIMARY KEY,
    model      TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    instance   TEXT    NOT NULL, -- JSON object keyed by input name
    label      TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    UNIQUE (model, hash)
);

-- Rows kept with a trained version, as a CSV with its header: 'replay' is a seeded reservoir
-- of its training rows (what a retraining replays so that old knowledge is not forgotten),
-- 'holdout' its validation rows (part of the champion/challenger holdout). Gone with the
-- version.
CREATE TABLE version_samples (
    model_id INTEGER NOT NULL,
    version  INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('replay', 'holdout')),
    data     BLOB    NOT NULL,
    PRIMARY KEY (model_id, version, kind),
    FOREIGN KEY (model_id, version) REFERENCES model_versions(model_id, version)
        ON DELETE CASCADE
);

-- 0: a version that lost the champion/challenger gate: stored, served only when pinned.
ALTER TABLE model_versions ADD COLUMN promoted INTEGER NOT NULL DEFAULT 1;
