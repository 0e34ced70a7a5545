-- PagerDuty webhook events as received, their processing state, and the procedure triggers each one started.

-- One row per distinct event, written in the same transaction as its audit row (`received_seq`), so
-- the 202 PagerDuty gets always means the event is on disk. Processing reads the stored body back.
CREATE TABLE pagerduty_events (
  received_seq    INTEGER PRIMARY KEY REFERENCES audit_log (seq),
  event_id        TEXT    NOT NULL UNIQUE,
  -- X-Webhook-Id: the same on every delivery attempt of one webhook; NULL when the header was absent.
  webhook_id      TEXT    UNIQUE,
  event_type      TEXT    NOT NULL,
  -- The PagerDuty incident the event is about: events of one incident are processed in arrival order.
  pd_incident_id  TEXT,
  service_id      TEXT,
  service_name    TEXT,
  agent           TEXT,
  occurred_at     TEXT,
  body            TEXT    NOT NULL,
  received_at     INTEGER NOT NULL,
  -- pending → applied (incident effects done, triggers to start) → processed; or ignored / failed.
  state           TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'applied', 'processed', 'ignored', 'failed')),
  outcome         TEXT,
  incident_id     TEXT    REFERENCES incidents (id),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  processed_at    INTEGER
);
CREATE INDEX pagerduty_events_unfinished ON pagerduty_events (state, received_seq)
  WHERE state IN ('pending', 'applied');

-- Which trigger of which procedure an event started (or why it did not): the primary key is what
-- makes each trigger run at most once per event, across redeliveries and restarts.
CREATE TABLE pagerduty_trigger_runs (
  event_id    TEXT    NOT NULL REFERENCES pagerduty_events (event_id),
  trigger_key TEXT    NOT NULL,
  procedure   TEXT    NOT NULL,
  run_id      TEXT    REFERENCES runs (id),
  outcome     TEXT    NOT NULL CHECK (outcome IN ('started', 'refused', 'failed')),
  detail      TEXT,
  at          INTEGER NOT NULL,
  PRIMARY KEY (event_id, trigger_key)
);
CREATE INDEX pagerduty_trigger_runs_by_run ON pagerduty_trigger_runs (run_id);
