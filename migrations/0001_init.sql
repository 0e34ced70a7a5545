-- The audit log, its head, incidents and the outbox: the foundation every later table hangs off.

CREATE TABLE audit_log (
  seq         INTEGER PRIMARY KEY,
  time        INTEGER NOT NULL,
  actor       TEXT    NOT NULL,
  source      TEXT    NOT NULL,
  kind        TEXT    NOT NULL,
  incident_id TEXT,
  payload     TEXT    NOT NULL,
  prev_hash   TEXT    NOT NULL,
  hash        TEXT    NOT NULL
);
CREATE INDEX audit_log_by_incident ON audit_log (incident_id, seq);
CREATE INDEX audit_log_by_kind ON audit_log (incident_id, kind, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- One row: the last seq and hash, MACed, so truncating the log is detected as well.
CREATE TABLE audit_head (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  INTEGER NOT NULL,
  hash TEXT    NOT NULL,
  mac  TEXT    NOT NULL
);

CREATE TABLE incidents (
  id              TEXT    PRIMARY KEY,
  number          INTEGER NOT NULL UNIQUE,
  title           TEXT    NOT NULL,
  severity        INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 4),
  status          TEXT    NOT NULL,
  service         TEXT,
  private         INTEGER NOT NULL DEFAULT 0,
  channel_name    TEXT    NOT NULL,
  channel_id      TEXT,
  commander       TEXT,
  comms           TEXT,
  scribe          TEXT,
  declared_by     TEXT    NOT NULL,
  declared_at     INTEGER NOT NULL,
  acknowledged_at INTEGER,
  resolved_at     INTEGER,
  summary         TEXT,
  pagerduty_id    TEXT UNIQUE,
  pagerduty_url   TEXT,
  last_update_at  INTEGER NOT NULL
);
CREATE INDEX incidents_open ON incidents (status, number);
CREATE INDEX incidents_by_channel ON incidents (channel_id);

-- Messages to Slack and PagerDuty, stored with the event that caused them (SPEC §8).
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  cause_seq       INTEGER NOT NULL REFERENCES audit_log (seq),
  target          TEXT    NOT NULL,
  channel         TEXT    NOT NULL,
  body            TEXT    NOT NULL,
  state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  sent_at         INTEGER
);
CREATE INDEX outbox_pending ON outbox (state, target, channel, id);
