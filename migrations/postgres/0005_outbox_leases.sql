-- Which replica delivers which outbox channel (PostgreSQL only: replicas share this database). A channel's
-- messages go out in order and paced only while one replica at a time sends them: the holder takes the
-- lease when it picks the channel's head and renews it while it delivers; a replica that dies loses its
-- leases when held_until passes. A lease given up early keeps held_until at the end of the channel's pacing.
CREATE TABLE outbox_channel_leases (
  target      TEXT    NOT NULL,
  channel     TEXT    NOT NULL,
  holder      TEXT    NOT NULL,
  held_until  BIGINT  NOT NULL,
  PRIMARY KEY (target, channel)
);
