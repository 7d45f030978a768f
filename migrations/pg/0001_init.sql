-- 0001_init (PostgreSQL): the schema of migrations/0001_init.sql in PostgreSQL's dialect,
-- plus what replicas sharing one database need: a lease on running jobs, the uploaded
-- datasets themselves (in chunks), and a change feed (LISTEN/NOTIFY wakes the replicas;
-- the table is what they read, so a missed notification loses nothing).
-- Applied once under an advisory lock, inside a transaction, and recorded in
-- schema_migrations. Never edit this file once landed: add 0002_*.sql (both dialects).
-- Times shown by the API stay text ("2026-11-27T16:00:00Z", UTC) as in SQLite; the lease
-- times are timestamptz, compared with the server's now().

CREATE TABLE models (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    next_version   INTEGER NOT NULL DEFAULT 1 CHECK (next_version >= 1),
    pinned_version INTEGER,
    created_at     TEXT    NOT NULL
);

CREATE TABLE model_versions (
    model_id   BIGINT  NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    version    INTEGER NOT NULL CHECK (version >= 1),
    blob       BYTEA   NOT NULL,
    card       TEXT    NOT NULL,
    metrics    TEXT    NOT NULL,
    job_id     TEXT,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (model_id, version)
);

CREATE TABLE datasets (
    id         BIGSERIAL PRIMARY KEY,
    spool      TEXT   NOT NULL,
    bytes      BIGINT NOT NULL,
    rows       BIGINT NOT NULL,
    columns    BIGINT NOT NULL,
    sha256     TEXT   NOT NULL,
    created_at TEXT   NOT NULL
);

-- The bytes of an uploaded CSV, in chunks of at most 1 MiB (never whole in memory), so a
-- job accepted by one replica can be trained by another. Deleted when the job ends.
CREATE TABLE dataset_chunks (
    spool TEXT    NOT NULL,
    seq   INTEGER NOT NULL,
    data  BYTEA   NOT NULL,
    PRIMARY KEY (spool, seq)
);

-- lease_owner / lease_until: the replica running the job and until when its lease holds
-- (renewed by its heartbeat); queued_at: since when the job waits for a worker.
CREATE TABLE jobs (
    seq           BIGSERIAL PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    model         TEXT    NOT NULL,
    status        TEXT    NOT NULL
                  CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress      DOUBLE PRECISION NOT NULL DEFAULT 0,
    epoch         INTEGER NOT NULL DEFAULT 0,
    epochs        INTEGER NOT NULL,
    params        TEXT    NOT NULL,
    form          TEXT    NOT NULL,
    dataset_id    BIGINT  NOT NULL REFERENCES datasets(id),
    metrics       TEXT,
    model_version INTEGER,
    error_code    TEXT,
    error_message TEXT,
    created_at    TEXT    NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    queued_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_owner   TEXT,
    lease_until   TIMESTAMPTZ
);
CREATE INDEX jobs_status ON jobs(status);
CREATE INDEX jobs_model ON jobs(model);

CREATE TABLE job_history (
    job_id     TEXT    NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    epoch      INTEGER NOT NULL,
    train_loss DOUBLE PRECISION,
    val_loss   DOUBLE PRECISION,
    val_metric DOUBLE PRECISION,
    regression INTEGER NOT NULL DEFAULT 0,
    seconds    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (job_id, epoch)
);

-- The change feed: kind 'model' (name: a model whose versions or pin changed, or that was
-- deleted) or 'cancel' (name: a job id). Each writer also sends NOTIFY neurond_changes.
CREATE TABLE changes (
    seq  BIGSERIAL PRIMARY KEY,
    kind TEXT        NOT NULL,
    name TEXT        NOT NULL,
    at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
