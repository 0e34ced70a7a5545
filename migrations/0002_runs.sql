-- Procedure runs, their steps and approvals, and the leases that keep one run per concurrency key.

CREATE TABLE runs (
  id                  TEXT    PRIMARY KEY,
  number              INTEGER NOT NULL UNIQUE,
  procedure           TEXT    NOT NULL,
  environment         TEXT    NOT NULL,
  incident_id         TEXT    REFERENCES incidents (id),
  channel             TEXT,
  requested_by        TEXT    NOT NULL,
  requested_groups    TEXT    NOT NULL,
  source              TEXT    NOT NULL,
  params              TEXT    NOT NULL,
  binding             TEXT    NOT NULL,
  state               TEXT    NOT NULL,
  approval            TEXT,
  approval_expires_at INTEGER,
  concurrency_key     TEXT    NOT NULL,
  created_at          INTEGER NOT NULL,
  started_at          INTEGER,
  finished_at         INTEGER,
  pgid                INTEGER,
  owner_pid           INTEGER,
  error               TEXT
);
CREATE INDEX runs_by_incident ON runs (incident_id, number);
CREATE INDEX runs_by_state ON runs (state);

CREATE TABLE run_steps (
  run_id          TEXT    NOT NULL REFERENCES runs (id),
  idx             INTEGER NOT NULL,
  name            TEXT    NOT NULL,
  kind            TEXT    NOT NULL,
  outcome         TEXT    NOT NULL,
  exit_code       INTEGER,
  http_status     INTEGER,
  started_at      INTEGER NOT NULL,
  finished_at     INTEGER NOT NULL,
  output          TEXT    NOT NULL,
  truncated_bytes INTEGER NOT NULL DEFAULT 0,
  error           TEXT,
  PRIMARY KEY (run_id, idx)
);

CREATE TABLE run_approvals (
  run_id   TEXT    NOT NULL REFERENCES runs (id),
  approver TEXT    NOT NULL,
  decision TEXT    NOT NULL CHECK (decision IN ('approve', 'deny')),
  at       INTEGER NOT NULL,
  binding  TEXT    NOT NULL,
  reason   TEXT,
  PRIMARY KEY (run_id, approver)
);

CREATE TABLE leases (
  key         TEXT    PRIMARY KEY,
  run_id      TEXT    NOT NULL REFERENCES runs (id),
  acquired_at INTEGER NOT NULL
);
