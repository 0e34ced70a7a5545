-- Several `edgeops serve` replicas on one database (PostgreSQL only): each replica's heartbeat, the
-- replica executing each queued or running run (so another replica can interrupt the runs of one that
-- died, and only those), and one claim per scheduled task and tick (so a tick fires on one replica).

-- One row per live replica process: `id` is new at each start. Times are the database's clock (UTC
-- milliseconds), so replicas on hosts whose clocks differ still agree on whose heartbeat is old.
CREATE TABLE replicas (
  id            TEXT    PRIMARY KEY,
  host          TEXT    NOT NULL,
  pid           INTEGER NOT NULL,
  -- Which processes share this replica's process IDs (boot and PID namespace); NULL when unknown.
  -- Only a replica in the same one may kill the process groups a dead replica left behind.
  process_space TEXT,
  started_at    BIGINT  NOT NULL,
  heartbeat_at  BIGINT  NOT NULL
);
CREATE INDEX replicas_by_heartbeat ON replicas (heartbeat_at);

-- The replica that queued or is executing the run. Kept after the run ends (who ran it); NULL for runs
-- copied from SQLite or written before this migration.
ALTER TABLE runs ADD COLUMN replica_id TEXT;
CREATE INDEX runs_active_by_replica ON runs (replica_id) WHERE state IN ('queued', 'running');

-- A scheduled task's tick (`slot`: the UTC millisecond it was due) is claimed by the first replica to
-- insert it; the others find the row and skip that tick.
CREATE TABLE schedule_claims (
  task        TEXT    NOT NULL,
  slot        BIGINT  NOT NULL,
  replica_id  TEXT    NOT NULL,
  claimed_at  BIGINT  NOT NULL,
  PRIMARY KEY (task, slot)
);
