-- 0002_feedback (PostgreSQL): the schema of migrations/0002_feedback.sql in PostgreSQL's
-- dialect (learning from feedback, issue 21). Applied once under an advisory lock, inside a
-- transaction, and recorded in schema_migrations. Never edit this file once landed.

CREATE TABLE feedback (
    id         BIGSERIAL PRIMARY KEY,
    model      TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    instance   TEXT    NOT NULL,
    label      TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    UNIQUE (model, hash)
);

CREATE TABLE version_samples (
    model_id BIGINT  NOT NULL,
    version  INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('replay', 'holdout')),
    data     BYTEA   NOT NULL,
    PRIMARY KEY (model_id, version, kind),
    FOREIGN KEY (model_id, version) REFERENCES model_versions(model_id, version)
        ON DELETE CASCADE
);

ALTER TABLE model_versions ADD COLUMN promoted INTEGER NOT NULL DEFAULT 1;
