-- 0001_init: the first schema of neurond's store. Applied once, inside a transaction, and
-- recorded in schema_migrations (created by the store itself before any migration runs).
-- Never edit this file once landed: add 0002_*.sql instead.

-- A model name; its versions live in model_versions. next_version only grows, so a version
-- number is never reused within a model; deleting the model row resets it (a model deleted
-- whole and trained again starts at 1). pinned_version NULL = serve the newest.
CREATE TABLE models (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    next_version   INTEGER NOT NULL DEFAULT 1 CHECK (next_version >= 1),
    pinned_version INTEGER,
    created_at     TEXT    NOT NULL
);

-- One trained (or imported) model: the binary blob of docs/file-format.md, its card and
-- metrics as JSON. A row appears only in the transaction that also marks its job succeeded.
CREATE TABLE model_versions (
    model_id   INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    version    INTEGER NOT NULL CHECK (version >= 1),
    blob       BLOB    NOT NULL,
    card       TEXT    NOT NULL,
    metrics    TEXT    NOT NULL,
    job_id     TEXT,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (model_id, version)
);

-- An uploaded CSV: the server-made spool file name (never a path from a request) and the
-- figures shown in the job's "dataset" object.
CREATE TABLE datasets (
    id         INTEGER PRIMARY KEY,
    spool      TEXT    NOT NULL,
    bytes      INTEGER NOT NULL,
    rows       INTEGER NOT NULL,
    columns    INTEGER NOT NULL,
    sha256     TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);

-- A training job. seq orders jobs (newest first in listings). form holds the parameters as
-- sent (strings), so a job re-run after a restart is built exactly as it was accepted;
-- params is the API's resolved "params" object.
CREATE TABLE jobs (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT    NOT NULL UNIQUE,
    model         TEXT    NOT NULL,
    status        TEXT    NOT NULL
                  CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress      REAL    NOT NULL DEFAULT 0,
    epoch         INTEGER NOT NULL DEFAULT 0,
    epochs        INTEGER NOT NULL,
    params        TEXT    NOT NULL,
    form          TEXT    NOT NULL,
    dataset_id    INTEGER NOT NULL REFERENCES datasets(id),
    metrics       TEXT,
    model_version INTEGER,
    error_code    TEXT,
    error_message TEXT,
    created_at    TEXT    NOT NULL,
    started_at    TEXT,
    finished_at   TEXT
);
CREATE INDEX jobs_status ON jobs(status);
CREATE INDEX jobs_model ON jobs(model);

-- One row per finished epoch of a job (the job's "history").
CREATE TABLE job_history (
    job_id     TEXT    NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    epoch      INTEGER NOT NULL,
    train_loss REAL,
    val_loss   REAL,
    val_metric REAL,
    regression INTEGER NOT NULL DEFAULT 0, -- 1: val_metric is an RMSE, else an accuracy
    seconds    REAL    NOT NULL,
    PRIMARY KEY (job_id, epoch)
);
