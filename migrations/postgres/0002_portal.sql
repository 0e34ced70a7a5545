-- The ops portal (SQLite 0005): one-time sign-in links and browser sessions (only hashes of their secrets), and the indexes its pages page on.

CREATE TABLE portal_links (
  token_hash  TEXT    PRIMARY KEY,
  user_id     TEXT    NOT NULL,
  groups      TEXT    NOT NULL,
  created_at  BIGINT  NOT NULL,
  expires_at  BIGINT  NOT NULL,
  used_at     BIGINT
);
CREATE INDEX portal_links_by_expiry ON portal_links (expires_at);

CREATE TABLE portal_sessions (
  id_hash      TEXT    PRIMARY KEY,
  user_id      TEXT    NOT NULL,
  groups       TEXT    NOT NULL,
  method       TEXT    NOT NULL CHECK (method IN ('link', 'slack')),
  created_at   BIGINT  NOT NULL,
  last_seen_at BIGINT  NOT NULL
);
CREATE INDEX portal_sessions_by_user ON portal_sessions (user_id);
CREATE INDEX portal_sessions_by_last_seen ON portal_sessions (last_seen_at);

-- Keyset paging of the incidents page under each filter: newest (highest number) first.
CREATE INDEX incidents_by_severity ON incidents (severity, number);
CREATE INDEX incidents_by_service ON incidents (service, number);
CREATE INDEX incidents_by_declared ON incidents (declared_at, number);
